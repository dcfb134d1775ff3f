//! How a run's events move its rows and its progress along, and how it ends.

use super::state::State;
use super::view::{RowResult, RowState};
use crate::revoke::{Event, Outcome, RevokeReport};
use crate::time::now_ms;

impl State {
    pub(super) fn apply_run_event(&mut self, event: Event) {
        match event {
            Event::Started { id } => {
                if let Some(row) = self.row_mut(id) {
                    row.state = RowState::Running;
                }
                self.progress.in_flight += 1;
                self.touch_row(id);
            }
            Event::Finished {
                id, outcome, done, ..
            } => {
                let (state, result) = row_outcome(&outcome);
                if let Some(row) = self.row_mut(id) {
                    row.state = state;
                    row.result = Some(result);
                }
                let progress = &mut self.progress;
                progress.in_flight = progress.in_flight.saturating_sub(1);
                progress.done = done;
                match state {
                    RowState::Revoked => progress.revoked += 1,
                    RowState::AlreadyInvalid => progress.already_invalid += 1,
                    _ => progress.failed += 1,
                }
                self.touch_row(id);
            }
        }
    }

    /// The run ended: rows never sent are cancelled, and the progress says it is over.
    pub(super) fn finish_run(&mut self, report: RevokeReport) {
        let now = now_ms();
        for (id, outcome) in &report.outcomes {
            if *outcome == Outcome::Cancelled {
                if let Some(row) = self.row_mut(*id) {
                    row.state = RowState::Cancelled;
                    row.result = Some(RowResult {
                        at: now,
                        ..RowResult::default()
                    });
                }
                self.progress.cancelled += 1;
                self.touch_row(*id);
            }
        }
        self.progress.running = false;
        self.progress.in_flight = 0;
        self.progress.finished_at = Some(now);
        self.audit_error = report.audit_error;
        self.cancel = None;
        self.touch();
    }
}

fn row_outcome(outcome: &Outcome) -> (RowState, RowResult) {
    let at = now_ms();
    match outcome {
        Outcome::Revoked => (
            RowState::Revoked,
            RowResult {
                at,
                ..RowResult::default()
            },
        ),
        Outcome::AlreadyInvalid { code, msg } => (
            RowState::AlreadyInvalid,
            RowResult {
                code: Some(*code),
                msg: Some(msg.clone()),
                at,
                ..RowResult::default()
            },
        ),
        Outcome::Error {
            error,
            code,
            msg,
            http_status,
            transient,
        } => (
            RowState::Error,
            RowResult {
                error: Some(error.clone()),
                code: *code,
                msg: Some(msg.clone()),
                http_status: *http_status,
                transient: *transient,
                at,
                ..RowResult::default()
            },
        ),
        Outcome::Cancelled => (
            RowState::Cancelled,
            RowResult {
                at,
                ..RowResult::default()
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::state::Row;
    use crate::session::testing::forged_refresh;

    fn running_state(n: u32) -> State {
        let mut st = State::default();
        for id in 1..=n {
            let token = forged_refresh(u64::from(id), u64::from(id));
            let inspection = crate::inspect(&token, None, 0);
            st.rows.push(Row::new(id, token, inspection));
            st.rows.last_mut().unwrap().state = RowState::Queued;
        }
        st.reindex();
        st.progress.running = true;
        st.progress.total = n as usize;
        st.cancel = Some(crate::CancelFlag::new());
        st
    }

    #[test]
    fn run_events_move_rows_and_count_outcomes() {
        let mut st = running_state(3);
        for id in 1..=3 {
            st.apply_run_event(Event::Started { id });
        }
        assert_eq!(st.progress.in_flight, 3);
        assert!(st.rows.iter().all(|r| r.state == RowState::Running));
        let outcomes = [
            Outcome::Revoked,
            Outcome::AlreadyInvalid {
                code: 31,
                msg: "身份令牌无效或已过期".into(),
            },
            Outcome::Error {
                error: "timeout".into(),
                code: None,
                msg: "no answer".into(),
                http_status: None,
                transient: true,
            },
        ];
        for (i, outcome) in outcomes.into_iter().enumerate() {
            let done = i + 1;
            st.apply_run_event(Event::Finished {
                id: done as u32,
                outcome,
                done,
                total: 3,
            });
        }
        let p = &st.progress;
        assert_eq!((p.done, p.in_flight), (3, 0));
        assert_eq!((p.revoked, p.already_invalid, p.failed), (1, 1, 1));
        let states: Vec<RowState> = st.rows.iter().map(|r| r.state).collect();
        assert_eq!(
            states,
            [RowState::Revoked, RowState::AlreadyInvalid, RowState::Error]
        );
        let invalid = st.rows[1].result.clone().unwrap();
        assert_eq!(invalid.code, Some(31));
        let failed = st.rows[2].result.clone().unwrap();
        assert_eq!(failed.error.as_deref(), Some("timeout"));
        assert!(failed.transient);
    }

    #[test]
    fn the_end_of_a_run_cancels_what_was_never_sent() {
        let mut st = running_state(3);
        st.apply_run_event(Event::Started { id: 1 });
        st.apply_run_event(Event::Finished {
            id: 1,
            outcome: Outcome::Revoked,
            done: 1,
            total: 3,
        });
        st.finish_run(RevokeReport {
            outcomes: vec![
                (1, Outcome::Revoked),
                (2, Outcome::Cancelled),
                (3, Outcome::Cancelled),
            ],
            attempts: 1,
            audit_error: Some("disk full".into()),
        });
        let states: Vec<RowState> = st.rows.iter().map(|r| r.state).collect();
        assert_eq!(
            states,
            [RowState::Revoked, RowState::Cancelled, RowState::Cancelled]
        );
        let p = &st.progress;
        assert!(!p.running && p.finished_at.is_some());
        assert_eq!((p.revoked, p.cancelled, p.in_flight), (1, 2, 0));
        assert_eq!(st.audit_error.as_deref(), Some("disk full"));
        assert!(st.cancel.is_none());
    }
}
