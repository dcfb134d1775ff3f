//! How a command fails: the exit code and what goes on stderr.

use serde::Serialize;

/// stderr document for a server refusal, in this key order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServerRefusal<'a> {
    code: i64,
    msg: &'a str,
    http_status: u16,
}

/// Exit codes: 1 server refusal, 2 usage or invalid input, 3 network or unreadable reply.
pub const EXIT_SERVER: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_NETWORK: i32 = 3;

#[derive(Debug)]
pub enum Failure {
    /// The server answered with a non-zero code.
    Server {
        code: i64,
        msg: String,
        http_status: u16,
    },
    /// Bad input caught before anything was sent.
    Usage(String),
    /// Network trouble, a timeout, or a reply that could not be read.
    Network(String),
    /// Some items of a bulk command failed; each was already reported on stdout.
    Partial,
    /// A command's own exit status (`status`, `token`: see `app_session`), with one line for
    /// stderr, or none when stdout already told.
    Exit { code: i32, message: Option<String> },
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Server { .. } | Failure::Partial => EXIT_SERVER,
            Failure::Usage(_) => EXIT_USAGE,
            Failure::Network(_) => EXIT_NETWORK,
            Failure::Exit { code, .. } => *code,
        }
    }

    /// The sentence a failure reports, if it is one.
    pub fn message(&self) -> Option<&str> {
        match self {
            Failure::Usage(message) | Failure::Network(message) => Some(message),
            Failure::Exit { message, .. } => message.as_deref(),
            Failure::Server { msg, .. } => Some(msg),
            Failure::Partial => None,
        }
    }

    /// Writes the failure on stderr: JSON for server refusals, a sentence otherwise.
    pub fn report(&self) {
        match self {
            Failure::Server {
                code,
                msg,
                http_status,
            } => {
                let report = ServerRefusal {
                    code: *code,
                    msg,
                    http_status: *http_status,
                };
                match serde_json::to_string(&report) {
                    Ok(text) => eprintln!("{text}"),
                    Err(_) => eprintln!("geniusctl: server refused: code {code}"),
                }
            }
            Failure::Usage(message) => eprintln!("geniusctl: error: {message}"),
            Failure::Network(message) => eprintln!("geniusctl: {message}"),
            Failure::Exit {
                message: Some(message),
                ..
            } => eprintln!("geniusctl: {message}"),
            Failure::Partial | Failure::Exit { message: None, .. } => {}
        }
    }
}

impl From<geniusauth::Error> for Failure {
    fn from(error: geniusauth::Error) -> Self {
        use geniusauth::{CallbackError, Error, TokenError};
        match error {
            Error::Server {
                code,
                msg,
                http_status,
            } => Failure::Server {
                code,
                msg,
                http_status,
            },
            Error::InvalidInput(_)
            | Error::Token(TokenError::Malformed(_))
            | Error::Callback(CallbackError::Invalid(_)) => Failure::Usage(error.to_string()),
            other => Failure::Network(format!("{other}\n{}", other.explanation())),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Failure::Network(format!("I/O error: {error}"))
    }
}
