//! `WatchTokenOperation`: the live tables of revoked tokens and operation ids.
//!
//! The server (internal/rpc/app/app.go `WatchTokenOperation`, commit 474680ae) first sends one
//! message with the whole uid → oid table and this app's cancelled tokens still within their
//! validity, then one message per change: a cancelled token of this app (REST DELETE, a
//! remote sign-out, `DestroyToken`) or a user's new oid (0: the user was deleted). Unlike the
//! SDK's `RpcJwtParser` (rpcJwt.go), which merges every snapshot into stale tables and
//! retries every 5 s, the tables here are rebuilt from each snapshot, retries back off with
//! jitter, and the check says why it refuses.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::proto::TokenOperation;
use super::rpc::AppRpc;
use crate::tokens::{unix_now, Claims};

/// Events kept for a consumer that does not keep up; the tables never lag.
const EVENT_BUFFER: usize = 4096;

/// Exponential backoff with jitter: attempt n waits a random time in [d/2, d], d = min(max,
/// initial · 2ⁿ⁻¹). Reset once a snapshot arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .initial
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max);
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(attempt);
        let fraction = (hasher.finish() % 1000) as u32;
        ceiling / 2 + (ceiling / 2) * fraction / 1000
    }
}

/// Where the stream stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// First attempt, no snapshot yet.
    Connecting,
    /// The snapshot arrived: the tables are the server's.
    Connected,
    /// The stream failed; the next attempt is `retry_in` away.
    Reconnecting {
        attempt: u32,
        retry_in: Duration,
        error: String,
    },
    /// The [`TokenWatch`] was dropped.
    Closed,
}

/// What the stream yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenEvent {
    /// A (re)connection's first message; the tables were rebuilt from it.
    Snapshot {
        users: usize,
        cancelled_tokens: usize,
    },
    /// A refresh token of this app (login-record id `id`) and its access tokens were revoked;
    /// `valid_before` is the refresh token's `exp` (unix seconds).
    TokenCancelled { id: u64, valid_before: i64 },
    /// Every token of the user carrying another oid is revoked.
    UserOidChanged { uid: u64, oid: u64 },
    /// The user was deleted (oid 0): every token of theirs is revoked.
    UserDeleted { uid: u64 },
    /// The stream broke; the tables are not trusted until the next snapshot.
    Disconnected { error: String, retry_in: Duration },
    /// The consumer fell behind and this many events were not kept (the tables have them).
    Lagged { missed: u64 },
}

/// The answer of [`TokenChecker::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCheck {
    Valid,
    /// Its login record was cancelled.
    Cancelled,
    /// The user's oid moved on (a group change, "sign out everywhere").
    OidChanged {
        token_oid: u64,
        current_oid: u64,
    },
    /// The server knows no oid for the user (deleted, or never signed in).
    UserUnknown,
    /// Issued to another app.
    OtherApp,
    /// No snapshot is current: the answer cannot be known, so the token is refused.
    NotConnected(LinkState),
}

impl TokenCheck {
    /// Fails closed: anything but `Valid` counts as revoked.
    pub fn is_revoked(&self) -> bool {
        *self != TokenCheck::Valid
    }
}

#[derive(Debug, Default)]
struct Tables {
    oids: HashMap<u64, u64>,
    /// Login-record id → valid before (unix seconds).
    cancelled: HashMap<u64, i64>,
}

impl Tables {
    /// Applies one message; returns the events it makes.
    fn apply(&mut self, operation: &TokenOperation) -> Vec<TokenEvent> {
        let mut events = Vec::new();
        for user in &operation.user_operation {
            if user.operation_id == 0 {
                self.oids.remove(&user.uid);
                events.push(TokenEvent::UserDeleted { uid: user.uid });
            } else {
                self.oids.insert(user.uid, user.operation_id);
                events.push(TokenEvent::UserOidChanged {
                    uid: user.uid,
                    oid: user.operation_id,
                });
            }
        }
        for token in &operation.canceled_token {
            self.cancelled.insert(token.id, token.valid_before);
            events.push(TokenEvent::TokenCancelled {
                id: token.id,
                valid_before: token.valid_before,
            });
        }
        events
    }

    fn rebuild(operation: &TokenOperation) -> Tables {
        let mut tables = Tables::default();
        tables.apply(operation);
        tables
    }
}

struct Shared {
    app_code: String,
    tables: RwLock<Tables>,
    state: watch::Sender<LinkState>,
}

/// A cloneable handle on the live tables, for code that checks tokens but does not read the
/// event stream.
#[derive(Clone)]
pub struct TokenChecker {
    shared: Arc<Shared>,
}

impl TokenChecker {
    pub fn state(&self) -> LinkState {
        self.shared.state.borrow().clone()
    }

    /// Waits until the state satisfies `ready` (e.g. the first snapshot).
    pub async fn wait_for(&self, ready: impl FnMut(&LinkState) -> bool) {
        let mut receiver = self.shared.state.subscribe();
        let _ = receiver.wait_for(ready).await;
    }

    /// What the tables say of a token's claims (SDK `TokenStatCheck`, rpcJwt.go): another
    /// app's, a cancelled record, an oid that is not the user's current one.
    pub fn check(&self, claims: &Claims) -> TokenCheck {
        if claims.app_code != self.shared.app_code {
            return TokenCheck::OtherApp;
        }
        let state = self.state();
        if state != LinkState::Connected {
            return TokenCheck::NotConnected(state);
        }
        let tables = self.shared.tables.read().unwrap_or_else(|e| e.into_inner());
        match tables.oids.get(&claims.uid) {
            None => return TokenCheck::UserUnknown,
            Some(&current) if current != claims.oid => {
                return TokenCheck::OidChanged {
                    token_oid: claims.oid,
                    current_oid: current,
                }
            }
            Some(_) => {}
        }
        if tables.cancelled.contains_key(&claims.id) {
            return TokenCheck::Cancelled;
        }
        TokenCheck::Valid
    }

    /// `check(claims).is_revoked()`: true also while not connected (fails closed).
    pub fn is_revoked(&self, claims: &Claims) -> bool {
        self.check(claims).is_revoked()
    }
}

/// The running watch: a [`Stream`] of [`TokenEvent`]s and the tables behind
/// [`TokenWatch::checker`]. Dropping it stops the task.
pub struct TokenWatch {
    events: mpsc::Receiver<TokenEvent>,
    checker: TokenChecker,
    task: JoinHandle<()>,
}

impl TokenWatch {
    pub(super) fn start(rpc: AppRpc) -> TokenWatch {
        let (state, _) = watch::channel(LinkState::Connecting);
        let shared = Arc::new(Shared {
            app_code: rpc.app_code.clone(),
            tables: RwLock::new(Tables::default()),
            state,
        });
        let (sender, events) = mpsc::channel(EVENT_BUFFER);
        let task = tokio::spawn(run(rpc, shared.clone(), Events::new(sender)));
        TokenWatch {
            events,
            checker: TokenChecker { shared },
            task,
        }
    }

    pub fn checker(&self) -> TokenChecker {
        self.checker.clone()
    }

    pub fn state(&self) -> LinkState {
        self.checker.state()
    }

    pub fn check(&self, claims: &Claims) -> TokenCheck {
        self.checker.check(claims)
    }

    pub fn is_revoked(&self, claims: &Claims) -> bool {
        self.checker.is_revoked(claims)
    }

    /// The next event (`None` only after the task ended).
    pub async fn next_event(&mut self) -> Option<TokenEvent> {
        self.events.recv().await
    }
}

impl Stream for TokenWatch {
    type Item = TokenEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<TokenEvent>> {
        self.events.poll_recv(cx)
    }
}

impl Drop for TokenWatch {
    fn drop(&mut self) {
        self.task.abort();
        self.checker.shared.state.send_replace(LinkState::Closed);
    }
}

/// The sending side, which never blocks the tables on a slow consumer.
struct Events {
    sender: mpsc::Sender<TokenEvent>,
    missed: u64,
}

impl Events {
    fn new(sender: mpsc::Sender<TokenEvent>) -> Self {
        Events { sender, missed: 0 }
    }

    fn send(&mut self, event: TokenEvent) {
        if self.missed > 0
            && self
                .sender
                .try_send(TokenEvent::Lagged {
                    missed: self.missed,
                })
                .is_ok()
        {
            self.missed = 0;
        }
        if self.missed > 0 || self.sender.try_send(event).is_err() {
            self.missed += 1;
        }
    }
}

async fn run(rpc: AppRpc, shared: Arc<Shared>, mut events: Events) {
    let mut attempt: u32 = 0;
    loop {
        let error = match watch_once(&rpc, &shared, &mut events, &mut attempt).await {
            Ok(()) => "the server ended the stream".to_owned(),
            Err(error) => error,
        };
        attempt = attempt.saturating_add(1);
        let retry_in = rpc.options.backoff.delay(attempt);
        shared.state.send_replace(LinkState::Reconnecting {
            attempt,
            retry_in,
            error: error.clone(),
        });
        events.send(TokenEvent::Disconnected { error, retry_in });
        tokio::time::sleep(retry_in).await;
    }
}

/// One stream: the snapshot rebuilds the tables, every later message updates them.
async fn watch_once(
    rpc: &AppRpc,
    shared: &Shared,
    events: &mut Events,
    attempt: &mut u32,
) -> Result<(), String> {
    let mut stream = rpc
        .client()
        .watch_token_operation(())
        .await
        .map_err(|status| super::RpcError::from(status).to_string())?
        .into_inner();
    let mut snapshot_seen = false;
    loop {
        let Some(operation) = stream
            .message()
            .await
            .map_err(|status| super::RpcError::from(status).to_string())?
        else {
            return Ok(());
        };
        let mut tables = shared.tables.write().unwrap_or_else(|e| e.into_inner());
        if snapshot_seen {
            for event in tables.apply(&operation) {
                events.send(event);
            }
            continue;
        }
        let now = unix_now();
        let mut fresh = Tables::rebuild(&operation);
        // The server leaves expired entries out of its snapshot already (CanceledTokenTable.Get).
        fresh
            .cancelled
            .retain(|_, valid_before| *valid_before > now);
        let snapshot = TokenEvent::Snapshot {
            users: fresh.oids.len(),
            cancelled_tokens: fresh.cancelled.len(),
        };
        *tables = fresh;
        drop(tables);
        snapshot_seen = true;
        *attempt = 0;
        shared.state.send_replace(LinkState::Connected);
        events.send(snapshot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::proto::{CanceledToken, UserOperationId};

    #[test]
    fn backoff_grows_with_jitter_and_stays_under_the_cap() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        for attempt in 1..20 {
            let ceiling = (Duration::from_millis(100) * (1 << (attempt - 1).min(16)))
                .min(Duration::from_secs(1));
            let delay = backoff.delay(attempt);
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "{attempt}: {delay:?}"
            );
        }
    }

    #[test]
    fn oid_zero_deletes_the_user() {
        let mut tables = Tables::rebuild(&TokenOperation {
            user_operation: vec![UserOperationId {
                uid: 7,
                operation_id: 3,
            }],
            canceled_token: vec![CanceledToken {
                id: 9,
                valid_before: 1,
            }],
        });
        assert_eq!(tables.oids.get(&7), Some(&3));
        let events = tables.apply(&TokenOperation {
            user_operation: vec![UserOperationId {
                uid: 7,
                operation_id: 0,
            }],
            canceled_token: vec![],
        });
        assert_eq!(events, vec![TokenEvent::UserDeleted { uid: 7 }]);
        assert!(tables.oids.is_empty());
    }
}
