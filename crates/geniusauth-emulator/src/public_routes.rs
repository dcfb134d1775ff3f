//! The unsigned public routes the emulator answers (`internal/api/controllers/public/...`),
//! and the answers of the routes it registers only so that gin's routing matches the server.
//! The rate limit (`middlewares.Secure()`) has already been applied by the dispatcher.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::api_request::ApiRequest;
use crate::binding::{bind_json, field, BoundFields, Field, Kind};
use crate::callback_rule::go_url_host;
use crate::codes;
use crate::envelope::{go_json, success, ApiError};
use crate::gojson::decode_first;
use crate::route_table::Endpoint;
use crate::state::SharedState;

/// `global.ThisAppName` (internal/global/config.go).
const THIS_APP_NAME: &str = "统一授权系统";
/// The third-party sign-in providers (`thirdPartyLogin.go`: `appDingTalk`, `appFeishu`).
const THIRD_PARTY_APPS: [&str; 2] = ["dingTalk", "feishu"];

pub fn handle(
    state: &SharedState,
    endpoint: Endpoint,
    request: &ApiRequest<'_>,
) -> Result<Response, ApiError> {
    match endpoint {
        Endpoint::AppInfo => app_info(state, request),
        Endpoint::VerifyMfa => verify_mfa(request),
        Endpoint::ThirdPartySelfLogin => third_party_login(state, request, false),
        Endpoint::ThirdPartyLogin => third_party_login(state, request, true),
        Endpoint::SelfLoginLink => Ok(self_login_link(state, request)),
        Endpoint::LoginLink => login_link(state, request),
        // internal/api/middlewares/auth.go: UserAuth, no `Authorization: User …` token.
        Endpoint::UserSession => Err(codes::UNAUTHORIZED.into()),
        _ => Err(codes::FORM.into()),
    }
}

/// gin's `c.ShouldBind`: JSON for `application/json` (an empty body is an error too),
/// otherwise form binding (query string, plus an urlencoded body for POST).
fn should_bind(request: &ApiRequest<'_>, fields: &[Field]) -> Result<BoundFields, ApiError> {
    if request.content_type == "application/json" {
        let value = decode_first(request.body).map_err(|_| ApiError::from(codes::FORM))?;
        Ok(bind_json(&value, fields)?)
    } else {
        Ok(request.bind_form(fields)?)
    }
}

/// `binding:"required"` on a string.
fn required<'f>(fields: &'f BoundFields, name: &str) -> Result<&'f str, ApiError> {
    match fields.str(name) {
        "" => Err(codes::FORM.into()),
        value => Ok(value),
    }
}

#[derive(Serialize)]
struct AppInfo {
    host: String,
    name: String,
}

/// `AppInfo` (internal/api/controllers/public/app/data.go): the app's name and its callback's
/// host (port included); without an appCode, the server's own name and the request's Host.
fn app_info(state: &SharedState, request: &ApiRequest<'_>) -> Result<Response, ApiError> {
    let f = should_bind(request, &[field("appCode", Kind::Str)])?;
    let app_code = f.str("appCode");
    if app_code.is_empty() {
        return Ok(success(AppInfo {
            host: request.host.to_owned(),
            name: THIS_APP_NAME.to_owned(),
        }));
    }
    let app = state
        .store()
        .app_by_code(app_code)
        .map_err(|_| ApiError::from(codes::DB_OPERATION))?
        .ok_or(ApiError::from(codes::APP_CODE_NOT_FOUND))?;
    let host = go_url_host(&app.callback).ok_or(ApiError::from(codes::UNEXPECTED))?;
    Ok(success(AppInfo {
        host,
        name: app.name,
    }))
}

/// go-playground/validator's `numeric`: `^[-+]?[0-9]+(?:\.[0-9]+)?$`.
fn is_numeric(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && fraction.is_none_or(digits)
}

/// `VerifyMfa` (internal/api/controllers/public/login/mfa.go): after the binding
/// (`token` required, `code` six numeric characters) the MFA token is parsed; the emulator
/// never issues one, so every token is refused with code 6 as an invalid one is.
fn verify_mfa(request: &ApiRequest<'_>) -> Result<Response, ApiError> {
    let f = should_bind(
        request,
        &[field("token", Kind::Str), field("code", Kind::Str)],
    )?;
    required(&f, "token")?;
    let code = required(&f, "code")?;
    if code.chars().count() != 6 || !is_numeric(code) {
        return Err(codes::FORM.into());
    }
    Err(codes::UNAUTHORIZED.into())
}

/// `ThirdPartySelfLogin` / `ThirdPartyLogin` (internal/api/controllers/public/login/
/// thirdPartyLogin.go): bind `code`, check the target appCode, pick the provider (`:app`),
/// then exchange the code with Feishu or DingTalk, which the offline emulator cannot reach:
/// code 5, as when the provider refuses the code.
fn third_party_login(
    state: &SharedState,
    request: &ApiRequest<'_>,
    for_app: bool,
) -> Result<Response, ApiError> {
    let f = should_bind(request, &[field("code", Kind::Str)])?;
    required(&f, "code")?;
    if for_app {
        check_app_code(state, request.route.param("appCode"))?;
    }
    if !THIRD_PARTY_APPS.contains(&request.route.param("app")) {
        return Err(codes::FORM.into());
    }
    Err(codes::REMOTE_OPERATION_FAILED.into())
}

fn check_app_code(state: &SharedState, app_code: &str) -> Result<(), ApiError> {
    match state.store().app_by_code(app_code) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(codes::APP_CODE_NOT_FOUND.into()),
        Err(_) => Err(codes::DB_OPERATION.into()),
    }
}

#[derive(Serialize)]
struct LoginLink {
    url: String,
}

/// Where the provider's sign-in would start; offline, the emulator's own login page
/// stands in for Feishu's and DingTalk's.
fn login_page_url(state: &SharedState, app_code: &str) -> String {
    if app_code.is_empty() {
        format!("{}/", state.base_url)
    } else {
        format!("{}/?appCode={app_code}", state.base_url)
    }
}

/// `GetSelfLoginLink`: for an unknown provider, `genLoginLink` writes the code-1 error and
/// the handler then writes its success too, so the server answers HTTP 400 with both JSON
/// documents one after the other.
fn self_login_link(state: &SharedState, request: &ApiRequest<'_>) -> Response {
    if THIRD_PARTY_APPS.contains(&request.route.param("app")) {
        return success(LoginLink {
            url: login_page_url(state, ""),
        });
    }
    let error = go_json(&serde_json::json!({"code": codes::FORM.code, "msg": codes::FORM.msg}));
    let empty = go_json(&serde_json::json!({"code": 0, "data": {"url": ""}}));
    let mut response = Response::new(Body::from(format!("{error}{empty}")));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response.into_response()
}

/// `GetLoginLink`: the appCode is checked first; an unknown provider is code 1.
fn login_link(state: &SharedState, request: &ApiRequest<'_>) -> Result<Response, ApiError> {
    let app_code = request.route.param("appCode");
    check_app_code(state, app_code)?;
    if !THIRD_PARTY_APPS.contains(&request.route.param("app")) {
        return Err(codes::FORM.into());
    }
    Ok(success(LoginLink {
        url: login_page_url(state, app_code),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validator_numeric() {
        for yes in ["123456", "+12345", "-1.234", "12.345"] {
            assert!(is_numeric(yes), "{yes}");
        }
        for no in ["", "12a456", "1.", ".5", "+", "1.2.3"] {
            assert!(!is_numeric(no), "{no}");
        }
    }
}
