//! The one error type of this crate.

use crate::tokens::TokenType;

/// Everything that can go wrong talking to GeniusAuth or reading its tokens.
///
/// No message ever contains the app secret or a token: request URLs (whose query strings carry
/// tokens on DELETE) are stripped from network errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The server answered with a non-zero `code`.
    #[error("GeniusAuth refused the request (code {code}, HTTP {http_status}): {msg}")]
    Server {
        code: i64,
        /// The server's own message, usually Chinese, kept as is.
        msg: String,
        http_status: u16,
    },
    #[error("the server did not answer in time")]
    Timeout,
    #[error("could not connect to the server: {0}")]
    Connect(String),
    #[error("secure connection (TLS) to the server failed: {0}")]
    Tls(String),
    #[error("network error: {0}")]
    Network(String),
    /// The reply was not the JSON envelope the call expects (an HTML error page, truncated JSON…).
    #[error("unexpected reply from the server (HTTP {http_status}): {snippet}")]
    UnexpectedReply {
        http_status: u16,
        /// The first 200 bytes of the body, lossy UTF-8.
        snippet: String,
    },
    #[error("the server's reply is larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    /// Caught before any request was made.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Callback(#[from] CallbackError),
}

/// Why the loopback end of a browser sign-in could not do its job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// The callback URL is not one this computer can serve.
    #[error("{0}")]
    Invalid(String),
    #[error("port {port} is already in use on {addr}: close the program using it, or register another callback port")]
    PortInUse {
        port: u16,
        addr: std::net::SocketAddr,
    },
    #[error("cannot listen on {addr}: {detail}")]
    Listen {
        addr: std::net::SocketAddr,
        detail: String,
    },
    #[error("no sign-in arrived at the callback within {secs} s")]
    Timeout { secs: u64 },
}

/// Why a JWT could not be decoded or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not a well-formed token: {0}")]
    Malformed(String),
    #[error("token uses algorithm {0:?}, expected EdDSA")]
    UnsupportedAlgorithm(String),
    #[error("token signature does not match the server key")]
    BadSignature,
    #[error("token expired at {exp} (now {now})")]
    Expired { exp: i64, now: i64 },
    #[error("token is a {found} token, expected a {expected} token")]
    WrongType {
        expected: TokenType,
        found: TokenType,
    },
    #[error("server public key is not usable: {0}")]
    BadKey(String),
    /// A login token issued before the sign-in it claims to complete began (or without `iat`).
    #[error("the login token was issued before this sign-in began")]
    IssuedBeforeSignIn,
}

pub const CODE_BAD_PARAMETERS: i64 = 1;
pub const CODE_APP_CODE_NOT_FOUND: i64 = 3;
pub const CODE_REMOTE_CALL_FAILED: i64 = 5;
pub const CODE_UNAUTHORIZED: i64 = 6;
pub const CODE_SIGNATURE_EXPIRED: i64 = 9;
pub const CODE_TOO_MANY_REQUESTS: i64 = 19;
pub const CODE_TOKEN_INVALID: i64 = 31;

impl Error {
    /// A stable machine-readable name of the error kind, for IPC and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Server { .. } => "server",
            Error::Timeout => "timeout",
            Error::Connect(_) => "connect",
            Error::Tls(_) => "tls",
            Error::Network(_) => "network",
            Error::UnexpectedReply { .. } => "unexpected_reply",
            Error::BodyTooLarge { .. } => "body_too_large",
            Error::InvalidInput(_) => "invalid_input",
            Error::Token(token) => token.code(),
            Error::Callback(callback) => callback.code(),
        }
    }

    /// The server code, when the server gave one.
    pub fn server_code(&self) -> Option<i64> {
        match self {
            Error::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The token is invalid, expired or revoked (code 31): sign in again.
    pub fn is_token_invalid(&self) -> bool {
        self.server_code() == Some(CODE_TOKEN_INVALID)
    }

    /// Bad signature, bad or used login token, or a token of another app. The older wiki
    /// documents code 5 for these cases where the server now sends 6, so both count.
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self.server_code(),
            Some(CODE_REMOTE_CALL_FAILED | CODE_UNAUTHORIZED)
        )
    }

    /// The request's time stamp was rejected: this machine's clock is off.
    pub fn is_clock_skew(&self) -> bool {
        self.server_code() == Some(CODE_SIGNATURE_EXPIRED)
    }

    /// Whether trying the same call again later may succeed: network trouble, timeouts,
    /// server-side failures and garbled replies. Refusals about the request itself are not.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Timeout
            | Error::Connect(_)
            | Error::Tls(_)
            | Error::Network(_)
            | Error::UnexpectedReply { .. }
            | Error::BodyTooLarge { .. } => true,
            // Code 5 is "remote call failed" today but "unauthorized" in the wiki; treat it as
            // the latter, like `is_unauthorized`.
            Error::Server {
                code, http_status, ..
            } => {
                *http_status >= 500 && !matches!(*code, CODE_REMOTE_CALL_FAILED | CODE_UNAUTHORIZED)
            }
            Error::InvalidInput(_) | Error::Token(_) | Error::Callback(_) => false,
        }
    }

    /// A plain-English explanation for people; the server's own message stays in `msg`.
    pub fn explanation(&self) -> String {
        match self {
            Error::Server { code, .. } => explain_server_code(*code).to_owned(),
            Error::Timeout => {
                "The server did not answer in time. Check the network and try again.".to_owned()
            }
            Error::Connect(_) => {
                "Could not reach the server. Check the network connection and the server address."
                    .to_owned()
            }
            Error::Tls(detail) => {
                let host = detail.split(": ").next().unwrap_or_default();
                format!(
                    "The secure connection to {host} failed: its certificate was not accepted. \
                     Check the server address; on a network that inspects TLS (a campus or \
                     company proxy), its CA certificate must be installed in this system's \
                     certificate store."
                )
            }
            Error::Network(_) => "The connection broke while talking to the server.".to_owned(),
            Error::UnexpectedReply { .. } => "The server sent a reply this program does not \
                                              understand; a proxy or an outage may be in the way."
                .to_owned(),
            Error::BodyTooLarge { .. } => "The server sent a far larger reply than expected; \
                                           it was not read."
                .to_owned(),
            Error::InvalidInput(detail) => format!("The request was not sent: {detail}."),
            Error::Token(token) => token.to_string(),
            Error::Callback(callback) => match callback {
                CallbackError::Invalid(_) => "Use the callback URL registered for the app, on \
                                              this computer: http://localhost:<port>/<path>."
                    .to_owned(),
                CallbackError::PortInUse { .. } => "Another program uses the callback port: \
                                                    close it, or register another port."
                    .to_owned(),
                CallbackError::Listen { .. } => {
                    "This computer refused to listen for the sign-in.".to_owned()
                }
                CallbackError::Timeout { .. } => {
                    "The browser did not come back in time. Try again.".to_owned()
                }
            },
        }
    }
}

impl CallbackError {
    pub fn code(&self) -> &'static str {
        match self {
            CallbackError::Invalid(_) => "callback_invalid",
            CallbackError::PortInUse { .. } => "sign_in_port_in_use",
            CallbackError::Listen { .. } => "callback_listen",
            CallbackError::Timeout { .. } => "sign_in_timeout",
        }
    }
}

impl TokenError {
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Malformed(_) => "token_malformed",
            TokenError::UnsupportedAlgorithm(_) => "token_algorithm",
            TokenError::BadSignature => "token_bad_signature",
            TokenError::Expired { .. } => "token_expired",
            TokenError::WrongType { .. } => "token_wrong_type",
            TokenError::BadKey(_) => "token_bad_key",
            TokenError::IssuedBeforeSignIn => "token_issued_before_sign_in",
        }
    }
}

/// Plain-English meaning of each code of the server's `callback/code.go`.
pub fn explain_server_code(code: i64) -> &'static str {
    match code {
        1 => "The server rejected the request's parameters.",
        2 => "The callback site is not on the server's allow list.",
        3 => "The app code is not known to the server: check the app code.",
        4 => "The server had a database error. Try again later.",
        5 => "Not authorized: the token is invalid, already used, or belongs to another app.",
        6 => {
            "Not authorized: wrong app secret (bad signature), an invalid or already used login \
              token, or a token of another app."
        }
        7 => "The user's group (unit) was not found.",
        8 => "The server hit an unexpected error. Try again later.",
        9 => {
            "The request's time stamp was rejected: this computer's clock is wrong. Correct \
              the system time."
        }
        10 => "The operation is not allowed.",
        11 => "The user lacks the group permission this needs.",
        12 => "The name is already taken.",
        13 => "The group was not found.",
        14 => "The app does not exist.",
        15..=18 => "Two-factor authentication (MFA) problem.",
        19 => "Too many requests. Wait a minute and try again.",
        20 => "The network context changed. Sign in again.",
        21..=30 => "Sign-in verification problem (MFA, SMS, SSH or passkey).",
        31 => {
            "The session is no longer valid: it expired, was revoked, or the account changed \
              (its groups, for instance). Sign in again."
        }
        32 => "The target device is offline.",
        _ => "The server refused the request with a code this program does not know.",
    }
}
