//! `settings.json`: the settings document on disk, in the layout tauri-plugin-store used for it
//! (`{"settings": {…}}`, pretty-printed), so that existing installations keep their profiles.
//!
//! Saving replaces the file atomically (see [`crate::atomic_file`]). A file that cannot be used
//! (empty, cut off, not JSON, the wrong shape, unreadable) is never overwritten: loading moves
//! it aside to `settings.json.bad-<UTC time>`, starts from defaults and reports it, so that the
//! user hears about it and can recover the profiles by hand.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::atomic_file;
use crate::error::AccountError;
use crate::settings::{LoadedSettings, Settings, SettingsStore};

/// The document's one key: where tauri-plugin-store kept the value the app stored under it.
const KEY: &str = "settings";

/// Why a settings file could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingsDamage {
    /// Zero bytes, or blanks only (a write cut off before its first byte).
    Empty,
    /// JSON that stops in the middle.
    Truncated,
    NotJson,
    /// JSON, but not settings (a value of the wrong type, not an object).
    WrongShape,
    /// The file could not be read at all.
    Unreadable,
}

/// A settings file that was found damaged at start-up and set aside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DamagedSettings {
    /// The settings file.
    pub path: String,
    /// Where the damaged file is now; `None` if it could not be moved (then it is still at
    /// `path`, and saving fails the way moving did).
    pub moved_to: Option<String>,
    pub reason: SettingsDamage,
    /// When it was found, Unix milliseconds.
    pub at: i64,
}

/// The settings as a JSON file (the app's `settings.json`, and every test's).
pub struct JsonSettingsFile(pub PathBuf);

impl JsonSettingsFile {
    /// The stored settings, read only: `Ok(None)` when there is no file yet. Unlike
    /// [`SettingsStore::load`] a damaged file is reported and left where it is (for readers
    /// beside the app, such as `geniusctl`, which must not move the app's files).
    pub fn read(&self) -> Result<Option<Settings>, SettingsDamage> {
        match std::fs::read(&self.0) {
            Ok(bytes) => parse(&bytes).map(Some),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(_) => Err(SettingsDamage::Unreadable),
        }
    }
}

impl SettingsStore for JsonSettingsFile {
    fn load(&self) -> LoadedSettings {
        let path = &self.0;
        match self.read().map(Option::unwrap_or_default) {
            Ok(settings) => LoadedSettings {
                settings,
                damaged: None,
            },
            Err(reason) => LoadedSettings {
                settings: Settings::default(),
                damaged: Some(set_aside(path, reason)),
            },
        }
    }

    fn save(&self, settings: &Settings) -> Result<(), AccountError> {
        let storage = |e: String| AccountError::Storage(format!("{}: {e}", self.0.display()));
        let value = serde_json::to_value(settings).map_err(|e| storage(e.to_string()))?;
        let document = Value::Object(Map::from_iter([(KEY.to_owned(), value)]));
        let bytes = serde_json::to_vec_pretty(&document).map_err(|e| storage(e.to_string()))?;
        atomic_file::replace(&self.0, &bytes, 0o644).map_err(|e| storage(e.to_string()))
    }
}

/// The settings in a file's bytes. A document without the key holds no settings yet (the
/// plugin's file before the first save).
fn parse(bytes: &[u8]) -> Result<Settings, SettingsDamage> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(SettingsDamage::Empty);
    }
    let document: Value = serde_json::from_slice(bytes).map_err(|err| match err.classify() {
        serde_json::error::Category::Eof => SettingsDamage::Truncated,
        serde_json::error::Category::Io => SettingsDamage::Unreadable,
        _ => SettingsDamage::NotJson,
    })?;
    let Value::Object(mut document) = document else {
        return Err(SettingsDamage::WrongShape);
    };
    match document.remove(KEY) {
        None => Ok(Settings::default()),
        Some(value) => serde_json::from_value(value).map_err(|_| SettingsDamage::WrongShape),
    }
}

/// Renames the damaged file to a name of its own beside it, and says so on stderr (the reason
/// only: the file's contents are not shown anywhere).
fn set_aside(path: &Path, reason: SettingsDamage) -> DamagedSettings {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let moved_to = move_aside(path, &compact_utc(now.as_secs() as i64));
    match &moved_to {
        Ok(to) => log::warn!(
            "{} could not be used ({reason:?}); moved it to {} and started with default settings",
            path.display(),
            to.display()
        ),
        Err(err) => log::warn!(
            "{} could not be used ({reason:?}) nor moved aside ({err}); started with default settings",
            path.display()
        ),
    }
    DamagedSettings {
        path: path.display().to_string(),
        moved_to: moved_to.ok().map(|to| to.display().to_string()),
        reason,
        at: now.as_millis() as i64,
    }
}

/// `settings.json` → `settings.json.bad-20250301T080509Z` (`-2`, `-3`, … if that is taken).
fn move_aside(path: &Path, time: &str) -> std::io::Result<PathBuf> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let mut target = path.with_file_name(format!("{name}.bad-{time}"));
    let mut n = 1;
    while target.exists() {
        n += 1;
        target = path.with_file_name(format!("{name}.bad-{time}-{n}"));
    }
    std::fs::rename(path, &target)?;
    // Best effort: the rename happened; only its durability is at stake.
    let _ = atomic_file::sync_dir(atomic_file::folder_of(path));
    Ok(target)
}

/// `20250301T080509Z`: UTC, to the second, safe in a file name on every system.
fn compact_utc(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let rest = unix_secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_utc_formats_dates() {
        assert_eq!(compact_utc(0), "19700101T000000Z");
        assert_eq!(compact_utc(1_740_816_309), "20250301T080509Z");
        assert_eq!(compact_utc(951_782_400), "20000229T000000Z");
    }

    #[test]
    fn damage_is_classified() {
        assert_eq!(parse(b"").unwrap_err(), SettingsDamage::Empty);
        assert_eq!(parse(b" \n").unwrap_err(), SettingsDamage::Empty);
        assert_eq!(
            parse(b"{\"settings\": {\"pro").unwrap_err(),
            SettingsDamage::Truncated
        );
        assert_eq!(
            parse(b"\x00\x00garbage").unwrap_err(),
            SettingsDamage::NotJson
        );
        assert_eq!(parse(b"[1, 2]").unwrap_err(), SettingsDamage::WrongShape);
        assert_eq!(
            parse(br#"{"settings": {"lifetimeDays": "seven"}}"#).unwrap_err(),
            SettingsDamage::WrongShape
        );
        assert_eq!(parse(b"{}").unwrap(), Settings::default());
    }
}
