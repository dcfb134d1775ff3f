//! gin v1.10's routing of the server's route table (gin.go `handleHTTPRequest`,
//! `redirectTrailingSlash`; tree.go `getValue`; internal/api/router/): the other form of every
//! registered route redirects (301 for GET, 307 otherwise, the query kept), and the routes the
//! emulator does not model answer as the server does without credentials.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn plain(h: &Harness, method: Method, path: &str) -> Reply {
    reply(
        h.http
            .request(method, h.url(path))
            .send()
            .await
            .expect("send"),
    )
    .await
}

/// gin.go redirectTrailingSlash + net/http http.Redirect: Location, status, GET body.
#[tokio::test]
async fn every_route_has_a_redirecting_other_form() {
    let h = Harness::start().await;
    for (method, path, location) in [
        (
            Method::POST,
            "/api/v1/public/login/verify/?x=1",
            "/api/v1/public/login/verify?x=1",
        ),
        (
            Method::POST,
            "/api/v1/public/login/mfa/",
            "/api/v1/public/login/mfa",
        ),
        (
            Method::POST,
            "/api/v1/public/login/feishu",
            "/api/v1/public/login/feishu/",
        ),
        (
            Method::PATCH,
            "/api/v1/public/token/refresh",
            "/api/v1/public/token/refresh/",
        ),
        (
            Method::POST,
            "/api/v1/app/keypair/rpc/",
            "/api/v1/app/keypair/rpc",
        ),
        (Method::PUT, "/api/v1/user/dev/app", "/api/v1/user/dev/app/"),
        (
            Method::DELETE,
            "/api/v1/user/mfa?id=3",
            "/api/v1/user/mfa/?id=3",
        ),
    ] {
        let r = plain(&h, method.clone(), path).await;
        assert_eq!(r.status, StatusCode::TEMPORARY_REDIRECT, "{method} {path}");
        assert_eq!(r.headers["location"], location, "{method} {path}");
        assert!(r.text.is_empty(), "{method} {path}: no body but GET's");
    }
    for (path, location) in [
        (
            "/api/v1/public/app?appCode=Ab3dE6g8",
            "/api/v1/public/app/?appCode=Ab3dE6g8",
        ),
        (
            "/api/v1/app/user/info/?id=1,2",
            "/api/v1/app/user/info?id=1,2",
        ),
        (
            "/api/v1/public/login/feishu/link",
            "/api/v1/public/login/feishu/link/",
        ),
        ("/api/v1/user/profile", "/api/v1/user/profile/"),
    ] {
        let r = plain(&h, Method::GET, path).await;
        assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY, "{path}");
        assert_eq!(r.headers["location"], location, "{path}");
        assert_eq!(r.headers["content-type"], "text/html; charset=utf-8");
        assert_eq!(
            r.text,
            format!(
                "<a href=\"{}\">Moved Permanently</a>.\n\n",
                location.replace('&', "&amp;")
            )
        );
    }
}

/// gin.go: a 307 keeps the method and the body, so a client that follows it gets the route.
#[tokio::test]
async fn a_followed_307_reaches_login_verify() {
    let h = Harness::start().await;
    let token = h.login_token(h.uid()).await;
    let following = reqwest::Client::new();
    let params = h.signed(json!({"token": token}));
    let r = send(
        &following,
        &h.info.url,
        Method::POST,
        "/api/v1/public/login/verify/",
        &params,
    )
    .await;
    assert_eq!(r.data()["userID"], h.uid());
}

/// internal/api/middlewares/auth.go UserAuth: no user token, code 6; and the public login
/// routes' first checks (internal/api/controllers/public/login/thirdPartyLogin.go, mfa.go).
#[tokio::test]
async fn unmodelled_routes_answer_like_the_server_without_credentials() {
    let h = Harness::start().await;
    plain(&h, Method::GET, "/api/v1/user/profile/")
        .await
        .assert_error(6, 401);
    plain(&h, Method::POST, "/api/v1/user/u2f/phone")
        .await
        .assert_error(6, 401);
    let post = |path: &'static str, body: serde_json::Value| {
        let request = h.http.post(h.url(path)).json(&body);
        async move { reply(request.send().await.expect("send")).await }
    };
    post("/api/v1/public/login/feishu/", json!({}))
        .await
        .assert_error(1, 400);
    post("/api/v1/public/login/github/", json!({"code": "x"}))
        .await
        .assert_error(1, 400);
    // Feishu cannot be reached offline: the code exchange fails as with a bad code.
    post("/api/v1/public/login/feishu/", json!({"code": "x"}))
        .await
        .assert_error(5, 500);
    post("/api/v1/public/login/feishu/Nope1234", json!({"code": "x"}))
        .await
        .assert_error(3, 404);
    let demo = format!("/api/v1/public/login/dingTalk/{}", h.info.app_code);
    let r = reply(
        h.http
            .post(h.url(&demo))
            .json(&json!({"code": "x"}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    r.assert_error(5, 500);
    post(
        "/api/v1/public/login/mfa",
        json!({"token": "t", "code": "12345"}),
    )
    .await
    .assert_error(1, 400);
    post(
        "/api/v1/public/login/mfa",
        json!({"token": "t", "code": "123456"}),
    )
    .await
    .assert_error(6, 401);
    // Form binding for other content types: the query string counts.
    let r = reply(
        h.http
            .post(h.url("/api/v1/public/login/feishu/?code=x"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    r.assert_error(5, 500);
    // GetLoginLink: the emulator's login page stands in for the provider's.
    let link = format!("/api/v1/public/login/feishu/link/{}", h.info.app_code);
    let r = plain(&h, Method::GET, &link).await;
    assert_eq!(
        r.data()["url"],
        format!("{}/?appCode={}", h.info.url, h.info.app_code)
    );
    // GetSelfLoginLink writes the error and then its success for an unknown provider.
    let r = plain(&h, Method::GET, "/api/v1/public/login/github/link/").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.starts_with("{\"code\":1,"), "{}", r.text);
    assert!(
        r.text.ends_with("}{\"code\":0,\"data\":{\"url\":\"\"}}"),
        "{}",
        r.text
    );
}
