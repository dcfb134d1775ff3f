//! Preferences and the non-secret part of profiles: one document, loaded at start and saved
//! whole after every change (the app's is [`crate::settings_file::JsonSettingsFile`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::profile::Profile;
use crate::settings_file::DamagedSettings;

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
    /// Fields this version does not know (written by a newer one): kept as they are and saved
    /// again, so that going back to an older version and forward again loses nothing.
    #[serde(flatten)]
    pub unknown_fields: Map<String, Value>,
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
            unknown_fields: Map::new(),
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

/// What [`SettingsStore::load`] found.
#[derive(Debug, Default)]
pub struct LoadedSettings {
    /// The stored settings, or the defaults when there were none or they were damaged.
    pub settings: Settings,
    /// A stored document that could not be used, and where it went.
    pub damaged: Option<DamagedSettings>,
}

/// Where settings persist.
pub trait SettingsStore: Send + Sync {
    /// Never fails: damaged settings are set aside (not overwritten later) and reported.
    fn load(&self) -> LoadedSettings;
    fn save(&self, settings: &Settings) -> Result<(), crate::AccountError>;
}
