//! `POST /api/v1/app/keypair/rpc` (internal/api/controllers/app/keypair.go
//! RpcClientCredential, pkg/ca/issue.go IssueClient): a 7-day mTLS client certificate issued
//! by the CA that `keypair/server` publishes, checked with an independent X.509 parser.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::*;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{Signature, SigningKey, Verifier, VerifyingKey};
use geniusauth_emulator::{Config, Database};
use reqwest::Method;
use serde_json::json;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;

const RPC: &str = "/api/v1/app/keypair/rpc";

fn pem_blocks(base64_text: &str) -> Vec<Pem> {
    let text = STANDARD.decode(base64_text).expect("base64");
    Pem::iter_from_buffer(&text)
        .map(|pem| pem.expect("PEM block"))
        .collect()
}

fn certificate(pem: &Pem) -> X509Certificate<'_> {
    let (rest, cert) = x509_parser::parse_x509_certificate(&pem.contents).expect("X.509");
    assert!(rest.is_empty());
    cert
}

fn ed25519_key(cert: &X509Certificate<'_>) -> VerifyingKey {
    let bytes: [u8; 32] = cert.public_key().subject_public_key.data[..]
        .try_into()
        .expect("32-byte Ed25519 key");
    VerifyingKey::from_bytes(&bytes).expect("Ed25519 key")
}

/// What the CA published by keypair/server is.
async fn published_ca(h: &Harness) -> Vec<Pem> {
    let keys = h.call(Method::GET, SERVER_KEYS, json!({})).await.data();
    pem_blocks(keys["ca"].as_str().expect("ca"))
}

/// pkg/ca/issue.go IssueClient: chain = client cert then CA; CN and DNS SAN = appCode,
/// ExtKeyUsage clientAuth, signed by the CA key; key = PKCS#8 Ed25519 labelled EC PRIVATE KEY.
#[tokio::test]
async fn issues_a_client_certificate_signed_by_the_published_ca() {
    let h = Harness::start().await;
    let before = now();
    let data = h.call(Method::POST, RPC, json!({})).await.data();
    let mut keys: Vec<&String> = data.as_object().expect("object").keys().collect();
    keys.sort();
    assert_eq!(keys, ["cert", "key", "validBefore"]);
    let valid_before = data["validBefore"].as_i64().expect("validBefore");
    assert!(
        (valid_before - (before + 7 * 86_400)).abs() <= 5,
        "{valid_before}"
    );

    let chain = pem_blocks(data["cert"].as_str().expect("cert"));
    assert_eq!(chain.len(), 2);
    assert!(chain.iter().all(|pem| pem.label == "CERTIFICATE"));
    let ca_pems = published_ca(&h).await;
    assert_eq!(
        chain[1].contents, ca_pems[0].contents,
        "the chain ends with the CA"
    );

    let client = certificate(&chain[0]);
    let ca = certificate(&ca_pems[0]);
    assert_eq!(client.issuer().as_raw(), ca.subject().as_raw());
    let signature = Signature::from_slice(&client.signature_value.data).expect("signature");
    ed25519_key(&ca)
        .verify(client.tbs_certificate.as_ref(), &signature)
        .expect("signed by the CA key");

    let cn = client.subject().iter_common_name().next().expect("CN");
    assert_eq!(cn.as_str().expect("text"), h.info.app_code);
    let san = client
        .subject_alternative_name()
        .expect("SAN parses")
        .expect("SAN");
    assert_eq!(
        san.value.general_names,
        vec![GeneralName::DNSName(&h.info.app_code)]
    );
    let eku = client
        .extended_key_usage()
        .expect("EKU parses")
        .expect("EKU");
    assert!(eku.value.client_auth && !eku.value.server_auth);
    let key_usage = client.key_usage().expect("KU parses").expect("KU");
    assert!(key_usage.critical);
    assert!(key_usage.value.digital_signature() && key_usage.value.key_encipherment());
    assert!(!key_usage.value.key_cert_sign());
    let validity = client.validity();
    assert_eq!(validity.not_after.timestamp(), valid_before);
    assert!((validity.not_before.timestamp() - (before - 60)).abs() <= 5);

    let key = pem_blocks(data["key"].as_str().expect("key"));
    assert_eq!(key.len(), 1);
    assert_eq!(key[0].label, "EC PRIVATE KEY");
    let private = SigningKey::from_pkcs8_der(&key[0].contents).expect("PKCS#8 Ed25519");
    assert_eq!(
        private.verifying_key(),
        ed25519_key(&client),
        "key matches cert"
    );

    // Each call issues a new key.
    let again = h.call(Method::POST, RPC, json!({})).await.data();
    assert_ne!(again["key"], data["key"]);
}

/// internal/api/router/app/init.go: the route is behind RequireAppSignature.
#[tokio::test]
async fn the_route_is_signed() {
    let h = Harness::start().await;
    let r = reply(
        h.http
            .post(h.url(RPC))
            .json(&json!({}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    r.assert_error(1, 400);
    let other = signed_as("Zz9Zz9Zz", "x", json!({}), now());
    h.raw(Method::POST, RPC, &other).await.assert_error(3, 404);
}

/// The CA key and certificate live in the database: after a restart with the same file,
/// keypair/server publishes the same CA and new client certificates verify against it.
#[tokio::test]
async fn the_ca_persists_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = || Config {
        database: Database::File(dir.path().join("emulator.sqlite")),
        ..Config::ephemeral()
    };
    let first = Harness::start_with(config()).await;
    let ca_before = published_ca(&first).await[0].contents.clone();
    first.emulator.shutdown().await;
    let second = Harness::start_with(config()).await;
    let ca_after = published_ca(&second).await;
    assert_eq!(ca_after[0].contents, ca_before);
    let data = second.call(Method::POST, RPC, json!({})).await.data();
    let chain = pem_blocks(data["cert"].as_str().expect("cert"));
    let client = certificate(&chain[0]);
    let ca = certificate(&ca_after[0]);
    let signature = Signature::from_slice(&client.signature_value.data).expect("signature");
    ed25519_key(&ca)
        .verify(client.tbs_certificate.as_ref(), &signature)
        .expect("signed by the persisted CA key");
}
