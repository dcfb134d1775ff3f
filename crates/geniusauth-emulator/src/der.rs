//! The little DER the emulator writes and reads: enough for Ed25519 keys and certificates
//! laid out as Go's `crypto/x509` lays them out.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::VerifyingKey;

use crate::clock::civil_from_days;

/// DER of AlgorithmIdentifier { id-Ed25519 (1.3.101.112) }.
pub const ED25519_ALGORITHM: [u8; 7] = [0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];

pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;
pub const INTEGER: u8 = 0x02;
pub const BIT_STRING: u8 = 0x03;
pub const OCTET_STRING: u8 = 0x04;
pub const OID: u8 = 0x06;
pub const BOOLEAN: u8 = 0x01;
pub const PRINTABLE_STRING: u8 = 0x13;
pub const UTF8_STRING: u8 = 0x0c;

/// One TLV with a definite length.
pub fn der(tag: u8, content: &[u8]) -> Vec<u8> {
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

pub fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    der(SEQUENCE, &parts.concat())
}

/// A BIT STRING with no unused bits.
pub fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut content = vec![0u8];
    content.extend_from_slice(bytes);
    der(BIT_STRING, &content)
}

/// A non-negative INTEGER from big-endian bytes (minimal, with a leading zero when needed).
pub fn unsigned_integer(big_endian: &[u8]) -> Vec<u8> {
    let skip = big_endian.iter().take_while(|b| **b == 0).count();
    let mut content = big_endian[skip..].to_vec();
    if content.first().is_none_or(|b| b & 0x80 != 0) {
        content.insert(0, 0);
    }
    der(INTEGER, &content)
}

/// An X.501 Name with one CommonName, as Go's `pkix.Name{CommonName: …}` marshals it:
/// a PrintableString when every character allows it, otherwise a UTF8String.
pub fn common_name(text: &str) -> Vec<u8> {
    let printable = text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b));
    let tag = if printable {
        PRINTABLE_STRING
    } else {
        UTF8_STRING
    };
    let attribute = sequence(&[&der(OID, &[0x55, 0x04, 0x03]), &der(tag, text.as_bytes())]);
    der(SEQUENCE, &der(SET, &attribute))
}

/// One certificate Extension.
pub fn extension(oid: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let mut content = der(OID, oid);
    if critical {
        content.extend(der(BOOLEAN, &[0xff]));
    }
    content.extend(der(OCTET_STRING, value));
    der(SEQUENCE, &content)
}

/// X.509 Validity time: UTCTime before 2050, GeneralizedTime after.
pub fn time(unix_secs: i64) -> Vec<u8> {
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

/// PKIX SubjectPublicKeyInfo DER (`x509.MarshalPKIXPublicKey`).
pub fn spki_der(key: &VerifyingKey) -> Vec<u8> {
    sequence(&[&ED25519_ALGORITHM, &bit_string(key.as_bytes())])
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

/// One element read from DER: its tag, its whole encoding and its content.
#[derive(Debug, Clone, Copy)]
pub struct Element<'d> {
    pub tag: u8,
    pub raw: &'d [u8],
    pub content: &'d [u8],
}

/// Reads the element at the start of `input`; returns it and what follows.
pub fn read(input: &[u8]) -> Option<(Element<'_>, &[u8])> {
    let tag = *input.first()?;
    let first_len = *input.get(1)?;
    let (len, header) = if first_len < 0x80 {
        (usize::from(first_len), 2)
    } else {
        let count = usize::from(first_len & 0x7f);
        let bytes = input.get(2..2 + count)?;
        let len = bytes.iter().try_fold(0usize, |acc, b| {
            acc.checked_mul(256)?.checked_add(usize::from(*b))
        })?;
        (len, 2 + count)
    };
    let end = header.checked_add(len)?;
    let raw = input.get(..end)?;
    Some((
        Element {
            tag,
            raw,
            content: &raw[header..],
        },
        &input[end..],
    ))
}

/// The elements inside a constructed element's content.
pub fn children(content: &[u8]) -> Option<Vec<Element<'_>>> {
    let mut rest = content;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (element, next) = read(rest)?;
        out.push(element);
        rest = next;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let long = vec![7u8; 300];
        let encoded = sequence(&[&der(OCTET_STRING, &long), &unsigned_integer(&[0x80])]);
        let (outer, rest) = read(&encoded).expect("sequence");
        assert!(rest.is_empty());
        let inner = children(outer.content).expect("children");
        assert_eq!(inner[0].content, long.as_slice());
        assert_eq!(inner[1].content, &[0x00, 0x80]);
        assert_eq!(common_name("Ab3dE6g8")[6..8], [OID, 0x03]);
        assert_eq!(common_name("Ab3dE6g8")[11], PRINTABLE_STRING);
        assert_eq!(common_name("演示")[11], UTF8_STRING);
    }
}
