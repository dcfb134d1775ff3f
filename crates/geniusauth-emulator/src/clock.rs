//! The emulator's clocks.
//!
//! The server's wall clock (Go's `time.Now()`) is real time plus a skew (`skewSeconds`,
//! `--clock-skew`): it drives the signature timeStamp window, the HTTP `Date` header and,
//! through token time, token issuance and expiry. Token time adds an offset on top
//! (`offsetSeconds`/`advanceSeconds`), which expires tokens without moving the window or the
//! `Date` header, so a client with a correct clock keeps working while its tokens expire.

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

/// RFC 7231 IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), as Go's net/http writes `Date`
/// (`http.TimeFormat`).
pub fn imf_fixdate(unix_secs: i64) -> String {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {day:02} {} {year:04} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
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
    fn http_dates() {
        assert_eq!(imf_fixdate(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(imf_fixdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn skew_moves_token_time_too() {
        let clock = Clock::default();
        clock.set_skew_seconds(600);
        clock.set_offset_seconds(30);
        let real_ms = (real_now_ns() / 1_000_000) as i64;
        assert!((clock.server_now_ms() - real_ms - 600_000).abs() < 1_000);
        assert!((clock.now_ms() - real_ms - 630_000).abs() < 1_000);
        assert_eq!(clock.skew_seconds(), 600);
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
