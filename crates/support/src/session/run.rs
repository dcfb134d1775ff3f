//! Revocation runs: the selection becomes jobs for [`revoke_all`], whose events move the rows
//! along (queued, running, revoked / already invalid / error, cancelled).

use std::collections::{HashMap, HashSet};

use super::state::State;
use super::view::{Progress, RowResult, RowState};
use super::{Connection, Notify, Selection, SupportError, SupportSession, SupportSnapshot};
use crate::inspect::TokenKind;
use crate::revoke::{
    open_log, revoke_all, Audit, AuditContext, CancelFlag, Event, RevokeJob, Subject,
};
use crate::time::now_ms;

impl SupportSession {
    /// Starts revoking the selected rows in the background; progress arrives as events.
    /// Selected rows that are not refresh tokens are marked not revocable (an access token's
    /// result names the row of its refresh token when the list has it).
    pub async fn revoke(
        &self,
        selection: &Selection,
        conn: &Connection,
    ) -> Result<SupportSnapshot, SupportError> {
        if self.is_running() {
            return Err(SupportError::Busy);
        }
        if self.use_connection(conn).await {
            // Owners of the rows held are looked up again, on the new server.
            self.spawn_owner_lookup(conn.clone(), Notify::WithNext);
        }
        let wants_refresh = self.read(|st| {
            let ids = st.selected_ids(selection);
            if ids.is_empty() {
                return Err(SupportError::NothingSelected);
            }
            Ok(ids
                .iter()
                .any(|id| st.row(*id).map(|r| r.inspection.kind) == Some(TokenKind::Refresh)))
        })?;
        // No request without a place to record it: the log is opened (created) first.
        if wants_refresh {
            open_log(&self.inner.audit)
                .await
                .map_err(SupportError::AuditLog)?;
        }
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| SupportError::Io("no async runtime".into()))?;
        let (jobs, cancel) = self.change(Notify::Now, |st| {
            if st.running() {
                return Err(SupportError::Busy);
            }
            let ids = st.selected_ids(selection);
            if ids.is_empty() {
                return Err(SupportError::NothingSelected);
            }
            Ok(st.start_run(&ids))
        })?;
        if !jobs.is_empty() {
            let session = self.clone();
            let conn = conn.clone();
            runtime.spawn(async move { session.run(jobs, conn, cancel).await });
        }
        Ok(self.status())
    }

    /// Revokes the rows whose last attempt failed.
    pub async fn retry_failed(&self, conn: &Connection) -> Result<SupportSnapshot, SupportError> {
        let ids: Vec<u32> = self.read(|st| {
            st.rows
                .iter()
                .filter(|r| r.state == RowState::Error)
                .map(|r| r.id)
                .collect()
        });
        if ids.is_empty() {
            return Err(SupportError::NothingToRetry);
        }
        self.revoke(&Selection::ids(ids), conn).await
    }

    /// Stops the run from sending more requests; those in flight finish and are recorded.
    pub fn cancel(&self) -> SupportSnapshot {
        self.change(Notify::Now, |st| {
            if st.running() {
                if let Some(flag) = &st.cancel {
                    flag.cancel();
                }
                st.progress.cancel_requested = true;
                st.touch();
            }
        });
        self.status()
    }

    async fn run(&self, mut jobs: Vec<RevokeJob>, conn: Connection, cancel: CancelFlag) {
        // Owners not resolved yet (a quick revoke after a paste): look them up first, so that
        // the audit log names them. A failure only leaves the names out.
        let missing: Vec<u64> = jobs
            .iter()
            .filter(|j| j.subject.user_name.is_none())
            .filter_map(|j| j.subject.user_id)
            .collect();
        if !missing.is_empty() {
            let directory = self.read(|st| st.directory.clone());
            directory
                .resolve(&conn.client, missing, |batch| {
                    self.apply_owners(&directory, batch)
                })
                .await;
            for job in &mut jobs {
                if job.subject.user_name.is_none() {
                    job.subject.user_name = job
                        .subject
                        .user_id
                        .and_then(|uid| directory.get(uid))
                        .filter(|o| o.found)
                        .map(|o| o.name);
                }
            }
        }
        let audit = Audit {
            log: self.inner.audit.clone(),
            context: AuditContext {
                tool: "app".into(),
                actor: self.inner.actor.clone(),
                profile: conn.profile.clone(),
                server: conn.server.clone(),
            },
        };
        let on_event = |event: Event| self.change(Notify::Soon, |st| st.apply_run_event(event));
        let report = revoke_all(
            &conn.client,
            &jobs,
            self.inner.concurrency,
            &cancel,
            Some(&audit),
            &on_event,
        )
        .await;
        self.change(Notify::Now, |st| st.finish_run(report));
    }
}

impl State {
    /// The rows `selection` names that exist, each once.
    fn selected_ids(&self, selection: &Selection) -> Vec<u32> {
        if selection.all {
            self.rows
                .iter()
                .filter(|r| {
                    r.inspection.is_valid_refresh()
                        && matches!(
                            r.state,
                            RowState::Ready | RowState::Error | RowState::Cancelled
                        )
                })
                .map(|r| r.id)
                .collect()
        } else {
            let mut seen = HashSet::new();
            selection
                .ids
                .iter()
                .copied()
                .filter(|id| self.index.contains_key(id) && seen.insert(*id))
                .collect()
        }
    }

    /// Queues the refresh tokens among `ids` (a run starts when there is any) and marks the
    /// others not revocable. Returns the jobs and the run's cancel flag.
    fn start_run(&mut self, ids: &[u32]) -> (Vec<RevokeJob>, CancelFlag) {
        let now = now_ms();
        let refresh_by_record: HashMap<u64, u32> = self
            .rows
            .iter()
            .filter(|r| r.inspection.kind == TokenKind::Refresh)
            .filter_map(|r| Some((r.inspection.record_id?, r.id)))
            .collect();
        let names: HashMap<u64, String> = self
            .owners
            .values()
            .filter(|o| o.found)
            .map(|o| (o.id, o.name.clone()))
            .collect();
        let mut jobs = Vec::new();
        for &id in ids {
            let Some(row) = self.row_mut(id) else {
                continue;
            };
            let kind = row.inspection.kind;
            if kind == TokenKind::Refresh {
                row.state = RowState::Queued;
                row.result = None;
                let subject = Subject {
                    app_code: row.inspection.app_code.clone().unwrap_or_default(),
                    user_id: row.inspection.user_id,
                    user_name: row
                        .inspection
                        .user_id
                        .and_then(|uid| names.get(&uid).cloned()),
                    record_id: row.inspection.record_id,
                    kind: kind.as_str().to_owned(),
                    fingerprint: row.inspection.fingerprint.clone(),
                };
                jobs.push(RevokeJob {
                    id,
                    token: row.token.clone(),
                    subject,
                });
            } else {
                row.state = RowState::NotRevocable;
                row.result = Some(RowResult {
                    reason: Some(kind.as_str().to_owned()),
                    refresh_row_id: row
                        .inspection
                        .record_id
                        .filter(|_| kind == TokenKind::Access)
                        .and_then(|record| refresh_by_record.get(&record).copied()),
                    at: now,
                    ..RowResult::default()
                });
            }
            self.touch_row(id);
        }
        let cancel = CancelFlag::new();
        if !jobs.is_empty() {
            self.progress = Progress {
                running: true,
                total: jobs.len(),
                started_at: Some(now),
                ..Progress::default()
            };
            self.audit_error = None;
            self.cancel = Some(cancel.clone());
        }
        (jobs, cancel)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::session::emulator::{Server, DELETE_ROUTE, REFRESH_PATH};
    use crate::session::state::Row;
    use crate::session::testing::{connection, forged, forged_refresh, session, wait_for};
    use crate::session::view::OwnerView;

    const FUTURE: i64 = 4_102_444_800;

    /// Rows of forged tokens, inspected at `now` (Unix s) without a key.
    fn state_of(tokens: &[String], now: i64) -> State {
        let mut st = State::default();
        for (i, token) in tokens.iter().enumerate() {
            let inspection = crate::inspect(token, None, now);
            st.rows
                .push(Row::new(i as u32 + 1, token.clone(), inspection));
        }
        st.reindex();
        st
    }

    #[test]
    fn all_means_the_refresh_tokens_still_worth_revoking() {
        let tokens = [
            forged_refresh(1, 1),
            forged("Refresh", 1, 2, 1_700_000_100), // expired
            forged("Access", 1, 1, FUTURE),
            forged("Login", 1, 3, FUTURE),
            forged_refresh(2, 4),
            forged_refresh(2, 5),
            forged_refresh(3, 6),
        ];
        let mut st = state_of(&tokens, 1_800_000_000);
        st.rows[4].state = RowState::Revoked;
        st.rows[5].state = RowState::Error;
        st.rows[6].state = RowState::Cancelled;
        assert_eq!(st.selected_ids(&Selection::all()), [1, 6, 7]);
        // Named rows: each once, unknown ids dropped, in the order given.
        assert_eq!(
            st.selected_ids(&Selection::ids([5, 99, 2, 5, 3])),
            [5, 2, 3]
        );
    }

    #[test]
    fn a_run_queues_refresh_tokens_and_points_access_tokens_at_theirs() {
        let tokens = [
            forged_refresh(1, 10),
            forged("Access", 1, 10, FUTURE),
            forged("Access", 1, 11, FUTURE),
            forged("Login", 2, 12, FUTURE),
        ];
        let mut st = state_of(&tokens, 0);
        st.owners.insert(
            1,
            OwnerView {
                id: 1,
                name: "张伟".into(),
                groups: Vec::new(),
                avatar: None,
                found: true,
            },
        );
        let (jobs, cancel) = st.start_run(&[1, 2, 3, 4]);
        assert_eq!(jobs.len(), 1);
        assert_eq!(
            (jobs[0].id, jobs[0].token.as_str()),
            (1, tokens[0].as_str())
        );
        assert_eq!(jobs[0].subject.user_name.as_deref(), Some("张伟"));
        assert_eq!(jobs[0].subject.fingerprint, crate::fingerprint(&tokens[0]));
        let states: Vec<RowState> = st.rows.iter().map(|r| r.state).collect();
        assert_eq!(
            states,
            [
                RowState::Queued,
                RowState::NotRevocable,
                RowState::NotRevocable,
                RowState::NotRevocable
            ]
        );
        let result = |i: usize| st.rows[i].result.clone().unwrap();
        assert_eq!(result(1).reason.as_deref(), Some("access"));
        assert_eq!(result(1).refresh_row_id, Some(1));
        assert_eq!(
            result(2).refresh_row_id,
            None,
            "its refresh token is not listed"
        );
        assert_eq!(result(3).reason.as_deref(), Some("login"));
        assert!(st.progress.running);
        assert_eq!(st.progress.total, 1);
        // The flag handed out is the run's.
        cancel.cancel();
        assert!(st.cancel.as_ref().unwrap().is_cancelled());
        assert_eq!(st.dirty_rows.len(), 4);
    }

    #[test]
    fn nothing_revocable_starts_no_run() {
        let mut st = state_of(&[forged("Login", 1, 1, FUTURE)], 0);
        let (jobs, _) = st.start_run(&[1]);
        assert!(jobs.is_empty());
        assert!(!st.running() && st.cancel.is_none());
        assert_eq!(st.rows[0].state, RowState::NotRevocable);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_run_revokes_on_the_server_and_refuses_a_second_one_meanwhile() {
        let server = Server::start().await;
        let conn = connection(&server);
        let (session, events, _dir) = session();
        let uids = server.user_ids();
        let mut tokens = Vec::new();
        for uid in &uids[..3] {
            tokens.push(server.sign_in(*uid).await.0);
        }
        session
            .load_text(&tokens.join("\n"), "text", false, &conn)
            .await
            .unwrap();
        server
            .fault(json!({"path": REFRESH_PATH, "method": "DELETE", "kind": "latency", "delayMs": 300}))
            .await;
        let status = session.revoke(&Selection::all(), &conn).await.unwrap();
        assert!(status.progress.running);
        assert_eq!(status.progress.total, 3);
        assert_eq!(
            session.revoke(&Selection::all(), &conn).await.unwrap_err(),
            SupportError::Busy
        );
        assert_eq!(session.clear().unwrap_err(), SupportError::Busy);
        session.wait_idle().await;
        wait_for("the last event", || {
            events.all().last().unwrap().version == session.status().version
        })
        .await;
        let snapshot = session.snapshot();
        assert!(snapshot.rows.iter().all(|r| r.state == RowState::Revoked));
        assert_eq!(snapshot.progress.revoked, 3);
        assert!(snapshot.progress.finished_at.is_some());
        assert_eq!(server.count(DELETE_ROUTE).await, 3);
        for token in &tokens {
            assert!(!server.is_valid(token).await);
        }
        // The audit log names each owner (looked up before the first request).
        let view = session.audit_view("").unwrap();
        assert_eq!(view.total, 3);
        for uid in &uids[..3] {
            let name = server.user_name(*uid);
            assert!(view
                .entries
                .iter()
                .any(|e| e.entry.user_name.as_deref() == Some(&name)));
        }
        // Nothing left to revoke, nothing failed.
        assert_eq!(
            session.revoke(&Selection::all(), &conn).await.unwrap_err(),
            SupportError::NothingSelected
        );
        assert_eq!(
            session.retry_failed(&conn).await.unwrap_err(),
            SupportError::NothingToRetry
        );
    }

    #[tokio::test]
    async fn cancel_outside_a_run_changes_nothing() {
        let (session, events, _dir) = session();
        let status = session.cancel();
        assert!(!status.progress.cancel_requested);
        assert_eq!(status.version, 0);
        assert_eq!(events.count(), 0);
    }
}
