//! Time as the server sees it. Every reply carries an HTTP `Date` header (Go's net/http adds it
//! to every response), so a client learns how far this machine's clock is off and corrects the
//! request stamps (code 9 otherwise: the server takes stamps at most 5 minutes old and 10 s
//! ahead) and the expiry it shows.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// `Date` has whole seconds: an estimate is off by up to a second plus the reply's travel time,
/// so changes below this are noise, not a different offset.
const NOISE_MS: i64 = 1_000;

/// This machine's clock, unix milliseconds.
pub fn local_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// This machine's clock, unix seconds.
pub fn unix_now() -> i64 {
    local_now_ms().div_euclid(1000)
}

/// The server's clock: this machine's plus an offset measured from replies. Shared by every
/// clone of a [`Client`](crate::Client).
#[derive(Debug, Default)]
pub struct ServerClock {
    offset_ms: AtomicI64,
    measured: AtomicBool,
}

impl ServerClock {
    /// A clock that starts from a known offset (e.g. one the user set), still corrected by replies.
    pub fn with_offset_ms(offset_ms: i64) -> ServerClock {
        ServerClock {
            offset_ms: AtomicI64::new(offset_ms),
            measured: AtomicBool::new(false),
        }
    }

    /// Server time minus local time, in milliseconds.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Whether a reply has told us the server's time yet.
    pub fn is_measured(&self) -> bool {
        self.measured.load(Ordering::Relaxed)
    }

    /// The server's time now, unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        local_now_ms().saturating_add(self.offset_ms())
    }

    /// The server's time now, unix seconds.
    pub fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// A server time (unix ms) on this machine's clock, for display next to local times.
    pub fn to_local_ms(&self, server_ms: i64) -> i64 {
        server_ms.saturating_sub(self.offset_ms())
    }

    /// Takes a reply's `Date` header, read when the reply arrived (`received_ms`, local clock).
    /// Returns whether the offset changed. An unreadable header changes nothing.
    pub fn observe_date(&self, date: &str, received_ms: i64) -> bool {
        let Some(server_secs) = parse_http_date(date) else {
            return false;
        };
        // The true time lies within the stamped second: take its middle.
        let estimate = (server_secs * 1000 + 500).saturating_sub(received_ms);
        self.measured.store(true, Ordering::Relaxed);
        let current = self.offset_ms();
        if (estimate - current).abs() <= NOISE_MS {
            return false;
        }
        self.offset_ms.store(estimate, Ordering::Relaxed);
        true
    }
}

/// An HTTP date (RFC 9110 IMF-fixdate, and the obsolete forms) as unix seconds.
pub fn parse_http_date(date: &str) -> Option<i64> {
    let time = httpdate::parse_http_date(date.trim()).ok()?;
    let secs = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64),
    };
    Some(secs)
}

/// Unix seconds as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn format_http_date(unix_secs: i64) -> String {
    let time = if unix_secs >= 0 {
        UNIX_EPOCH + std::time::Duration::from_secs(unix_secs as u64)
    } else {
        UNIX_EPOCH
    };
    httpdate::fmt_http_date(time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_offset_from_a_date_header() {
        let clock = ServerClock::default();
        assert!(!clock.is_measured());
        let received = 1_700_000_000_000;
        // The server is ten minutes ahead.
        let date = format_http_date(1_700_000_600);
        assert!(clock.observe_date(&date, received));
        assert!(clock.is_measured());
        assert_eq!(clock.offset_ms(), 600_500);
        assert_eq!(clock.to_local_ms(1_700_000_600_500), 1_700_000_000_000);
        // Ten minutes behind, later.
        let date = format_http_date(1_699_999_500);
        assert!(clock.observe_date(&date, received + 100_000));
        assert_eq!(clock.offset_ms(), -599_500);
    }

    #[test]
    fn sub_second_noise_keeps_the_offset() {
        let clock = ServerClock::default();
        // A correct clock: the reply's second is this one or the last one.
        assert!(!clock.observe_date(&format_http_date(1_700_000_000), 1_700_000_000_900));
        assert!(!clock.observe_date(&format_http_date(1_699_999_999), 1_700_000_000_200));
        assert_eq!(clock.offset_ms(), 0);
        assert!(clock.is_measured());
    }

    #[test]
    fn garbage_dates_change_nothing() {
        let clock = ServerClock::with_offset_ms(5_000);
        for bad in ["", "yesterday", "Sun, 99 Nov 1994 08:49:37 GMT"] {
            assert!(!clock.observe_date(bad, 1_700_000_000_000), "{bad}");
        }
        assert_eq!(clock.offset_ms(), 5_000);
        assert!(!clock.is_measured());
    }

    #[test]
    fn http_dates_round_trip() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            format_http_date(784_111_777),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
    }
}
