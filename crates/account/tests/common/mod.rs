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
    AccountError, AccountService, Busy, JsonSettingsFile, ProfileInput, ServiceConfig, Snapshot,
};
use geniusauth_emulator::{Config, Emulator, StartupInfo};
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
        let emulator = Emulator::start(Config::ephemeral())
            .await
            .expect("emulator starts");
        let info = emulator.info().clone();
        Emu {
            emulator,
            info,
            http: {
                geniusauth::tls::install_crypto_provider();
                reqwest::Client::new()
            },
        }
    }

    /// A new profile for the emulator's demo app, with its secret and a free loopback callback.
    pub fn profile_input(&self) -> ProfileInput {
        ProfileInput {
            id: None,
            name: "Emulator".into(),
            server: self.url().to_owned(),
            app_code: self.info.app_code.clone(),
            callback: free_callback(),
            app_secret: Some(self.info.app_secret.clone()),
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
        let changes_state = method != reqwest::Method::GET;
        let mut request = self.http.request(method, format!("{}{path}", self.url()));
        if let Some(body) = body {
            request = request.json(&body);
        } else if changes_state {
            // The emulator's admin API takes state changes as JSON only.
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json");
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

    /// Sets the emulator's clock to real time plus `seconds` (negative: behind).
    pub async fn set_clock_offset(&self, seconds: i64) {
        self.admin(
            reqwest::Method::POST,
            "/__emulator/clock",
            Some(json!({ "offsetSeconds": seconds })),
        )
        .await;
    }

    /// Sets the server's wall clock `seconds` off the real one (negative: behind): its
    /// signature window, its tokens and its `Date` header.
    pub async fn set_clock_skew(&self, seconds: i64) {
        self.admin(
            reqwest::Method::POST,
            "/__emulator/clock",
            Some(json!({ "skewSeconds": seconds })),
        )
        .await;
    }

    /// A new user with this avatar URL; returns the user id.
    pub async fn user_with_avatar(&self, name: &str, avatar_url: &str) -> u64 {
        let value = self
            .admin(
                reqwest::Method::POST,
                "/__emulator/users",
                Some(json!({ "name": name, "groups": ["研发"], "avatarUrl": avatar_url })),
            )
            .await;
        value["id"].as_u64().unwrap()
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

    /// A department change from Feishu: the user's groups replaced, their `oid` bumped.
    pub async fn change_groups(&self, uid: u64, groups: &[&str]) {
        self.admin(
            reqwest::Method::POST,
            &format!("/__emulator/users/{uid}/groups"),
            Some(json!({ "groups": groups })),
        )
        .await;
    }

    /// A second registered app: (appCode, appSecret).
    pub async fn second_app(&self) -> (String, String) {
        let value = self
            .admin(
                reqwest::Method::POST,
                "/__emulator/apps",
                Some(json!({ "name": "Other app", "callback": "http://localhost:47999/cb" })),
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
/// secret that existed and can look for it in every snapshot. It stands in for the keyring,
/// and can be made to fail reads the way a keyring that does not answer fails them.
#[derive(Default)]
pub struct RecordingStore {
    items: MemoryStore,
    pub seen: Mutex<BTreeSet<String>>,
    /// Reads of keys with this prefix fail like a keyring timeout.
    failing_reads: Mutex<Option<String>>,
}

impl SecretStore for RecordingStore {
    fn backend(&self) -> Backend {
        Backend::Keyring
    }
    fn get(&self, key: &str) -> Result<Option<String>, AccountError> {
        if let Some(prefix) = self.failing_reads.lock().unwrap().as_deref() {
            if key.starts_with(prefix) {
                // The message KeyringStore gives when its bounded wait runs out.
                return Err(AccountError::KeyringUnavailable(
                    "the keyring did not answer within 3 s (is it locked?)".into(),
                ));
            }
        }
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
    /// From now on reads of keys starting with `prefix` time out; `None` heals the keyring.
    pub fn fail_reads(&self, prefix: Option<&str>) {
        *self.failing_reads.lock().unwrap() = prefix.map(str::to_owned);
    }

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
    pub sign_in_timeout: Option<Duration>,
    pub clipboard_clear_after: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            refresh_lead: None,
            request_timeout: Some(Duration::from_secs(2)),
            sign_in_timeout: None,
            clipboard_clear_after: None,
        }
    }
}

/// A `localhost` callback on a port free on 127.0.0.1 and on ::1 (the listener takes both).
pub fn free_callback() -> String {
    format!("http://localhost:{}/callback", free_dual_stack_port())
}

pub fn free_dual_stack_port() -> u16 {
    loop {
        let v4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = v4.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("::1", port)).is_ok() {
            return port;
        }
    }
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
    if let Some(timeout) = options.sign_in_timeout {
        config.sign_in_timeout = timeout;
    }
    if let Some(delay) = options.clipboard_clear_after {
        config.clipboard_clear_after = delay;
    }
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
        let server = emu.url().to_owned();
        Harness::with_server(options, emu, &server).await
    }

    /// A harness whose profile points at `server` (e.g. a [`TestServer`] in front of `emu`).
    pub async fn with_server(options: Options, emu: Emu, server: &str) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(RecordingStore::default());
        let service = make_service(&dir, store.clone(), &options);
        let recorder = Recorder::attach(&service);
        service.start().await;
        let profile_id = service
            .save_profile(ProfileInput {
                server: server.to_owned(),
                ..emu.profile_input()
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
        self.sign_in_as(self.emu.uid(), payload).await
    }

    pub async fn sign_in_as(&self, uid: u64, payload: Option<&str>) -> Snapshot {
        let token = self.emu.login_token(uid);
        self.service
            .run(
                Busy::SignIn,
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

/// Polls the service's own current snapshot (not the recorded events, which may arrive out
/// of order) until `cond` holds.
pub async fn wait_until(
    service: &AccountService,
    what: &str,
    cond: impl Fn(&Snapshot) -> bool,
) -> Snapshot {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let snapshot = service.snapshot();
        if cond(&snapshot) {
            return snapshot;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}: {}",
            serde_json::to_string(&snapshot).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What [`TestServer`] answers on one path.
#[derive(Clone)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Canned {
    pub fn ok(content_type: &str, body: Vec<u8>) -> Canned {
        Canned {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
        }
    }

    pub fn redirect(location: &str) -> Canned {
        Canned {
            status: 302,
            headers: vec![("Location".into(), location.into())],
            body: Vec::new(),
        }
    }
}

/// A small HTTP/1.1 server on loopback: canned answers on some paths, and every other
/// connection passed through byte for byte to `upstream` (the emulator) when there is one.
/// Put in front of the emulator it is "the server" of a profile, whose own origin may then
/// serve avatars that are too large, not images, or redirect elsewhere.
pub struct TestServer {
    pub url: String,
    routes: Arc<Mutex<BTreeMap<String, Canned>>>,
    hits: Arc<Mutex<BTreeMap<String, u64>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    pub async fn start(upstream: Option<&str>) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.map(|u| u.trim_start_matches("http://").to_owned());
        let routes: Arc<Mutex<BTreeMap<String, Canned>>> = Arc::default();
        let hits: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
        let (r, h) = (routes.clone(), hits.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (routes, hits, upstream) = (r.clone(), h.clone(), upstream.clone());
                tokio::spawn(async move {
                    let _ = serve_one(stream, routes, hits, upstream).await;
                });
            }
        });
        TestServer {
            url,
            routes,
            hits,
            task,
        }
    }

    pub fn route(&self, path: &str, answer: Canned) {
        self.routes.lock().unwrap().insert(path.to_owned(), answer);
    }

    /// Requests for `path` answered from the routes (passed-through ones are not counted).
    pub fn hits(&self, path: &str) -> u64 {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

async fn serve_one(
    mut stream: tokio::net::TcpStream,
    routes: Arc<Mutex<BTreeMap<String, Canned>>>,
    hits: Arc<Mutex<BTreeMap<String, u64>>>,
    upstream: Option<String>,
) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Peek at the request line: a connection for the upstream must reach it untouched.
    let mut buf = vec![0u8; 4096];
    let line = loop {
        let n = stream.peek(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        if let Some(end) = buf[..n].windows(2).position(|w| w == b"\r\n") {
            break String::from_utf8_lossy(&buf[..end]).into_owned();
        }
    };
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let canned = routes.lock().unwrap().get(&path).cloned();
    match (canned, upstream) {
        (Some(canned), _) => {
            *hits.lock().unwrap().entry(path).or_insert(0) += 1;
            // Read the head so that closing does not reset the connection under the client.
            let mut head = Vec::new();
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..n]);
            }
            let mut reply = format!("HTTP/1.1 {} Canned\r\n", canned.status);
            for (name, value) in &canned.headers {
                reply.push_str(&format!("{name}: {value}\r\n"));
            }
            reply.push_str(&format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                canned.body.len()
            ));
            stream.write_all(reply.as_bytes()).await?;
            stream.write_all(&canned.body).await?;
            stream.shutdown().await
        }
        (None, Some(upstream)) => {
            let mut server = tokio::net::TcpStream::connect(upstream).await?;
            tokio::io::copy_bidirectional(&mut stream, &mut server).await?;
            Ok(())
        }
        (None, None) => {
            stream
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await?;
            stream.shutdown().await
        }
    }
}

/// Bytes that start like a PNG (signature and IHDR chunk: all the type sniffing looks at),
/// padded to the size a test needs.
pub fn png_bytes(padding: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89".to_vec();
    bytes.resize(bytes.len() + padding, 0);
    bytes
}
