//! The native window follows the app's theme: the title bar (GTK, Windows, macOS draw it) takes
//! the in-app choice, and the window's background is the page's own, so a dark start shows no
//! white flash before the first paint.

use std::sync::Mutex;

use tauri::window::Color;
use tauri::{Manager, Runtime, Theme};

/// The page background of each theme (`--bg` in ui/styles.css).
const LIGHT_BACKGROUND: Color = Color(0xf4, 0xf5, 0xf8, 0xff);
const DARK_BACKGROUND: Color = Color(0x13, 0x15, 0x19, 0xff);

/// Applies the theme preference ("system", "light" or "dark") when it changes.
#[derive(Default)]
pub struct ThemeFollower {
    applied: Mutex<Option<String>>,
}

impl ThemeFollower {
    pub fn apply<R: Runtime>(&self, app: &tauri::AppHandle<R>, preference: &str) {
        let mut applied = self.applied.lock().unwrap_or_else(|e| e.into_inner());
        if applied.as_deref() == Some(preference) {
            return;
        }
        let Some(window) = app.get_webview_window("main") else {
            return;
        };
        let chosen = match preference {
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            _ => None,
        };
        let _ = window.set_theme(chosen);
        let dark = match chosen {
            Some(theme) => theme == Theme::Dark,
            None => window.theme().is_ok_and(|t| t == Theme::Dark),
        };
        let _ = window.set_background_color(Some(if dark {
            DARK_BACKGROUND
        } else {
            LIGHT_BACKGROUND
        }));
        *applied = Some(preference.to_owned());
    }
}
