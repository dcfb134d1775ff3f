//! Request options and the typed results of each call.
//!
//! Results are read tolerantly (the older wiki shows other field names than the server
//! sends): unknown fields are ignored, missing or `null` fields take their default. They
//! serialise with the server's current camelCase names.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::mask::{Redacted, RedactedOpt};

/// Shortest and longest refresh-token lifetime the server accepts, in seconds (7 and 30 days).
pub const MIN_REFRESH_VALIDITY_SECS: u64 = 604_800;
pub const MAX_REFRESH_VALIDITY_SECS: u64 = 2_592_000;
/// Longest payload, in characters (Unicode scalar values).
pub const MAX_PAYLOAD_CHARS: usize = 32;

/// What a verified login token is exchanged for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// A refresh token and an access token. `valid` is the refresh token's lifetime in seconds
    /// (604800..=2592000); `None` lets the server pick (7 days).
    RefreshToken { valid: Option<u64> },
    /// User identity only, no tokens (`grantType=once`).
    Once,
    /// User identity only, no `grantType` sent.
    None,
}

impl Default for Grant {
    fn default() -> Self {
        Grant::RefreshToken { valid: None }
    }
}

/// Options of [`Client::login_verify`](crate::Client::login_verify).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginOptions {
    pub grant: Grant,
    /// App data carried in the tokens, at most 32 characters.
    pub payload: Option<String>,
    /// The user's IP as the app saw it; the server ignores it today.
    pub client_ip: Option<String>,
}

/// Result of verifying a login token. Both tokens are empty unless the grant was
/// [`Grant::RefreshToken`]. `Debug` shows the tokens redacted ([`crate::mask::redacted`]).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginResult {
    #[serde(rename = "userID", alias = "id", default)]
    pub user_id: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub groups: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub avatar_url: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub refresh_token: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub access_token: String,
}

/// Result of refreshing: a new 5-minute access token carrying the refresh token's payload.
/// `Debug` shows the token redacted.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshResult {
    // The server sends snake_case here, unlike everywhere else.
    #[serde(
        rename(serialize = "accessToken", deserialize = "access_token"),
        alias = "accessToken",
        default,
        deserialize_with = "null_as_default"
    )]
    pub access_token: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub payload: String,
    /// Only the older wiki's sample reply (`{uid, payload}`) has this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u64>,
}

/// Result of changing a refresh token's payload: a new refresh token with the same id and
/// remaining lifetime (the old one stays valid), and an access token when asked for. `Debug`
/// shows the tokens redacted.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayloadUpdate {
    #[serde(default, deserialize_with = "null_as_default")]
    pub refresh_token: String,
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub access_token: Option<String>,
}

impl fmt::Debug for LoginResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginResult")
            .field("user_id", &self.user_id)
            .field("name", &self.name)
            .field("groups", &self.groups)
            .field("avatar_url", &self.avatar_url)
            .field("refresh_token", &Redacted(&self.refresh_token))
            .field("access_token", &Redacted(&self.access_token))
            .finish()
    }
}

impl fmt::Debug for RefreshResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshResult")
            .field("access_token", &Redacted(&self.access_token))
            .field("payload", &self.payload)
            .field("uid", &self.uid)
            .finish()
    }
}

impl fmt::Debug for PayloadUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayloadUpdate")
            .field("refresh_token", &Redacted(&self.refresh_token))
            .field("access_token", &RedactedOpt(self.access_token.as_deref()))
            .finish()
    }
}

/// Who an access token belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenInfo {
    #[serde(alias = "userID", default)]
    pub uid: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub payload: String,
}

/// The signed-in user, as seen through an access token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    #[serde(rename = "userID", alias = "id", default)]
    pub user_id: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub groups: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub avatar_url: String,
}

/// A group in [`PublicUserInfo`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    #[serde(default)]
    pub id: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
}

/// Public profile of any user, looked up by id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicUserInfo {
    #[serde(alias = "userID", default)]
    pub id: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub avatar_url: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub groups: Vec<Group>,
}

/// What `GET /api/v1/public/app/` tells about an app
/// (`internal/api/controllers/public/app/data.go`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppInfo {
    /// The app's registered name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// `host[:port]` of the app's registered callback URL.
    #[serde(default, deserialize_with = "null_as_default")]
    pub host: String,
}

/// The server's public keys, as PEM text (already base64-decoded from the reply).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServerPublicKeys {
    /// Ed25519 key that signs every token; see [`crate::tokens::parse_server_jwt_key`].
    pub jwt: String,
    /// CA certificate of the server's RPC interface.
    pub ca: String,
}

impl ServerPublicKeys {
    /// The key to verify tokens with.
    pub fn jwt_verifying_key(&self) -> Result<ed25519_dalek::VerifyingKey, crate::Error> {
        crate::tokens::parse_server_jwt_key(&self.jwt)
    }
}

/// A client certificate for the gRPC App service (`POST /api/v1/app/keypair/rpc`), PEM text.
/// `Debug` hides the private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcClientCredential {
    /// The client certificate followed by the CA certificate.
    pub cert: String,
    /// The private key PEM (labelled `EC PRIVATE KEY` by the server, PKCS#8 inside).
    pub key: crate::secret::AppSecret,
    /// Unix seconds after which the certificate is no longer valid.
    pub valid_before: i64,
}

/// A `null` (Go's nil slice, say) reads as the type's default.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `null`, absent and `""` all mean "no value".
fn empty_as_none<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(Option::<String>::deserialize(deserializer)?.filter(|s| !s.is_empty()))
}

#[cfg(test)]
mod debug_tests {
    use super::*;
    use crate::mask::fingerprint;

    const REFRESH: &str = "eyJhbGciOiJFZERTQSJ9.eyJ0eXBlIjoicmVmcmVzaCJ9.refresh-signature-AAAA";
    const ACCESS: &str = "eyJhbGciOiJFZERTQSJ9.eyJ0eXBlIjoiYWNjZXNzIn0.access-signature-BBBB";

    /// No part of a token longer than its masked tail shows; its fingerprint does.
    fn assert_redacted(shown: &str, token: &str) {
        assert!(!shown.contains(token), "{shown}");
        for window in token.as_bytes().windows(12) {
            let part = std::str::from_utf8(window).unwrap();
            assert!(!shown.contains(part), "{part:?} shows in {shown}");
        }
        assert!(shown.contains(&fingerprint(token)), "{shown}");
    }

    #[test]
    fn debug_never_shows_a_token() {
        let login = LoginResult {
            user_id: 7,
            name: "张伟".into(),
            refresh_token: REFRESH.into(),
            access_token: ACCESS.into(),
            ..LoginResult::default()
        };
        let shown = format!("{login:?}");
        assert_redacted(&shown, REFRESH);
        assert_redacted(&shown, ACCESS);
        assert!(
            shown.contains("user_id: 7") && shown.contains("张伟"),
            "{shown}"
        );
        assert_redacted(&format!("{login:#?}"), REFRESH);

        let refresh = RefreshResult {
            access_token: ACCESS.into(),
            payload: "desk".into(),
            uid: None,
        };
        let shown = format!("{refresh:?}");
        assert_redacted(&shown, ACCESS);
        assert!(shown.contains("\"desk\""), "{shown}");

        let update = PayloadUpdate {
            refresh_token: REFRESH.into(),
            access_token: Some(ACCESS.into()),
        };
        let shown = format!("{update:?}");
        assert_redacted(&shown, REFRESH);
        assert_redacted(&shown, ACCESS);
        let without = PayloadUpdate {
            refresh_token: REFRESH.into(),
            access_token: None,
        };
        assert!(format!("{without:?}").contains("access_token: None"));
    }

    #[test]
    fn config_debug_never_shows_the_app_secret() {
        let secret = "s3cr3t-".repeat(14);
        let config = crate::Config::new("Ab3dE6g8", secret.as_str());
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("Ab3dE6g8"), "{shown}");
    }
}
