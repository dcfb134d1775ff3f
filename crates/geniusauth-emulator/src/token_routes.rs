//! The signed app routes' handlers (`internal/api/controllers/app/token.go`, `user.go`,
//! `keypair.go`, `internal/api/controllers/public/login/verify.go`), run after the signature
//! check.

use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;

use crate::api_request::ApiRequest;
use crate::avatar::avatar_url;
use crate::binding::{bind_query, field, parse_go_query, Field, Kind};
use crate::certificates::CLIENT_VALID_SECS;
use crate::codes;
use crate::envelope::{success, success_empty, ApiError};
use crate::jwt::TokenType;
use crate::signature::Signed;
use crate::state::SharedState;

const TOKEN_FIELD: [Field; 1] = [field("token", Kind::Str)];

const LOGIN_FIELDS: [Field; 5] = [
    field("token", Kind::Str),
    field("clientIp", Kind::Str),
    field("grantType", Kind::Str),
    field("payload", Kind::Str),
    field("valid", Kind::Int),
];

const MODIFY_FIELDS: [Field; 3] = [
    field("token", Kind::Str),
    field("payload", Kind::Str),
    field("accessToken", Kind::Bool),
];

/// Refresh tokens live 7 days unless asked otherwise, at most 30.
const DEFAULT_REFRESH_VALID_S: i64 = 604_800;
const MAX_REFRESH_VALID_S: i64 = 2_592_000;
const MAX_PAYLOAD_CHARS: usize = 32;

#[derive(Serialize)]
struct VerifyTokenSuccess<'a> {
    #[serde(rename = "userID")]
    user_id: u64,
    name: &'a str,
    groups: &'a [String],
    #[serde(rename = "avatarUrl")]
    avatar_url: &'a str,
    #[serde(rename = "refreshToken")]
    refresh_token: String,
    #[serde(rename = "accessToken")]
    access_token: String,
}

#[derive(Serialize)]
struct RefreshSuccess {
    access_token: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    payload: String,
}

#[derive(Serialize)]
struct ModifyPayloadSuccess {
    #[serde(rename = "refreshToken")]
    refresh_token: String,
    #[serde(rename = "accessToken", skip_serializing_if = "String::is_empty")]
    access_token: String,
}

#[derive(Serialize)]
struct VerifyAccessSuccess {
    uid: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    payload: String,
}

/// gin.H: keys sorted.
#[derive(Serialize)]
struct AccessUserInfo {
    #[serde(rename = "avatarUrl")]
    avatar_url: String,
    groups: Vec<String>,
    name: String,
    #[serde(rename = "userID")]
    user_id: u64,
}

#[derive(Serialize)]
struct PublicGroup {
    id: u64,
    name: String,
}

#[derive(Serialize)]
struct PublicUserInfo {
    id: u64,
    name: String,
    #[serde(rename = "avatarUrl")]
    avatar_url: String,
    groups: Option<Vec<PublicGroup>>,
}

/// `CompleteLogin` (internal/api/controllers/public/login/verify.go).
pub fn login_verify(
    state: &SharedState,
    signed: &Signed,
    request: &ApiRequest<'_>,
) -> Result<Response, ApiError> {
    // `c.ShouldBind` picks the binding from the Content-Type: JSON only for application/json,
    // otherwise form binding (ParseForm), which for a JSON body finds nothing but the query.
    let f = if request.content_type == "application/json" {
        signed.params.bind(&LOGIN_FIELDS)?
    } else {
        request.bind_form(&LOGIN_FIELDS)?
    };
    let token = f.str("token");
    let grant_type = f.str("grantType");
    let payload = f.str("payload");
    let mut valid = f.int("valid");
    if token.is_empty()
        || !matches!(grant_type, "" | "refresh_token" | "once")
        || payload.chars().count() > MAX_PAYLOAD_CHARS
        || !(0..=MAX_REFRESH_VALID_S).contains(&valid)
    {
        return Err(codes::FORM.into());
    }
    let refresh_mode = grant_type == "refresh_token";
    if refresh_mode {
        if valid == 0 {
            valid = DEFAULT_REFRESH_VALID_S;
        } else if valid < DEFAULT_REFRESH_VALID_S {
            return Err(ApiError::with_tip(
                codes::FORM,
                "valid time too short, min 604800 seconds (7 days)",
            ));
        }
    }

    state.with_tokens(|tokens| {
        let login = tokens
            .take_login(token)
            .ok()
            .flatten()
            .ok_or(ApiError::from(codes::UNAUTHORIZED))?;
        let record_valid = if refresh_mode { valid } else { 0 };
        let record_id = tokens
            .store
            .add_login_record(login.uid, login.app_id, record_valid, tokens.now_ms)
            .map_err(|_| ApiError::from(codes::DB_OPERATION))?;
        let (refresh_token, access_token) = if refresh_mode {
            let app_code = &signed.app.app_code;
            let unexpected = |_| ApiError::from(codes::UNEXPECTED);
            let refresh = tokens
                .refresh_token(login.uid, record_id, app_code, payload, valid * 1000)
                .map_err(unexpected)?;
            let access = tokens
                .access_token(record_id, login.uid, app_code, payload)
                .map_err(unexpected)?;
            (refresh, access)
        } else {
            (String::new(), String::new())
        };
        Ok(success(VerifyTokenSuccess {
            user_id: login.uid,
            name: &login.name,
            groups: &login.groups,
            avatar_url: &login.avatar_url,
            refresh_token,
            access_token,
        }))
    })
}

fn bind_token(signed: &Signed) -> Result<String, ApiError> {
    let f = signed.params.bind(&TOKEN_FIELD)?;
    match f.str("token") {
        "" => Err(codes::FORM.into()),
        token => Ok(token.to_owned()),
    }
}

/// `RefreshToken` (POST): a new access token; another app's refresh token is code 6.
pub fn refresh(state: &SharedState, signed: &Signed) -> Result<Response, ApiError> {
    let token = bind_token(signed)?;
    state.with_tokens(|tokens| {
        let claims = tokens
            .parse_recorded(&token, TokenType::Refresh)
            .ok()
            .flatten()
            .ok_or(ApiError::from(codes::TOKEN_INVALID))?;
        let app_code = &signed.app.app_code;
        if claims.app_code.as_deref() != Some(app_code.as_str()) {
            return Err(codes::UNAUTHORIZED.into());
        }
        let access_token = tokens
            .access_token(claims.id, claims.uid, app_code, &claims.payload)
            .map_err(|_| ApiError::from(codes::UNEXPECTED))?;
        Ok(success(RefreshSuccess {
            access_token,
            payload: claims.payload,
        }))
    })
}

/// `ModifyRefreshPayload` (PATCH): same record id, same expiry, new payload. Like the server,
/// it does not check which app the refresh token belongs to.
pub fn modify_payload(state: &SharedState, signed: &Signed) -> Result<Response, ApiError> {
    let f = signed.params.bind(&MODIFY_FIELDS)?;
    let (token, payload) = (f.str("token"), f.str("payload"));
    if token.is_empty() || payload.is_empty() {
        return Err(codes::FORM.into());
    }
    state.with_tokens(|tokens| {
        let claims = tokens
            .parse_recorded(token, TokenType::Refresh)
            .ok()
            .flatten()
            .ok_or(ApiError::from(codes::TOKEN_INVALID))?;
        let app_code = claims.app_code.clone().unwrap_or_default();
        let remaining_ms = claims
            .exp
            .saturating_mul(1000)
            .saturating_sub(tokens.now_ms);
        let unexpected = |_| ApiError::from(codes::UNEXPECTED);
        let refresh_token = tokens
            .refresh_token(claims.uid, claims.id, &app_code, payload, remaining_ms)
            .map_err(unexpected)?;
        let access_token = if f.bool("accessToken") {
            tokens
                .access_token(claims.id, claims.uid, &app_code, payload)
                .map_err(unexpected)?
        } else {
            String::new()
        };
        Ok(success(ModifyPayloadSuccess {
            refresh_token,
            access_token,
        }))
    })
}

/// `DestroyRefreshToken` (DELETE): revokes the record, and with it every access token.
/// Any app may revoke any refresh token, as on the server.
pub fn destroy_refresh(state: &SharedState, signed: &Signed) -> Result<Response, ApiError> {
    let token = bind_token(signed)?;
    state.with_tokens(|tokens| {
        let claims = tokens
            .parse_recorded(&token, TokenType::Refresh)
            .ok()
            .flatten()
            .ok_or(ApiError::from(codes::TOKEN_INVALID))?;
        crate::live::cancel_record(tokens.store, &state.live, &claims)
            .map_err(|_| ApiError::from(codes::UNEXPECTED))?;
        Ok(success_empty())
    })
}

/// `RequireAccessToken`: code 31 for a bad token, 6 for another app's.
fn access_claims(
    tokens: &crate::tokens::Tokens<'_>,
    signed: &Signed,
    token: &str,
) -> Result<crate::jwt::Claims, ApiError> {
    let claims = tokens
        .parse_recorded(token, TokenType::Access)
        .ok()
        .flatten()
        .ok_or(ApiError::from(codes::TOKEN_INVALID))?;
    if claims.app_code.as_deref() != Some(signed.app.app_code.as_str()) {
        return Err(codes::UNAUTHORIZED.into());
    }
    Ok(claims)
}

pub fn access_verify(state: &SharedState, signed: &Signed) -> Result<Response, ApiError> {
    let token = bind_token(signed)?;
    state.with_tokens(|tokens| {
        let claims = access_claims(tokens, signed, &token)?;
        Ok(success(VerifyAccessSuccess {
            uid: claims.uid,
            payload: claims.payload,
        }))
    })
}

/// `GetUserInfo`: the user's current record and all of their groups.
pub fn access_user_info(state: &SharedState, signed: &Signed) -> Result<Response, ApiError> {
    let token = bind_token(signed)?;
    state.with_tokens(|tokens| {
        let claims = access_claims(tokens, signed, &token)?;
        let db = |_| ApiError::from(codes::DB_OPERATION);
        let user = tokens
            .store
            .user(claims.uid)
            .map_err(db)?
            .ok_or(ApiError::from(codes::DB_OPERATION))?;
        let groups = tokens.store.user_groups(claims.uid).map_err(db)?;
        Ok(success(AccessUserInfo {
            avatar_url: avatar_url(&user, tokens.base_url),
            groups: groups.into_iter().map(|g| g.name).collect(),
            name: user.name,
            user_id: user.id,
        }))
    })
}

/// `strconv.ParseUint(s, 10, 64)`: digits only.
fn parse_go_uint(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `GetUserPublicInfo`: users in request order, unknown ids skipped, every group of each user
/// (newest first; not limited to the app's groups). Reproduces the server's merge loop,
/// which leaves `groups` null for every user after the last one that has groups.
pub fn user_info(state: &SharedState, raw_query: &str) -> Result<Response, ApiError> {
    // `c.ShouldBindQuery`: URL.Query(), whose errors the signature check already reported.
    let f = bind_query(&parse_go_query(raw_query), &[field("id", Kind::Str)])?;
    let ids_text = f.str("id");
    if ids_text.is_empty() {
        return Err(codes::FORM.into());
    }
    let mut ids: Vec<u64> = Vec::new();
    for part in ids_text.split(',') {
        let id = parse_go_uint(part).ok_or(ApiError::from(codes::FORM))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let db = |_| ApiError::from(codes::DB_OPERATION);
    let store = state.store();
    let mut found = Vec::new();
    for id in ids {
        if let Some(user) = store.user(id).map_err(db)? {
            let mut groups = store.user_groups(id).map_err(db)?;
            groups.reverse();
            found.push((user, groups));
        }
    }
    let mut groups_left: usize = found.iter().map(|(_, g)| g.len()).sum();
    let data: Vec<PublicUserInfo> = found
        .into_iter()
        .map(|(user, groups)| {
            let groups = if groups_left == 0 {
                None
            } else {
                groups_left -= groups.len();
                Some(
                    groups
                        .into_iter()
                        .map(|g| PublicGroup {
                            id: g.id,
                            name: g.name,
                        })
                        .collect(),
                )
            };
            PublicUserInfo {
                id: user.id,
                avatar_url: avatar_url(&user, &state.base_url),
                name: user.name,
                groups,
            }
        })
        .collect();
    Ok(success(data))
}

/// gin.H, keys sorted.
#[derive(Serialize)]
struct ClientCredential {
    cert: String,
    key: String,
    #[serde(rename = "validBefore")]
    valid_before: i64,
}

/// `RpcClientCredential` (internal/api/controllers/app/keypair.go): a 7-day client
/// certificate for the gRPC App service, issued by the RPC CA for the calling appCode, on the
/// server's wall clock. `[]byte` fields, so base64 in JSON.
pub fn client_certificate(state: &SharedState, signed: &Signed) -> Result<Response, ApiError> {
    let now_ns = state.clock.server_now_ns();
    let valid_before = now_ns.div_euclid(1_000_000_000) as i64 + CLIENT_VALID_SECS;
    let (chain, key) = state
        .keys
        .ca
        .issue_client(&signed.app.app_code, now_ns, valid_before);
    Ok(success(ClientCredential {
        cert: STANDARD.encode(chain),
        key: STANDARD.encode(key),
        valid_before,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_uint() {
        assert_eq!(parse_go_uint("+1"), None);
        assert_eq!(parse_go_uint("12"), Some(12));
    }
}
