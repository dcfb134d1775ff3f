//! The server's published keys, encoded as production encodes them.
//!
//! `jwt`: PEM labelled `EC PUBLIC KEY` (the server's `keypair.FormatECDSA` label) around a PKIX
//! SubjectPublicKeyInfo of the Ed25519 key. `ca`: the PEM `CERTIFICATE` of a self-signed
//! Ed25519 root, like the server's RPC CA ("GeniusAuthoritarian Root", CA:TRUE, keyCertSign |
//! cRLSign). Both are `[]byte` in Go, so JSON carries them base64-encoded.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::clock::civil_from_days;

/// DER of AlgorithmIdentifier { id-Ed25519 (1.3.101.112) }.
const ED25519_ALGORITHM: [u8; 7] = [0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];

/// The JWT signing key and the encodings handed out by `GET /api/v1/app/keypair/server`.
#[derive(Debug, Clone)]
pub struct Keys {
    pub signing: SigningKey,
    pub verifying: VerifyingKey,
    /// base64 of the `EC PUBLIC KEY` PEM.
    pub jwt_pem_base64: String,
    /// base64 of the CA `CERTIFICATE` PEM.
    pub ca_pem_base64: String,
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

    pub fn new(signing: SigningKey, ca_cert_der: &[u8]) -> Keys {
        let verifying = signing.verifying_key();
        let jwt_pem = pem_encode("EC PUBLIC KEY", &spki_der(&verifying));
        let ca_pem = pem_encode("CERTIFICATE", ca_cert_der);
        Keys {
            signing,
            verifying,
            jwt_pem_base64: STANDARD.encode(jwt_pem),
            ca_pem_base64: STANDARD.encode(ca_pem),
        }
    }
}

/// PKIX SubjectPublicKeyInfo DER (`x509.MarshalPKIXPublicKey`).
pub fn spki_der(key: &VerifyingKey) -> Vec<u8> {
    let mut bit_string = vec![0u8];
    bit_string.extend_from_slice(key.as_bytes());
    der(
        0x30,
        &[ED25519_ALGORITHM.as_slice(), &der(0x03, &bit_string)].concat(),
    )
}

/// `pem.EncodeToMemory`: 64-column base64 lines, trailing newline.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A self-signed Ed25519 root certificate valid from a minute ago for ten years.
pub fn self_signed_ca_der(key: &SigningKey, now_secs: i64, serial: u128) -> Vec<u8> {
    let name = der(
        0x30,
        &der(
            0x31,
            &der(
                0x30,
                &[
                    der(0x06, &[0x55, 0x04, 0x03]),
                    der(0x13, b"GeniusAuthoritarian Root (emulator)"),
                ]
                .concat(),
            ),
        ),
    );
    let validity = der(
        0x30,
        &[
            der_time(now_secs - 60),
            der_time(now_secs + 10 * 365 * 24 * 3600),
        ]
        .concat(),
    );
    let public_key = key.verifying_key();
    let key_id: Vec<u8> = Sha256::digest(public_key.as_bytes())[..20].to_vec();
    let extensions = der(
        0xa3,
        &der(
            0x30,
            &[
                extension(&[0x55, 0x1d, 0x0f], true, &der(0x03, &[0x01, 0x06])),
                extension(&[0x55, 0x1d, 0x13], true, &der(0x30, &der(0x01, &[0xff]))),
                extension(&[0x55, 0x1d, 0x0e], false, &der(0x04, &key_id)),
            ]
            .concat(),
        ),
    );
    let tbs = der(
        0x30,
        &[
            der(0xa0, &der(0x02, &[0x02])),
            der_unsigned_integer(&serial.to_be_bytes()),
            ED25519_ALGORITHM.to_vec(),
            name.clone(),
            validity,
            name,
            spki_der(&public_key),
            extensions,
        ]
        .concat(),
    );
    let signature = key.sign(&tbs);
    let mut signature_bits = vec![0u8];
    signature_bits.extend_from_slice(&signature.to_bytes());
    der(
        0x30,
        &[tbs, ED25519_ALGORITHM.to_vec(), der(0x03, &signature_bits)].concat(),
    )
}

fn extension(oid: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let mut content = der(0x06, oid);
    if critical {
        content.extend(der(0x01, &[0xff]));
    }
    content.extend(der(0x04, value));
    der(0x30, &content)
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn der_unsigned_integer(big_endian: &[u8]) -> Vec<u8> {
    let skip = big_endian.iter().take_while(|b| **b == 0).count();
    let mut content = big_endian[skip..].to_vec();
    if content.first().is_none_or(|b| b & 0x80 != 0) {
        content.insert(0, 0);
    }
    der(0x02, &content)
}

/// UTCTime before 2050, GeneralizedTime after, as X.509 requires.
fn der_time(unix_secs: i64) -> Vec<u8> {
    let days = unix_secs.div_euclid(86_400);
    let secs_of_day = unix_secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
    if (1950..2050).contains(&year) {
        let text = format!("{:02}{month:02}{day:02}{h:02}{m:02}{s:02}Z", year % 100);
        der(0x17, text.as_bytes())
    } else {
        let text = format!("{year:04}{month:02}{day:02}{h:02}{m:02}{s:02}Z");
        der(0x18, text.as_bytes())
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
