//! Request options and the typed results of each call.
//!
//! Results are read tolerantly (the older wiki shows other field names than the server
//! sends): unknown fields are ignored, missing or `null` fields take their default. They
//! serialise with the server's current camelCase names.

use serde::{Deserialize, Deserializer, Serialize};

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
/// [`Grant::RefreshToken`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
/// remaining lifetime (the old one stays valid), and an access token when asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
