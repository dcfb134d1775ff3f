//! What a token says about itself, read locally: kind, owner, app, login record, times, and
//! whether the server's key signed it. Whether the server still accepts it (revoked or not) only
//! the server knows.

use ed25519_dalek::VerifyingKey;
use geniusauth::tokens::{self, TokenType};
use serde::Serialize;

use crate::fingerprint;

/// The `type` claim, as far as support work cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// Revocable: ends the login record and every access token made from it.
    Refresh,
    /// Lives 5 minutes; only its refresh token (same login-record id) can be revoked.
    Access,
    /// Single use, 5 minutes; nothing to revoke.
    Login,
    /// Not a GeniusAuth token: not decodable, or no GeniusAuth `type`.
    Other,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Refresh => "refresh",
            TokenKind::Access => "access",
            TokenKind::Login => "login",
            TokenKind::Other => "other",
        }
    }
}

/// Signature check against the server's token key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureCheck {
    Verified,
    Failed,
    /// No key to check with (the server could not be asked), or nothing to check.
    Unavailable,
}

/// One token, taken apart. Holds no token string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspection {
    pub kind: TokenKind,
    pub user_id: Option<u64>,
    /// Login-record id: a refresh token and its access tokens share it.
    pub record_id: Option<u64>,
    pub app_code: Option<String>,
    pub payload: Option<String>,
    /// Unix seconds.
    pub issued_at: Option<i64>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
    /// Past `exp` (with the server's leeway) at the time of inspection.
    pub expired: bool,
    pub signature: SignatureCheck,
    /// Why the token is [`TokenKind::Other`].
    pub problem: Option<String>,
    /// See [`crate::fingerprint`].
    pub fingerprint: String,
}

/// Inspects `token` at `now` (Unix seconds); the signature is checked when `key` is given.
pub fn inspect(token: &str, key: Option<&VerifyingKey>, now: i64) -> Inspection {
    let mut out = Inspection {
        kind: TokenKind::Other,
        user_id: None,
        record_id: None,
        app_code: None,
        payload: None,
        issued_at: None,
        expires_at: None,
        expired: false,
        signature: SignatureCheck::Unavailable,
        problem: None,
        fingerprint: fingerprint(token),
    };
    let decoded = match tokens::decode(token) {
        Ok(decoded) => decoded,
        Err(err) => {
            out.problem = Some(err.to_string());
            return out;
        }
    };
    let claims = &decoded.claims;
    out.kind = match claims.token_type {
        TokenType::Refresh => TokenKind::Refresh,
        TokenType::Access => TokenKind::Access,
        TokenType::Login => TokenKind::Login,
        TokenType::Missing => {
            out.problem = Some("the token has no GeniusAuth type claim".into());
            return out;
        }
        TokenType::Other(ref other) => {
            out.problem = Some(format!(
                "the token's type {other:?} is not a GeniusAuth one"
            ));
            return out;
        }
    };
    out.user_id = Some(claims.uid).filter(|uid| *uid != 0);
    out.record_id = Some(claims.id).filter(|id| *id != 0);
    out.app_code = Some(claims.app_code.clone()).filter(|code| !code.is_empty());
    out.payload = Some(claims.payload.clone()).filter(|payload| !payload.is_empty());
    out.issued_at = claims.iat;
    out.expires_at = claims.exp;
    out.expired = claims.is_expired_at(now);
    if let Some(key) = key {
        out.signature = match tokens::verify_signature(token, key) {
            Ok(_) => SignatureCheck::Verified,
            Err(_) => SignatureCheck::Failed,
        };
    }
    out
}

impl Inspection {
    /// A refresh token worth revoking: not expired and not forged.
    pub fn is_valid_refresh(&self) -> bool {
        self.kind == TokenKind::Refresh && !self.expired && self.signature != SignatureCheck::Failed
    }
}
