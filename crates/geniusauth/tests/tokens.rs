//! Decoding and verifying tokens with a key of our own, in the server's format.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ed25519_dalek::pkcs8::EncodePublicKey;
use ed25519_dalek::{Signer, SigningKey};
use geniusauth::tokens::{self, decode, parse_server_jwt_key, verify_at};
use geniusauth::{Error, TokenError, TokenType};
use serde_json::{json, Value};

const NOW: i64 = 1_732_500_000;

fn signing_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// The server's key format: PEM labelled "EC PUBLIC KEY" around a PKIX Ed25519 key.
fn server_pem(key: &SigningKey) -> String {
    let der = key.verifying_key().to_public_key_der().unwrap();
    let body = STANDARD.encode(der.as_bytes());
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN EC PUBLIC KEY-----\n{}\n-----END EC PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

fn make_token(key: &SigningKey, header: Value, claims: Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

fn eddsa() -> Value {
    json!({"alg": "EdDSA", "typ": "JWT"})
}

fn refresh_claims() -> Value {
    json!({"type": "Refresh", "uid": 8, "oid": 3, "id": 77, "appCode": "Ab3dE6g8",
           "payload": "研发", "iat": NOW - 60, "exp": NOW + 3600})
}

#[test]
fn good_token_verifies() {
    let key = signing_key(7);
    let token = make_token(&key, eddsa(), refresh_claims());
    let claims = verify_at(&token, &key.verifying_key(), &TokenType::Refresh, NOW).unwrap();
    assert_eq!(claims.token_type, TokenType::Refresh);
    assert_eq!((claims.uid, claims.oid, claims.id), (8, 3, 77));
    assert_eq!(claims.app_code, "Ab3dE6g8");
    assert_eq!(claims.payload, "研发");
    assert_eq!(claims.exp, Some(NOW + 3600));
}

#[test]
fn server_key_reads_as_pem_and_as_base64_of_pem() {
    let key = signing_key(7);
    let pem = server_pem(&key);
    assert_eq!(parse_server_jwt_key(&pem).unwrap(), key.verifying_key());
    let wire = STANDARD.encode(&pem);
    assert_eq!(parse_server_jwt_key(&wire).unwrap(), key.verifying_key());
}

#[test]
fn bad_keys_are_rejected() {
    for text in [
        "",
        "not base64 !!!",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n",
    ] {
        let err = parse_server_jwt_key(text).unwrap_err();
        assert_eq!(err.code(), "token_bad_key", "{text:?}");
    }
}

#[test]
fn tampered_signature_fails() {
    let key = signing_key(7);
    let token = make_token(&key, eddsa(), refresh_claims());
    let (input, signature) = token.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[10] ^= 1;
    let tampered = format!("{input}.{}", URL_SAFE_NO_PAD.encode(bytes));
    let err = verify_at(&tampered, &key.verifying_key(), &TokenType::Refresh, NOW).unwrap_err();
    assert_eq!(err, Error::Token(TokenError::BadSignature));
    assert_eq!(err.code(), "token_bad_signature");
}

#[test]
fn tampered_claims_fail() {
    let key = signing_key(7);
    let token = make_token(&key, eddsa(), refresh_claims());
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = refresh_claims();
    claims["uid"] = json!(1);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    let err = verify_at(&forged, &key.verifying_key(), &TokenType::Refresh, NOW).unwrap_err();
    assert_eq!(err, Error::Token(TokenError::BadSignature));
}

#[test]
fn another_key_fails() {
    let token = make_token(&signing_key(7), eddsa(), refresh_claims());
    let err = verify_at(
        &token,
        &signing_key(8).verifying_key(),
        &TokenType::Refresh,
        NOW,
    )
    .unwrap_err();
    assert_eq!(err, Error::Token(TokenError::BadSignature));
}

#[test]
fn wrong_type_fails() {
    let key = signing_key(7);
    let token = make_token(&key, eddsa(), refresh_claims());
    let err = verify_at(&token, &key.verifying_key(), &TokenType::Access, NOW).unwrap_err();
    assert_eq!(
        err,
        Error::Token(TokenError::WrongType {
            expected: TokenType::Access,
            found: TokenType::Refresh
        })
    );
    assert_eq!(err.code(), "token_wrong_type");
}

#[test]
fn expiry_allows_three_seconds_of_leeway() {
    let key = signing_key(7);
    let mut claims = refresh_claims();
    claims["exp"] = json!(NOW);
    let token = make_token(&key, eddsa(), claims);
    let vk = key.verifying_key();
    assert!(verify_at(&token, &vk, &TokenType::Refresh, NOW + 2).is_ok());
    let err = verify_at(&token, &vk, &TokenType::Refresh, NOW + 3).unwrap_err();
    assert_eq!(
        err,
        Error::Token(TokenError::Expired {
            exp: NOW,
            now: NOW + 3
        })
    );
    assert_eq!(err.code(), "token_expired");
    assert!(!err.is_transient());
}

#[test]
fn only_eddsa_is_accepted() {
    let key = signing_key(7);
    for header in [
        json!({"alg": "none"}),
        json!({"alg": "HS256", "typ": "JWT"}),
        json!({"typ": "JWT"}),
    ] {
        let token = make_token(&key, header, refresh_claims());
        let err = verify_at(&token, &key.verifying_key(), &TokenType::Refresh, NOW).unwrap_err();
        assert_eq!(err.code(), "token_algorithm");
    }
}

#[test]
fn malformed_tokens_are_errors_not_panics() {
    let key = signing_key(7).verifying_key();
    for token in [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "!!!.???.***",
        "eyJhbGciOiJFZERTQSJ9.e30.AAAA",
        "W10.e30.AAAA",
        "e30.eyJ1aWQiOiJ4In0.AAAA",
    ] {
        let err = verify_at(token, &key, &TokenType::Access, NOW).unwrap_err();
        assert_eq!(err.code(), "token_malformed", "{token:?}: {err}");
    }
}

#[test]
fn decode_shows_everything_without_a_key() {
    let key = signing_key(7);
    let claims = json!({"type": "Login", "uid": 5, "oid": 1, "id": 9,
                        "iat": 1_732_500_000.5, "exp": 1_732_500_300, "extra": true});
    let token = make_token(&key, eddsa(), claims.clone());
    let decoded = decode(&token).unwrap();
    assert_eq!(decoded.algorithm(), Some("EdDSA"));
    assert_eq!(decoded.raw_claims, claims);
    assert_eq!(decoded.claims.token_type, TokenType::Login);
    assert_eq!(decoded.claims.app_code, "");
    assert_eq!(decoded.claims.payload, "");
    assert_eq!(decoded.claims.iat, Some(1_732_500_000));
    assert!(decoded.claims.is_expired_at(1_732_500_303));
    assert!(!decoded.claims.is_expired_at(1_732_500_302));
}

#[test]
fn unknown_types_are_kept() {
    let token = make_token(&signing_key(1), eddsa(), json!({"type": "User", "uid": 1}));
    let decoded = tokens::decode(&token).unwrap();
    assert_eq!(decoded.claims.token_type, TokenType::Other("User".into()));
    assert_eq!(
        serde_json::to_value(&decoded.claims.token_type).unwrap(),
        json!("User")
    );
    assert_eq!(decoded.claims.exp, None);
    assert!(!decoded.claims.is_expired_at(i64::MAX));
}
