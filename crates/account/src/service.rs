//! The account service: owns profiles, secrets, the session and its token lifecycle, and tells
//! its listener (the app's window) about every change with a fresh [`Snapshot`].

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant, SystemTime};

use geniusauth::tokens::{self, TokenType};
use geniusauth::{Client, Grant, LoginOptions};
use tokio::task::JoinHandle;

use crate::avatar::AvatarCache;
use crate::clipboard::SecretClipboard;
use crate::error::{AccountError, ErrorReply};
use crate::messages;
use crate::profile::{Profile, ProfileInput};
use crate::secret_store::{
    app_secret_key, refresh_token_key, Backend, FileStore, KeyringStore, MemoryStore, SecretStore,
    SECRETS_FILE,
};
use crate::session::{HeldToken, Session, User};
use crate::settings::{CachedUser, Settings, SettingsStore};
use crate::settings_file::DamagedSettings;
use crate::snapshot::*;
use geniusauth::callback::{
    login_token_check, parse_callback, CallbackListener, Pages, SIGN_IN_TIMEOUT,
};

/// Renew the access token this long before it expires.
pub const DEFAULT_REFRESH_LEAD: Duration = Duration::from_secs(60);
/// Retry delays after transient failures: 2 s doubling up to a minute.
const BACKOFF_START: Duration = Duration::from_secs(2);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// How often the sleep detector compares the wall clock with the monotonic clock.
const WAKE_CHECK_EVERY: Duration = Duration::from_secs(15);

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
    busy: BTreeMap<&'static str, usize>,
    error: Option<ErrorView>,
    sign_in: Option<PendingSignIn>,
    /// Bumped by every completed refresh call; waiters compare it to know theirs was served.
    refresh_generation: u64,
    last_refresh_error: Option<AccountError>,
    /// The one pending refresh timer, tagged so that a timer that fired only clears itself.
    scheduled: Option<Timer>,
    next_timer_id: u64,
    backoff: Option<Duration>,
    /// Cancelled sign-in listeners that may still hold their port: a new sign-in waits for
    /// them before binding it again.
    stopping_sign_ins: Vec<JoinHandle<()>>,
}

struct Timer {
    id: u64,
    /// Wall-clock time it fires, for the snapshot.
    due_at: i64,
    task: JoinHandle<()>,
}

impl State {
    /// Stops the pending refresh timer and forgets any backoff.
    fn stop_timer(&mut self) {
        self.backoff = None;
        if let Some(timer) = self.scheduled.take() {
            timer.task.abort();
        }
    }
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

    /// Asks the keyring for an item that does not exist: it must answer "no entry" within the
    /// keyring timeout. The outcome shows in the snapshot's `storage` (see `with_store`); a
    /// locked collection may pass this and fail at the first real read, which sets the same
    /// state.
    async fn probe_keyring(&self) {
        let _ = self
            .with_store(self.inner.keyring.clone(), |keyring| {
                keyring.get("probe:availability")
            })
            .await;
        self.notify();
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
        if let Err(err) = self.restore().await {
            self.record_error(&err);
        }
        self.notify();
    }

    // ---- snapshot ------------------------------------------------------------------------

    pub fn snapshot(&self) -> Snapshot {
        let st = self.state();
        let now = now_ms();
        let settings = &st.settings;
        // Token times are the server's: shown on this machine's clock, so that countdowns
        // are right however far the local clock is off.
        let server_clock = active_id(&st)
            .and_then(|id| st.clients.get(&id))
            .map(|client| client.clock());
        let offset_ms = server_clock.map_or(0, |clock| clock.offset_ms());
        let mut profiles: Vec<ProfileView> = settings
            .profiles
            .iter()
            .map(|p| ProfileView::new(p, true))
            .collect();
        if let Some(demo) = &st.demo {
            profiles.push(ProfileView::new(&demo_profile(demo), true));
        }
        let demo_active = st.demo_active;
        let storage = if demo_active {
            // The demo's secrets live in memory with its emulator: the keyring is not involved.
            StorageView {
                backend: Backend::Memory,
                available: true,
                file_opt_in: false,
                message: None,
            }
        } else {
            StorageView {
                backend: if settings.file_store_opt_in {
                    Backend::File
                } else {
                    Backend::Keyring
                },
                available: settings.file_store_opt_in || st.keyring_problem.is_none(),
                file_opt_in: settings.file_store_opt_in,
                message: st.keyring_problem.clone(),
            }
        };
        let session = st.session.as_ref().map(|s| SessionView {
            state: s.state,
            user: UserView {
                user_id: s.user.user_id,
                name: s.user.name.clone(),
                groups: s.user.groups.clone(),
                avatar: s.avatar.clone(),
                initials: initials(&s.user.name),
            },
            refresh: Some(s.refresh.view(now, offset_ms)),
            access: s.access.as_ref().map(|a| a.view(now, offset_ms)),
            previous_user: s.previous_user.clone(),
            offline: s.offline.clone(),
            retry: s.retry.clone(),
            next_refresh_at: st.scheduled.as_ref().map(|t| t.due_at),
        });
        Snapshot {
            revision: self
                .inner
                .revision
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                + 1,
            locale: self.locale_of(settings),
            locale_preference: settings.locale.clone(),
            theme: settings.theme.clone(),
            lifetime_days: settings.lifetime_days,
            demo: st.demo.is_some(),
            demo_users: st
                .demo
                .as_ref()
                .map(|d| d.users.clone())
                .unwrap_or_default(),
            profiles,
            active_profile_id: active_id(&st),
            storage,
            sign_in: st.sign_in.as_ref().map(|p| p.view.clone()),
            session,
            busy: st.busy.keys().copied().collect(),
            error: st.error.clone(),
            clock: ClockView {
                offset_ms,
                measured: server_clock.is_some_and(|clock| clock.is_measured()),
            },
            damaged_settings: st.damaged_settings.clone(),
        }
    }

    fn locale_of(&self, settings: &Settings) -> String {
        let chosen = if settings.locale == "system" {
            &self.inner.config.system_locale
        } else {
            &settings.locale
        };
        if chosen.to_ascii_lowercase().starts_with("zh") {
            "zh-CN".into()
        } else {
            "en".into()
        }
    }

    fn notify(&self) {
        let snapshot = self.snapshot();
        if let Some(listener) = lock(&self.inner.listener).as_ref() {
            listener(snapshot);
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner.state)
    }

    // ---- preferences and profiles ---------------------------------------------------------

    pub fn set_preferences(
        &self,
        locale: Option<String>,
        theme: Option<String>,
        lifetime_days: Option<u32>,
    ) -> Result<(), AccountError> {
        self.update_settings(|s| {
            if let Some(locale) = locale {
                if !matches!(locale.as_str(), "system" | "zh-CN" | "en") {
                    return Err(AccountError::invalid(
                        "language must be system, zh-CN or en",
                    ));
                }
                s.locale = locale;
            }
            if let Some(theme) = theme {
                if !matches!(theme.as_str(), "system" | "light" | "dark") {
                    return Err(AccountError::invalid("theme must be system, light or dark"));
                }
                s.theme = theme;
            }
            if let Some(days) = lifetime_days {
                if !(7..=30).contains(&days) {
                    return Err(AccountError::invalid(
                        "the refresh-token lifetime must be 7 to 30 days",
                    ));
                }
                s.lifetime_days = days;
            }
            Ok(())
        })
    }

    fn update_settings(
        &self,
        change: impl FnOnce(&mut Settings) -> Result<(), AccountError>,
    ) -> Result<(), AccountError> {
        let result = {
            let mut st = self.state();
            let mut next = st.settings.clone();
            change(&mut next).and_then(|()| {
                self.inner.settings_store.save(&next)?;
                st.settings = next;
                Ok(())
            })
        };
        self.notify();
        result
    }

    /// Adds or edits a profile. The secret goes to the secret store; absent keeps the stored one.
    pub async fn save_profile(&self, input: ProfileInput) -> Result<String, AccountError> {
        let is_new = input.id.is_none();
        if is_new && input.app_secret.is_none() {
            return Err(AccountError::invalid("a new profile needs its appSecret"));
        }
        let id = match &input.id {
            Some(id) => {
                if !self.state().settings.profiles.iter().any(|p| &p.id == id) {
                    return Err(AccountError::NoProfile);
                }
                id.clone()
            }
            None => self.state().settings.new_profile_id(),
        };
        let profile = input.validate(id.clone())?;
        // Another server or app makes the stored session meaningless: its tokens belong elsewhere.
        // A new profile starts signed out even if the keyring holds a token under its id (an
        // earlier installation's, whose settings are gone, numbered its profiles the same way).
        let moved = self
            .profile(&id)
            .is_some_and(|old| old.server != profile.server || old.app_code != profile.app_code);
        if moved || is_new {
            if self
                .state()
                .session
                .as_ref()
                .is_some_and(|s| s.profile_id == id)
            {
                self.cancel_sign_in();
                self.clear_session();
            }
            let store = self.store_for(&id);
            let key = refresh_token_key(&id);
            self.with_store(store, move |store| store.delete(&key))
                .await?;
            self.update_settings(|s| {
                s.cached_users.retain(|u| u.profile_id != id);
                Ok(())
            })?;
        }
        if let Some(secret) = &input.app_secret {
            let store = self.store_for(&id);
            let secret = secret.trim().to_owned();
            let key = app_secret_key(&id);
            self.with_store(store, move |store| store.set(&key, &secret))
                .await?;
        }
        self.state().clients.remove(&id);
        self.state().server_keys.remove(&id);
        self.update_settings(|s| {
            s.next_profile_number = s.next_profile_number.max(id_number(&id) + 1);
            match s.profiles.iter_mut().find(|p| p.id == id) {
                Some(existing) => *existing = profile,
                None => s.profiles.push(profile),
            }
            if is_new || s.active_profile_id.is_none() {
                s.active_profile_id = Some(id.clone());
            }
            Ok(())
        })?;
        if is_new {
            self.switch_profile(&id).await?;
        }
        Ok(id)
    }

    pub async fn delete_profile(&self, id: &str) -> Result<(), AccountError> {
        if id == DEMO_PROFILE_ID {
            return Err(AccountError::invalid(
                "the demo profile goes away when the app quits",
            ));
        }
        if self.profile(id).is_none() {
            return Err(AccountError::NoProfile);
        }
        let was_active = self.active_profile().is_ok_and(|p| p.id == id);
        let store = self.store_for(id);
        let (a, r) = (app_secret_key(id), refresh_token_key(id));
        // Best effort: a missing keyring must not keep a profile from being deleted.
        let _ = self
            .with_store(store, move |store| {
                store.delete(&a).and_then(|()| store.delete(&r))
            })
            .await;
        if was_active {
            self.cancel_sign_in();
            self.clear_session();
        }
        {
            let mut st = self.state();
            st.clients.remove(id);
            st.server_keys.remove(id);
        }
        self.update_settings(|s| {
            s.profiles.retain(|p| p.id != id);
            s.cached_users.retain(|u| u.profile_id != id);
            if s.active_profile_id.as_deref() == Some(id) {
                s.active_profile_id = s.profiles.first().map(|p| p.id.clone());
            }
            Ok(())
        })?;
        // Only a change of the active profile needs a session restored; deleting another
        // profile leaves the current session alone.
        if was_active {
            self.restore().await?;
        }
        self.notify();
        Ok(())
    }

    pub async fn switch_profile(&self, id: &str) -> Result<(), AccountError> {
        if self.profile(id).is_none() {
            return Err(AccountError::NoProfile);
        }
        self.cancel_sign_in();
        self.clear_session();
        if id == DEMO_PROFILE_ID {
            // Not persisted: next start the last real profile is active again.
            self.state().demo_active = true;
        } else {
            self.state().demo_active = false;
            self.update_settings(|s| {
                s.active_profile_id = Some(id.to_owned());
                Ok(())
            })?;
        }
        let result = self.restore().await;
        self.notify();
        result
    }

    /// Makes the embedded emulator's demo app the active profile.
    pub async fn enable_demo(&self, demo: Demo) -> Result<(), AccountError> {
        let secret = demo.app_secret.clone();
        {
            let mut st = self.state();
            st.demo = Some(demo);
            st.clients.remove(DEMO_PROFILE_ID);
            st.server_keys.remove(DEMO_PROFILE_ID);
        }
        self.inner
            .demo_store
            .set(&app_secret_key(DEMO_PROFILE_ID), &secret)?;
        self.switch_profile(DEMO_PROFILE_ID).await
    }

    pub fn is_demo(&self) -> bool {
        self.state().demo.is_some()
    }

    /// Switches the secrets between the OS keyring and the opt-in file. What the old store
    /// holds for each profile is copied over (best effort from a keyring that does not answer),
    /// the current session's refresh token is written to the new store, and leaving the file
    /// deletes the copied secrets from it.
    pub async fn use_file_store(&self, enabled: bool) -> Result<(), AccountError> {
        let (keyring_problem, already) = {
            let st = self.state();
            (st.keyring_problem.is_some(), st.settings.file_store_opt_in)
        };
        if !enabled {
            // Leaving the file needs a keyring that answers; otherwise nothing changes.
            self.with_store(self.inner.keyring.clone(), |keyring| {
                keyring.get("probe:availability")
            })
            .await?;
        }
        if enabled != already {
            let (from, to) = if enabled {
                (self.inner.keyring.clone(), self.inner.file_store.clone())
            } else {
                (self.inner.file_store.clone(), self.inner.keyring.clone())
            };
            // A keyring known not to answer is not read (each call would wait for the timeout).
            let read_old = !(enabled && keyring_problem);
            let mut keys: Vec<String> = Vec::new();
            let mut session_token: Option<(String, String)> = None;
            {
                let st = self.state();
                for p in &st.settings.profiles {
                    keys.push(app_secret_key(&p.id));
                    keys.push(refresh_token_key(&p.id));
                }
                if let Some(s) = st
                    .session
                    .as_ref()
                    .filter(|s| s.profile_id != DEMO_PROFILE_ID && s.state != SessionState::Expired)
                {
                    session_token =
                        Some((refresh_token_key(&s.profile_id), s.refresh.value.clone()));
                }
            }
            let delete_from_old = !enabled;
            self.with_store(to, move |to| {
                let mut moved = Vec::new();
                for key in keys {
                    let value = if read_old {
                        from.get(&key).ok().flatten()
                    } else {
                        None
                    };
                    if let Some(value) = value {
                        to.set(&key, &value)?;
                        moved.push(key);
                    }
                }
                if let Some((key, value)) = &session_token {
                    to.set(key, value)?;
                }
                if delete_from_old {
                    for key in moved {
                        let _ = from.delete(&key);
                    }
                }
                Ok(())
            })
            .await?;
        }
        self.update_settings(|s| {
            s.file_store_opt_in = enabled;
            Ok(())
        })?;
        self.state().clients.clear();
        self.restore().await?;
        self.notify();
        Ok(())
    }

    /// The user's answer to `secrets_file_too_open`: narrows the secrets file to its owner
    /// (0600), then restores the session it holds.
    pub async fn fix_secrets_file_permissions(&self) -> Result<(), AccountError> {
        let path = self.inner.config.data_dir.join(SECRETS_FILE);
        blocking(move || FileStore::restrict_to_owner(&path)).await?;
        self.restore().await?;
        self.notify();
        Ok(())
    }

    fn profile(&self, id: &str) -> Option<Profile> {
        let st = self.state();
        if id == DEMO_PROFILE_ID {
            return st.demo.as_ref().map(demo_profile);
        }
        st.settings.profiles.iter().find(|p| p.id == id).cloned()
    }

    fn active_profile(&self) -> Result<Profile, AccountError> {
        let id = active_id(&self.state()).ok_or(AccountError::NoProfile)?;
        self.profile(&id).ok_or(AccountError::NoProfile)
    }

    fn store_for(&self, profile_id: &str) -> Arc<dyn SecretStore> {
        if profile_id == DEMO_PROFILE_ID {
            return self.inner.demo_store.clone();
        }
        if self.state().settings.file_store_opt_in {
            self.inner.file_store.clone()
        } else {
            self.inner.keyring.clone()
        }
    }

    /// Runs a secret-store operation off the async workers. Keyring outcomes keep the
    /// snapshot's `storage` honest: a failure says the keyring is unavailable, a success that
    /// it works again.
    async fn with_store<T: Send + 'static>(
        &self,
        store: Arc<dyn SecretStore>,
        op: impl FnOnce(&dyn SecretStore) -> Result<T, AccountError> + Send + 'static,
    ) -> Result<T, AccountError> {
        let backend = store.backend();
        let result = blocking(move || op(&*store)).await;
        if backend == Backend::Keyring {
            let mut st = self.state();
            match &result {
                Ok(_) => st.keyring_problem = None,
                Err(err @ AccountError::KeyringUnavailable(_)) => {
                    st.keyring_problem = Some(err.to_string());
                }
                Err(_) => {}
            }
        }
        result
    }

    async fn client(&self, profile: &Profile) -> Result<Client, AccountError> {
        if let Some(client) = self.state().clients.get(&profile.id) {
            return Ok(client.clone());
        }
        let store = self.store_for(&profile.id);
        let key = app_secret_key(&profile.id);
        let secret = self
            .with_store(store, move |store| store.get(&key))
            .await?
            .ok_or_else(|| {
                AccountError::invalid(
                    "this profile has no appSecret stored: edit the profile and enter it",
                )
            })?;
        let mut config = geniusauth::Config::new(profile.app_code.clone(), secret)
            .with_base_url(&profile.server)?;
        if let Some(timeout) = self.inner.config.request_timeout {
            config = config.with_request_timeout(timeout);
        }
        let client = Client::new(config)?;
        self.state()
            .clients
            .insert(profile.id.clone(), client.clone());
        Ok(client)
    }

    /// The active profile and a client for it (its app's credentials), for the support tools,
    /// which act on other people's tokens with the profile's app.
    pub async fn active_client(&self) -> Result<(Profile, Client), AccountError> {
        let profile = self.active_profile()?;
        let client = self.client(&profile).await?;
        Ok((profile, client))
    }

    /// The server's token key, fetched once per profile; `None` when it cannot be had now.
    async fn server_key(
        &self,
        profile: &Profile,
        client: &Client,
    ) -> Option<ed25519_dalek::VerifyingKey> {
        if let Some(key) = self.state().server_keys.get(&profile.id) {
            return Some(*key);
        }
        let key = client
            .server_public_keys()
            .await
            .ok()?
            .jwt_verifying_key()
            .ok()?;
        self.state().server_keys.insert(profile.id.clone(), key);
        Some(key)
    }

    // ---- sign-in ----------------------------------------------------------------------------

    /// Checks the profile with the server, starts listening on its callback and returns the
    /// URL to open in the browser.
    pub async fn sign_in_browser(&self, payload: Option<String>) -> Result<String, AccountError> {
        let profile = self.active_profile()?;
        check_payload(payload.as_deref())?;
        let address = parse_callback(&profile.callback).map_err(AccountError::from_sign_in)?;
        let client = self.client(&profile).await?;
        // One cheap unsigned call before any browser opens (the server rate-limits it): the
        // appCode exists (code 3 otherwise), its registration sends the browser where we
        // listen, and the reply's Date measures the server's clock for the token check below.
        let app = client.app_info().await?;
        let registered = app.host.trim();
        if !registered.is_empty() && !registered.eq_ignore_ascii_case(&address.host_and_port()) {
            return Err(AccountError::SignInCallbackMismatch {
                registered: registered.to_owned(),
                callback: address.host_and_port(),
            });
        }
        let key = self.server_key(&profile, &client).await;
        // Earlier listeners must be gone before the port is bound again: abort, then wait.
        let stopping = {
            let mut st = self.state();
            stop_sign_in(&mut st);
            std::mem::take(&mut st.stopping_sign_ins)
        };
        for task in stopping {
            let _ = task.await;
        }
        let timeout = self.inner.config.sign_in_timeout;
        let pages = Pages {
            product: "Genius Account",
        };
        let listener = CallbackListener::bind(&address, pages)
            .await
            .map_err(AccountError::from_sign_in)?;
        let check = login_token_check(&client, key);
        let url = client.login_url().to_string();
        let weak = Arc::downgrade(&self.inner);
        let view = SignInView {
            method: "browser",
            url: url.clone(),
            expires_at: now_ms() + timeout.as_millis() as i64,
            app_name: app.name,
        };
        {
            // Held while spawning, so the task's own `sign_in = None` comes after this entry.
            let mut st = self.state();
            let task = tokio::spawn(async move {
                let result = listener
                    .wait_for_token(timeout, check)
                    .await
                    .map_err(AccountError::from_sign_in);
                let Some(service) = upgrade(&weak) else {
                    return;
                };
                service.state().sign_in = None;
                match result {
                    Ok(token) => {
                        let _ = service
                            .run("signin", service.sign_in_with_token(token, payload))
                            .await;
                    }
                    Err(err) => service.record_error(&err),
                }
                service.notify();
            });
            st.sign_in = Some(PendingSignIn { view, task });
        }
        self.notify();
        Ok(url)
    }

    /// Stops a pending browser sign-in. An intentional cancel sets no error. The port is
    /// released as soon as the runtime has dropped the listener task, which a new sign-in
    /// waits for.
    pub fn cancel_sign_in(&self) {
        stop_sign_in(&mut self.state());
        self.notify();
    }

    /// Signs in with a login token from the browser callback, a paste, or the demo shortcut.
    pub async fn sign_in_with_token(
        &self,
        token: String,
        payload: Option<String>,
    ) -> Result<(), AccountError> {
        let profile = self.active_profile()?;
        let token = token.trim().to_owned();
        if token.is_empty() {
            return Err(AccountError::invalid("the login token is empty"));
        }
        check_payload(payload.as_deref())?;
        let claims = tokens::decode(&token)
            .map_err(|_| AccountError::invalid("this is not a GeniusAuth login token"))?
            .claims;
        if claims.token_type != TokenType::Login {
            return Err(AccountError::invalid(format!(
                "this is a {} token; a login token is needed",
                claims.token_type.as_str()
            )));
        }
        if !claims.app_code.is_empty() && claims.app_code != profile.app_code {
            return Err(AccountError::SignInWrongApp {
                expected: profile.app_code,
                found: claims.app_code,
            });
        }
        let client = self.client(&profile).await?;
        // Judged by the server's clock once a reply has told it; until then the server decides.
        if client.clock().is_measured() && claims.is_expired_at(client.clock().now()) {
            return Err(AccountError::invalid(
                "the login token has expired (they last 5 minutes): sign in again",
            ));
        }
        let days = self.state().settings.lifetime_days;
        let options = LoginOptions {
            grant: Grant::RefreshToken {
                valid: Some(u64::from(days) * 86_400),
            },
            payload: payload.filter(|p| !p.is_empty()),
            client_ip: None,
        };
        let login = client.login_verify(&token, &options).await?;
        let key = self.server_key(&profile, &client).await;
        let refresh = HeldToken::new(login.refresh_token, TokenType::Refresh, key.as_ref())?;
        let access = HeldToken::new(login.access_token, TokenType::Access, key.as_ref())?;
        let user = User {
            user_id: login.user_id,
            name: login.name,
            groups: login.groups,
            avatar_url: login.avatar_url,
        };
        log::info!(
            "signed in: user {} on profile {} (login record {})",
            user.user_id,
            profile.id,
            refresh.claims.id
        );
        self.store_refresh_token(&profile, &refresh.value).await;
        self.install_session(&profile, user, refresh, Some(access));
        // Signed in some other way: a browser sign-in still waiting is moot.
        stop_sign_in(&mut self.state());
        self.notify();
        Ok(())
    }

    /// Demo mode only: the demo app's code, for minting a login token as if a seeded user
    /// had signed in in a browser.
    pub fn demo_app_code(&self) -> Result<String, AccountError> {
        let st = self.state();
        let demo = st
            .demo
            .as_ref()
            .ok_or_else(|| AccountError::invalid("not in demo mode"))?;
        if active_id(&st).as_deref() != Some(DEMO_PROFILE_ID) {
            return Err(AccountError::invalid("switch to the demo profile first"));
        }
        Ok(demo.app_code.clone())
    }

    async fn store_refresh_token(&self, profile: &Profile, token: &str) {
        let store = self.store_for(&profile.id);
        let (key, token) = (refresh_token_key(&profile.id), token.to_owned());
        // The session stays usable in memory if storing fails; the error says it won't survive a restart.
        if let Err(err) = self
            .with_store(store, move |store| store.set(&key, &token))
            .await
        {
            self.record_error(&err);
        }
    }

    fn install_session(
        &self,
        profile: &Profile,
        user: User,
        refresh: HeldToken,
        access: Option<HeldToken>,
    ) {
        let lifetime = access.as_ref().and_then(HeldToken::lifetime_secs);
        let cached = CachedUser {
            profile_id: profile.id.clone(),
            user_id: user.user_id,
            name: user.name.clone(),
            groups: user.groups.clone(),
            avatar_url: user.avatar_url.clone(),
        };
        let avatar = self.inner.avatars.cached(&user.avatar_url);
        {
            let mut st = self.state();
            // Someone else signed in on this profile last: say so, it may be a mistake (or a
            // page that raced a login token of its own into the callback).
            let previous_user = st
                .settings
                .cached_user(&profile.id)
                .filter(|c| c.user_id != user.user_id)
                .map(|c| PreviousUserView {
                    user_id: c.user_id,
                    name: c.name.clone(),
                });
            st.session = Some(Session {
                profile_id: profile.id.clone(),
                user,
                avatar,
                refresh,
                access,
                state: SessionState::SignedIn,
                offline: None,
                retry: None,
                previous_user,
            });
            st.stop_timer();
        }
        if profile.id != DEMO_PROFILE_ID {
            let _ = self.update_settings(|s| {
                s.set_cached_user(cached);
                Ok(())
            });
        }
        if let Some(lifetime) = lifetime {
            self.schedule_refresh(self.refresh_delay(lifetime));
        }
        self.spawn_avatar_fetch(profile.server.clone());
        self.notify();
    }

    fn refresh_delay(&self, lifetime_secs: i64) -> Duration {
        let lifetime = Duration::from_secs(lifetime_secs.max(0) as u64);
        lifetime
            .saturating_sub(self.inner.config.refresh_lead)
            .max(Duration::from_secs(1))
    }

    /// Downloads the session user's avatar in the background; "avatar" is busy meanwhile.
    /// A refused or failed download leaves the initials (or the cached image) in place.
    fn spawn_avatar_fetch(&self, server: String) {
        let Some(url) = self
            .state()
            .session
            .as_ref()
            .map(|s| s.user.avatar_url.clone())
        else {
            return;
        };
        if url.is_empty() {
            return;
        }
        let busy = BusyGuard::new(&self.inner, "avatar");
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let Some(service) = upgrade(&weak) else {
                return;
            };
            let fetched = service.inner.avatars.fetch(&url, &server).await;
            match fetched {
                Ok(data) => {
                    if let Some(session) = service
                        .state()
                        .session
                        .as_mut()
                        .filter(|s| s.user.avatar_url == url)
                    {
                        session.avatar = Some(data);
                    }
                }
                // Not worth a banner (initials stand in), but worth a line for whoever
                // debugs it. Avatar URLs are public.
                Err(err) => log::warn!("{err}"),
            }
            drop(busy);
            service.notify();
        });
    }

    /// Restores the active profile's stored session: refresh token from the store, identity
    /// from the cache, then a fresh access token from the server.
    async fn restore(&self) -> Result<(), AccountError> {
        let Ok(profile) = self.active_profile() else {
            return Ok(());
        };
        if self
            .state()
            .session
            .as_ref()
            .is_some_and(|s| s.profile_id == profile.id)
        {
            return Ok(());
        }
        let store = self.store_for(&profile.id);
        let key = refresh_token_key(&profile.id);
        let Some(value) = self.with_store(store, move |store| store.get(&key)).await? else {
            return Ok(());
        };
        let Ok(refresh) = HeldToken::new(value, TokenType::Refresh, None) else {
            return Ok(());
        };
        let cached = self.state().settings.cached_user(&profile.id).cloned();
        let user = match cached {
            Some(c) => User {
                user_id: c.user_id,
                name: c.name,
                groups: c.groups,
                avatar_url: c.avatar_url,
            },
            None => User {
                user_id: refresh.claims.uid,
                name: String::new(),
                groups: Vec::new(),
                avatar_url: String::new(),
            },
        };
        let avatar = self.inner.avatars.cached(&user.avatar_url);
        {
            let mut st = self.state();
            if st.session.is_some() {
                // A sign-in finished while the store was read: it wins.
                return Ok(());
            }
            st.session = Some(Session {
                profile_id: profile.id.clone(),
                user,
                avatar,
                refresh,
                access: None,
                state: SessionState::SignedIn,
                offline: None,
                retry: None,
                previous_user: None,
            });
            st.stop_timer();
        }
        self.notify();
        match self.refresh_access().await {
            Ok(()) => {
                let _ = self.reload_user().await;
            }
            Err(err) if err.is_transient() || err.is_token_invalid() => {}
            Err(err) => self.record_error(&err),
        }
        let client = self.state().clients.get(&profile.id).cloned();
        if let Some(client) = client {
            let key = self.server_key(&profile, &client).await;
            if let Some(session) = self
                .state()
                .session
                .as_mut()
                .filter(|s| s.profile_id == profile.id)
            {
                session.refresh.recheck_signature(key.as_ref());
            }
        }
        self.notify();
        Ok(())
    }

    // ---- token actions ----------------------------------------------------------------------

    /// Gets a new access token. Concurrent callers share one server call: whoever arrives
    /// while a refresh is in flight gets that refresh's outcome.
    pub async fn refresh_access(&self) -> Result<(), AccountError> {
        let generation = self.state().refresh_generation;
        let gate = self.inner.refresh_gate.lock().await;
        {
            let st = self.state();
            if st.refresh_generation != generation {
                return match &st.last_refresh_error {
                    None => Ok(()),
                    Some(err) => Err(err.clone()),
                };
            }
        }
        let result = match self.session_refresh_token() {
            Ok(target) => {
                let result = self.refresh_once(&target).await;
                self.after_refresh(&target, &result).await;
                result
            }
            Err(err) => Err(err),
        };
        {
            let mut st = self.state();
            st.refresh_generation += 1;
            st.last_refresh_error = result.as_ref().err().cloned();
        }
        drop(gate);
        // Only now: whoever sees the outcome and refreshes again gets a refresh of its own.
        self.notify();
        result
    }

    async fn refresh_once(&self, target: &RefreshTarget) -> Result<(), AccountError> {
        let client = self.client(&target.profile).await?;
        let result = client.refresh_access_token(&target.token).await?;
        let key = self.server_key(&target.profile, &client).await;
        let access = HeldToken::new(result.access_token, TokenType::Access, key.as_ref())?;
        let lifetime = access.lifetime_secs();
        let applied = {
            let mut st = self.state();
            let applied = match current_session(&mut st, &target.session) {
                Some(session) => {
                    session.access = Some(access);
                    if key.is_some() {
                        session.refresh.recheck_signature(key.as_ref());
                    }
                    session.refresh.last_check = Some(CheckView {
                        ok: true,
                        at: now_ms(),
                        message: None,
                    });
                    session.state = SessionState::SignedIn;
                    session.offline = None;
                    session.retry = None;
                    true
                }
                // Signed out, switched or signed in anew meanwhile: this answer is stale.
                None => false,
            };
            if applied {
                st.backoff = None;
            }
            applied
        };
        if let (true, Some(lifetime)) = (applied, lifetime) {
            self.schedule_refresh(self.refresh_delay(lifetime));
        }
        Ok(())
    }

    /// What a refresh outcome means for the session: 31 ends it; any other failure keeps it
    /// and tries again with backoff (a rate limit, a clock problem, a keyring that timed out
    /// or a server error may all pass, and giving up would let the access token die unseen).
    /// The caller notifies.
    async fn after_refresh(&self, target: &RefreshTarget, result: &Result<(), AccountError>) {
        let Err(err) = result else {
            return;
        };
        if err.is_token_invalid() {
            self.mark_expired(&target.session, err).await;
            return;
        }
        if err.is_unauthorized() {
            // The app secret may have been corrected meanwhile: the retry reads it again.
            self.state().clients.remove(&target.profile.id);
        }
        self.retry_later(&target.session, err);
    }

    /// Keeps the session and schedules the next attempt, 2 s doubling up to a minute. A
    /// transient failure also shows the session offline; any other leaves it signed in (the
    /// server answered, or the trouble is on this machine) with the error in `retry`.
    fn retry_later(&self, which: &SessionId, err: &AccountError) {
        let due_at = {
            let mut st = self.state();
            let message = messages::explain(err, &self.locale_of(&st.settings));
            let delay = st
                .backoff
                .map(|d| (d * 2).min(BACKOFF_MAX))
                .unwrap_or(BACKOFF_START);
            let Some(session) = current_session(&mut st, which) else {
                return;
            };
            // Another call found the refresh token dead meanwhile: nothing is worth retrying.
            if session.state == SessionState::Expired {
                return;
            }
            let now = now_ms();
            let next_retry_at = now + delay.as_millis() as i64;
            if err.is_transient() {
                let since = session.offline.as_ref().map_or(now, |o| o.since);
                session.state = SessionState::Offline;
                session.offline = Some(OfflineView {
                    since,
                    next_retry_at,
                    message: message.clone(),
                });
            } else {
                session.state = SessionState::SignedIn;
                session.offline = None;
            }
            let previous = session.retry.as_ref();
            session.retry = Some(RetryView {
                since: previous.map_or(now, |r| r.since),
                next_retry_at,
                attempts: previous.map_or(0, |r| r.attempts) + 1,
                code: err.code().to_owned(),
                message,
            });
            st.backoff = Some(delay);
            next_retry_at
        };
        // The timer's due time is the one shown as `nextRetryAt`, not one computed a moment later.
        self.schedule_refresh_at(due_at);
    }

    /// Code 31: the refresh token is dead. The session shows as expired, nothing retries it,
    /// and the stored copy goes so that the next start does not try it again.
    async fn mark_expired(&self, which: &SessionId, err: &AccountError) {
        let profile_id = {
            let mut st = self.state();
            let message = messages::explain(err, &self.locale_of(&st.settings));
            let Some(session) = current_session(&mut st, which) else {
                return;
            };
            session.state = SessionState::Expired;
            session.offline = None;
            session.retry = None;
            session.access = None;
            session.refresh.last_check = Some(CheckView {
                ok: false,
                at: now_ms(),
                message: Some(message),
            });
            let profile_id = session.profile_id.clone();
            log::info!(
                "session of user {} on profile {profile_id} ended: {}",
                session.user.user_id,
                err.code()
            );
            st.stop_timer();
            profile_id
        };
        self.notify();
        let store = self.store_for(&profile_id);
        let key = refresh_token_key(&profile_id);
        if let Err(err) = self
            .with_store(store, move |store| store.delete(&key))
            .await
        {
            self.record_error(&err);
        }
    }

    fn session_refresh_token(&self) -> Result<RefreshTarget, AccountError> {
        let profile = self.active_profile()?;
        let st = self.state();
        let session = st
            .session
            .as_ref()
            .filter(|s| s.profile_id == profile.id && s.state != SessionState::Expired)
            .ok_or(AccountError::NoSession)?;
        Ok(RefreshTarget {
            session: SessionId::of(session),
            token: session.refresh.value.clone(),
            profile,
        })
    }

    fn session_access_token(&self) -> Result<(Profile, String), AccountError> {
        let profile = self.active_profile()?;
        let st = self.state();
        let session = st.session.as_ref().ok_or(AccountError::NoSession)?;
        let access = session.access.as_ref().ok_or(AccountError::NoSession)?;
        Ok((profile, access.value.clone()))
    }

    /// Whether an action that needs the access token should refresh first: there is none, or
    /// a failed refresh waits for its retry (the action then doubles as the manual retry).
    fn needs_refresh_first(&self) -> bool {
        self.state().session.as_ref().is_some_and(|s| {
            s.access.is_none() || s.state == SessionState::Offline || s.retry.is_some()
        })
    }

    /// Asks the server whether the access token is valid (a round trip, unlike the local check).
    /// An access token the server calls invalid (code 31: revoked, or expired by the server's
    /// clock) is replaced by one refresh, shared with any other in flight, and checked again:
    /// the session is fine as long as that works, and expired when the refresh says 31 too.
    pub async fn verify_access(&self) -> Result<(), AccountError> {
        if self.needs_refresh_first() {
            self.refresh_access().await?;
        }
        match self.verify_once().await {
            Err(err) if err.is_token_invalid() => {
                self.refresh_after_31(err).await?;
                self.verify_once().await
            }
            other => other,
        }
    }

    async fn verify_once(&self) -> Result<(), AccountError> {
        let (profile, access) = self.session_access_token()?;
        let client = self.client(&profile).await?;
        let result = client.verify_access_token(&access).await;
        let check = match &result {
            Ok(info) => CheckView {
                ok: true,
                at: now_ms(),
                message: Some(format!("uid {}", info.uid)),
            },
            Err(err) => CheckView {
                ok: false,
                at: now_ms(),
                message: Some(messages::explain(
                    &AccountError::GeniusAuth(err.clone()),
                    &self.locale_of(&self.state().settings),
                )),
            },
        };
        if let Some(token) = self
            .state()
            .session
            .as_mut()
            .and_then(|s| s.access.as_mut())
            .filter(|t| t.value == access)
        {
            token.last_check = Some(check);
        }
        self.notify();
        result.map(|_| ()).map_err(Into::into)
    }

    /// Fetches the user's current name, groups and avatar. Code 31 is handled like in
    /// [`AccountService::verify_access`]: one refresh, then once more.
    pub async fn reload_user(&self) -> Result<(), AccountError> {
        if self.needs_refresh_first() {
            self.refresh_access().await?;
        }
        let (profile, info) = match self.user_info_once().await {
            Err(err) if err.is_token_invalid() => {
                self.refresh_after_31(err).await?;
                self.user_info_once().await?
            }
            other => other?,
        };
        let user = User {
            user_id: info.user_id,
            name: info.name,
            groups: info.groups,
            avatar_url: info.avatar_url,
        };
        let cached = CachedUser {
            profile_id: profile.id.clone(),
            user_id: user.user_id,
            name: user.name.clone(),
            groups: user.groups.clone(),
            avatar_url: user.avatar_url.clone(),
        };
        if let Some(session) = self
            .state()
            .session
            .as_mut()
            .filter(|s| s.profile_id == profile.id)
        {
            if session.user.avatar_url != user.avatar_url {
                session.avatar = self.inner.avatars.cached(&user.avatar_url);
            }
            session.user = user;
        }
        if profile.id != DEMO_PROFILE_ID {
            self.update_settings(|s| {
                s.set_cached_user(cached);
                Ok(())
            })?;
        }
        self.spawn_avatar_fetch(profile.server.clone());
        self.notify();
        Ok(())
    }

    /// The refresh that follows a code 31 on an access-token call. When another caller's
    /// refresh has meanwhile found the session dead, this caller's answer is that same 31.
    async fn refresh_after_31(&self, access_refused: AccountError) -> Result<(), AccountError> {
        match self.refresh_access().await {
            Err(AccountError::NoSession) if self.session_expired() => Err(access_refused),
            other => other,
        }
    }

    fn session_expired(&self) -> bool {
        self.state()
            .session
            .as_ref()
            .is_some_and(|s| s.state == SessionState::Expired)
    }

    async fn user_info_once(&self) -> Result<(Profile, geniusauth::model::UserInfo), AccountError> {
        let (profile, access) = self.session_access_token()?;
        let client = self.client(&profile).await?;
        let info = client.user_info(&access).await?;
        Ok((profile, info))
    }

    /// Replaces the refresh token's payload; the new refresh token replaces the stored one.
    /// Code 31 means the refresh token is dead: the session expires, as after a refresh.
    pub async fn edit_payload(
        &self,
        payload: String,
        new_access: bool,
    ) -> Result<(), AccountError> {
        if payload.is_empty() {
            return Err(AccountError::invalid("the payload must not be empty"));
        }
        check_payload(Some(&payload))?;
        let target = self.session_refresh_token()?;
        let profile = &target.profile;
        let client = self.client(profile).await?;
        let update = match client
            .edit_payload(&target.token, &payload, new_access)
            .await
        {
            Ok(update) => update,
            Err(err) => {
                let err = AccountError::from(err);
                if err.is_token_invalid() {
                    self.mark_expired(&target.session, &err).await;
                }
                return Err(err);
            }
        };
        let key = self.server_key(profile, &client).await;
        let mut new_refresh =
            HeldToken::new(update.refresh_token, TokenType::Refresh, key.as_ref())?;
        // Same login record, and the server has just accepted the old token: that is a
        // server verification of the record, not a reason to forget the last one.
        new_refresh.last_check = Some(CheckView {
            ok: true,
            at: now_ms(),
            message: None,
        });
        let new_access_token = update
            .access_token
            .map(|a| HeldToken::new(a, TokenType::Access, key.as_ref()))
            .transpose()?;
        let lifetime = new_access_token.as_ref().and_then(HeldToken::lifetime_secs);
        let new_value = new_refresh.value.clone();
        let applied = {
            let mut st = self.state();
            let applied = match current_session(&mut st, &target.session) {
                Some(session) => {
                    session.refresh = new_refresh;
                    // The server answered: not offline. A pending retry stays unless a new
                    // access token makes it moot.
                    session.offline = None;
                    if session.state == SessionState::Offline {
                        session.state = SessionState::SignedIn;
                    }
                    if let Some(access) = new_access_token {
                        session.access = Some(access);
                        session.retry = None;
                    }
                    true
                }
                None => false,
            };
            if applied && lifetime.is_some() {
                st.backoff = None;
            }
            applied
        };
        if !applied {
            return Err(AccountError::NoSession);
        }
        self.store_refresh_token(profile, &new_value).await;
        if let Some(lifetime) = lifetime {
            self.schedule_refresh(self.refresh_delay(lifetime));
        }
        self.notify();
        Ok(())
    }

    /// The access token itself (Rust callers only: no command replies with it).
    pub fn access_token(&self) -> Result<String, AccountError> {
        self.session_access_token().map(|(_, token)| token)
    }

    /// Puts the access token on the system clipboard, out of clipboard history, and clears it
    /// after `clipboard_clear_after` if the clipboard still holds it. Returns that delay.
    pub fn copy_access_token(&self) -> Result<Duration, AccountError> {
        let token = self.access_token()?;
        self.inner
            .clipboard
            .copy_secret(token)
            .map_err(|e| AccountError::Clipboard(e.0))
    }

    /// Revokes the refresh token on the server (and so every access token from it), then
    /// forgets it. A token the server already considers invalid counts as revoked.
    pub async fn revoke_session(&self) -> Result<(), AccountError> {
        let profile = self.active_profile()?;
        let refresh = self
            .state()
            .session
            .as_ref()
            .filter(|s| s.profile_id == profile.id)
            .map(|s| s.refresh.value.clone())
            .ok_or(AccountError::NoSession)?;
        let client = self.client(&profile).await?;
        match client.revoke_refresh_token(&refresh).await {
            Ok(()) => {}
            Err(err) if err.is_token_invalid() => {}
            Err(err) => return Err(err.into()),
        }
        self.forget_session().await
    }

    /// Forgets the session on this device only; the token stays valid on the server.
    /// The session goes from memory even when the stored copy cannot be deleted (the error
    /// then says so).
    pub async fn forget_session(&self) -> Result<(), AccountError> {
        let profile_id = self
            .state()
            .session
            .as_ref()
            .map(|s| s.profile_id.clone())
            .ok_or(AccountError::NoSession)?;
        self.clear_session();
        self.notify();
        let store = self.store_for(&profile_id);
        let key = refresh_token_key(&profile_id);
        self.with_store(store, move |store| store.delete(&key))
            .await
    }

    fn clear_session(&self) {
        let mut st = self.state();
        st.session = None;
        st.stop_timer();
    }

    // ---- scheduling ----------------------------------------------------------------------

    /// One timer: fires once, `delay` from now, and refreshes (no polling). A new timer
    /// replaces the pending one.
    fn schedule_refresh(&self, delay: Duration) {
        self.schedule_refresh_at(now_ms() + delay.as_millis() as i64);
    }

    /// [`Self::schedule_refresh`] for a due time in Unix milliseconds.
    fn schedule_refresh_at(&self, due_at: i64) {
        let delay = Duration::from_millis(due_at.saturating_sub(now_ms()).max(0) as u64);
        let weak = Arc::downgrade(&self.inner);
        // Held while spawning: the timer cannot look for its own entry before it is there.
        let mut st = self.state();
        if st.session.is_none() {
            return;
        }
        st.next_timer_id += 1;
        let id = st.next_timer_id;
        let task = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let Some(service) = upgrade(&weak) else {
                return;
            };
            {
                let mut st = service.state();
                if st.scheduled.as_ref().is_none_or(|timer| timer.id != id) {
                    // Replaced while firing: the newer timer is in charge.
                    return;
                }
                st.scheduled = None;
            }
            service.automatic_refresh().await;
        });
        let timer = Timer { id, due_at, task };
        if let Some(old) = st.scheduled.replace(timer) {
            old.task.abort();
        }
    }

    /// A refresh nobody awaits (the timer, the wake check). Whatever fails, `after_refresh`
    /// has kept the session and scheduled the retry; offline shows in the session and "not
    /// signed in" is no failure, anything else goes to the banner.
    async fn automatic_refresh(&self) {
        if let Err(err) = self.refresh_access().await {
            // The first failure of a streak goes to the banner; the retries after it show in
            // `session.retry`, so a banner the user dismissed stays dismissed.
            let retried_before = self
                .state()
                .session
                .as_ref()
                .and_then(|s| s.retry.as_ref())
                .is_some_and(|r| r.attempts > 1);
            if !err.is_transient()
                && !retried_before
                && !matches!(err, AccountError::NoSession | AccountError::NoProfile)
            {
                self.record_error(&err);
                self.notify();
            }
        }
    }

    /// Timers do not run while the machine sleeps: when the wall clock jumps ahead of the
    /// monotonic clock, the machine was asleep, so check the session at once.
    fn spawn_wake_detector(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut wall = SystemTime::now();
            let mut mono = Instant::now();
            loop {
                tokio::time::sleep(WAKE_CHECK_EVERY).await;
                let Some(service) = upgrade(&weak) else {
                    return;
                };
                let wall_elapsed = SystemTime::now().duration_since(wall).unwrap_or_default();
                let slept = wall_elapsed.saturating_sub(mono.elapsed()) > Duration::from_secs(10);
                wall = SystemTime::now();
                mono = Instant::now();
                let live = service
                    .state()
                    .session
                    .as_ref()
                    .is_some_and(|s| s.state != SessionState::Expired);
                if slept && live {
                    service.automatic_refresh().await;
                }
            }
        });
    }

    /// Whether a refresh timer is pending (for tests and diagnostics).
    pub fn refresh_scheduled(&self) -> bool {
        self.state()
            .scheduled
            .as_ref()
            .is_some_and(|timer| !timer.task.is_finished())
    }

    // ---- errors and busy flags -------------------------------------------------------------

    /// Runs a user action: marks it busy, records its error for the banner, notifies.
    pub async fn run<T>(
        &self,
        action: &'static str,
        work: impl std::future::Future<Output = Result<T, AccountError>>,
    ) -> Result<T, AccountError> {
        let busy = BusyGuard::new(&self.inner, action);
        if action != "verify" {
            // A new action supersedes the last failure; what goes wrong during it is kept
            // (e.g. a sign-in that worked but could not store its token).
            self.state().error = None;
        }
        self.notify();
        let result = work.await;
        drop(busy);
        if let Err(err) = &result {
            self.record_error(err);
        }
        self.notify();
        result
    }

    fn record_error(&self, err: &AccountError) {
        let mut st = self.state();
        let mut reply = err.to_reply();
        reply.message = messages::explain(err, &self.locale_of(&st.settings));
        st.error = Some(ErrorView {
            reply,
            at: now_ms(),
        });
    }

    /// The UI's language: "zh-CN" or "en" (the preference, or the OS locale for "system").
    pub fn locale(&self) -> String {
        self.locale_of(&self.state().settings)
    }

    /// Localised reply for a failed command.
    pub fn reply_for(&self, err: &AccountError) -> ErrorReply {
        let mut reply = err.to_reply();
        reply.message = messages::explain(err, &self.locale());
        reply
    }

    pub fn dismiss_error(&self) {
        self.state().error = None;
        self.notify();
    }
}

/// Which session a call was made for: the profile and the login record. A payload edit
/// keeps the record (the new refresh token has the same id); a new sign-in makes a new one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SessionId {
    profile_id: String,
    record_id: u64,
}

impl SessionId {
    fn of(session: &Session) -> Self {
        SessionId {
            profile_id: session.profile_id.clone(),
            record_id: session.refresh.claims.id,
        }
    }
}

/// The session a call was made for, if it is still the current one.
fn current_session<'a>(st: &'a mut State, which: &SessionId) -> Option<&'a mut Session> {
    st.session.as_mut().filter(|s| SessionId::of(s) == *which)
}

struct RefreshTarget {
    profile: Profile,
    session: SessionId,
    token: String,
}

/// Keeps an action in `busy` while it runs, even if its future is dropped half-way.
struct BusyGuard {
    inner: Arc<Inner>,
    action: &'static str,
}

impl BusyGuard {
    fn new(inner: &Arc<Inner>, action: &'static str) -> Self {
        *lock(&inner.state).busy.entry(action).or_insert(0) += 1;
        BusyGuard {
            inner: inner.clone(),
            action,
        }
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        let mut st = lock(&self.inner.state);
        if let Some(n) = st.busy.get_mut(self.action) {
            *n -= 1;
            if *n == 0 {
                st.busy.remove(self.action);
            }
        }
    }
}

/// Aborts the pending browser sign-in, if any, and keeps its task until it is known to be
/// gone (it owns the listening socket).
fn stop_sign_in(st: &mut State) {
    st.stopping_sign_ins.retain(|task| !task.is_finished());
    if let Some(pending) = st.sign_in.take() {
        pending.task.abort();
        st.stopping_sign_ins.push(pending.task);
    }
}

/// The active profile's id: the demo while it is active, otherwise the persisted choice.
fn active_id(st: &State) -> Option<String> {
    if st.demo_active && st.demo.is_some() {
        Some(DEMO_PROFILE_ID.into())
    } else {
        st.settings.active_profile_id.clone()
    }
}

fn demo_profile(demo: &Demo) -> Profile {
    Profile {
        id: DEMO_PROFILE_ID.into(),
        name: "Demo".into(),
        server: demo.server.clone(),
        app_code: demo.app_code.clone(),
        callback: demo.callback.clone(),
        demo: true,
    }
}

fn check_payload(payload: Option<&str>) -> Result<(), AccountError> {
    match payload {
        Some(p) if p.chars().count() > geniusauth::model::MAX_PAYLOAD_CHARS => {
            Err(AccountError::invalid(format!(
                "the payload has {} characters; at most 32 are allowed",
                p.chars().count()
            )))
        }
        _ => Ok(()),
    }
}

fn id_number(id: &str) -> u32 {
    id.trim_start_matches('p').parse().unwrap_or(0)
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
