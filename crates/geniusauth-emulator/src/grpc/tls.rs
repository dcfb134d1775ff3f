//! The server side of the mutual TLS: trust the RPC CA for clients, present a certificate the
//! same CA issues for the name the client asked for (app.go `NewRpc`: `GetCertificate` issues
//! one per SNI name, valid a month, renewed 5 minutes before its end).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};

use crate::certificates::{pkcs8_der, CertificateAuthority};
use crate::state::SharedState;

/// `time.Now().AddDate(0, 1, 0)`, near enough.
const SERVER_VALID_SECS: i64 = 30 * 86_400;
const RENEW_BEFORE_SECS: i64 = 5 * 60;
/// No SNI (a client dialling an IP address): the emulator's own name.
const DEFAULT_NAME: &str = "localhost";

pub fn server_config(state: &SharedState) -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(state.keys.ca.cert_der.clone()))
        .expect("the emulator's own CA certificate is valid");
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .expect("a client verifier with one root");
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(IssuingResolver {
            state: state.clone(),
            issued: Mutex::new(HashMap::new()),
        }));
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

struct IssuingResolver {
    state: SharedState,
    /// Name → (certificate, valid before).
    issued: Mutex<HashMap<String, (Arc<CertifiedKey>, i64)>>,
}

impl std::fmt::Debug for IssuingResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IssuingResolver")
    }
}

impl ResolvesServerCert for IssuingResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name().unwrap_or(DEFAULT_NAME).to_owned();
        let now_ns = self.state.clock.server_now_ns();
        let now_secs = now_ns.div_euclid(1_000_000_000) as i64;
        let mut issued = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((key, valid_before)) = issued.get(&name) {
            if *valid_before > now_secs + RENEW_BEFORE_SECS {
                return Some(key.clone());
            }
        }
        let valid_before = now_secs + SERVER_VALID_SECS;
        let key = Arc::new(issue(&self.state.keys.ca, &name, now_ns, valid_before)?);
        issued.insert(name, (key.clone(), valid_before));
        Some(key)
    }
}

/// The loopback addresses go in too, so `https://127.0.0.1:port` verifies without SNI.
fn issue(
    ca: &CertificateAuthority,
    name: &str,
    now_ns: i128,
    valid_before: i64,
) -> Option<CertifiedKey> {
    let loopback = [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    let (cert, key) = ca.issue_server(name, &loopback, now_ns, valid_before);
    let chain = vec![
        CertificateDer::from(cert),
        CertificateDer::from(ca.cert_der.clone()),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8_der(&key)));
    Some(CertifiedKey::new(chain, any_supported_type(&key).ok()?))
}
