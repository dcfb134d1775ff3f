//! The signed-in session as the service holds it: tokens with their decoded claims and checks.

use geniusauth::tokens::{self, Claims, TokenType};

use crate::mask::{mask, Redacted};
use crate::snapshot::{CheckView, SessionState, SignatureState, TokenView};

/// Warn when the refresh token has less than this left.
pub const EXPIRING_SOON_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub user_id: u64,
    pub name: String,
    pub groups: Vec<String>,
    pub avatar_url: String,
}

/// A token with what we know of it. `Debug` shows its fingerprint and masked tail only.
#[derive(Clone)]
pub struct HeldToken {
    pub value: String,
    pub claims: Claims,
    pub signature: SignatureState,
    pub last_check: Option<CheckView>,
}

impl std::fmt::Debug for HeldToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldToken")
            .field("value", &Redacted(&self.value))
            .field("claims", &self.claims)
            .field("signature", &self.signature)
            .field("last_check", &self.last_check)
            .finish()
    }
}

impl HeldToken {
    /// Decodes the token; verifies its signature when the server key is known.
    pub fn new(
        value: String,
        expected: TokenType,
        key: Option<&ed25519_dalek::VerifyingKey>,
    ) -> Result<Self, geniusauth::Error> {
        let claims = tokens::decode(&value)?.claims;
        let signature = signature_state(&value, &claims, key);
        if claims.token_type != expected {
            return Err(geniusauth::Error::InvalidInput(format!(
                "expected a {} token, got a {} token",
                expected.as_str(),
                claims.token_type.as_str()
            )));
        }
        Ok(HeldToken {
            value,
            claims,
            signature,
            last_check: None,
        })
    }

    pub fn recheck_signature(&mut self, key: Option<&ed25519_dalek::VerifyingKey>) {
        self.signature = signature_state(&self.value, &self.claims, key);
    }

    /// The token for the UI, its times moved onto this machine's clock: `offset_ms` is the
    /// server's clock minus ours.
    pub fn view(&self, now_ms: i64, offset_ms: i64) -> TokenView {
        let expires_at = self
            .claims
            .exp
            .map(|s| s * 1000 - offset_ms)
            .unwrap_or(i64::MAX);
        TokenView {
            masked: mask(&self.value),
            record_id: self.claims.id,
            issued_at: self.claims.iat.unwrap_or_default() * 1000 - offset_ms,
            expires_at,
            payload: self.claims.payload.clone(),
            signature: self.signature,
            last_check: self.last_check.clone(),
            expiring_soon: self.claims.token_type == TokenType::Refresh
                && expires_at - now_ms < EXPIRING_SOON_MS,
        }
    }

    /// Seconds the token was issued for (exp − iat): scheduling uses this span, not the wall
    /// clock, so a wrong local clock does not make us refresh too late or in a loop.
    pub fn lifetime_secs(&self) -> Option<i64> {
        Some(self.claims.exp? - self.claims.iat?).filter(|s| *s > 0)
    }
}

/// Signature only: expiry and type are shown separately, so an expired but genuine token
/// still reads "verified".
fn signature_state(
    value: &str,
    claims: &Claims,
    key: Option<&ed25519_dalek::VerifyingKey>,
) -> SignatureState {
    let Some(key) = key else {
        return SignatureState::Unavailable;
    };
    let at = claims.iat.unwrap_or_default();
    match tokens::verify_at(value, key, &claims.token_type, at) {
        Ok(_) => SignatureState::Verified,
        Err(_) => SignatureState::Failed,
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub profile_id: String,
    pub user: User,
    pub avatar: Option<String>,
    pub refresh: HeldToken,
    pub access: Option<HeldToken>,
    pub state: SessionState,
    pub offline: Option<crate::snapshot::OfflineView>,
    pub retry: Option<crate::snapshot::RetryView>,
    /// Set by a sign-in of another user than the one last signed in on this profile.
    pub previous_user: Option<crate::snapshot::PreviousUserView>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::SessionState;

    fn held(value: &str) -> HeldToken {
        HeldToken {
            value: value.to_owned(),
            claims: Claims::default(),
            signature: SignatureState::Unavailable,
            last_check: None,
        }
    }

    #[test]
    fn debug_never_shows_a_token() {
        let refresh = "eyJhbGciOiJFZERTQSJ9.eyJ0eXBlIjoicmVmcmVzaCJ9.refresh-signature-AAAA";
        let access = "eyJhbGciOiJFZERTQSJ9.eyJ0eXBlIjoiYWNjZXNzIn0.access-signature-BBBB";
        let session = Session {
            profile_id: "p1".into(),
            user: User {
                user_id: 1,
                name: "张伟".into(),
                groups: vec![],
                avatar_url: String::new(),
            },
            avatar: None,
            refresh: held(refresh),
            access: Some(held(access)),
            state: SessionState::SignedIn,
            offline: None,
            retry: None,
            previous_user: None,
        };
        for shown in [format!("{session:?}"), format!("{session:#?}")] {
            for token in [refresh, access] {
                assert!(!shown.contains(&token[..24]), "{shown}");
                assert!(!shown.contains(&token[token.len() - 12..]), "{shown}");
                assert!(shown.contains(&crate::mask::fingerprint(token)), "{shown}");
            }
            assert!(shown.contains("张伟"), "{shown}");
        }
    }
}
