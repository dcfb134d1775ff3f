//! Bulk revocation against the real emulator over loopback, with faults injected on some
//! requests: every token ends in a definite state, the audit log has exactly one entry per
//! attempt (and never a token), cancelling stops new requests and leaves a consistent log.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Server, DELETE_ROUTE, REFRESH_PATH};
use serde_json::json;
use support::audit::{read_entries, AuditEntry};
use support::revoke::{revoke_all, Audit, AuditContext, Event, Outcome, RevokeJob, Subject};
use support::{AuditLog, CancelFlag};

fn jobs(tokens: &[String]) -> Vec<RevokeJob> {
    tokens
        .iter()
        .enumerate()
        .map(|(i, token)| RevokeJob {
            id: i as u32 + 1,
            token: token.clone(),
            subject: Subject::of_token(token),
        })
        .collect()
}

fn audit(path: &std::path::Path) -> Audit {
    Audit {
        log: Arc::new(AuditLog::new(path)),
        context: AuditContext {
            tool: "test".into(),
            actor: "tester".into(),
            profile: "Local".into(),
            server: "http://127.0.0.1".into(),
        },
    }
}

/// Events, recorded.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<Event>>,
    max_in_flight: Mutex<(usize, usize)>,
}

impl Recorder {
    fn on_event(&self, event: Event) {
        {
            let mut flight = self.max_in_flight.lock().unwrap();
            match &event {
                Event::Started { .. } => flight.0 += 1,
                Event::Finished { .. } => flight.0 -= 1,
            }
            flight.1 = flight.1.max(flight.0);
        }
        self.events.lock().unwrap().push(event);
    }

    fn finished(&self) -> usize {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter(|e| matches!(e, Event::Finished { .. }))
            .count()
    }
}

fn entries_by_fingerprint(entries: &[AuditEntry]) -> HashMap<String, Vec<&AuditEntry>> {
    let mut map: HashMap<String, Vec<&AuditEntry>> = HashMap::new();
    for entry in entries {
        map.entry(entry.fingerprint.clone())
            .or_default()
            .push(entry);
    }
    map
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_end_every_token_in_a_definite_state_with_one_entry_per_attempt() {
    let server = Server::start().await;
    let uids = server.user_ids();
    let tokens = server.refresh_tokens(30, &uids).await;
    // Five were revoked before: the server answers code 31 for them. The last five, so that
    // the faults (which strike the first requests) hit tokens the server would still revoke.
    for token in &tokens[25..] {
        server.client.revoke_refresh_token(token).await.unwrap();
    }
    let before = server.count(DELETE_ROUTE).await;

    // nginx error pages, a reply cut off after the server did its work, a dropped connection.
    server
        .fault(json!({"path": REFRESH_PATH, "method": "DELETE", "kind": "http502", "times": 3}))
        .await;
    server
        .fault(json!({"path": REFRESH_PATH, "method": "DELETE", "kind": "truncated", "times": 2}))
        .await;
    server
        .fault(json!({"path": REFRESH_PATH, "method": "DELETE", "kind": "http500", "times": 1}))
        .await;
    server
        .fault(json!({"path": REFRESH_PATH, "method": "DELETE", "kind": "latency", "delayMs": 40}))
        .await;

    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("logs/audit.jsonl");
    let audit = audit(&log_path);
    let recorder = Recorder::default();
    let jobs = jobs(&tokens);
    let report = revoke_all(
        &server.client,
        &jobs,
        4,
        &CancelFlag::new(),
        Some(&audit),
        &|e| recorder.on_event(e),
    )
    .await;

    // Every token ended in a definite state; none was left out.
    assert_eq!(report.outcomes.len(), 30);
    assert_eq!(report.attempts, 30);
    assert!(report.audit_error.is_none());
    let errors: Vec<&Outcome> = report
        .outcomes
        .iter()
        .map(|(_, o)| o)
        .filter(|o| o.is_error())
        .collect();
    assert!(!report
        .outcomes
        .iter()
        .any(|(_, o)| *o == Outcome::Cancelled));
    assert_eq!(errors.len(), 6, "{errors:?}");
    for error in &errors {
        let Outcome::Error {
            error,
            http_status,
            transient,
            ..
        } = error
        else {
            unreachable!()
        };
        assert_eq!(error, "unexpected_reply");
        assert!(matches!(http_status, Some(200 | 500 | 502)));
        assert!(transient);
    }
    let already: Vec<u32> = report
        .outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::AlreadyInvalid { code: 31, .. }))
        .map(|(id, _)| *id)
        .collect();
    // The five revoked before are already invalid unless a fault hit them first.
    assert!(already.len() <= 5);
    for id in &already {
        assert!(*id > 25, "token {id} was valid");
    }

    // Exactly one request per token reached the server (no hidden retries), at most 4 at once.
    assert_eq!(server.count(DELETE_ROUTE).await - before, 30);
    let (_, max_in_flight) = *recorder.max_in_flight.lock().unwrap();
    assert!(
        (2..=4).contains(&max_in_flight),
        "{max_in_flight} in flight"
    );
    assert_eq!(recorder.finished(), 30);

    // The audit log: one entry per attempt, agreeing with the outcomes, and no token in it.
    let text = std::fs::read_to_string(&log_path).unwrap();
    for token in &tokens {
        assert!(!text.contains(token.as_str()));
        let signature = token.rsplit('.').next().unwrap();
        assert!(!text.contains(signature));
    }
    let read = read_entries(&log_path).unwrap();
    assert_eq!(read.unreadable_lines, 0);
    assert_eq!(read.entries.len(), 30);
    let by_fp = entries_by_fingerprint(&read.entries);
    for ((id, outcome), job) in report.outcomes.iter().zip(&jobs) {
        assert_eq!(*id, job.id);
        let entries = &by_fp[&job.subject.fingerprint];
        assert_eq!(entries.len(), 1);
        let entry = entries[0];
        assert_eq!(entry.result, outcome.audit_result().unwrap());
        assert_eq!(entry.user_id, job.subject.user_id);
        assert_eq!(entry.record_id, job.subject.record_id);
        assert_eq!(entry.app_code, server.app_code);
        assert_eq!(entry.kind, "refresh");
        assert_eq!(entry.profile, "Local");
        assert!(entry.time_ms().is_some(), "{}", entry.time);
        match outcome {
            Outcome::AlreadyInvalid { msg, .. } => {
                assert_eq!(entry.code, Some(31));
                assert_eq!(entry.msg.as_deref(), Some(msg.as_str()));
            }
            Outcome::Error { .. } => {
                assert_eq!(entry.error.as_deref(), Some("unexpected_reply"));
                assert!(entry.msg.is_some());
            }
            _ => assert_eq!(entry.code, None),
        }
    }

    // Server state agrees: revoked and already-invalid tokens are dead; those that failed with
    // an error page never reached the server and still work, except the cut-off replies.
    let mut still_valid = 0;
    for ((_, outcome), token) in report.outcomes.iter().zip(&tokens) {
        let valid = server.is_valid(token).await;
        match outcome {
            Outcome::Revoked | Outcome::AlreadyInvalid { .. } => assert!(!valid),
            Outcome::Error { http_status, .. } => {
                if *http_status == Some(200) {
                    assert!(
                        !valid,
                        "a truncated reply comes after the server revoked it"
                    );
                } else {
                    still_valid += usize::from(valid);
                }
            }
            Outcome::Cancelled => unreachable!(),
        }
    }
    assert!(still_valid >= 1);

    // "Retry failed": only the failed ones, now without faults; they all end revoked or
    // already invalid (the truncated ones were revoked the first time), each with a new entry.
    server.clear_faults().await;
    let failed: Vec<RevokeJob> = report
        .outcomes
        .iter()
        .zip(&jobs)
        .filter(|((_, o), _)| o.is_error())
        .map(|(_, job)| job.clone())
        .collect();
    let retry = revoke_all(
        &server.client,
        &failed,
        4,
        &CancelFlag::new(),
        Some(&audit),
        &|_| {},
    )
    .await;
    assert_eq!(retry.attempts, 6);
    for (_, outcome) in &retry.outcomes {
        assert!(
            matches!(outcome, Outcome::Revoked | Outcome::AlreadyInvalid { .. }),
            "{outcome:?}"
        );
    }
    let read = read_entries(&log_path).unwrap();
    assert_eq!(read.entries.len(), 36);
    for token in &tokens {
        assert!(!server.is_valid(token).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_an_error_not_a_hang() {
    let server = Server::start().await;
    let tokens = server.refresh_tokens(3, &server.user_ids()).await;
    server
        .fault(json!({"path": REFRESH_PATH, "method": "DELETE", "kind": "drop", "times": 1}))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let audit = audit(&dir.path().join("audit.jsonl"));
    let report = revoke_all(
        &server.client,
        &jobs(&tokens),
        1,
        &CancelFlag::new(),
        Some(&audit),
        &|_| {},
    )
    .await;
    let outcomes: Vec<&Outcome> = report.outcomes.iter().map(|(_, o)| o).collect();
    assert!(outcomes[0].is_error(), "{outcomes:?}");
    assert_eq!(outcomes[1], &Outcome::Revoked);
    assert_eq!(outcomes[2], &Outcome::Revoked);
    let entries = read_entries(&dir.path().join("audit.jsonl"))
        .unwrap()
        .entries;
    assert_eq!(entries.len(), 3);
    assert_eq!(entries.iter().filter(|e| e.result == "error").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_new_requests_and_leaves_a_consistent_log() {
    let server = Server::start().await;
    let tokens = server.refresh_tokens(40, &server.user_ids()).await;
    let before = server.count(DELETE_ROUTE).await;
    // Slow replies, so that the cancel lands mid-run.
    server
        .fault(json!({"path": REFRESH_PATH, "method": "DELETE", "kind": "latency", "delayMs": 250}))
        .await;

    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("audit.jsonl");
    let audit = audit(&log_path);
    let recorder = Arc::new(Recorder::default());
    let cancel = CancelFlag::new();
    let jobs = jobs(&tokens);
    let run = {
        let (client, jobs, cancel, audit, recorder) = (
            server.client.clone(),
            jobs.clone(),
            cancel.clone(),
            audit.clone(),
            recorder.clone(),
        );
        tokio::spawn(async move {
            revoke_all(&client, &jobs, 4, &cancel, Some(&audit), &|e| {
                recorder.on_event(e)
            })
            .await
        })
    };
    // Let a few finish, then cancel while requests are in flight.
    while recorder.finished() < 6 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cancel.cancel();
    let sent_at_cancel = server.count(DELETE_ROUTE).await - before;
    let report = run.await.unwrap();
    let sent = server.count(DELETE_ROUTE).await - before;

    // No request started after the cancel (those already on their way may still arrive).
    assert!(sent - sent_at_cancel <= 4, "{sent_at_cancel} then {sent}");
    assert_eq!(sent as usize, report.attempts);
    assert!(
        report.attempts >= 6 && report.attempts < 40,
        "{}",
        report.attempts
    );

    // Every token is either done (revoked: no faults but latency) or cancelled, never both.
    let cancelled: Vec<u32> = report
        .outcomes
        .iter()
        .filter(|(_, o)| *o == Outcome::Cancelled)
        .map(|(id, _)| *id)
        .collect();
    let revoked = report
        .outcomes
        .iter()
        .filter(|(_, o)| *o == Outcome::Revoked)
        .count();
    assert_eq!(revoked, report.attempts);
    assert_eq!(cancelled.len() + revoked, 40);
    assert_eq!(recorder.finished(), report.attempts);

    // The log has exactly the attempts: the revoked tokens, nothing for the cancelled ones.
    let entries = read_entries(&log_path).unwrap().entries;
    assert_eq!(entries.len(), report.attempts);
    let by_fp = entries_by_fingerprint(&entries);
    server.clear_faults().await;
    for ((id, outcome), job) in report.outcomes.iter().zip(&jobs) {
        let logged = by_fp.get(&job.subject.fingerprint).map_or(0, Vec::len);
        let valid = server.is_valid(&job.token).await;
        if *outcome == Outcome::Cancelled {
            assert_eq!(logged, 0, "cancelled token {id} was logged");
            assert!(valid, "cancelled token {id} was revoked");
        } else {
            assert_eq!(logged, 1);
            assert!(!valid);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_log_that_cannot_be_opened_stops_the_run_before_any_request() {
    let server = Server::start().await;
    let tokens = server.refresh_tokens(8, &server.user_ids()).await;
    let before = server.count(DELETE_ROUTE).await;
    let dir = tempfile::tempdir().unwrap();
    // The log's folder is a file: the log cannot be created.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    let log_path = blocker.join("audit.jsonl");
    let audit = audit(&log_path);
    let recorder = Recorder::default();
    let report = revoke_all(
        &server.client,
        &jobs(&tokens),
        1,
        &CancelFlag::new(),
        Some(&audit),
        &|e| recorder.on_event(e),
    )
    .await;
    let error = report.audit_error.expect("the run reports the log");
    assert!(error.contains(&log_path.display().to_string()), "{error}");
    assert_eq!(report.attempts, 0, "no request without a log to record it");
    assert_eq!(server.count(DELETE_ROUTE).await, before);
    assert!(recorder.events.lock().unwrap().is_empty());
    assert!(report
        .outcomes
        .iter()
        .all(|(_, o)| *o == Outcome::Cancelled));
    for token in &tokens {
        assert!(server.is_valid(token).await);
    }
}

/// A log that opens but then refuses a write (a full disk: /dev/full) stops the run at the first
/// attempt it could not record, before that attempt's request: nothing goes out unlogged.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_that_fails_mid_run_stops_new_requests() {
    let server = Server::start().await;
    let tokens = server.refresh_tokens(8, &server.user_ids()).await;
    let before = server.count(DELETE_ROUTE).await;
    let audit = audit(std::path::Path::new("/dev/full"));
    let report = revoke_all(
        &server.client,
        &jobs(&tokens),
        1,
        &CancelFlag::new(),
        Some(&audit),
        &|_| {},
    )
    .await;
    let error = report.audit_error.expect("the failed write is reported");
    assert!(error.contains("/dev/full"), "{error}");
    assert_eq!(report.attempts, 0);
    assert_eq!(server.count(DELETE_ROUTE).await - before, 0);
    assert!(report
        .outcomes
        .iter()
        .all(|(_, o)| *o == Outcome::Cancelled));
    for token in &tokens {
        assert!(server.is_valid(token).await);
    }
}

#[test]
fn opening_a_log_creates_it_owner_only_before_any_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/folder/audit.jsonl");
    let log = AuditLog::new(&path);
    assert!(!path.exists(), "nothing is created until needed");
    log.ensure_open().unwrap();
    assert!(path.exists());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Opening again (another session) appends to the same file.
    log.ensure_open().unwrap();
    let again = AuditLog::open(&path).unwrap();
    again
        .append(&support::revoke::audit_entry(
            &AuditContext::default(),
            &Subject::default(),
            &Outcome::Revoked,
        ))
        .unwrap();
    assert_eq!(read_entries(&path).unwrap().entries.len(), 1);
}
