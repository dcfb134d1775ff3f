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
    pub async fn wait_for_token(self, timeout: Duration) -> Result<String, AccountError> {
        tokio::time::timeout(timeout, async {
            loop {
                let Ok((stream, _)) = self.listener.accept().await else {
                    continue;
                };
                if let Some(token) = self.answer(stream).await {
                    return token;
                }
            }
        })
        .await
        .map_err(|_| AccountError::SignInTimeout)
    }

    async fn answer(&self, mut stream: TcpStream) -> Option<String> {
        let head = tokio::time::timeout(Duration::from_secs(10), read_head(&mut stream))
            .await
            .ok()??;
        let target = head.lines().next()?.split_whitespace().nth(1)?.to_owned();
        let url = Url::parse(&format!("http://127.0.0.1{target}")).ok()?;
        let token = (url.path() == self.path)
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
