//! The Support view's session against the real emulator: a messy paste of tokens of several
//! users, owners looked up in batches, "revoke all", access tokens pointing at their refresh
//! token, cancel mid-run, events that never carry a token, the audit view and its CSV.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{Server, REFRESH_PATH, USERS_ROUTE};
use serde_json::json;
use support::session::{RowState, RowView};
use support::{Connection, Selection, SupportError, SupportSession, SupportSnapshot, TokenKind};

fn connection(server: &Server) -> Connection {
    Connection {
        profile: "Local emulator".into(),
        server: server.url(),
        client: server.client.clone(),
    }
}

/// Events seen by the listener, as JSON text and as snapshots.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<SupportSnapshot>>>);

impl Events {
    fn attach(&self, session: &SupportSession) {
        let events = self.clone();
        session.set_listener(move |snapshot| events.0.lock().unwrap().push(snapshot));
    }

    fn all(&self) -> Vec<SupportSnapshot> {
        self.0.lock().unwrap().clone()
    }
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn row<'a>(rows: &'a [RowView], masked_of: &str) -> &'a RowView {
    let masked = support::mask(masked_of);
    rows.iter()
        .find(|r| r.masked == masked)
        .unwrap_or_else(|| panic!("no row {masked}"))
}

/// An HS256 JWT of some other system.
fn foreign_jwt() -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims =
        URL_SAFE_NO_PAD.encode(br#"{"sub":"1234567890","name":"John Doe","iat":1516239022}"#);
    format!("{header}.{claims}.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_messy_paste_is_inspected_resolved_and_revoked() {
    let server = Server::start().await;
    let uids = server.user_ids();
    let conn = connection(&server);
    let dir = tempfile::tempdir().unwrap();
    let session = SupportSession::new(dir.path().join("audit.jsonl"));
    let events = Events::default();
    events.attach(&session);

    // Refresh tokens of four users; one of them revoked already.
    let mut refresh = Vec::new();
    for uid in &uids[..4] {
        refresh.push(server.sign_in(*uid).await.0);
    }
    let revoked_before = server.sign_in(uids[0]).await.0;
    server
        .client
        .revoke_refresh_token(&revoked_before)
        .await
        .unwrap();
    // A refresh and access token of one sign-in, and an access token without its refresh token.
    let (pair_refresh, pair_access) = server.sign_in(uids[4]).await;
    let (_, lonely_access) = server.sign_in(uids[5]).await;
    let login = server.login_token(uids[1]);
    let foreign = foreign_jwt();

    let text = format!(
        "\u{feff}token,who\r\n{},张伟\r\n\"{}\",李娜\r\nBearer {}\r\n{}; {}\r\n\
         garbage line\r\n{}\t{}\r\n{}\r\n{}\r\n{}\r\n",
        refresh[0],
        refresh[1],
        refresh[2],
        refresh[3],
        revoked_before,
        pair_refresh,
        pair_access,
        lonely_access,
        login,
        foreign,
    );
    let status = session
        .load_text(&text, "text", false, &conn)
        .await
        .unwrap();
    assert_eq!(status.row_count, 10);
    assert!(status.rows.is_empty(), "commands answer without rows");
    let parse = status.parse.unwrap();
    assert_eq!(
        (parse.added, parse.duplicates, parse.junk_lines),
        (10, 0, 2)
    );
    assert_eq!(status.key, "ok");

    // Inspection.
    let snapshot = session.snapshot();
    let rows = snapshot.rows.clone();
    assert_eq!(rows.len(), 10);
    let r0 = row(&rows, &refresh[0]);
    assert_eq!(r0.kind, TokenKind::Refresh);
    assert_eq!(r0.user_id, Some(uids[0]));
    assert_eq!(r0.app_code.as_deref(), Some(server.app_code.as_str()));
    assert_eq!(r0.signature, support::SignatureCheck::Verified);
    assert!(!r0.expired);
    assert!(r0.expires_at.unwrap() > r0.issued_at.unwrap());
    assert_eq!(r0.state, RowState::Ready);
    assert_eq!(row(&rows, &pair_access).kind, TokenKind::Access);
    assert_eq!(
        row(&rows, &pair_access).record_id,
        row(&rows, &pair_refresh).record_id
    );
    assert_eq!(row(&rows, &login).kind, TokenKind::Login);
    let other = row(&rows, &foreign);
    assert_eq!(other.kind, TokenKind::Other);
    assert!(other.problem.is_some());
    assert_eq!(other.user_id, None);

    // Owners: one batch for the six users, names as the server has them.
    wait_for("owners", || !session.snapshot().owners_pending).await;
    let snapshot = session.snapshot();
    assert_eq!(server.count(USERS_ROUTE).await, 1);
    for uid in &uids {
        let owner = &snapshot.owners[&uid.to_string()];
        assert_eq!(owner.name, server.user_name(*uid));
        assert!(owner.found);
        assert!(!owner.groups.is_empty());
    }

    // Revoke all: the five refresh tokens, nothing else.
    let status = session.revoke(&Selection::all(), &conn).await.unwrap();
    assert!(status.progress.running);
    assert_eq!(status.progress.total, 6);
    assert_eq!(
        session.revoke(&Selection::all(), &conn).await.unwrap_err(),
        SupportError::Busy
    );
    session.wait_idle().await;
    let snapshot = session.snapshot();
    let p = &snapshot.progress;
    assert_eq!(
        (p.total, p.done, p.revoked, p.already_invalid, p.failed),
        (6, 6, 5, 1, 0)
    );
    assert!(!p.running && p.finished_at.is_some());
    let rows = &snapshot.rows;
    for token in refresh.iter().chain([&pair_refresh]) {
        assert_eq!(row(rows, token).state, RowState::Revoked);
        assert!(!server.is_valid(token).await);
    }
    let already = row(rows, &revoked_before);
    assert_eq!(already.state, RowState::AlreadyInvalid);
    assert_eq!(already.result.as_ref().unwrap().code, Some(31));
    for token in [&pair_access, &lonely_access, &login, &foreign] {
        assert_eq!(row(rows, token).state, RowState::Ready);
    }
    assert_eq!(
        session.revoke(&Selection::all(), &conn).await.unwrap_err(),
        SupportError::NothingSelected
    );
    assert_eq!(
        session.retry_failed(&conn).await.unwrap_err(),
        SupportError::NothingToRetry
    );

    // Access, login and foreign tokens cannot be revoked; an access token names its refresh row.
    let ids = [&pair_access, &lonely_access, &login, &foreign].map(|t| row(rows, t).id);
    session.revoke(&Selection::ids(ids), &conn).await.unwrap();
    let rows = session.snapshot().rows;
    let access = row(&rows, &pair_access);
    assert_eq!(access.state, RowState::NotRevocable);
    let result = access.result.as_ref().unwrap();
    assert_eq!(result.reason.as_deref(), Some("access"));
    assert_eq!(result.refresh_row_id, Some(row(&rows, &pair_refresh).id));
    let lonely = row(&rows, &lonely_access).result.clone().unwrap();
    assert_eq!(lonely.reason.as_deref(), Some("access"));
    assert_eq!(lonely.refresh_row_id, None);
    assert_eq!(
        row(&rows, &login)
            .result
            .as_ref()
            .unwrap()
            .reason
            .as_deref(),
        Some("login")
    );
    assert_eq!(
        row(&rows, &foreign)
            .result
            .as_ref()
            .unwrap()
            .reason
            .as_deref(),
        Some("other")
    );
    assert!(!session.is_running());

    // The audit log: the six attempts, named.
    let view = session.audit_view("").unwrap();
    assert_eq!((view.total, view.matched), (6, 6));
    assert!(
        view.entries.windows(2).all(|w| w[0].at >= w[1].at),
        "newest first"
    );
    let name = server.user_name(uids[2]);
    let view = session.audit_view(&name.to_uppercase()).unwrap();
    assert_eq!(view.matched, 1);
    assert_eq!(view.entries[0].entry.user_id, Some(uids[2]));
    assert_eq!(
        view.entries[0].entry.user_name.as_deref(),
        Some(name.as_str())
    );
    assert_eq!(view.entries[0].entry.result, "revoked");
    assert_eq!(view.entries[0].entry.tool, "app");
    assert_eq!(view.entries[0].entry.profile, "Local emulator");
    assert_eq!(session.audit_view("already_invalid 31").unwrap().matched, 1);
    let record = row(&rows, &pair_refresh).record_id.unwrap();
    assert_eq!(
        session.audit_view(&format!("#{record}")).unwrap().matched,
        1
    );
    assert_eq!(
        session.audit_view("nobody-matches-this").unwrap().matched,
        0
    );

    let csv_path = dir.path().join("export.csv");
    assert_eq!(session.export_audit_csv("", &csv_path).unwrap(), 6);
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    assert!(csv.starts_with("\u{feff}time,tool,actor,profile,server,appCode,userId,userName"));
    assert_eq!(csv.lines().count(), 7);
    assert!(csv.contains(&name));
    assert!(csv.contains("already_invalid"));

    // Events: versions only grow; the first after the paste is full; no token anywhere.
    let events = events.all();
    assert!(!events.is_empty());
    assert!(events.windows(2).all(|w| w[0].version < w[1].version));
    assert!(events.iter().any(|e| e.full && e.rows.len() == 10));
    let last = events.last().unwrap();
    assert!(!last.progress.running);
    let mut all_json = String::new();
    for event in &events {
        all_json.push_str(&serde_json::to_string(event).unwrap());
    }
    all_json.push_str(&serde_json::to_string(&session.snapshot()).unwrap());
    all_json.push_str(&std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap());
    all_json.push_str(&csv);
    for token in refresh.iter().chain([
        &revoked_before,
        &pair_refresh,
        &pair_access,
        &lonely_access,
        &login,
    ]) {
        assert!(!all_json.contains(token.as_str()));
        let signature = token.rsplit('.').next().unwrap();
        assert!(!all_json.contains(signature), "a token's signature leaked");
    }

    // A paste without any token keeps the list and says so.
    assert_eq!(
        session
            .load_text("nothing here\n", "text", false, &conn)
            .await
            .unwrap_err(),
        SupportError::NoTokens
    );
    assert_eq!(session.snapshot().rows.len(), 10);
    // Appending the same tokens again adds nothing.
    let status = session.load_text(&text, "text", true, &conn).await.unwrap();
    let parse = status.parse.unwrap();
    assert_eq!((parse.added, parse.duplicates), (0, 10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_are_looked_up_fifty_per_call_and_cached() {
    let server = Server::start().await;
    let conn = connection(&server);
    let mut uids = Vec::new();
    for i in 0..120 {
        uids.push(server.create_user(&format!("用户{i:03}")).await);
    }
    let tokens = server.refresh_tokens(120, &uids).await;
    let dir = tempfile::tempdir().unwrap();
    let session = SupportSession::new(dir.path().join("audit.jsonl"));
    session
        .load_text(&tokens.join("\n"), "text", false, &conn)
        .await
        .unwrap();
    wait_for("owners", || !session.snapshot().owners_pending).await;
    assert_eq!(server.count(USERS_ROUTE).await, 3);
    let snapshot = session.snapshot();
    assert_eq!(snapshot.owners.len(), 120);
    assert_eq!(snapshot.owners[&uids[77].to_string()].name, "用户077");

    // The same list again: all cached, no call.
    session
        .load_text(&tokens.join(","), "text", false, &conn)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.count(USERS_ROUTE).await, 3);
    assert_eq!(session.snapshot().owners.len(), 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_mid_run_then_revoke_the_rest() {
    let server = Server::start().await;
    let conn = connection(&server);
    let tokens = server.refresh_tokens(30, &server.user_ids()).await;
    let dir = tempfile::tempdir().unwrap();
    let session = SupportSession::new(dir.path().join("audit.jsonl"));
    let events = Events::default();
    events.attach(&session);
    session
        .load_text(&tokens.join("\n"), "text", false, &conn)
        .await
        .unwrap();
    server
        .fault(json!({"path": REFRESH_PATH, "method": "DELETE", "kind": "latency", "delayMs": 200}))
        .await;
    session.revoke(&Selection::all(), &conn).await.unwrap();
    wait_for("a few done", || session.snapshot().progress.done >= 4).await;
    let status = session.cancel();
    assert!(status.progress.cancel_requested);
    session.wait_idle().await;

    let snapshot = session.snapshot();
    let p = &snapshot.progress;
    let count = |state| snapshot.rows.iter().filter(|r| r.state == state).count();
    assert_eq!(count(RowState::Revoked), p.revoked);
    assert_eq!(count(RowState::Cancelled), p.cancelled);
    assert_eq!(p.revoked + p.cancelled, 30);
    assert!(p.cancelled > 0 && p.revoked >= 4);
    assert_eq!(p.done, p.revoked);
    let view = session.audit_view("").unwrap();
    assert_eq!(
        view.total, p.revoked,
        "one entry per attempt, none for cancelled rows"
    );
    // The last event already shows the finished run (the UI needs no extra call).
    let last = events.all().last().unwrap().clone();
    assert!(!last.progress.running);
    assert_eq!(last.progress.cancelled, p.cancelled);

    // Revoke all again: only the cancelled ones are sent.
    server.clear_faults().await;
    let status = session.revoke(&Selection::all(), &conn).await.unwrap();
    assert_eq!(status.progress.total, p.cancelled);
    session.wait_idle().await;
    let snapshot = session.snapshot();
    assert!(snapshot.rows.iter().all(|r| r.state == RowState::Revoked));
    assert_eq!(session.audit_view("").unwrap().total, 30);
    for token in &tokens {
        assert!(!server.is_valid(token).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_kept_and_retried() {
    let server = Server::start().await;
    let conn = connection(&server);
    let tokens = server.refresh_tokens(10, &server.user_ids()).await;
    let dir = tempfile::tempdir().unwrap();
    let session = SupportSession::new(dir.path().join("audit.jsonl"));
    session
        .load_text(&tokens.join(" "), "text", false, &conn)
        .await
        .unwrap();
    server
        .fault(json!({"path": REFRESH_PATH, "method": "DELETE", "kind": "http502", "times": 3}))
        .await;
    session.revoke(&Selection::all(), &conn).await.unwrap();
    session.wait_idle().await;
    let snapshot = session.snapshot();
    assert_eq!(snapshot.failed_rows, 3);
    assert_eq!(snapshot.progress.failed, 3);
    let failed: Vec<&RowView> = snapshot
        .rows
        .iter()
        .filter(|r| r.state == RowState::Error)
        .collect();
    let result = failed[0].result.as_ref().unwrap();
    assert_eq!(result.error.as_deref(), Some("unexpected_reply"));
    assert_eq!(result.http_status, Some(502));
    assert!(result.transient);
    assert!(result.msg.is_some());

    let status = session.retry_failed(&conn).await.unwrap();
    assert_eq!(status.progress.total, 3);
    session.wait_idle().await;
    let snapshot = session.snapshot();
    assert_eq!(snapshot.failed_rows, 0);
    assert!(snapshot.rows.iter().all(|r| r.state == RowState::Revoked));
    let view = session.audit_view("").unwrap();
    assert_eq!(view.total, 13);
    assert_eq!(session.audit_view("error 502").unwrap().matched, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_profile_rechecks_the_rows_and_looks_owners_up_again() {
    let server = Server::start().await;
    let tokens = server.refresh_tokens(4, &server.user_ids()).await;
    let dir = tempfile::tempdir().unwrap();
    let session = SupportSession::new(dir.path().join("audit.jsonl"));
    session
        .load_text(&tokens.join("\n"), "text", false, &connection(&server))
        .await
        .unwrap();
    wait_for("owners", || !session.snapshot().owners_pending).await;
    assert_eq!(server.count(USERS_ROUTE).await, 1);

    // Another app of the same server: any app may revoke any refresh token.
    let other = server
        .admin_post(
            "/__emulator/apps",
            json!({"name": "Support desk", "callback": "http://127.0.0.1:47199/callback"}),
        )
        .await;
    let config = geniusauth::Config::new(
        other["appCode"].as_str().unwrap(),
        other["appSecret"].as_str().unwrap(),
    )
    .with_base_url(&server.url())
    .unwrap();
    let conn = Connection {
        profile: "Support desk".into(),
        server: server.url(),
        client: geniusauth::Client::new(config).unwrap(),
    };
    session.revoke(&Selection::all(), &conn).await.unwrap();
    session.wait_idle().await;
    wait_for("owners again", || !session.snapshot().owners_pending).await;
    let snapshot = session.snapshot();
    assert_eq!(snapshot.profile.unwrap().name, "Support desk");
    assert!(snapshot.rows.iter().all(|r| r.state == RowState::Revoked));
    assert_eq!(snapshot.owners.len(), 4);
    assert!(server.count(USERS_ROUTE).await >= 2);
    let view = session.audit_view("").unwrap();
    assert!(view
        .entries
        .iter()
        .all(|e| e.entry.profile == "Support desk"));
    assert!(view.entries.iter().all(|e| e.entry.user_name.is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_forged_tokens_are_listed_quickly_and_never_revoked_by_all() {
    let server = Server::start().await;
    let conn = connection(&server);
    let uids = server.user_ids();
    // GeniusAuth-looking claims, signed by nobody.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA","typ":"JWT"}"#);
    let tokens: Vec<String> = (0..10_000)
        .map(|i| {
            let claims = format!(
                r#"{{"type":"Refresh","uid":{},"oid":1,"id":{},"appCode":"{}","iat":1700000000,"exp":4102444800}}"#,
                uids[i % uids.len()],
                i + 1,
                server.app_code
            );
            let signature = URL_SAFE_NO_PAD.encode([i as u8; 64]);
            format!("{header}.{}.{signature}{i}", URL_SAFE_NO_PAD.encode(claims))
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let session = SupportSession::new(dir.path().join("audit.jsonl"));
    let events = Events::default();
    events.attach(&session);
    let start = Instant::now();
    let status = session
        .load_text(&tokens.join("\n"), "text", false, &conn)
        .await
        .unwrap();
    let took = start.elapsed();
    assert_eq!(status.row_count, 10_000);
    assert!(
        took < Duration::from_secs(15),
        "listing 10,000 tokens took {took:?}"
    );
    let snapshot = session.snapshot();
    assert!(snapshot
        .rows
        .iter()
        .all(|r| r.kind == TokenKind::Refresh && r.signature == support::SignatureCheck::Failed));
    // One full event with every row, then owners in one batch (six users).
    assert!(events
        .all()
        .iter()
        .any(|e| e.full && e.rows.len() == 10_000));
    wait_for("owners", || !session.snapshot().owners_pending).await;
    assert_eq!(server.count(USERS_ROUTE).await, 1);
    // "All valid refresh tokens" leaves forged ones out.
    assert_eq!(
        session.revoke(&Selection::all(), &conn).await.unwrap_err(),
        SupportError::NothingSelected
    );
    assert_eq!(server.count(common::DELETE_ROUTE).await, 0);
}
