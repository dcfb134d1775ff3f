//! The session's other states through the real window: offline while the server is unreachable
//! (and back), expired after the user's tokens are revoked elsewhere, the under-24-hours warning;
//! and the polish around them: the keyboard alone, dark mode, a 640×480 window.

use std::time::{Duration, Instant};

use fantoccini::key::Key;
use serde_json::{json, Value};

use crate::harness::{free_port, App, WAIT};
use crate::{set_up_profile, Server, REFRESH_ROUTE};

/// Presses Tab until the element with `testid` has the focus; panics after 80 presses.
async fn tab_to(app: &App, testid: &str) {
    let focused = "return document.activeElement?.dataset?.testid ?? null;";
    for _ in 0..80 {
        if app.client.execute(focused, vec![]).await.unwrap() == json!(testid) {
            return;
        }
        let active = app.client.active_element().await.unwrap();
        active
            .send_keys(&char::from(Key::Tab).to_string())
            .await
            .unwrap();
    }
    panic!("Tab never reached {testid}");
}

/// Changes the active profile's app secret through its edit dialog.
async fn set_secret(app: &App, secret: &str) {
    app.click("profile-switcher").await;
    app.click("btn-edit-profile").await;
    app.el("dialog-profile").await;
    app.type_into("profile-secret", secret).await;
    app.click("btn-save-profile").await;
    wait_until(
        app,
        "the profile dialog to close",
        "return !document.querySelector('[data-testid=\"dialog-profile\"]');",
    )
    .await;
}

/// The relative luminance (0 black … 1 white) of an element's computed background colour.
async fn background_luminance(app: &App, css: &str) -> f64 {
    let script =
        "const c = getComputedStyle(document.querySelector(arguments[0])).backgroundColor; \
                  return c.match(/[\\d.]+/g).slice(0, 3).map(Number);";
    let rgb = app.client.execute(script, vec![json!(css)]).await.unwrap();
    let channel = |i: usize| {
        let c = rgb[i].as_f64().unwrap() / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2)
}

async fn wait_until(app: &App, what: &str, script: &str) {
    let start = Instant::now();
    while app.client.execute(script, vec![]).await.unwrap() != Value::Bool(true) {
        assert!(start.elapsed() < WAIT, "{what} never happened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_goes_offline_and_back_expires_when_revoked_and_warns_before_its_end() {
    let server = Server::start().await;
    let callback = format!("http://localhost:{}/callback", free_port());
    let (app_code, app_secret) = server.register_app("E2E 状态", &callback).await;
    let user = server.emulator.info().users[2].clone();

    let app = App::launch(&[], &[("LANG", "en_US.UTF-8")]).await;
    set_up_profile(&app, &server, &app_code, &app_secret, &callback).await;
    let token = server.emulator.login_token(&app_code, user.id).unwrap();
    app.type_into("signin-paste-input", &token).await;
    app.click("signin-paste-submit").await;
    app.wait_state("signed-in").await;
    app.wait_text("user-name", |t| t.trim() == user.name).await;
    let avatar = "const img = document.querySelector('[data-testid=\"user-avatar\"] img'); \
                  return !!img && img.complete && img.naturalWidth > 0;";
    wait_until(&app, "the avatar image", avatar).await;
    app.screenshot("19-signed-in").await;

    // The keyboard alone: Tab reaches "Refresh", the focus is visible, Enter presses it.
    app.client
        .execute("document.activeElement?.blur(); window.focus();", vec![])
        .await
        .unwrap();
    tab_to(&app, "btn-refresh").await;
    let ring = "const s = getComputedStyle(document.activeElement); \
                return s.outlineStyle !== 'none' || s.boxShadow !== 'none';";
    assert_eq!(
        app.client.execute(ring, vec![]).await.unwrap(),
        json!(true),
        "the focused button shows a focus ring"
    );
    app.screenshot("20-keyboard-focus").await;
    let before = server.count(REFRESH_ROUTE).await;
    let active = app.client.active_element().await.unwrap();
    active
        .send_keys(&char::from(Key::Enter).to_string())
        .await
        .unwrap();
    server.wait_count(REFRESH_ROUTE, before + 1).await;

    // The server drops every refresh: the session shows offline and is kept.
    let path = "/api/v1/app/token/refresh/";
    server
        .admin("/__emulator/faults", json!({"path": path, "kind": "drop"}))
        .await;
    app.click("btn-refresh").await;
    app.wait_state("offline").await;
    app.el("offline-banner").await;
    assert_eq!(app.text("user-name").await.trim(), user.name);
    assert!(app.text("refresh-expires").await.trim().len() > 1);
    app.screenshot("21-offline").await;
    // Back online: the next refresh works and the session is signed in again.
    server.clear_faults().await;
    app.click("btn-refresh").await;
    app.wait_state("signed-in").await;
    assert_eq!(app.text("user-name").await.trim(), user.name);

    // Dark mode: the page turns dark and back.
    let light = background_luminance(&app, "body").await;
    app.click("theme-dark").await;
    let start = Instant::now();
    let dark = loop {
        let now = background_luminance(&app, "body").await;
        if now < 0.1 || start.elapsed() > WAIT {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        dark < 0.1 && light > 0.5,
        "dark mode background luminance {dark}, light {light}"
    );
    app.screenshot("22-dark").await;
    app.click("theme-light").await;

    // 640×480: nothing sticks out sideways, and the session's buttons can still be reached.
    app.client.set_window_size(640, 480).await.unwrap();
    wait_until(
        &app,
        "the window to shrink",
        "return window.innerWidth <= 640;",
    )
    .await;
    let overflow = "return document.documentElement.scrollWidth <= window.innerWidth + 1;";
    assert_eq!(
        app.client.execute(overflow, vec![]).await.unwrap(),
        json!(true),
        "no horizontal scrolling at 640×480"
    );
    app.screenshot("23-small-640x480").await;
    app.click("btn-revoke").await;
    app.el("dialog-revoke").await;
    app.screenshot("23-small-revoke-dialog").await;
    app.click("btn-dialog-cancel").await;
    app.client.set_window_size(900, 640).await.unwrap();

    // A refused app secret (code 6) is not the network and not the end of the session: it is
    // kept, signed in, and retried; once the secret is right again the manual retry works.
    set_secret(&app, "wrong-secret").await;
    app.click("btn-refresh").await;
    app.el("retry-banner").await;
    app.wait_state("signed-in").await;
    assert_eq!(app.text("user-name").await.trim(), user.name);
    app.client
        .execute(
            "document.querySelector('[data-testid=\"retry-banner\"]').scrollIntoView({block: 'center'});",
            vec![],
        )
        .await
        .unwrap();
    app.screenshot("24-retry-after-code-6").await;
    set_secret(&app, &app_secret).await;
    app.click("btn-refresh").await;
    wait_until(
        &app,
        "the retry banner to go",
        "return !document.querySelector('[data-testid=\"retry-banner\"]');",
    )
    .await;
    app.wait_state("signed-in").await;

    // Revoked elsewhere (every token of the user): the next refresh shows the session expired.
    server
        .admin(
            &format!("/__emulator/users/{}/revoke-all", user.id),
            json!({}),
        )
        .await;
    app.click("btn-refresh").await;
    app.wait_state("expired").await;
    app.el("expired-panel").await;
    app.el("btn-signin-again").await;
    app.screenshot("25-expired").await;

    // A session with less than a day left: the refresh token was issued six and a half days ago
    // by the server's clock, so its seven days end in twelve hours.
    let token = server.emulator.login_token(&app_code, user.id).unwrap();
    let six_and_a_half_days = -(6 * 86_400 + 12 * 3_600);
    server
        .admin(
            "/__emulator/clock",
            json!({"offsetSeconds": six_and_a_half_days}),
        )
        .await;
    app.type_into("signin-paste-input", &token).await;
    app.click("signin-paste-submit").await;
    app.wait_state("signed-in").await;
    app.el("refresh-expiring-soon").await;
    // The new sign-in superseded the last session's failure: no stale banner.
    assert_eq!(app.error_text().await, None);
    app.screenshot("26-expiring-soon").await;

    app.quit().await;
    tokio::time::timeout(Duration::from_secs(10), server.emulator.shutdown())
        .await
        .expect("the emulator shuts down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_keyring_the_app_says_so_and_stores_in_a_file_only_when_asked() {
    let server = Server::start().await;
    let callback = format!("http://localhost:{}/callback", free_port());
    let (app_code, app_secret) = server.register_app("E2E 无密钥环", &callback).await;
    let user = server.emulator.info().users[0].clone();

    // No D-Bus session bus at all: no Secret Service.
    let no_bus = [
        ("LANG", "en_US.UTF-8"),
        ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus"),
    ];
    let app = App::launch(&[], &no_bus).await;
    app.el("storage-banner").await;
    app.screenshot("30-no-keyring").await;
    let secrets = app.data_dir().join("secrets.json");
    assert!(!secrets.exists(), "nothing is written before the opt-in");

    // The explicit opt-in: then the profile and the session are kept in a 0600 file, and the
    // UI says so.
    app.click("storage-optin").await;
    wait_until(
        &app,
        "the storage banner to go",
        "return !document.querySelector('[data-testid=\"storage-banner\"]');",
    )
    .await;
    set_up_profile(&app, &server, &app_code, &app_secret, &callback).await;
    let token = server.emulator.login_token(&app_code, user.id).unwrap();
    app.type_into("signin-paste-input", &token).await;
    app.click("signin-paste-submit").await;
    app.wait_state("signed-in").await;
    app.el("storage-file-warning").await;
    app.screenshot("31-file-store").await;
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&secrets).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "secrets.json is private to the user");
    let stored = std::fs::read_to_string(&secrets).unwrap();
    assert!(
        stored.contains(&app_secret),
        "the secret is in the file the user chose"
    );
    app.quit().await;
}

/// A settings.json cut off mid-write (as a plain write could leave it): the app starts on
/// defaults, keeps the file under a `.bad-` name, and the banner says so with that path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_settings_file_is_set_aside_and_the_banner_says_where() {
    let cut_off = br#"{
  "settings": {
    "profiles": [
      {
        "id": "p1",
        "name": "NCUOS",
        "server": "https://v.ncuos.com",
        "app"#;
    let app = App::launch_with_data(
        &[],
        &[("LANG", "en_US.UTF-8")],
        &[("settings.json", cut_off)],
    )
    .await;
    app.el("settings-damaged-banner").await;
    let banner = app.text("settings-damaged-banner").await;
    assert!(banner.contains("settings file was damaged"), "{banner}");
    assert!(banner.contains("ends in the middle"), "{banner}");
    let moved_to = app.text("settings-damaged-path").await;
    let moved_to = std::path::PathBuf::from(moved_to.trim());
    assert_eq!(moved_to.parent(), Some(app.data_dir().as_path()));
    assert!(moved_to
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("settings.json.bad-"));
    assert_eq!(std::fs::read(&moved_to).unwrap(), cut_off, "kept as it was");
    // The app goes on: the setup screen, with the banner above it.
    app.el("setup").await;
    app.screenshot("32-settings-damaged").await;
    app.click("btn-dismiss-settings-damaged").await;
    wait_until(
        &app,
        "the banner to go",
        "return !document.querySelector('[data-testid=\"settings-damaged-banner\"]');",
    )
    .await;
    assert!(moved_to.exists());
    app.quit().await;
}
