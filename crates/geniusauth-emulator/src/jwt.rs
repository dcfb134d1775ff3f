//! Ed25519 JWTs in the server's format (golang-jwt v5, `alg: EdDSA`).
//!
//! Claims are serialised in the Go struct's field order: `exp`, `iat`, `type`, `uid`, `oid`,
//! `id`, then `appCode` (refresh and access tokens only) and `payload` (omitted when empty).

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::envelope::go_json;

/// golang-jwt's default leeway in the server: `jwt.WithLeeway(3 * time.Second)`.
pub const LEEWAY_MS: i64 = 3_000;

/// Go's `base64.RawURLEncoding` as golang-jwt decodes segments: no padding, lenient tail bits.
const SEGMENT_DECODER: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    Login,
    Refresh,
    Access,
}

impl TokenType {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Login => "Login",
            TokenType::Refresh => "Refresh",
            TokenType::Access => "Access",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Claims {
    pub exp: i64,
    pub iat: i64,
    #[serde(rename = "type")]
    pub token_type: String,
    pub uid: u64,
    pub oid: u64,
    pub id: u64,
    #[serde(rename = "appCode", skip_serializing_if = "Option::is_none")]
    pub app_code: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub payload: String,
}

#[derive(Serialize)]
struct Header {
    alg: &'static str,
    typ: &'static str,
}

/// Signs the claims; header and claims are JSON exactly as Go writes them.
pub fn sign(claims: &Claims, key: &SigningKey) -> String {
    let header = go_json(&Header {
        alg: "EdDSA",
        typ: "JWT",
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(go_json(claims))
    );
    let signature = key.sign(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    )
}

/// The claims of a well-formed token with a valid EdDSA signature by `key`, or `None`.
/// Expiry and type are checked separately ([`is_current`]).
pub fn decode_verified(token: &str, key: &VerifyingKey) -> Option<Claims> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header_b64, claims_b64, signature_b64] = parts.as_slice() else {
        return None;
    };
    let header: serde_json::Value =
        serde_json::from_slice(&SEGMENT_DECODER.decode(header_b64).ok()?).ok()?;
    // golang-jwt resolves the method from `alg`; only EdDSA accepts an Ed25519 key.
    if header.get("alg")?.as_str()? != "EdDSA" {
        return None;
    }
    let signature_bytes: [u8; 64] = SEGMENT_DECODER
        .decode(signature_b64)
        .ok()?
        .try_into()
        .ok()?;
    let signature = Signature::from_bytes(&signature_bytes);
    let signing_input = format!("{header_b64}.{claims_b64}");
    key.verify(signing_input.as_bytes(), &signature).ok()?;
    serde_json::from_slice(&SEGMENT_DECODER.decode(claims_b64).ok()?).ok()
}

/// golang-jwt v5 `verifyExpiresAt`: valid while `now < exp + leeway`.
pub fn is_current(claims: &Claims, now_ms: i64) -> bool {
    now_ms < claims.exp.saturating_mul(1000).saturating_add(LEEWAY_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_field_order() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let claims = Claims {
            exp: 20,
            iat: 10,
            token_type: "Refresh".into(),
            uid: 1,
            oid: 2,
            id: 3,
            app_code: Some("abc".into()),
            payload: String::new(),
        };
        assert_eq!(
            go_json(&claims),
            r#"{"exp":20,"iat":10,"type":"Refresh","uid":1,"oid":2,"id":3,"appCode":"abc"}"#
        );
        let token = sign(&claims, &key);
        assert_eq!(decode_verified(&token, &key.verifying_key()), Some(claims));
        let tampered = format!("{token}x");
        assert_eq!(decode_verified(&tampered, &key.verifying_key()), None);
        assert_eq!(decode_verified("a.b", &key.verifying_key()), None);
    }
}
