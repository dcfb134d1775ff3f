//! The account service: owns profiles, secrets, the session and its token lifecycle, and tells
//! its listener (the app's window) about every change with a fresh [`Snapshot`].

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use geniusauth::tokens::{self, TokenType};
use geniusauth::{Client, Grant, LoginOptions};
use tokio::task::JoinHandle;

use crate::avatar::AvatarCache;
use crate::callback::{CallbackListener, SIGN_IN_TIMEOUT};
use crate::error::{AccountError, ErrorReply};
use crate::messages;
use crate::profile::{Profile, ProfileInput};
use crate::secret_store::{
    app_secret_key, refresh_token_key, Backend, FileStore, KeyringStore, MemoryStore, SecretStore,
};
use crate::session::{HeldToken, Session, User};
use crate::settings::{CachedUser, Settings, SettingsStore};
use crate::snapshot::*;

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
}

impl ServiceConfig {
    pub fn new(data_dir: PathBuf, cache_dir: PathBuf, system_locale: String) -> Self {
        ServiceConfig {
            data_dir,
            cache_dir,
            keyring_service: "club.ncuhome.genius-account".into(),
            system_locale,
            refresh_lead: DEFAULT_REFRESH_LEAD,
            request_timeout: None,
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
    state: Mutex<State>,
    /// Held while a refresh call is in flight: concurrent refreshes share one server call.
    refresh_gate: tokio::sync::Mutex<()>,
    listener: Mutex<Option<Listener>>,
}

#[derive(Default)]
struct State {
    settings: Settings,
    keyring_problem: Option<String>,
    demo: Option<Demo>,
    clients: HashMap<String, Client>,
    server_keys: HashMap<String, ed25519_dalek::VerifyingKey>,
    session: Option<Session>,
    busy: BTreeSet<&'static str>,
    error: Option<ErrorView>,
    sign_in: Option<PendingSignIn>,
    /// Bumped by every completed refresh call; waiters compare it to know theirs was served.
    refresh_generation: u64,
    last_refresh_error: Option<ErrorReply>,
    scheduled: Option<JoinHandle<()>>,
    backoff: Option<Duration>,
}

struct PendingSignIn {
    view: SignInView,
    task: JoinHandle<()>,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl AccountService {
    /// Loads settings and probes the keyring. Call [`AccountService::start`] once a runtime runs.
    pub fn new(config: ServiceConfig, settings_store: Box<dyn SettingsStore>) -> Self {
        let keyring: Arc<dyn SecretStore> =
            Arc::new(KeyringStore::new(config.keyring_service.clone()));
        Self::with_keyring(config, settings_store, keyring)
    }

    /// Like [`AccountService::new`] with a given keyring (tests pass a keyring with a short
    /// timeout, or one that is known to be missing).
    pub fn with_keyring(
        config: ServiceConfig,
        settings_store: Box<dyn SettingsStore>,
        keyring: Arc<dyn SecretStore>,
    ) -> Self {
        let settings = settings_store.load();
        let keyring_problem = keyring
            .get("probe:availability")
            .err()
            .map(|e| e.to_string());
        let file_store: Arc<dyn SecretStore> =
            Arc::new(FileStore::new(config.data_dir.join("secrets.json")));
        let avatars = AvatarCache::new(config.cache_dir.join("avatars"));
        let inner = Inner {
            config,
            settings_store,
            keyring,
            file_store,
            demo_store: Arc::new(MemoryStore::default()),
            avatars,
            state: Mutex::new(State {
                settings,
                keyring_problem,
                ..State::default()
            }),
            refresh_gate: tokio::sync::Mutex::new(()),
            listener: Mutex::new(None),
        };
        AccountService {
            inner: Arc::new(inner),
        }
    }

    /// Called with a fresh snapshot after every change.
    pub fn set_listener(&self, listener: impl Fn(Snapshot) + Send + Sync + 'static) {
        *lock(&self.inner.listener) = Some(Box::new(listener));
    }

    /// Restores the stored session of the active profile and starts the sleep detector.
    pub async fn start(&self) {
        self.spawn_wake_detector();
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
        let mut profiles: Vec<ProfileView> = settings
            .profiles
            .iter()
            .map(|p| ProfileView::new(p, true))
            .collect();
        if let Some(demo) = &st.demo {
            profiles.push(ProfileView::new(&demo_profile(demo), true));
        }
        let demo_active = settings.active_profile_id.as_deref() == Some(DEMO_PROFILE_ID);
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
            refresh: Some(s.refresh.view(now)),
            access: s.access.as_ref().map(|a| a.view(now)),
            offline: s.offline.clone(),
        });
        Snapshot {
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
            active_profile_id: settings.active_profile_id.clone(),
            storage,
            sign_in: st.sign_in.as_ref().map(|p| p.view.clone()),
            session,
            busy: st.busy.iter().copied().collect(),
            error: st.error.clone(),
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
        if let Some(secret) = &input.app_secret {
            let store = self.store_for(&id);
            let secret = secret.trim().to_owned();
            let key = app_secret_key(&id);
            blocking(move || store.set(&key, &secret)).await?;
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
        let store = self.store_for(id);
        let (a, r) = (app_secret_key(id), refresh_token_key(id));
        // Best effort: a missing keyring must not keep a profile from being deleted.
        let _ = blocking(move || store.delete(&a).and_then(|()| store.delete(&r))).await;
        if self
            .state()
            .session
            .as_ref()
            .is_some_and(|s| s.profile_id == id)
        {
            self.clear_session();
        }
        self.update_settings(|s| {
            s.profiles.retain(|p| p.id != id);
            s.cached_users.retain(|u| u.profile_id != id);
            if s.active_profile_id.as_deref() == Some(id) {
                s.active_profile_id = s.profiles.first().map(|p| p.id.clone());
            }
            Ok(())
        })?;
        self.restore().await
    }

    pub async fn switch_profile(&self, id: &str) -> Result<(), AccountError> {
        if self.profile(id).is_none() {
            return Err(AccountError::NoProfile);
        }
        self.cancel_sign_in();
        self.clear_session();
        if id == DEMO_PROFILE_ID {
            // Not persisted: next start the last real profile is active again.
            let mut st = self.state();
            st.settings.active_profile_id = Some(DEMO_PROFILE_ID.into());
        } else {
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
        self.state().demo = Some(demo);
        self.inner
            .demo_store
            .set(&app_secret_key(DEMO_PROFILE_ID), &secret)?;
        self.switch_profile(DEMO_PROFILE_ID).await
    }

    pub fn is_demo(&self) -> bool {
        self.state().demo.is_some()
    }

    pub async fn use_file_store(&self, enabled: bool) -> Result<(), AccountError> {
        self.update_settings(|s| {
            s.file_store_opt_in = enabled;
            Ok(())
        })?;
        self.state().clients.clear();
        self.restore().await
    }

    fn profile(&self, id: &str) -> Option<Profile> {
        let st = self.state();
        if id == DEMO_PROFILE_ID {
            return st.demo.as_ref().map(demo_profile);
        }
        st.settings.profiles.iter().find(|p| p.id == id).cloned()
    }

    fn active_profile(&self) -> Result<Profile, AccountError> {
        let id = self
            .state()
            .settings
            .active_profile_id
            .clone()
            .ok_or(AccountError::NoProfile)?;
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

    async fn client(&self, profile: &Profile) -> Result<Client, AccountError> {
        if let Some(client) = self.state().clients.get(&profile.id) {
            return Ok(client.clone());
        }
        let store = self.store_for(&profile.id);
        let key = app_secret_key(&profile.id);
        let secret = blocking(move || store.get(&key)).await?.ok_or_else(|| {
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

    /// Starts listening on the profile's callback and returns the URL to open in the browser.
    pub async fn sign_in_browser(&self, payload: Option<String>) -> Result<String, AccountError> {
        let profile = self.active_profile()?;
        check_payload(payload.as_deref())?;
        self.client(&profile).await?;
        self.cancel_sign_in();
        let listener = CallbackListener::bind(&profile.callback).await?;
        let url = format!(
            "{}/?appCode={}",
            profile.server.trim_end_matches('/'),
            profile.app_code
        );
        let weak = Arc::downgrade(&self.inner);
        let task = tokio::spawn(async move {
            let result = listener.wait_for_token(SIGN_IN_TIMEOUT).await;
            let Some(service) = upgrade(&weak) else {
                return;
            };
            service.state().sign_in = None;
            let result = match result {
                Ok(token) => {
                    service
                        .run("signin", service.sign_in_with_token(token, payload))
                        .await
                }
                Err(err) => {
                    service.record_error(&err);
                    Err(err)
                }
            };
            let _ = result;
            service.notify();
        });
        let view = SignInView {
            method: "browser",
            url: url.clone(),
            expires_at: now_ms() + SIGN_IN_TIMEOUT.as_millis() as i64,
        };
        self.state().sign_in = Some(PendingSignIn { view, task });
        self.notify();
        Ok(url)
    }

    pub fn cancel_sign_in(&self) {
        if let Some(pending) = self.state().sign_in.take() {
            pending.task.abort();
        }
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
        if claims.is_expired() {
            return Err(AccountError::invalid(
                "the login token has expired (they last 5 minutes): sign in again",
            ));
        }
        let client = self.client(&profile).await?;
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
        self.store_refresh_token(&profile, &refresh.value).await;
        self.install_session(&profile, user, refresh, Some(access));
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
        if st.settings.active_profile_id.as_deref() != Some(DEMO_PROFILE_ID) {
            return Err(AccountError::invalid("switch to the demo profile first"));
        }
        Ok(demo.app_code.clone())
    }

    async fn store_refresh_token(&self, profile: &Profile, token: &str) {
        let store = self.store_for(&profile.id);
        let (key, token) = (refresh_token_key(&profile.id), token.to_owned());
        // The session stays usable in memory if storing fails; the error says it won't survive a restart.
        if let Err(err) = blocking(move || store.set(&key, &token)).await {
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
            st.session = Some(Session {
                profile_id: profile.id.clone(),
                user,
                avatar,
                refresh,
                access,
                state: SessionState::SignedIn,
                offline: None,
            });
            st.error = None;
            st.backoff = None;
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
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let Some(service) = upgrade(&weak) else {
                return;
            };
            if let Ok(data) = service.inner.avatars.fetch(&url, &server).await {
                if let Some(session) = service
                    .state()
                    .session
                    .as_mut()
                    .filter(|s| s.user.avatar_url == url)
                {
                    session.avatar = Some(data);
                }
                service.notify();
            }
        });
    }

    /// Restores the active profile's stored session: refresh token from the store, identity
    /// from the cache, then a fresh access token from the server.
    async fn restore(&self) -> Result<(), AccountError> {
        let Ok(profile) = self.active_profile() else {
            return Ok(());
        };
        let store = self.store_for(&profile.id);
        let key = refresh_token_key(&profile.id);
        let Some(value) = blocking(move || store.get(&key)).await? else {
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
        self.state().session = Some(Session {
            profile_id: profile.id.clone(),
            user,
            avatar,
            refresh,
            access: None,
            state: SessionState::SignedIn,
            offline: None,
        });
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
            if let Some(session) = self.state().session.as_mut() {
                session.refresh.recheck_signature(key.as_ref());
            }
        }
        self.notify();
        Ok(())
    }

    // ---- token actions ----------------------------------------------------------------------

    /// Gets a new access token. Concurrent callers share one server call.
    pub async fn refresh_access(&self) -> Result<(), AccountError> {
        let generation = self.state().refresh_generation;
        let _gate = self.inner.refresh_gate.lock().await;
        {
            let st = self.state();
            if st.refresh_generation != generation {
                return match &st.last_refresh_error {
                    None => Ok(()),
                    Some(reply) => Err(AccountError::Shared(reply.clone())),
                };
            }
        }
        let result = self.refresh_once().await;
        let mut st = self.state();
        st.refresh_generation += 1;
        st.last_refresh_error = result.as_ref().err().map(AccountError::to_reply);
        drop(st);
        self.after_refresh(&result);
        result
    }

    async fn refresh_once(&self) -> Result<(), AccountError> {
        let (profile, refresh) = self.session_refresh_token()?;
        let client = self.client(&profile).await?;
        let result = client.refresh_access_token(&refresh).await?;
        let key = self.server_key(&profile, &client).await;
        let access = HeldToken::new(result.access_token, TokenType::Access, key.as_ref())?;
        let lifetime = access.lifetime_secs();
        if let Some(session) = self.state().session.as_mut() {
            session.access = Some(access);
            session.refresh.recheck_signature(key.as_ref());
            session.refresh.last_check = Some(CheckView {
                ok: true,
                at: now_ms(),
                message: None,
            });
            session.state = SessionState::SignedIn;
            session.offline = None;
        }
        self.state().backoff = None;
        if let Some(lifetime) = lifetime {
            self.schedule_refresh(self.refresh_delay(lifetime));
        }
        Ok(())
    }

    /// What a refresh outcome means for the session: 31 ends it, a transient failure keeps it
    /// (offline, retried with backoff), anything else is just an error.
    fn after_refresh(&self, result: &Result<(), AccountError>) {
        let Err(err) = result else {
            self.notify();
            return;
        };
        if err.is_token_invalid() {
            self.mark_expired();
        } else if err.is_transient() {
            let delay = {
                let mut st = self.state();
                let delay = st
                    .backoff
                    .map(|d| (d * 2).min(BACKOFF_MAX))
                    .unwrap_or(BACKOFF_START);
                st.backoff = Some(delay);
                let message = messages::explain(err, &self.locale_of(&st.settings));
                if let Some(session) = st.session.as_mut() {
                    let since = session
                        .offline
                        .as_ref()
                        .map(|o| o.since)
                        .unwrap_or_else(now_ms);
                    session.state = SessionState::Offline;
                    session.offline = Some(OfflineView {
                        since,
                        next_retry_at: now_ms() + delay.as_millis() as i64,
                        message,
                    });
                }
                delay
            };
            self.schedule_refresh(delay);
        }
        self.notify();
    }

    fn mark_expired(&self) {
        let profile_id = {
            let mut st = self.state();
            if let Some(t) = st.scheduled.take() {
                t.abort();
            }
            let Some(session) = st.session.as_mut() else {
                return;
            };
            session.state = SessionState::Expired;
            session.offline = None;
            session.access = None;
            session.refresh.last_check = Some(CheckView {
                ok: false,
                at: now_ms(),
                message: Some("31".into()),
            });
            session.profile_id.clone()
        };
        // A revoked or expired refresh token is useless: do not try it again at next start.
        let store = self.store_for(&profile_id);
        let key = refresh_token_key(&profile_id);
        tokio::task::spawn_blocking(move || store.delete(&key));
        self.notify();
    }

    fn session_refresh_token(&self) -> Result<(Profile, String), AccountError> {
        let profile = self.active_profile()?;
        let st = self.state();
        let session = st
            .session
            .as_ref()
            .filter(|s| s.state != SessionState::Expired)
            .ok_or(AccountError::NoSession)?;
        Ok((profile, session.refresh.value.clone()))
    }

    fn session_access_token(&self) -> Result<(Profile, String), AccountError> {
        let profile = self.active_profile()?;
        let st = self.state();
        let session = st.session.as_ref().ok_or(AccountError::NoSession)?;
        let access = session.access.as_ref().ok_or(AccountError::NoSession)?;
        Ok((profile, access.value.clone()))
    }

    /// Asks the server whether the access token is valid (a round trip, unlike the local check).
    pub async fn verify_access(&self) -> Result<(), AccountError> {
        if self.session_access_token().is_err() {
            self.refresh_access().await?;
        }
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
                message: Some(err.to_string()),
            },
        };
        if let Some(token) = self
            .state()
            .session
            .as_mut()
            .and_then(|s| s.access.as_mut())
        {
            token.last_check = Some(check);
        }
        self.notify();
        match result {
            // The access token died (revoked or expired early): a refresh tells whether the session did.
            Err(err) if err.is_token_invalid() => {
                self.refresh_access().await?;
                Err(err.into())
            }
            other => other.map(|_| ()).map_err(Into::into),
        }
    }

    pub async fn reload_user(&self) -> Result<(), AccountError> {
        if self.session_access_token().is_err() {
            self.refresh_access().await?;
        }
        let (profile, access) = self.session_access_token()?;
        let client = self.client(&profile).await?;
        let info = client.user_info(&access).await?;
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
        if let Some(session) = self.state().session.as_mut() {
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

    /// Replaces the refresh token's payload; the new refresh token replaces the stored one.
    pub async fn edit_payload(
        &self,
        payload: String,
        new_access: bool,
    ) -> Result<(), AccountError> {
        if payload.is_empty() {
            return Err(AccountError::invalid("the payload must not be empty"));
        }
        check_payload(Some(&payload))?;
        let (profile, refresh) = self.session_refresh_token()?;
        let client = self.client(&profile).await?;
        let update = client.edit_payload(&refresh, &payload, new_access).await?;
        let key = self.server_key(&profile, &client).await;
        let new_refresh = HeldToken::new(update.refresh_token, TokenType::Refresh, key.as_ref())?;
        let new_access_token = update
            .access_token
            .map(|a| HeldToken::new(a, TokenType::Access, key.as_ref()))
            .transpose()?;
        self.store_refresh_token(&profile, &new_refresh.value).await;
        let lifetime = new_access_token.as_ref().and_then(HeldToken::lifetime_secs);
        if let Some(session) = self.state().session.as_mut() {
            session.refresh = new_refresh;
            if let Some(access) = new_access_token {
                session.access = Some(access);
            }
        }
        if let Some(lifetime) = lifetime {
            self.schedule_refresh(self.refresh_delay(lifetime));
        }
        self.notify();
        Ok(())
    }

    /// The access token itself, for the clipboard.
    pub fn access_token(&self) -> Result<String, AccountError> {
        self.session_access_token().map(|(_, token)| token)
    }

    /// Revokes the refresh token on the server (and so every access token from it), then
    /// forgets it. A token the server already considers invalid counts as revoked.
    pub async fn revoke_session(&self) -> Result<(), AccountError> {
        let profile = self.active_profile()?;
        let refresh = self
            .state()
            .session
            .as_ref()
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
    pub async fn forget_session(&self) -> Result<(), AccountError> {
        let profile_id = self
            .state()
            .session
            .as_ref()
            .map(|s| s.profile_id.clone())
            .ok_or(AccountError::NoSession)?;
        let store = self.store_for(&profile_id);
        let key = refresh_token_key(&profile_id);
        blocking(move || store.delete(&key)).await?;
        self.clear_session();
        self.notify();
        Ok(())
    }

    fn clear_session(&self) {
        let mut st = self.state();
        st.session = None;
        st.backoff = None;
        if let Some(t) = st.scheduled.take() {
            t.abort();
        }
    }

    // ---- scheduling ----------------------------------------------------------------------

    /// One timer: fires once, `delay` from now, and refreshes (no polling).
    fn schedule_refresh(&self, delay: Duration) {
        let weak = Arc::downgrade(&self.inner);
        let task = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Some(service) = upgrade(&weak) {
                service.state().scheduled = None;
                let _ = service.refresh_access().await;
            }
        });
        if let Some(old) = self.state().scheduled.replace(task) {
            old.abort();
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
                if slept
                    && service
                        .state()
                        .session
                        .as_ref()
                        .is_some_and(|s| s.state != SessionState::Expired)
                {
                    let _ = service.refresh_access().await;
                }
            }
        });
    }

    // ---- errors and busy flags -------------------------------------------------------------

    /// Runs a user action: marks it busy, records its error for the banner, notifies.
    pub async fn run<T>(
        &self,
        action: &'static str,
        work: impl std::future::Future<Output = Result<T, AccountError>>,
    ) -> Result<T, AccountError> {
        self.state().busy.insert(action);
        self.notify();
        let result = work.await;
        {
            let mut st = self.state();
            st.busy.remove(action);
            if result.is_ok() && action != "verify" {
                st.error = None;
            }
        }
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

    /// Localised reply for a failed command.
    pub fn reply_for(&self, err: &AccountError) -> ErrorReply {
        let mut reply = err.to_reply();
        reply.message = messages::explain(err, &self.locale_of(&self.state().settings));
        reply
    }

    pub fn dismiss_error(&self) {
        self.state().error = None;
        self.notify();
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
