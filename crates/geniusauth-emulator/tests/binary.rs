//! The real binary: its first stdout line, and persistence across a restart with --db.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::*;
use geniusauth_emulator::StartupInfo;
use reqwest::Method;
use serde_json::{json, Map, Value};

struct Running {
    child: Child,
    info: StartupInfo,
    first_line: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_geniusauth-emulator"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn emulator");
    let stdout = child.stdout.take().expect("stdout");
    let mut first_line = String::new();
    BufReader::new(stdout)
        .read_line(&mut first_line)
        .expect("first line");
    let info: StartupInfo = serde_json::from_str(&first_line)
        .unwrap_or_else(|e| panic!("first line is StartupInfo JSON ({e}): {first_line:?}"));
    Running {
        child,
        info,
        first_line,
    }
}

async fn call(info: &StartupInfo, method: Method, path: &str, params: Value) -> Reply {
    let signed: Map<String, Value> = signed_as(&info.app_code, &info.app_secret, params, now());
    send(&client(), &info.url, method, path, &signed).await
}

#[tokio::test]
async fn first_line_describes_the_demo_app() {
    let running = spawn(&["--listen", "127.0.0.1:0", "--memory"]);
    let line: Value = serde_json::from_str(&running.first_line).expect("json");
    let mut keys: Vec<&String> = line.as_object().expect("object").keys().collect();
    keys.sort();
    assert_eq!(keys, ["appCode", "appSecret", "url", "users"]);
    let info = &running.info;
    assert!(info.url.starts_with("http://127.0.0.1:") && !info.url.ends_with(":0"));
    assert_eq!(info.app_code.len(), 8);
    assert!(info.app_code.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(info.app_secret.len(), 100);
    assert!(info.users.len() >= 5);
    assert!(
        info.users.iter().any(|u| !u.name.is_ascii()),
        "Chinese names"
    );
    assert!(
        info.users.iter().any(|u| u.name.is_ascii()),
        "English names"
    );
    // It serves.
    let keys = call(info, Method::GET, SERVER_KEYS, json!({})).await;
    assert!(keys.data()["jwt"].is_string());
}

#[cfg(unix)]
#[tokio::test]
async fn exits_cleanly_on_sigterm() {
    let mut running = spawn(&["--listen", "127.0.0.1:0"]);
    let status = Command::new("kill")
        .args(["-TERM", &running.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = running.child.wait().expect("wait");
    assert!(exit.success(), "exit status {exit:?}");
}

#[tokio::test]
async fn state_survives_a_restart_with_the_same_db() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("emulator.sqlite");
    let db = db.to_str().expect("utf-8 path");
    let args = ["--listen", "127.0.0.1:0", "--db", db];

    let first = spawn(&args);
    let uid = first.info.users[0].id;
    let admin = client();
    let login = |info: &StartupInfo| {
        let admin = admin.clone();
        let url = format!("{}/__emulator/login-token", info.url);
        let app_code = info.app_code.clone();
        async move {
            let r = reply(
                admin
                    .post(url)
                    .json(&json!({"appCode": app_code, "uid": uid}))
                    .send()
                    .await
                    .expect("login-token"),
            )
            .await;
            r.json()["token"].as_str().expect("token").to_owned()
        }
    };
    let sign_in = |info: StartupInfo, token: String| async move {
        call(
            &info,
            Method::POST,
            VERIFY,
            json!({"token": token, "grantType": "refresh_token", "payload": "kept"}),
        )
        .await
        .data()
    };
    let kept = sign_in(first.info.clone(), login(&first.info).await).await;
    let revoked = sign_in(first.info.clone(), login(&first.info).await).await;
    let pending = login(&first.info).await;
    let r = call(
        &first.info,
        Method::DELETE,
        REFRESH,
        json!({"token": revoked["refreshToken"]}),
    )
    .await;
    assert_eq!(r.code(), 0);
    let old_keys = call(&first.info, Method::GET, SERVER_KEYS, json!({}))
        .await
        .data();
    let first_info = first.info.clone();
    drop(first);

    let second = spawn(&args);
    let info = second.info.clone();
    // Same demo app and users, read from the database rather than generated again.
    assert_eq!(info.app_code, first_info.app_code);
    assert_eq!(info.app_secret, first_info.app_secret);
    assert_eq!(
        serde_json::to_value(&info.users).expect("users"),
        serde_json::to_value(&first_info.users).expect("users")
    );
    let new_keys = call(&info, Method::GET, SERVER_KEYS, json!({}))
        .await
        .data();
    assert_eq!(new_keys, old_keys, "same signing key and CA");
    let refreshed = call(
        &info,
        Method::POST,
        REFRESH,
        json!({"token": kept["refreshToken"]}),
    )
    .await
    .data();
    assert_eq!(refreshed["payload"], "kept");
    let verified = call(
        &info,
        Method::POST,
        ACCESS_VERIFY,
        json!({"token": kept["accessToken"]}),
    )
    .await
    .data();
    assert_eq!(verified["uid"], uid);
    call(
        &info,
        Method::POST,
        REFRESH,
        json!({"token": revoked["refreshToken"]}),
    )
    .await
    .assert_error(31, 403);
    call(
        &info,
        Method::POST,
        ACCESS_VERIFY,
        json!({"token": revoked["accessToken"]}),
    )
    .await
    .assert_error(31, 403);
    // A login token minted before the restart is still usable, once.
    let data = call(&info, Method::POST, VERIFY, json!({"token": pending}))
        .await
        .data();
    assert_eq!(data["userID"], uid);
    call(&info, Method::POST, VERIFY, json!({"token": pending}))
        .await
        .assert_error(6, 401);
}

#[tokio::test]
async fn seed_file_replaces_the_default_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = dir.path().join("seed.json");
    std::fs::write(
        &seed,
        json!({
            "apps": [{"name": "Seeded", "callback": "http://localhost:1/cb", "appCode": "Seed1234",
                      "appSecret": "s3cr3t"}],
            "users": [{"id": 42, "name": "种子用户", "groups": ["研发"]}]
        })
        .to_string(),
    )
    .expect("write seed");
    let running = spawn(&[
        "--listen",
        "127.0.0.1:0",
        "--seed",
        seed.to_str().expect("path"),
    ]);
    assert_eq!(running.info.app_code, "Seed1234");
    assert_eq!(running.info.app_secret, "s3cr3t");
    assert_eq!(running.info.users.len(), 1);
    assert_eq!(running.info.users[0].id, 42);
    let data = call(&running.info, Method::GET, USER_INFO, json!({"id": "42"}))
        .await
        .data();
    assert_eq!(data[0]["name"], "种子用户");
}

/// `POST /__emulator/users/{id}/revoke-all` bumps the user's operation id in the database: after
/// a restart with the same --db, the tokens issued before it stay revoked, the login token
/// minted before it stays unusable, and new sign-ins carry the new oid.
#[tokio::test]
async fn revoke_all_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("emulator.sqlite");
    let db = db.to_str().expect("utf-8 path");
    let args = ["--listen", "127.0.0.1:0", "--db", db];
    let admin = client();
    let admin_post = |info: &StartupInfo, path: String, body: Value| {
        let request = admin.post(format!("{}{path}", info.url)).json(&body);
        async move {
            let r = reply(request.send().await.expect("admin call")).await;
            assert_eq!(r.status, reqwest::StatusCode::OK, "{path}: {}", r.text);
            r.json()
        }
    };

    let first = spawn(&args);
    let info = first.info.clone();
    let uid = info.users[0].id;
    let other_uid = info.users[1].id;
    let login_token = |info: &StartupInfo, uid: u64| {
        admin_post(
            info,
            "/__emulator/login-token".to_owned(),
            json!({"appCode": info.app_code, "uid": uid}),
        )
    };
    let sign_in = |info: StartupInfo, token: Value| async move {
        call(
            &info,
            Method::POST,
            VERIFY,
            json!({"token": token["token"], "grantType": "refresh_token"}),
        )
        .await
        .data()
    };
    let revoked = sign_in(info.clone(), login_token(&info, uid).await).await;
    let bystander = sign_in(info.clone(), login_token(&info, other_uid).await).await;
    let pending = login_token(&info, uid).await;
    let oid_before = claims(revoked["refreshToken"].as_str().expect("refresh"))["oid"]
        .as_u64()
        .expect("oid");
    let bumped = admin_post(
        &info,
        format!("/__emulator/users/{uid}/revoke-all"),
        json!({}),
    )
    .await;
    assert_eq!(bumped["oid"].as_u64(), Some(oid_before + 1));
    drop(first);

    let second = spawn(&args);
    let info = second.info.clone();
    call(
        &info,
        Method::POST,
        REFRESH,
        json!({"token": revoked["refreshToken"]}),
    )
    .await
    .assert_error(31, 403);
    call(
        &info,
        Method::POST,
        ACCESS_VERIFY,
        json!({"token": revoked["accessToken"]}),
    )
    .await
    .assert_error(31, 403);
    call(
        &info,
        Method::POST,
        VERIFY,
        json!({"token": pending["token"]}),
    )
    .await
    .assert_error(6, 401);
    // Another user's tokens were not touched.
    let refreshed = call(
        &info,
        Method::POST,
        REFRESH,
        json!({"token": bystander["refreshToken"]}),
    )
    .await
    .data();
    assert!(refreshed["access_token"].is_string());
    // A new sign-in after the restart carries the bumped oid and works.
    let fresh = sign_in(info.clone(), login_token(&info, uid).await).await;
    assert_eq!(
        claims(fresh["refreshToken"].as_str().expect("refresh"))["oid"].as_u64(),
        Some(oid_before + 1)
    );
    call(
        &info,
        Method::POST,
        REFRESH,
        json!({"token": fresh["refreshToken"]}),
    )
    .await
    .data();
}

/// `--clock-skew -600`: the server's wall clock is ten minutes behind (internal/api/
/// middlewares/app.go's `time.Now()` and net/http's `Date`).
#[tokio::test]
async fn clock_skew_flag() {
    let running = spawn(&["--listen", "127.0.0.1:0", "--clock-skew", "-600"]);
    let r = reply(
        client()
            .get(format!("{}/__emulator/info", running.info.url))
            .send()
            .await
            .expect("info"),
    )
    .await;
    assert!((date_of(&r) - (now() - 600)).abs() <= 2, "{:?}", r.headers);
    let info = &running.info;
    let stale = signed_as(&info.app_code, &info.app_secret, json!({}), now());
    send(&client(), &info.url, Method::GET, SERVER_KEYS, &stale)
        .await
        .assert_error(9, 403);
}

/// Off loopback without --admin-token or --no-admin the binary refuses to start.
#[test]
fn refuses_an_open_admin_api_off_loopback() {
    let output = Command::new(env!("CARGO_BIN_EXE_geniusauth-emulator"))
        .args(["--listen", "0.0.0.0:0", "--memory"])
        .output()
        .expect("run");
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--admin-token") && stderr.contains("--no-admin"),
        "{stderr}"
    );
}

/// `--grpc-listen` puts the service's https URL in the first line; without it there is none.
#[test]
fn grpc_url_is_announced_only_when_served() {
    let served = spawn(&[
        "--listen",
        "127.0.0.1:0",
        "--grpc-listen",
        "127.0.0.1:0",
        "--quiet",
    ]);
    let url = served.info.grpc_url.clone().expect("grpcUrl");
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    assert!(
        served.first_line.contains("\"grpcUrl\":"),
        "{}",
        served.first_line
    );
    let plain = spawn(&["--listen", "127.0.0.1:0", "--quiet"]);
    assert_eq!(plain.info.grpc_url, None);
    assert!(!plain.first_line.contains("grpcUrl"));
}
