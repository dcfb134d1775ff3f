//! End to end: the real geniusctl binary against the real emulator binary, a separate process
//! on a free loopback port (see `emulator_process`).

mod emulator_process;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use emulator_process::EmulatorProcess;
use geniusauth::mask::{fingerprint, mask, HIDDEN};
use geniusauth_emulator::StartupInfo;
use serde_json::{json, Value};

const REFRESH_ROUTE: &str = "/api/v1/app/token/refresh/";

struct TestServer {
    /// For the admin API and the simulated browser.
    runtime: tokio::runtime::Runtime,
    emulator: EmulatorProcess,
    info: StartupInfo,
}

impl TestServer {
    fn start() -> Self {
        geniusauth::tls::install_crypto_provider();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let emulator = EmulatorProcess::start();
        let info = emulator.info.clone();
        Self {
            runtime,
            emulator,
            info,
        }
    }

    fn url(&self) -> &str {
        self.emulator.url()
    }

    /// geniusctl with this emulator's demo app in the environment.
    fn ctl(&self) -> Command {
        self.ctl_as(&self.info.app_code, &self.info.app_secret)
    }

    fn ctl_as(&self, app_code: &str, app_secret: &str) -> Command {
        let mut command = bare_ctl();
        command
            .env("GENIUS_SERVER", self.url())
            .env("GENIUS_APP_CODE", app_code)
            .env("GENIUS_APP_SECRET", app_secret);
        command
    }

    fn uid(&self) -> u64 {
        self.info.users[0].id
    }

    /// A fresh login token for the first user, as after signing in on the login page.
    fn login_token(&self) -> String {
        let minted = self.admin(
            reqwest::Method::POST,
            "/__emulator/login-token",
            Some(json!({"appCode": self.info.app_code, "uid": self.uid()})),
        );
        minted["token"].as_str().unwrap().to_owned()
    }

    /// Signs the first user in through geniusctl: {refreshToken, accessToken, …}.
    fn sign_in(&self) -> Value {
        let out = run(self.ctl().args(["login-verify", &self.login_token()]));
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.json()
    }

    fn refresh_token(&self) -> String {
        self.sign_in()["refreshToken"].as_str().unwrap().to_owned()
    }

    fn admin_post(&self, path: &str, body: Value) -> Value {
        self.admin(reqwest::Method::POST, path, Some(body))
    }

    fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.url());
        self.runtime.block_on(async {
            let mut request = reqwest::Client::new().request(method, url);
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            assert!(response.status().is_success(), "{path}: {response:?}");
            response.json().await.unwrap()
        })
    }

    /// How many requests the emulator got for `"METHOD /path"` since it started.
    fn request_count(&self, key: &str) -> u64 {
        let counts = self.admin(reqwest::Method::GET, "/__emulator/requests", None);
        counts[key].as_u64().unwrap_or(0)
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

/// A port free on 127.0.0.1 and on ::1: a `localhost` callback is served on both.
fn free_port() -> u16 {
    loop {
        let v4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = v4.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("::1", port)).is_ok() {
            return port;
        }
    }
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

/// The scenario, start to finish: sign in, refresh, change the payload, then revoke a
/// batch from stdin with one bad token among good ones.
#[test]
fn login_refresh_payload_then_bulk_revoke_from_stdin() {
    let server = TestServer::start();
    let out = run(server
        .ctl()
        .args(["login-verify", &server.login_token(), "--payload", "cli"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let first = out.json();
    let first_refresh = first["refreshToken"].as_str().unwrap().to_owned();

    let out = run(server.ctl().args(["refresh", &first_refresh]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let refreshed = out.json();
    assert_eq!(refreshed["payload"], "cli");
    let verified = run(server
        .ctl()
        .args(["verify-access", refreshed["accessToken"].as_str().unwrap()]))
    .json();
    assert_eq!(verified, json!({"uid": server.uid(), "payload": "cli"}));

    let out = run(server.ctl().args(["payload", &first_refresh, "edited"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let patched = out.json()["refreshToken"].as_str().unwrap().to_owned();
    assert_eq!(
        run(server.ctl().args(["refresh", &patched])).json()["payload"],
        "edited"
    );

    let second = server.refresh_token();
    let third = server.refresh_token();
    let input = format!("{second}\n\n  not-a-real-token  \n{patched}\n\n{third}\n");
    let out = run_with_stdin(server.ctl().args(["revoke", "--file", "-"]), &input);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.stderr, "");
    let printed: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(printed.len(), 4, "{}", out.stdout);
    let ok_line = |token: &str| {
        format!(
            "{{\"token\":\"{}\",\"fingerprint\":\"{}\",\"ok\":true}}",
            mask(token),
            fingerprint(token)
        )
    };
    assert_eq!(printed[0], ok_line(&second));
    assert_eq!(
        printed[1],
        format!(
            "{{\"token\":\"{HIDDEN}\",\"fingerprint\":\"{}\",\"ok\":false,\"code\":31,\
             \"msg\":\"身份令牌无效或已过期\",\"error\":\"server\"}}",
            fingerprint("not-a-real-token")
        )
    );
    assert_eq!(printed[2], ok_line(&patched));
    assert_eq!(printed[3], ok_line(&third));
    for token in [&first_refresh, &patched, &second, &third] {
        assert!(
            !out.stdout.contains(token.as_str()),
            "a whole token was printed"
        );
    }

    // The patched token shares its record with the first one: both are gone, as are the others.
    for token in [&first_refresh, &patched, &second, &third] {
        let out = run(server.ctl().args(["refresh", token]));
        assert_eq!(out.code, 1, "{}", out.stdout);
        assert_eq!(out.stderr_json()["code"], 31);
    }
}

/// A failure that is not the server's refusal keeps the line's shape: `code` is null and
/// `error` names the kind. The other tokens are still tried.
#[test]
fn revoke_reports_network_failures_with_a_null_code() {
    let server = TestServer::start();
    let tokens: Vec<String> = (0..3).map(|_| server.refresh_token()).collect();
    server.admin_post(
        "/__emulator/faults",
        json!({"path": REFRESH_ROUTE, "method": "DELETE", "kind": "drop", "times": 1}),
    );
    let out = run(server.ctl().arg("revoke").args(&tokens));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let lines = out.lines();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    assert_eq!(
        keys(&lines[0]),
        ["code", "error", "fingerprint", "msg", "ok", "token"]
    );
    assert_eq!(lines[0]["token"], mask(&tokens[0]));
    assert_eq!(lines[0]["fingerprint"], fingerprint(&tokens[0]));
    assert_eq!(lines[0]["ok"], false);
    assert_eq!(lines[0]["code"], Value::Null);
    assert_eq!(lines[0]["error"], "network");
    assert!(lines[0]["msg"].as_str().is_some_and(|m| !m.is_empty()));
    let first_line = out.stdout.lines().next().unwrap();
    assert!(
        first_line.contains("\"ok\":false,\"code\":null,\"msg\":"),
        "{first_line}"
    );
    for line in &lines[1..] {
        assert_eq!(keys(line), ["fingerprint", "ok", "token"]);
        assert_eq!(line["ok"], true);
    }
    // The dropped request never reached the server: that token still works.
    assert_eq!(run(server.ctl().args(["refresh", &tokens[0]])).code, 0);

    // A proxy's HTML error page: an unreadable reply, also without a code.
    let another = server.refresh_token();
    server.admin_post(
        "/__emulator/faults",
        json!({"path": REFRESH_ROUTE, "method": "DELETE", "kind": "http502", "times": 1}),
    );
    let out = run(server.ctl().args(["revoke", &tokens[0], &another]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let lines = out.lines();
    assert_eq!(lines[0]["code"], Value::Null);
    assert_eq!(lines[0]["error"], "unexpected_reply");
    assert!(
        lines[0]["msg"].as_str().unwrap().contains("502"),
        "{}",
        lines[0]
    );
    assert_eq!(lines[1]["ok"], true);
    assert_eq!(server.request_count("DELETE /api/v1/app/token/refresh/"), 5);
}

#[test]
fn revoke_against_an_unreachable_server_tries_every_token() {
    let port = free_port();
    let out = run(bare_ctl().args([
        "--server",
        &format!("http://127.0.0.1:{port}"),
        "--app-code",
        "Ab3dE6g8",
        "--app-secret",
        "top-secret-value",
        "revoke",
        "first-refresh-token",
        "second-refresh-token",
    ]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    // Too short to show a tail: the fingerprints tell them apart.
    for (line, token) in lines
        .iter()
        .zip(["first-refresh-token", "second-refresh-token"])
    {
        assert_eq!(line["token"], HIDDEN);
        assert_eq!(line["fingerprint"], fingerprint(token));
        assert_eq!(line["ok"], false);
        assert_eq!(line["code"], Value::Null);
        assert_eq!(line["error"], "connect");
    }
    assert!(!out.stdout.contains("top-secret-value"));
    assert!(!out.stdout.contains("first-refresh-token"));
}

#[test]
fn revoke_with_nothing_to_revoke_is_a_usage_error() {
    let server = TestServer::start();
    let token = server.refresh_token();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "\n   \n\t\n").unwrap();
    let empty = empty.to_str().unwrap();

    let cases = [
        (run(server.ctl().args(["revoke", "--file", empty])), empty),
        (
            run_with_stdin(server.ctl().args(["revoke", "--file", "-"]), "\n  \n"),
            "standard input",
        ),
        (
            run_with_stdin(server.ctl().args(["revoke", "--file", "-"]), ""),
            "standard input",
        ),
        (
            run(server.ctl().args(["revoke", &token, "  "])),
            "argument 2 is empty",
        ),
        (
            run(server.ctl().args([
                "revoke",
                "--file",
                dir.path().join("missing.txt").to_str().unwrap(),
            ])),
            "cannot read",
        ),
    ];
    for (out, mentioned) in cases {
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert_eq!(out.stdout, "");
        assert!(
            out.stderr.starts_with("geniusctl: error: "),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains(mentioned), "{}", out.stderr);
    }
    // Nothing was sent, so the good token given next to the empty argument still works.
    assert_eq!(server.request_count("DELETE /api/v1/app/token/refresh/"), 0);
    assert_eq!(run(server.ctl().args(["refresh", &token])).code, 0);
}

/// Every command that takes a token takes `-` for it and reads the token from stdin, where
/// neither `ps` nor the shell's history sees it.
#[test]
fn tokens_piped_on_stdin_work_for_every_command() {
    let server = TestServer::start();
    let login_token = server.login_token();
    let out = run_with_stdin(
        server
            .ctl()
            .args(["login-verify", "-", "--payload", "piped"]),
        &format!("{login_token}\n"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let login = out.json();
    assert_eq!(login["userID"], server.uid());
    let refresh = login["refreshToken"].as_str().unwrap().to_owned();

    let out = run_with_stdin(
        server.ctl().args(["refresh", "-"]),
        &format!("  {refresh}\r\n"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["payload"], "piped");

    let out = run_with_stdin(
        server
            .ctl()
            .args(["payload", "-", "edited", "--access-token"]),
        &refresh,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let edited = out.json();
    let patched = edited["refreshToken"].as_str().unwrap().to_owned();
    let access = edited["accessToken"].as_str().unwrap().to_owned();

    let out = run_with_stdin(server.ctl().args(["verify-access", "-"]), &access);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.json(),
        json!({"uid": server.uid(), "payload": "edited"})
    );
    let out = run_with_stdin(server.ctl().args(["userinfo", "-"]), &access);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["userID"], server.uid());
    let out = run_with_stdin(bare_ctl().args(["inspect", "-"]), &format!("{access}\n"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["claims"]["type"], "Access");
    let out = run_with_stdin(server.ctl().args(["inspect", "-", "--verify"]), &access);
    assert_eq!(out.json()["verified"], true, "{}", out.stderr);

    // revoke: `-` reads one token per line, beside tokens given as arguments.
    let another = server.refresh_token();
    let out = run_with_stdin(
        server.ctl().args(["revoke", &another, "-"]),
        &format!("\n{patched}\n\n"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert_eq!(lines[0]["fingerprint"], fingerprint(&another));
    assert_eq!(lines[1]["fingerprint"], fingerprint(&patched));
    assert!(
        lines.iter().all(|line| line["ok"] == true),
        "{}",
        out.stdout
    );
    // The patched token shares the first one's record: both are revoked now.
    for token in [&refresh, &patched, &another] {
        let out = run_with_stdin(server.ctl().args(["refresh", "-"]), token);
        assert_eq!(out.code, 1, "{}", out.stdout);
        assert_eq!(out.stderr_json()["code"], 31);
    }
}

#[test]
fn help_says_tokens_may_come_from_stdin_and_why() {
    let top = run(bare_ctl().arg("--help"));
    assert_eq!(top.code, 0, "{}", top.stderr);
    assert!(
        top.stdout.contains("`ps`") && top.stdout.contains("shell's history"),
        "{}",
        top.stdout
    );
    for command in [
        "login-verify",
        "refresh",
        "payload",
        "revoke",
        "verify-access",
        "userinfo",
        "inspect",
    ] {
        let out = run(bare_ctl().args([command, "--help"]));
        assert_eq!(out.code, 0, "{command}: {}", out.stderr);
        assert!(
            out.stdout.contains("`-` reads") && out.stdout.contains("`ps` and shell history"),
            "{command}: {}",
            out.stdout
        );
    }
}

/// `-` with nothing (or too much) on stdin, and stdin asked for twice, are usage errors; nothing
/// is sent.
#[test]
fn a_dash_without_one_token_on_stdin_is_a_usage_error() {
    let server = TestServer::start();
    let token = server.refresh_token();
    let refreshes_before = server.request_count(&format!("POST {REFRESH_ROUTE}"));
    let cases: [(&[&str], &str, &str); 6] = [
        (&["refresh", "-"], "", "standard input"),
        (&["refresh", "-"], " \n\t\n", "standard input"),
        (&["verify-access", "-"], "one two", "more than one"),
        (&["inspect", "-"], "", "standard input"),
        (&["revoke", "-"], "\n  \n", "standard input"),
        (&["revoke", "-", "-"], &token, "read once"),
    ];
    for (args, input, mentioned) in cases {
        let out = run_with_stdin(server.ctl().args(args), input);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, "", "{args:?}");
        assert!(
            out.stderr.starts_with("geniusctl: error: ") && out.stderr.contains(mentioned),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert_eq!(
        server.request_count(&format!("POST {REFRESH_ROUTE}")),
        refreshes_before
    );
    assert_eq!(server.request_count(&format!("DELETE {REFRESH_ROUTE}")), 0);
    // The token was never revoked.
    assert_eq!(run(server.ctl().args(["refresh", &token])).code, 0);
}

/// Revoke lines name each token by the audit log's fingerprint and its masked tail: different
/// for every token (the first characters, `eyJhbGciOi…`, are the same for all), never the
/// token, and the fingerprint is the one `--audit-log` records.
#[test]
fn revoke_lines_show_the_fingerprint_and_the_masked_tail_never_the_token() {
    let server = TestServer::start();
    let tokens: Vec<String> = (0..4).map(|_| server.refresh_token()).collect();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let out = run_with_stdin(
        server
            .ctl()
            .args(["revoke", "--audit-log", log.to_str().unwrap(), "-"]),
        &tokens.join("\n"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let printed: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(printed.len(), tokens.len(), "{}", out.stdout);
    for (line, token) in printed.iter().zip(&tokens) {
        assert_eq!(
            *line,
            format!(
                "{{\"token\":\"…{}\",\"fingerprint\":\"{}\",\"ok\":true}}",
                &token[token.len() - 6..],
                fingerprint(token)
            )
        );
        // No longer piece of the token than its 6-character tail.
        for piece in token.as_bytes().windows(7) {
            let piece = std::str::from_utf8(piece).unwrap();
            assert!(!out.stdout.contains(piece), "{piece:?} in {}", out.stdout);
        }
    }
    assert!(!out.stdout.contains("eyJ"), "{}", out.stdout);
    let shown: std::collections::HashSet<String> = out
        .lines()
        .iter()
        .map(|l| format!("{}{}", l["token"], l["fingerprint"]))
        .collect();
    assert_eq!(shown.len(), tokens.len(), "{}", out.stdout);

    let logged: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|entry: &Value| entry["result"] == "revoked")
        .collect();
    assert_eq!(logged.len(), tokens.len());
    for (entry, line) in logged.iter().zip(out.lines()) {
        assert_eq!(entry["fingerprint"], line["fingerprint"]);
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
        [json!({"token": mask(&first), "fingerprint": fingerprint(&first), "ok": true})]
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
        json!({"name": "Other", "callback": "http://localhost:47151/callback"}),
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

/// Runs `geniusctl login` for a fresh app whose registered callback is a free `localhost` port,
/// as the dashboard registers them.
/// `browser_script` (unix only) is installed as $BROWSER; without it, --no-browser is used.
/// Returns the child, the app code, and a receiver of its stderr lines.
fn spawn_login(
    server: &TestServer,
    extra: &[&str],
    browser: Option<&std::path::Path>,
) -> (std::process::Child, String, mpsc::Receiver<String>) {
    let port = free_port();
    let callback = format!("http://localhost:{port}/callback");
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
    assert_eq!(login_url, format!("{}/?appCode={app_code}", server.url()));
    server.runtime.block_on(async {
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let page = browser.get(login_url).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let authorize = format!(
            "{}/__emulator/authorize?appCode={app_code}&uid={}",
            server.url(),
            server.uid()
        );
        let redirect = browser.get(authorize).send().await.unwrap();
        assert_eq!(redirect.status(), 302);
        let location = redirect.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.contains("token="), "{location}");
        // Stray requests first (browsers ask for favicons; another page may send `?token=x`):
        // answered, and the wait goes on.
        let origin = location.split("/callback").next().unwrap().to_owned();
        let stray = browser
            .get(format!("{origin}/favicon.ico"))
            .send()
            .await
            .unwrap();
        assert_eq!(stray.status(), 404);
        let forged = browser
            .get(format!("{origin}/callback?token=x"))
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 400);
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
    wait_for_line(&lines, "Signing in to CLI login");
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
    let server = TestServer::start();
    let callback = format!("http://localhost:{}/callback", free_port());
    let app = server.admin_post(
        "/__emulator/apps",
        json!({"name": "CLI timeout", "callback": callback}),
    );
    let out = run(server
        .ctl_as(
            app["appCode"].as_str().unwrap(),
            app["appSecret"].as_str().unwrap(),
        )
        .args([
            "login",
            "--no-browser",
            "--timeout",
            "1",
            "--callback",
            &callback,
        ]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("within 1 s"), "{}", out.stderr);
}

/// Checked with the server before anything listens: the registration must send the browser
/// to this callback.
#[test]
fn login_with_another_callback_than_registered_is_a_usage_error() {
    let server = TestServer::start();
    let port = free_port();
    let out = run(server.ctl().args([
        "login",
        "--no-browser",
        "--timeout",
        "5",
        "--callback",
        &format!("http://127.0.0.1:{port}/callback"),
    ]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("localhost:47150"), "{}", out.stderr);
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
}
