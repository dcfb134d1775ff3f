//! Token issuance and verification with the server's rules (`internal/pkg/jwt/jwt.go`):
//! every token carries the user's current operation id (`oid`); refresh and access tokens
//! are valid only while their login record's point exists; login tokens are single use.

use crate::avatar::avatar_url;
use crate::clock::{day_of_year, floor_seconds};
use crate::error::Error;
use crate::jwt::{self, Claims, TokenType};
use crate::keypair::Keys;
use crate::store::{App, PendingLogin, Store};

/// Login tokens live five minutes.
pub const LOGIN_VALID_MS: i64 = 5 * 60 * 1000;
/// Access tokens live five minutes.
pub const ACCESS_VALID_MS: i64 = 5 * 60 * 1000;
/// The center (中心) sees all of its members' groups in every app.
const CENTER_GROUP: &str = "中心";

/// Everything a token operation needs, at one instant of the (possibly shifted) clock.
pub struct Tokens<'a> {
    pub store: &'a Store,
    pub keys: &'a Keys,
    pub now_ms: i64,
    pub base_url: &'a str,
}

impl Tokens<'_> {
    /// `NewUserClaims`: fails when the user does not exist.
    fn user_claims(&self, token_type: TokenType, uid: u64, valid_ms: i64) -> Result<Claims, Error> {
        let user = self.store.user(uid)?.ok_or(Error::UnknownUser(uid))?;
        Ok(Claims {
            exp: floor_seconds(self.now_ms.saturating_add(valid_ms)),
            iat: floor_seconds(self.now_ms),
            token_type: token_type.as_str().to_owned(),
            uid,
            oid: user.oid,
            ..Claims::default()
        })
    }

    /// What the login page does once the user has signed in: check that the app may see the
    /// user (`checkUserPermission`), snapshot the user and mint a login token.
    pub fn issue_login_token(&self, app: &App, uid: u64) -> Result<String, Error> {
        let user = self.store.user(uid)?.ok_or(Error::UnknownUser(uid))?;
        let all_groups = self.store.user_groups(uid)?;
        let groups = if all_groups.iter().any(|g| g.name == CENTER_GROUP) {
            all_groups.into_iter().map(|g| g.name).collect()
        } else {
            let visible = self.store.user_groups_visible_to(app, uid)?;
            if visible.is_empty() && !app.permit_all_group {
                return Err(Error::NoVisibleGroup {
                    uid,
                    app_code: app.app_code.clone(),
                });
            }
            visible
        };
        let mut claims = self.user_claims(TokenType::Login, uid, LOGIN_VALID_MS)?;
        claims.id = self.store.next_login_token_id(day_of_year(self.now_ms))?;
        self.store.insert_pending_login(&PendingLogin {
            id: claims.id,
            uid,
            app_id: app.id,
            name: user.name.clone(),
            avatar_url: avatar_url(&user, self.base_url),
            groups,
            expires_at_ms: self.now_ms.saturating_add(LOGIN_VALID_MS),
        })?;
        Ok(jwt::sign(&claims, &self.keys.signing))
    }

    /// `ParseTokenAndVerify`: signature, expiry (3 s leeway), type and operation id.
    fn parse(&self, token: &str, token_type: TokenType) -> Result<Option<Claims>, Error> {
        let Some(claims) = jwt::decode_verified(token, &self.keys.verifying) else {
            return Ok(None);
        };
        if !jwt::is_current(&claims, self.now_ms) || claims.token_type != token_type.as_str() {
            return Ok(None);
        }
        let oid_matches = self
            .store
            .user(claims.uid)?
            .is_some_and(|user| user.oid == claims.oid);
        Ok(oid_matches.then_some(claims))
    }

    /// `ParseLoginToken`: verifies and consumes the login token.
    pub fn take_login(&self, token: &str) -> Result<Option<PendingLogin>, Error> {
        match self.parse(token, TokenType::Login)? {
            Some(claims) => self.store.take_pending_login(claims.id, self.now_ms),
            None => Ok(None),
        }
    }

    /// `ParseRefreshToken` / `ParseAccessToken`: also requires the record's point.
    pub fn parse_recorded(
        &self,
        token: &str,
        token_type: TokenType,
    ) -> Result<Option<Claims>, Error> {
        match self.parse(token, token_type)? {
            Some(claims) if self.store.record_point_alive(claims.id, self.now_ms)? => {
                Ok(Some(claims))
            }
            _ => Ok(None),
        }
    }

    /// `GenerateRefreshToken`: signs and (re)creates the record's point for `valid_ms`.
    pub fn refresh_token(
        &self,
        uid: u64,
        record_id: u64,
        app_code: &str,
        payload: &str,
        valid_ms: i64,
    ) -> Result<String, Error> {
        let mut claims = self.user_claims(TokenType::Refresh, uid, valid_ms)?;
        claims.id = record_id;
        claims.app_code = Some(app_code.to_owned());
        claims.payload = payload.to_owned();
        self.store
            .set_record_point(record_id, self.now_ms.saturating_add(valid_ms))?;
        Ok(jwt::sign(&claims, &self.keys.signing))
    }

    /// `GenerateAccessToken`: five minutes, same record id and payload.
    pub fn access_token(
        &self,
        record_id: u64,
        uid: u64,
        app_code: &str,
        payload: &str,
    ) -> Result<String, Error> {
        let mut claims = self.user_claims(TokenType::Access, uid, ACCESS_VALID_MS)?;
        claims.id = record_id;
        claims.app_code = Some(app_code.to_owned());
        claims.payload = payload.to_owned();
        Ok(jwt::sign(&claims, &self.keys.signing))
    }
}
