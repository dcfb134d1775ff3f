//! The admin API's fault injection and request counters.

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn add_fault(h: &Harness, fault: serde_json::Value) -> u64 {
    let r = h
        .admin(Method::POST, "/__emulator/faults", Some(fault))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()["id"].as_u64().expect("fault id")
}

#[tokio::test]
async fn http_error_faults_answer_like_nginx() {
    let h = Harness::start().await;
    add_fault(
        &h,
        json!({"path": SERVER_KEYS, "kind": "http502", "times": 1}),
    )
    .await;
    add_fault(
        &h,
        json!({"path": SERVER_KEYS, "method": "get", "kind": "http500", "times": 1}),
    )
    .await;
    let r = h.call(Method::GET, SERVER_KEYS, json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert!(r.text.contains("502 Bad Gateway") && r.text.contains("nginx"));
    assert!(r.headers["content-type"]
        .to_str()
        .is_ok_and(|c| c.starts_with("text/html")));
    let r = h.call(Method::GET, SERVER_KEYS, json!({})).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.text.contains("500 Internal Server Error"));
    // Both used up.
    assert_eq!(h.call(Method::GET, SERVER_KEYS, json!({})).await.code(), 0);
    // A method filter that does not match leaves the request alone.
    add_fault(
        &h,
        json!({"path": SERVER_KEYS, "method": "POST", "kind": "http500"}),
    )
    .await;
    assert_eq!(h.call(Method::GET, SERVER_KEYS, json!({})).await.code(), 0);
}

#[tokio::test]
async fn truncated_and_dropped_responses() {
    let h = Harness::start().await;
    add_fault(&h, json!({"kind": "truncated", "times": 1})).await;
    let r = h.call(Method::GET, SERVER_KEYS, json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.starts_with("{\"code\":0"), "{}", r.text);
    assert!(
        serde_json::from_str::<serde_json::Value>(&r.text).is_err(),
        "cut in half"
    );

    add_fault(&h, json!({"path": REFRESH, "kind": "drop", "times": 1})).await;
    let params = h.signed(json!({"token": "x"}));
    let dropped = h.http.post(h.url(REFRESH)).json(&params).send().await;
    assert!(dropped.is_err(), "connection closed without a response");
    // Other paths are unaffected, and the fault is used up.
    assert_eq!(h.call(Method::GET, SERVER_KEYS, json!({})).await.code(), 0);
    h.call(Method::POST, REFRESH, json!({"token": "x"}))
        .await
        .assert_error(31, 403);
}

#[tokio::test]
async fn latency_and_clearing() {
    let h = Harness::start().await;
    add_fault(&h, json!({"kind": "latency", "delayMs": 300})).await;
    let started = Instant::now();
    assert_eq!(h.call(Method::GET, SERVER_KEYS, json!({})).await.code(), 0);
    assert!(started.elapsed() >= Duration::from_millis(300));
    // Admin routes are not production routes: no delay.
    let started = Instant::now();
    let listed = h
        .admin(Method::GET, "/__emulator/faults", None)
        .await
        .json();
    assert!(started.elapsed() < Duration::from_millis(300));
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let cleared = h
        .admin(Method::DELETE, "/__emulator/faults", None)
        .await
        .json();
    assert_eq!(cleared["cleared"], 1);
    let started = Instant::now();
    assert_eq!(h.call(Method::GET, SERVER_KEYS, json!({})).await.code(), 0);
    assert!(started.elapsed() < Duration::from_millis(300));
    let bad = h
        .admin(
            Method::POST,
            "/__emulator/faults",
            Some(json!({"kind": "explode"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn request_counts() {
    let h = Harness::start().await;
    let data = h.sign_in(json!({})).await;
    h.admin(Method::DELETE, "/__emulator/requests", None).await;
    for _ in 0..3 {
        h.call(
            Method::POST,
            REFRESH,
            json!({"token": data["refreshToken"]}),
        )
        .await;
    }
    h.call(Method::GET, SERVER_KEYS, json!({})).await;
    h.call(Method::POST, "/api/v1/app/token/refresh", json!({}))
        .await;
    add_fault(&h, json!({"kind": "http502", "times": 1})).await;
    h.call(Method::POST, ACCESS_VERIFY, json!({"token": "x"}))
        .await;
    h.admin(Method::GET, "/__emulator/info", None).await;
    let counts = h
        .admin(Method::GET, "/__emulator/requests", None)
        .await
        .json();
    assert_eq!(
        counts,
        json!({
            "POST /api/v1/app/token/refresh/": 3,
            "GET /api/v1/app/keypair/server": 1,
            "POST /api/v1/app/token/refresh": 1,
            "POST /api/v1/app/token/access/verify": 1,
        })
    );
    h.admin(Method::DELETE, "/__emulator/requests", None).await;
    assert_eq!(
        h.admin(Method::GET, "/__emulator/requests", None)
            .await
            .json(),
        json!({})
    );
}
