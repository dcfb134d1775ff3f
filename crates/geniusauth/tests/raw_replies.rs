//! Reading replies from raw loopback HTTP servers: the older wiki's samples, broken proxies,
//! oversized and empty bodies, silence and refused connections. Also checks what each call
//! puts on the wire.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use geniusauth::{AppSecret, Client, Config, Error, Grant, LoginOptions, ParamValue};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const APP_CODE: &str = "Ab3dE6g8";
const SECRET: &str = "a-very-secret-app-secret";

#[derive(Debug, Clone)]
struct CapturedRequest {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl CapturedRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn path(&self) -> &str {
        self.target.split('?').next().unwrap()
    }

    /// Parameters as sent: the JSON body, or the query string.
    fn params(&self) -> serde_json::Map<String, Value> {
        if self.body.is_empty() {
            let url = url::Url::parse(&format!("http://x{}", self.target)).unwrap();
            url.query_pairs()
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect()
        } else {
            serde_json::from_slice(&self.body).expect("JSON body")
        }
    }
}

enum Behaviour {
    /// Write these bytes, then close.
    Reply(Vec<u8>),
    /// Write the headers, then stream this many bytes in chunks without a Content-Length.
    ChunkedFlood(usize),
    /// Read the request and never answer.
    Silent,
}

struct RawServer {
    url: String,
    requests: Arc<Mutex<Vec<CapturedRequest>>>,
}

impl RawServer {
    async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let captured = requests.clone();
        let behaviour = Arc::new(behaviour);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let captured = captured.clone();
                let behaviour = behaviour.clone();
                tokio::spawn(async move { serve(stream, &behaviour, &captured).await });
            }
        });
        Self { url, requests }
    }

    fn client(&self) -> Client {
        client_for(&self.url)
    }

    fn requests(&self) -> Vec<CapturedRequest> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve(
    mut stream: TcpStream,
    behaviour: &Behaviour,
    captured: &Mutex<Vec<CapturedRequest>>,
) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    captured.lock().unwrap().push(request);
    match behaviour {
        Behaviour::Reply(bytes) => {
            let _ = stream.write_all(bytes).await;
            let _ = stream.shutdown().await;
        }
        Behaviour::ChunkedFlood(total) => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                        Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = vec![b' '; 64 * 1024];
            let mut sent = 0;
            while sent < *total {
                let frame = [
                    format!("{:x}\r\n", chunk.len()).into_bytes(),
                    chunk.clone(),
                    b"\r\n".to_vec(),
                ]
                .concat();
                if stream.write_all(&frame).await.is_err() {
                    return;
                }
                sent += chunk.len();
            }
            let _ = stream.write_all(b"0\r\n\r\n").await;
        }
        Behaviour::Silent => {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    }
}

async fn read_request(stream: &mut TcpStream) -> Option<CapturedRequest> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        if let Some(pos) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[header_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(CapturedRequest {
        method,
        target,
        headers,
        body,
    })
}

fn http_response(status: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn json_reply(status: &str, body: &str) -> Behaviour {
    Behaviour::Reply(http_response(
        status,
        "application/json; charset=utf-8",
        body.as_bytes(),
    ))
}

fn client_for(url: &str) -> Client {
    Client::new(
        Config::new(APP_CODE, SECRET)
            .with_base_url(url)
            .unwrap()
            .with_request_timeout(Duration::from_secs(1))
            .with_connect_timeout(Duration::from_secs(1)),
    )
    .unwrap()
}

// The wiki's sample replies, with its `//` comments removed.
const WIKI_LOGIN_SUCCESS: &str = r#"{
  "code": 0,
  "data": {
    "id": 8,
    "name": "孙翔宇",
    "avatarUrl": "https://aaa.bbb.com/ccc.png",
    "groups": [
      "研发",
      "中心"
    ],
    "refreshToken": "xxxx",
    "accessToken": "xxxx"
  }
}"#;
const WIKI_FAILURE: &str = r#"{
    "code": 5,
    "msg": "身份校验失败,权限不足"
}"#;
// Verbatim, missing comma included.
const WIKI_REFRESH_VERBATIM: &str = r#"{
  "code": 0,
  "data": {
    "uid": 8
    "payload": "example"
  }
}"#;
const WIKI_REFRESH_FIXED: &str = r#"{"code":0,"data":{"uid":8,"payload":"example"}}"#;

#[tokio::test]
async fn wiki_login_sample_with_id_instead_of_user_id() {
    let server = RawServer::start(json_reply("200 OK", WIKI_LOGIN_SUCCESS)).await;
    let result = server
        .client()
        .login_verify("login-token", &LoginOptions::default())
        .await
        .unwrap();
    assert_eq!(result.user_id, 8);
    assert_eq!(result.name, "孙翔宇");
    assert_eq!(result.groups, ["研发", "中心"]);
    assert_eq!(result.avatar_url, "https://aaa.bbb.com/ccc.png");
    assert_eq!(result.refresh_token, "xxxx");
    assert_eq!(result.access_token, "xxxx");
}

#[tokio::test]
async fn wiki_code_5_reads_as_unauthorized() {
    let server = RawServer::start(json_reply("401 Unauthorized", WIKI_FAILURE)).await;
    let err = server
        .client()
        .refresh_access_token("refresh-token")
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::Server {
            code: 5,
            msg: "身份校验失败,权限不足".into(),
            http_status: 401
        }
    );
    assert!(err.is_unauthorized());
    assert!(!err.is_token_invalid());
    assert!(!err.is_transient());
    assert_eq!(err.code(), "server");
    assert!(err.explanation().contains("Not authorized"));
}

#[tokio::test]
async fn wiki_refresh_sample_uid_and_payload() {
    let server = RawServer::start(json_reply("200 OK", WIKI_REFRESH_FIXED)).await;
    let result = server
        .client()
        .refresh_access_token("refresh-token")
        .await
        .unwrap();
    assert_eq!(result.uid, Some(8));
    assert_eq!(result.payload, "example");
    assert_eq!(result.access_token, "");
}

#[tokio::test]
async fn wiki_refresh_sample_verbatim_is_a_clear_error() {
    let server = RawServer::start(json_reply("200 OK", WIKI_REFRESH_VERBATIM)).await;
    let err = server
        .client()
        .refresh_access_token("refresh-token")
        .await
        .unwrap_err();
    match &err {
        Error::UnexpectedReply {
            http_status,
            snippet,
        } => {
            assert_eq!(*http_status, 200);
            assert!(snippet.contains("\"uid\": 8"), "{snippet}");
        }
        other => panic!("expected UnexpectedReply, got {other:?}"),
    }
    assert!(err.is_transient());
}

#[tokio::test]
async fn server_refresh_reply_in_snake_case_and_camel_case() {
    for body in [
        r#"{"code":0,"data":{"access_token":"at","payload":"p"}}"#,
        r#"{"code":0,"data":{"accessToken":"at","payload":"p","new":1}}"#,
    ] {
        let server = RawServer::start(json_reply("200 OK", body)).await;
        let result = server.client().refresh_access_token("rt").await.unwrap();
        assert_eq!(result.access_token, "at");
        assert_eq!(result.payload, "p");
        assert_eq!(result.uid, None);
    }
}

#[tokio::test]
async fn missing_optional_fields_default() {
    let server = RawServer::start(json_reply(
        "200 OK",
        r#"{"code":0,"data":{"userID":3,"groups":null}}"#,
    ))
    .await;
    let info = server.client().user_info("at").await.unwrap();
    assert_eq!(info.user_id, 3);
    assert!(info.groups.is_empty());
    assert_eq!(info.name, "");
}

#[tokio::test]
async fn html_502_page_is_unexpected_and_transient() {
    let page = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
                <center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n\
                </body>\r\n</html>\r\n";
    let server = RawServer::start(Behaviour::Reply(http_response(
        "502 Bad Gateway",
        "text/html",
        page.as_bytes(),
    )))
    .await;
    let err = server.client().verify_access_token("at").await.unwrap_err();
    match &err {
        Error::UnexpectedReply {
            http_status,
            snippet,
        } => {
            assert_eq!(*http_status, 502);
            assert!(snippet.starts_with("<html>"));
        }
        other => panic!("expected UnexpectedReply, got {other:?}"),
    }
    assert!(err.is_transient());
    assert_eq!(err.code(), "unexpected_reply");
}

#[tokio::test]
async fn truncated_json_is_unexpected_reply() {
    let server = RawServer::start(json_reply(
        "200 OK",
        r#"{"code":0,"data":{"access_token":"eyJhbGciOiJFZERTQSJ9.eyJ"#,
    ))
    .await;
    let err = server
        .client()
        .refresh_access_token("rt")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::UnexpectedReply {
                http_status: 200,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn connection_closed_mid_body_is_a_network_error() {
    let mut bytes = http_response("200 OK", "application/json", br#"{"code":0,"data":{}}"#);
    bytes.truncate(bytes.len() - 8);
    let server = RawServer::start(Behaviour::Reply(bytes)).await;
    let err = server
        .client()
        .refresh_access_token("rt")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Network(_)), "{err:?}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn body_over_the_cap_with_content_length() {
    let body = vec![b' '; 2 * 1024 * 1024];
    let server = RawServer::start(Behaviour::Reply(http_response(
        "200 OK",
        "application/json",
        &body,
    )))
    .await;
    let err = server
        .client()
        .refresh_access_token("rt")
        .await
        .unwrap_err();
    assert_eq!(err, Error::BodyTooLarge { limit: 1024 * 1024 });
    assert_eq!(err.code(), "body_too_large");
}

#[tokio::test]
async fn body_over_the_cap_while_streaming() {
    let server = RawServer::start(Behaviour::ChunkedFlood(2 * 1024 * 1024)).await;
    let err = server
        .client()
        .refresh_access_token("rt")
        .await
        .unwrap_err();
    assert_eq!(err, Error::BodyTooLarge { limit: 1024 * 1024 });
}

#[tokio::test]
async fn empty_body_is_unexpected_reply() {
    let server = RawServer::start(json_reply("200 OK", "")).await;
    let err = server
        .client()
        .refresh_access_token("rt")
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::UnexpectedReply {
            http_status: 200,
            snippet: String::new()
        }
    );
}

#[tokio::test]
async fn silent_server_times_out() {
    let server = RawServer::start(Behaviour::Silent).await;
    let started = Instant::now();
    let err = server
        .client()
        .revoke_refresh_token("secret-refresh-token")
        .await
        .unwrap_err();
    assert_eq!(err, Error::Timeout);
    assert!(err.is_transient());
    assert_eq!(err.code(), "timeout");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn refused_connection_is_connect_error_without_secrets() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = client_for(&url)
        .revoke_refresh_token("secret-refresh-token")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connect(_)), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(err.code(), "connect");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("secret-refresh-token"), "{shown}");
    assert!(!shown.contains(SECRET), "{shown}");
}

#[tokio::test]
async fn server_public_keys_are_base64_decoded() {
    let pem = "-----BEGIN EC PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END EC PUBLIC KEY-----\n";
    use base64::Engine;
    let wire = base64::engine::general_purpose::STANDARD.encode(pem);
    let body = format!(r#"{{"code":0,"data":{{"jwt":"{wire}","ca":"{wire}"}}}}"#);
    let server = RawServer::start(json_reply("200 OK", &body)).await;
    let keys = server.client().server_public_keys().await.unwrap();
    assert_eq!(keys.jwt, pem);
    assert_eq!(keys.ca, pem);
    let request = &server.requests()[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.path(), "/api/v1/app/keypair/server");
}

/// What is sent: method, exact path, encoding, and a signature over exactly the keys sent.
#[tokio::test]
async fn every_call_sends_the_documented_request() {
    let server = RawServer::start(json_reply("200 OK", r#"{"code":0}"#)).await;
    let client = server.client();
    let options = LoginOptions {
        grant: Grant::RefreshToken {
            valid: Some(604_800),
        },
        payload: Some("研发 & co = 1".into()),
        client_ip: Some("10.1.2.3".into()),
    };
    // Replies decode or not; only the requests matter here.
    let _ = client.login_verify("lt", &options).await;
    let _ = client.refresh_access_token("rt").await;
    let _ = client.edit_payload("rt", "new", true).await;
    let _ = client.revoke_refresh_token("rt").await;
    let _ = client.verify_access_token("at").await;
    let _ = client.user_info("at").await;
    let _ = client.public_user_info(&[1, 2, 30]).await;
    let _ = client.server_public_keys().await;

    // (method, path, own parameters as they appear on the wire)
    type Expected = (
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
    );
    let expected: [Expected; 8] = [
        (
            "POST",
            "/api/v1/public/login/verify",
            &[
                ("token", "\"lt\""),
                ("grantType", "\"refresh_token\""),
                ("valid", "604800"),
                ("payload", "\"研发 & co = 1\""),
                ("clientIp", "\"10.1.2.3\""),
            ],
        ),
        ("POST", "/api/v1/app/token/refresh/", &[("token", "\"rt\"")]),
        (
            "PATCH",
            "/api/v1/app/token/refresh/",
            &[
                ("token", "\"rt\""),
                ("payload", "\"new\""),
                ("accessToken", "true"),
            ],
        ),
        ("DELETE", "/api/v1/app/token/refresh/", &[("token", "rt")]),
        (
            "POST",
            "/api/v1/app/token/access/verify",
            &[("token", "\"at\"")],
        ),
        (
            "POST",
            "/api/v1/app/token/access/user/info",
            &[("token", "\"at\"")],
        ),
        ("GET", "/api/v1/app/user/info", &[("id", "1,2,30")]),
        ("GET", "/api/v1/app/keypair/server", &[]),
    ];
    let requests = server.requests();
    assert_eq!(requests.len(), expected.len());
    let now = geniusauth::tokens::unix_now();
    for (request, (method, path, own_params)) in requests.iter().zip(expected) {
        assert_eq!(request.method, method);
        assert_eq!(request.path(), path);
        assert_eq!(
            request.header("user-agent"),
            Some(concat!("geniusauth/", env!("CARGO_PKG_VERSION")))
        );
        let params = request.params();
        let is_query = method == "GET" || method == "DELETE";
        if is_query {
            assert!(request.body.is_empty());
        } else {
            assert_eq!(request.header("content-type"), Some("application/json"));
            assert!(!request.target.contains('?'));
        }
        // Own parameters, plus exactly appCode, timeStamp and signature.
        assert_eq!(params.len(), own_params.len() + 3, "{path}: {params:?}");
        for (key, value) in own_params {
            let sent = &params[*key];
            let shown = if is_query {
                sent.as_str().unwrap().to_owned()
            } else {
                sent.to_string()
            };
            assert_eq!(&shown, value, "{method} {path} {key}");
        }
        assert_eq!(params["appCode"], APP_CODE);
        let stamp = match &params["timeStamp"] {
            Value::String(s) => s.parse::<i64>().unwrap(),
            other => other.as_i64().expect("integer timeStamp in JSON"),
        };
        assert!((stamp - now).abs() <= 5);
        // Recompute the signature over what arrived, as the server does.
        let signed: Vec<(&str, ParamValue)> = params
            .iter()
            .filter(|(k, _)| *k != "signature")
            .map(|(k, v)| {
                let value = match v {
                    Value::String(s) => ParamValue::Str(s.clone()),
                    Value::Bool(b) => ParamValue::Bool(*b),
                    Value::Number(n) => ParamValue::Int(n.as_i64().unwrap()),
                    other => panic!("unexpected value {other}"),
                };
                (k.as_str(), value)
            })
            .collect();
        assert_eq!(
            params["signature"].as_str().unwrap(),
            geniusauth::sign(&signed, &AppSecret::new(SECRET)),
            "{method} {path}"
        );
        let raw = format!("{request:?}");
        assert!(!raw.contains(SECRET), "the secret must never be sent");
    }
}

#[tokio::test]
async fn optional_login_fields_are_left_out() {
    let server = RawServer::start(json_reply("200 OK", r#"{"code":0}"#)).await;
    let client = server.client();
    let _ = client.login_verify("lt", &LoginOptions::default()).await;
    let once = LoginOptions {
        grant: Grant::Once,
        ..Default::default()
    };
    let _ = client.login_verify("lt", &once).await;
    let none = LoginOptions {
        grant: Grant::None,
        payload: Some(String::new()),
        client_ip: Some(" ".into()),
    };
    let _ = client.login_verify("lt", &none).await;
    let keys: Vec<Vec<String>> = server
        .requests()
        .iter()
        .map(|r| {
            let mut keys: Vec<String> = r.params().keys().cloned().collect();
            keys.sort();
            keys
        })
        .collect();
    assert_eq!(
        keys[0],
        ["appCode", "grantType", "signature", "timeStamp", "token"]
    );
    assert_eq!(server.requests()[1].params()["grantType"], "once");
    assert_eq!(keys[2], ["appCode", "signature", "timeStamp", "token"]);
}

#[tokio::test]
async fn invalid_input_sends_nothing() {
    let server = RawServer::start(json_reply("200 OK", r#"{"code":0}"#)).await;
    let client = server.client();
    let long_payload = "字".repeat(33);
    let errors = vec![
        client
            .login_verify("", &LoginOptions::default())
            .await
            .unwrap_err(),
        client
            .login_verify(
                "lt",
                &LoginOptions {
                    payload: Some(long_payload.clone()),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err(),
        client
            .login_verify(
                "lt",
                &LoginOptions {
                    grant: Grant::RefreshToken {
                        valid: Some(604_799),
                    },
                    ..Default::default()
                },
            )
            .await
            .unwrap_err(),
        client
            .login_verify(
                "lt",
                &LoginOptions {
                    grant: Grant::RefreshToken {
                        valid: Some(2_592_001),
                    },
                    ..Default::default()
                },
            )
            .await
            .unwrap_err(),
        client.refresh_access_token("  ").await.unwrap_err(),
        client.edit_payload("rt", "", false).await.unwrap_err(),
        client
            .edit_payload("rt", &long_payload, false)
            .await
            .unwrap_err(),
        client.edit_payload("", "p", false).await.unwrap_err(),
        client.revoke_refresh_token("").await.unwrap_err(),
        client.verify_access_token("").await.unwrap_err(),
        client.user_info("").await.unwrap_err(),
        client.public_user_info(&[]).await.unwrap_err(),
    ];
    for err in &errors {
        assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
        assert_eq!(err.code(), "invalid_input");
        assert!(!err.is_transient());
    }
    assert!(server.requests().is_empty());
    // 32 characters of 3 bytes each is allowed: the limit counts characters, not bytes.
    let _ = client.edit_payload("rt", &"字".repeat(32), false).await;
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn secret_never_shows_in_debug_output() {
    let client = client_for("http://127.0.0.1:9");
    let shown = format!("{client:?} {:?}", client.config());
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains("***"));
}

#[test]
fn login_url_points_at_the_server_root() {
    let client = client_for("http://127.0.0.1:9/prefix/");
    assert_eq!(
        client.login_url().as_str(),
        format!("http://127.0.0.1:9/prefix/?appCode={APP_CODE}")
    );
    let default = Client::new(Config::new("Ab3dE6g8", "s")).unwrap();
    assert_eq!(
        default.login_url().as_str(),
        "https://v.ncuos.com/?appCode=Ab3dE6g8"
    );
}

#[test]
fn bad_base_urls_are_invalid_input() {
    for url in ["", "ftp://x", "not a url", "file:///tmp"] {
        let err = Config::new("a", "b").with_base_url(url).unwrap_err();
        assert_eq!(err.code(), "invalid_input", "{url}");
    }
}
