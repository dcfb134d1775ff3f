//! The emulator's clock: real time plus an adjustable offset.
//!
//! The offset governs token issuance and expiry; the signature timeStamp window deliberately
//! uses the real wall clock so that a client with a correct clock keeps working while tokens
//! expire under it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

/// Real wall-clock time in nanoseconds since the Unix epoch.
pub fn real_now_ns() -> i128 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

impl Clock {
    /// Shifted time in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        let real_ms = (real_now_ns() / 1_000_000) as i64;
        real_ms.saturating_add(self.offset_ms.load(Ordering::SeqCst))
    }

    pub fn offset_seconds(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst) / 1000
    }

    pub fn set_offset_seconds(&self, seconds: i64) {
        self.offset_ms
            .store(seconds.saturating_mul(1000), Ordering::SeqCst);
    }

    pub fn advance_seconds(&self, seconds: i64) {
        let delta = seconds.saturating_mul(1000);
        let _ = self
            .offset_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                Some(v.saturating_add(delta))
            });
    }
}

/// Whole seconds, rounded down, like Go's `time.Truncate(time.Second)` on a NumericDate.
pub fn floor_seconds(ms: i64) -> i64 {
    ms.div_euclid(1000)
}
