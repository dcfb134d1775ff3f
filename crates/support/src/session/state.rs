//! The state behind the session's lock: rows (each with its token), owners, the current run,
//! and what changed since the last event. Changed only through `SupportSession::change`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;

use super::view::{OwnerView, ParseSummary, ProfileView, Progress, RowResult, RowState, RowView};
use super::SupportSnapshot;
use crate::inspect::Inspection;
use crate::mask;
use crate::owners::OwnerDirectory;
use crate::revoke::CancelFlag;

/// One listed token. The token string never leaves the crate: views get `masked`.
pub(super) struct Row {
    pub id: u32,
    pub token: String,
    pub masked: String,
    pub inspection: Inspection,
    pub state: RowState,
    pub result: Option<RowResult>,
}

impl Row {
    pub fn new(id: u32, token: String, inspection: Inspection) -> Row {
        Row {
            id,
            masked: mask(&token),
            token,
            inspection,
            state: RowState::Ready,
            result: None,
        }
    }

    pub fn view(&self) -> RowView {
        let i = &self.inspection;
        RowView {
            id: self.id,
            masked: self.masked.clone(),
            kind: i.kind,
            user_id: i.user_id,
            record_id: i.record_id,
            app_code: i.app_code.clone(),
            payload: i.payload.clone(),
            issued_at: i.issued_at.map(|s| s * 1000),
            expires_at: i.expires_at.map(|s| s * 1000),
            expired: i.expired,
            signature: i.signature,
            problem: i.problem.clone(),
            fingerprint: i.fingerprint.clone(),
            state: self.state,
            result: self.result.clone(),
        }
    }
}

#[derive(Default)]
pub(super) struct State {
    pub rows: Vec<Row>,
    /// Row id → position in `rows`.
    pub index: HashMap<u32, usize>,
    pub next_id: u32,
    /// The connection the rows were inspected against, its key, its owners.
    pub conn_key: Option<String>,
    pub profile: Option<ProfileView>,
    pub key: Option<VerifyingKey>,
    pub key_checked: bool,
    pub key_error: Option<String>,
    pub directory: Arc<OwnerDirectory>,
    pub owners: HashMap<u64, OwnerView>,
    /// Owner lookups under way.
    pub owners_pending: usize,
    pub owner_error: Option<String>,
    pub parse: Option<ParseSummary>,
    pub progress: Progress,
    pub cancel: Option<CancelFlag>,
    pub audit_error: Option<String>,
    pub version: u64,
    pub rows_epoch: u64,
    pub dirty_rows: BTreeSet<u32>,
    pub dirty_owners: BTreeSet<u64>,
    pub dirty_full: bool,
    pub dirty_any: bool,
    pub flush_scheduled: bool,
}

impl State {
    /// Something the status shows changed.
    pub fn touch(&mut self) {
        self.version += 1;
        self.dirty_any = true;
    }

    /// The set of rows changed: listeners refetch everything.
    pub fn touch_all(&mut self) {
        self.touch();
        self.rows_epoch += 1;
        self.dirty_full = true;
    }

    pub fn touch_row(&mut self, id: u32) {
        self.touch();
        self.dirty_rows.insert(id);
    }

    pub fn touch_owner(&mut self, id: u64) {
        self.touch();
        self.dirty_owners.insert(id);
    }

    /// Whether anything changed since the last event.
    pub fn has_changes(&self) -> bool {
        self.dirty_any
    }

    pub fn row_mut(&mut self, id: u32) -> Option<&mut Row> {
        let index = *self.index.get(&id)?;
        self.rows.get_mut(index)
    }

    pub fn row(&self, id: u32) -> Option<&Row> {
        self.rows.get(*self.index.get(&id)?)
    }

    pub fn reindex(&mut self) {
        self.index = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, row)| (row.id, i))
            .collect();
    }

    pub fn running(&self) -> bool {
        self.progress.running
    }

    pub fn snapshot(
        &self,
        full: bool,
        rows: Vec<RowView>,
        owners: BTreeMap<String, OwnerView>,
        audit_path: &str,
    ) -> SupportSnapshot {
        SupportSnapshot {
            version: self.version,
            rows_epoch: self.rows_epoch,
            full,
            rows,
            owners,
            owners_pending: self.owners_pending > 0,
            owner_error: self.owner_error.clone(),
            key: if !self.key_checked {
                "none".into()
            } else if self.key.is_some() {
                "ok".into()
            } else {
                "unavailable".into()
            },
            key_error: self.key_error.clone(),
            parse: self.parse.clone(),
            progress: self.progress.clone(),
            failed_rows: self
                .rows
                .iter()
                .filter(|r| r.state == RowState::Error)
                .count(),
            row_count: self.rows.len(),
            audit_error: self.audit_error.clone(),
            audit_path: audit_path.to_owned(),
            profile: self.profile.clone(),
        }
    }

    /// Everything but rows and owners.
    pub fn status(&self, audit_path: &str) -> SupportSnapshot {
        self.snapshot(false, Vec::new(), BTreeMap::new(), audit_path)
    }

    pub fn full_snapshot(&self, audit_path: &str) -> SupportSnapshot {
        let rows = self.rows.iter().map(Row::view).collect();
        let owners = self
            .owners
            .values()
            .map(|o| (o.id.to_string(), o.clone()))
            .collect();
        self.snapshot(true, rows, owners, audit_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::testing::forged_refresh;
    use crate::SignatureCheck;

    fn state_with(tokens: &[String]) -> State {
        let mut st = State::default();
        for token in tokens {
            st.next_id += 1;
            let row = Row::new(st.next_id, token.clone(), crate::inspect(token, None, 0));
            st.rows.push(row);
        }
        st.reindex();
        st
    }

    #[test]
    fn views_mask_the_token_and_give_times_in_ms() {
        let token = forged_refresh(5, 9);
        let st = state_with(std::slice::from_ref(&token));
        let view = st.row(1).unwrap().view();
        assert_eq!(view.masked, mask(&token));
        assert_eq!(view.fingerprint, crate::fingerprint(&token));
        assert_eq!((view.user_id, view.record_id), (Some(5), Some(9)));
        assert_eq!(view.issued_at, Some(1_700_000_000_000));
        assert_eq!(view.expires_at, Some(4_102_444_800_000));
        assert_eq!(view.signature, SignatureCheck::Unavailable);
        let json = serde_json::to_string(&st.full_snapshot("audit.jsonl")).unwrap();
        assert!(!json.contains(&token[token.len() - 20..]), "{json}");
    }

    #[test]
    fn rows_are_found_by_id_after_a_reindex() {
        let tokens: Vec<String> = (1..=4).map(|i| forged_refresh(i, i)).collect();
        let mut st = state_with(&tokens);
        st.rows.remove(1);
        st.reindex();
        assert!(st.row(2).is_none());
        assert_eq!(st.row(3).unwrap().inspection.user_id, Some(3));
        st.row_mut(4).unwrap().state = RowState::Error;
        assert_eq!(st.rows[2].state, RowState::Error);
    }

    #[test]
    fn the_status_counts_without_listing() {
        let tokens: Vec<String> = (1..=3).map(|i| forged_refresh(i, i)).collect();
        let mut st = state_with(&tokens);
        assert_eq!(st.status("a").key, "none");
        st.key_checked = true;
        assert_eq!(st.status("a").key, "unavailable");
        st.row_mut(2).unwrap().state = RowState::Error;
        st.row_mut(3).unwrap().state = RowState::Error;
        st.owners_pending = 1;
        let status = st.status("/data/audit.jsonl");
        assert!(!status.full && status.rows.is_empty());
        assert_eq!((status.row_count, status.failed_rows), (3, 2));
        assert!(status.owners_pending);
        assert_eq!(status.audit_path, "/data/audit.jsonl");
        let full = st.full_snapshot("/data/audit.jsonl");
        assert!(full.full);
        assert_eq!(full.rows.len(), 3);
    }

    #[test]
    fn every_mark_is_a_new_version_and_a_new_set_is_a_new_epoch() {
        let mut st = State::default();
        assert!(!st.has_changes());
        st.touch_row(1);
        st.touch_owner(8);
        assert_eq!((st.version, st.rows_epoch), (2, 0));
        assert!(st.has_changes() && !st.dirty_full);
        st.touch_all();
        assert_eq!((st.version, st.rows_epoch), (3, 1));
        assert!(st.dirty_full);
        assert_eq!(st.dirty_rows.iter().copied().collect::<Vec<_>>(), [1]);
        assert_eq!(st.dirty_owners.iter().copied().collect::<Vec<_>>(), [8]);
    }
}
