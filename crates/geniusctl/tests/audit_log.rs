//! `geniusctl revoke --audit-log PATH`: the real binary against an in-process emulator writes one
//! record per attempt in the app's audit format (owners named, never a token), appends to an
//! existing log, refuses to start when the log cannot be written, and writes each attempt ahead
//! of its request, so that a geniusctl killed mid-run has logged every request it sent.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use geniusauth::{Client, LoginOptions};
use geniusauth_emulator::{Config, Emulator};
use serde_json::json;
use serde_json::Value;
use support::audit::{read_entries, REVOKED, UNKNOWN};

const DELETE_ROUTE: &str = "DELETE /api/v1/app/token/refresh/";
const REFRESH_PATH: &str = "/api/v1/app/token/refresh/";

struct Server {
    runtime: tokio::runtime::Runtime,
    emulator: Emulator,
    client: Client,
}

impl Server {
    fn start() -> Server {
        geniusauth::tls::install_crypto_provider();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let emulator = runtime
            .block_on(Emulator::start(Config::ephemeral()))
            .expect("emulator starts");
        let info = emulator.info().clone();
        let config = geniusauth::Config::new(info.app_code, info.app_secret)
            .with_base_url(emulator.url())
            .unwrap();
        let client = runtime.block_on(async { Client::new(config) }).unwrap();
        Server {
            runtime,
            emulator,
            client,
        }
    }

    fn refresh_token(&self, uid: u64) -> String {
        let info = self.emulator.info();
        let login = self.emulator.login_token(&info.app_code, uid).unwrap();
        self.runtime
            .block_on(self.client.login_verify(&login, &LoginOptions::default()))
            .unwrap()
            .refresh_token
    }

    fn revoke(&self, token: &str) {
        self.runtime
            .block_on(self.client.revoke_refresh_token(token))
            .unwrap();
    }

    fn is_valid(&self, token: &str) -> bool {
        match self
            .runtime
            .block_on(self.client.refresh_access_token(token))
        {
            Ok(_) => true,
            Err(err) if err.is_token_invalid() => false,
            Err(err) => panic!("checking a token: {err}"),
        }
    }

    fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) {
        let url = format!("{}{path}", self.emulator.url());
        self.runtime.block_on(async {
            let mut request = reqwest::Client::new().request(method, url);
            // The emulator's admin API takes every state change as JSON, even without a body.
            request = match body {
                Some(body) => request.json(&body),
                None => request.header(reqwest::header::CONTENT_TYPE, "application/json"),
            };
            assert!(request.send().await.unwrap().status().is_success());
        });
    }

    fn deletes(&self) -> u64 {
        let url = format!("{}/__emulator/requests", self.emulator.url());
        let counts: Value = self
            .runtime
            .block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() });
        counts[DELETE_ROUTE].as_u64().unwrap_or(0)
    }

    fn ctl(&self) -> Command {
        let info = self.emulator.info();
        let mut command = Command::new(env!("CARGO_BIN_EXE_geniusctl"));
        command
            .env("GENIUS_SERVER", self.emulator.url())
            .env("GENIUS_APP_CODE", &info.app_code)
            .env("GENIUS_APP_SECRET", &info.app_secret)
            .env("USER", "support-desk")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null());
        command
    }
}

#[test]
fn revoke_writes_one_audit_record_per_attempt() {
    let server = Server::start();
    let users = server.emulator.info().users.clone();
    let first = server.refresh_token(users[0].id);
    let second = server.refresh_token(users[1].id);
    let revoked_before = server.refresh_token(users[1].id);
    server.revoke(&revoked_before);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit/revocations.jsonl");

    let out = server
        .ctl()
        .arg("revoke")
        .arg("--audit-log")
        .arg(&log)
        .args([&first, &second, &revoked_before, "not-a-token"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert_eq!(stdout.lines().count(), 4, "the usual report, unchanged");

    let text = std::fs::read_to_string(&log).unwrap();
    for token in [&first, &second, &revoked_before] {
        assert!(
            !text.contains(token.as_str()),
            "a token is in the audit log"
        );
        assert!(!text.contains(token.rsplit('.').next().unwrap()));
    }
    let read = read_entries(&log).unwrap();
    assert_eq!(read.unreadable_lines, 0);
    let entries = read.entries;
    assert_eq!(entries.len(), 4);
    let results: Vec<&str> = entries.iter().map(|e| e.result.as_str()).collect();
    assert_eq!(
        results,
        ["revoked", "revoked", "already_invalid", "already_invalid"]
    );
    let info = server.emulator.info();
    for (entry, user) in entries.iter().zip([&users[0], &users[1], &users[1]]) {
        assert_eq!(entry.tool, "geniusctl");
        assert_eq!(entry.profile, "geniusctl");
        assert_eq!(entry.actor, "support-desk");
        assert_eq!(entry.server, server.emulator.url());
        assert_eq!(entry.app_code, info.app_code);
        assert_eq!(entry.kind, "refresh");
        assert_eq!(entry.user_id, Some(user.id));
        assert_eq!(entry.user_name.as_deref(), Some(user.name.as_str()));
        assert!(entry.record_id.is_some());
        assert_eq!(entry.fingerprint.len(), 8);
        assert!(entry.time_ms().is_some(), "{}", entry.time);
    }
    assert_eq!(entries[0].code, None);
    assert_eq!(entries[2].code, Some(31));
    assert!(entries[2].msg.is_some());
    // Not a token at all: still one record, with nothing to name.
    assert_eq!(entries[3].kind, "other");
    assert_eq!(entries[3].user_id, None);
    assert_eq!(entries[3].code, Some(31));

    // A second run appends to the same log.
    let third = server.refresh_token(users[2].id);
    let out = server
        .ctl()
        .args(["revoke", "--audit-log"])
        .arg(&log)
        .arg(&third)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let entries = read_entries(&log).unwrap().entries;
    assert_eq!(entries.len(), 5);
    assert_eq!(
        entries[4].user_name.as_deref(),
        Some(users[2].name.as_str())
    );
    assert_eq!(entries[4].result, "revoked");
}

#[test]
fn an_unwritable_audit_log_stops_before_any_revocation() {
    let server = Server::start();
    let token = server.refresh_token(server.emulator.info().users[0].id);
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "x").unwrap();
    let before = server.deletes();
    let out = server
        .ctl()
        .args(["revoke", "--audit-log"])
        .arg(blocker.join("audit.jsonl"))
        .arg(&token)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("audit.jsonl"), "{stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(server.deletes(), before, "nothing was revoked");
    // The token still works.
    assert!(server
        .runtime
        .block_on(server.client.refresh_access_token(&token))
        .is_ok());
}

/// SIGKILL in the middle of a 200-token run with slow replies: every request the emulator saw
/// has an entry (the last one's outcome unknown), no token was revoked without one.
#[test]
fn a_geniusctl_killed_mid_run_has_logged_every_request_it_sent() {
    let server = Server::start();
    let users: Vec<u64> = server.emulator.info().users.iter().map(|u| u.id).collect();
    let tokens: Vec<String> = (0..200)
        .map(|i| server.refresh_token(users[i % users.len()]))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.txt");
    std::fs::write(&file, tokens.join("\n")).unwrap();
    let log = dir.path().join("audit.jsonl");
    server.admin(
        reqwest::Method::POST,
        "/__emulator/faults",
        Some(json!({"path": REFRESH_PATH, "method": "DELETE", "kind": "latency", "delayMs": 40})),
    );
    let before = server.deletes();
    let mut child = server
        .ctl()
        .args(["revoke", "--audit-log"])
        .arg(&log)
        .arg("--file")
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.deletes() - before < 12 {
        assert!(Instant::now() < deadline, "geniusctl never got going");
        assert!(child.try_wait().unwrap().is_none(), "geniusctl ended early");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let seen = server.deletes() - before;
    assert!(seen < 200, "the run was over before the kill");
    server.admin(reqwest::Method::DELETE, "/__emulator/faults", None);

    let read = read_entries(&log).unwrap();
    assert!(
        read.unreadable_lines <= 1,
        "at most the line the kill cut off"
    );
    let entries = read.entries;
    assert!(
        entries.len() as u64 >= seen,
        "{} entries for {seen} requests the server saw",
        entries.len()
    );
    // One at a time: every attempt but the last has its result.
    for entry in &entries[..entries.len() - 1] {
        assert_eq!(entry.result, REVOKED, "{entry:?}");
    }
    let last = entries.last().unwrap();
    assert!(
        [REVOKED, UNKNOWN].contains(&last.result.as_str()),
        "{last:?}"
    );
    for (i, token) in tokens.iter().enumerate() {
        let valid = server.is_valid(token);
        match entries.get(i) {
            None => assert!(valid, "token {i} was revoked without an audit entry"),
            Some(entry) => {
                assert_eq!(entry.fingerprint, support::fingerprint(token));
                if entry.result == REVOKED {
                    assert!(!valid, "token {i} logged as revoked is still valid");
                }
            }
        }
    }
}
