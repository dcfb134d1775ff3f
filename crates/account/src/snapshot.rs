//! The one state document the UI renders (docs/ipc.md). Built fresh from the service's state on
//! every change; it holds masked tokens only.

use serde::Serialize;

use crate::error::ErrorReply;
use crate::profile::{Preset, Profile};
use crate::secret_store::Backend;
use crate::settings_file::DamagedSettings;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Grows with every snapshot built: the UI keeps the newest it has seen, since a command's
    /// reply may reach it after a later `state` event.
    pub revision: u64,
    pub locale: String,
    pub locale_preference: String,
    pub theme: String,
    pub lifetime_days: u32,
    pub demo: bool,
    pub demo_users: Vec<DemoUser>,
    pub profiles: Vec<ProfileView>,
    pub active_profile_id: Option<String>,
    pub storage: StorageView,
    pub sign_in: Option<SignInView>,
    pub session: Option<SessionView>,
    pub busy: Vec<&'static str>,
    pub error: Option<ErrorView>,
    /// The active profile's server clock as measured from its replies.
    pub clock: ClockView,
    /// The settings file was damaged at start-up: moved aside, defaults in use (a banner).
    pub damaged_settings: Option<DamagedSettings>,
}

/// How far the server's clock is from this machine's. Every time in the snapshot is on this
/// machine's clock already (token times are converted); this is for diagnostics.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClockView {
    /// Server time minus local time.
    pub offset_ms: i64,
    /// Whether a reply has told the server's time yet (otherwise the offset is 0 by default).
    pub measured: bool,
}

/// Who was signed in on this profile before the current sign-in, when that was someone else.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PreviousUserView {
    pub user_id: u64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DemoUser {
    pub id: u64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProfileView {
    pub id: String,
    pub name: String,
    pub server: String,
    pub app_code: String,
    pub callback: String,
    pub preset: Preset,
    pub has_secret: bool,
    pub demo: bool,
}

impl ProfileView {
    pub fn new(profile: &Profile, has_secret: bool) -> Self {
        ProfileView {
            id: profile.id.clone(),
            name: profile.name.clone(),
            server: profile.server.clone(),
            app_code: profile.app_code.clone(),
            callback: profile.callback.clone(),
            preset: if profile.demo {
                Preset::Emulator
            } else {
                Preset::for_server(&profile.server)
            },
            has_secret,
            demo: profile.demo,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StorageView {
    pub backend: Backend,
    pub available: bool,
    pub file_opt_in: bool,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SignInView {
    pub method: &'static str,
    pub url: String,
    pub expires_at: i64,
    /// The app's name as registered with the server ("Signing in to <name>").
    pub app_name: String,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SessionState {
    SignedIn,
    Expired,
    Offline,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub state: SessionState,
    pub user: UserView,
    pub refresh: Option<TokenView>,
    pub access: Option<TokenView>,
    /// Set while the server cannot be reached (state `offline`).
    pub offline: Option<OfflineView>,
    /// Set while an automatic retry is pending after a failed refresh, whatever the failure
    /// (offline, rate limited, keyring timeout, …): the session is kept and tried again.
    pub retry: Option<RetryView>,
    /// When the refresh timer fires next (the access token is renewed before it expires).
    pub next_refresh_at: Option<i64>,
    /// Someone else was signed in on this profile before this sign-in.
    pub previous_user: Option<PreviousUserView>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub user_id: u64,
    pub name: String,
    pub groups: Vec<String>,
    pub avatar: Option<String>,
    pub initials: String,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SignatureState {
    Verified,
    Failed,
    Unavailable,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub masked: String,
    pub record_id: u64,
    pub issued_at: i64,
    pub expires_at: i64,
    pub payload: String,
    pub signature: SignatureState,
    pub last_check: Option<CheckView>,
    pub expiring_soon: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CheckView {
    pub ok: bool,
    pub at: i64,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OfflineView {
    pub since: i64,
    pub next_retry_at: i64,
    pub message: String,
}

/// A failed refresh that will be tried again.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RetryView {
    /// First failure of this run of failures.
    pub since: i64,
    pub next_retry_at: i64,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The last failure's error code (as in rejections) and explanation.
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ErrorView {
    #[serde(flatten)]
    pub reply: ErrorReply,
    pub at: i64,
}

/// First letter of the name (first two for Latin names with two words): the avatar fallback.
pub fn initials(name: &str) -> String {
    let words: Vec<&str> = name.split_whitespace().collect();
    match words.as_slice() {
        [first, second, ..] if first.is_ascii() && second.is_ascii() => [first, second]
            .iter()
            .filter_map(|w| w.chars().next())
            .flat_map(char::to_uppercase)
            .collect(),
        _ => name
            .chars()
            .find(|c| !c.is_whitespace())
            .map(|c| c.to_uppercase().collect())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::initials;

    #[test]
    fn initials_for_chinese_and_latin_names() {
        assert_eq!(initials("张伟"), "张");
        assert_eq!(initials("Alice Chen"), "AC");
        assert_eq!(initials("  bob"), "B");
        assert_eq!(initials(""), "");
    }
}
