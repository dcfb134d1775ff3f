//! The emulator-only admin API under `/__emulator/` (not part of production). Answers are
//! plain JSON (no envelope); errors are `{"error":"…"}` with a 4xx/5xx status.

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use crate::callback_rule::check_callback;
use crate::clock::floor_seconds;
use crate::error::Error;
use crate::faults::FaultSpec;
use crate::live::TokenEvent;
use crate::login_page;
use crate::seed::random_code;
use crate::state::SharedState;

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/__emulator/info", get(info))
        .route("/__emulator/login-token", post(login_token))
        .route("/__emulator/apps", post(create_app))
        .route("/__emulator/users", post(create_user))
        .route("/__emulator/users/{id}/revoke-all", post(revoke_all))
        .route("/__emulator/users/{id}/groups", post(change_groups))
        .route("/__emulator/users/{id}/freeze", post(freeze_user))
        .route("/__emulator/clock", get(clock).post(set_clock))
        .route("/__emulator/grpc/drop", post(drop_grpc_connections))
        .route(
            "/__emulator/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route(
            "/__emulator/requests",
            get(request_counts).delete(reset_request_counts),
        )
}

/// The admin API's gate (src/admin_access.rs), on every `/__emulator/` path; the login
/// page's `/__emulator/authorize` gets the Host check only, and stays on with the admin API
/// disabled.
pub async fn guard(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !path.starts_with("/__emulator/") {
        return next.run(request).await;
    }
    let policy = &state.admin_policy;
    if path == "/__emulator/authorize" {
        if let Err(refusal) = policy.check_host(request.headers()) {
            return login_page::error_page(
                refusal.status,
                "请求的 Host 不是本模拟器。",
                &refusal.message,
            );
        }
        return next.run(request).await;
    }
    match policy.check_admin(request.method(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refusal) => AdminError(refusal.status, refusal.message).into_response(),
    }
}

/// An admin failure: status and message.
pub struct AdminError(StatusCode, String);

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<Error> for AdminError {
    fn from(error: Error) -> AdminError {
        let status = match &error {
            Error::UnknownApp(_) | Error::UnknownUser(_) => StatusCode::NOT_FOUND,
            Error::NoVisibleGroup { .. } => StatusCode::FORBIDDEN,
            Error::Invalid(_) | Error::Seed { .. } => StatusCode::BAD_REQUEST,
            Error::Database(_)
            | Error::Io(_)
            | Error::Corrupt(_)
            | Error::OpenAdminOffLoopback { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        AdminError(status, error.to_string())
    }
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, AdminError> {
    serde_json::from_slice(body)
        .map_err(|e| AdminError(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
}

async fn info(State(state): State<SharedState>) -> Json<crate::config::StartupInfo> {
    Json(state.info.clone())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoginTokenRequest {
    app_code: String,
    uid: u64,
}

async fn login_token(
    State(state): State<SharedState>,
    body: Bytes,
) -> Result<Response, AdminError> {
    let request: LoginTokenRequest = parse(&body)?;
    let token = state.login_token(&request.app_code, request.uid)?;
    Ok(Json(json!({ "token": token })).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateAppRequest {
    name: String,
    callback: String,
    groups: Option<Vec<String>>,
    permit_all_group: Option<bool>,
}

async fn create_app(State(state): State<SharedState>, body: Bytes) -> Result<Response, AdminError> {
    let request: CreateAppRequest = parse(&body)?;
    if request.name.trim().is_empty() {
        return Err(Error::Invalid("name must not be empty".into()).into());
    }
    check_callback(&request.callback, state.allow_any_callback)?;
    let app = state.store().create_app(
        &request.name,
        &request.callback,
        &random_code(8),
        &random_code(100),
        request.groups.as_deref(),
        request.permit_all_group.unwrap_or(true),
        false,
    )?;
    Ok(Json(json!({ "appCode": app.app_code, "appSecret": app.app_secret })).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateUserRequest {
    name: String,
    #[serde(default)]
    groups: Vec<String>,
    avatar_url: Option<String>,
}

async fn create_user(
    State(state): State<SharedState>,
    body: Bytes,
) -> Result<Response, AdminError> {
    let request: CreateUserRequest = parse(&body)?;
    if request.name.trim().is_empty() {
        return Err(Error::Invalid("name must not be empty".into()).into());
    }
    let id = state.store().create_user(
        None,
        &request.name,
        &request.groups,
        request.avatar_url.as_deref(),
    )?;
    // UserJwtOperator.Create: a new user's oid 1 is published too.
    state.live.publish(TokenEvent::Oid { uid: id, oid: 1 });
    Ok(Json(json!({ "id": id })).into_response())
}

fn parse_uid(id: &str) -> Result<u64, AdminError> {
    id.parse()
        .map_err(|_| AdminError(StatusCode::BAD_REQUEST, format!("invalid user id {id:?}")))
}

/// internal/db/redis/UserJwt.go `ChangeOperateID`: every token of the user gets code 31.
async fn revoke_all(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let uid = parse_uid(&id)?;
    let oid = state
        .store()
        .bump_oid(uid)?
        .ok_or(Error::UnknownUser(uid))?;
    state.live.publish(TokenEvent::Oid { uid, oid });
    Ok(Json(json!({ "oid": oid })).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GroupsRequest {
    groups: Vec<String>,
}

/// A Feishu department change (internal/api/controllers/feishu/webhook.go `userUpdated`): the
/// user's groups are replaced and their oid bumped, so every token of theirs gets code 31.
async fn change_groups(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, AdminError> {
    let uid = parse_uid(&id)?;
    let request: GroupsRequest = parse(&body)?;
    let store = state.store();
    let oid = store
        .replace_user_groups(uid, &request.groups)?
        .ok_or(Error::UnknownUser(uid))?;
    let groups: Vec<String> = store
        .user_groups(uid)?
        .into_iter()
        .map(|g| g.name)
        .collect();
    state.live.publish(TokenEvent::Oid { uid, oid });
    Ok(Json(json!({ "oid": oid, "groups": groups })).into_response())
}

/// A user who left (internal/pkg/feishu/UserSync.go, webhook.go): frozen and their oid
/// deleted (published as 0): every token gets code 31, the user can no longer sign in and is
/// left out of the public user info.
async fn freeze_user(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let uid = parse_uid(&id)?;
    if !state.store().freeze_user(uid)? {
        return Err(Error::UnknownUser(uid).into());
    }
    state.live.publish(TokenEvent::Oid { uid, oid: 0 });
    Ok(Json(json!({ "oid": 0 })).into_response())
}

/// Closes every open connection of the gRPC App service at once (streams included), as a
/// network failure would: `{"dropped": <connections that were open>}`.
async fn drop_grpc_connections(State(state): State<SharedState>) -> Response {
    let dropped = state.live.drop_connections();
    Json(json!({ "dropped": dropped })).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClockRequest {
    advance_seconds: Option<i64>,
    offset_seconds: Option<i64>,
    skew_seconds: Option<i64>,
}

/// `now`: token time; `serverNow`: the server's wall clock (signature window, `Date`).
fn clock_state(state: &SharedState) -> Response {
    Json(json!({
        "offsetSeconds": state.clock.offset_seconds(),
        "skewSeconds": state.clock.skew_seconds(),
        "now": floor_seconds(state.clock.now_ms()),
        "serverNow": floor_seconds(state.clock.server_now_ms()),
    }))
    .into_response()
}

async fn clock(State(state): State<SharedState>) -> Response {
    clock_state(&state)
}

async fn set_clock(State(state): State<SharedState>, body: Bytes) -> Result<Response, AdminError> {
    let request: ClockRequest = parse(&body)?;
    if request.advance_seconds.is_none()
        && request.offset_seconds.is_none()
        && request.skew_seconds.is_none()
    {
        return Err(
            Error::Invalid("give advanceSeconds, offsetSeconds or skewSeconds".into()).into(),
        );
    }
    if let Some(skew) = request.skew_seconds {
        state.clock.set_skew_seconds(skew);
    }
    if let Some(offset) = request.offset_seconds {
        state.clock.set_offset_seconds(offset);
    }
    if let Some(advance) = request.advance_seconds {
        state.clock.advance_seconds(advance);
    }
    Ok(clock_state(&state))
}

async fn list_faults(State(state): State<SharedState>) -> Response {
    Json(state.faults.list()).into_response()
}

async fn add_fault(State(state): State<SharedState>, body: Bytes) -> Result<Response, AdminError> {
    let spec: FaultSpec = parse(&body)?;
    if spec.times == Some(0) {
        return Err(Error::Invalid("times must be at least 1".into()).into());
    }
    let id = state.faults.add(spec);
    Ok(Json(json!({ "id": id })).into_response())
}

async fn clear_faults(State(state): State<SharedState>) -> Response {
    let cleared = state.faults.clear();
    Json(json!({ "cleared": cleared })).into_response()
}

async fn request_counts(State(state): State<SharedState>) -> Response {
    Json(state.requests.snapshot()).into_response()
}

async fn reset_request_counts(State(state): State<SharedState>) -> Response {
    state.requests.reset();
    Json(json!({})).into_response()
}
