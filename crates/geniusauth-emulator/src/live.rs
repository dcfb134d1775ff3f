//! What the gRPC App service streams, fed by the REST and admin routes that change token
//! state. The server publishes the same two kinds of message on Redis channels
//! (internal/db/redis/RefreshToken.go `RefreshTokenStorePoint.Destroy` → canceled-token
//! channel, UserJwt.go `ChangeOperateID`/`Create`/`Del` → user-operation-id channel); here
//! a broadcast channel stands in for Redis pub/sub.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{broadcast, watch};

use crate::error::Error;
use crate::jwt::Claims;
use crate::store::Store;

/// Enough for bursts (a revoke-all of many sessions); a stream that falls further behind ends
/// with DataLoss, as the server's does when its subscription breaks.
const CHANNEL_CAPACITY: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenEvent {
    /// A login record was destroyed; `app_code` owns it, `valid_before` is the refresh token's
    /// `exp` (unix seconds).
    Cancelled {
        id: u64,
        app_code: String,
        valid_before: i64,
    },
    /// The user's operation id is now `oid` (0: the user was deleted).
    Oid { uid: u64, oid: u64 },
}

pub struct Live {
    events: broadcast::Sender<TokenEvent>,
    /// Bumped by `POST /__emulator/grpc/drop`: every open gRPC connection closes.
    drop_generation: watch::Sender<u64>,
    open_connections: AtomicUsize,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            events: broadcast::channel(CHANNEL_CAPACITY).0,
            drop_generation: watch::channel(0).0,
            open_connections: AtomicUsize::new(0),
        }
    }
}

impl Live {
    /// Nobody listening is fine: the event is simply not streamed.
    pub fn publish(&self, event: TokenEvent) {
        let _ = self.events.send(event);
    }

    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    pub fn subscribe(&self) -> broadcast::Receiver<TokenEvent> {
        self.events.subscribe()
    }

    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    pub fn drop_signal(&self) -> watch::Receiver<u64> {
        self.drop_generation.subscribe()
    }

    /// Closes every open gRPC connection; returns how many there were.
    pub fn drop_connections(&self) -> usize {
        let open = self.open_connections.load(Ordering::SeqCst);
        self.drop_generation
            .send_modify(|generation| *generation += 1);
        open
    }

    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    /// Counts a connection while the guard lives.
    pub fn connection_opened(&self) -> ConnectionGuard<'_> {
        self.open_connections.fetch_add(1, Ordering::SeqCst);
        ConnectionGuard(&self.open_connections)
    }
}

#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
pub struct ConnectionGuard<'a>(&'a AtomicUsize);

impl Drop for ConnectionGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `RefreshTokenStorePoint.Destroy(ctx, claims.AppCode, claims.ExpiresAt)`: records the
/// cancelled token (for later snapshots), publishes it, then removes the record's point.
pub fn cancel_record(store: &Store, live: &Live, claims: &Claims) -> Result<(), Error> {
    let app_code = claims.app_code.clone().unwrap_or_default();
    store.add_canceled_token(claims.id, &app_code, claims.exp)?;
    store.destroy_record_point(claims.id)?;
    live.publish(TokenEvent::Cancelled {
        id: claims.id,
        app_code,
        valid_before: claims.exp,
    });
    Ok(())
}
