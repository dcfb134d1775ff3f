//! The Support view's session against the real emulator: a messy paste of tokens of several
//! users, owners looked up in batches, "revoke all", access tokens pointing at their refresh
//! token, cancel mid-run, events that never carry a token, the audit view and its CSV.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{Server, REFRESH_PATH, USERS_ROUTE};
use serde_json::json;
use support::session::{OwnerView, RowState, RowView};
use support::{Connection, Selection, SupportError, SupportSession, SupportSnapshot, TokenKind};

fn connection(server: &Server) -> Connection {
    Connection {
        profile: "Local emulator".into(),
        server: server.url(),
        client: server.client.clone(),
    }
}

/// Events seen by the listener, as snapshots.
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

/// The rows and owners as the UI holds them, kept the UI's way (ui/render/support.js): partial
/// events are patched in; an event of a new rows epoch makes it fetch the full snapshot (the
/// `support_state` command, a little later, while more events queue up), and the queued events
/// newer than that snapshot apply on top of it.
#[derive(Default)]
struct MirrorState {
    version: u64,
    epoch: u64,
    rows: BTreeMap<u32, RowView>,
    owners: BTreeMap<String, OwnerView>,
    fetches: usize,
    events: usize,
    largest_event: usize,
}

#[derive(Clone)]
struct Mirror {
    state: Arc<Mutex<MirrorState>>,
    queued: Arc<Mutex<usize>>,
}

impl Mirror {
    fn attach(session: &SupportSession) -> Mirror {
        let mirror = Mirror {
            state: Arc::default(),
            queued: Arc::default(),
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<SupportSnapshot>();
        let queued = mirror.queued.clone();
        session.set_listener(move |event| {
            *queued.lock().unwrap() += 1;
            let _ = tx.send(event);
        });
        let (state, queued, session) =
            (mirror.state.clone(), mirror.queued.clone(), session.clone());
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                let size = serde_json::to_string(&event).unwrap().len();
                let new_epoch = {
                    let mut m = state.lock().unwrap();
                    m.events += 1;
                    m.largest_event = m.largest_event.max(size);
                    event.version > m.version && event.rows_epoch != m.epoch
                };
                if new_epoch {
                    // The round trip of a command: events go on arriving meanwhile.
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    let full = session.snapshot();
                    assert!(full.full);
                    let mut m = state.lock().unwrap();
                    m.fetches += 1;
                    m.version = full.version;
                    m.epoch = full.rows_epoch;
                    m.rows = full.rows.into_iter().map(|r| (r.id, r)).collect();
                    m.owners = full.owners;
                } else {
                    let mut m = state.lock().unwrap();
                    if event.version > m.version {
                        assert!(!event.full, "events are partial");
                        m.version = event.version;
                        for row in event.rows {
                            m.rows.insert(row.id, row);
                        }
                        m.owners.extend(event.owners);
                    }
                }
                *queued.lock().unwrap() -= 1;
            }
        });
        mirror
    }

    /// Waits until every event sent so far is handled, then checks that the mirror holds what
    /// the session holds.
    async fn assert_in_step(&self, session: &SupportSession) {
        wait_for("events handled", || *self.queued.lock().unwrap() == 0).await;
        let full = session.snapshot();
        let m = self.state.lock().unwrap();
        assert_eq!(m.epoch, full.rows_epoch);
        let rows: Vec<&RowView> = m.rows.values().collect();
        let expected: Vec<&RowView> = full.rows.iter().collect();
        assert_eq!(rows, expected, "the UI's rows drifted from the session's");
        assert_eq!(m.owners, full.owners);
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

    // Events: versions only grow; none carries the whole list (the paste announced a new rows
    // epoch without rows); no token anywhere.
    let events = events.all();
    assert!(!events.is_empty());
    assert!(events.windows(2).all(|w| w[0].version < w[1].version));
    assert!(events.iter().all(|e| !e.full && e.rows.len() < 10));
    assert!(events
        .iter()
        .any(|e| e.rows_epoch > 0 && e.rows.is_empty() && e.row_count == 10));
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
    let mirror = Mirror::attach(&session);
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

    // "Export CSV" of a search: only the matching entries, CRLF, a BOM, quoted where needed.
    let csv_path = dir.path().join("failed.csv");
    assert_eq!(session.export_audit_csv("error 502", &csv_path).unwrap(), 3);
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    assert!(csv.starts_with('\u{feff}'));
    // Records end with CRLF outside quotes; the error pages' own line breaks are inside quotes.
    let mut records = vec![String::new()];
    let mut quoted = false;
    for c in csv.chars() {
        match c {
            '"' => quoted = !quoted,
            '\n' if !quoted => records.push(String::new()),
            _ => records.last_mut().unwrap().push(c),
        }
    }
    records.retain(|r| !r.is_empty());
    assert_eq!(records.len(), 4, "{records:#?}");
    assert!(records.iter().all(|r| r.ends_with('\r')));
    assert!(records[1..]
        .iter()
        .all(|r| r.contains(",error,") && r.contains("unexpected_reply") && r.contains("502")));
    for token in &tokens {
        assert!(!csv.contains(token.as_str()));
    }
    // Somewhere that cannot be written: a clear error naming the file, nothing half-written.
    let blocked = dir.path().join("no-such-folder/out.csv");
    let err = session.export_audit_csv("", &blocked).unwrap_err();
    assert!(
        matches!(&err, SupportError::Io(m) if m.contains("no-such-folder/out.csv")),
        "{err:?}"
    );
    assert!(!blocked.exists());
    // The UI's copy, kept from events alone, ends where the session is.
    mirror.assert_in_step(&session).await;
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
            json!({"name": "Support desk", "callback": "http://localhost:47199/callback"}),
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

/// Every token of 10,000 is listed and checked. (How fast is the benchmark's business:
/// `cargo bench -p support`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_forged_tokens_are_all_listed_and_never_revoked_by_all() {
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
    let mirror = Mirror::attach(&session);
    let status = session
        .load_text(&tokens.join("\n"), "text", false, &conn)
        .await
        .unwrap();
    assert_eq!(status.row_count, 10_000);
    let parse = status.parse.clone().unwrap();
    assert_eq!(
        (parse.added, parse.duplicates, parse.junk_lines),
        (10_000, 0, 0)
    );
    let snapshot = session.snapshot();
    assert_eq!(snapshot.rows.len(), 10_000);
    assert!(snapshot
        .rows
        .iter()
        .all(|r| r.kind == TokenKind::Refresh && r.signature == support::SignatureCheck::Failed));
    // In input order, each with its own user and record.
    for (i, row) in snapshot.rows.iter().enumerate() {
        assert_eq!(row.masked, support::mask(&tokens[i]));
        assert_eq!(row.user_id, Some(uids[i % uids.len()]));
        assert_eq!(row.record_id, Some(i as u64 + 1));
    }
    // Owners in one batch (six users); the UI fetched the list once, and no event carried it.
    wait_for("owners", || !session.snapshot().owners_pending).await;
    assert_eq!(server.count(USERS_ROUTE).await, 1);
    mirror.assert_in_step(&session).await;
    {
        let m = mirror.state.lock().unwrap();
        assert_eq!(m.fetches, 1);
        assert!(
            m.largest_event < 4096,
            "an event of {} bytes",
            m.largest_event
        );
    }
    // "All valid refresh tokens" leaves forged ones out.
    assert_eq!(
        session.revoke(&Selection::all(), &conn).await.unwrap_err(),
        SupportError::NothingSelected
    );
    assert_eq!(server.count(common::DELETE_ROUTE).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_without_a_writable_audit_log_is_refused_before_any_request() {
    let server = Server::start().await;
    let conn = connection(&server);
    let (refresh, access) = server.sign_in(server.user_ids()[0]).await;
    let dir = tempfile::tempdir().unwrap();
    // The log's folder is a file: the log cannot be created.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    let session = SupportSession::new(blocker.join("audit.jsonl"));
    session
        .load_text(&format!("{refresh}\n{access}"), "text", false, &conn)
        .await
        .unwrap();
    let before = server.count(common::DELETE_ROUTE).await;

    let err = session.revoke(&Selection::all(), &conn).await.unwrap_err();
    let SupportError::AuditLog(message) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("audit.jsonl"), "{message}");
    assert_eq!(err.code(), "audit_log");
    assert!(err.to_string().contains("nothing was revoked"), "{err}");
    assert!(!err.to_string().contains(&refresh));
    assert!(!session.is_running());
    assert_eq!(server.count(common::DELETE_ROUTE).await, before);
    assert!(server.is_valid(&refresh).await);
    let snapshot = session.snapshot();
    assert!(snapshot.rows.iter().all(|r| r.state == RowState::Ready));
    assert_eq!(snapshot.progress.total, 0);

    // Selecting only the access token sends nothing either way and needs no log.
    let access_id = row(&snapshot.rows, &access).id;
    session
        .revoke(&Selection::ids([access_id]), &conn)
        .await
        .unwrap();
    assert_eq!(
        row(&session.snapshot().rows, &access).state,
        RowState::NotRevocable
    );

    // Once the log can be written, the same revoke goes through and is recorded.
    std::fs::remove_file(&blocker).unwrap();
    session.revoke(&Selection::all(), &conn).await.unwrap();
    session.wait_idle().await;
    assert_eq!(
        row(&session.snapshot().rows, &refresh).state,
        RowState::Revoked
    );
    assert_eq!(session.audit_view("").unwrap().total, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_files_are_read_decoded_and_listed() {
    let server = Server::start().await;
    let conn = connection(&server);
    let uids = server.user_ids();
    let tokens = server.refresh_tokens(3, &uids).await;
    let dir = tempfile::tempdir().unwrap();
    let session = SupportSession::new(dir.path().join("audit.jsonl"));

    // A spreadsheet's CSV export: BOM, CRLF, a header, quoted cells, tokens in any column.
    let csv = format!(
        "\u{feff}user,token,note\r\n张伟,\"{}\",leaked\r\n\"{}\",,\r\nnote only,,\r\n李娜,x,\"Bearer {}\"\r\n",
        tokens[0], tokens[1], tokens[2]
    );
    let csv_path = dir.path().join("tokens 2025-03.csv");
    std::fs::write(&csv_path, &csv).unwrap();
    let status = session.load_file(&csv_path, false, &conn).await.unwrap();
    let parse = status.parse.unwrap();
    assert_eq!(parse.source, "tokens 2025-03.csv");
    assert_eq!((parse.added, parse.junk_lines, parse.lines), (3, 2, 5));
    let rows = session.snapshot().rows;
    for (token, uid) in tokens.iter().zip(&uids) {
        let r = row(&rows, token);
        assert_eq!(r.user_id, Some(*uid));
        assert_eq!(r.signature, support::SignatureCheck::Verified);
    }

    // "Unicode text" (UTF-16 with a BOM), appended: only the new token is added.
    let extra = server.refresh_tokens(1, &uids[3..]).await.remove(0);
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in format!("token\r\n{}\r\n{extra}\r\n", tokens[0]).encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    let utf16_path = dir.path().join("unicode.txt");
    std::fs::write(&utf16_path, &utf16).unwrap();
    let status = session.load_file(&utf16_path, true, &conn).await.unwrap();
    let parse = status.parse.unwrap();
    assert_eq!((parse.added, parse.duplicates), (1, 1));
    assert_eq!(status.row_count, 4);

    // Too large: refused before reading, the list is kept, the message names the file only.
    let big_path = dir.path().join("huge.log");
    let big = std::fs::File::create(&big_path).unwrap();
    big.set_len(support::parse::MAX_FILE_BYTES + 1).unwrap();
    let err = session
        .load_file(&big_path, false, &conn)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SupportError::FileTooLarge {
            name: "huge.log".into(),
            max: support::parse::MAX_FILE_BYTES
        }
    );
    assert_eq!(err.code(), "file_too_large");
    assert_eq!(err.to_string(), "huge.log is larger than 32 MiB");
    assert_eq!(session.snapshot().row_count, 4);

    // A folder, a missing file, a file without tokens.
    let err = session
        .load_file(dir.path(), false, &conn)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SupportError::Io(m) if m.contains("not a regular file")),
        "{err:?}"
    );
    let err = session
        .load_file(&dir.path().join("missing.csv"), false, &conn)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SupportError::Io(m) if m.contains("missing.csv")),
        "{err:?}"
    );
    let empty_path = dir.path().join("notes.txt");
    std::fs::write(&empty_path, "no tokens here\r\njust notes\r\n").unwrap();
    assert_eq!(
        session
            .load_file(&empty_path, false, &conn)
            .await
            .unwrap_err(),
        SupportError::NoTokens
    );
    assert_eq!(session.snapshot().row_count, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avatars_stop_at_the_cap_and_the_owners_of_most_tokens_come_first() {
    let server = Server::start().await;
    let conn = connection(&server);
    let extra_users = support::session::MAX_AVATARS + 10;
    let mut uids = Vec::new();
    for i in 0..extra_users {
        uids.push(server.create_user(&format!("用户{i:03}")).await);
    }
    // One token each, but three for the user with the highest id (last in id order).
    let favourite = *uids.last().unwrap();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA","typ":"JWT"}"#);
    let token = |uid: u64, n: usize| {
        let claims = format!(
            r#"{{"type":"Refresh","uid":{uid},"oid":1,"id":{n},"appCode":"{}","iat":1700000000,"exp":4102444800}}"#,
            server.app_code
        );
        format!(
            "{header}.{}.c2lnbmF0dXJl{n}",
            URL_SAFE_NO_PAD.encode(claims)
        )
    };
    let mut tokens: Vec<String> = uids
        .iter()
        .enumerate()
        .map(|(n, uid)| token(*uid, n + 1))
        .collect();
    tokens.push(token(favourite, 9001));
    tokens.push(token(favourite, 9002));

    let dir = tempfile::tempdir().unwrap();
    let session = SupportSession::new(dir.path().join("audit.jsonl"));
    let fetched = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = fetched.clone();
    session.set_avatar_fetcher(Arc::new(move |url: String, _server: String| {
        seen.lock().unwrap().push(url);
        Box::pin(async { Some("data:image/png;base64,iVBORw0KGgo=".to_owned()) })
    }));
    session
        .load_text(&tokens.join("\n"), "text", false, &conn)
        .await
        .unwrap();
    wait_for("avatars", || {
        fetched.lock().unwrap().len() >= support::session::MAX_AVATARS
    })
    .await;
    wait_for("owners", || !session.snapshot().owners_pending).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fetched.lock().unwrap().len(), support::session::MAX_AVATARS);
    let owners = session.snapshot().owners;
    let with_avatar: Vec<&OwnerView> = owners
        .values()
        .filter(|o| uids.contains(&o.id) && o.avatar.is_some())
        .collect();
    assert_eq!(with_avatar.len(), support::session::MAX_AVATARS);
    assert!(owners[&favourite.to_string()].avatar.is_some());
    // The rest are known (name and groups) and shown with their initials: no avatar.
    let without: Vec<&OwnerView> = owners.values().filter(|o| o.avatar.is_none()).collect();
    assert_eq!(without.len(), extra_users - support::session::MAX_AVATARS);
    assert!(without.iter().all(|o| o.found && !o.name.is_empty()));

    // A new list of owners already known but without a picture: the cap counts this list only,
    // so their pictures come now.
    let later: Vec<u64> = without.iter().map(|o| o.id).take(3).collect();
    let new_list: Vec<String> = later
        .iter()
        .enumerate()
        .map(|(n, uid)| token(*uid, 20_000 + n))
        .collect();
    session
        .load_text(&new_list.join("\n"), "text", false, &conn)
        .await
        .unwrap();
    wait_for("the new list's avatars", || {
        let owners = session.snapshot().owners;
        later
            .iter()
            .all(|id| owners[&id.to_string()].avatar.is_some())
    })
    .await;
    assert_eq!(
        fetched.lock().unwrap().len(),
        support::session::MAX_AVATARS + later.len()
    );
}
