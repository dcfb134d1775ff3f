//! The IPC contract declared in `ipc_contract.rs`, as data and as compile-time busy keys.
//! tests/contract.rs checks the capability file, docs/ipc.md, the UI's busy map and the
//! preview mock against [`COMMANDS`].

/// One command the UI may invoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSpec {
    pub name: &'static str,
    /// The `src-tauri` module that defines it.
    pub module: &'static str,
    /// What the UI marks busy while it runs (and the key the account service reports).
    pub busy: Option<&'static str>,
}

macro_rules! command_specs {
    ($($module:ident :: $command:ident : $busy:expr),* $(,)?) => {
        &[$(CommandSpec { name: stringify!($command), module: stringify!($module), busy: $busy }),*]
    };
}

pub const COMMANDS: &[CommandSpec] = with_commands!(command_specs);

/// Tauri's own permissions the window needs beside the app's commands: the `state` and
/// `support` events, and the zoom hotkeys.
pub const CORE_PERMISSIONS: &[&str] = &[
    "core:event:allow-listen",
    "core:event:allow-unlisten",
    "core:webview:allow-set-webview-zoom",
];

/// The permission that grants `command` (`allow-` and the name in kebab case).
pub fn permission(command: &str) -> String {
    format!("allow-{}", command.replace('_', "-"))
}

/// Each command's busy key as a constant, so `busy!(refresh_access)` is checked when compiled.
#[allow(non_upper_case_globals)]
pub mod busy {
    macro_rules! busy_constants {
        ($($module:ident :: $command:ident : $busy:expr),* $(,)?) => {
            $(pub const $command: Option<&str> = $busy;)*
        };
    }
    with_commands!(busy_constants);
}

/// The declared busy key of a command as the account service's [`account::Busy`]; a command
/// declared without one, or with a key the service does not know, does not compile.
macro_rules! busy {
    ($command:ident) => {{
        const BUSY: account::Busy = match $crate::contract::busy::$command {
            Some(key) => match account::Busy::from_key(key) {
                Some(busy) => busy,
                None => panic!(concat!(
                    stringify!($command),
                    "'s busy key is not an account::Busy"
                )),
            },
            None => panic!(concat!(stringify!($command), " has no busy key")),
        };
        BUSY
    }};
}
