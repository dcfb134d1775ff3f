//! The RPC CA and the client certificates it issues, laid out as the server's Go code lays
//! them out (`pkg/ca/generate.go: NewRoot`, `pkg/ca/issue.go: IssueClient`, through
//! `crypto/x509.CreateCertificate`), signed with Ed25519.

use ed25519_dalek::{Signer, SigningKey};
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use crate::der::{
    self, bit_string, common_name, extension, pem_encode, sequence, spki_der, unsigned_integer,
    ED25519_ALGORITHM, OCTET_STRING, OID,
};

/// `NewRoot`/`IssueClient`: `NotBefore: time.Now().Add(-time.Minute)`.
const BACKDATE_SECS: i64 = 60;
/// `RpcClientCredential`: `time.Now().AddDate(0, 0, 7)` (the server's zone has no DST).
pub const CLIENT_VALID_SECS: i64 = 7 * 86_400;
/// `initKeypair` (internal/global/keypair_dev.go): the root lives ten years.
const CA_VALID_SECS: i64 = 10 * 365 * 86_400;

const KEY_USAGE: [u8; 3] = [0x55, 0x1d, 0x0f];
const EXT_KEY_USAGE: [u8; 3] = [0x55, 0x1d, 0x25];
const BASIC_CONSTRAINTS: [u8; 3] = [0x55, 0x1d, 0x13];
const SUBJECT_KEY_ID: [u8; 3] = [0x55, 0x1d, 0x0e];
const AUTHORITY_KEY_ID: [u8; 3] = [0x55, 0x1d, 0x23];
const SUBJECT_ALT_NAME: [u8; 3] = [0x55, 0x1d, 0x11];
/// id-kp-clientAuth, 1.3.6.1.5.5.7.3.2.
const CLIENT_AUTH: [u8; 8] = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];
/// id-kp-serverAuth, 1.3.6.1.5.5.7.3.1.
const SERVER_AUTH: [u8; 8] = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];

/// What a certificate is issued for: `IssueClient` or `IssueServer` (pkg/ca/issue.go).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
enum Usage {
    Client,
    Server,
}

/// A self-signed Ed25519 root ("GeniusAuthoritarian Root", CA:TRUE, keyCertSign | cRLSign),
/// valid from a minute ago for ten years.
pub fn self_signed_ca_der(key: &SigningKey, now_secs: i64, serial: u128) -> Vec<u8> {
    let name = common_name("GeniusAuthoritarian Root (emulator)");
    let public_key = key.verifying_key();
    let key_id: Vec<u8> = Sha256::digest(public_key.as_bytes())[..20].to_vec();
    let extensions = [
        // KeyUsageCertSign | KeyUsageCRLSign: bits 5 and 6, one unused bit.
        extension(&KEY_USAGE, true, &der::der(der::BIT_STRING, &[0x01, 0x06])),
        extension(
            &BASIC_CONSTRAINTS,
            true,
            &sequence(&[&der::der(der::BOOLEAN, &[0xff])]),
        ),
        extension(&SUBJECT_KEY_ID, false, &der::der(OCTET_STRING, &key_id)),
    ];
    let tbs = tbs_certificate(
        serial,
        &name,
        (now_secs - BACKDATE_SECS, now_secs + CA_VALID_SECS),
        &name,
        &spki_der(&public_key),
        &extensions,
    );
    sign_certificate(&tbs, key)
}

/// What a certificate issuer needs of the persisted CA.
#[derive(Debug, Clone)]
pub struct CertificateAuthority {
    pub key: SigningKey,
    /// `CaCertPem`: appended to every issued chain.
    pub cert_pem: String,
    /// The same certificate, DER.
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    pub cert_der: Vec<u8>,
    /// The CA's subject exactly as encoded (`parent.RawSubject`).
    subject: Vec<u8>,
    /// The CA's SubjectKeyId, which becomes the AuthorityKeyId of what it issues.
    subject_key_id: Option<Vec<u8>>,
}

impl CertificateAuthority {
    /// Reads the persisted CA certificate; `None` when its DER is not a certificate.
    pub fn new(key: SigningKey, cert_der: &[u8]) -> Option<CertificateAuthority> {
        let (certificate, _) = der::read(cert_der)?;
        let parts = der::children(certificate.content)?;
        let tbs = der::children(parts.first()?.content)?;
        // version [0], serial, signature, issuer, validity, subject, spki, [3] extensions
        let subject = tbs.get(5)?.raw.to_vec();
        let subject_key_id = tbs
            .iter()
            .find(|e| e.tag == 0xa3)
            .and_then(|e| find_subject_key_id(e.content));
        Some(CertificateAuthority {
            key,
            cert_pem: pem_encode("CERTIFICATE", cert_der),
            cert_der: cert_der.to_vec(),
            subject,
            subject_key_id,
        })
    }

    /// `IssueClient(appCode, notAfter)`: a fresh Ed25519 key and its certificate, CN and DNS
    /// SAN = the appCode, ExtKeyUsage clientAuth, KeyUsage digitalSignature |
    /// keyEncipherment. Returns (client cert PEM followed by the CA PEM, `EC PRIVATE KEY` PEM
    /// of the PKCS#8 key).
    pub fn issue_client(
        &self,
        app_code: &str,
        now_ns: i128,
        valid_before: i64,
    ) -> (String, String) {
        let (cert, client_key) = self.issue(Usage::Client, app_code, &[], now_ns, valid_before);
        let chain = format!("{}{}", pem_encode("CERTIFICATE", &cert), self.cert_pem);
        let key_pem = pem_encode("EC PRIVATE KEY", &pkcs8_der(&client_key));
        (chain, key_pem)
    }

    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    /// `IssueServer(serverName, notAfter)` (what the gRPC server's `GetCertificate` calls for
    /// each new SNI name), plus IP addresses as SANs so that a loopback address verifies.
    /// Returns the certificate DER and its key.
    pub fn issue_server(
        &self,
        server_name: &str,
        ips: &[std::net::IpAddr],
        now_ns: i128,
        valid_before: i64,
    ) -> (Vec<u8>, SigningKey) {
        self.issue(Usage::Server, server_name, ips, now_ns, valid_before)
    }

    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    fn issue(
        &self,
        usage: Usage,
        name: &str,
        ips: &[std::net::IpAddr],
        now_ns: i128,
        valid_before: i64,
    ) -> (Vec<u8>, SigningKey) {
        let key = SigningKey::generate(&mut OsRng);
        let now_secs = now_ns.div_euclid(1_000_000_000) as i64;
        let purpose = match usage {
            Usage::Client => CLIENT_AUTH,
            Usage::Server => SERVER_AUTH,
        };
        let mut extensions = vec![
            // digitalSignature (bit 0) | keyEncipherment (bit 2): 0xa0, five unused bits.
            extension(&KEY_USAGE, true, &der::der(der::BIT_STRING, &[0x05, 0xa0])),
            extension(
                &EXT_KEY_USAGE,
                false,
                &sequence(&[&der::der(OID, &purpose)]),
            ),
        ];
        if let Some(key_id) = &self.subject_key_id {
            // AuthorityKeyIdentifier { [0] keyIdentifier }
            extensions.push(extension(
                &AUTHORITY_KEY_ID,
                false,
                &sequence(&[&der::der(0x80, key_id)]),
            ));
        }
        // GeneralNames { [2] dNSName, [7] iPAddress… }
        let mut names = vec![der::der(0x82, name.as_bytes())];
        for ip in ips {
            names.push(match ip {
                std::net::IpAddr::V4(v4) => der::der(0x87, &v4.octets()),
                std::net::IpAddr::V6(v6) => der::der(0x87, &v6.octets()),
            });
        }
        let names: Vec<&[u8]> = names.iter().map(Vec::as_slice).collect();
        extensions.push(extension(&SUBJECT_ALT_NAME, false, &sequence(&names)));
        let tbs = tbs_certificate(
            // `big.NewInt(time.Now().UnixNano())`
            now_ns.unsigned_abs(),
            &self.subject,
            (now_secs - BACKDATE_SECS, valid_before),
            &common_name(name),
            &spki_der(&key.verifying_key()),
            &extensions,
        );
        (sign_certificate(&tbs, &self.key), key)
    }
}

#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
/// The first DNS name of a certificate's SubjectAltName: the gRPC server's caller
/// (internal/rpc/app/middlewares.go: `PeerCertificates[0].DNSNames[0]` is the appCode).
pub fn first_dns_name(cert_der: &[u8]) -> Option<String> {
    let (certificate, _) = der::read(cert_der)?;
    let parts = der::children(certificate.content)?;
    let tbs = der::children(parts.first()?.content)?;
    let extensions = tbs.iter().find(|e| e.tag == 0xa3)?;
    let (list, _) = der::read(extensions.content)?;
    for ext in der::children(list.content)? {
        let fields = der::children(ext.content)?;
        if fields.first()?.content == SUBJECT_ALT_NAME {
            let (names, _) = der::read(fields.last()?.content)?;
            let dns = der::children(names.content)?
                .into_iter()
                .find(|n| n.tag == 0x82)?;
            return String::from_utf8(dns.content.to_vec()).ok();
        }
    }
    None
}

/// The SubjectKeyIdentifier's key id among a certificate's extensions (`[3]` content).
fn find_subject_key_id(extensions: &[u8]) -> Option<Vec<u8>> {
    let (list, _) = der::read(extensions)?;
    for ext in der::children(list.content)? {
        let fields = der::children(ext.content)?;
        if fields.first()?.content == SUBJECT_KEY_ID {
            let (key_id, _) = der::read(fields.last()?.content)?;
            return Some(key_id.content.to_vec());
        }
    }
    None
}

/// `x509.MarshalPKCS8PrivateKey` of an Ed25519 key: version 0, the algorithm, and the
/// 32-byte seed wrapped in an OCTET STRING.
pub fn pkcs8_der(key: &SigningKey) -> Vec<u8> {
    sequence(&[
        &der::der(der::INTEGER, &[0x00]),
        &ED25519_ALGORITHM,
        &der::der(OCTET_STRING, &der::der(OCTET_STRING, key.as_bytes())),
    ])
}

fn tbs_certificate(
    serial: u128,
    issuer: &[u8],
    (not_before, not_after): (i64, i64),
    subject: &[u8],
    spki: &[u8],
    extensions: &[Vec<u8>],
) -> Vec<u8> {
    sequence(&[
        &der::der(0xa0, &der::der(der::INTEGER, &[0x02])),
        &unsigned_integer(&serial.to_be_bytes()),
        &ED25519_ALGORITHM,
        issuer,
        &sequence(&[&der::time(not_before), &der::time(not_after)]),
        subject,
        spki,
        &der::der(0xa3, &der::der(der::SEQUENCE, &extensions.concat())),
    ])
}

fn sign_certificate(tbs: &[u8], key: &SigningKey) -> Vec<u8> {
    let signature = key.sign(tbs);
    sequence(&[tbs, &ED25519_ALGORITHM, &bit_string(&signature.to_bytes())])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// pkg/ca/issue.go: the issued chain ends with the CA, the CA's SKID becomes the AKID.
    #[test]
    fn issues_from_the_persisted_ca() {
        let key = SigningKey::from_bytes(&[3u8; 32]);
        let ca_der = self_signed_ca_der(&key, 1_700_000_000, 42);
        let ca = CertificateAuthority::new(key, &ca_der).expect("a certificate");
        assert_eq!(
            ca.subject,
            common_name("GeniusAuthoritarian Root (emulator)")
        );
        assert_eq!(ca.subject_key_id.as_ref().map(Vec::len), Some(20));
        let (chain, key_pem) =
            ca.issue_client("Ab3dE6g8", 1_700_000_000_000_000_000, 1_700_604_800);
        assert!(chain.ends_with(&ca.cert_pem));
        assert_eq!(chain.matches("-----BEGIN CERTIFICATE-----").count(), 2);
        assert!(key_pem.starts_with("-----BEGIN EC PRIVATE KEY-----\n"));
        assert_eq!(pkcs8_der(&SigningKey::from_bytes(&[1u8; 32])).len(), 48);
        let (server, _) = ca.issue_server(
            "localhost",
            &["127.0.0.1".parse().unwrap()],
            1_700_000_000_000_000_000,
            1_700_604_800,
        );
        assert_eq!(first_dns_name(&server).as_deref(), Some("localhost"));
    }
}
