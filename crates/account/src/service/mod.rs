//! The account service: owns profiles, secrets, the session and its token lifecycle, and tells
//! its listener (the app's window) about every change with a fresh [`Snapshot`].
//!
//! One lock guards the whole [`State`]. What the window should see changes through
//! [`AccountService::change`], which locks, mutates, unlocks and notifies once; `read` looks
//! without notifying, and `quietly` is for caches and the middle steps of an action whose last
//! step is a `change`. The methods are split by concern:
//! - `profiles`: preferences, profiles, the demo profile;
//! - `storage`: where secrets live, the keyring's health, clients and the server key;
//! - `sign_in`: browser and pasted sign-ins, installing a new session;
//! - `session`: restoring the stored session, the avatar, payload edits, ending a session;
//! - `tokens`: refresh (single-flight), retries with backoff, expiry;
//! - `verify`: calls made with the access token (verify, user info), with one refresh on 31;
//! - `schedule`: the refresh timer and the sleep detector;
//! - `busy`: user actions, their busy flags and the error banner;
//! - `snapshot`: the state as the window sees it.

mod busy;
mod profiles;
mod schedule;
mod session;
mod sign_in;
mod snapshot;
mod storage;
mod tokens;
mod verify;

#[cfg(test)]
mod test_support;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use geniusauth::callback::SIGN_IN_TIMEOUT;
use geniusauth::Client;
use tokio::task::JoinHandle;

use crate::avatar::AvatarCache;
use crate::clipboard::SecretClipboard;
use crate::error::AccountError;
use crate::secret_store::{FileStore, KeyringStore, MemoryStore, SecretStore, SECRETS_FILE};
use crate::session::Session;
use crate::settings::{Settings, SettingsStore};
use crate::settings_file::DamagedSettings;
use crate::snapshot::{DemoUser, ErrorView, SignInView, Snapshot};

pub use busy::Busy;

/// Renew the access token this long before it expires.
pub const DEFAULT_REFRESH_LEAD: Duration = Duration::from_secs(60);

pub struct ServiceConfig {
    /// App data: the opt-in secrets file lives here.
    pub data_dir: PathBuf,
    /// Avatars are cached here.
    pub cache_dir: PathBuf,
    /// Keyring service name; tests use their own.
    pub keyring_service: String,
    /// The OS locale, e.g. "zh-CN" or "en-US".
    pub system_locale: String,
    pub refresh_lead: Duration,
    /// Overrides the client's whole-request timeout (tests use short ones).
    pub request_timeout: Option<Duration>,
    /// How long a browser sign-in waits for the redirect (tests use short ones).
    pub sign_in_timeout: Duration,
    /// How long a copied access token stays on the clipboard (tests use short ones).
    pub clipboard_clear_after: Duration,
}

impl ServiceConfig {
    pub fn new(data_dir: PathBuf, cache_dir: PathBuf, system_locale: String) -> Self {
        ServiceConfig {
            data_dir,
            cache_dir,
            keyring_service: crate::paths::APP_IDENTIFIER.into(),
            system_locale,
            refresh_lead: DEFAULT_REFRESH_LEAD,
            request_timeout: None,
            sign_in_timeout: SIGN_IN_TIMEOUT,
            clipboard_clear_after: crate::clipboard::CLEAR_AFTER,
        }
    }
}

/// The demo profile lives in memory only: its emulator is gone when the app quits.
pub struct Demo {
    pub server: String,
    pub app_code: String,
    pub app_secret: String,
    pub callback: String,
    pub users: Vec<DemoUser>,
}

pub const DEMO_PROFILE_ID: &str = "demo";

type Listener = Box<dyn Fn(Snapshot) + Send + Sync>;

#[derive(Clone)]
pub struct AccountService {
    inner: Arc<Inner>,
}

struct Inner {
    config: ServiceConfig,
    settings_store: Box<dyn SettingsStore>,
    keyring: Arc<dyn SecretStore>,
    file_store: Arc<dyn SecretStore>,
    demo_store: Arc<dyn SecretStore>,
    avatars: AvatarCache,
    clipboard: SecretClipboard,
    state: Mutex<State>,
    /// Held while a refresh call is in flight: concurrent refreshes share one server call.
    refresh_gate: tokio::sync::Mutex<()>,
    /// Numbers snapshots in the order they are built.
    revision: std::sync::atomic::AtomicU64,
    listener: Mutex<Option<Listener>>,
    /// The sleep detector runs once per service, however often `start` is called.
    wake_detector: AtomicBool,
}

#[derive(Default)]
struct State {
    settings: Settings,
    /// The settings file found damaged at start-up (and set aside): the banner says so.
    damaged_settings: Option<DamagedSettings>,
    keyring_problem: Option<String>,
    demo: Option<Demo>,
    /// The demo profile is active. Kept out of `settings` so that it is never persisted: the
    /// demo's emulator is gone at the next start, and the last real profile is active again.
    demo_active: bool,
    clients: HashMap<String, Client>,
    server_keys: HashMap<String, ed25519_dalek::VerifyingKey>,
    session: Option<Session>,
    /// Actions in flight, counted: two overlapping refreshes keep "refresh" busy until both end.
    busy: BTreeMap<Busy, usize>,
    error: Option<ErrorView>,
    sign_in: Option<PendingSignIn>,
    /// Bumped by every completed refresh call; waiters compare it to know theirs was served.
    refresh_generation: u64,
    last_refresh_error: Option<AccountError>,
    /// The one pending refresh timer, tagged so that a timer that fired only clears itself.
    scheduled: Option<schedule::Timer>,
    next_timer_id: u64,
    backoff: Option<Duration>,
    /// Cancelled sign-in listeners that may still hold their port: a new sign-in waits for
    /// them before binding it again.
    stopping_sign_ins: Vec<JoinHandle<()>>,
}

struct PendingSignIn {
    view: SignInView,
    task: JoinHandle<()>,
}

/// This machine's clock in Unix milliseconds (one definition for the workspace).
pub use geniusauth::clock::local_now_ms as now_ms;

impl AccountService {
    /// Loads settings. Call [`AccountService::start`] once a runtime runs: it probes the keyring
    /// and restores the session.
    pub fn new(config: ServiceConfig, settings_store: Box<dyn SettingsStore>) -> Self {
        let keyring: Arc<dyn SecretStore> =
            Arc::new(KeyringStore::new(config.keyring_service.clone()));
        Self::with_keyring(config, settings_store, keyring)
    }

    /// Like [`AccountService::new`] with a given keyring (tests pass a keyring with a short
    /// timeout, or one that is known to be missing). Nothing here touches the keyring: a hung
    /// one must not hold up the window.
    pub fn with_keyring(
        config: ServiceConfig,
        settings_store: Box<dyn SettingsStore>,
        keyring: Arc<dyn SecretStore>,
    ) -> Self {
        let loaded = settings_store.load();
        let file_store: Arc<dyn SecretStore> =
            Arc::new(FileStore::new(config.data_dir.join(SECRETS_FILE)));
        let avatars = AvatarCache::new(config.cache_dir.join("avatars"));
        let clipboard = SecretClipboard::new(config.clipboard_clear_after);
        let inner = Inner {
            config,
            clipboard,
            settings_store,
            keyring,
            file_store,
            demo_store: Arc::new(MemoryStore::default()),
            avatars,
            state: Mutex::new(State {
                settings: loaded.settings,
                damaged_settings: loaded.damaged,
                ..State::default()
            }),
            refresh_gate: tokio::sync::Mutex::new(()),
            revision: std::sync::atomic::AtomicU64::new(0),
            listener: Mutex::new(None),
            wake_detector: AtomicBool::new(false),
        };
        AccountService {
            inner: Arc::new(inner),
        }
    }

    /// Called with a fresh snapshot after every change.
    pub fn set_listener(&self, listener: impl Fn(Snapshot) + Send + Sync + 'static) {
        *lock(&self.inner.listener) = Some(Box::new(listener));
    }

    /// Probes the keyring (first call only), restores the stored session of the active
    /// profile and starts the sleep detector.
    pub async fn start(&self) {
        if !self.inner.wake_detector.swap(true, Ordering::SeqCst) {
            self.spawn_wake_detector();
            self.probe_keyring().await;
        }
        let restored = self.restore().await;
        self.change(|st| {
            if let Err(err) = &restored {
                st.error = Some(self.error_view(&st.settings, err));
            }
        });
    }

    /// Changes the state, then (the lock released) tells the listener once. Returns what
    /// `change` returns.
    fn change<T>(&self, change: impl FnOnce(&mut State) -> T) -> T {
        let out = change(&mut lock(&self.inner.state));
        self.notify();
        out
    }

    /// Looks at the state; nothing changes, nobody is told.
    fn read<T>(&self, read: impl FnOnce(&State) -> T) -> T {
        read(&lock(&self.inner.state))
    }

    /// Changes the state without telling the listener: caches the window does not show, and
    /// the middle steps of an action whose last step is a [`Self::change`].
    fn quietly<T>(&self, change: impl FnOnce(&mut State) -> T) -> T {
        change(&mut lock(&self.inner.state))
    }

    fn notify(&self) {
        let snapshot = self.snapshot();
        if let Some(listener) = lock(&self.inner.listener).as_ref() {
            listener(snapshot);
        }
    }

    /// Saves `edit` of the settings and keeps it, or keeps the old settings if the edit is
    /// refused or cannot be saved. For use inside a [`Self::change`].
    fn save_settings(
        &self,
        st: &mut State,
        edit: impl FnOnce(&mut Settings) -> Result<(), AccountError>,
    ) -> Result<(), AccountError> {
        let mut next = st.settings.clone();
        edit(&mut next)?;
        self.inner.settings_store.save(&next)?;
        st.settings = next;
        Ok(())
    }

    /// Saves `edit` of the settings and tells the listener.
    fn update_settings(
        &self,
        edit: impl FnOnce(&mut Settings) -> Result<(), AccountError>,
    ) -> Result<(), AccountError> {
        self.change(|st| self.save_settings(st, edit))
    }
}

fn upgrade(weak: &Weak<Inner>) -> Option<AccountService> {
    weak.upgrade().map(|inner| AccountService { inner })
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Secret stores block (D-Bus, files): keep them off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AccountError> + Send + 'static,
) -> Result<T, AccountError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AccountError::Internal(e.to_string()))?
}
