//! The production routes (`/api/...`) dispatched as gin dispatches them (gin.go:
//! `handleHTTPRequest`): a registered route runs its middlewares and handler; the other form of
//! a route (trailing slash added or removed) is redirected, 301 for GET and 307 otherwise,
//! before any middleware; anything else gets the server's NoRoute answer (the front end's
//! index.html for GET, gin's plain-text 404 otherwise).

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::api_request::{ApiRequest, PeerAddr};
use crate::codes;
use crate::envelope::{success, ApiError};
use crate::public_routes;
use crate::rate_limit::client_ip;
use crate::route_table::{resolve, Endpoint, Resolved};
use crate::signature;
use crate::state::SharedState;
use crate::token_routes;

/// gin reads whole bodies; this only guards the emulator's memory.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Every request the admin and login-page routes do not claim ends up here.
pub async fn production(State(state): State<SharedState>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let raw_query = request.uri().query().unwrap_or("").to_owned();
    let (endpoint, route) = match resolve(&method, &path) {
        Resolved::Route(endpoint, route) => (endpoint, route),
        Resolved::Redirect(to) => return redirect(&method, &to, &raw_query),
        Resolved::NotFound => return not_found(&method),
    };
    if endpoint.rate_limited() {
        let peer = request.extensions().get::<PeerAddr>().map(|p| p.0.ip());
        let ip = client_ip(request.headers(), peer);
        if !state.rate_limiter.admit(&ip, state.clock.server_now_ms()) {
            return ApiError::from(codes::REQUEST_FREQUENCY).into_response();
        }
    }
    let (content_type, host) = {
        let headers = request.headers();
        let text = |name| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let content_type = text(header::CONTENT_TYPE);
        let media_type = content_type
            .split([' ', ';'])
            .next()
            .unwrap_or("")
            .to_owned();
        (media_type, text(header::HOST))
    };
    let body = match to_bytes(request.into_body(), BODY_LIMIT).await {
        Ok(body) => body,
        Err(_) => return ApiError::from(codes::FORM).into_response(),
    };
    let api_request = ApiRequest {
        method: &method,
        raw_query: &raw_query,
        content_type: &content_type,
        body: &body,
        host: &host,
        route: &route,
    };
    match handle(&state, endpoint, &api_request) {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

fn handle(
    state: &SharedState,
    endpoint: Endpoint,
    request: &ApiRequest<'_>,
) -> Result<Response, ApiError> {
    if !endpoint.signed() {
        return public_routes::handle(state, endpoint, request);
    }
    // internal/api/middlewares/app.go: RequireAppSignature, against the server's wall clock.
    let signed = signature::verify(
        request.method,
        request.raw_query,
        request.body,
        state.clock.server_now_ns(),
        |app_code| {
            state
                .store()
                .app_by_code(app_code)
                .map_err(|_| ApiError::from(codes::DB_OPERATION))
        },
    )?;
    match endpoint {
        Endpoint::LoginVerify => token_routes::login_verify(state, &signed, request),
        Endpoint::Refresh => token_routes::refresh(state, &signed),
        Endpoint::ModifyPayload => token_routes::modify_payload(state, &signed),
        Endpoint::DestroyRefresh => token_routes::destroy_refresh(state, &signed),
        Endpoint::AccessVerify => token_routes::access_verify(state, &signed),
        Endpoint::AccessUserInfo => token_routes::access_user_info(state, &signed),
        Endpoint::UserInfo => token_routes::user_info(state, request.raw_query),
        Endpoint::ServerKeys => Ok(success(state.keys.server_keys())),
        Endpoint::ClientCertificate => token_routes::client_certificate(state, &signed),
        _ => Err(codes::UNEXPECTED.into()),
    }
}

/// gin.go `redirectRequest` and net/http's `http.Redirect`: the new path with the request's
/// query; GET gets 301 with Go's small HTML body, every other method 307 without a body.
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
