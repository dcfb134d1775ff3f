//! The production routes, with gin's routing behaviour: exact paths, a 301/307 redirect to
//! the path with (or without) the trailing slash, and for anything else the single-page
//! front end (GET, HTTP 200 HTML) or gin's plain-text 404.

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::avatar::avatar_url;
use crate::binding::{bind_query, field, parse_go_form, parse_go_query, Field, Kind};
use crate::codes;
use crate::envelope::{success, success_empty, ApiError};
use crate::jwt::TokenType;
use crate::server::SharedState;
use crate::signature::{self, Signed};

/// gin reads whole bodies; this only guards the emulator's memory.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    LoginVerify,
    Refresh,
    ModifyPayload,
    DestroyRefresh,
    AccessVerify,
    AccessUserInfo,
    UserInfo,
    ServerKeys,
    /// `GET /api/v1/public/app/`: unsigned, rate limited.
    PublicApp,
    /// `POST /api/v1/public/login/:app/` (`internal/api/router/public/login/init.go`): rate
    /// limited; without a valid third-party `code` it always answers code 1.
    ThirdPartyLogin,
}

const ROUTES: &[(Method, &str, Endpoint)] = &[
    (
        Method::POST,
        "/api/v1/public/login/verify",
        Endpoint::LoginVerify,
    ),
    (
        Method::POST,
        "/api/v1/app/token/refresh/",
        Endpoint::Refresh,
    ),
    (
        Method::PATCH,
        "/api/v1/app/token/refresh/",
        Endpoint::ModifyPayload,
    ),
    (
        Method::DELETE,
        "/api/v1/app/token/refresh/",
        Endpoint::DestroyRefresh,
    ),
    (
        Method::POST,
        "/api/v1/app/token/access/verify",
        Endpoint::AccessVerify,
    ),
    (
        Method::POST,
        "/api/v1/app/token/access/user/info",
        Endpoint::AccessUserInfo,
    ),
    (Method::GET, "/api/v1/app/user/info", Endpoint::UserInfo),
    (
        Method::GET,
        "/api/v1/app/keypair/server",
        Endpoint::ServerKeys,
    ),
    // Deprecated aliases the server still registers under /public.
    (
        Method::POST,
        "/api/v1/public/token/refresh/",
        Endpoint::Refresh,
    ),
    (
        Method::PATCH,
        "/api/v1/public/token/refresh/",
        Endpoint::ModifyPayload,
    ),
    (
        Method::DELETE,
        "/api/v1/public/token/refresh/",
        Endpoint::DestroyRefresh,
    ),
    (
        Method::POST,
        "/api/v1/public/token/access/verify",
        Endpoint::AccessVerify,
    ),
    (
        Method::POST,
        "/api/v1/public/token/access/user/info",
        Endpoint::AccessUserInfo,
    ),
    (Method::GET, "/api/v1/public/user/info", Endpoint::UserInfo),
    (Method::GET, "/api/v1/public/app/", Endpoint::PublicApp),
];

/// The static children of `/api/v1/public/login/`, which gin tries before the `:app` wildcard.
const LOGIN_STATIC: [&str; 3] = ["verify", "mfa", "passkey"];

enum Resolved {
    Endpoint(Endpoint),
    Redirect(String),
    NotFound,
}

fn resolve(method: &Method, path: &str) -> Resolved {
    let lookup = |p: &str| {
        ROUTES
            .iter()
            .find(|(m, route, _)| m == method && *route == p)
            .map(|(_, _, e)| *e)
    };
    if let Some(endpoint) = lookup(path) {
        return Resolved::Endpoint(endpoint);
    }
    let toggled = match path.strip_suffix('/') {
        Some(stripped) => stripped.to_owned(),
        None => format!("{path}/"),
    };
    // gin v1.10 tree.go `getValue`: a static match that leaves only "/" (or lacks it) is a
    // trailing-slash redirect, before any wildcard is tried: so `POST .../login/verify/` is a
    // 307 to `.../login/verify`, not the `:app` route.
    if lookup(&toggled).is_some() {
        return Resolved::Redirect(toggled);
    }
    if method == Method::POST {
        if let Some(app) = path
            .strip_prefix("/api/v1/public/login/")
            .and_then(|rest| rest.strip_suffix('/'))
        {
            if !app.is_empty() && !app.contains('/') && !LOGIN_STATIC.contains(&app) {
                return Resolved::Endpoint(Endpoint::ThirdPartyLogin);
            }
        }
    }
    Resolved::NotFound
}

/// Every request the admin and login-page routes do not claim ends up here.
pub async fn production(State(state): State<SharedState>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let raw_query = request.uri().query().unwrap_or("").to_owned();
    match resolve(&method, &path) {
        Resolved::Endpoint(endpoint) => {
            // gin's `c.ContentType()`: the media type up to the first space or semicolon.
            let content_type = request
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.split([' ', ';']).next().unwrap_or("").to_owned())
                .unwrap_or_default();
            let headers = request.headers().clone();
            let peer = request
                .extensions()
                .get::<crate::server::PeerAddr>()
                .map(|p| p.0.ip());
            let body = match to_bytes(request.into_body(), BODY_LIMIT).await {
                Ok(body) => body,
                Err(_) => return ApiError::from(codes::FORM).into_response(),
            };
            let request = Incoming {
                method: &method,
                raw_query: &raw_query,
                content_type: &content_type,
                headers: &headers,
                peer,
                body: &body,
            };
            match handle(&state, endpoint, &request) {
                Ok(response) => response,
                Err(error) => error.into_response(),
            }
        }
        Resolved::Redirect(to) => redirect(&method, &to, &raw_query),
        Resolved::NotFound => not_found(&method),
    }
}

/// gin's `redirectTrailingSlash`: 301 for GET (with Go's small HTML body), 307 otherwise.
fn redirect(method: &Method, to: &str, raw_query: &str) -> Response {
    let location = if raw_query.is_empty() {
        to.to_owned()
    } else {
        format!("{to}?{raw_query}")
    };
    let Ok(location_value) = HeaderValue::from_str(&location) else {
        return not_found(method);
    };
    let mut response = if method == Method::GET {
        let body = format!(
            "<a href=\"{}\">Moved Permanently</a>.\n\n",
            crate::login_page::html_escape(&location)
        );
        let mut r = (StatusCode::MOVED_PERMANENTLY, body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        r
    } else {
        StatusCode::TEMPORARY_REDIRECT.into_response()
    };
    response
        .headers_mut()
        .insert(header::LOCATION, location_value);
    response
}

/// GET falls through to the front end's index.html; other methods get gin's 404.
pub fn not_found(method: &Method) -> Response {
    if method == Method::GET {
        let mut r = (StatusCode::OK, crate::login_page::front_end_index()).into_response();
        let headers = r.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        r
    } else {
        let mut r = (StatusCode::NOT_FOUND, "404 page not found").into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        r
    }
}

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

#[derive(Serialize)]
struct ServerKeys<'a> {
    ca: &'a str,
    jwt: &'a str,
}

/// What a handler sees of a request.
struct Incoming<'a> {
    method: &'a Method,
    raw_query: &'a str,
    content_type: &'a str,
    headers: &'a axum::http::HeaderMap,
    /// The client's address, for the rate limit (`c.ClientIP()`).
    peer: Option<std::net::IpAddr>,
    body: &'a [u8],
}

fn handle(
    state: &SharedState,
    endpoint: Endpoint,
    request: &Incoming<'_>,
) -> Result<Response, ApiError> {
    let Incoming {
        method,
        raw_query,
        content_type,
        body,
        ..
    } = *request;
    // `middlewares.Secure()` runs before these handlers (internal/api/middlewares/secure.go).
    if matches!(endpoint, Endpoint::PublicApp | Endpoint::ThirdPartyLogin) {
        let ip = request
            .peer
            .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
        if !state.rate_limit.admit(ip) {
            return Err(codes::REQUEST_FREQUENCY.into());
        }
    }
    match endpoint {
        Endpoint::ThirdPartyLogin => return Err(codes::FORM.into()),
        Endpoint::PublicApp => {
            return crate::public_app::app_info(state, raw_query, request.headers)
        }
        _ => {}
    }
    // internal/api/middlewares/app.go: the window is the server's own `time.Now()`.
    let signed = signature::verify(
        method,
        raw_query,
        body,
        state.clock.wall_now_ns(),
        |app_code| {
            state
                .store()
                .app_by_code(app_code)
                .map_err(|_| ApiError::from(codes::DB_OPERATION))
        },
    )?;
    match endpoint {
        Endpoint::LoginVerify => login_verify(state, &signed, raw_query, content_type),
        Endpoint::Refresh => refresh(state, &signed),
        Endpoint::ModifyPayload => modify_payload(state, &signed),
        Endpoint::DestroyRefresh => destroy_refresh(state, &signed),
        Endpoint::AccessVerify => access_verify(state, &signed),
        Endpoint::AccessUserInfo => access_user_info(state, &signed),
        Endpoint::UserInfo => user_info(state, raw_query),
        Endpoint::ServerKeys => Ok(success(ServerKeys {
            ca: &state.keys.ca_pem_base64,
            jwt: &state.keys.jwt_pem_base64,
        })),
        Endpoint::ThirdPartyLogin | Endpoint::PublicApp => Err(codes::FORM.into()),
    }
}

/// `CompleteLogin`.
fn login_verify(
    state: &SharedState,
    signed: &Signed,
    raw_query: &str,
    content_type: &str,
) -> Result<Response, ApiError> {
    // `c.ShouldBind` picks the binding from the Content-Type: JSON only for application/json,
    // otherwise form binding, which for a JSON body sees only the query string.
    let f = if content_type == "application/json" {
        signed.params.bind(&LOGIN_FIELDS)?
    } else {
        bind_query(&parse_go_form(raw_query)?, &LOGIN_FIELDS)?
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
fn refresh(state: &SharedState, signed: &Signed) -> Result<Response, ApiError> {
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
fn modify_payload(state: &SharedState, signed: &Signed) -> Result<Response, ApiError> {
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
fn destroy_refresh(state: &SharedState, signed: &Signed) -> Result<Response, ApiError> {
    let token = bind_token(signed)?;
    state.with_tokens(|tokens| {
        let claims = tokens
            .parse_recorded(&token, TokenType::Refresh)
            .ok()
            .flatten()
            .ok_or(ApiError::from(codes::TOKEN_INVALID))?;
        tokens
            .store
            .destroy_record_point(claims.id)
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

fn access_verify(state: &SharedState, signed: &Signed) -> Result<Response, ApiError> {
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
fn access_user_info(state: &SharedState, signed: &Signed) -> Result<Response, ApiError> {
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
fn user_info(state: &SharedState, raw_query: &str) -> Result<Response, ApiError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gin_routing() {
        assert!(matches!(
            resolve(&Method::POST, "/api/v1/app/token/refresh"),
            Resolved::Redirect(p) if p == "/api/v1/app/token/refresh/"
        ));
        assert!(matches!(
            resolve(&Method::POST, "/api/v1/app/token/access/verify/"),
            Resolved::Redirect(p) if p == "/api/v1/app/token/access/verify"
        ));
        assert!(matches!(
            resolve(&Method::GET, "/api/v1/app/token/refresh/"),
            Resolved::NotFound
        ));
        // gin v1.10 tree.go: the static `verify` wins, and its slash form redirects.
        assert!(matches!(
            resolve(&Method::POST, "/api/v1/public/login/verify/"),
            Resolved::Redirect(p) if p == "/api/v1/public/login/verify"
        ));
        assert!(matches!(
            resolve(&Method::POST, "/api/v1/public/login/feishu/"),
            Resolved::Endpoint(Endpoint::ThirdPartyLogin)
        ));
        assert!(matches!(
            resolve(&Method::GET, "/api/v1/public/app"),
            Resolved::Redirect(p) if p == "/api/v1/public/app/"
        ));
        assert_eq!(parse_go_uint("+1"), None);
        assert_eq!(parse_go_uint("12"), Some(12));
    }
}
