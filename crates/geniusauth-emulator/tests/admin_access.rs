//! The admin API's protection (emulator-only; no server file to follow): Host and Origin
//! checks, JSON-only state changes, the optional bearer token, `--no-admin`, the refusal to
//! listen off loopback with an open admin API, and a private `--db` file.

mod common;

use common::*;
use geniusauth_emulator::{AdminAccess, Config, Database, Emulator, Error};
use reqwest::{Method, StatusCode};
use serde_json::json;

fn port_of(h: &Harness) -> u16 {
    h.info
        .url
        .rsplit(':')
        .next()
        .expect("port")
        .parse()
        .expect("port")
}

async fn get_with(h: &Harness, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = h.http.get(h.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    reply(request.send().await.expect("send")).await
}

#[tokio::test]
async fn host_must_name_the_emulator() {
    let h = Harness::start().await;
    let port = port_of(&h);
    let ok = get_with(
        &h,
        "/__emulator/info",
        &[("host", &format!("localhost:{port}"))],
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let rebound = format!("rebind.example:{port}");
    let r = get_with(&h, "/__emulator/info", &[("host", &rebound)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.json()["error"]
        .as_str()
        .expect("error")
        .contains("DNS rebinding"));
    assert!(!r.text.contains(&h.info.app_secret));
    // The login page's authorize route gets the Host check too.
    let authorize = format!(
        "/__emulator/authorize?appCode={}&uid={}",
        h.info.app_code,
        h.uid()
    );
    let r = get_with(&h, &authorize, &[("host", &rebound)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.headers.get("location").is_none());
    let r = get_with(&h, &authorize, &[]).await;
    assert_eq!(r.status, StatusCode::FOUND);
}

#[tokio::test]
async fn origin_must_be_the_emulators_own() {
    let h = Harness::start().await;
    let port = port_of(&h);
    let post = |origin: String| {
        let request = h
            .http
            .post(h.url("/__emulator/users"))
            .header("origin", origin)
            .json(&json!({"name": "Mallory", "groups": ["研发"]}));
        async move { reply(request.send().await.expect("send")).await }
    };
    let r = post("https://attacker.example".into()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(post("null".into()).await.status, StatusCode::FORBIDDEN);
    let r = post(format!("http://localhost:{port}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = post(h.info.url.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// A cross-origin "simple" request cannot send `Content-Type: application/json`.
#[tokio::test]
async fn state_changes_need_a_json_content_type() {
    let h = Harness::start().await;
    let revoke = format!("/__emulator/users/{}/revoke-all", h.uid());
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut request = h.http.post(h.url(&revoke)).body("{}");
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let r = reply(request.send().await.expect("send")).await;
        assert_eq!(
            r.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
    }
    let r = reply(
        h.http
            .delete(h.url("/__emulator/faults"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Nothing was revoked: the oid is still the first one.
    let token = h.login_token(h.uid()).await;
    assert_eq!(claims(&token)["oid"], 1);
    let r = h.admin(Method::POST, &revoke, None).await;
    assert_eq!(r.json()["oid"], 2);
}

#[tokio::test]
async fn an_admin_token_is_required_when_configured() {
    let h = Harness::start_with(Config {
        admin: AdminAccess::Token("s3cret-token".into()),
        ..Config::ephemeral()
    })
    .await;
    for auth in [None, Some("Bearer wrong"), Some("s3cret-token")] {
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", *a)).collect();
        let r = get_with(&h, "/__emulator/info", &headers).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth:?}");
    }
    let r = get_with(
        &h,
        "/__emulator/info",
        &[("authorization", "Bearer s3cret-token")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // Production routes and the login page are not behind the token.
    assert_eq!(h.call(Method::GET, SERVER_KEYS, json!({})).await.code(), 0);
    let page = get_with(&h, &format!("/?appCode={}", h.info.app_code), &[]).await;
    assert_eq!(page.status, StatusCode::OK);
}

/// `--no-admin`: the HTTP admin API is gone, the login page and `Emulator::login_token`
/// (the embedded demo's way in) stay.
#[tokio::test]
async fn the_admin_api_can_be_disabled() {
    let h = Harness::start_with(Config {
        admin: AdminAccess::Disabled,
        ..Config::ephemeral()
    })
    .await;
    for path in [
        "/__emulator/info",
        "/__emulator/requests",
        "/__emulator/nope",
    ] {
        let r = get_with(&h, path, &[]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(r.json()["error"]
            .as_str()
            .expect("error")
            .contains("--no-admin"));
    }
    let r = h
        .admin(
            Method::POST,
            "/__emulator/login-token",
            Some(json!({"appCode": h.info.app_code, "uid": h.uid()})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let page = get_with(&h, &format!("/?appCode={}", h.info.app_code), &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    let authorize = format!(
        "/__emulator/authorize?appCode={}&uid={}",
        h.info.app_code,
        h.uid()
    );
    assert_eq!(
        get_with(&h, &authorize, &[]).await.status,
        StatusCode::FOUND
    );
    let token = h
        .emulator
        .login_token(&h.info.app_code, h.uid())
        .expect("in-process token");
    let data = h
        .call(Method::POST, VERIFY, json!({"token": token}))
        .await
        .data();
    assert_eq!(data["userID"], h.uid());
}

#[tokio::test]
async fn an_open_admin_api_is_refused_off_loopback() {
    let refused = Emulator::start(Config {
        listen: "0.0.0.0:0".parse().expect("addr"),
        ..Config::ephemeral()
    })
    .await;
    let Err(error @ Error::OpenAdminOffLoopback { .. }) = refused else {
        panic!("an open admin API off loopback must be refused");
    };
    let message = error.to_string();
    assert!(
        message.contains("--admin-token") && message.contains("--no-admin"),
        "{message}"
    );
    let empty = Emulator::start(Config {
        admin: AdminAccess::Token(String::new()),
        ..Config::ephemeral()
    })
    .await;
    assert!(empty.is_err(), "an empty admin token is refused");
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("emulator.sqlite");
    let h = Harness::start_with(Config {
        database: Database::File(path.clone()),
        ..Config::ephemeral()
    })
    .await;
    h.login_token(h.uid()).await;
    for file in [path.clone(), dir.path().join("emulator.sqlite-wal")] {
        let mode = std::fs::metadata(&file)
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    }
}
