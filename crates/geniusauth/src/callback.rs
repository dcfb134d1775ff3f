//! The loopback end of browser sign-in (RFC 8252 §7.3): GeniusAuth sends the browser to the
//! app's registered callback with `?token=<login token>`; we listen there while a sign-in is
//! pending, on loopback only.
//!
//! The production dashboard registers plain-http callbacks only on host `localhost`
//! (`internal/api/controllers/user/dev/app.go` of the server), which a browser may resolve to
//! 127.0.0.1 or to ::1: a `localhost` callback is served on both. `127.0.0.1` and `[::1]`
//! callbacks (self-hosted servers, the emulator) are served on that address alone.
//!
//! GeniusAuth has no `state` parameter, so any page open in the browser could send a request
//! to the callback. Only a GET on the callback path whose token passes the caller's check
//! ends the wait; everything else gets an error page and the listener keeps waiting.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONNECTION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use url::{Host, Url};

use ed25519_dalek::VerifyingKey;

use crate::client::Client;
use crate::error::{CallbackError, Error};
use crate::tokens::check_login_token;

/// How long a browser sign-in may stay pending: the login token itself lives 5 minutes.
pub const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(300);

/// A connection that sends no complete request head for this long is closed (browsers open
/// speculative connections they may never use).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// After a failed accept (e.g. out of file descriptors) wait this long, doubling up to the max.
const ACCEPT_BACKOFF_START: Duration = Duration::from_millis(50);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Where a callback URL is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackAddress {
    /// The callback as registered, normalised.
    pub url: Url,
    /// Every address to listen on: 127.0.0.1 and ::1 for `localhost`, else the one given.
    pub addrs: Vec<SocketAddr>,
    pub path: String,
}

impl CallbackAddress {
    pub fn port(&self) -> u16 {
        self.addrs.first().map_or(0, SocketAddr::port)
    }

    /// `host:port` as the server reports it for the app (`/api/v1/public/app/`'s `host`).
    pub fn host_and_port(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        format!("{host}:{}", self.port())
    }
}

/// Accepts `http://localhost:<port>/…`, `http://127.0.0.1:<port>/…` and `http://[::1]:<port>/…`
/// (any loopback IPv4 address too): a port is required, since the registration fixes it.
pub fn parse_callback(callback: &str) -> Result<CallbackAddress, Error> {
    let invalid = |why: &str| Error::from(CallbackError::Invalid(why.to_owned()));
    let url = Url::parse(callback.trim()).map_err(|_| {
        invalid("the callback must be a URL such as http://localhost:47150/callback")
    })?;
    if url.scheme() != "http" {
        return Err(invalid(
            "the callback must start with http:// (this computer receives it, without TLS)",
        ));
    }
    let ips: Vec<IpAddr> = match url.host() {
        Some(Host::Domain(name)) if name.eq_ignore_ascii_case("localhost") => {
            vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()]
        }
        Some(Host::Ipv4(ip)) if ip.is_loopback() => vec![ip.into()],
        Some(Host::Ipv6(ip)) if ip.is_loopback() => vec![ip.into()],
        _ => {
            return Err(invalid(
                "the callback must be on this computer: http://localhost:<port>/<path> \
                 (or 127.0.0.1, [::1])",
            ))
        }
    };
    let port = url.port().ok_or_else(|| {
        invalid("the callback needs a port, such as http://localhost:47150/callback")
    })?;
    Ok(CallbackAddress {
        path: url.path().to_owned(),
        addrs: ips
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect(),
        url,
    })
}

/// The pages the browser sees; `product` names the program to go back to.
#[derive(Debug, Clone)]
pub struct Pages {
    pub product: &'static str,
}

impl Pages {
    fn done(&self) -> String {
        page(
            "已登录 · Signed in",
            &format!(
                "可以关闭此标签页，回到 {p}。<br>You can close this tab and return to {p}.",
                p = self.product
            ),
        )
    }

    fn refused(&self, why: &str) -> String {
        page(
            "此链接未完成登录 · This link does not complete the sign-in",
            &format!(
                "{p} 正在等待 GeniusAuth 的登录回调；这个请求不是。<br>{p} is waiting for \
                 GeniusAuth's sign-in redirect; this request is not it ({why}).",
                p = self.product,
                why = html_escape(why),
            ),
        )
    }
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title>\
<meta name=\"viewport\" content=\"width=device-width\"><style>body{{font:16px system-ui,sans-serif;\
display:grid;place-items:center;min-height:90vh;margin:0;color:#1b1f2a;background:#f5f7fb}}\
main{{max-width:36em;padding:1em}}@media(prefers-color-scheme:dark){{body{{color:#e6e9f0;\
background:#141821}}}}</style></head><body><main><h1>{title}</h1><p>{body}</p></main></body></html>"
    )
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Says whether a token that arrived at the callback completes this sign-in; `Err` gives the
/// reason shown on the refusal page (never the token).
pub type TokenCheck = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// The check for a sign-in starting now with `client`'s app: a genuine login token (signed
/// by `key` when it is at hand), unexpired and issued after this moment by the server's clock.
pub fn login_token_check(client: &Client, key: Option<VerifyingKey>) -> TokenCheck {
    let started_at = client.clock().now();
    let client = client.clone();
    Arc::new(move |token: &str| {
        check_login_token(token, started_at, client.clock().now(), key.as_ref())
            .map(|_| ())
            .map_err(|err| err.to_string())
    })
}

/// The bound callback. Nothing listens once it is dropped or its wait ends.
pub struct CallbackListener {
    listeners: Vec<TcpListener>,
    path: String,
    pages: Pages,
}

impl CallbackListener {
    /// Binds every address of the callback. A port already taken on any of them is
    /// [`CallbackError::PortInUse`]; a `localhost` callback on a machine without IPv6 is served
    /// on 127.0.0.1 alone (the browser cannot reach ::1 there either).
    pub async fn bind(address: &CallbackAddress, pages: Pages) -> Result<Self, Error> {
        let mut listeners = Vec::new();
        for addr in &address.addrs {
            match TcpListener::bind(addr).await {
                Ok(listener) => listeners.push(listener),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    return Err(CallbackError::PortInUse {
                        port: addr.port(),
                        addr: *addr,
                    }
                    .into())
                }
                Err(_) if addr.is_ipv6() && address.addrs.len() > 1 => {}
                Err(e) => {
                    return Err(CallbackError::Listen {
                        addr: *addr,
                        detail: e.to_string(),
                    }
                    .into())
                }
            }
        }
        Ok(CallbackListener {
            listeners,
            path: address.path.clone(),
            pages,
        })
    }

    /// The addresses actually listened on.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Serves the callback until a GET on its path carries a token that `check` accepts, or
    /// the time runs out. Each connection is served by a task of its own, so one that sends
    /// nothing cannot hold up the real redirect.
    pub async fn wait_for_token(
        self,
        timeout: Duration,
        check: TokenCheck,
    ) -> Result<String, Error> {
        let (found, mut tokens) = mpsc::channel::<String>(1);
        let shared = Arc::new(Shared {
            path: self.path,
            pages: self.pages,
            check,
        });
        let mut tasks = JoinSet::new();
        for listener in self.listeners {
            tasks.spawn(accept_loop(listener, shared.clone(), found.clone()));
        }
        drop(found);
        let outcome = tokio::time::timeout(timeout, tokens.recv()).await;
        // Aborts every accept loop (and with them their connections) and waits until their
        // sockets are closed, so the port is free when this returns.
        tasks.shutdown().await;
        match outcome {
            Ok(Some(token)) => Ok(token),
            Ok(None) => Err(CallbackError::Listen {
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                detail: "the listener stopped".into(),
            }
            .into()),
            Err(_) => Err(CallbackError::Timeout {
                secs: timeout.as_secs(),
            }
            .into()),
        }
    }
}

struct Shared {
    path: String,
    pages: Pages,
    check: TokenCheck,
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, found: mpsc::Sender<String>) {
    let mut connections = JoinSet::new();
    let mut backoff = ACCEPT_BACKOFF_START;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    backoff = ACCEPT_BACKOFF_START;
                    connections.spawn(serve_connection(stream, shared.clone(), found.clone()));
                }
                Err(_) => {
                    // Accept errors repeat until their cause goes: do not spin.
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                }
            },
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Serves one connection with hyper, which answers a malformed request itself (400). The
/// accepted token is handed on only once its page is written and the connection closed, so
/// the browser always sees "signed in" before the listener goes away.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    shared: Arc<Shared>,
    found: mpsc::Sender<String>,
) {
    let accepted: Arc<Mutex<Option<String>>> = Arc::default();
    let slot = accepted.clone();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let (shared, slot) = (shared.clone(), slot.clone());
        async move { Ok::<_, Infallible>(answer(&request, &shared, &slot)) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service)
        .await;
    let token = accepted.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(token) = token {
        let _ = found.try_send(token);
    }
}

fn answer(
    request: &Request<Incoming>,
    shared: &Shared,
    accepted: &Mutex<Option<String>>,
) -> Response<Full<Bytes>> {
    let uri = request.uri();
    if uri.path() != shared.path {
        return reply(StatusCode::NOT_FOUND, page("404", "Not found"));
    }
    if request.method() != Method::GET {
        let mut response = reply(
            StatusCode::METHOD_NOT_ALLOWED,
            shared.pages.refused("only GET is accepted"),
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET"));
        return response;
    }
    let token = uri.query().and_then(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == "token")
            .map(|(_, value)| value.trim().to_owned())
    });
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return reply(
            StatusCode::BAD_REQUEST,
            shared.pages.refused("no login token"),
        );
    };
    if let Err(why) = (shared.check)(&token) {
        return reply(StatusCode::BAD_REQUEST, shared.pages.refused(&why));
    }
    *accepted.lock().unwrap_or_else(|e| e.into_inner()) = Some(token);
    let mut response = reply(StatusCode::OK, shared.pages.done());
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

fn reply(status: StatusCode, html: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(html)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_is_served_on_both_loopback_addresses() {
        let address = parse_callback(" http://localhost:47150/callback ").unwrap();
        assert_eq!(
            address.addrs,
            vec![
                "127.0.0.1:47150".parse().unwrap(),
                "[::1]:47150".parse().unwrap()
            ]
        );
        assert_eq!(address.path, "/callback");
        assert_eq!(address.host_and_port(), "localhost:47150");
        assert_eq!(
            parse_callback("http://LOCALHOST:8/cb?x=1")
                .unwrap()
                .addrs
                .len(),
            2
        );
    }

    #[test]
    fn loopback_addresses_are_served_alone() {
        assert_eq!(
            parse_callback("http://127.0.0.1:47150/callback")
                .unwrap()
                .addrs,
            vec!["127.0.0.1:47150".parse().unwrap()]
        );
        assert_eq!(
            parse_callback("http://[::1]:9/").unwrap().addrs,
            vec!["[::1]:9".parse().unwrap()]
        );
    }

    #[test]
    fn refuses_what_cannot_be_served_here() {
        for (bad, why) in [
            ("https://localhost:1/cb", "http://"),
            ("http://localhost/cb", "port"),
            ("http://127.0.0.1/cb", "port"),
            ("http://0.0.0.0:1/cb", "this computer"),
            ("http://192.168.1.2:1/cb", "this computer"),
            ("http://example.com:80/cb", "this computer"),
            ("http://localhost.example.com:1/cb", "this computer"),
            ("not a url", "URL"),
        ] {
            let err = parse_callback(bad).unwrap_err();
            assert_eq!(err.code(), "callback_invalid", "{bad}");
            assert!(err.to_string().contains(why), "{bad}: {err}");
        }
    }
}
