//! Bulk revocation: a few requests at a time, every attempt written to the audit log before its
//! request is sent and its result before it is reported, cancellable between requests.
//!
//! Every job ends in one definite [`Outcome`]: revoked, already invalid (code 31), an error with
//! its code and message, or cancelled (never sent). Cancelling stops new requests; the ones in
//! flight finish and are logged and reported like any other.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::future::join_all;
use geniusauth::Client;
use serde::Serialize;

use crate::audit::{self, AuditEntry, AuditLog};
use crate::time::{now_ms, rfc3339_utc};

/// Requests in flight at once.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// One refresh token to revoke and what the audit log should say about it.
#[derive(Clone)]
pub struct RevokeJob {
    /// The caller's id for this token (a row id); events and outcomes carry it.
    pub id: u32,
    /// The token itself: sent to the server, never logged.
    pub token: String,
    pub subject: Subject,
}

impl std::fmt::Debug for RevokeJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevokeJob")
            .field("id", &self.id)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Whose token it is, for the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    pub app_code: String,
    pub user_id: Option<u64>,
    pub user_name: Option<String>,
    pub record_id: Option<u64>,
    pub kind: String,
    pub fingerprint: String,
}

impl Subject {
    /// What the token itself says (nothing is sent anywhere).
    pub fn of_token(token: &str) -> Subject {
        let inspection = crate::inspect::inspect(token, None, 0);
        Subject {
            app_code: inspection.app_code.unwrap_or_default(),
            user_id: inspection.user_id,
            user_name: None,
            record_id: inspection.record_id,
            kind: inspection.kind.as_str().to_owned(),
            fingerprint: inspection.fingerprint,
        }
    }
}

/// Who is revoking, against which server: the same for every entry of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditContext {
    /// `app` or `geniusctl`.
    pub tool: String,
    pub actor: String,
    pub profile: String,
    pub server: String,
}

/// How one token ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    Revoked,
    /// Code 31: revoked before, expired, or never valid on this server.
    AlreadyInvalid {
        code: i64,
        msg: String,
    },
    #[serde(rename_all = "camelCase")]
    Error {
        /// `server`, `timeout`, `connect`, `network`, `unexpected_reply`, …
        error: String,
        /// The server's code, when it answered with one.
        code: Option<i64>,
        /// The server's message, or what went wrong.
        msg: String,
        http_status: Option<u16>,
        /// Trying again later may work (network trouble, an upstream error page).
        transient: bool,
    },
    /// Not sent: the run was cancelled first.
    Cancelled,
}

impl Outcome {
    pub fn of(result: Result<(), geniusauth::Error>) -> Outcome {
        match result {
            Ok(()) => Outcome::Revoked,
            Err(err) if err.is_token_invalid() => Outcome::AlreadyInvalid {
                code: geniusauth::error::CODE_TOKEN_INVALID,
                msg: match err {
                    geniusauth::Error::Server { msg, .. } => msg,
                    other => other.to_string(),
                },
            },
            Err(err) => {
                let transient = err.is_transient();
                let error = err.code().to_owned();
                match err {
                    geniusauth::Error::Server {
                        code,
                        msg,
                        http_status,
                    } => Outcome::Error {
                        error,
                        code: Some(code),
                        msg,
                        http_status: Some(http_status),
                        transient,
                    },
                    geniusauth::Error::UnexpectedReply { http_status, .. } => Outcome::Error {
                        error,
                        code: None,
                        msg: err.to_string(),
                        http_status: Some(http_status),
                        transient,
                    },
                    other => Outcome::Error {
                        error,
                        code: None,
                        msg: other.to_string(),
                        http_status: None,
                        transient,
                    },
                }
            }
        }
    }

    /// The audit log's `result`; `None` for [`Outcome::Cancelled`] (nothing was attempted).
    pub fn audit_result(&self) -> Option<&'static str> {
        match self {
            Outcome::Revoked => Some(audit::REVOKED),
            Outcome::AlreadyInvalid { .. } => Some(audit::ALREADY_INVALID),
            Outcome::Error { .. } => Some(audit::ERROR),
            Outcome::Cancelled => None,
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Outcome::Error { .. })
    }
}

/// The entry written before a request is sent: who revokes whose token, with a new attempt id
/// that its result will carry.
pub fn attempt_entry(context: &AuditContext, subject: &Subject) -> AuditEntry {
    AuditEntry {
        result: audit::ATTEMPT.to_owned(),
        attempt_id: Some(audit::new_attempt_id()),
        code: None,
        error: None,
        msg: None,
        ..audit_entry(context, subject, &Outcome::Revoked)
    }
}

/// The entry of an attempt's outcome, paired with the attempt by its id.
pub fn result_entry(attempt: &AuditEntry, outcome: &Outcome) -> AuditEntry {
    let subject = Subject {
        app_code: attempt.app_code.clone(),
        user_id: attempt.user_id,
        user_name: attempt.user_name.clone(),
        record_id: attempt.record_id,
        kind: attempt.kind.clone(),
        fingerprint: attempt.fingerprint.clone(),
    };
    let context = AuditContext {
        tool: attempt.tool.clone(),
        actor: attempt.actor.clone(),
        profile: attempt.profile.clone(),
        server: attempt.server.clone(),
    };
    AuditEntry {
        attempt_id: attempt.attempt_id.clone(),
        ..audit_entry(&context, &subject, outcome)
    }
}

/// The entry of one outcome, without an attempt id (the format of logs from before attempts
/// were logged; [`result_entry`] is what a run writes).
pub fn audit_entry(context: &AuditContext, subject: &Subject, outcome: &Outcome) -> AuditEntry {
    let (code, error, msg) = match outcome {
        Outcome::AlreadyInvalid { code, msg } => (Some(*code), None, Some(msg.clone())),
        Outcome::Error {
            error, code, msg, ..
        } => (*code, Some(error.clone()), Some(msg.clone())),
        Outcome::Revoked | Outcome::Cancelled => (None, None, None),
    };
    AuditEntry {
        time: rfc3339_utc(now_ms()),
        tool: context.tool.clone(),
        actor: context.actor.clone(),
        profile: context.profile.clone(),
        server: context.server.clone(),
        app_code: subject.app_code.clone(),
        user_id: subject.user_id,
        user_name: subject.user_name.clone().filter(|n| !n.is_empty()),
        record_id: subject.record_id,
        kind: subject.kind.clone(),
        fingerprint: subject.fingerprint.clone(),
        result: outcome.audit_result().unwrap_or("cancelled").to_owned(),
        attempt_id: None,
        code,
        error,
        msg: msg.filter(|m| !m.is_empty()),
    }
}

/// Stops a run from starting new requests. Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What a run reports while it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The request for job `id` is being sent.
    Started { id: u32 },
    /// Job `id` ended (and, with an audit log, its entry is on disk).
    Finished {
        id: u32,
        outcome: Outcome,
        /// Jobs finished so far in this run, this one included.
        done: usize,
        total: usize,
    },
}

/// How a run ended.
#[derive(Debug, Default)]
pub struct RevokeReport {
    /// Every job's outcome, in the jobs' order.
    pub outcomes: Vec<(u32, Outcome)>,
    /// Requests sent.
    pub attempts: usize,
    /// Set when an entry could not be written: the run stopped starting new requests then (an
    /// attempt that could not be logged was not sent).
    pub audit_error: Option<String>,
}

/// The audit log of a run and what its entries say about the run.
#[derive(Clone)]
pub struct Audit {
    pub log: Arc<AuditLog>,
    pub context: AuditContext,
}

/// Revokes every job's token, `concurrency` at a time (at least 1). With `audit`, the log is
/// opened (created) before the first request, and nothing is sent if that fails; each attempt
/// is appended and fsync'd before its request is sent (and before its `Started` event), its
/// result before its `Finished` event; if an append fails the run is cancelled, and an attempt
/// that could not be logged is not sent.
pub async fn revoke_all(
    client: &Client,
    jobs: &[RevokeJob],
    concurrency: usize,
    cancel: &CancelFlag,
    audit: Option<&Audit>,
    on_event: &(dyn Fn(Event) + Send + Sync),
) -> RevokeReport {
    if let Some(audit) = audit {
        if let Err(err) = open_log(&audit.log).await {
            return RevokeReport {
                outcomes: jobs.iter().map(|j| (j.id, Outcome::Cancelled)).collect(),
                attempts: 0,
                audit_error: Some(err),
            };
        }
    }
    let total = jobs.len();
    let next = AtomicUsize::new(0);
    let sent = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; total]);
    let audit_error: Mutex<Option<String>> = Mutex::new(None);

    let worker = || async {
        loop {
            if cancel.is_cancelled() {
                break;
            }
            let index = next.fetch_add(1, Ordering::SeqCst);
            let Some(job) = jobs.get(index) else {
                break;
            };
            let failed_to_log = |err: std::io::Error, log: &AuditLog| {
                cancel.cancel();
                lock(&audit_error).get_or_insert_with(|| {
                    format!(
                        "could not write the audit log {}: {err}",
                        log.path().display()
                    )
                });
            };
            let attempt = match audit {
                Some(audit) => {
                    let entry = attempt_entry(&audit.context, &job.subject);
                    match append(&audit.log, entry.clone(), AuditLog::append_attempt).await {
                        Ok(()) => Some(entry),
                        Err(err) => {
                            // Not sent: no request goes out without its record.
                            failed_to_log(err, &audit.log);
                            break;
                        }
                    }
                }
                None => None,
            };
            sent.fetch_add(1, Ordering::SeqCst);
            on_event(Event::Started { id: job.id });
            let outcome = Outcome::of(client.revoke_refresh_token(&job.token).await);
            if let (Some(audit), Some(attempt)) = (audit, attempt) {
                let entry = result_entry(&attempt, &outcome);
                if let Err(err) = append(&audit.log, entry, AuditLog::append_result).await {
                    failed_to_log(err, &audit.log);
                }
            }
            lock(&outcomes)[index] = Some(outcome.clone());
            let done = done.fetch_add(1, Ordering::SeqCst) + 1;
            on_event(Event::Finished {
                id: job.id,
                outcome,
                done,
                total,
            });
        }
    };
    join_all((0..concurrency.max(1)).map(|_| worker())).await;

    let attempts = sent.load(Ordering::SeqCst);
    let outcomes = lock(&outcomes)
        .drain(..)
        .zip(jobs)
        .map(|(outcome, job)| (job.id, outcome.unwrap_or(Outcome::Cancelled)))
        .collect();
    let audit_error = lock(&audit_error).take();
    RevokeReport {
        outcomes,
        attempts,
        audit_error,
    }
}

/// Appends `entry` with `write` (an fsync) off the async threads.
async fn append(
    log: &Arc<AuditLog>,
    entry: AuditEntry,
    write: fn(&AuditLog, &AuditEntry) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let log = log.clone();
    tokio::task::spawn_blocking(move || write(&log, &entry))
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))
}

/// Opens (creates) the log off the async threads; the error says which file and why.
pub async fn open_log(log: &Arc<AuditLog>) -> Result<(), String> {
    let opened = {
        let log = log.clone();
        tokio::task::spawn_blocking(move || log.ensure_open())
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))
    };
    opened.map_err(|err| {
        format!(
            "could not open the audit log {} for writing: {err}",
            log.path().display()
        )
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_debug_never_shows_the_token() {
        let token = "eyJhbGciOiJFZERTQSJ9.eyJ0eXBlIjoicmVmcmVzaCJ9.job-signature-CCCC";
        let job = RevokeJob {
            id: 3,
            token: token.to_owned(),
            subject: Subject::of_token(token),
        };
        for shown in [format!("{job:?}"), format!("{job:#?}")] {
            assert!(!shown.contains(&token[..24]), "{shown}");
            assert!(!shown.contains(&token[token.len() - 12..]), "{shown}");
            assert!(shown.contains(&crate::fingerprint(token)), "{shown}");
        }
    }
}
