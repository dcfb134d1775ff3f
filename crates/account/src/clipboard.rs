//! The system clipboard, written from Rust: "Copy access token" puts the token there without
//! it ever entering the web view.
//!
//! The write carries the platform's "keep out of clipboard history" hint, as
//! tauri-plugin-clipboard-manager's `write_secret` does with the same crate (arboard):
//! `x-kde-passwordManagerHint: secret` on Linux (X11 and Wayland; KDE's Klipper, GNOME's
//! clipboard-history extensions and others honour it), `ExcludeClipboardContentFromMonitorProcessing`
//! on Windows (no history, no cloud sync), `org.nspasteboard.ConcealedType` on macOS.
//!
//! After a delay (60 s in the app) the clipboard is cleared if it still holds that same
//! secret: what the user copied since then is left alone.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

#[cfg(windows)]
use arboard::SetExtWindows;

#[cfg(target_os = "macos")]
use arboard::SetExtApple;

#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "android", target_os = "emscripten"))
))]
use arboard::SetExtLinux;

/// How long a copied secret stays on the clipboard.
pub const CLEAR_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("the clipboard is not available: {0}")]
pub struct ClipboardError(pub String);

impl From<arboard::Error> for ClipboardError {
    fn from(err: arboard::Error) -> Self {
        ClipboardError(err.to_string())
    }
}

/// One clipboard connection for the app's lifetime. On X11 and Wayland the clipboard's content
/// lives in the program that copied it, so the connection (and its serving thread) is kept: the
/// copied token is then gone when the app quits, and with it from the clipboard.
pub struct SecretClipboard {
    inner: Arc<Mutex<Inner>>,
    clear_after: Duration,
}

#[derive(Default)]
struct Inner {
    clipboard: Option<arboard::Clipboard>,
    /// Bumped by every copy: only the newest copy's timer may clear.
    generation: u64,
}

impl Inner {
    fn clipboard(&mut self) -> Result<&mut arboard::Clipboard, ClipboardError> {
        if self.clipboard.is_none() {
            self.clipboard = Some(arboard::Clipboard::new()?);
        }
        Ok(self.clipboard.as_mut().expect("just set"))
    }
}

impl SecretClipboard {
    pub fn new(clear_after: Duration) -> Self {
        SecretClipboard {
            inner: Arc::default(),
            clear_after,
        }
    }

    pub fn clear_after(&self) -> Duration {
        self.clear_after
    }

    /// Puts `secret` on the clipboard, marked to stay out of clipboard history, and starts the
    /// timer that clears it (if it is still there) after [`Self::clear_after`].
    pub fn copy_secret(&self, secret: String) -> Result<Duration, ClipboardError> {
        let generation = {
            let mut inner = lock(&self.inner);
            let clipboard = inner.clipboard()?;
            if let Err(err) = exclude_from_history(clipboard.set()).text(secret.as_str()) {
                // A connection that failed once (the display went away) is made anew next time.
                inner.clipboard = None;
                return Err(err.into());
            }
            inner.generation += 1;
            inner.generation
        };
        let inner = self.inner.clone();
        let delay = self.clear_after;
        let spawned = std::thread::Builder::new()
            .name("clipboard-clear".into())
            .spawn(move || {
                std::thread::sleep(delay);
                let mut inner = lock(&inner);
                if inner.generation == generation {
                    clear_if_holding(&mut inner, &secret);
                }
            });
        if let Err(err) = spawned {
            // No timer: better no secret on the clipboard than one that stays.
            clear_if_holding(&mut lock(&self.inner), "");
            return Err(ClipboardError(format!("no timer to clear it: {err}")));
        }
        Ok(delay)
    }
}

/// Compare, then clear: the clipboard is emptied only while it still holds `secret` (an empty
/// `secret` clears whatever is there).
fn clear_if_holding(inner: &mut Inner, secret: &str) {
    let Ok(clipboard) = inner.clipboard() else {
        return;
    };
    let holds = match clipboard.get_text() {
        Ok(text) => secret.is_empty() || text == secret,
        Err(_) => false,
    };
    if holds {
        if let Err(err) = clipboard.clear() {
            log::warn!("could not clear the clipboard: {err}");
        }
    }
}

#[cfg(windows)]
fn exclude_from_history(set: arboard::Set<'_>) -> arboard::Set<'_> {
    set.exclude_from_monitoring()
}

#[cfg(not(windows))]
fn exclude_from_history(set: arboard::Set<'_>) -> arboard::Set<'_> {
    set.exclude_from_history()
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    inner.lock().unwrap_or_else(|e| e.into_inner())
}
