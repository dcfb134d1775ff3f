//! The server's request-rate limit on its unsigned public routes
//! (`internal/api/middlewares/secure.go`: `Secure()`, the `Mmx233/secure/v2` middleware with its
//! Redis driver, 60 requests per minute): every `Secure()` instance uses the same Redis key
//! `secure-<client IP>`, so `/public/app/`, `/public/login/mfa` and `/public/login/:app/...`
//! share one counter per IP. A request is refused (code 19) when the counter already holds 60;
//! a refused request is not counted; each counted request is taken off again one minute after
//! it was made (the driver's queue worker), so the window slides.
//!
//! The client IP is gin's `ClientIP()` with gin's defaults (every proxy trusted, the server sets
//! none): the first address of `X-Forwarded-For`, else `X-Real-IP`, else the peer address.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

use axum::http::HeaderMap;

/// `RateLimit: 60` in `Secure()`.
pub const REQUESTS_PER_WINDOW: usize = 60;
/// The driver's default `RateCycle`.
pub const WINDOW_MS: i64 = 60_000;

#[derive(Debug, Default)]
pub struct RateLimiter {
    /// Per client IP, the times (ms) of the requests still counted.
    counted: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl RateLimiter {
    /// Counts the request and says whether it may go on (`false`: code 19).
    pub fn admit(&self, client_ip: &str, now_ms: i64) -> bool {
        let mut counted = self.counted.lock().unwrap_or_else(|e| e.into_inner());
        counted.retain(|_, times| {
            while times.front().is_some_and(|t| now_ms - t >= WINDOW_MS) {
                times.pop_front();
            }
            !times.is_empty()
        });
        let times = counted.entry(client_ip.to_owned()).or_default();
        if times.len() >= REQUESTS_PER_WINDOW {
            return false;
        }
        times.push_back(now_ms);
        true
    }
}

/// gin's `ClientIP()` with all proxies trusted (gin.go: `validateHeader`, context.go).
pub fn client_ip(headers: &HeaderMap, peer: Option<IpAddr>) -> String {
    for name in ["x-forwarded-for", "x-real-ip"] {
        let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) else {
            continue;
        };
        if let Some(ip) = leftmost_if_all_valid(value) {
            return ip;
        }
    }
    peer.map(|ip| ip.to_canonical().to_string())
        .unwrap_or_default()
}

/// Walking from the right, every entry must parse as an IP; then the leftmost one is the
/// client (every proxy being trusted).
fn leftmost_if_all_valid(header: &str) -> Option<String> {
    if header.is_empty() {
        return None;
    }
    let items: Vec<&str> = header.split(',').map(str::trim).collect();
    if items.iter().all(|item| item.parse::<IpAddr>().is_ok()) {
        items.first().map(|ip| (*ip).to_owned())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// internal/api/middlewares/secure.go: 60 per minute, refused requests not counted.
    #[test]
    fn sliding_window_of_sixty() {
        let limiter = RateLimiter::default();
        for i in 0..60 {
            assert!(limiter.admit("1.2.3.4", i * 100), "request {i}");
        }
        assert!(!limiter.admit("1.2.3.4", 10_000));
        assert!(
            limiter.admit("5.6.7.8", 10_000),
            "another IP has its own counter"
        );
        // The first request leaves the window one minute after it was made.
        assert!(!limiter.admit("1.2.3.4", WINDOW_MS - 1));
        assert!(limiter.admit("1.2.3.4", WINDOW_MS));
        assert!(!limiter.admit("1.2.3.4", WINDOW_MS + 1));
    }

    #[test]
    fn client_ip_like_gin() {
        let peer = Some("127.0.0.1".parse().expect("ip"));
        let mut headers = HeaderMap::new();
        assert_eq!(client_ip(&headers, peer), "127.0.0.1");
        headers.insert("x-real-ip", HeaderValue::from_static("10.0.0.9"));
        assert_eq!(client_ip(&headers, peer), "10.0.0.9");
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.7, 10.0.0.1"),
        );
        assert_eq!(client_ip(&headers, peer), "203.0.113.7");
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("garbage, 10.0.0.1"),
        );
        assert_eq!(client_ip(&headers, peer), "10.0.0.9");
    }
}
