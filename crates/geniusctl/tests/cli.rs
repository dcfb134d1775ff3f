//! End to end: the real geniusctl binary against an in-process emulator on loopback.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use geniusauth_emulator::{Config, Database, Emulator, StartupInfo};
use serde_json::{json, Value};

struct TestServer {
    runtime: tokio::runtime::Runtime,
    emulator: Emulator,
    info: StartupInfo,
}

impl TestServer {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let emulator = runtime
            .block_on(Emulator::start(Config {
                listen: "127.0.0.1:0".parse().unwrap(),
                database: Database::Memory,
                seed: None,
            }))
            .expect("emulator starts");
        let info = emulator.info().clone();
        Self {
            runtime,
            emulator,
            info,
        }
    }

    /// geniusctl with this emulator's demo app in the environment.
    fn ctl(&self) -> Command {
        self.ctl_as(&self.info.app_code, &self.info.app_secret)
    }

    fn ctl_as(&self, app_code: &str, app_secret: &str) -> Command {
        let mut command = bare_ctl();
        command
            .env("GENIUS_SERVER", self.emulator.url())
            .env("GENIUS_APP_CODE", app_code)
            .env("GENIUS_APP_SECRET", app_secret);
        command
    }

    fn uid(&self) -> u64 {
        self.info.users[0].id
    }

    fn login_token(&self) -> String {
        self.emulator
            .login_token(&self.info.app_code, self.uid())
            .unwrap()
    }

    /// Signs the first user in through geniusctl: {refreshToken, accessToken, …}.
    fn sign_in(&self) -> Value {
        let out = run(self.ctl().args(["login-verify", &self.login_token()]));
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.json()
    }

    fn admin_post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.emulator.url());
        self.runtime.block_on(async {
            let response = reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success(), "{path}: {response:?}");
            response.json().await.unwrap()
        })
    }
}

fn bare_ctl() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_geniusctl"));
    command
        .env_remove("GENIUS_SERVER")
        .env_remove("GENIUS_APP_CODE")
        .env_remove("GENIUS_APP_SECRET")
        .env_remove("BROWSER")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null());
    command
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", self.stdout))
    }

    fn lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    fn stderr_json(&self) -> Value {
        serde_json::from_str(self.stderr.trim())
            .unwrap_or_else(|e| panic!("stderr is not JSON ({e}): {}", self.stderr))
    }
}

fn run(command: &mut Command) -> Run {
    finish(command.output().expect("geniusctl runs"))
}

fn run_with_stdin(command: &mut Command, input: &str) -> Run {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    finish(child.wait_with_output().unwrap())
}

fn finish(output: Output) -> Run {
    let run = Run {
        code: output.status.code().expect("exited normally"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    };
    assert!(
        !run.stderr.contains("panicked") && !run.stderr.contains("stack backtrace"),
        "{}",
        run.stderr
    );
    run
}

/// The object's keys, sorted (serde_json maps here do not keep the printed order).
fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn login_verify_prints_identity_and_tokens() {
    let server = TestServer::start();
    let out = run(server.ctl().args([
        "login-verify",
        &server.login_token(),
        "--payload",
        "研发",
        "--valid",
        "2592000",
        "--client-ip",
        "10.0.0.1",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let result = out.json();
    assert_eq!(
        keys(&result),
        [
            "accessToken",
            "avatarUrl",
            "groups",
            "name",
            "refreshToken",
            "userID"
        ]
    );
    assert_eq!(result["userID"], server.uid());
    assert_eq!(result["name"], server.info.users[0].name.as_str());
    assert!(result["groups"].is_array());
    let refresh = result["refreshToken"].as_str().unwrap();
    let inspected = run(bare_ctl().args(["inspect", refresh])).json();
    assert_eq!(inspected["claims"]["payload"], "研发");
    assert_eq!(
        inspected["claims"]["exp"].as_i64().unwrap() - inspected["claims"]["iat"].as_i64().unwrap(),
        2_592_000
    );

    let once = run(server
        .ctl()
        .args(["login-verify", &server.login_token(), "--once"]))
    .json();
    assert_eq!(once["refreshToken"], "");
    assert_eq!(once["accessToken"], "");
}

#[test]
fn refresh_payload_verify_userinfo_users() {
    let server = TestServer::start();
    let login = server.sign_in();
    let refresh_token = login["refreshToken"].as_str().unwrap();

    let refreshed = run(server.ctl().args(["refresh", refresh_token]));
    assert_eq!(refreshed.code, 0, "{}", refreshed.stderr);
    let refreshed = refreshed.json();
    assert_eq!(keys(&refreshed), ["accessToken", "payload"]);

    let edited =
        run(server
            .ctl()
            .args(["payload", refresh_token, "new-payload", "--access-token"]))
        .json();
    assert_eq!(keys(&edited), ["accessToken", "refreshToken"]);
    let plain = run(server.ctl().args(["payload", refresh_token, "other"])).json();
    assert_eq!(keys(&plain), ["refreshToken"]);

    let access = edited["accessToken"].as_str().unwrap();
    let verified = run(server.ctl().args(["verify-access", access])).json();
    assert_eq!(
        verified,
        json!({"uid": server.uid(), "payload": "new-payload"})
    );

    let me = run(server.ctl().args(["userinfo", access])).json();
    assert_eq!(keys(&me), ["avatarUrl", "groups", "name", "userID"]);
    assert_eq!(me["userID"], server.uid());

    let ids: Vec<String> = server.info.users.iter().map(|u| u.id.to_string()).collect();
    let users = run(server.ctl().args(["users", &ids[..2].join(",")])).json();
    assert_eq!(users.as_array().unwrap().len(), 2);
    assert_eq!(users[0]["id"], server.info.users[0].id);
    assert!(users[0]["groups"].is_array());
    let separate = run(server.ctl().args(["users", &ids[0], &ids[1]])).json();
    assert_eq!(separate, users);
}

#[test]
fn inspect_decodes_without_credentials_and_verifies_with_them() {
    let server = TestServer::start();
    let login = server.sign_in();
    let access = login["accessToken"].as_str().unwrap();

    let out = run(bare_ctl().args(["inspect", access]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = out.json();
    assert_eq!(keys(&report), ["claims", "expired", "header"]);
    assert_eq!(report["header"]["alg"], "EdDSA");
    assert_eq!(report["claims"]["type"], "Access");
    assert_eq!(report["claims"]["uid"], server.uid());
    assert_eq!(report["expired"], false);

    let verified = run(server.ctl().args(["inspect", access, "--verify"])).json();
    assert_eq!(verified["verified"], true);

    // Same header and signature, claims changed: a forgery.
    let parts: Vec<&str> = access.split('.').collect();
    let forged_claims = run(bare_ctl().args(["inspect", access])).json()["claims"].clone();
    let mut forged_claims = forged_claims;
    forged_claims["uid"] = json!(999);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged_claims.to_string()),
        parts[2]
    );
    let out = run(server.ctl().args(["inspect", &forged, "--verify"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = out.json();
    assert_eq!(report["verified"], false);
    assert_eq!(report["claims"]["uid"], 999);

    // --verify needs credentials; garbage is a usage error.
    assert_eq!(
        run(bare_ctl().args(["inspect", access, "--verify"])).code,
        2
    );
    assert_eq!(run(bare_ctl().args(["inspect", "not-a-token"])).code, 2);
}

#[test]
fn bulk_revoke_from_stdin_reports_each_token() {
    let server = TestServer::start();
    let good: Vec<String> = (0..3)
        .map(|_| {
            server.sign_in()["refreshToken"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let input = format!(
        "{}\n\n  {}  \nnot-a-real-token\n\n{}\n",
        good[0], good[1], good[2]
    );
    let out = run_with_stdin(server.ctl().args(["revoke", "--file", "-"]), &input);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let lines = out.lines();
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    for (i, line) in lines.iter().enumerate() {
        let expected_prefix = if i == 2 {
            "not-a-real"
        } else {
            &good[if i < 2 { i } else { 2 }][..10]
        };
        assert_eq!(line["token"], format!("{expected_prefix}…"));
    }
    assert_eq!(lines[0], json!({"token": lines[0]["token"], "ok": true}));
    assert_eq!(lines[1]["ok"], true);
    assert_eq!(lines[3]["ok"], true);
    assert_eq!(lines[2]["ok"], false);
    assert_eq!(lines[2]["code"], 31);
    assert!(lines[2]["msg"].is_string());
    assert!(
        !out.stdout.contains(&good[0]),
        "whole tokens must not be printed"
    );

    for token in &good {
        let out = run(server.ctl().args(["refresh", token]));
        assert_eq!(out.code, 1);
        assert_eq!(out.stderr_json()["code"], 31);
    }
}

#[test]
fn revoke_from_arguments_and_file() {
    let server = TestServer::start();
    let first = server.sign_in()["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = server.sign_in()["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = run(server.ctl().args(["revoke", &first]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.lines(),
        [json!({"token": format!("{}…", &first[..10]), "ok": true})]
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.txt");
    std::fs::write(&file, format!("\n{second}\n\n")).unwrap();
    let out = run(server
        .ctl()
        .args(["revoke", "--file", file.to_str().unwrap()]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.lines().len(), 1);

    // Neither tokens nor --file: usage error.
    assert_eq!(run(server.ctl().arg("revoke")).code, 2);
}

#[test]
fn server_refusal_exits_1_with_json_on_stderr() {
    let server = TestServer::start();
    let token = server.login_token();
    assert_eq!(run(server.ctl().args(["login-verify", &token])).code, 0);
    let out = run(server.ctl().args(["login-verify", &token]));
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    let error = out.stderr_json();
    assert_eq!(keys(&error), ["code", "httpStatus", "msg"]);
    assert!(
        out.stderr.starts_with("{\"code\":6,\"msg\":"),
        "{}",
        out.stderr
    );
    assert_eq!(error["code"], 6);
    assert_eq!(error["httpStatus"], 401);

    // Another app's token: 6.
    let login = server.sign_in();
    let app = server.admin_post(
        "/__emulator/apps",
        json!({"name": "Other", "callback": "http://127.0.0.1:47151/callback"}),
    );
    let out = run(server
        .ctl_as(
            app["appCode"].as_str().unwrap(),
            app["appSecret"].as_str().unwrap(),
        )
        .args(["refresh", login["refreshToken"].as_str().unwrap()]));
    assert_eq!(out.code, 1);
    assert_eq!(out.stderr_json()["code"], 6);
}

#[test]
fn usage_errors_exit_2() {
    let server = TestServer::start();
    let long_payload = "x".repeat(33);
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["no-such-command"],
        vec!["users", "abc"],
        vec!["users"],
        vec!["refresh"],
        vec!["login-verify", "t", "--valid", "60"],
        vec!["login-verify", "t", "--valid", "604800", "--once"],
        vec!["login-verify", "t", "--payload", &long_payload],
        vec!["payload", "t", ""],
        vec!["login", "--callback", "http://192.168.1.10:47150/callback"],
    ];
    for args in cases {
        let out = run(server.ctl().args(&args));
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, "", "{args:?}");
    }
    let out = run(bare_ctl().args(["refresh", "t"]));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--app-code"), "{}", out.stderr);
}

#[test]
fn network_trouble_exits_3() {
    let port = free_port();
    let out = run(bare_ctl().args([
        "--server",
        &format!("http://127.0.0.1:{port}"),
        "--app-code",
        "Ab3dE6g8",
        "--app-secret",
        "top-secret-value",
        "refresh",
        "some-refresh-token",
    ]));
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("connect"), "{}", out.stderr);
    assert!(!out.stderr.contains("top-secret-value"));
    assert!(!out.stderr.contains("some-refresh-token"));

    let server = TestServer::start();
    let login = server.sign_in();
    server.admin_post(
        "/__emulator/faults",
        json!({"path": "/api/v1/app/token/refresh/", "kind": "http502", "times": 1}),
    );
    let out = run(server
        .ctl()
        .args(["refresh", login["refreshToken"].as_str().unwrap()]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("502"), "{}", out.stderr);
}

#[test]
fn secret_never_printed() {
    let server = TestServer::start();
    let secret = server.info.app_secret.clone();
    for args in [
        vec!["--help"],
        vec!["refresh", "--help"],
        vec!["refresh", "x"],
    ] {
        let out = run(server.ctl().args(&args));
        assert!(!out.stdout.contains(&secret), "{args:?}");
        assert!(!out.stderr.contains(&secret), "{args:?}");
    }
    let help = run(server.ctl().arg("--help"));
    assert!(help.stdout.contains("GENIUS_APP_SECRET"));
}

/// Runs `geniusctl login` for a fresh app whose registered callback is a free loopback port.
/// `browser_script` (unix only) is installed as $BROWSER; without it, --no-browser is used.
/// Returns the child, the app code, and a receiver of its stderr lines.
fn spawn_login(
    server: &TestServer,
    extra: &[&str],
    browser: Option<&std::path::Path>,
) -> (std::process::Child, String, mpsc::Receiver<String>) {
    let port = free_port();
    let callback = format!("http://127.0.0.1:{port}/callback");
    let app = server.admin_post(
        "/__emulator/apps",
        json!({"name": "CLI login", "callback": callback}),
    );
    let app_code = app["appCode"].as_str().unwrap().to_owned();
    let mut command = server.ctl_as(&app_code, app["appSecret"].as_str().unwrap());
    command.args(["login", "--callback", &callback, "--timeout", "30"]);
    command.args(extra);
    match browser {
        Some(script) => {
            command.env("BROWSER", script);
        }
        None => {
            command.arg("--no-browser");
        }
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, app_code, lines)
}

/// Plays the browser: login page, the emulator's 302 to the callback, the callback itself.
fn browse_and_sign_in(server: &TestServer, login_url: &str, app_code: &str) {
    assert_eq!(
        login_url,
        format!("{}/?appCode={app_code}", server.emulator.url())
    );
    server.runtime.block_on(async {
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let page = browser.get(login_url).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let authorize = format!(
            "{}/__emulator/authorize?appCode={app_code}&uid={}",
            server.emulator.url(),
            server.uid()
        );
        let redirect = browser.get(authorize).send().await.unwrap();
        assert_eq!(redirect.status(), 302);
        let location = redirect.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.contains("token="), "{location}");
        // A stray request first (browsers ask for favicons): ignored, the wait goes on.
        let origin = location.split("/callback").next().unwrap().to_owned();
        let stray = browser
            .get(format!("{origin}/favicon.ico"))
            .send()
            .await
            .unwrap();
        assert_eq!(stray.status(), 404);
        let done = browser.get(&location).send().await.unwrap();
        assert_eq!(done.status(), 200);
        let html = done.text().await.unwrap();
        assert!(html.contains("close this tab"), "{html}");
        assert!(html.contains("关闭"), "{html}");
    });
}

fn wait_for_line(lines: &mpsc::Receiver<String>, needle: &str) -> String {
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no stderr line containing {needle:?}"));
        if line.contains(needle) {
            return line;
        }
    }
}

fn url_in(line: &str) -> String {
    line.split_whitespace()
        .find(|word| word.starts_with("http://"))
        .expect("a URL in the line")
        .to_owned()
}

fn finish_login(child: std::process::Child, server: &TestServer) {
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["userID"], server.uid());
    let refresh = result["refreshToken"].as_str().unwrap();
    assert!(!refresh.is_empty());
}

#[test]
fn login_with_no_browser_flag() {
    let server = TestServer::start();
    let (child, app_code, lines) = spawn_login(&server, &["--payload", "cli"], None);
    let login_url = url_in(&wait_for_line(&lines, "Open this URL"));
    wait_for_line(&lines, "Waiting");
    browse_and_sign_in(&server, &login_url, &app_code);
    finish_login(child, &server);
}

#[cfg(unix)]
#[test]
fn login_through_browser_variable() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let opened = dir.path().join("opened-url");
    let script = dir.path().join("fake-browser");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$1\" > '{}'\n", opened.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (child, app_code, lines) = spawn_login(&server, &[], Some(&script));
    wait_for_line(&lines, "Waiting");
    let mut login_url = String::new();
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(&opened) {
            if text.ends_with('\n') {
                login_url = text.trim().to_owned();
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!login_url.is_empty(), "the fake browser was not started");
    browse_and_sign_in(&server, &login_url, &app_code);
    finish_login(child, &server);
}

#[test]
fn login_gives_up_after_timeout() {
    let port = free_port();
    let out = run(bare_ctl().args([
        "--app-code",
        "Ab3dE6g8",
        "--app-secret",
        "s",
        "login",
        "--no-browser",
        "--timeout",
        "1",
        "--callback",
        &format!("http://127.0.0.1:{port}/callback"),
    ]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("within 1 s"), "{}", out.stderr);
}
