//! The audit log is written ahead: a process killed with SIGKILL in the middle of a 200-token
//! run (the app's path: `SupportSession` loads the tokens and revokes them all) leaves an entry
//! for every request the emulator saw, and no token is revoked without one.
//!
//! The revoking process is this test binary run again (`--exact child_revokes_until_killed
//! --ignored`) with the run's parameters in an environment variable; the emulator runs in the
//! parent, on loopback, slowed down by a latency fault so that requests are in flight when the
//! kill lands.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, DELETE_ROUTE, REFRESH_PATH};
use geniusauth::{Client, Config};
use serde_json::{json, Value};
use support::audit::{read_entries, REVOKED, UNKNOWN};
use support::{fingerprint, Connection, Selection, SupportSession};

/// Set in the child: a JSON object with the server, the app's credentials and the files.
const CHILD_ENV: &str = "SUPPORT_AUDIT_CRASH_CHILD";
const TOKENS: usize = 200;
/// The child is killed once the emulator has counted this many revocations.
const KILL_AFTER_REQUESTS: u64 = 40;

#[test]
#[ignore = "the process that a_sigkill_mid_run_leaves_every_request_logged starts and kills"]
fn child_revokes_until_killed() {
    let Ok(run) = std::env::var(CHILD_ENV) else {
        return;
    };
    let run: Value = serde_json::from_str(&run).unwrap();
    let text = |key: &str| run[key].as_str().unwrap().to_owned();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = Config::new(text("appCode"), text("appSecret"))
            .with_base_url(&text("server"))
            .unwrap();
        let conn = Connection {
            profile: "Crash test".into(),
            server: text("server"),
            client: Client::new(config).unwrap(),
        };
        let session = SupportSession::new(text("log"));
        let tokens = std::fs::read_to_string(text("tokens")).unwrap();
        session
            .load_text(&tokens, "text", false, &conn)
            .await
            .unwrap();
        session.revoke(&Selection::all(), &conn).await.unwrap();
        println!("revoking");
        session.wait_idle().await;
        println!("finished");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_mid_run_leaves_every_request_logged() {
    let server = Server::start().await;
    let tokens = server.refresh_tokens(TOKENS, &server.user_ids()).await;
    let dir = tempfile::tempdir().unwrap();
    let tokens_file = dir.path().join("tokens.txt");
    std::fs::write(&tokens_file, tokens.join("\n")).unwrap();
    let log = dir.path().join("support-audit.jsonl");
    server
        .fault(json!({"path": REFRESH_PATH, "method": "DELETE", "kind": "latency", "delayMs": 40}))
        .await;
    let before = server.count(DELETE_ROUTE).await;

    let info = server.emulator.info();
    let run = json!({
        "server": server.url(), "appCode": info.app_code, "appSecret": info.app_secret,
        "tokens": tokens_file, "log": log,
    });
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_revokes_until_killed",
            "--ignored",
            "--nocapture",
            "--quiet",
        ])
        .args(["--test-threads", "1"])
        .env(CHILD_ENV, run.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let lines =
        std::thread::spawn(move || stdout.lines().map_while(Result::ok).collect::<Vec<_>>());

    let deadline = Instant::now() + Duration::from_secs(30);
    while server.count(DELETE_ROUTE).await - before < KILL_AFTER_REQUESTS {
        assert!(Instant::now() < deadline, "the child never got going");
        assert!(child.try_wait().unwrap().is_none(), "the child ended early");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    child.kill().unwrap(); // SIGKILL on Unix: no destructor, no flush, nothing runs.
    child.wait().unwrap();
    let output = lines.join().unwrap();
    // libtest may have started a line with the test's name.
    assert!(output.iter().any(|l| l.ends_with("revoking")), "{output:?}");
    assert!(
        !output.iter().any(|l| l.ends_with("finished")),
        "killed mid-run"
    );
    // Requests cut off by the kill may still be counted: let the emulator see them all.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let seen = server.count(DELETE_ROUTE).await - before;
    assert!(seen < TOKENS as u64, "the run was over before the kill");
    server.clear_faults().await;

    check_log_against_server(&server, &log, &tokens, seen).await;

    // The app, started again, shows the attempts cut off as "outcome unknown".
    let view = SupportSession::new(&log).audit_view("").unwrap();
    let read = read_entries(&log).unwrap();
    assert_eq!(view.total, read.entries.len());
    let unknown = |results: Vec<&str>| results.into_iter().filter(|r| *r == UNKNOWN).count();
    assert_eq!(
        unknown(
            view.entries
                .iter()
                .map(|e| e.entry.result.as_str())
                .collect()
        ),
        unknown(read.entries.iter().map(|e| e.result.as_str()).collect()),
    );
}

/// Every request the emulator saw has an entry; every token revoked on the server has one; a
/// token without an entry was never revoked; an entry that says revoked is right.
async fn check_log_against_server(server: &Server, log: &Path, tokens: &[String], seen: u64) {
    let read = read_entries(log).unwrap();
    let entries = read.entries;
    println!(
        "{seen} requests seen, {} entries, {} of them unknown",
        entries.len(),
        entries.iter().filter(|e| e.result == UNKNOWN).count()
    );
    assert!(
        entries.len() as u64 >= seen,
        "{} entries for {seen} requests the server saw",
        entries.len()
    );
    assert!(
        read.unreadable_lines <= 1,
        "at most the line the kill cut off"
    );
    for entry in &entries {
        assert!(
            [REVOKED, UNKNOWN].contains(&entry.result.as_str()),
            "{entry:?}"
        );
    }
    let mut logged = std::collections::HashMap::new();
    for entry in &entries {
        assert!(
            logged
                .insert(entry.fingerprint.clone(), entry.result.clone())
                .is_none(),
            "one entry per token: {}",
            entry.fingerprint
        );
    }
    for token in tokens {
        let valid = server.is_valid(token).await;
        match logged.get(&fingerprint(token)).map(String::as_str) {
            None => assert!(valid, "a token was revoked without an audit entry"),
            Some(REVOKED) => assert!(!valid, "logged as revoked, still valid"),
            Some(_) => {} // unknown: the request may or may not have been served
        }
    }
}
