//! The crate's one error type. `code()` is stable across IPC; `Display` is a plain English line.

use serde::Serialize;

#[derive(Debug, Clone, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    GeniusAuth(#[from] geniusauth::Error),
    #[error("the OS keyring is not available: {0}")]
    KeyringUnavailable(String),
    #[error("local storage failed: {0}")]
    Storage(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("port {0} of the callback address is in use by another program")]
    SignInPortInUse(u16),
    #[error("no sign-in arrived within 5 minutes")]
    SignInTimeout,
    #[error("the login token is for app {found}, not this profile's {expected}")]
    SignInWrongApp { expected: String, found: String },
    /// The server's registration sends the browser elsewhere than this profile listens.
    #[error("the app is registered with callback host {registered}, but this profile listens on {callback}: set the profile's callback to the registered one")]
    SignInCallbackMismatch {
        registered: String,
        callback: String,
    },
    #[error("the sign-in was cancelled")]
    SignInCancelled,
    #[error("{path} may be read by other users (mode {mode:04o}); a secrets file must be its owner's only (0600)")]
    SecretsFileTooOpen { path: String, mode: u32 },
    #[error("could not copy to the clipboard: {0}")]
    Clipboard(String),
    #[error("no profile is selected")]
    NoProfile,
    #[error("not signed in")]
    NoSession,
    #[error("{0}")]
    Internal(String),
}

impl AccountError {
    /// A failure of the callback listener, in the app's own sign-in codes.
    pub fn from_sign_in(err: geniusauth::Error) -> Self {
        use geniusauth::CallbackError as C;
        match err {
            geniusauth::Error::Callback(C::PortInUse { port, .. }) => {
                AccountError::SignInPortInUse(port)
            }
            geniusauth::Error::Callback(C::Timeout { .. }) => AccountError::SignInTimeout,
            geniusauth::Error::Callback(C::Invalid(why)) => AccountError::InvalidInput(why),
            other => AccountError::GeniusAuth(other),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        AccountError::InvalidInput(message.into())
    }

    /// The stable code the UI switches on (see docs/ipc.md).
    pub fn code(&self) -> &'static str {
        match self {
            AccountError::GeniusAuth(e) => genius_code(e),
            AccountError::KeyringUnavailable(_) => "keyring_unavailable",
            AccountError::Storage(_) => "storage",
            AccountError::InvalidInput(_) => "invalid_input",
            AccountError::SignInPortInUse(_) => "sign_in_port_in_use",
            AccountError::SignInTimeout => "sign_in_timeout",
            AccountError::SignInWrongApp { .. } => "sign_in_wrong_app",
            AccountError::SignInCallbackMismatch { .. } => "sign_in_callback_mismatch",
            AccountError::SignInCancelled => "sign_in_cancelled",
            AccountError::SecretsFileTooOpen { .. } => "secrets_file_too_open",
            AccountError::Clipboard(_) => "clipboard",
            AccountError::NoProfile => "no_profile",
            AccountError::NoSession => "no_session",
            AccountError::Internal(_) => "internal",
        }
    }

    /// A failure that says nothing about the session's validity: keep it and retry later.
    pub fn is_transient(&self) -> bool {
        match self {
            AccountError::GeniusAuth(e) => e.is_transient(),
            _ => false,
        }
    }

    pub fn is_token_invalid(&self) -> bool {
        match self {
            AccountError::GeniusAuth(e) => e.is_token_invalid(),
            _ => false,
        }
    }

    /// Code 5/6: the server refused the app's signature (wrong appSecret) or the token.
    pub fn is_unauthorized(&self) -> bool {
        match self {
            AccountError::GeniusAuth(e) => e.is_unauthorized(),
            _ => false,
        }
    }

    pub fn to_reply(&self) -> ErrorReply {
        let (server_code, server_msg, http_status) = match self {
            AccountError::GeniusAuth(geniusauth::Error::Server {
                code,
                msg,
                http_status,
            }) => (Some(*code), Some(msg.clone()), Some(*http_status)),
            _ => (None, None, None),
        };
        ErrorReply {
            code: self.code().to_owned(),
            message: self.to_string(),
            server_code,
            server_msg,
            http_status,
        }
    }
}

fn genius_code(e: &geniusauth::Error) -> &'static str {
    if e.is_token_invalid() {
        "token_invalid"
    } else if e.is_unauthorized() {
        "unauthorized"
    } else if e.is_clock_skew() {
        "clock_skew"
    } else {
        e.code()
    }
}

/// The `{code, message, …}` object every failed command rejects with.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ErrorReply {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_msg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
}
