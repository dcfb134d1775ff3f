//! What the listener is sent, and when (see the module doc of `session`): partial snapshots of
//! the rows and owners marked changed, or, for a new rows epoch, none of them.

use super::state::State;
use super::{lock, SupportSession, SupportSnapshot, FLUSH_EVERY};

impl State {
    /// The event for what changed since the last one, and the changes forgotten; `None` when
    /// nothing changed.
    pub(super) fn take_event(&mut self, audit_path: &str) -> Option<SupportSnapshot> {
        if !self.dirty_any {
            return None;
        }
        let event = if self.dirty_full {
            // A new epoch: the listener fetches the rows.
            self.status(audit_path)
        } else {
            let rows = self
                .dirty_rows
                .iter()
                .filter_map(|id| self.row(*id).map(|row| row.view()))
                .collect();
            let owners = self
                .dirty_owners
                .iter()
                .filter_map(|id| self.owners.get(id))
                .map(|o| (o.id.to_string(), o.clone()))
                .collect();
            self.snapshot(false, rows, owners, audit_path)
        };
        self.dirty_rows.clear();
        self.dirty_owners.clear();
        self.dirty_full = false;
        self.dirty_any = false;
        Some(event)
    }
}

impl SupportSession {
    /// Emits what changed, now.
    pub(super) fn flush(&self) {
        let _emitting = lock(&self.inner.emitting);
        let Some(event) = lock(&self.inner.state).take_event(&self.audit_path()) else {
            return;
        };
        if let Some(listener) = lock(&self.inner.listener).as_ref() {
            listener(event);
        }
    }

    /// Emits what changed within [`FLUSH_EVERY`] (changes in between share one event); at once
    /// outside a Tokio runtime.
    pub(super) fn schedule_flush(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.flush();
            return;
        };
        {
            let mut st = lock(&self.inner.state);
            if st.flush_scheduled {
                return;
            }
            st.flush_scheduled = true;
        }
        let session = self.clone();
        runtime.spawn(async move {
            tokio::time::sleep(FLUSH_EVERY).await;
            lock(&session.inner.state).flush_scheduled = false;
            session.flush();
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::state::Row;
    use crate::session::testing::{forged_refresh, session};
    use crate::session::view::{OwnerView, RowState};
    use crate::session::Notify;

    fn state_with_rows(n: u32) -> State {
        let mut st = State::default();
        for i in 1..=n {
            let token = forged_refresh(u64::from(i), u64::from(i));
            st.rows
                .push(Row::new(i, token.clone(), crate::inspect(&token, None, 0)));
        }
        st.next_id = n;
        st.reindex();
        st
    }

    #[test]
    fn a_partial_event_carries_only_what_changed() {
        let mut st = state_with_rows(5);
        st.owners.insert(
            2,
            OwnerView {
                id: 2,
                name: "李娜".into(),
                groups: vec!["学生".into()],
                avatar: None,
                found: true,
            },
        );
        st.rows[3].state = RowState::Revoked;
        st.touch_row(4);
        st.touch_owner(2);
        // A row that is gone by the time the event leaves is left out.
        st.touch_row(99);
        let event = st.take_event("audit.jsonl").unwrap();
        assert!(!event.full);
        assert_eq!(event.row_count, 5);
        assert_eq!(event.rows.len(), 1);
        assert_eq!(
            (event.rows[0].id, event.rows[0].state),
            (4, RowState::Revoked)
        );
        assert_eq!(event.owners.keys().collect::<Vec<_>>(), ["2"]);
        assert_eq!(event.version, st.version);
        // Sent once.
        assert!(st.take_event("audit.jsonl").is_none());
        assert!(st.dirty_rows.is_empty() && st.dirty_owners.is_empty());
    }

    #[test]
    fn a_new_epoch_carries_no_rows() {
        let mut st = state_with_rows(3);
        st.touch_row(1);
        st.touch_all();
        let event = st.take_event("audit.jsonl").unwrap();
        assert_eq!(event.rows_epoch, 1);
        assert!(event.rows.is_empty() && event.owners.is_empty());
        assert_eq!(event.row_count, 3);
        // The next partial event is back to rows.
        st.touch_row(2);
        let next = st.take_event("audit.jsonl").unwrap();
        assert_eq!(next.rows.len(), 1);
        assert_eq!(next.rows_epoch, 1);
    }

    /// Events leave in version order even when changes race from several threads.
    #[test]
    fn events_leave_in_version_order() {
        let (session, events, _dir) = session();
        session.change(Notify::Now, |st| {
            *st = state_with_rows(8);
            st.touch_all();
        });
        std::thread::scope(|scope| {
            for id in 1..=8u32 {
                let session = session.clone();
                scope.spawn(move || {
                    for _ in 0..50 {
                        session.change(Notify::Now, |st| st.touch_row(id));
                    }
                });
            }
        });
        let all = events.all();
        assert_eq!(all.last().unwrap().version, 1 + 8 * 50);
        assert!(all.windows(2).all(|w| w[0].version < w[1].version));
    }

    /// Outside a runtime there is no timer: "soon" is now.
    #[test]
    fn without_a_runtime_soon_is_now() {
        let (session, events, _dir) = session();
        session.change(Notify::Soon, |st| st.touch());
        assert_eq!(events.count(), 1);
    }
}
