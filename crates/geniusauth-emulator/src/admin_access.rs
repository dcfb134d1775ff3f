//! Who may use the admin API (emulator-only, not a server behaviour). A web page the user
//! visits can reach a loopback port too: DNS rebinding makes its requests carry the page's own
//! host name, and a cross-origin "simple" request (a form post, a `no-cors` fetch) can change
//! state without being able to read the answer. So every admin request must name the emulator
//! in `Host`, must not come from another `Origin`, must carry `Content-Type: application/json`
//! when it changes state (a simple request cannot), and, when configured, a bearer token.
//! The login page's `/__emulator/authorize` gets the `Host` check only.

use std::net::SocketAddr;

use axum::http::{header, HeaderMap, Method, StatusCode};

use crate::config::AdminAccess;
use crate::error::Error;

/// Why a request was refused: HTTP status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
    }
}

/// The admin API's policy for one listening address.
#[derive(Debug, Clone)]
pub struct AdminPolicy {
    access: AdminAccess,
    /// The `Host` values naming the emulator, lowercase: the listen address and
    /// `localhost:<port>`.
    hosts: Vec<String>,
    /// Listening on every address: any IP literal with the right port names the emulator.
    any_ip: bool,
    port: u16,
}

/// Startup check: an open admin API only on loopback. Off loopback it warns on stderr.
pub fn check_listen(listen: SocketAddr, access: &AdminAccess) -> Result<(), Error> {
    if matches!(access, AdminAccess::Token(token) if token.is_empty()) {
        return Err(Error::Invalid("the admin token must not be empty".into()));
    }
    if listen.ip().is_loopback() {
        return Ok(());
    }
    if *access == AdminAccess::Open {
        return Err(Error::OpenAdminOffLoopback { listen });
    }
    eprintln!(
        "geniusauth-emulator: warning: listening on {listen}, not a loopback address: other \
         machines can reach the emulator (its admin API is {})",
        match access {
            AdminAccess::Disabled => "disabled",
            _ => "protected by the admin token",
        }
    );
    Ok(())
}

impl AdminPolicy {
    pub fn new(access: AdminAccess, bound: SocketAddr) -> AdminPolicy {
        let port = bound.port();
        let mut hosts = vec![format!("localhost:{port}")];
        if !bound.ip().is_unspecified() {
            hosts.push(bound.to_string().to_ascii_lowercase());
        }
        AdminPolicy {
            access,
            hosts,
            any_ip: bound.ip().is_unspecified(),
            port,
        }
    }

    pub fn admin_disabled(&self) -> bool {
        self.access == AdminAccess::Disabled
    }

    /// `Host` names the emulator (not a rebound domain).
    pub fn check_host(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if self.names_emulator(host) {
            Ok(())
        } else {
            Err(refuse(
                StatusCode::FORBIDDEN,
                format!(
                    "Host {host:?} does not name the emulator (expected one of {}): \
                     refused against DNS rebinding",
                    self.hosts.join(", ")
                ),
            ))
        }
    }

    fn names_emulator(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        if self.hosts.contains(&host) {
            return true;
        }
        self.any_ip
            && host
                .parse::<SocketAddr>()
                .is_ok_and(|addr| addr.port() == self.port && !addr.ip().is_unspecified())
    }

    /// Every check of an admin request, in order: disabled, Host, Origin, token, JSON.
    pub fn check_admin(&self, method: &Method, headers: &HeaderMap) -> Result<(), Refusal> {
        if self.admin_disabled() {
            return Err(refuse(
                StatusCode::NOT_FOUND,
                "the admin API is disabled (--no-admin)",
            ));
        }
        self.check_host(headers)?;
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("").to_ascii_lowercase();
            let own = origin
                .strip_prefix("http://")
                .is_some_and(|host| self.names_emulator(host));
            if !own {
                return Err(refuse(
                    StatusCode::FORBIDDEN,
                    format!("Origin {origin:?} is not the emulator's own: refused"),
                ));
            }
        }
        if let AdminAccess::Token(token) = &self.access {
            let sent = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            if !constant_time_eq(sent.as_bytes(), token.as_bytes()) {
                return Err(refuse(
                    StatusCode::UNAUTHORIZED,
                    "the admin API needs Authorization: Bearer <the --admin-token>",
                ));
            }
        }
        let changes_state = ![Method::GET, Method::HEAD, Method::OPTIONS].contains(method);
        if changes_state && !is_json(headers) {
            return Err(refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "admin requests that change state need Content-Type: application/json",
            ));
        }
        Ok(())
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn hosts_origins_tokens_and_json() {
        let policy = AdminPolicy::new(AdminAccess::Open, "127.0.0.1:4780".parse().expect("addr"));
        let ok = [(header::HOST, "127.0.0.1:4780")];
        assert!(policy.check_admin(&Method::GET, &headers(&ok)).is_ok());
        for host in ["localhost:4780", "LOCALHOST:4780"] {
            assert!(policy.check_host(&headers(&[(header::HOST, host)])).is_ok());
        }
        for host in ["evil.example:4780", "127.0.0.1:4781", "localhost", ""] {
            assert!(
                policy
                    .check_host(&headers(&[(header::HOST, host)]))
                    .is_err(),
                "{host}"
            );
        }
        let from = |origin| headers(&[(header::HOST, "127.0.0.1:4780"), (header::ORIGIN, origin)]);
        assert!(policy
            .check_admin(&Method::GET, &from("http://localhost:4780"))
            .is_ok());
        assert!(policy
            .check_admin(&Method::GET, &from("http://evil.example"))
            .is_err());
        assert!(policy.check_admin(&Method::GET, &from("null")).is_err());
        let post = policy.check_admin(&Method::POST, &headers(&ok));
        assert_eq!(
            post.map_err(|r| r.status),
            Err(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
        let json = headers(&[
            (header::HOST, "127.0.0.1:4780"),
            (header::CONTENT_TYPE, "application/json; charset=utf-8"),
        ]);
        assert!(policy.check_admin(&Method::DELETE, &json).is_ok());

        let token = AdminPolicy::new(
            AdminAccess::Token("s3cret".into()),
            "0.0.0.0:4780".parse().expect("addr"),
        );
        let with = |auth| {
            headers(&[
                (header::HOST, "192.0.2.5:4780"),
                (header::AUTHORIZATION, auth),
            ])
        };
        assert!(token
            .check_admin(&Method::GET, &with("Bearer s3cret"))
            .is_ok());
        assert!(token
            .check_admin(&Method::GET, &with("Bearer s3cre"))
            .is_err());
        assert!(token
            .check_host(&headers(&[(header::HOST, "evil.example:4780")]))
            .is_err());
    }

    #[test]
    fn open_admin_only_on_loopback() {
        let off: SocketAddr = "0.0.0.0:4780".parse().expect("addr");
        assert!(check_listen(off, &AdminAccess::Open).is_err());
        assert!(check_listen(off, &AdminAccess::Disabled).is_ok());
        assert!(check_listen("[::1]:1".parse().expect("addr"), &AdminAccess::Open).is_ok());
    }
}
