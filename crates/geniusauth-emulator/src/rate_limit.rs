//! The server's `middlewares.Secure()` (`internal/api/middlewares/secure.go`, built on
//! `github.com/Mmx233/secure/v2` v2.0.6 with its Redis driver): at most 60 requests per client
//! IP in any one minute, counted once for every route it guards (they share one Redis key per
//! IP), refused with code 19. A refused request is not counted (the driver's `RequestRate` is
//! read before `AddRequest`), and each request leaves the count a minute after it was made
//! (the driver's queue worker).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `RateLimit: 60` in secure.go, over the library's default cycle of a minute.
pub const LIMIT: usize = 60;
const CYCLE: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct RateLimiter {
    requests: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// Counts a request from `ip`; false when it is over the limit (and so not counted).
    pub fn admit(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let recent = requests.entry(ip).or_default();
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= CYCLE)
        {
            recent.pop_front();
        }
        if recent.len() >= LIMIT {
            return false;
        }
        recent.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixty_a_minute_per_ip_and_refusals_do_not_count() {
        let limiter = RateLimiter::default();
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.1".parse().unwrap(), "::1".parse().unwrap());
        for _ in 0..LIMIT {
            assert!(limiter.admit(a));
        }
        assert!(!limiter.admit(a));
        assert!(!limiter.admit(a));
        assert!(limiter.admit(b), "another IP has its own count");
        assert_eq!(limiter.requests.lock().unwrap()[&a].len(), LIMIT);
    }
}
