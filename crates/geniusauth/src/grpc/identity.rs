//! The TLS side of the App service: the CA to trust and the client identity to present.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};
use rustls::{ClientConfig, RootCertStore};

use crate::model::RpcClientCredential;

/// Why the CA or the client credential cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("no PEM block labelled {0} found")]
    Missing(&'static str),
    #[error("a PEM block is not valid base64")]
    BadPem,
    #[error("unsupported private key label {0:?}")]
    UnsupportedKey(String),
    #[error("TLS configuration refused: {0}")]
    Tls(String),
}

struct PemBlock {
    label: String,
    der: Vec<u8>,
}

/// Every PEM block of `text`, in order (Go's `pem.Decode` in a loop).
fn pem_blocks(text: &str) -> Result<Vec<PemBlock>, IdentityError> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = after[..label_end].to_owned();
        let body = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = body.find(&end_marker) else {
            break;
        };
        let base64: String = body[..end].split_whitespace().collect();
        let der = STANDARD.decode(base64).map_err(|_| IdentityError::BadPem)?;
        blocks.push(PemBlock { label, der });
        rest = &body[end + end_marker.len()..];
    }
    Ok(blocks)
}

/// The CA to trust: the first PEM block of `keypair/server`'s `ca`, as the SDK's
/// `initConnection` (rpc.go) takes it.
pub fn ca_certificate(ca_pem: &str) -> Result<CertificateDer<'static>, IdentityError> {
    pem_blocks(ca_pem)?
        .into_iter()
        .next()
        .filter(|b| b.label == "CERTIFICATE")
        .map(|b| CertificateDer::from(b.der))
        .ok_or(IdentityError::Missing("CERTIFICATE"))
}

/// The client's private key. The server labels its PKCS#8 key `EC PRIVATE KEY`
/// (pkg/keypair `PemMarshalPKCS8Private(FormatECDSA, …)`), the label of SEC1 keys, so the
/// label alone cannot be trusted: the content decides. PKCS#8 is
/// `SEQUENCE { INTEGER 0|1, SEQUENCE { algorithm } … }`, SEC1 is
/// `SEQUENCE { INTEGER 1, OCTET STRING … }`.
pub fn private_key(key_pem: &str) -> Result<PrivateKeyDer<'static>, IdentityError> {
    let block = pem_blocks(key_pem)?
        .into_iter()
        .find(|b| b.label.ends_with("PRIVATE KEY"))
        .ok_or(IdentityError::Missing("PRIVATE KEY"))?;
    match block.label.as_str() {
        "PRIVATE KEY" => Ok(PrivatePkcs8KeyDer::from(block.der).into()),
        "RSA PRIVATE KEY" => Ok(PrivatePkcs1KeyDer::from(block.der).into()),
        "EC PRIVATE KEY" if looks_like_pkcs8(&block.der) => {
            Ok(PrivatePkcs8KeyDer::from(block.der).into())
        }
        "EC PRIVATE KEY" => Ok(PrivateSec1KeyDer::from(block.der).into()),
        other => Err(IdentityError::UnsupportedKey(other.to_owned())),
    }
}

/// After the outer SEQUENCE and the version INTEGER, PKCS#8 has a SEQUENCE (0x30).
fn looks_like_pkcs8(der: &[u8]) -> bool {
    let second_tag = || {
        let content = der.get(skip_header(der, 0)?..)?;
        content.get(next_element(content)?).copied()
    };
    second_tag() == Some(0x30)
}

/// The offset of the content of the element at `at` (short and long length forms).
fn skip_header(der: &[u8], at: usize) -> Option<usize> {
    let length = *der.get(at + 1)?;
    if length < 0x80 {
        Some(at + 2)
    } else {
        Some(at + 2 + usize::from(length & 0x7f))
    }
}

/// The offset just past the first element of `der`.
fn next_element(der: &[u8]) -> Option<usize> {
    let content = skip_header(der, 0)?;
    let first = *der.get(1)?;
    let length = if first < 0x80 {
        usize::from(first)
    } else {
        der.get(2..content)?
            .iter()
            .fold(0usize, |n, b| (n << 8) | usize::from(*b))
    };
    Some(content + length)
}

/// rustls (ring) for the App service: trusts only `ca_pem`'s first certificate, presents the
/// credential's chain, speaks HTTP/2 (`h2` by ALPN, which grpc-go requires).
pub fn client_tls_config(
    ca_pem: &str,
    credential: &RpcClientCredential,
) -> Result<Arc<ClientConfig>, IdentityError> {
    let mut roots = RootCertStore::empty();
    roots
        .add(ca_certificate(ca_pem)?)
        .map_err(|e| IdentityError::Tls(e.to_string()))?;
    let chain: Vec<CertificateDer<'static>> = pem_blocks(&credential.cert)?
        .into_iter()
        .filter(|b| b.label == "CERTIFICATE")
        .map(|b| CertificateDer::from(b.der))
        .collect();
    if chain.is_empty() {
        return Err(IdentityError::Missing("CERTIFICATE"));
    }
    let key = private_key(credential.key.expose())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| IdentityError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| IdentityError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem(label: &str, der: &[u8]) -> String {
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            STANDARD.encode(der)
        )
    }

    /// The server's `EC PRIVATE KEY` around PKCS#8 is read as PKCS#8; a real SEC1 key as SEC1.
    #[test]
    fn ec_private_key_label_is_judged_by_content() {
        // x509.MarshalPKCS8PrivateKey of an Ed25519 key: version 0, algorithm, seed.
        let mut pkcs8 = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
        ];
        pkcs8.extend([0x04, 0x22, 0x04, 0x20]);
        pkcs8.extend([7u8; 32]);
        assert!(matches!(
            private_key(&pem("EC PRIVATE KEY", &pkcs8)).unwrap(),
            PrivateKeyDer::Pkcs8(_)
        ));
        let sec1 = [0x30, 0x05, 0x02, 0x01, 0x01, 0x04, 0x00];
        assert!(matches!(
            private_key(&pem("EC PRIVATE KEY", &sec1)).unwrap(),
            PrivateKeyDer::Sec1(_)
        ));
        assert!(matches!(
            private_key(&pem("OPENSSH PRIVATE KEY", &sec1)),
            Err(IdentityError::UnsupportedKey(_))
        ));
    }

    #[test]
    fn ca_is_the_first_block_only() {
        let text = format!(
            "{}{}",
            pem("CERTIFICATE", b"first"),
            pem("CERTIFICATE", b"second")
        );
        assert_eq!(ca_certificate(&text).unwrap().as_ref(), b"first");
        assert_eq!(
            ca_certificate(&pem("PUBLIC KEY", b"x")),
            Err(IdentityError::Missing("CERTIFICATE"))
        );
    }
}
