//! Reading the write-ahead audit log: attempts paired with their results, an attempt without a
//! result shown as "unknown" (or "in flight" to the log that is waiting for it), and logs from
//! before attempts were logged read as they always did.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Server, DELETE_ROUTE, REFRESH_PATH};
use serde_json::json;
use support::audit::{read_entries, IN_FLIGHT, UNKNOWN};
use support::revoke::{revoke_all, Audit, AuditContext, Event, RevokeJob, Subject};
use support::{AuditLog, CancelFlag, SupportSession};

/// A log as written before attempts were logged (result entries only), then a newer program's
/// paired attempt, an attempt cut off by a crash, and the half line that crash left.
const MIXED_LOG: &str = concat!(
    r#"{"time":"2025-03-01T08:05:09.042Z","tool":"app","actor":"lin","profile":"NCUOS","server":"https://v.ncuos.com","appCode":"Ab3dE6g8","userId":1,"userName":"张伟","recordId":42,"kind":"refresh","fingerprint":"1a2b3c4d","result":"already_invalid","code":31,"msg":"身份令牌无效或已过期"}"#,
    "\n",
    r#"{"time":"2025-03-01T08:06:00.000Z","tool":"geniusctl","actor":"lin","profile":"geniusctl","server":"https://v.ncuos.com","appCode":"Ab3dE6g8","userId":2,"recordId":43,"kind":"refresh","fingerprint":"2b3c4d5e","result":"revoked"}"#,
    "\n",
    r#"{"time":"2025-03-02T09:00:00.000Z","tool":"app","actor":"lin","profile":"NCUOS","server":"https://v.ncuos.com","appCode":"Ab3dE6g8","userId":3,"recordId":44,"kind":"refresh","fingerprint":"3c4d5e6f","result":"attempt","attemptId":"aa-1"}"#,
    "\n",
    r#"{"time":"2025-03-02T09:00:00.100Z","tool":"app","actor":"lin","profile":"NCUOS","server":"https://v.ncuos.com","appCode":"Ab3dE6g8","userId":4,"recordId":45,"kind":"refresh","fingerprint":"4d5e6f70","result":"attempt","attemptId":"aa-2"}"#,
    "\n",
    r#"{"time":"2025-03-02T09:00:00.300Z","tool":"app","actor":"lin","profile":"NCUOS","server":"https://v.ncuos.com","appCode":"Ab3dE6g8","userId":3,"recordId":44,"kind":"refresh","fingerprint":"3c4d5e6f","result":"revoked","attemptId":"aa-1"}"#,
    "\n",
    r#"{"time":"2025-03-02T09:00:00.400Z","tool":"app","actor":"lin","profile":"NCUOS","#,
);

#[test]
fn old_and_new_entries_read_together_and_a_lone_attempt_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("support-audit.jsonl");
    std::fs::write(&path, MIXED_LOG).unwrap();

    let read = read_entries(&path).unwrap();
    assert_eq!(read.unreadable_lines, 1, "the line the crash cut off");
    let summary: Vec<(&str, &str)> = read
        .entries
        .iter()
        .map(|e| (e.fingerprint.as_str(), e.result.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("1a2b3c4d", "already_invalid"),
            ("2b3c4d5e", "revoked"),
            ("3c4d5e6f", "revoked"),
            ("4d5e6f70", UNKNOWN),
        ]
    );
    // The old entries keep every field.
    assert_eq!(read.entries[0].code, Some(31));
    assert_eq!(read.entries[0].user_name.as_deref(), Some("张伟"));
    assert_eq!(read.entries[0].attempt_id, None);
    // A paired attempt is its result (the answer's time); the lone one keeps its own.
    assert_eq!(read.entries[2].time, "2025-03-02T09:00:00.300Z");
    assert_eq!(read.entries[3].time, "2025-03-02T09:00:00.100Z");
    assert_eq!(read.entries[3].user_id, Some(4));

    // The Audit log view and its CSV: one row per attempt, the lone one "unknown".
    let session = SupportSession::new(&path);
    let view = session.audit_view("").unwrap();
    assert_eq!(view.total, 4);
    assert_eq!(view.unreadable_lines, 1);
    // Newest first: the paired attempt by its answer's time, then the lone one by its own.
    assert_eq!(view.entries[0].entry.fingerprint, "3c4d5e6f");
    assert_eq!(view.entries[1].entry.result, UNKNOWN);
    assert_eq!(session.audit_view("unknown").unwrap().matched, 1);
    let csv_path = dir.path().join("export.csv");
    assert_eq!(session.export_audit_csv("", &csv_path).unwrap(), 4);
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    assert_eq!(csv.lines().count(), 5);
    assert!(csv.contains(",4d5e6f70,unknown,"), "{csv}");
    assert!(!csv.contains("attempt"), "{csv}");
}

/// While a request is out, its attempt is on disk: the log that wrote it calls it in flight,
/// anyone else reading the file (another process) unknown; once answered, it is its result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_is_on_disk_before_its_request_goes_out() {
    let server = Server::start().await;
    let tokens = server.refresh_tokens(2, &server.user_ids()).await;
    server
        .fault(json!({"path": REFRESH_PATH, "method": "DELETE", "kind": "latency", "delayMs": 400}))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let audit = Audit {
        log: Arc::new(AuditLog::new(&path)),
        context: AuditContext {
            tool: "test".into(),
            actor: "tester".into(),
            profile: "Local".into(),
            server: server.url(),
        },
    };
    let jobs: Vec<RevokeJob> = tokens
        .iter()
        .enumerate()
        .map(|(i, token)| RevokeJob {
            id: i as u32 + 1,
            token: token.clone(),
            subject: Subject::of_token(token),
        })
        .collect();
    // At each `Started` (the request is about to go out) the file already has its attempt.
    let checked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let on_event = {
        let (path, checked) = (path.clone(), checked.clone());
        move |event: Event| {
            if let Event::Started { id } = event {
                let entries = read_entries(&path).unwrap().entries;
                let fingerprint = Subject::of_token(&tokens[id as usize - 1]).fingerprint;
                let found = entries
                    .iter()
                    .any(|e| e.fingerprint == fingerprint && e.result == UNKNOWN);
                checked.lock().unwrap().push(found);
            }
        }
    };
    let run = {
        let (client, jobs, audit) = (server.client.clone(), jobs.clone(), audit.clone());
        tokio::spawn(async move {
            revoke_all(
                &client,
                &jobs,
                2,
                &CancelFlag::new(),
                Some(&audit),
                &on_event,
            )
            .await
        })
    };
    while server.count(DELETE_ROUTE).await < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mid_run = audit.log.read().unwrap();
    assert_eq!(mid_run.entries.len(), 2);
    assert!(mid_run.entries.iter().all(|e| e.result == IN_FLIGHT));
    let from_outside = read_entries(&path).unwrap();
    assert!(from_outside.entries.iter().all(|e| e.result == UNKNOWN));

    let report = run.await.unwrap();
    assert_eq!(report.attempts, 2);
    assert_eq!(*checked.lock().unwrap(), [true, true]);
    let after = audit.log.read().unwrap();
    assert!(after.entries.iter().all(|e| e.result == "revoked"));
    assert_eq!(after.entries, read_entries(&path).unwrap().entries);
    // Two lines per attempt in the file, each pair sharing an id.
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 4);
    for entry in &after.entries {
        let id = entry.attempt_id.as_deref().unwrap();
        assert_eq!(text.matches(&format!("\"attemptId\":\"{id}\"")).count(), 2);
    }
}
