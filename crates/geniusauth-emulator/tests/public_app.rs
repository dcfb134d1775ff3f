//! `GET /api/v1/public/app/` (internal/api/controllers/public/app/data.go AppInfo) and the rate
//! limit of the unsigned public routes (internal/api/middlewares/secure.go, Mmx233/secure/v2's
//! Redis driver: one counter per client IP shared by every Secure() route).

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

const APP_INFO: &str = "/api/v1/public/app/";

async fn get(h: &Harness, path_and_query: &str, client_ip: Option<&str>) -> Reply {
    let mut request = h.http.get(h.url(path_and_query));
    if let Some(ip) = client_ip {
        request = request.header("x-forwarded-for", ip);
    }
    reply(request.send().await.expect("send")).await
}

/// data.go AppInfo: `{"host","name"}` of the app's callback; code 3 for an unknown appCode;
/// without one, the server's own name and the request's Host.
#[tokio::test]
async fn app_info_reply_shapes() {
    let h = Harness::start().await;
    let r = get(&h, &format!("{APP_INFO}?appCode={}", h.info.app_code), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.text,
        r#"{"code":0,"data":{"host":"localhost:47150","name":"Genius Account 演示"}}"#
    );
    let r = get(&h, &format!("{APP_INFO}?appCode=Nope1234"), None).await;
    r.assert_error(3, 404);
    assert_eq!(r.json()["msg"], "没有找到授权码");
    let host = h.info.url.trim_start_matches("http://").to_owned();
    let r = get(&h, APP_INFO, None).await;
    assert_eq!(r.data(), json!({"host": host, "name": "统一授权系统"}));
    // ShouldBind's form binding: a malformed query is code 1.
    get(&h, &format!("{APP_INFO}?appCode=a;b"), None)
        .await
        .assert_error(1, 400);
    // The slash-less form redirects (gin), the query kept.
    let r = get(&h, "/api/v1/public/app?appCode=X", None).await;
    assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(r.headers["location"], "/api/v1/public/app/?appCode=X");
}

/// secure.go: 60 requests a minute per IP, shared by /public/app/, /public/login/mfa and
/// /public/login/:app/...; the 61st is code 19 (HTTP 403); signed app routes are not limited,
/// another client IP has its own counter, and redirects happen before any middleware.
#[tokio::test]
async fn public_routes_share_one_rate_limit_per_ip() {
    let h = Harness::start().await;
    let ip = Some("198.51.100.7");
    let app_info = format!("{APP_INFO}?appCode={}", h.info.app_code);
    for i in 0..30 {
        let r = get(&h, &app_info, ip).await;
        assert_eq!(r.status, StatusCode::OK, "request {i}: {}", r.text);
    }
    for i in 0..30 {
        let r = reply(
            h.http
                .post(h.url("/api/v1/public/login/feishu/"))
                .header("x-forwarded-for", "198.51.100.7")
                .json(&json!({}))
                .send()
                .await
                .expect("send"),
        )
        .await;
        assert_eq!(r.code(), 1, "request {i}: {}", r.text);
    }
    let r = get(&h, &app_info, ip).await;
    r.assert_error(19, 403);
    assert_eq!(r.json()["msg"], "操作频繁，请稍后重试");
    let r = reply(
        h.http
            .post(h.url("/api/v1/public/login/mfa"))
            .header("x-forwarded-for", "198.51.100.7")
            .json(&json!({"token": "t", "code": "123456"}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    r.assert_error(19, 403);
    // Another client, and the peer itself without the header, are counted apart.
    assert_eq!(get(&h, &app_info, Some("198.51.100.8")).await.code(), 0);
    assert_eq!(get(&h, &app_info, None).await.code(), 0);
    // Redirects come first, signed routes have no limit.
    let r = get(&h, "/api/v1/public/app", ip).await;
    assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
    for _ in 0..3 {
        let r = reply(
            h.http
                .get(h.url(SERVER_KEYS))
                .header("x-forwarded-for", "198.51.100.7")
                .query(&signed_query(&h))
                .send()
                .await
                .expect("send"),
        )
        .await;
        assert_eq!(r.code(), 0, "{}", r.text);
    }
}

fn signed_query(h: &Harness) -> Vec<(String, String)> {
    h.signed(json!({}))
        .into_iter()
        .map(|(k, v)| (k, v.as_str().map_or(v.to_string(), str::to_owned)))
        .collect()
}
