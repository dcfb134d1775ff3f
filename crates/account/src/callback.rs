//! The loopback end of browser sign-in: GeniusAuth redirects the browser to the app's registered
//! callback with `?token=<login token>`; we listen there only while a sign-in is pending.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

use crate::error::AccountError;

/// How long a browser sign-in may stay pending: the login token itself lives 5 minutes.
pub const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(300);

const MAX_REQUEST_HEAD: usize = 16 * 1024;

const DONE_PAGE: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Genius Account</title>\
<style>body{font:16px system-ui,sans-serif;display:grid;place-items:center;height:90vh;margin:0;\
color:#1b1f2a;background:#f5f7fb}@media(prefers-color-scheme:dark){body{color:#e6e9f0;background:#141821}}\
</style></head><body><main><h1>已登录 · Signed in</h1><p>可以关闭此标签页，回到 Genius Account。<br>\
You can close this tab and return to Genius Account.</p></main></body></html>";

/// How long one connection may take to send its request line and headers.
const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// After a failed accept (e.g. out of file descriptors) wait this long, doubling up to the max.
const ACCEPT_BACKOFF_START: Duration = Duration::from_millis(50);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

pub struct CallbackListener {
    listener: TcpListener,
    path: String,
}

impl CallbackListener {
    /// Binds the callback's own port on 127.0.0.1 only.
    pub async fn bind(callback: &str) -> Result<CallbackListener, AccountError> {
        let url =
            Url::parse(callback).map_err(|_| AccountError::invalid("callback is not a URL"))?;
        let port = url
            .port()
            .ok_or_else(|| AccountError::invalid("callback has no port"))?;
        let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                AccountError::SignInPortInUse(port)
            } else {
                AccountError::Storage(format!("cannot listen on 127.0.0.1:{port}: {e}"))
            }
        })?;
        Ok(CallbackListener {
            listener,
            path: url.path().to_owned(),
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Answers requests until one carries `token` on the callback path, or the time runs out.
    /// Each connection is served by a task of its own, so a connection that sends nothing
    /// (a browser's speculative preconnect, a port scanner) cannot hold up the real redirect.
    /// The listener and every connection task end when this returns or is dropped.
    pub async fn wait_for_token(self, timeout: Duration) -> Result<String, AccountError> {
        let (found, mut tokens) = tokio::sync::mpsc::channel::<String>(1);
        let path: std::sync::Arc<str> = self.path.into();
        let mut connections = tokio::task::JoinSet::new();
        let mut backoff = ACCEPT_BACKOFF_START;
        let serve = async {
            loop {
                tokio::select! {
                    Some(token) = tokens.recv() => return token,
                    accepted = self.listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            backoff = ACCEPT_BACKOFF_START;
                            let (found, path) = (found.clone(), path.clone());
                            connections.spawn(async move {
                                if let Some(token) = answer(stream, &path).await {
                                    let _ = found.try_send(token);
                                }
                            });
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
        };
        tokio::time::timeout(timeout, serve)
            .await
            .map_err(|_| AccountError::SignInTimeout)
    }
}

/// Serves one connection: the done page for a request carrying `token` on the callback path,
/// 404 for anything else. Returns the token.
async fn answer(mut stream: TcpStream, path: &str) -> Option<String> {
    let head = tokio::time::timeout(REQUEST_HEAD_TIMEOUT, read_head(&mut stream))
        .await
        .ok()??;
    let target = head.lines().next()?.split_whitespace().nth(1)?.to_owned();
    let url = Url::parse(&format!("http://127.0.0.1{target}")).ok()?;
    let token = (url.path() == path)
        .then(|| {
            url.query_pairs()
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.into_owned())
        })
        .flatten()
        .filter(|t| !t.is_empty());
    let (status, body) = match token {
        Some(_) => ("200 OK", DONE_PAGE),
        None => ("404 Not Found", "Not found"),
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
    token
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() + n > MAX_REQUEST_HEAD {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(buf).ok()
}
