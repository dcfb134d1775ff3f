//! Preferences and profiles persist through tauri-plugin-store (`settings.json` in app data).

use std::sync::Arc;

use account::{AccountError, Settings, SettingsStore};
use tauri_plugin_store::{Store, StoreExt};

const FILE: &str = "settings.json";
const KEY: &str = "settings";

pub struct PluginSettings(Arc<Store<tauri::Wry>>);

impl PluginSettings {
    pub fn open(app: &tauri::AppHandle) -> Result<Self, tauri_plugin_store::Error> {
        Ok(PluginSettings(app.store(FILE)?))
    }
}

impl SettingsStore for PluginSettings {
    fn load(&self) -> Settings {
        self.0
            .get(KEY)
            .and_then(|value| serde_json::from_value(value).ok())
            .unwrap_or_default()
    }

    fn save(&self, settings: &Settings) -> Result<(), AccountError> {
        let value =
            serde_json::to_value(settings).map_err(|e| AccountError::Storage(e.to_string()))?;
        self.0.set(KEY, value);
        self.0
            .save()
            .map_err(|e| AccountError::Storage(e.to_string()))
    }
}
