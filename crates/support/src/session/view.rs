//! What the UI is sent: rows, owners, progress and the snapshot that holds them (docs/ipc.md,
//! "Support"). Plain data; the state they are built from is in `state`.

use std::collections::BTreeMap;

use serde::Serialize;

#[cfg(doc)]
use super::{AUDIT_VIEW_LIMIT, MAX_ROWS};
use crate::audit::AuditEntry;
use crate::inspect::{SignatureCheck, TokenKind};

/// Where a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowState {
    /// Not acted on.
    Ready,
    /// Waiting in the current run.
    Queued,
    /// Its request is in flight.
    Running,
    Revoked,
    /// Code 31: revoked before, expired, or not valid on this server.
    AlreadyInvalid,
    Error,
    /// Its run was cancelled before its request was sent.
    Cancelled,
    /// Selected, but not a refresh token: see `result.reason`.
    NotRevocable,
}

/// How a row's last action ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RowResult {
    /// Not revocable: `access` (revoke its refresh token instead), `login`, `other`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For an access token: the row of the refresh token with the same login record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_row_id: Option<u32>,
    /// Error kind: `server`, `timeout`, `connect`, `network`, `unexpected_reply`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The server's code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    /// The server's message, or what went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub transient: bool,
    /// Unix ms.
    pub at: i64,
}

/// One token as the UI sees it. Absent values are left out of the JSON (not `null`): a full
/// snapshot holds up to [`MAX_ROWS`] of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RowView {
    pub id: u32,
    pub masked: String,
    pub kind: TokenKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// Unix ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<i64>,
    /// Unix ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub expired: bool,
    pub signature: SignatureCheck,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    pub fingerprint: String,
    pub state: RowState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<RowResult>,
}

/// An owner as the UI sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerView {
    pub id: u64,
    pub name: String,
    pub groups: Vec<String>,
    /// A `data:` URL, once fetched.
    pub avatar: Option<String>,
    /// False when the server does not know this user id.
    pub found: bool,
}

/// What the last paste or file added.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParseSummary {
    /// New rows.
    pub added: usize,
    /// Tokens already in the list or repeated in the text.
    pub duplicates: usize,
    /// Non-blank lines without a token.
    pub junk_lines: usize,
    pub lines: usize,
    /// `text` or the file name.
    pub source: String,
}

/// The current (or last) revocation run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub running: bool,
    pub total: usize,
    pub done: usize,
    pub in_flight: usize,
    pub revoked: usize,
    pub already_invalid: usize,
    pub failed: usize,
    /// Never sent because the run was cancelled.
    pub cancelled: usize,
    pub cancel_requested: bool,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// The profile the rows were checked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileView {
    pub name: String,
    pub server: String,
    pub app_code: String,
}

/// The Support view's snapshot (see the module doc for full and partial ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SupportSnapshot {
    pub version: u64,
    /// Changes whenever the set of rows is replaced or re-inspected; rows of another epoch are
    /// out of date and a full snapshot has to be fetched.
    pub rows_epoch: u64,
    /// `rows` and `owners` are complete; otherwise they hold only what changed.
    pub full: bool,
    pub rows: Vec<RowView>,
    /// Keyed by user id.
    pub owners: BTreeMap<String, OwnerView>,
    pub owners_pending: bool,
    pub owner_error: Option<String>,
    /// `ok`, `unavailable` (signatures not checked) or `none` (nothing checked yet).
    pub key: String,
    pub key_error: Option<String>,
    pub parse: Option<ParseSummary>,
    pub progress: Progress,
    /// Rows whose last revocation failed ("retry failed").
    pub failed_rows: usize,
    pub row_count: usize,
    pub audit_error: Option<String>,
    pub audit_path: String,
    pub profile: Option<ProfileView>,
}

/// The Audit log view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditView {
    /// Newest first, at most [`AUDIT_VIEW_LIMIT`].
    pub entries: Vec<AuditEntryView>,
    /// Entries in the log.
    pub total: usize,
    /// Entries matching the query.
    pub matched: usize,
    pub unreadable_lines: usize,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryView {
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// `time` in Unix ms.
    pub at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A full snapshot holds up to 20,000 rows: absent values are left out, not `null`.
    #[test]
    fn rows_leave_absent_values_out() {
        let row = RowView {
            id: 7,
            masked: "…x9Qk9x".into(),
            kind: TokenKind::Other,
            user_id: None,
            record_id: None,
            app_code: None,
            payload: None,
            issued_at: None,
            expires_at: None,
            expired: false,
            signature: SignatureCheck::Unavailable,
            problem: Some("not a GeniusAuth token".into()),
            fingerprint: "1a2b3c4d".into(),
            state: RowState::NotRevocable,
            result: Some(RowResult {
                reason: Some("other".into()),
                at: 1_700_000_000_000,
                ..RowResult::default()
            }),
        };
        assert_eq!(
            serde_json::to_value(&row).unwrap(),
            json!({
                "id": 7,
                "masked": "…x9Qk9x",
                "kind": "other",
                "signature": "unavailable",
                "problem": "not a GeniusAuth token",
                "fingerprint": "1a2b3c4d",
                "state": "not_revocable",
                "result": {"reason": "other", "at": 1_700_000_000_000_i64},
            })
        );
    }

    #[test]
    fn results_name_the_server_answer_in_camel_case() {
        let result = RowResult {
            error: Some("server".into()),
            code: Some(500),
            msg: Some("boom".into()),
            http_status: Some(502),
            transient: true,
            refresh_row_id: Some(3),
            at: 5,
            ..RowResult::default()
        };
        assert_eq!(
            serde_json::to_value(&result).unwrap(),
            json!({"refreshRowId": 3, "error": "server", "code": 500, "msg": "boom",
                   "httpStatus": 502, "transient": true, "at": 5})
        );
        assert_eq!(
            serde_json::to_value(RowState::AlreadyInvalid).unwrap(),
            json!("already_invalid")
        );
    }
}
