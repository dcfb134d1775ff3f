//! Fault injection and request counting on the production routes (every path under `/api/`).
//!
//! Faults model what sits between a client and the real server: a slow network (`latency`),
//! nginx error pages when the upstream fails (`http500`, `http502`, the request never reaches
//! the server), a response cut off after the server did its work (`truncated`) and a connection
//! closed without any answer (`drop`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

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
pub struct Plan {
    pub delay_ms: u64,
    pub kind: Option<FaultKind>,
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
    pub fn plan(&self, method: &str, path: &str) -> Plan {
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
    pub fn record(&self, method: &str, path: &str) {
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
