//! Where the app keeps its files, computed without Tauri: the same folders Tauri's
//! `PathResolver::app_data_dir()` / `app_cache_dir()` give the app (the `dirs` crate's data or
//! cache folder joined with the bundle identifier of `tauri.conf.json`), so that `geniusctl`
//! reads the settings and secrets file the app writes.
//!
//! - Linux: `$XDG_DATA_HOME/<id>` when `XDG_DATA_HOME` is an absolute path, else
//!   `~/.local/share/<id>` (cache: `$XDG_CACHE_HOME` or `~/.cache`);
//! - macOS: `~/Library/Application Support/<id>` (cache: `~/Library/Caches/<id>`);
//! - Windows: `%APPDATA%\<id>` (the roaming folder; cache: `%LOCALAPPDATA%\<id>`).
//!
//! The app has no override of its own (no `appDirectoriesOverride` in `tauri.conf.json`, no
//! environment variable): these are its folders. The root package's `tests/app_paths.rs`
//! checks them against Tauri's own answer.

use std::path::PathBuf;

/// `identifier` of `tauri.conf.json`: the app data folder's name, and the keyring service the
/// app's secrets are stored under.
pub const APP_IDENTIFIER: &str = "club.ncuhome.genius-account";

/// The app's settings document in the app data folder.
pub const SETTINGS_FILE: &str = "settings.json";

/// The app data folder (`settings.json`, the opt-in `secrets.json`); `None` when the system
/// has no home folder to put it in (Tauri fails with `UnknownPath` then).
pub fn app_data_dir() -> Option<PathBuf> {
    dirs::data_dir().map(|dir| dir.join(APP_IDENTIFIER))
}

/// The app cache folder (avatars).
pub fn app_cache_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|dir| dir.join(APP_IDENTIFIER))
}

/// `settings.json` in [`app_data_dir`].
pub fn settings_file() -> Option<PathBuf> {
    app_data_dir().map(|dir| dir.join(SETTINGS_FILE))
}

/// The opt-in secrets file in [`app_data_dir`].
pub fn secrets_file() -> Option<PathBuf> {
    app_data_dir().map(|dir| dir.join(crate::secret_store::SECRETS_FILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_end_with_the_identifier() {
        let data = app_data_dir().expect("a home folder");
        assert!(data.ends_with(APP_IDENTIFIER), "{}", data.display());
        assert_eq!(settings_file().unwrap(), data.join("settings.json"));
        assert_eq!(secrets_file().unwrap(), data.join("secrets.json"));
        assert!(app_cache_dir().unwrap().ends_with(APP_IDENTIFIER));
    }
}
