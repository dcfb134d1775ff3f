//! End to end through the real window: set up a profile, sign in by paste and by a browser
//! redirect, refresh, verify, edit the payload, revoke; and the demo mode. Screenshots of each
//! state go to `target/e2e-screenshots/`.

mod a11y;
mod harness;
mod states;
mod support;

use std::time::{Duration, Instant};

use geniusauth_emulator::{Config, Emulator};
use harness::{free_port, App, WAIT};
use serde_json::{json, Value};

struct Server {
    emulator: Emulator,
    http: reqwest::Client,
}

impl Server {
    async fn start() -> Server {
        // Production's rules: apps register localhost callbacks, as the dashboard requires.
        let emulator = Emulator::start(Config::ephemeral())
            .await
            .expect("emulator");
        geniusauth::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Server { emulator, http }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emulator.url())
    }

    async fn admin(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// Registers an app with `callback`; its appCode and appSecret.
    async fn register_app(&self, name: &str, callback: &str) -> (String, String) {
        let app = self
            .admin(
                "/__emulator/apps",
                json!({"name": name, "callback": callback}),
            )
            .await;
        (
            app["appCode"].as_str().unwrap().to_owned(),
            app["appSecret"].as_str().unwrap().to_owned(),
        )
    }

    /// Signs `uid` in at the emulator's login page for `app_code`: the callback URL (with
    /// `?token=`) the browser is redirected to.
    async fn authorize(&self, app_code: &str, uid: u64) -> String {
        let login = self
            .http
            .post(self.url("/__emulator/authorize"))
            .form(&[("appCode", app_code), ("uid", &uid.to_string())])
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 302);
        login.headers()["location"].to_str().unwrap().to_owned()
    }

    /// What a page other than GeniusAuth's could send to the callback: no real token, a forged
    /// one, an expired one, a token of another type, one issued before the sign-in began.
    async fn tokens_another_page_could_send(&self, app_code: &str, uid: u64) -> Vec<String> {
        let mint = |offset: i64| async move {
            self.admin("/__emulator/clock", json!({ "offsetSeconds": offset }))
                .await;
            self.emulator.login_token(app_code, uid).unwrap()
        };
        let expired = mint(-400).await;
        let before_sign_in = mint(-60).await;
        let genuine = mint(0).await;
        let mut forged: Vec<char> = genuine.chars().collect();
        let at = forged.len() - 5;
        forged[at] = if forged[at] == 'A' { 'B' } else { 'A' };
        let info = self.emulator.info();
        let client = geniusauth::Client::new(
            geniusauth::Config::new(info.app_code.clone(), info.app_secret.clone())
                .with_base_url(self.emulator.url())
                .unwrap(),
        )
        .unwrap();
        let access = client
            .login_verify(
                &self.emulator.login_token(app_code, uid).unwrap(),
                &geniusauth::LoginOptions::default(),
            )
            .await
            .unwrap()
            .access_token;
        vec![
            "x".to_owned(),
            forged.into_iter().collect(),
            expired,
            access,
            before_sign_in,
        ]
    }

    async fn clear_faults(&self) {
        let response = self
            .http
            .delete(self.url("/__emulator/faults"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    /// How many requests the emulator received for `METHOD /path`.
    async fn count(&self, route: &str) -> u64 {
        let counts: Value = self
            .http
            .get(self.url("/__emulator/requests"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        counts.get(route).and_then(Value::as_u64).unwrap_or(0)
    }

    async fn wait_count(&self, route: &str, at_least: u64) {
        let start = Instant::now();
        while self.count(route).await < at_least {
            assert!(
                start.elapsed() < WAIT,
                "{route} was called fewer than {at_least} times"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

const REFRESH_ROUTE: &str = "POST /api/v1/app/token/refresh/";

const V4: &str = "127.0.0.1";
const V6: &str = "::1";

/// A client that reaches `localhost` over one loopback address only, as a browser that
/// resolved it that way would.
fn browser_via(ip: &str, port: u16) -> reqwest::Client {
    let addr = std::net::SocketAddr::new(ip.parse().unwrap(), port);
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .resolve("localhost", addr)
        .build()
        .unwrap()
}

/// Fills in the first-run setup screen for the app registered on `server`, as a user would.
async fn set_up_profile(app: &App, server: &Server, app_code: &str, secret: &str, callback: &str) {
    app.el("setup").await;
    app.script_click("preset-custom").await;
    app.type_into("profile-name", "Local").await;
    app.type_into("profile-server", server.emulator.url()).await;
    app.type_into("profile-appcode", app_code).await;
    app.type_into("profile-callback", callback).await;
    app.type_into("profile-secret", secret).await;
    app.click("btn-save-profile").await;
    app.wait_state("signed-out").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_member_signs_in_manages_the_session_and_revokes_it() {
    let server = Server::start().await;
    let callback_port = free_port();
    // As the production dashboard registers a desktop app: plain http on host localhost only.
    let callback = format!("http://localhost:{callback_port}/callback");
    let (app_code, app_secret) = server.register_app("E2E 桌面端", &callback).await;
    let users = server.emulator.info().users.clone();

    let app = App::launch(&[], &[("LANG", "en_US.UTF-8")]).await;

    // First run: the setup screen, filled in for a local server.
    app.el("setup").await;
    app.screenshot("01-setup").await;
    set_up_profile(&app, &server, &app_code, &app_secret, &callback).await;
    app.screenshot("02-signed-out").await;

    // Sign in by pasting a login token.
    let token = server.emulator.login_token(&app_code, users[0].id).unwrap();
    app.type_into("signin-paste-input", &token).await;
    app.click("signin-paste-submit").await;
    app.wait_state("signed-in").await;
    assert_eq!(
        app.wait_text("user-name", |t| !t.is_empty()).await.trim(),
        users[0].name
    );
    assert!(app.text("user-id").await.contains(&users[0].id.to_string()));
    assert!(
        !app.text("user-groups").await.trim().is_empty(),
        "groups are shown"
    );
    app.wait_text("refresh-expires", |t| !t.is_empty()).await;
    app.screenshot("03-signed-in").await;

    // Refresh: one more server call, and the access token's expiry is shown.
    let before = server.count(REFRESH_ROUTE).await;
    app.click("btn-refresh").await;
    server.wait_count(REFRESH_ROUTE, before + 1).await;
    app.wait_text("access-expires", |t| !t.is_empty()).await;
    assert_eq!(app.error_text().await, None);

    // Verify: a server round trip.
    app.click("btn-verify").await;
    server
        .wait_count("POST /api/v1/app/token/access/verify", 1)
        .await;
    assert_eq!(app.error_text().await, None);

    // Payload: 32 Chinese characters pass, 33 are refused in the UI before anything is sent.
    let payload_32 = "统一身份认证令牌载荷测试中文字符".repeat(2);
    assert_eq!(payload_32.chars().count(), 32);
    app.click("btn-edit-payload").await;
    app.type_into("payload-input", &format!("{payload_32}多"))
        .await;
    app.wait_text("payload-counter", |t| t.contains("33")).await;
    assert!(
        !app.el("btn-save-payload").await.is_enabled().await.unwrap(),
        "33 characters are refused"
    );
    app.screenshot("04-payload-too-long").await;
    app.type_into("payload-input", &payload_32).await;
    app.wait_text("payload-counter", |t| t.contains("32/32"))
        .await;
    assert!(app.el("btn-save-payload").await.is_enabled().await.unwrap());
    app.click("btn-save-payload").await;
    app.wait_text("payload-value", |t| t.contains(&payload_32))
        .await;
    assert_eq!(server.count("PATCH /api/v1/app/token/refresh/").await, 1);
    app.screenshot("05-payload-saved").await;

    // Revoke: confirmed, sent to the server, and the local session is gone.
    app.click("btn-revoke").await;
    app.screenshot("06-revoke-dialog").await;
    app.click("btn-confirm-revoke").await;
    app.wait_state("signed-out").await;
    assert_eq!(server.count("DELETE /api/v1/app/token/refresh/").await, 1);
    app.screenshot("07-revoked").await;

    // Browser sign-in: the app listens on its callback (127.0.0.1 and ::1); the "browser"
    // signs in at the server's login page and is redirected there. Before it, what another
    // page could send to the callback is refused and the sign-in keeps waiting.
    let refusals = server
        .tokens_another_page_could_send(&app_code, users[1].id)
        .await;
    app.click("signin-browser").await;
    app.el("signin-pending").await;
    // The pending panel names the registered app (from GET /api/v1/public/app/).
    app.wait_text("signin-pending-title", |t| t.contains("E2E 桌面端"))
        .await;
    app.screenshot("08-browser-pending").await;
    for (i, token) in refusals.iter().enumerate() {
        let via = if i % 2 == 0 { V4 } else { V6 };
        let reply = browser_via(via, callback_port)
            .get(format!("{callback}?token={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 400, "refusal {i} over {via}");
    }
    app.el("signin-pending").await;
    let location = server.authorize(&app_code, users[1].id).await;
    assert!(location.starts_with(&callback), "redirected to {location}");
    // This browser resolved localhost to ::1.
    let page = browser_via(V6, callback_port)
        .get(&location)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("close this tab"));
    app.wait_state("signed-in").await;
    app.wait_text("user-name", |t| t.trim() == users[1].name)
        .await;
    app.screenshot("08-browser-sign-in").await;

    // Signed out on this device, then in again through a browser that resolved localhost to
    // 127.0.0.1, as another user: the app points out the change of account.
    app.click("btn-forget").await;
    app.click("btn-confirm-forget").await;
    app.wait_state("signed-out").await;
    app.click("signin-browser").await;
    app.el("signin-pending").await;
    let location = server.authorize(&app_code, users[0].id).await;
    let page = browser_via(V4, callback_port)
        .get(&location)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    app.wait_state("signed-in").await;
    app.wait_text("user-name", |t| t.trim() == users[0].name)
        .await;
    let note = app.wait_text("previous-user", |t| !t.is_empty()).await;
    assert!(note.contains(&users[1].name), "{note}");
    app.screenshot("09-another-user").await;

    // About: the dashboard pages, the log folder and diagnostics without secrets.
    app.click("btn-about").await;
    app.el("btn-open-dashboard-profile").await;
    app.el("btn-open-logs").await;
    app.click("btn-copy-diagnostics").await;
    app.wait_el("toast").await;
    app.screenshot("09b-about").await;
    app.click("btn-about-close").await;

    // The log: written, and no token or secret in it, from the app or the HTTP stack.
    let log = app.log_text();
    assert!(log.contains("starting"), "the log file was written: {log}");
    assert!(log.contains("signed in: user"), "{log}");
    let mut secrets = vec![app_secret.clone(), token.clone(), location.clone()];
    secrets.extend(refusals.iter().filter(|t| t.len() > 20).cloned());
    for secret in &secrets {
        let needle = secret.rsplit("token=").next().unwrap_or(secret);
        assert!(!log.contains(needle), "a secret reached the log: {log}");
    }
    assert!(
        !log.contains("eyJ"),
        "something token-shaped reached the log: {log}"
    );

    app.quit().await;
    eprintln!("e2e: app closed");
    tokio::time::timeout(Duration::from_secs(10), server.emulator.shutdown())
        .await
        .expect("the emulator shuts down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_signs_in_a_seeded_user_in_chinese() {
    let app = App::launch(&["--demo"], &[("LANG", "zh_CN.UTF-8")]).await;
    app.el("demo-signin").await;
    assert_eq!(
        app.client
            .find(fantoccini::Locator::Css("html"))
            .await
            .unwrap()
            .attr("lang")
            .await
            .unwrap()
            .as_deref(),
        Some("zh-CN")
    );
    app.screenshot("10-demo-zh").await;
    let first = app
        .all("demo-signin")
        .await
        .into_iter()
        .next()
        .expect("demo users are listed");
    let name = first.prop("textContent").await.unwrap().unwrap_or_default();
    first.click().await.unwrap();
    app.wait_state("signed-in").await;
    let shown = app.wait_text("user-name", |t| !t.is_empty()).await;
    assert!(
        name.contains(shown.trim()),
        "signed in as {shown}, clicked {name}"
    );
    app.wait_text("access-expires", |t| !t.is_empty()).await;
    // The avatar: downloaded by Rust from the emulator and shown as a decoded image.
    let start = Instant::now();
    let shown = "const img = document.querySelector('[data-testid=\"user-avatar\"] img'); \
                 return !!img && img.complete && img.naturalWidth > 0;";
    while app.client.execute(shown, vec![]).await.unwrap() != Value::Bool(true) {
        if start.elapsed() > WAIT {
            let html = "return document.querySelector('[data-testid=\"user-avatar\"]').outerHTML.slice(0, 300);";
            let state = "const done = arguments[arguments.length - 1]; \
                         window.__TAURI__.core.invoke('get_state').then(s => done(String(s.session.user.avatar).slice(0, 40)));";
            panic!(
                "the avatar image never showed: {:?}; the state has {:?}",
                app.client.execute(html, vec![]).await,
                app.client.execute_async(state, vec![]).await,
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.screenshot("11-demo-signed-in-zh").await;
    app.quit().await;
}
