//! Registering apps through the admin API and the seed file: the dashboard's callback rule
//! (internal/api/controllers/user/dev/app.go: checkCallback) unless --allow-any-callback.

mod common;

use common::*;
use geniusauth_emulator::{Config, Emulator};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn create_app(h: &Harness, callback: &str) -> Reply {
    h.admin(
        Method::POST,
        "/__emulator/apps",
        Some(json!({"name": "Rule check", "callback": callback})),
    )
    .await
}

/// internal/api/controllers/user/dev/app.go: a non-https callback only on host `localhost`.
#[tokio::test]
async fn admin_apps_follow_the_dashboard_callback_rule() {
    let h = Harness::start().await;
    for accepted in [
        "http://localhost:47151/callback",
        "https://example.com/sso/callback",
        "https://127.0.0.1:8443/cb",
    ] {
        let r = create_app(&h, accepted).await;
        assert_eq!(r.status, StatusCode::OK, "{accepted}: {}", r.text);
        assert_eq!(r.json()["appCode"].as_str().map(str::len), Some(8));
    }
    for refused in [
        "http://127.0.0.1:47151/callback",
        "http://[::1]:47151/callback",
        "http://LOCALHOST:47151/callback",
        "http://example.com/callback",
    ] {
        let r = create_app(&h, refused).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{refused}: {}", r.text);
        let error = r.json()["error"].as_str().expect("error").to_owned();
        assert!(error.contains("exactly `localhost`"), "{error}");
        assert!(error.contains("--allow-any-callback"), "{error}");
    }
    // Not a URL at all: refused in every mode.
    let r = create_app(&h, "/callback").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

/// internal/api/controllers/user/dev/app.go: the rule is the dashboard's; the emulator can be
/// told to skip it.
#[tokio::test]
async fn allow_any_callback_skips_the_rule() {
    let h = Harness::start_with(Config {
        allow_any_callback: true,
        ..Config::ephemeral()
    })
    .await;
    let r = create_app(&h, "http://127.0.0.1:47151/callback").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = create_app(&h, "javascript:alert(1)").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
}

/// internal/api/controllers/user/dev/app.go: seeded apps are checked like registered ones.
#[tokio::test]
async fn seed_file_callbacks_follow_the_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = dir.path().join("seed.json");
    std::fs::write(
        &seed,
        json!({"apps": [{"name": "Seeded", "callback": "http://127.0.0.1:1/cb"}]}).to_string(),
    )
    .expect("write seed");
    let refused = Emulator::start(Config {
        seed: Some(seed.clone()),
        ..Config::ephemeral()
    })
    .await;
    let error = refused.err().expect("refused").to_string();
    assert!(error.contains("exactly `localhost`"), "{error}");
    let allowed = Emulator::start(Config {
        seed: Some(seed),
        allow_any_callback: true,
        ..Config::ephemeral()
    })
    .await
    .expect("allowed with allow_any_callback");
    allowed.shutdown().await;
}
