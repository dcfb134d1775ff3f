//! What a bug looks like to the user: one line on stderr and exit status 3, never a backtrace
//! or Rust's own exit status 101.
//!
//! Self-contained (std only) so that its test can run it in a child process.

use std::any::Any;
use std::panic::PanicHookInfo;

/// Exit status after an internal error; shared with network trouble: retrying later or
/// reporting the problem are the options in both cases.
pub const EXIT_INTERNAL: i32 = 3;

/// Replaces the panic hook: any panic, on any thread, prints
/// `geniusctl: internal error: …` and ends the process with [`EXIT_INTERNAL`].
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("geniusctl: internal error: {}", describe(info));
        eprintln!("geniusctl: this is a bug in geniusctl; please report it with the command used");
        std::process::exit(EXIT_INTERNAL);
    }));
}

fn describe(info: &PanicHookInfo<'_>) -> String {
    let message = payload_text(info.payload());
    match info.location() {
        Some(location) => format!("{message} (at {}:{})", location.file(), location.line()),
        None => message,
    }
}

fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "unexpected failure".to_owned()
    }
}
