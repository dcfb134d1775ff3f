//! Shared test harness: an in-process emulator on loopback, an account service pointed at it,
//! a secret store that remembers every secret it was given, and a recorder of every snapshot
//! the service emitted (to prove none of them leaks a secret).

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use account::secret_store::{Backend, MemoryStore, SecretStore};
use account::snapshot::SessionState;
use account::{
    AccountError, AccountService, JsonSettingsFile, ProfileInput, ServiceConfig, Snapshot,
};
use geniusauth_emulator::{Config, Database, Emulator, StartupInfo};
use serde_json::{json, Value};
use tokio::sync::watch;

pub const REFRESH_PATH: &str = "POST /api/v1/app/token/refresh/";
pub const PATCH_PATH: &str = "PATCH /api/v1/app/token/refresh/";
pub const LOGIN_PATH: &str = "POST /api/v1/public/login/verify";
pub const VERIFY_PATH: &str = "POST /api/v1/app/token/access/verify";
pub const USER_INFO_PATH: &str = "POST /api/v1/app/token/access/user/info";

/// The emulator plus a small client for its admin API.
pub struct Emu {
    pub emulator: Emulator,
    pub info: StartupInfo,
    http: reqwest::Client,
}

impl Emu {
    pub async fn start() -> Emu {
        let emulator = Emulator::start(Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            database: Database::Memory,
            seed: None,
        })
        .await
        .expect("emulator starts");
        let info = emulator.info().clone();
        Emu {
            emulator,
            info,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self) -> &str {
        &self.info.url
    }

    pub fn uid(&self) -> u64 {
        self.info.users[0].id
    }

    pub fn login_token(&self, uid: u64) -> String {
        self.emulator
            .login_token(&self.info.app_code, uid)
            .expect("login token")
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.url()));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("admin call");
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: HTTP {status}: {value}");
        value
    }

    pub async fn requests(&self) -> BTreeMap<String, u64> {
        let value = self
            .admin(reqwest::Method::GET, "/__emulator/requests", None)
            .await;
        serde_json::from_value(value).expect("request counts")
    }

    pub async fn count(&self, key: &str) -> u64 {
        self.requests().await.get(key).copied().unwrap_or(0)
    }

    pub async fn reset_requests(&self) {
        self.admin(reqwest::Method::DELETE, "/__emulator/requests", None)
            .await;
    }

    pub async fn fault(&self, spec: Value) {
        self.admin(reqwest::Method::POST, "/__emulator/faults", Some(spec))
            .await;
    }

    pub async fn clear_faults(&self) {
        self.admin(reqwest::Method::DELETE, "/__emulator/faults", None)
            .await;
    }

    pub async fn advance_clock(&self, seconds: i64) {
        self.admin(
            reqwest::Method::POST,
            "/__emulator/clock",
            Some(json!({ "advanceSeconds": seconds })),
        )
        .await;
    }

    pub async fn revoke_all(&self, uid: u64) {
        self.admin(
            reqwest::Method::POST,
            &format!("/__emulator/users/{uid}/revoke-all"),
            None,
        )
        .await;
    }

    /// A second registered app: (appCode, appSecret).
    pub async fn second_app(&self) -> (String, String) {
        let value = self
            .admin(
                reqwest::Method::POST,
                "/__emulator/apps",
                Some(json!({ "name": "Other app", "callback": "http://127.0.0.1:47999/cb" })),
            )
            .await;
        (
            value["appCode"].as_str().unwrap().to_owned(),
            value["appSecret"].as_str().unwrap().to_owned(),
        )
    }

    /// A client of the demo app, talking to the emulator directly (to check what the server
    /// thinks of a token).
    pub fn client(&self) -> geniusauth::Client {
        let config =
            geniusauth::Config::new(self.info.app_code.clone(), self.info.app_secret.clone())
                .with_base_url(self.url())
                .unwrap();
        geniusauth::Client::new(config).unwrap()
    }
}

/// A memory store that remembers every value ever written to it, so a test knows every
/// secret that existed and can look for it in every snapshot.
#[derive(Default)]
pub struct RecordingStore {
    items: MemoryStore,
    pub seen: Mutex<BTreeSet<String>>,
}

impl SecretStore for RecordingStore {
    fn backend(&self) -> Backend {
        Backend::Keyring
    }
    fn get(&self, key: &str) -> Result<Option<String>, AccountError> {
        self.items.get(key)
    }
    fn set(&self, key: &str, value: &str) -> Result<(), AccountError> {
        self.seen.lock().unwrap().insert(value.to_owned());
        self.items.set(key, value)
    }
    fn delete(&self, key: &str) -> Result<(), AccountError> {
        self.items.delete(key)
    }
}

impl RecordingStore {
    pub fn refresh_token(&self, profile_id: &str) -> Option<String> {
        self.get(&account::secret_store::refresh_token_key(profile_id))
            .unwrap()
    }
}

/// Every snapshot the service emitted, as JSON text, plus the latest for waiting on.
#[derive(Clone)]
pub struct Recorder {
    pub json: Arc<Mutex<Vec<String>>>,
    latest: watch::Sender<Option<Snapshot>>,
}

impl Recorder {
    pub fn attach(service: &AccountService) -> Recorder {
        let (latest, _) = watch::channel(None);
        let recorder = Recorder {
            json: Arc::default(),
            latest,
        };
        let r = recorder.clone();
        service.set_listener(move |snapshot| {
            r.json
                .lock()
                .unwrap()
                .push(serde_json::to_string(&snapshot).unwrap());
            r.latest.send_replace(Some(snapshot));
        });
        recorder
    }

    /// Waits (on the service's own notifications, with a deadline) for a snapshot that
    /// satisfies `cond`.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        cond: impl Fn(&Snapshot) -> bool,
    ) -> Snapshot {
        let mut rx = self.latest.subscribe();
        let waited = tokio::time::timeout(timeout, async {
            rx.wait_for(|s| s.as_ref().is_some_and(&cond))
                .await
                .map(|s| s.clone().unwrap())
        })
        .await;
        match waited {
            Ok(Ok(snapshot)) => snapshot,
            _ => panic!(
                "timed out after {timeout:?} waiting for {what}; last snapshot: {}",
                self.json
                    .lock()
                    .unwrap()
                    .last()
                    .map(|t| t.chars().take(1500).collect::<String>())
                    .unwrap_or_default()
            ),
        }
    }

    pub fn count(&self) -> usize {
        self.json.lock().unwrap().len()
    }
}

/// One service against one emulator, with its files in a temp dir.
pub struct Harness {
    pub emu: Emu,
    pub dir: tempfile::TempDir,
    pub store: Arc<RecordingStore>,
    pub service: AccountService,
    pub recorder: Recorder,
    pub profile_id: String,
    /// Error replies seen by the test (checked for secrets too).
    pub replies: Mutex<Vec<String>>,
}

pub struct Options {
    pub refresh_lead: Option<Duration>,
    pub request_timeout: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            refresh_lead: None,
            request_timeout: Some(Duration::from_secs(2)),
        }
    }
}

pub fn free_callback() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}/callback")
}

pub fn settings_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("settings.json")
}

pub fn make_service(
    dir: &tempfile::TempDir,
    store: Arc<dyn SecretStore>,
    options: &Options,
) -> AccountService {
    let mut config = ServiceConfig::new(
        dir.path().join("data"),
        dir.path().join("cache"),
        "en-US".into(),
    );
    config.keyring_service = "genius-account-test".into();
    if let Some(lead) = options.refresh_lead {
        config.refresh_lead = lead;
    }
    config.request_timeout = options.request_timeout;
    AccountService::with_keyring(
        config,
        Box::new(JsonSettingsFile(settings_path(dir))),
        store,
    )
}

impl Harness {
    pub async fn new() -> Harness {
        Harness::with(Options::default()).await
    }

    pub async fn with(options: Options) -> Harness {
        let emu = Emu::start().await;
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(RecordingStore::default());
        let service = make_service(&dir, store.clone(), &options);
        let recorder = Recorder::attach(&service);
        service.start().await;
        let profile_id = service
            .save_profile(ProfileInput {
                id: None,
                name: "Emulator".into(),
                server: emu.url().to_owned(),
                app_code: emu.info.app_code.clone(),
                callback: free_callback(),
                app_secret: Some(emu.info.app_secret.clone()),
            })
            .await
            .expect("profile saved");
        Harness {
            emu,
            dir,
            store,
            service,
            recorder,
            profile_id,
            replies: Mutex::default(),
        }
    }

    /// Signs the first seeded user in with a freshly minted login token.
    pub async fn sign_in(&self, payload: Option<&str>) -> Snapshot {
        let token = self.emu.login_token(self.emu.uid());
        self.service
            .run(
                "signin",
                self.service
                    .sign_in_with_token(token, payload.map(str::to_owned)),
            )
            .await
            .expect("sign-in");
        let snapshot = self.service.snapshot();
        assert_eq!(state(&snapshot), Some(SessionState::SignedIn));
        snapshot
    }

    pub fn stored_refresh(&self) -> Option<String> {
        self.store.refresh_token(&self.profile_id)
    }

    /// The error code of a failed call, with its reply kept for the secrets check.
    pub fn code_of<T: std::fmt::Debug>(&self, result: Result<T, AccountError>) -> String {
        let err = result.expect_err("the call should fail");
        let reply = self.service.reply_for(&err);
        self.replies
            .lock()
            .unwrap()
            .push(serde_json::to_string(&reply).unwrap());
        reply.code
    }

    /// No snapshot, no error reply and no settings file ever held a secret: not the app
    /// secret, not any refresh token that was stored, not any whole JWT at all.
    pub fn assert_no_secrets(&self, extra: &[String]) {
        let mut secrets: BTreeSet<String> = self.store.seen.lock().unwrap().clone();
        secrets.insert(self.emu.info.app_secret.clone());
        secrets.extend(extra.iter().cloned());
        let refresh_tokens = secrets.iter().filter(|s| s.starts_with("eyJ")).count();
        assert!(
            refresh_tokens >= 1,
            "the test stored no refresh token at all"
        );
        let mut texts = self.recorder.json.lock().unwrap().clone();
        assert!(!texts.is_empty(), "no snapshot was emitted");
        texts.push(serde_json::to_string(&self.service.snapshot()).unwrap());
        texts.extend(self.replies.lock().unwrap().iter().cloned());
        if let Ok(settings) = std::fs::read_to_string(settings_path(&self.dir)) {
            texts.push(settings);
        }
        for text in &texts {
            for secret in &secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "a secret leaked into: {text}"
                );
            }
            assert!(!has_jwt(text), "a whole token leaked into: {text}");
        }
    }
}

/// Whether the text holds something shaped like a whole JWT (three dot-separated base64url
/// parts, the first starting with `eyJ`).
pub fn has_jwt(text: &str) -> bool {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    text.match_indices("eyJ").any(|(i, _)| {
        let parts: Vec<&str> = text[i..]
            .split(|c: char| !(is_b64(c) || c == '.'))
            .next()
            .unwrap_or("")
            .split('.')
            .collect();
        parts.len() >= 3 && parts.iter().take(3).all(|p| p.len() >= 8)
    })
}

pub fn state(snapshot: &Snapshot) -> Option<SessionState> {
    snapshot.session.as_ref().map(|s| s.state)
}

pub fn now_ms() -> i64 {
    account::service::now_ms()
}
