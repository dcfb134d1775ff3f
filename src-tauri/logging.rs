//! Diagnostics: a rotating log file in the platform's log folder (on Linux
//! `~/.local/share/club.ncuhome.genius-account/logs/`) and standard error, at Info.
//!
//! The HTTP and TLS stack is capped at Warn: a DELETE carries its refresh token in the query
//! string, and below Warn those crates may print request lines. Our own messages never hold a
//! token or a secret (their error types strip URLs and redact secrets).

use log::LevelFilter;
use tauri::plugin::TauriPlugin;
use tauri::Runtime;
use tauri_plugin_log::{RotationStrategy, Target, TargetKind};

/// The log file's name (`genius-account.log`), also read by the e2e secret check.
pub const LOG_FILE_NAME: &str = "genius-account";
/// Rotated at 1 MiB, the last five files kept.
const MAX_FILE_BYTES: u128 = 1024 * 1024;
const KEEP_FILES: usize = 5;
/// Crates that handle raw requests: only warnings and errors from them are written.
const HTTP_STACK: [&str; 8] = [
    "reqwest",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
    "tokio_rustls",
    "hyper_rustls",
    "tower",
];

pub fn plugin<R: Runtime>() -> TauriPlugin<R> {
    let mut builder = tauri_plugin_log::Builder::new()
        .clear_targets()
        .target(Target::new(TargetKind::Stderr))
        .target(Target::new(TargetKind::LogDir {
            file_name: Some(LOG_FILE_NAME.into()),
        }))
        .level(LevelFilter::Info)
        .max_file_size(MAX_FILE_BYTES)
        .rotation_strategy(RotationStrategy::KeepSome(KEEP_FILES));
    for module in HTTP_STACK {
        builder = builder.level_for(module, LevelFilter::Warn);
    }
    builder.build()
}
