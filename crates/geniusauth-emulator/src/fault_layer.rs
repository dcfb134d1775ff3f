//! The middleware that applies the registered faults to the production routes (every path
//! under `/api/`) and counts their requests (see src/faults.rs).

use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::faults::{DropConnection, FaultKind, PRODUCTION_PREFIX};
use crate::state::SharedState;

pub async fn middleware(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if !path.starts_with(PRODUCTION_PREFIX) {
        return next.run(request).await;
    }
    let method = request.method().as_str().to_owned();
    state.requests.record(&method, &path);
    let plan = state.faults.plan(&method, &path);
    if plan.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(plan.delay_ms)).await;
    }
    match plan.kind {
        None | Some(FaultKind::Latency) => next.run(request).await,
        Some(FaultKind::Http500) => nginx_error(StatusCode::INTERNAL_SERVER_ERROR),
        Some(FaultKind::Http502) => nginx_error(StatusCode::BAD_GATEWAY),
        Some(FaultKind::Drop) => {
            let mut response = StatusCode::OK.into_response();
            response.extensions_mut().insert(DropConnection);
            response
        }
        Some(FaultKind::Truncated) => truncate(next.run(request).await).await,
    }
}

fn nginx_error(status: StatusCode) -> Response {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let body = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    headers.insert(header::SERVER, HeaderValue::from_static("nginx"));
    response
}

/// The real answer, cut in half, announced as a complete HTTP 200 JSON response.
async fn truncate(response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    let mut cut = Response::new(Body::from(half));
    *cut.status_mut() = StatusCode::OK;
    if let Some(content_type) = parts.headers.get(header::CONTENT_TYPE) {
        cut.headers_mut()
            .insert(header::CONTENT_TYPE, content_type.clone());
    }
    cut
}
