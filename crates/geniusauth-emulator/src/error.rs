//! The crate's single error type.

use std::path::PathBuf;

/// Everything that can go wrong when starting or driving the emulator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid seed file {path}: {message}")]
    Seed { path: PathBuf, message: String },
    #[error("unknown appCode {0:?}")]
    UnknownApp(String),
    #[error("unknown user {0}")]
    UnknownUser(u64),
    /// Production refuses the login too (code 7, 找不到身份组，请联系管理员处理).
    #[error("user {uid} has no group visible to app {app_code} (找不到身份组，请联系管理员处理)")]
    NoVisibleGroup { uid: u64, app_code: String },
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Listening off loopback with an open admin API would hand it to the network.
    #[error(
        "refusing to listen on {listen} (not a loopback address) with an open admin API: \
         pass --admin-token TOKEN (Config::admin = AdminAccess::Token) or --no-admin \
         (AdminAccess::Disabled)"
    )]
    OpenAdminOffLoopback { listen: std::net::SocketAddr },
    #[error("corrupt emulator state: {0}")]
    Corrupt(String),
}
