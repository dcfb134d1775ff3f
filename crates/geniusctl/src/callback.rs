//! The loopback listener that receives the browser at the app's callback URL
//! (`...?token=<login token>`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use url::{Host, Url};

use crate::failure::Failure;

/// Longest request head we read from the browser.
const MAX_REQUEST_HEAD: usize = 16 * 1024;
/// A connection that sends nothing for this long is dropped (browsers pre-connect).
const READ_TIMEOUT: Duration = Duration::from_secs(10);

const DONE_PAGE: &str = "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
<title>GeniusAuth</title><style>body{font-family:sans-serif;text-align:center;margin-top:15vh}\
</style></head><body><h1>登录完成</h1><p>可以关闭此标签页，回到命令行。</p>\
<h2>Signed in</h2><p>You can close this tab and return to the terminal.</p></body></html>\n";

/// Where to listen: the callback's loopback address and the path to answer on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackTarget {
    pub addr: SocketAddr,
    pub path: String,
}

/// Accepts only `http://` URLs on a loopback host, so the login token never leaves the machine.
pub fn parse_callback(callback: &str) -> Result<CallbackTarget, Failure> {
    let url = Url::parse(callback)
        .map_err(|e| Failure::Usage(format!("callback {callback:?} is not a URL: {e}")))?;
    if url.scheme() != "http" {
        return Err(Failure::Usage(format!(
            "callback {callback:?} must be an http:// URL on a loopback address"
        )));
    }
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) if ip.is_loopback() => IpAddr::V4(ip),
        Some(Host::Ipv6(ip)) if ip.is_loopback() => IpAddr::V6(ip),
        Some(Host::Domain(name)) if name.eq_ignore_ascii_case("localhost") => {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        }
        _ => {
            return Err(Failure::Usage(format!(
                "callback {callback:?} is not on a loopback address (127.0.0.1, ::1 or localhost)"
            )))
        }
    };
    let port = url.port_or_known_default().unwrap_or(80);
    Ok(CallbackTarget {
        addr: SocketAddr::new(ip, port),
        path: url.path().to_owned(),
    })
}

/// Serves the callback until a request on `path` carries a non-empty `token`, answers it with a
/// bilingual "you can close this tab" page and returns the token. Other requests get 404/400
/// and the wait goes on.
pub async fn wait_for_login_token(
    listener: TcpListener,
    path: String,
    timeout: Duration,
) -> Result<String, Failure> {
    let (found, mut tokens) = mpsc::channel::<String>(1);
    let accept_loop = async {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let found = found.clone();
            let path = path.clone();
            tokio::spawn(async move {
                if let Some(token) = handle(stream, &path).await {
                    let _ = found.send(token).await;
                }
            });
        }
    };
    tokio::select! {
        token = tokens.recv() => token.ok_or_else(|| Failure::Network("callback listener stopped".into())),
        () = accept_loop => Err(Failure::Network("callback listener stopped".into())),
        () = tokio::time::sleep(timeout) => Err(Failure::Network(format!(
            "no sign-in arrived at the callback within {} s",
            timeout.as_secs()
        ))),
    }
}

async fn handle(mut stream: TcpStream, path: &str) -> Option<String> {
    let head = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream))
        .await
        .ok()??;
    let mut request_line = head.lines().next()?.split(' ');
    let method = request_line.next()?;
    let target = request_line.next()?;
    let url = Url::parse(&format!("http://localhost{target}")).ok()?;
    if method != "GET" || url.path() != path {
        respond(&mut stream, "404 Not Found", "<h1>404</h1>").await;
        return None;
    }
    let token = url
        .query_pairs()
        .find(|(key, _)| key == "token")
        .map(|(_, value)| value.trim().to_owned())
        .filter(|token| !token.is_empty());
    match token {
        Some(token) => {
            respond(&mut stream, "200 OK", DONE_PAGE).await;
            Some(token)
        }
        None => {
            respond(
                &mut stream,
                "400 Bad Request",
                "<p>缺少登录令牌 · No login token in this request.</p>",
            )
            .await;
            None
        }
    }
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buffer).await.ok()?;
        if n == 0 || head.len() + n > MAX_REQUEST_HEAD {
            return None;
        }
        head.extend_from_slice(&buffer[..n]);
    }
    String::from_utf8(head).ok()
}

async fn respond(stream: &mut TcpStream, status: &str, html: &str) {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{html}",
        html.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_callbacks_only() {
        assert_eq!(
            parse_callback("http://127.0.0.1:47150/callback").unwrap(),
            CallbackTarget {
                addr: "127.0.0.1:47150".parse().unwrap(),
                path: "/callback".into()
            }
        );
        assert_eq!(
            parse_callback("http://localhost:8/cb?x=1").unwrap().addr,
            "127.0.0.1:8".parse().unwrap()
        );
        assert_eq!(
            parse_callback("http://[::1]:9/").unwrap().addr,
            "[::1]:9".parse().unwrap()
        );
        for bad in [
            "https://127.0.0.1:1/cb",
            "http://0.0.0.0:1/cb",
            "http://192.168.1.2:1/cb",
            "http://example.com/cb",
            "not a url",
        ] {
            assert!(parse_callback(bad).is_err(), "{bad}");
        }
    }
}
