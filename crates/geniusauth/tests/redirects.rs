//! The client never follows a redirect off the server's origin or from https down to http, for
//! any call: the token in a re-sent body or query would go elsewhere or in the clear. A stub in
//! front of the real emulator sends the redirects; the emulator must see none of the calls.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;

use geniusauth::{Client, Config, Error, LoginOptions};
use geniusauth_emulator::Emulator;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const CERT_DER: &[u8] = include_bytes!("data/self_signed_localhost.cert.der");
const KEY_DER: &[u8] = include_bytes!("data/self_signed_localhost.key.der");

/// The request target of an HTTP/1.1 request head.
fn target_of(head: &[u8]) -> String {
    String::from_utf8_lossy(head)
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned()
}

fn redirect_to(location: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    )
    .into_bytes()
}

/// Plain HTTP on 127.0.0.1, sending every request to `target` + its own path and query.
async fn http_redirector(target: String) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                let mut head = vec![0u8; 16 * 1024];
                let n = stream.read(&mut head).await.unwrap_or(0);
                let location = format!("{target}{}", target_of(&head[..n]));
                let _ = stream.write_all(&redirect_to(&location)).await;
            });
        }
    });
    port
}

/// TLS on localhost (the test trusts its certificate), redirecting like [`http_redirector`].
fn https_redirector(target: String) -> u16 {
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
            let (config, target) = (config.clone(), target.clone());
            std::thread::spawn(move || {
                let Ok(connection) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(connection, stream);
                let mut head = vec![0u8; 16 * 1024];
                let Ok(n) = tls.read(&mut head) else { return };
                let location = format!("{target}{}", target_of(&head[..n]));
                let _ = tls.write_all(&redirect_to(&location));
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    port
}

async fn emulator_counts(emulator: &Emulator) -> BTreeMap<String, u64> {
    reqwest::get(format!("{}/__emulator/requests", emulator.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Every kind of call, each carrying a token or the signature somewhere.
async fn every_call(client: &Client) -> Vec<Error> {
    vec![
        client
            .login_verify("login.token.x", &LoginOptions::default())
            .await
            .unwrap_err(),
        client.refresh_access_token("r.t.x").await.unwrap_err(),
        client.edit_payload("r.t.x", "p", true).await.unwrap_err(),
        client.revoke_refresh_token("r.t.x").await.unwrap_err(),
        client.verify_access_token("a.t.x").await.unwrap_err(),
        client.user_info("a.t.x").await.unwrap_err(),
        client.public_user_info(&[1]).await.unwrap_err(),
        client.server_public_keys().await.unwrap_err(),
        client.app_info().await.unwrap_err(),
    ]
}

fn assert_not_followed(errors: &[Error]) {
    for err in errors {
        assert!(
            matches!(
                err,
                Error::UnexpectedReply {
                    http_status: 307,
                    ..
                }
            ),
            "the redirect was followed or misread: {err:?}"
        );
    }
}

#[tokio::test]
async fn redirects_to_another_host_or_from_https_to_http_are_not_followed() {
    geniusauth::tls::install_crypto_provider();
    let emulator = Emulator::start(geniusauth_emulator::Config::ephemeral())
        .await
        .unwrap();
    let info = emulator.info().clone();
    let port = emulator.url().rsplit(':').next().unwrap().to_owned();

    // From 127.0.0.1 to localhost: the same machine, but another host.
    let front = http_redirector(format!("http://localhost:{port}")).await;
    let client = Client::new(
        Config::new(info.app_code.clone(), info.app_secret.clone())
            .with_base_url(&format!("http://127.0.0.1:{front}"))
            .unwrap(),
    )
    .unwrap();
    assert_not_followed(&every_call(&client).await);

    // From https down to http on the same host.
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("ca.pem");
    std::fs::write(&bundle, pem(CERT_DER)).unwrap();
    std::env::set_var("SSL_CERT_FILE", &bundle);
    let front = https_redirector(format!("http://localhost:{port}"));
    let client = Client::new(
        Config::new(info.app_code, info.app_secret)
            .with_base_url(&format!("https://localhost:{front}"))
            .unwrap(),
    )
    .unwrap();
    assert_not_followed(&every_call(&client).await);

    let counts = emulator_counts(&emulator).await;
    assert!(counts.is_empty(), "the emulator was reached: {counts:?}");
}

fn pem(der: &[u8]) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}
