//! TLS failures are reported as such: an https:// URL aimed at a plain-HTTP port (a typo in the
//! server URL, or the emulator given as https://) and a server whose certificate is not trusted
//! both give `Error::Tls`, never `Connect`, a timeout or a panic.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use geniusauth::{Client, Config, Error};
use geniusauth_emulator::Emulator;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A self-signed certificate for `localhost` and 127.0.0.1, valid 2020–2120, and its P-256 key
/// (PKCS#8). No trust store knows it.
const CERT_DER: &[u8] = include_bytes!("data/self_signed_localhost.cert.der");
const KEY_DER: &[u8] = include_bytes!("data/self_signed_localhost.key.der");

const SECRET: &str = "a-very-secret-app-secret";

fn client_for(url: &str) -> Client {
    Client::new(
        Config::new("Ab3dE6g8", SECRET)
            .with_base_url(url)
            .unwrap()
            .with_connect_timeout(Duration::from_secs(5))
            .with_request_timeout(Duration::from_secs(10)),
    )
    .unwrap()
}

fn assert_tls(err: &Error) {
    assert!(
        matches!(err, Error::Tls(_)),
        "expected a TLS error: {err:?}"
    );
    assert_eq!(err.code(), "tls");
    assert!(err.is_transient());
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(!shown.contains("secret-refresh-token"), "{shown}");
}

/// A plain-HTTP server that answers every connection at once, without waiting for a request:
/// the TLS client's ServerHello is an HTTP status line.
#[tokio::test]
async fn https_to_a_plain_http_port_is_a_tls_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let body = "plain HTTP here";
                let reply = format!(
                    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
                let mut sink = [0u8; 1024];
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            });
        }
    });
    let client = client_for(&format!("https://127.0.0.1:{port}"));
    let err = client
        .revoke_refresh_token("secret-refresh-token")
        .await
        .unwrap_err();
    assert_tls(&err);
    let err = client.server_public_keys().await.unwrap_err();
    assert_tls(&err);
}

/// The emulator speaks plain HTTP; pointing the client at it with https:// is the mistake a
/// developer makes, and it must read as a TLS problem.
#[tokio::test]
async fn https_to_the_emulator_is_a_tls_error() {
    let emulator = Emulator::start(geniusauth_emulator::Config::ephemeral())
        .await
        .expect("emulator starts");
    let https = emulator.url().replacen("http://", "https://", 1);
    let err = client_for(&https)
        .refresh_access_token("secret-refresh-token")
        .await
        .unwrap_err();
    assert_tls(&err);
}

/// A real TLS server with a certificate no root vouches for (a self-signed staging server, or
/// a man in the middle).
#[tokio::test]
async fn untrusted_certificate_is_a_tls_error() {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(CERT_DER)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(KEY_DER)),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // rustls' blocking stream on a thread: the handshake fails on the client's side, which
    // sends an alert and closes; whatever happens here ends with that connection.
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let config = config.clone();
            std::thread::spawn(move || {
                let Ok(connection) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(connection, stream);
                let mut buffer = [0u8; 1024];
                if matches!(tls.read(&mut buffer), Ok(n) if n > 0) {
                    let _ = tls.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\n{\"code\":0",
                    );
                }
            });
        }
    });
    let err = client_for(&format!("https://127.0.0.1:{port}"))
        .revoke_refresh_token("secret-refresh-token")
        .await
        .unwrap_err();
    assert_tls(&err);
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    // It names the host and says what to check.
    let explanation = err.explanation();
    assert!(explanation.contains("127.0.0.1"), "{explanation}");
    assert!(explanation.contains("certificate store"), "{explanation}");
}
