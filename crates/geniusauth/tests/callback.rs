//! The loopback callback listener over real sockets: what ends a sign-in and what does not.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use geniusauth::callback::{parse_callback, CallbackListener, Pages, TokenCheck};
use geniusauth::clock::unix_now;
use geniusauth::tokens::check_login_token;
use geniusauth::{CallbackError, Error};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn server_key() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

fn token(key: &SigningKey, claims: Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(json!({"alg": "EdDSA", "typ": "JWT"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

fn login_claims(iat: i64) -> Value {
    json!({"type": "Login", "uid": 1, "oid": 1, "iat": iat, "exp": iat + 300})
}

/// A port free on both 127.0.0.1 and ::1 (the localhost callback binds both).
fn free_port() -> u16 {
    loop {
        let v4 = StdListener::bind("127.0.0.1:0").unwrap();
        let port = v4.local_addr().unwrap().port();
        if StdListener::bind(("::1", port)).is_ok() {
            return port;
        }
    }
}

fn check(started_at: i64) -> TokenCheck {
    let key = server_key().verifying_key();
    Arc::new(move |token: &str| {
        check_login_token(token, started_at, unix_now(), Some(&key))
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}

async fn raw_request(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut reply)).await;
    String::from_utf8_lossy(&reply).into_owned()
}

async fn get(addr: SocketAddr, target: &str) -> String {
    raw_request(
        addr,
        &format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
    )
    .await
}

fn status(reply: &str) -> &str {
    reply.split("\r\n").next().unwrap_or_default()
}

#[tokio::test]
async fn only_a_genuine_fresh_login_token_ends_the_wait() {
    let port = free_port();
    let address = parse_callback(&format!("http://localhost:{port}/callback")).unwrap();
    let listener = CallbackListener::bind(&address, Pages { product: "Test" })
        .await
        .unwrap();
    let mut bound = listener.local_addrs();
    bound.sort();
    let v4: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let v6: SocketAddr = format!("[::1]:{port}").parse().unwrap();
    assert_eq!(bound, vec![v4, v6]);

    let started = unix_now();
    let waiting = tokio::spawn(listener.wait_for_token(Duration::from_secs(20), check(started)));

    let key = server_key();
    let forged = token(&SigningKey::from_bytes(&[1; 32]), login_claims(started));
    let expired = token(&key, login_claims(started - 1000));
    let earlier = token(&key, login_claims(started - 60));
    let refresh = token(
        &key,
        json!({"type": "Refresh", "uid": 1, "iat": started, "exp": started + 600}),
    );
    for (target, expect) in [
        ("/callback?token=x".to_owned(), "400"),
        ("/callback".to_owned(), "400"),
        (format!("/callback?token={forged}"), "400"),
        (format!("/callback?token={expired}"), "400"),
        (format!("/callback?token={earlier}"), "400"),
        (format!("/callback?token={refresh}"), "400"),
        ("/favicon.ico".to_owned(), "404"),
    ] {
        for addr in [v4, v6] {
            let reply = get(addr, &target).await;
            assert!(
                status(&reply).contains(expect),
                "{target} on {addr}: {reply}"
            );
            assert!(!reply.contains("Signed in"), "{target}: {reply}");
        }
    }
    let refused = get(v4, &format!("/callback?token={forged}")).await;
    assert!(refused.contains("signature"), "{refused}");

    // The genuine token, sent another way than GET, does not count either.
    let genuine = token(&key, login_claims(started));
    let post = raw_request(
        v4,
        &format!(
            "POST /callback?token={genuine} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n"
        ),
    )
    .await;
    assert!(status(&post).contains("405"), "{post}");
    assert!(
        post.contains("Allow: GET") || post.contains("allow: GET"),
        "{post}"
    );

    // A malformed request gets an answer, not silence.
    let garbage = raw_request(v4, "NOT A REQUEST\r\n\r\n").await;
    assert!(status(&garbage).contains("400"), "{garbage:?}");

    assert!(!waiting.is_finished(), "nothing so far may end the sign-in");
    let done = get(v6, &format!("/callback?token={genuine}&from=sso")).await;
    assert!(status(&done).contains("200"), "{done}");
    assert!(done.contains("Signed in"), "{done}");
    let received = waiting.await.unwrap().unwrap();
    assert_eq!(received, genuine);

    // Nothing listens afterwards, on either address.
    for addr in [v4, v6] {
        assert!(TcpStream::connect(addr).await.is_err(), "{addr} still open");
    }
}

#[tokio::test]
async fn an_ip_callback_is_served_on_that_address_only() {
    let port = free_port();
    let address = parse_callback(&format!("http://127.0.0.1:{port}/cb")).unwrap();
    let listener = CallbackListener::bind(&address, Pages { product: "Test" })
        .await
        .unwrap();
    assert_eq!(
        listener.local_addrs(),
        vec![format!("127.0.0.1:{port}").parse::<SocketAddr>().unwrap()]
    );
    // ::1 stays free for anyone else.
    let _other = StdListener::bind(("::1", port)).unwrap();
}

#[tokio::test]
async fn a_port_taken_on_either_address_is_port_in_use() {
    for taken in ["127.0.0.1", "::1"] {
        let port = free_port();
        let _holder = StdListener::bind((taken, port)).unwrap();
        let address = parse_callback(&format!("http://localhost:{port}/callback")).unwrap();
        let err = CallbackListener::bind(&address, Pages { product: "Test" })
            .await
            .err()
            .expect("the port is taken");
        assert!(
            matches!(err, Error::Callback(CallbackError::PortInUse { port: p, .. }) if p == port),
            "{taken}: {err:?}"
        );
        assert_eq!(err.code(), "sign_in_port_in_use");
    }
}

#[tokio::test]
async fn the_wait_times_out_and_releases_the_port() {
    let port = free_port();
    let address = parse_callback(&format!("http://localhost:{port}/callback")).unwrap();
    let listener = CallbackListener::bind(&address, Pages { product: "Test" })
        .await
        .unwrap();
    let err = listener
        .wait_for_token(Duration::from_millis(200), check(unix_now()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "sign_in_timeout");
    // Bindable again at once.
    CallbackListener::bind(&address, Pages { product: "Test" })
        .await
        .unwrap();
}
