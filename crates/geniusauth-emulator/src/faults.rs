//! Fault injection and request counting on the production routes (every path under `/api/`).
//!
//! Faults model what sits between a client and the real server: a slow network (`latency`),
//! nginx error pages when the upstream fails (`http500`, `http502`, the request never reaches
//! the server), a response cut off after the server did its work (`truncated`) and a connection
//! closed without any answer (`drop`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::state::SharedState;

/// Only paths under this prefix are production routes.
pub const PRODUCTION_PREFIX: &str = "/api/";
/// A latency fault without `delayMs` waits this long.
const DEFAULT_LATENCY_MS: u64 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    Latency,
    Http500,
    Http502,
    Truncated,
    Drop,
}

/// A fault as registered through `POST /__emulator/faults`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    pub kind: FaultKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    pub id: u64,
    #[serde(flatten)]
    pub spec: FaultSpec,
}

/// Marks a response that must not be sent: the connection is closed instead.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

#[derive(Debug, Default)]
pub struct Faults {
    active: Mutex<Vec<Fault>>,
    next_id: AtomicU64,
}

/// What to do with one request.
#[derive(Debug, Default, PartialEq, Eq)]
struct Plan {
    delay_ms: u64,
    kind: Option<FaultKind>,
}

impl Faults {
    pub fn add(&self, spec: FaultSpec) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst) + 1;
        lock(&self.active).push(Fault { id, spec });
        id
    }

    pub fn clear(&self) -> usize {
        let mut active = lock(&self.active);
        let n = active.len();
        active.clear();
        n
    }

    pub fn list(&self) -> Vec<Fault> {
        lock(&self.active).clone()
    }

    /// Consumes one use of every matching fault: their delays add up, and the oldest
    /// non-latency fault decides the outcome.
    fn plan(&self, method: &str, path: &str) -> Plan {
        let mut plan = Plan::default();
        let mut active = lock(&self.active);
        for fault in active.iter_mut() {
            let spec = &mut fault.spec;
            let path_matches = spec.path.as_deref().is_none_or(|p| p == path);
            let method_matches = spec
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method));
            if !path_matches || !method_matches || spec.times == Some(0) {
                continue;
            }
            if spec.kind != FaultKind::Latency && plan.kind.is_some() {
                continue;
            }
            if let Some(times) = spec.times.as_mut() {
                *times -= 1;
            }
            let default_delay = if spec.kind == FaultKind::Latency {
                DEFAULT_LATENCY_MS
            } else {
                0
            };
            plan.delay_ms = plan
                .delay_ms
                .saturating_add(spec.delay_ms.unwrap_or(default_delay));
            if spec.kind != FaultKind::Latency {
                plan.kind = Some(spec.kind);
            }
        }
        active.retain(|f| f.spec.times != Some(0));
        plan
    }
}

/// Counts of production-route requests, keyed `"METHOD /path"`.
#[derive(Debug, Default)]
pub struct RequestCounts {
    counts: Mutex<BTreeMap<String, u64>>,
}

impl RequestCounts {
    fn record(&self, method: &str, path: &str) {
        *lock(&self.counts)
            .entry(format!("{method} {path}"))
            .or_insert(0) += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        lock(&self.counts).clone()
    }

    pub fn reset(&self) {
        lock(&self.counts).clear();
    }
}

/// A poisoned lock only means another request panicked; the data is still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: FaultKind, path: Option<&str>, times: Option<u64>) -> FaultSpec {
        FaultSpec {
            path: path.map(str::to_owned),
            method: None,
            kind,
            delay_ms: None,
            times,
        }
    }

    #[test]
    fn plans_consume_uses() {
        let faults = Faults::default();
        faults.add(spec(FaultKind::Http502, Some("/api/a"), Some(1)));
        faults.add(spec(FaultKind::Latency, None, None));
        let first = faults.plan("POST", "/api/a");
        assert_eq!(first.kind, Some(FaultKind::Http502));
        assert_eq!(first.delay_ms, DEFAULT_LATENCY_MS);
        let second = faults.plan("POST", "/api/a");
        assert_eq!(second.kind, None);
        assert_eq!(faults.list().len(), 1);
        assert_eq!(faults.clear(), 1);
        assert_eq!(faults.plan("GET", "/api/b"), Plan::default());
    }
}
