//! Genius Account's session logic, free of Tauri: profiles, secret storage, browser sign-in,
//! the token lifecycle (scheduled refresh, single-flight, offline backoff) and the snapshot
//! the UI renders.

pub mod atomic_file;
pub mod avatar;
pub mod clipboard;
pub mod error;
pub mod mask;
pub mod messages;
pub mod paths;
pub mod profile;
pub mod secret_store;
pub mod service;
pub mod session;
pub mod settings;
pub mod settings_file;
pub mod snapshot;

pub use error::{AccountError, ErrorReply};
pub use profile::{Preset, Profile, ProfileInput};
pub use service::{AccountService, Busy, Demo, ServiceConfig};
pub use settings::{LoadedSettings, Settings, SettingsStore};
pub use settings_file::{DamagedSettings, JsonSettingsFile};
pub use snapshot::Snapshot;
