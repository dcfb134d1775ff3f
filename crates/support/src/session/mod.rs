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
//!
//! Every change to the state goes through one helper, `SupportSession::change`, which locks,
//! mutates, unlocks and lets the listener know once, when (`Notify`) the change says. The rest
//! is split by concern:
//! - `input`: pasted text and token files become rows; the connection they are checked against.
//! - `owners`: the rows' owners and their avatars, looked up in the background.
//! - `run`: revocation runs (select, start, cancel, retry); `progress`: how their events move
//!   the rows along.
//! - `audit_view`: the Audit log view and its CSV export.
//! - `events`: what is emitted, and when.
//! - `state` and `view`: the state behind the lock and the views the UI is sent.

mod audit_view;
mod events;
mod input;
mod owners;
mod progress;
mod run;
mod state;
mod view;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use geniusauth::Client;
use serde::Deserialize;

use crate::audit::{self, AuditLog};
use crate::revoke::DEFAULT_CONCURRENCY;
use crate::time::{self, now_ms};

pub use crate::error::SupportError;
pub use view::{
    AuditEntryView, AuditView, OwnerView, ParseSummary, ProfileView, Progress, RowResult, RowState,
    RowView, SupportSnapshot,
};

use state::State;

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

/// Turns an avatar URL into a `data:` URL (the web view has no network): `(url, server)`.
pub type AvatarFetcher = Arc<
    dyn Fn(String, String) -> Pin<Box<dyn Future<Output = Option<String>> + Send>> + Send + Sync,
>;

type Listener = Box<dyn Fn(SupportSnapshot) + Send + Sync>;

/// When the listener hears of a change made through [`SupportSession::change`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notify {
    /// At once: a command's own change, which its reply and the next event agree on.
    Now,
    /// Within [`FLUSH_EVERY`], in one event with the other changes made meanwhile: background
    /// work (a run's progress, owners, avatars).
    Soon,
    /// With the next event: the first half of a change whose second half follows (a paste's
    /// new connection, then its rows), so that the listener sees one new rows epoch, not two.
    WithNext,
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

    /// Everything, rows and owners included.
    pub fn snapshot(&self) -> SupportSnapshot {
        self.read(|st| st.full_snapshot(&self.audit_path()))
    }

    /// Everything but rows and owners: what commands answer with (rows follow as events).
    pub fn status(&self) -> SupportSnapshot {
        self.read(|st| st.status(&self.audit_path()))
    }

    /// Whether a run is in progress.
    pub fn is_running(&self) -> bool {
        self.read(State::running)
    }

    /// Waits until no run is in progress (tests, shutdown).
    pub async fn wait_idle(&self) {
        while self.is_running() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Looks at the state without changing it.
    fn read<R>(&self, look: impl FnOnce(&State) -> R) -> R {
        look(&lock(&self.inner.state))
    }

    /// The one way to change the state: locks it, runs `mutate`, unlocks it, and then, if
    /// anything was marked changed (`State::touch*`), lets the listener know as `notify` says.
    fn change<R>(&self, notify: Notify, mutate: impl FnOnce(&mut State) -> R) -> R {
        let (result, changed) = {
            let mut st = lock(&self.inner.state);
            let result = mutate(&mut st);
            (result, st.has_changes())
        };
        if changed {
            match notify {
                Notify::Now => self.flush(),
                Notify::Soon => self.schedule_flush(),
                Notify::WithNext => {}
            }
        }
        result
    }
}

/// RFC 3339 of now; re-exported for callers that stamp their own records.
pub fn now_rfc3339() -> String {
    time::rfc3339_utc(now_ms())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A real emulator on loopback for the modules' tests: the integration tests' harness, shared.
#[cfg(test)]
#[path = "../../tests/common/mod.rs"]
mod emulator;

#[cfg(test)]
mod testing {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use super::emulator::Server;
    use super::{Connection, SupportSession, SupportSnapshot};

    pub fn connection(server: &Server) -> Connection {
        Connection {
            profile: "Local emulator".into(),
            server: server.url(),
            client: server.client.clone(),
        }
    }

    /// A session logging to a fresh folder (kept while the guard lives), and what it emits.
    pub fn session() -> (SupportSession, Events, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let session = SupportSession::new(dir.path().join("audit.jsonl"));
        let events = Events::default();
        let seen = events.clone();
        session.set_listener(move |snapshot| seen.0.lock().unwrap().push(snapshot));
        (session, events, dir)
    }

    #[derive(Clone, Default)]
    pub struct Events(Arc<Mutex<Vec<SupportSnapshot>>>);

    impl Events {
        pub fn all(&self) -> Vec<SupportSnapshot> {
            self.0.lock().unwrap().clone()
        }

        pub fn count(&self) -> usize {
            self.0.lock().unwrap().len()
        }
    }

    pub async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
        let start = Instant::now();
        while !check() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out: {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A GeniusAuth-looking refresh token of `uid` that nobody signed.
    pub fn forged_refresh(uid: u64, record: u64) -> String {
        forged("Refresh", uid, record, 4_102_444_800)
    }

    /// A GeniusAuth-looking token of type `kind` (`Refresh`, `Access`, `Login`) that expires at
    /// `exp` (Unix seconds), signed by nobody.
    pub fn forged(kind: &str, uid: u64, record: u64, exp: i64) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA","typ":"JWT"}"#);
        let claims = format!(
            r#"{{"type":"{kind}","uid":{uid},"oid":1,"id":{record},"appCode":"x","iat":1700000000,"exp":{exp}}}"#
        );
        let signature = URL_SAFE_NO_PAD.encode([record as u8; 64]);
        format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode(claims))
    }
}

#[cfg(test)]
mod tests {
    use super::state::Row;
    use super::testing::session;
    use super::*;

    fn add_row(st: &mut State, token: &str) -> u32 {
        st.next_id += 1;
        let id = st.next_id;
        st.rows.push(Row::new(
            id,
            token.to_owned(),
            crate::inspect(token, None, 0),
        ));
        st.reindex();
        id
    }

    #[test]
    fn a_change_notifies_once_and_only_when_something_changed() {
        let (session, events, _dir) = session();
        let id = session.change(Notify::Now, |st| {
            let id = add_row(st, &testing::forged_refresh(1, 1));
            st.touch_all();
            id
        });
        assert_eq!(events.count(), 1);
        assert_eq!(events.all()[0].row_count, 1);
        // Looked at, nothing marked: no event.
        let running = session.change(Notify::Now, |st| st.running());
        assert!(!running);
        assert_eq!(events.count(), 1);
        // Several marks in one change: one event, carrying the row once.
        session.change(Notify::Now, |st| {
            st.row_mut(id).unwrap().state = RowState::Queued;
            st.touch_row(id);
            st.row_mut(id).unwrap().state = RowState::Running;
            st.touch_row(id);
        });
        let all = events.all();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].rows.len(), 1);
        assert_eq!(all[1].rows[0].state, RowState::Running);
        assert!(all[1].version > all[0].version);
    }

    #[test]
    fn a_change_with_the_next_waits_for_the_next_event() {
        let (session, events, _dir) = session();
        let epoch = session.change(Notify::WithNext, |st| {
            st.touch_all();
            st.rows_epoch
        });
        assert_eq!(events.count(), 0);
        assert!(session.status().version > 0, "the state changed at once");
        session.change(Notify::Now, |st| {
            add_row(st, &testing::forged_refresh(1, 1));
            st.touch_all();
        });
        let all = events.all();
        assert_eq!(all.len(), 1, "both halves in one event");
        assert_eq!(all[0].rows_epoch, epoch + 1);
        assert_eq!(all[0].row_count, 1);
    }

    #[tokio::test]
    async fn changes_made_soon_share_one_event() {
        let (session, events, _dir) = session();
        let ids: Vec<u32> = session.change(Notify::Now, |st| {
            let ids = (1..=3)
                .map(|i| add_row(st, &testing::forged_refresh(i, i)))
                .collect();
            st.touch_all();
            ids
        });
        assert_eq!(events.count(), 1);
        for id in &ids {
            session.change(Notify::Soon, |st| {
                st.row_mut(*id).unwrap().state = RowState::Revoked;
                st.touch_row(*id);
            });
        }
        assert_eq!(events.count(), 1, "not before FLUSH_EVERY");
        testing::wait_for("the coalesced event", || events.count() == 2).await;
        tokio::time::sleep(FLUSH_EVERY * 2).await;
        let all = events.all();
        assert_eq!(all.len(), 2, "one event for the three changes");
        let mut sent: Vec<u32> = all[1].rows.iter().map(|r| r.id).collect();
        sent.sort_unstable();
        assert_eq!(sent, ids);
        assert!(all[1].rows.iter().all(|r| r.state == RowState::Revoked));
    }
}
