//! The IPC boundary, driven the way the web UI drives it: commands through Tauri's invoke
//! machinery (the real handler, the real capability file, the real managed state) on the
//! mock runtime, and the `state` events the app emits.
//!
//! What it proves: replies are snapshots or `{code, message}` rejections; no reply and no
//! `state` event ever carries a refresh token, an access token, the app secret or any whole
//! token (`copy_access_token` puts the access token on the system clipboard from Rust and
//! answers `{clearsInSeconds}`); the UI can only call what the capability grants.
//!
//! The copy writes the real clipboard: run it on a display (`scripts/test.sh` has Xvfb).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use account::secret_store::FileStore;
use account::{AccountService, JsonSettingsFile, ServiceConfig};
use genius_account::{app_builder, LaunchOptions};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{Listener, Manager, WebviewWindow, WebviewWindowBuilder};

struct App {
    app: tauri::App<tauri::test::MockRuntime>,
    webview: WebviewWindow<tauri::test::MockRuntime>,
    events: Arc<Mutex<Vec<String>>>,
    /// Every reply and rejection, as JSON text.
    replies: Mutex<Vec<(String, String)>>,
    /// Every access token the session held after a command (read on the Rust side).
    access_tokens: Mutex<BTreeSet<String>>,
    dir: tempfile::TempDir,
}

impl App {
    /// The app as `run()` builds it, minus the desktop-only plugins, with its settings in a
    /// temp file and a file store standing in for the OS keyring.
    fn start() -> App {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().to_path_buf();
        let mut app = app_builder(mock_builder(), LaunchOptions::default(), move |_app| {
            let config = ServiceConfig::new(base.join("data"), base.join("cache"), "zh-CN".into());
            let keyring = Arc::new(FileStore::new(base.join("keyring.json")));
            Ok(AccountService::with_keyring(
                config,
                Box::new(JsonSettingsFile(base.join("settings.json"))),
                keyring,
            ))
        })
        .build(tauri::generate_context!(test = true))
        .expect("the app builds on the mock runtime");
        // The setup hook (which builds the service and manages the state) runs when the event
        // loop starts; on the mock runtime one iteration runs it and returns.
        #[allow(deprecated)]
        app.run_iteration(|_, _| {});
        let events: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = events.clone();
        app.listen_any("state", move |event| {
            sink.lock().unwrap().push(event.payload().to_owned());
        });
        // tauri.conf.json declares the "main" window; the capability is granted to it.
        let webview = match app.get_webview_window("main") {
            Some(w) => w,
            None => WebviewWindowBuilder::new(&app, "main", Default::default())
                .build()
                .unwrap(),
        };
        App {
            app,
            webview,
            events,
            replies: Mutex::default(),
            access_tokens: Mutex::default(),
            dir,
        }
    }

    fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        let response = get_ipc_response(
            &self.webview,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                url: "tauri://localhost".parse().unwrap(),
                body: InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|body| body.deserialize::<Value>().unwrap());
        let text = match &response {
            Ok(v) | Err(v) => v.to_string(),
        };
        self.replies.lock().unwrap().push((cmd.to_owned(), text));
        if let Ok(token) = self.service().access_token() {
            self.access_tokens.lock().unwrap().insert(token);
        }
        response
    }

    fn service(&self) -> &account::AccountService {
        &self.app.state::<genius_account::AppState>().inner().service
    }

    fn ok(&self, cmd: &str, args: Value) -> Value {
        self.invoke(cmd, args)
            .unwrap_or_else(|e| panic!("{cmd} rejected: {e}"))
    }

    /// A rejection: `{code, message}` with both strings, message non-empty. Returns the code.
    fn rejected(&self, cmd: &str, args: Value) -> (String, Value) {
        let err = match self.invoke(cmd, args) {
            Ok(v) => panic!("{cmd} should have been rejected, got {v}"),
            Err(e) => e,
        };
        let code = err["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no code: {err}"));
        let message = err["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no message: {err}"));
        assert!(!message.is_empty(), "{err}");
        (code.to_owned(), err)
    }

    fn event_count(&self) -> usize {
        self.events.lock().unwrap().len()
    }

    fn secrets_in_keyring_file(&self) -> BTreeSet<String> {
        read_store(&self.dir.path().join("keyring.json"))
    }
}

fn read_store(path: &Path) -> BTreeSet<String> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<std::collections::BTreeMap<String, String>>(&b).ok())
        .map(|m| m.into_values().collect())
        .unwrap_or_default()
}

/// Something shaped like a whole JWT: three dot-separated base64url parts starting `eyJ`.
fn has_jwt(text: &str) -> bool {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    text.match_indices("eyJ").any(|(i, _)| {
        let run = text[i..]
            .split(|c: char| !(is_b64(c) || c == '.'))
            .next()
            .unwrap_or("");
        let parts: Vec<&str> = run.split('.').collect();
        parts.len() >= 3 && parts.iter().take(3).all(|p| p.len() >= 8)
    })
}

fn session_state(snapshot: &Value) -> Option<&str> {
    snapshot["session"]["state"].as_str()
}

#[test]
fn commands_over_ipc_never_leak_secrets_and_reject_with_code_and_message() {
    geniusauth::tls::install_crypto_provider();
    let app = App::start();

    // First run: no profile.
    let state = app.ok("get_state", json!({}));
    assert_eq!(state["activeProfileId"], Value::Null);
    assert_eq!(state["locale"], "zh-CN");
    let (code, err) = app.rejected("refresh_access", json!({}));
    assert_eq!(code, "no_profile", "{err}");
    let (code, err) = app.rejected("set_preferences", json!({"prefs": {"theme": "neon"}}));
    assert_eq!(code, "invalid_input", "{err}");
    // Arguments the command cannot take are rejected by Tauri before the command runs.
    assert!(app.invoke("switch_profile", json!({})).is_err());

    // Demo mode: the embedded emulator and its app.
    let events_before = app.event_count();
    let state = app.ok("start_demo", json!({}));
    assert!(
        app.event_count() > events_before,
        "start_demo emitted no state event"
    );
    assert_eq!(state["demo"], true);
    assert_eq!(state["activeProfileId"], "demo");
    assert_eq!(state["storage"]["backend"], "memory");
    let server = state["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "demo")
        .expect("the demo profile is listed")["server"]
        .as_str()
        .unwrap()
        .to_owned();
    let uid = state["demoUsers"][0]["id"].as_u64().expect("demo users");
    // The demo runs with its HTTP admin API off (a web page could reach it on loopback).
    let admin =
        tauri::async_runtime::block_on(reqwest::get(format!("{server}/__emulator/info"))).unwrap();
    assert_eq!(admin.status(), 404, "the demo's admin API answers");
    // The demo app's secret, from the embedded server itself.
    let info =
        tauri::async_runtime::block_on(app.app.state::<genius_account::AppState>().demo.info())
            .expect("the demo server runs");
    let demo_secret = info.app_secret.clone();
    assert_eq!(demo_secret.len(), 100);

    let state = app.ok("demo_sign_in", json!({"uid": uid, "payload": "ipc"}));
    assert_eq!(session_state(&state), Some("signed-in"));
    assert_eq!(state["session"]["user"]["userId"], uid);
    assert_eq!(state["session"]["refresh"]["payload"], "ipc");
    assert_eq!(state["session"]["refresh"]["signature"], "verified");
    let masked = state["session"]["refresh"]["masked"].as_str().unwrap();
    assert!(masked.contains('…') && masked.len() < 20, "{masked}");

    std::thread::sleep(Duration::from_millis(1100));
    let before = state["session"]["access"]["masked"].clone();
    let state = app.ok("refresh_access", json!({}));
    assert_ne!(state["session"]["access"]["masked"], before);
    assert_eq!(state["busy"], json!([]));

    let state = app.ok(
        "edit_payload",
        json!({"payload": "新的载荷", "newAccess": true}),
    );
    assert_eq!(state["session"]["refresh"]["payload"], "新的载荷");
    assert_eq!(state["session"]["access"]["payload"], "新的载荷");
    let (code, err) = app.rejected(
        "edit_payload",
        json!({"payload": "载".repeat(33), "newAccess": false}),
    );
    assert_eq!(code, "invalid_input", "{err}");
    // The rejection also shows in the snapshot's error (the banner), with its time.
    let state = app.ok("get_state", json!({}));
    assert_eq!(state["error"]["code"], "invalid_input");
    assert!(state["error"]["at"].as_i64().unwrap() > 0);
    let state = app.ok("dismiss_error", json!({}));
    assert_eq!(state["error"], Value::Null);

    app.ok("verify_access", json!({}));
    // Copy: Rust puts the access token on the clipboard; the reply only says when it is cleared.
    let copied = app.ok("copy_access_token", json!({}));
    assert_eq!(copied, json!({"clearsInSeconds": 60}));
    let access = app.service().access_token().unwrap();
    assert!(has_jwt(&access));
    let on_clipboard = arboard::Clipboard::new()
        .expect("a display for the clipboard (run under xvfb-run)")
        .get_text()
        .unwrap();
    assert_eq!(on_clipboard, access, "the clipboard holds the access token");

    let state = app.ok("revoke_session", json!({}));
    assert_eq!(state["session"], Value::Null);
    let (code, err) = app.rejected("refresh_access", json!({}));
    assert_eq!(code, "no_session", "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("登录"),
        "zh-CN message: {err}"
    );
    let (code, _) = app.rejected("copy_access_token", json!({}));
    assert_eq!(code, "no_session");

    // A profile of its own, whose secrets land in the (file-backed) keyring we can read.
    let emu = tauri::async_runtime::block_on(geniusauth_emulator::Emulator::start(
        geniusauth_emulator::Config::ephemeral(),
    ))
    .unwrap();
    let info = emu.info().clone();
    let (code, err) = app.rejected(
        "save_profile",
        json!({"profile": {"name": "Mine", "server": "ftp://x", "appCode": info.app_code,
                           "callback": "http://127.0.0.1:47151/callback", "appSecret": info.app_secret}}),
    );
    assert_eq!(code, "invalid_input", "{err}");
    let state = app.ok(
        "save_profile",
        json!({"profile": {"name": "Mine", "server": info.url, "appCode": info.app_code,
                           "callback": "http://127.0.0.1:47151/callback", "appSecret": info.app_secret}}),
    );
    let profile_id = state["activeProfileId"].as_str().unwrap().to_owned();
    assert_ne!(profile_id, "demo");
    assert_eq!(state["storage"]["backend"], "keyring");
    let (code, _) = app.rejected("sign_in_paste", json!({"token": "not a token"}));
    assert_eq!(code, "invalid_input");
    let login = emu.login_token(&info.app_code, info.users[0].id).unwrap();
    let state = app.ok("sign_in_paste", json!({"token": login}));
    assert_eq!(session_state(&state), Some("signed-in"));
    let mut secrets = app.secrets_in_keyring_file();
    std::thread::sleep(Duration::from_millis(1100));
    app.ok("refresh_access", json!({}));
    app.ok(
        "edit_payload",
        json!({"payload": "desk", "newAccess": false}),
    );
    secrets.extend(app.secrets_in_keyring_file());
    app.ok("reload_user", json!({}));
    let state = app.ok("revoke_session", json!({}));
    assert_eq!(state["session"], Value::Null);
    // A used login token: the server's refusal, with its code and message.
    let (code, err) = app.rejected("sign_in_paste", json!({"token": login}));
    assert_eq!(code, "unauthorized", "{err}");
    assert_eq!(err["serverCode"], 6, "{err}");
    assert!(err["serverMsg"].is_string(), "{err}");
    assert_eq!(err["httpStatus"], 401, "{err}");

    // Two refresh tokens (before and after the payload edit) and the app secret were stored.
    assert!(secrets.contains(&info.app_secret));
    assert!(
        secrets.iter().filter(|s| s.starts_with("eyJ")).count() >= 2,
        "{secrets:?}"
    );
    secrets.insert(demo_secret);
    let access_tokens = app.access_tokens.lock().unwrap().clone();
    assert!(access_tokens.contains(&access));
    assert!(
        access_tokens.len() >= 4,
        "refreshes and payload edits made new access tokens: {}",
        access_tokens.len()
    );
    secrets.extend(access_tokens);

    // The last event is what get_state says.
    let mut last_event: Value =
        serde_json::from_str(app.events.lock().unwrap().last().unwrap()).unwrap();
    let mut now = app.ok("get_state", json!({}));
    // Every snapshot has a higher revision than the one before; the rest must be equal.
    assert!(now["revision"].as_u64() > last_event["revision"].as_u64());
    last_event["revision"] = Value::Null;
    now["revision"] = Value::Null;
    assert_eq!(last_event, now);

    let events = app.events.lock().unwrap().clone();
    assert!(events.len() >= 20, "only {} state events", events.len());
    let replies = app.replies.lock().unwrap().clone();
    assert!(replies.iter().any(|(cmd, _)| cmd == "copy_access_token"));
    for text in events.iter().chain(replies.iter().map(|(_, t)| t)) {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret leaked into: {text}"
            );
        }
        assert!(!has_jwt(text), "a whole token leaked into: {text}");
    }
    for secret in &secrets {
        assert!(
            !std::fs::read_to_string(app.dir.path().join("settings.json"))
                .unwrap()
                .contains(secret.as_str())
        );
    }
}

#[test]
fn only_what_the_capability_grants_is_callable() {
    let app = App::start();
    // A plugin command the capability does not grant (the opener plugin is loaded).
    let denied = app
        .invoke(
            "plugin:opener|open_url",
            json!({"url": "https://example.com"}),
        )
        .unwrap_err();
    assert!(denied.as_str().unwrap().contains("not allowed"), "{denied}");
    // A command that does not exist.
    let missing = app.invoke("read_secrets", json!({})).unwrap_err();
    assert!(
        missing.as_str().unwrap().contains("not allowed"),
        "{missing}"
    );
    // What is granted works, from the window it is granted to only.
    assert!(app.invoke("get_state", json!({})).is_ok());
    let other = WebviewWindowBuilder::new(&app.app, "other", Default::default())
        .build()
        .unwrap();
    let other = App {
        webview: other,
        ..app
    };
    let denied = other.invoke("get_state", json!({})).unwrap_err();
    assert!(denied.as_str().unwrap().contains("not allowed"), "{denied}");
}

/// A `localhost` callback on a port free on 127.0.0.1 and ::1 (the listener binds both).
fn free_callback() -> String {
    loop {
        let v4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = v4.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("::1", port)).is_ok() {
            return format!("http://localhost:{port}/callback");
        }
    }
}

/// Asks `get_state` until `cond` holds: what happens after a browser redirect arrives in the
/// background, as `state` events.
fn wait_for_state(app: &App, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let state = app.ok("get_state", json!({}));
        if cond(&state) {
            return state;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}: {state}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The commands around sign-in, profiles and storage, over IPC: browser sign-in with a
/// simulated redirect, cancel, the file store and back, switching, forgetting and deleting
/// profiles. Every secret either store ever held is looked for in every reply and event.
#[test]
fn browser_sign_in_profiles_and_storage_over_ipc_never_leak_secrets() {
    geniusauth::tls::install_crypto_provider();
    // tauri-plugin-opener hands the URL to xdg-open, which then runs $BROWSER: `true` opens
    // nothing. The test plays the browser itself.
    std::env::set_var("BROWSER", "true");
    let app = App::start();
    let emu = tauri::async_runtime::block_on(geniusauth_emulator::Emulator::start(
        geniusauth_emulator::Config::ephemeral(),
    ))
    .unwrap();
    let mut info = emu.info().clone();
    let uid = info.users[0].id;
    // An app registered, as the dashboard does it, with its own localhost callback: the app
    // checks the registration before it listens.
    let callback = free_callback();
    let app_json: Value = tauri::async_runtime::block_on(async {
        reqwest::Client::new()
            .post(format!("{}/__emulator/apps", info.url))
            .json(&json!({"name": "IPC", "callback": callback}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    info.app_code = app_json["appCode"].as_str().unwrap().to_owned();
    info.app_secret = app_json["appSecret"].as_str().unwrap().to_owned();
    let mut secrets: BTreeSet<String> = BTreeSet::new();
    let secrets_file = app.dir.path().join("data/secrets.json");
    let collect = |secrets: &mut BTreeSet<String>| {
        secrets.extend(app.secrets_in_keyring_file());
        secrets.extend(read_store(&secrets_file));
    };

    let state = app.ok(
        "save_profile",
        json!({"profile": {"name": "Mine", "server": info.url, "appCode": info.app_code,
                           "callback": callback, "appSecret": info.app_secret}}),
    );
    let first = state["activeProfileId"].as_str().unwrap().to_owned();

    // Browser sign-in: the reply says a sign-in is pending and where the browser was sent.
    let state = app.ok("sign_in_browser", json!({"payload": "浏览器"}));
    assert_eq!(state["signIn"]["method"], "browser", "{state}");
    assert_eq!(
        state["signIn"]["url"],
        format!("{}/?appCode={}", info.url, info.app_code)
    );
    assert!(state["signIn"]["expiresAt"].as_i64().unwrap() > 0);
    // The browser comes back from GeniusAuth with a login token.
    let login = emu.login_token(&info.app_code, uid).unwrap();
    let page =
        tauri::async_runtime::block_on(reqwest::get(format!("{callback}?token={login}"))).unwrap();
    assert_eq!(page.status(), 200);
    let state = wait_for_state(&app, "the browser sign-in", |s| {
        session_state(s) == Some("signed-in")
    });
    assert_eq!(state["signIn"], Value::Null);
    assert_eq!(state["session"]["user"]["userId"], uid);
    assert_eq!(state["session"]["refresh"]["payload"], "浏览器");
    collect(&mut secrets);

    // Cancel: no sign-in pending, no error, the session untouched.
    let state = app.ok("sign_in_browser", json!({}));
    assert!(state["signIn"].is_object());
    let state = app.ok("cancel_sign_in", json!({}));
    assert_eq!(state["signIn"], Value::Null);
    assert_eq!(state["error"], Value::Null);
    assert_eq!(session_state(&state), Some("signed-in"));

    // To the unencrypted file and back: the session goes on.
    let state = app.ok("use_file_store", json!({"enabled": true}));
    assert_eq!(state["storage"]["backend"], "file", "{state}");
    assert_eq!(state["storage"]["fileOptIn"], true);
    assert_eq!(session_state(&state), Some("signed-in"));
    collect(&mut secrets);
    assert!(
        read_store(&secrets_file).contains(&info.app_secret),
        "the secrets moved to the file"
    );
    let state = app.ok("use_file_store", json!({"enabled": false}));
    assert_eq!(state["storage"]["backend"], "keyring");
    assert_eq!(state["storage"]["fileOptIn"], false);
    assert!(!read_store(&secrets_file).contains(&info.app_secret));
    assert_eq!(session_state(&state), Some("signed-in"));
    // Without its argument Tauri refuses the call before the command runs.
    assert!(app.invoke("use_file_store", json!({})).is_err());

    // A second profile (the same app here): active, signed out; back to the first restores.
    let state = app.ok(
        "save_profile",
        json!({"profile": {"name": "Second", "server": info.url, "appCode": info.app_code,
                           "callback": free_callback(), "appSecret": info.app_secret}}),
    );
    let second = state["activeProfileId"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert_eq!(state["session"], Value::Null);
    let state = app.ok("switch_profile", json!({"id": first}));
    assert_eq!(state["activeProfileId"], first.as_str());
    assert_eq!(session_state(&state), Some("signed-in"));
    let (code, _) = app.rejected("switch_profile", json!({"id": "p99"}));
    assert_eq!(code, "no_profile");

    // Forget: signed out here; the server still honours the token (the client checks it).
    let stored = app.secrets_in_keyring_file();
    let state = app.ok("forget_session", json!({}));
    assert_eq!(state["session"], Value::Null);
    let (code, _) = app.rejected("forget_session", json!({}));
    assert_eq!(code, "no_session");
    let forgotten: Vec<String> = stored
        .difference(&app.secrets_in_keyring_file())
        .cloned()
        .collect();
    assert_eq!(
        forgotten.len(),
        1,
        "exactly the refresh token left the store"
    );
    let client = geniusauth::Client::new(
        geniusauth::Config::new(info.app_code.clone(), info.app_secret.clone())
            .with_base_url(&info.url)
            .unwrap(),
    )
    .unwrap();
    tauri::async_runtime::block_on(client.refresh_access_token(&forgotten[0]))
        .expect("a forgotten token stays valid on the server");

    // Signed in again by paste, then the profile is deleted from the other one.
    let login = emu.login_token(&info.app_code, uid).unwrap();
    let state = app.ok("sign_in_paste", json!({"token": login}));
    assert_eq!(session_state(&state), Some("signed-in"));
    collect(&mut secrets);
    app.ok("switch_profile", json!({"id": second}));
    let state = app.ok("delete_profile", json!({"id": first}));
    let ids: Vec<&str> = state["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.as_str()]);
    assert_eq!(state["activeProfileId"], second.as_str());
    let (code, _) = app.rejected("delete_profile", json!({"id": first}));
    assert_eq!(code, "no_profile");
    let state = app.ok("delete_profile", json!({"id": second}));
    assert_eq!(state["profiles"], json!([]));
    assert_eq!(state["activeProfileId"], Value::Null);
    assert!(
        app.secrets_in_keyring_file().is_empty(),
        "deleting the profiles removed their secrets"
    );

    assert!(secrets.contains(&info.app_secret));
    assert!(
        secrets.iter().filter(|s| s.starts_with("eyJ")).count() >= 2,
        "two sign-ins stored two refresh tokens"
    );
    let access_tokens = app.access_tokens.lock().unwrap().clone();
    assert!(
        access_tokens.len() >= 2,
        "two sign-ins made two access tokens"
    );
    secrets.extend(access_tokens);
    let events = app.events.lock().unwrap().clone();
    assert!(events.len() >= 15, "only {} state events", events.len());
    let replies = app.replies.lock().unwrap().clone();
    for text in events.iter().chain(replies.iter().map(|(_, t)| t)) {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret leaked into: {text}"
            );
        }
        assert!(!has_jwt(text), "a whole token leaked into: {text}");
    }
    let settings = std::fs::read_to_string(app.dir.path().join("settings.json")).unwrap();
    for secret in &secrets {
        assert!(!settings.contains(secret.as_str()));
    }
}

/// `fix_secrets_file_permissions` is a granted command: a secrets file others may read is
/// refused with `secrets_file_too_open` (in the reply and the banner's `error`), the command
/// narrows it to 0600 and answers with the snapshot.
#[cfg(unix)]
#[test]
fn an_open_secrets_file_is_refused_and_fixed_over_ipc() {
    use std::os::unix::fs::PermissionsExt;
    let app = App::start();
    let emu = tauri::async_runtime::block_on(geniusauth_emulator::Emulator::start(
        geniusauth_emulator::Config::ephemeral(),
    ))
    .unwrap();
    let info = emu.info().clone();
    app.ok(
        "save_profile",
        json!({"profile": {"name": "Mine", "server": info.url, "appCode": info.app_code,
                           "callback": free_callback(), "appSecret": info.app_secret}}),
    );
    let state = app.ok("use_file_store", json!({"enabled": true}));
    let profile_id = state["activeProfileId"].as_str().unwrap().to_owned();
    let secrets = app.dir.path().join("data/secrets.json");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&secrets), 0o600);

    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o644)).unwrap();
    let login = emu.login_token(&info.app_code, info.users[0].id).unwrap();
    let (code, err) = app.rejected("sign_in_paste", json!({"token": login}));
    assert_eq!(code, "secrets_file_too_open", "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("0644"),
        "zh-CN message names the mode: {err}"
    );
    let state = app.ok("get_state", json!({}));
    assert_eq!(state["error"]["code"], "secrets_file_too_open");
    assert_eq!(mode(&secrets), 0o644, "nothing changed without being asked");

    let state = app.ok("fix_secrets_file_permissions", json!({}));
    assert_eq!(mode(&secrets), 0o600);
    assert_eq!(state["error"], Value::Null);
    assert_eq!(state["activeProfileId"], profile_id.as_str());
    let login = emu.login_token(&info.app_code, info.users[0].id).unwrap();
    let state = app.ok("sign_in_paste", json!({"token": login}));
    assert_eq!(session_state(&state), Some("signed-in"));
    assert!(read_store(&secrets).contains(&info.app_secret));
}
