//! The Support view's state, without Tauri: the pasted tokens (one row each), their owners, the
//! revocation runs, and the snapshot the UI renders.
//!
//! Token strings stay in here. Views carry a row id and a masked form; commands name rows by id.
//!
//! Changes reach the listener as partial [`SupportSnapshot`]s holding only the rows and owners
//! that changed since the last event, at most one per [`FLUSH_EVERY`] while a run goes: a run's
//! progress costs a few rows per event, however long the list. Events never carry the whole
//! list (10,000 rows are megabytes of JSON, which an event would push through the web view's
//! script evaluation): when the set of rows changes (a paste, a file, clear, another profile)
//! the event carries a new `rows_epoch` and no rows, and the listener fetches the full snapshot
//! ([`SupportSession::snapshot`], the `support_state` command). Every snapshot carries a
//! `version`; one older than the newest applied is stale, and the partial events that arrive
//! while the full snapshot is on its way apply on top of it if they are newer.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ed25519_dalek::VerifyingKey;
use geniusauth::Client;
use serde::{Deserialize, Serialize};

use crate::audit::{self, AuditEntry, AuditLog};
use crate::inspect::{inspect, Inspection, SignatureCheck, TokenKind};
use crate::owners::{Owner, OwnerDirectory};
use crate::parse::{parse_tokens, read_token_file, FileError};
use crate::revoke::{
    revoke_all, Audit, AuditContext, CancelFlag, Event, Outcome, RevokeJob, Subject,
    DEFAULT_CONCURRENCY,
};
use crate::time::now_ms;
use crate::{mask, time};

/// Partial events are coalesced: at most one per this interval.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Rows one session holds at most.
pub const MAX_ROWS: usize = 20_000;
/// Audit entries one `audit_view` returns at most (the newest).
pub const AUDIT_VIEW_LIMIT: usize = 2_000;
/// Owners whose avatars are fetched after a paste (those with the most tokens first): each is
/// a download and a few kilobytes in every full snapshot. The others keep `avatar: None`, which
/// the UI shows as the owner's initials on a coloured disc.
pub const MAX_AVATARS: usize = 200;

/// Where revocations go: the active profile's server, as its app.
#[derive(Clone)]
pub struct Connection {
    /// The profile's display name, for the audit log.
    pub profile: String,
    pub server: String,
    pub client: Client,
}

impl Connection {
    fn key(&self) -> String {
        format!("{}|{}", self.server, self.client.config().app_code)
    }
}

/// Which rows to revoke.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Selection {
    /// These rows.
    #[serde(default)]
    pub ids: Vec<u32>,
    /// Every refresh token that is still worth revoking (not expired, not forged, not revoked
    /// yet); `ids` is ignored.
    #[serde(default)]
    pub all: bool,
}

impl Selection {
    pub fn ids(ids: impl Into<Vec<u32>>) -> Selection {
        Selection {
            ids: ids.into(),
            all: false,
        }
    }

    pub fn all() -> Selection {
        Selection {
            ids: Vec::new(),
            all: true,
        }
    }
}

/// Why a support command was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupportError {
    /// A revocation run is in progress.
    Busy,
    NothingSelected,
    NothingToRetry,
    TooManyTokens {
        max: usize,
    },
    NoTokens,
    /// The audit log cannot be opened for writing: nothing was sent.
    AuditLog(String),
    /// The token file `name` is larger than `max` bytes.
    FileTooLarge {
        name: String,
        max: u64,
    },
    Io(String),
}

impl std::fmt::Display for SupportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SupportError::Busy => f.write_str("a revocation run is in progress; cancel it or wait"),
            SupportError::NothingSelected => f.write_str("no token was selected"),
            SupportError::NothingToRetry => f.write_str("no revocation failed"),
            SupportError::TooManyTokens { max } => {
                write!(f, "more than {max} tokens at once; split the list")
            }
            SupportError::NoTokens => f.write_str("no token was found in the text"),
            SupportError::FileTooLarge { name, max } => {
                write!(f, "{name} is larger than {} MiB", max / 1024 / 1024)
            }
            SupportError::AuditLog(message) => {
                write!(f, "{message}; nothing was revoked")
            }
            SupportError::Io(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for SupportError {}

impl SupportError {
    /// The stable code the UI switches on.
    pub fn code(&self) -> &'static str {
        match self {
            SupportError::Busy => "support_busy",
            SupportError::NothingSelected => "nothing_selected",
            SupportError::NothingToRetry => "nothing_to_retry",
            SupportError::TooManyTokens { .. } => "too_many_tokens",
            SupportError::NoTokens => "no_tokens",
            SupportError::AuditLog(_) => "audit_log",
            SupportError::FileTooLarge { .. } => "file_too_large",
            SupportError::Io(_) => "io",
        }
    }
}

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

/// Turns an avatar URL into a `data:` URL (the web view has no network): `(url, server)`.
pub type AvatarFetcher = Arc<
    dyn Fn(String, String) -> Pin<Box<dyn Future<Output = Option<String>> + Send>> + Send + Sync,
>;

type Listener = Box<dyn Fn(SupportSnapshot) + Send + Sync>;

struct Row {
    id: u32,
    token: String,
    masked: String,
    inspection: Inspection,
    state: RowState,
    result: Option<RowResult>,
}

impl Row {
    fn view(&self) -> RowView {
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
struct State {
    rows: Vec<Row>,
    index: HashMap<u32, usize>,
    next_id: u32,
    /// The connection the rows were inspected against, its key, its owners.
    conn_key: Option<String>,
    profile: Option<ProfileView>,
    key: Option<VerifyingKey>,
    key_checked: bool,
    key_error: Option<String>,
    directory: Arc<OwnerDirectory>,
    owners: HashMap<u64, OwnerView>,
    owners_pending: usize,
    owner_error: Option<String>,
    parse: Option<ParseSummary>,
    progress: Progress,
    cancel: Option<CancelFlag>,
    audit_error: Option<String>,
    version: u64,
    rows_epoch: u64,
    dirty_rows: BTreeSet<u32>,
    dirty_owners: BTreeSet<u64>,
    dirty_full: bool,
    dirty_any: bool,
    flush_scheduled: bool,
}

impl State {
    fn touch(&mut self) {
        self.version += 1;
        self.dirty_any = true;
    }

    /// The set of rows changed: listeners refetch everything.
    fn touch_all(&mut self) {
        self.touch();
        self.rows_epoch += 1;
        self.dirty_full = true;
    }

    fn touch_row(&mut self, id: u32) {
        self.touch();
        self.dirty_rows.insert(id);
    }

    fn row_mut(&mut self, id: u32) -> Option<&mut Row> {
        let index = *self.index.get(&id)?;
        self.rows.get_mut(index)
    }

    fn reindex(&mut self) {
        self.index = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, row)| (row.id, i))
            .collect();
    }

    fn running(&self) -> bool {
        self.progress.running
    }

    fn snapshot(
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

    fn full_snapshot(&self, audit_path: &str) -> SupportSnapshot {
        let rows = self.rows.iter().map(Row::view).collect();
        let owners = self
            .owners
            .values()
            .map(|o| (o.id.to_string(), o.clone()))
            .collect();
        self.snapshot(true, rows, owners, audit_path)
    }
}

struct Inner {
    state: Mutex<State>,
    listener: Mutex<Option<Listener>>,
    audit: Arc<AuditLog>,
    actor: String,
    avatars: Mutex<Option<AvatarFetcher>>,
    concurrency: usize,
    /// Held from building an event to handing it over, so that events leave in version order.
    emitting: Mutex<()>,
}

/// The Support view's state. Cheap to clone: clones share it.
#[derive(Clone)]
pub struct SupportSession {
    inner: Arc<Inner>,
}

impl SupportSession {
    /// A session whose revocations are logged to `audit_path`.
    pub fn new(audit_path: impl Into<PathBuf>) -> SupportSession {
        SupportSession::with_concurrency(audit_path, DEFAULT_CONCURRENCY)
    }

    pub fn with_concurrency(audit_path: impl Into<PathBuf>, concurrency: usize) -> SupportSession {
        SupportSession {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                listener: Mutex::new(None),
                audit: Arc::new(AuditLog::new(audit_path)),
                actor: audit::current_actor(),
                avatars: Mutex::new(None),
                concurrency: concurrency.max(1),
                emitting: Mutex::new(()),
            }),
        }
    }

    /// Called with every event (see the module doc).
    pub fn set_listener(&self, listener: impl Fn(SupportSnapshot) + Send + Sync + 'static) {
        *lock(&self.inner.listener) = Some(Box::new(listener));
    }

    pub fn set_avatar_fetcher(&self, fetcher: AvatarFetcher) {
        *lock(&self.inner.avatars) = Some(fetcher);
    }

    pub fn audit_log(&self) -> &AuditLog {
        &self.inner.audit
    }

    fn audit_path(&self) -> String {
        self.inner.audit.path().display().to_string()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner.state)
    }

    /// Everything, rows and owners included.
    pub fn snapshot(&self) -> SupportSnapshot {
        self.state().full_snapshot(&self.audit_path())
    }

    /// Everything but rows and owners: what commands answer with (rows follow as events).
    pub fn status(&self) -> SupportSnapshot {
        self.state()
            .snapshot(false, Vec::new(), BTreeMap::new(), &self.audit_path())
    }

    // ---- input ---------------------------------------------------------------------------

    /// Finds the tokens in `text`, inspects them and adds them as rows (replacing the list
    /// unless `append`); their owners are looked up in the background.
    pub async fn load_text(
        &self,
        text: &str,
        source: &str,
        append: bool,
        conn: &Connection,
    ) -> Result<SupportSnapshot, SupportError> {
        if self.state().running() {
            return Err(SupportError::Busy);
        }
        let parsed = parse_tokens(text);
        self.use_connection(conn).await;
        let (key, existing): (Option<VerifyingKey>, HashSet<String>) = {
            let st = self.state();
            let existing = if append {
                st.rows.iter().map(|r| r.token.clone()).collect()
            } else {
                HashSet::new()
            };
            (st.key, existing)
        };
        let found = parsed.tokens.len();
        let mut duplicates = parsed.duplicates;
        let fresh: Vec<String> = parsed
            .tokens
            .into_iter()
            .filter(|t| {
                let new = !existing.contains(t);
                duplicates += usize::from(!new);
                new
            })
            .collect();
        if found == 0 {
            // Nothing usable at all: keep the current list, say why.
            let mut st = self.state();
            st.parse = Some(ParseSummary {
                added: 0,
                duplicates,
                junk_lines: parsed.junk_lines,
                lines: parsed.lines,
                source: source.to_owned(),
            });
            st.touch();
            drop(st);
            self.schedule_flush();
            return Err(SupportError::NoTokens);
        }
        let current = if append { self.state().rows.len() } else { 0 };
        if current + fresh.len() > MAX_ROWS {
            return Err(SupportError::TooManyTokens { max: MAX_ROWS });
        }
        let now = now_ms() / 1000;
        let inspected = tokio::task::spawn_blocking(move || {
            let inspections = inspect_many(&fresh, key.as_ref(), now);
            fresh.into_iter().zip(inspections).collect::<Vec<_>>()
        })
        .await
        .map_err(|e| SupportError::Io(e.to_string()))?;

        {
            let mut st = self.state();
            if st.running() {
                return Err(SupportError::Busy);
            }
            if !append {
                st.rows.clear();
            }
            let added = inspected.len();
            for (token, inspection) in inspected {
                st.next_id += 1;
                let id = st.next_id;
                st.rows.push(Row {
                    id,
                    masked: mask(&token),
                    token,
                    inspection,
                    state: RowState::Ready,
                    result: None,
                });
            }
            st.reindex();
            st.parse = Some(ParseSummary {
                added,
                duplicates,
                junk_lines: parsed.junk_lines,
                lines: parsed.lines,
                source: source.to_owned(),
            });
            if !append {
                st.progress = Progress::default();
                st.audit_error = None;
            }
            st.touch_all();
        }
        self.spawn_owner_lookup(conn.clone());
        self.flush();
        Ok(self.status())
    }

    /// Reads a text or CSV file (see [`crate::parse::read_token_file`]) and lists its tokens as
    /// [`SupportSession::load_text`] does, with the file's name as the source.
    pub async fn load_file(
        &self,
        path: &Path,
        append: bool,
        conn: &Connection,
    ) -> Result<SupportSnapshot, SupportError> {
        if self.state().running() {
            return Err(SupportError::Busy);
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let read_path = path.to_owned();
        let text = tokio::task::spawn_blocking(move || read_token_file(&read_path))
            .await
            .map_err(|e| SupportError::Io(e.to_string()))?
            .map_err(|err| match err {
                FileError::TooLarge { max, .. } => SupportError::FileTooLarge {
                    name: name.clone(),
                    max,
                },
                other => SupportError::Io(format!("could not read {name}: {other}")),
            })?;
        self.load_text(&text, &name, append, conn).await
    }

    /// Empties the list.
    pub fn clear(&self) -> Result<SupportSnapshot, SupportError> {
        {
            let mut st = self.state();
            if st.running() {
                return Err(SupportError::Busy);
            }
            st.rows.clear();
            st.index.clear();
            st.parse = None;
            st.progress = Progress::default();
            st.audit_error = None;
            st.touch_all();
        }
        self.flush();
        Ok(self.status())
    }

    /// Makes `conn` the connection the rows are checked against: on a change, fetches its key,
    /// re-checks every row's signature and forgets owners of the other server. Returns whether
    /// the connection changed.
    async fn use_connection(&self, conn: &Connection) -> bool {
        let conn_key = conn.key();
        {
            let st = self.state();
            if st.conn_key.as_deref() == Some(conn_key.as_str()) && st.key.is_some() {
                return false;
            }
        }
        let key = conn
            .client
            .server_public_keys()
            .await
            .and_then(|keys| keys.jwt_verifying_key());
        let mut st = self.state();
        let changed = st.conn_key.as_deref() != Some(conn_key.as_str());
        st.key_checked = true;
        match key {
            Ok(key) => {
                st.key = Some(key);
                st.key_error = None;
            }
            Err(err) => {
                st.key = None;
                st.key_error = Some(err.to_string());
            }
        }
        if changed {
            st.conn_key = Some(conn_key);
            st.profile = Some(ProfileView {
                name: conn.profile.clone(),
                server: conn.server.clone(),
                app_code: conn.client.config().app_code.clone(),
            });
            st.directory = Arc::new(OwnerDirectory::new());
            st.owners.clear();
            st.owner_error = None;
        }
        // Re-check the rows held (few or none on a fresh paste).
        let key = st.key;
        let now = now_ms() / 1000;
        let tokens: Vec<&str> = st.rows.iter().map(|r| r.token.as_str()).collect();
        let inspections = inspect_many(&tokens, key.as_ref(), now);
        let any = !inspections.is_empty();
        for (row, inspection) in st.rows.iter_mut().zip(inspections) {
            row.inspection = inspection;
        }
        if any || changed {
            st.touch_all();
        } else {
            st.touch();
        }
        changed
    }

    // ---- owners -------------------------------------------------------------------------

    /// Looks owners up in the background; `owners_pending` is set before this returns.
    fn spawn_owner_lookup(&self, conn: Connection) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        self.begin_owner_lookup();
        let session = self.clone();
        runtime.spawn(async move { session.lookup_owners_started(&conn).await });
    }

    fn begin_owner_lookup(&self) {
        let mut st = self.state();
        st.owners_pending += 1;
        st.touch();
    }

    /// Resolves the owners of every row not known yet, then fetches their avatars.
    pub async fn lookup_owners(&self, conn: &Connection) {
        self.begin_owner_lookup();
        self.lookup_owners_started(conn).await;
    }

    async fn lookup_owners_started(&self, conn: &Connection) {
        let (directory, ids) = {
            let mut st = self.state();
            let ids: Vec<u64> = st
                .rows
                .iter()
                .filter_map(|r| r.inspection.user_id)
                .filter(|id| !st.owners.contains_key(id))
                .collect::<BTreeSet<u64>>()
                .into_iter()
                .collect();
            if ids.is_empty() {
                st.owners_pending = st.owners_pending.saturating_sub(1);
                st.touch();
            }
            (st.directory.clone(), ids)
        };
        if ids.is_empty() {
            self.schedule_flush();
            // Every owner is known, but a new list may show some whose picture is not.
            self.fetch_avatars(&directory, &conn.server).await;
            return;
        }
        self.schedule_flush();
        let report = directory
            .resolve(&conn.client, ids.iter().copied(), |batch| {
                self.apply_owners(&directory, batch);
            })
            .await;
        // Ids answered from the cache (an earlier lookup) are not in any batch.
        let cached: Vec<Owner> = ids.iter().filter_map(|id| directory.get(*id)).collect();
        self.apply_owners(&directory, &cached);
        {
            let mut st = self.state();
            st.owners_pending = st.owners_pending.saturating_sub(1);
            if Arc::ptr_eq(&st.directory, &directory) {
                st.owner_error = report.error.map(|e| e.to_string());
            }
            st.touch();
        }
        self.schedule_flush();
        self.fetch_avatars(&directory, &conn.server).await;
    }

    fn apply_owners(&self, directory: &Arc<OwnerDirectory>, owners: &[Owner]) {
        {
            let mut st = self.state();
            if !Arc::ptr_eq(&st.directory, directory) {
                return;
            }
            for owner in owners {
                let avatar = st.owners.get(&owner.id).and_then(|o| o.avatar.clone());
                let view = OwnerView {
                    id: owner.id,
                    name: owner.name.clone(),
                    groups: owner.groups.clone(),
                    avatar,
                    found: owner.found,
                };
                if st.owners.get(&owner.id) != Some(&view) {
                    st.owners.insert(owner.id, view);
                    st.dirty_owners.insert(owner.id);
                    st.touch();
                }
            }
        }
        self.schedule_flush();
    }

    /// Fetches the pictures of the listed tokens' owners that have none yet: the owners of the
    /// most tokens first, and no more than MAX_AVATARS owners of the list in all (owners of an
    /// earlier list, kept in the cache, do not count).
    async fn fetch_avatars(&self, directory: &Arc<OwnerDirectory>, server: &str) {
        let Some(fetcher) = lock(&self.inner.avatars).clone() else {
            return;
        };
        let (tokens_of, have, missing) = {
            let st = self.state();
            let mut tokens_of: HashMap<u64, usize> = HashMap::new();
            for uid in st.rows.iter().filter_map(|r| r.inspection.user_id) {
                *tokens_of.entry(uid).or_default() += 1;
            }
            let has_avatar = |id: &u64| st.owners.get(id).is_some_and(|o| o.avatar.is_some());
            let have = tokens_of.keys().filter(|id| has_avatar(id)).count();
            let missing: Vec<u64> = tokens_of
                .keys()
                .filter(|id| !has_avatar(id))
                .copied()
                .collect();
            (tokens_of, have, missing)
        };
        let mut ranked = missing;
        ranked.sort_by_key(|id| {
            (
                std::cmp::Reverse(tokens_of.get(id).copied().unwrap_or(0)),
                *id,
            )
        });
        let wanted: Vec<(u64, String)> = ranked
            .iter()
            .filter_map(|id| directory.get(*id))
            .filter(|o| o.found && !o.avatar_url.is_empty())
            .take(MAX_AVATARS.saturating_sub(have))
            .map(|o| (o.id, o.avatar_url))
            .collect();
        for (id, url) in wanted {
            let Some(data_url) = fetcher(url, server.to_owned()).await else {
                continue;
            };
            {
                let mut st = self.state();
                if !Arc::ptr_eq(&st.directory, directory) {
                    return;
                }
                if let Some(owner) = st.owners.get_mut(&id) {
                    owner.avatar = Some(data_url);
                    st.dirty_owners.insert(id);
                    st.touch();
                }
            }
            self.schedule_flush();
        }
    }

    // ---- revocation ----------------------------------------------------------------------

    /// Starts revoking the selected rows in the background; progress arrives as events.
    /// Selected rows that are not refresh tokens are marked not revocable (an access token's
    /// result names the row of its refresh token when the list has it).
    pub async fn revoke(
        &self,
        selection: &Selection,
        conn: &Connection,
    ) -> Result<SupportSnapshot, SupportError> {
        if self.state().running() {
            return Err(SupportError::Busy);
        }
        if self.use_connection(conn).await {
            // Owners of the rows held are looked up again, on the new server.
            self.spawn_owner_lookup(conn.clone());
        }
        let wants_refresh = {
            let st = self.state();
            let ids = selected_ids(&st, selection);
            if ids.is_empty() {
                return Err(SupportError::NothingSelected);
            }
            ids.iter().any(|id| {
                st.index.get(id).map(|i| st.rows[*i].inspection.kind) == Some(TokenKind::Refresh)
            })
        };
        // No request without a place to record it: the log is opened (created) first.
        if wants_refresh {
            crate::revoke::open_log(&self.inner.audit)
                .await
                .map_err(SupportError::AuditLog)?;
        }
        let jobs = {
            let mut st = self.state();
            if st.running() {
                return Err(SupportError::Busy);
            }
            let ids = selected_ids(&st, selection);
            if ids.is_empty() {
                return Err(SupportError::NothingSelected);
            }
            let now = now_ms();
            let refresh_by_record: HashMap<u64, u32> = st
                .rows
                .iter()
                .filter(|r| r.inspection.kind == TokenKind::Refresh)
                .filter_map(|r| Some((r.inspection.record_id?, r.id)))
                .collect();
            let names: HashMap<u64, String> = st
                .owners
                .values()
                .filter(|o| o.found)
                .map(|o| (o.id, o.name.clone()))
                .collect();
            let mut jobs = Vec::new();
            for id in ids {
                let Some(row) = st.row_mut(id) else {
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
                st.touch_row(id);
            }
            if !jobs.is_empty() {
                st.progress = Progress {
                    running: true,
                    total: jobs.len(),
                    started_at: Some(now),
                    ..Progress::default()
                };
                st.audit_error = None;
                st.cancel = Some(CancelFlag::new());
            }
            jobs
        };
        self.flush();
        if !jobs.is_empty() {
            let session = self.clone();
            let conn = conn.clone();
            let cancel = self.state().cancel.clone().unwrap_or_default();
            let run = async move { session.run(jobs, conn, cancel).await };
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(run);
                }
                Err(_) => return Err(SupportError::Io("no async runtime".into())),
            }
        }
        Ok(self.status())
    }

    /// Revokes the rows whose last attempt failed.
    pub async fn retry_failed(&self, conn: &Connection) -> Result<SupportSnapshot, SupportError> {
        let ids: Vec<u32> = self
            .state()
            .rows
            .iter()
            .filter(|r| r.state == RowState::Error)
            .map(|r| r.id)
            .collect();
        if ids.is_empty() {
            return Err(SupportError::NothingToRetry);
        }
        self.revoke(&Selection::ids(ids), conn).await
    }

    /// Stops the run from sending more requests; those in flight finish and are recorded.
    pub fn cancel(&self) -> SupportSnapshot {
        {
            let mut st = self.state();
            if st.running() {
                if let Some(flag) = &st.cancel {
                    flag.cancel();
                }
                st.progress.cancel_requested = true;
                st.touch();
            }
        }
        self.flush();
        self.status()
    }

    /// Whether a run is in progress.
    pub fn is_running(&self) -> bool {
        self.state().running()
    }

    /// Waits until no run is in progress (tests, shutdown).
    pub async fn wait_idle(&self) {
        while self.is_running() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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
            let directory = self.state().directory.clone();
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
        let on_event = |event: Event| self.on_run_event(event);
        let report = revoke_all(
            &conn.client,
            &jobs,
            self.inner.concurrency,
            &cancel,
            Some(&audit),
            &on_event,
        )
        .await;
        {
            let mut st = self.state();
            let now = now_ms();
            for (id, outcome) in &report.outcomes {
                if *outcome == Outcome::Cancelled {
                    if let Some(row) = st.row_mut(*id) {
                        row.state = RowState::Cancelled;
                        row.result = Some(RowResult {
                            at: now,
                            ..RowResult::default()
                        });
                    }
                    st.progress.cancelled += 1;
                    st.touch_row(*id);
                }
            }
            st.progress.running = false;
            st.progress.in_flight = 0;
            st.progress.finished_at = Some(now);
            st.audit_error = report.audit_error;
            st.cancel = None;
            st.touch();
        }
        self.flush();
    }

    fn on_run_event(&self, event: Event) {
        {
            let mut st = self.state();
            match event {
                Event::Started { id } => {
                    if let Some(row) = st.row_mut(id) {
                        row.state = RowState::Running;
                    }
                    st.progress.in_flight += 1;
                    st.touch_row(id);
                }
                Event::Finished {
                    id, outcome, done, ..
                } => {
                    let (state, result) = row_outcome(&outcome);
                    if let Some(row) = st.row_mut(id) {
                        row.state = state;
                        row.result = Some(result);
                    }
                    let progress = &mut st.progress;
                    progress.in_flight = progress.in_flight.saturating_sub(1);
                    progress.done = done;
                    match state {
                        RowState::Revoked => progress.revoked += 1,
                        RowState::AlreadyInvalid => progress.already_invalid += 1,
                        _ => progress.failed += 1,
                    }
                    st.touch_row(id);
                }
            }
        }
        self.schedule_flush();
    }

    // ---- audit log -----------------------------------------------------------------------

    /// The newest entries matching `query`.
    pub fn audit_view(&self, query: &str) -> Result<AuditView, SupportError> {
        let read = self
            .inner
            .audit
            .read()
            .map_err(|e| SupportError::Io(format!("could not read the audit log: {e}")))?;
        let matched = audit::search(&read.entries, query);
        Ok(AuditView {
            total: read.entries.len(),
            matched: matched.len(),
            entries: matched
                .into_iter()
                .take(AUDIT_VIEW_LIMIT)
                .map(|entry| AuditEntryView {
                    at: entry.time_ms(),
                    entry: entry.clone(),
                })
                .collect(),
            unreadable_lines: read.unreadable_lines,
            path: self.audit_path(),
        })
    }

    /// Writes the entries matching `query` (newest first) as CSV to `path`; returns how many.
    pub fn export_audit_csv(
        &self,
        query: &str,
        path: &std::path::Path,
    ) -> Result<usize, SupportError> {
        let read = self
            .inner
            .audit
            .read()
            .map_err(|e| SupportError::Io(format!("could not read the audit log: {e}")))?;
        let matched = audit::search(&read.entries, query);
        audit::write_file_synced(path, &audit::to_csv(matched.iter().copied()))
            .map_err(|e| SupportError::Io(format!("could not write {}: {e}", path.display())))?;
        Ok(matched.len())
    }

    // ---- events --------------------------------------------------------------------------

    /// Emits what changed, now.
    fn flush(&self) {
        let _emitting = lock(&self.inner.emitting);
        let snapshot = {
            let mut st = self.state();
            if !st.dirty_any {
                return;
            }
            let snapshot = if st.dirty_full {
                // A new epoch: the listener fetches the rows (see the module doc).
                st.snapshot(false, Vec::new(), BTreeMap::new(), &self.audit_path())
            } else {
                let rows = st
                    .dirty_rows
                    .iter()
                    .filter_map(|id| st.index.get(id).map(|i| st.rows[*i].view()))
                    .collect();
                let owners = st
                    .dirty_owners
                    .iter()
                    .filter_map(|id| st.owners.get(id))
                    .map(|o| (o.id.to_string(), o.clone()))
                    .collect();
                st.snapshot(false, rows, owners, &self.audit_path())
            };
            st.dirty_rows.clear();
            st.dirty_owners.clear();
            st.dirty_full = false;
            st.dirty_any = false;
            snapshot
        };
        if let Some(listener) = lock(&self.inner.listener).as_ref() {
            listener(snapshot);
        }
    }

    /// Emits what changed within [`FLUSH_EVERY`] (changes in between share one event).
    fn schedule_flush(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.flush();
            return;
        };
        {
            let mut st = self.state();
            if st.flush_scheduled {
                return;
            }
            st.flush_scheduled = true;
        }
        let session = self.clone();
        runtime.spawn(async move {
            tokio::time::sleep(FLUSH_EVERY).await;
            session.state().flush_scheduled = false;
            session.flush();
        });
    }
}

/// Inspects `tokens` in order, on every core: a signature check is the costly part, and 10,000
/// of them take about half a second on one core (`cargo bench -p support`).
fn inspect_many<T: AsRef<str> + Sync>(
    tokens: &[T],
    key: Option<&VerifyingKey>,
    now: i64,
) -> Vec<Inspection> {
    let inspect_all = |part: &[T]| -> Vec<Inspection> {
        part.iter().map(|t| inspect(t.as_ref(), key, now)).collect()
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if threads < 2 || tokens.len() < 512 {
        return inspect_all(tokens);
    }
    std::thread::scope(|scope| {
        let parts: Vec<_> = tokens
            .chunks(tokens.len().div_ceil(threads))
            .map(|part| scope.spawn(move || inspect_all(part)))
            .collect();
        parts
            .into_iter()
            .flat_map(|part| {
                part.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// The rows `selection` names that exist, each once.
fn selected_ids(st: &State, selection: &Selection) -> Vec<u32> {
    if selection.all {
        st.rows
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
            .filter(|id| st.index.contains_key(id) && seen.insert(*id))
            .collect()
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

/// RFC 3339 of now; re-exported for callers that stamp their own records.
pub fn now_rfc3339() -> String {
    time::rfc3339_utc(now_ms())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
