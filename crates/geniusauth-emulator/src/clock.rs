//! The emulator's clock: real time plus an adjustable offset.
//!
//! The offset governs token issuance and expiry; the signature timeStamp window deliberately
//! uses the real wall clock so that a client with a correct clock keeps working while tokens
//! expire under it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Default)]
pub struct Clock {
    /// Token time only (`/__emulator/clock` `offsetSeconds`).
    offset_ms: AtomicI64,
    /// The server's wall clock being off (`skewSeconds`, `--clock-skew`).
    skew_ms: AtomicI64,
}

/// Real wall-clock time in nanoseconds since the Unix epoch.
pub fn real_now_ns() -> i128 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

impl Clock {
    /// Token time in milliseconds since the Unix epoch: the server's wall clock plus the
    /// token offset.
    pub fn now_ms(&self) -> i64 {
        self.server_now_ms()
            .saturating_add(self.offset_ms.load(Ordering::SeqCst))
    }

    /// The server's wall clock (`time.Now()` in the Go server): real time plus the skew.
    pub fn server_now_ns(&self) -> i128 {
        real_now_ns() + i128::from(self.skew_ms.load(Ordering::SeqCst)) * 1_000_000
    }

    pub fn server_now_ms(&self) -> i64 {
        (self.server_now_ns() / 1_000_000) as i64
    }

    pub fn skew_seconds(&self) -> i64 {
        self.skew_ms.load(Ordering::SeqCst) / 1000
    }

    pub fn set_skew_seconds(&self, seconds: i64) {
        self.skew_ms
            .store(seconds.saturating_mul(1000), Ordering::SeqCst);
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

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Day of the year (1..=366) of a Unix time in milliseconds, UTC.
pub fn day_of_year(ms: i64) -> u64 {
    let days = ms.div_euclid(86_400_000);
    let (year, _, _) = civil_from_days(days);
    // Walk back to January 1st of the same year.
    let mut first = days - 365;
    while civil_from_days(first).0 < year {
        first += 1;
    }
    u64::try_from(days - first + 1).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(day_of_year(0), 1);
        assert_eq!(day_of_year(19_723 * 86_400_000 + 59 * 86_400_000), 60);
        assert_eq!(day_of_year(19_723 * 86_400_000 + 365 * 86_400_000), 366);
    }

    #[test]
    fn offsets() {
        let clock = Clock::default();
        clock.advance_seconds(10);
        clock.advance_seconds(5);
        assert_eq!(clock.offset_seconds(), 15);
        clock.set_offset_seconds(-3);
        assert_eq!(clock.offset_seconds(), -3);
    }
}
