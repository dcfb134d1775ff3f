//! The server's published keys, encoded as production encodes them.
//!
//! `jwt`: PEM labelled `EC PUBLIC KEY` (the server's `keypair.FormatECDSA` label) around a PKIX
//! SubjectPublicKeyInfo of the Ed25519 key. `ca`: the PEM `CERTIFICATE` of a self-signed
//! Ed25519 root, like the server's RPC CA ("GeniusAuthoritarian Root", CA:TRUE, keyCertSign |
//! cRLSign). Both are `[]byte` in Go, so JSON carries them base64-encoded.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::certificates::CertificateAuthority;
use crate::der::{pem_encode, spki_der};

/// The JWT signing key and the encodings handed out by `GET /api/v1/app/keypair/server`.
#[derive(Debug, Clone)]
pub struct Keys {
    pub signing: SigningKey,
    pub verifying: VerifyingKey,
    /// base64 of the `EC PUBLIC KEY` PEM.
    pub jwt_pem_base64: String,
    /// base64 of the CA `CERTIFICATE` PEM.
    pub ca_pem_base64: String,
    /// The RPC CA (persisted key and certificate), which issues `keypair/rpc` certificates.
    pub ca: CertificateAuthority,
}

/// `ServerPublicKeys` (internal/api/controllers/app/keypair.go): gin.H, keys sorted.
#[derive(Debug, serde::Serialize)]
pub struct ServerKeys<'a> {
    pub ca: &'a str,
    pub jwt: &'a str,
}

impl Keys {
    /// The data of `GET /api/v1/app/keypair/server`.
    pub fn server_keys(&self) -> ServerKeys<'_> {
        ServerKeys {
            ca: &self.ca_pem_base64,
            jwt: &self.jwt_pem_base64,
        }
    }

    pub fn new(signing: SigningKey, ca: CertificateAuthority) -> Keys {
        let verifying = signing.verifying_key();
        let jwt_pem = pem_encode("EC PUBLIC KEY", &spki_der(&verifying));
        Keys {
            signing,
            verifying,
            jwt_pem_base64: STANDARD.encode(jwt_pem),
            ca_pem_base64: STANDARD.encode(&ca.cert_pem),
            ca,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spki_prefix() {
        let key = SigningKey::from_bytes(&[1u8; 32]);
        let der = spki_der(&key.verifying_key());
        assert_eq!(der.len(), 44);
        assert_eq!(
            &der[..12],
            &[0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]
        );
    }
}
