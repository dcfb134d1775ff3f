//! The client trusts what the operating system trusts: a CA added to the system's certificate
//! store (here through `SSL_CERT_FILE`, which the Linux store honours) is accepted, as a campus
//! TLS-inspection proxy's or an internal CA is in the browser. A test binary of its own: the
//! variable is process-wide.

use std::io::{Read, Write};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use geniusauth::{Client, Config};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const CERT_DER: &[u8] = include_bytes!("data/self_signed_localhost.cert.der");
const KEY_DER: &[u8] = include_bytes!("data/self_signed_localhost.key.der");

/// A TLS server with the self-signed `localhost` certificate that answers `{"code":0}`.
fn tls_server() -> u16 {
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
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let config = config.clone();
            std::thread::spawn(move || {
                let Ok(connection) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(connection, stream);
                let mut head = Vec::new();
                let mut buffer = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buffer) {
                        Ok(n) if n > 0 => head.extend_from_slice(&buffer[..n]),
                        _ => return,
                    }
                }
                let _ = tls.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\
                      Connection: close\r\n\r\n{\"code\":0}",
                );
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    port
}

#[tokio::test]
async fn a_ca_in_the_system_store_is_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("ca.pem");
    let body = STANDARD.encode(CERT_DER);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    std::fs::write(
        &bundle,
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        ),
    )
    .unwrap();
    // Before any client exists: the store is read when the first verifier is built.
    std::env::set_var("SSL_CERT_FILE", &bundle);
    std::env::remove_var("SSL_CERT_DIR");
    let port = tls_server();
    let client = Client::new(
        Config::new("Ab3dE6g8", "secret")
            .with_base_url(&format!("https://localhost:{port}"))
            .unwrap(),
    )
    .unwrap();
    client
        .revoke_refresh_token("a-refresh-token")
        .await
        .expect("the system's CA is trusted");
}
