//! GeniusAuth tokens: EdDSA (Ed25519) JWTs. Decoding for display needs nothing; verifying needs
//! the server key from [`Client::server_public_keys`](crate::Client::server_public_keys).
//! Only the server knows whether a token was revoked: a token that verifies here may still be
//! refused with code 31.

use std::fmt;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ed25519_dalek::pkcs8::DecodePublicKey;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

pub use crate::clock::unix_now;
use crate::error::{Error, TokenError};
use crate::model::null_as_default;

/// Clock leeway the server allows on `exp`.
pub const LEEWAY_SECS: i64 = 3;

/// The `type` claim. Values this crate does not know are kept as they are.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum TokenType {
    /// Single-use, 5 minutes: what the browser brings back to the callback.
    Login,
    /// 7 to 30 days: exchanged for access tokens.
    Refresh,
    /// 5 minutes: proves who the user is.
    Access,
    Other(String),
    /// No `type` claim at all.
    #[default]
    Missing,
}

impl TokenType {
    pub fn as_str(&self) -> &str {
        match self {
            TokenType::Login => "Login",
            TokenType::Refresh => "Refresh",
            TokenType::Access => "Access",
            TokenType::Other(other) => other,
            TokenType::Missing => "",
        }
    }
}

impl From<&str> for TokenType {
    fn from(value: &str) -> Self {
        match value {
            "Login" => TokenType::Login,
            "Refresh" => TokenType::Refresh,
            "Access" => TokenType::Access,
            "" => TokenType::Missing,
            other => TokenType::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenType::Missing => f.write_str("(untyped)"),
            other => f.write_str(other.as_str()),
        }
    }
}

impl Serialize for TokenType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TokenType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text: Option<String> = Option::deserialize(deserializer)?;
        Ok(text.as_deref().map(TokenType::from).unwrap_or_default())
    }
}

/// Claims of a GeniusAuth token, named as the server's `jwtClaims` package names them.
/// Claims a token type does not carry (a login token has no `appCode`) read as defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(rename = "type", default)]
    pub token_type: TokenType,
    /// User id.
    #[serde(default, deserialize_with = "null_as_default")]
    pub uid: u64,
    /// The user's operation id: changing it on the server revokes all of the user's tokens.
    #[serde(default, deserialize_with = "null_as_default")]
    pub oid: u64,
    /// Login-record id, shared by a refresh token and the access tokens made from it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: u64,
    #[serde(
        rename = "appCode",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub app_code: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub payload: String,
    /// Issued at, unix seconds.
    #[serde(
        default,
        deserialize_with = "numeric_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub iat: Option<i64>,
    /// Expires at, unix seconds.
    #[serde(
        default,
        deserialize_with = "numeric_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub exp: Option<i64>,
}

impl Claims {
    /// Expired at `now` (unix seconds), allowing the server's leeway. A token without `exp`
    /// never expires, as in the server's JWT library.
    pub fn is_expired_at(&self, now: i64) -> bool {
        self.exp
            .is_some_and(|exp| now >= exp.saturating_add(LEEWAY_SECS))
    }

    pub fn is_expired(&self) -> bool {
        self.is_expired_at(unix_now())
    }
}

/// A token taken apart without any check.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedToken {
    /// The JOSE header as sent (`{"alg":"EdDSA","typ":"JWT"}`).
    pub header: Value,
    /// The claims as sent, unknown ones included.
    pub raw_claims: Value,
    pub claims: Claims,
}

impl DecodedToken {
    pub fn algorithm(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }
}

/// Decodes header and claims without verifying anything: for display only.
pub fn decode(token: &str) -> Result<DecodedToken, Error> {
    let parts = split(token)?;
    let header = decode_json_part(parts[0], "header")?;
    let raw_claims = decode_json_part(parts[1], "claims")?;
    let claims = Claims::deserialize(&raw_claims)
        .map_err(|e| malformed(format!("claims have unexpected types: {e}")))?;
    Ok(DecodedToken {
        header,
        raw_claims,
        claims,
    })
}

/// Verifies signature, algorithm, expiry (against the system clock) and type.
pub fn verify(token: &str, key: &VerifyingKey, expected: &TokenType) -> Result<Claims, Error> {
    verify_at(token, key, expected, unix_now())
}

/// [`verify`] at a given time (unix seconds).
pub fn verify_at(
    token: &str,
    key: &VerifyingKey,
    expected: &TokenType,
    now: i64,
) -> Result<Claims, Error> {
    let claims = verify_signature(token, key)?.claims;
    if claims.is_expired_at(now) {
        return Err(TokenError::Expired {
            exp: claims.exp.unwrap_or_default(),
            now,
        }
        .into());
    }
    if &claims.token_type != expected {
        return Err(TokenError::WrongType {
            expected: expected.clone(),
            found: claims.token_type,
        }
        .into());
    }
    Ok(claims)
}

/// Checks only that the token is EdDSA and signed by `key`; expiry and type are left to the
/// caller (a support tool shows them separately).
pub fn verify_signature(token: &str, key: &VerifyingKey) -> Result<DecodedToken, Error> {
    let decoded = decode(token)?;
    match decoded.algorithm() {
        Some("EdDSA") => {}
        other => {
            return Err(TokenError::UnsupportedAlgorithm(other.unwrap_or("").to_owned()).into())
        }
    }
    let parts = split(token)?;
    let signature_bytes = decode_part(parts[2], "signature")?;
    let signature = Signature::from_slice(&signature_bytes)
        .map_err(|_| malformed("signature is not 64 bytes"))?;
    let signing_input = &token.trim()[..parts[0].len() + 1 + parts[1].len()];
    key.verify(signing_input.as_bytes(), &signature)
        .map_err(|_| TokenError::BadSignature)?;
    Ok(decoded)
}

/// How far before the start of a sign-in a login token's `iat` may lie: the server's leeway
/// plus the error of our estimate of its clock (whole seconds from `Date`, and travel time).
pub const SIGN_IN_START_SLACK_SECS: i64 = LEEWAY_SECS + 2;

/// Whether a token that reached the sign-in callback completes the sign-in that began at
/// `started_at` (server clock, unix seconds): a `Login` token, unexpired at `now`, issued after
/// the sign-in began, and signed by the server when its key is at hand. Anything else is what
/// another page could send to the callback.
pub fn check_login_token(
    token: &str,
    started_at: i64,
    now: i64,
    key: Option<&VerifyingKey>,
) -> Result<Claims, Error> {
    let claims = match key {
        Some(key) => verify_signature(token, key)?.claims,
        None => decode(token)?.claims,
    };
    if claims.token_type != TokenType::Login {
        return Err(TokenError::WrongType {
            expected: TokenType::Login,
            found: claims.token_type,
        }
        .into());
    }
    if claims.is_expired_at(now) {
        return Err(TokenError::Expired {
            exp: claims.exp.unwrap_or_default(),
            now,
        }
        .into());
    }
    match claims.iat {
        Some(iat) if iat >= started_at - SIGN_IN_START_SLACK_SECS => Ok(claims),
        _ => Err(TokenError::IssuedBeforeSignIn.into()),
    }
}

/// Reads the server's token key: PEM text (labelled `EC PUBLIC KEY` by the server although it
/// holds a PKIX SubjectPublicKeyInfo of an Ed25519 key), or that PEM base64-encoded as it
/// arrives in the JSON reply.
pub fn parse_server_jwt_key(text: &str) -> Result<VerifyingKey, Error> {
    let pem = if text.contains("-----BEGIN") {
        text.to_owned()
    } else {
        let bytes = STANDARD
            .decode(strip_whitespace(text))
            .map_err(|e| bad_key(format!("neither PEM nor base64: {e}")))?;
        String::from_utf8(bytes).map_err(|_| bad_key("decoded key is not text"))?
    };
    let der = pem_body(&pem)?;
    VerifyingKey::from_public_key_der(&der)
        .map_err(|e| bad_key(format!("not an Ed25519 public key: {e}")))
}

/// Base64 body of the first `... PUBLIC KEY` PEM block.
fn pem_body(pem: &str) -> Result<Vec<u8>, Error> {
    let mut lines = pem.lines().map(str::trim);
    let label = lines
        .find_map(|line| line.strip_prefix("-----BEGIN "))
        .and_then(|rest| rest.strip_suffix("-----"))
        .ok_or_else(|| bad_key("no PEM BEGIN line"))?;
    if !label.ends_with("PUBLIC KEY") {
        return Err(bad_key(format!("PEM block is {label:?}, not a public key")));
    }
    let mut body = String::new();
    for line in lines {
        if line.starts_with("-----END ") {
            return STANDARD
                .decode(&body)
                .map_err(|e| bad_key(format!("PEM body is not base64: {e}")));
        }
        // PEM headers (RFC 1421 `Key: value`) carry nothing we need.
        if !line.contains(':') {
            body.push_str(line);
        }
    }
    Err(bad_key("no PEM END line"))
}

fn split(token: &str) -> Result<[&str; 3], Error> {
    let parts: Vec<&str> = token.trim().split('.').collect();
    match parts.as_slice() {
        [header, claims, signature] => Ok([header, claims, signature]),
        _ => Err(malformed(format!(
            "expected 3 dot-separated parts, found {}",
            parts.len()
        ))),
    }
}

fn decode_part(part: &str, what: &str) -> Result<Vec<u8>, Error> {
    URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| malformed(format!("{what} is not base64url")))
}

fn decode_json_part(part: &str, what: &str) -> Result<Value, Error> {
    let bytes = decode_part(part, what)?;
    match serde_json::from_slice(&bytes) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(malformed(format!("{what} is not a JSON object"))),
    }
}

/// JWT NumericDate: integer or fractional seconds.
fn numeric_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let value: Option<Value> = Option::deserialize(deserializer)?;
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f.floor() as i64))
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("date out of range")),
        Some(other) => Err(serde::de::Error::custom(format!(
            "date is not a number: {other}"
        ))),
    }
}

fn strip_whitespace(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

fn malformed(detail: impl Into<String>) -> Error {
    TokenError::Malformed(detail.into()).into()
}

fn bad_key(detail: impl Into<String>) -> Error {
    TokenError::BadKey(detail.into()).into()
}
