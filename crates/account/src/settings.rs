//! Preferences and the non-secret part of profiles. The app keeps them in tauri-plugin-store;
//! the crate only needs something that loads and saves this one document.

use serde::{Deserialize, Serialize};

use crate::profile::Profile;

pub const DEFAULT_LIFETIME_DAYS: u32 = 7;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    pub profiles: Vec<Profile>,
    pub active_profile_id: Option<String>,
    /// "system", "zh-CN" or "en".
    pub locale: String,
    /// "system", "light" or "dark".
    pub theme: String,
    /// Refresh-token lifetime asked for at sign-in, 7..=30 days.
    pub lifetime_days: u32,
    /// The user chose the unencrypted file store because no keyring was available.
    pub file_store_opt_in: bool,
    /// Last known identity per profile, for display while offline (names and groups are not secret).
    pub cached_users: Vec<CachedUser>,
    /// Next number for new profile ids.
    pub next_profile_number: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            profiles: Vec::new(),
            active_profile_id: None,
            locale: "system".into(),
            theme: "system".into(),
            lifetime_days: DEFAULT_LIFETIME_DAYS,
            file_store_opt_in: false,
            cached_users: Vec::new(),
            next_profile_number: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedUser {
    pub profile_id: String,
    pub user_id: u64,
    pub name: String,
    pub groups: Vec<String>,
    pub avatar_url: String,
}

impl Settings {
    pub fn active_profile(&self) -> Option<&Profile> {
        let id = self.active_profile_id.as_deref()?;
        self.profiles.iter().find(|p| p.id == id)
    }

    pub fn cached_user(&self, profile_id: &str) -> Option<&CachedUser> {
        self.cached_users
            .iter()
            .find(|u| u.profile_id == profile_id)
    }

    pub fn set_cached_user(&mut self, user: CachedUser) {
        self.cached_users
            .retain(|u| u.profile_id != user.profile_id);
        self.cached_users.push(user);
    }

    pub fn new_profile_id(&mut self) -> String {
        let id = format!("p{}", self.next_profile_number);
        self.next_profile_number += 1;
        id
    }
}

/// Where settings persist.
pub trait SettingsStore: Send + Sync {
    fn load(&self) -> Settings;
    fn save(&self, settings: &Settings) -> Result<(), crate::AccountError>;
}

/// A plain JSON file: used by tests and by anything without Tauri.
pub struct JsonSettingsFile(pub std::path::PathBuf);

impl SettingsStore for JsonSettingsFile {
    fn load(&self) -> Settings {
        std::fs::read(&self.0)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    fn save(&self, settings: &Settings) -> Result<(), crate::AccountError> {
        let io =
            |e: std::io::Error| crate::AccountError::Storage(format!("{}: {e}", self.0.display()));
        if let Some(dir) = self.0.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let bytes = serde_json::to_vec_pretty(settings)
            .map_err(|e| crate::AccountError::Storage(e.to_string()))?;
        std::fs::write(&self.0, bytes).map_err(io)
    }
}
