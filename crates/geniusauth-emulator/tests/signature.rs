//! Protocol §1: the app signature, its timestamp window and its rejections.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn valid_signatures_pass_for_json_and_query() {
    let h = Harness::start().await;
    let keys = h.call(Method::GET, SERVER_KEYS, json!({})).await;
    assert!(keys.data()["jwt"].is_string());
    // A refresh token that does not exist gets past the signature and fails on the token.
    h.call(Method::POST, REFRESH, json!({"token": "x"}))
        .await
        .assert_error(31, 403);
}

#[tokio::test]
async fn timestamp_window_uses_real_time() {
    let h = Harness::start().await;
    let (code, secret) = (&h.info.app_code, &h.info.app_secret);
    let at = |offset: i64| signed_as(code, secret, json!({}), now() + offset);
    for ok in [-290, -5, 0, 5] {
        let r = h.raw(Method::GET, SERVER_KEYS, &at(ok)).await;
        assert_eq!(r.code(), 0, "offset {ok}: {}", r.text);
    }
    for expired in [-310, -3600, 12, 3600] {
        h.raw(Method::GET, SERVER_KEYS, &at(expired))
            .await
            .assert_error(9, 403);
    }
    let r = h.raw(Method::GET, SERVER_KEYS, &at(-400)).await;
    assert_eq!(r.json()["msg"], "请求已过期，请重试");
    // The emulated clock does not move the window.
    h.admin(
        Method::POST,
        "/__emulator/clock",
        Some(json!({"advanceSeconds": 86400})),
    )
    .await;
    assert_eq!(h.raw(Method::GET, SERVER_KEYS, &at(0)).await.code(), 0);
}

#[tokio::test]
async fn rejections_and_their_order() {
    let h = Harness::start().await;
    // Unknown appCode (checked after the timestamp).
    let unknown = signed_as("Zz9Zz9Zz", "whatever", json!({}), now());
    let r = h.raw(Method::GET, SERVER_KEYS, &unknown).await;
    r.assert_error(3, 404);
    assert_eq!(r.json()["msg"], "没有找到授权码");
    let unknown_old = signed_as("Zz9Zz9Zz", "whatever", json!({}), now() - 1000);
    h.raw(Method::GET, SERVER_KEYS, &unknown_old)
        .await
        .assert_error(9, 403);

    // Wrong secret, tampered value, key sent but not signed.
    let wrong = signed_as(&h.info.app_code, "not-the-secret", json!({}), now());
    let r = h.raw(Method::GET, SERVER_KEYS, &wrong).await;
    r.assert_error(6, 401);
    assert_eq!(r.json()["msg"], "身份校验失败，令牌失效或过期");
    let mut tampered = h.signed(json!({"token": "a"}));
    tampered.insert("token".into(), json!("b"));
    h.raw(Method::POST, REFRESH, &tampered)
        .await
        .assert_error(6, 401);
    let mut unsigned_extra = h.signed(json!({"token": "a"}));
    unsigned_extra.insert("extra".into(), json!("1"));
    h.raw(Method::POST, REFRESH, &unsigned_extra)
        .await
        .assert_error(6, 401);
    let mut upper = h.signed(json!({}));
    let sig = upper["signature"].as_str().expect("sig").to_uppercase();
    upper.insert("signature".into(), json!(sig));
    h.raw(Method::GET, SERVER_KEYS, &upper)
        .await
        .assert_error(6, 401);

    // Missing fields: code 1.
    for missing in ["appCode", "timeStamp", "signature"] {
        let mut params = h.signed(json!({"token": "a"}));
        params.remove(missing);
        let r = h.raw(Method::POST, REFRESH, &params).await;
        r.assert_error(1, 400);
        assert_eq!(r.json()["msg"], "参数错误，请把输入截图发给前端同学");
        let mut params = h.signed(json!({}));
        params.remove(missing);
        h.raw(Method::GET, SERVER_KEYS, &params)
            .await
            .assert_error(1, 400);
    }
    // timeStamp as a string or a float is a binding error too.
    let mut as_string = h.signed(json!({"token": "a"}));
    as_string.insert("timeStamp".into(), json!(now().to_string()));
    h.raw(Method::POST, REFRESH, &as_string)
        .await
        .assert_error(1, 400);
}

#[tokio::test]
async fn bodies_must_be_json() {
    let h = Harness::start().await;
    let params = h.signed(json!({"token": "a"}));
    let form: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().map_or(v.to_string(), str::to_owned)))
        .collect();
    let r = reply(
        h.http
            .post(h.url(REFRESH))
            .form(&form)
            .send()
            .await
            .expect("send"),
    )
    .await;
    r.assert_error(1, 400);
    let empty = reply(h.http.post(h.url(REFRESH)).send().await.expect("send")).await;
    empty.assert_error(1, 400);
    let garbage = reply(
        h.http
            .post(h.url(REFRESH))
            .body("{\"token\":")
            .send()
            .await
            .expect("send"),
    )
    .await;
    garbage.assert_error(1, 400);
}

#[tokio::test]
async fn values_are_signed_as_go_prints_them() {
    let h = Harness::start().await;
    // Numbers keep their JSON literal (json.Number), booleans print true/false.
    let ts = now();
    let body = format!(
        "{{\"token\":\"a\",\"ratio\":1.50,\"big\":1e3,\"flag\":true,\"appCode\":\"{}\",\"timeStamp\":{ts}",
        h.info.app_code
    );
    let signing = format!(
        "appCode={}&appSecret={}&big=1e3&flag=true&ratio=1.50&timeStamp={ts}&token=a",
        h.info.app_code, h.info.app_secret
    );
    let signature = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(signing.as_bytes()))
    };
    let text = format!("{body},\"signature\":\"{signature}\"}}");
    let r = reply(
        h.http
            .post(h.url(REFRESH))
            .header("content-type", "application/json")
            .body(text)
            .send()
            .await
            .expect("send"),
    )
    .await;
    // Past the signature: the token is what fails.
    r.assert_error(31, 403);
}

#[tokio::test]
async fn unknown_routes_behave_like_gin() {
    let h = Harness::start().await;
    let r = reply(h.http.get(h.url(REFRESH)).send().await.expect("send")).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "GET falls through to the front end"
    );
    assert!(r.headers["content-type"]
        .to_str()
        .is_ok_and(|c| c.starts_with("text/html")));
    let r = reply(h.http.put(h.url(REFRESH)).send().await.expect("send")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.text, "404 page not found");
    // gin's tree.go tries the static `verify` before the `:app` wildcard and recommends the
    // slash-less route (internal/api/router/public/login/init.go): a 307, not code 1.
    let params = h.signed(json!({}));
    let r = h
        .raw(Method::POST, "/api/v1/public/login/verify/", &params)
        .await;
    assert_eq!(r.status, StatusCode::TEMPORARY_REDIRECT, "{}", r.text);
    assert_eq!(r.headers["location"], "/api/v1/public/login/verify");
}

/// Query pairs for a GET/DELETE request: strings as they are, numbers as digits.
fn as_query(params: &serde_json::Map<String, serde_json::Value>) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().map_or(v.to_string(), str::to_owned)))
        .collect()
}

/// A request with this query string and this JSON body (either may be empty).
async fn query_and_body(
    h: &Harness,
    method: Method,
    path: &str,
    query: &serde_json::Map<String, serde_json::Value>,
    body: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Reply {
    let mut request = h.http.request(method, h.url(path)).query(&as_query(query));
    if let Some(body) = body {
        request = request.json(body);
    }
    reply(request.send().await.expect("send")).await
}

/// The server binds GET and DELETE parameters from the query string only (the signature
/// middleware's form binding, then `ShouldBindQuery` in the handler, as no body was kept): a
/// JSON body is not read, so parameters sent there are missing, which is code 1 (HTTP 400).
#[tokio::test]
async fn delete_reads_the_query_string_only() {
    let h = Harness::start().await;
    let data = h.sign_in(json!({})).await;
    let refresh = data["refreshToken"].as_str().expect("refresh").to_owned();
    let none = serde_json::Map::new();

    // Everything, signature included, in a JSON body and nothing in the query.
    let in_body = h.signed(json!({"token": refresh}));
    query_and_body(&h, Method::DELETE, REFRESH, &none, Some(&in_body))
        .await
        .assert_error(1, 400);

    // The signature in the query (valid for what the query holds), the token in the body: the
    // signature passes, then the handler finds no token.
    let header_only = h.signed(json!({}));
    let token_only: serde_json::Map<_, _> =
        [("token".to_owned(), json!(refresh))].into_iter().collect();
    query_and_body(&h, Method::DELETE, REFRESH, &header_only, Some(&token_only))
        .await
        .assert_error(1, 400);

    // Neither refused request revoked anything.
    h.call(Method::POST, REFRESH, json!({"token": refresh}))
        .await
        .data();

    // A full query wins over a body naming another token: only the query's token is revoked.
    let other = h.sign_in(json!({})).await;
    let other_refresh = other["refreshToken"].as_str().expect("refresh").to_owned();
    let decoy: serde_json::Map<_, _> = [("token".to_owned(), json!(other_refresh))]
        .into_iter()
        .collect();
    let r = query_and_body(
        &h,
        Method::DELETE,
        REFRESH,
        &h.signed(json!({"token": refresh})),
        Some(&decoy),
    )
    .await;
    assert_eq!(r.json(), json!({"code": 0}), "{}", r.text);
    h.call(Method::POST, REFRESH, json!({"token": refresh}))
        .await
        .assert_error(31, 403);
    h.call(Method::POST, REFRESH, json!({"token": other_refresh}))
        .await
        .data();
}

#[tokio::test]
async fn get_reads_the_query_string_only() {
    let h = Harness::start().await;
    let none = serde_json::Map::new();
    let id = h.uid().to_string();

    for (path, params) in [(USER_INFO, json!({"id": id})), (SERVER_KEYS, json!({}))] {
        let in_body = h.signed(params);
        query_and_body(&h, Method::GET, path, &none, Some(&in_body))
            .await
            .assert_error(1, 400);
    }

    // Signed query without `id`, `id` in the body: the handler finds no id.
    let id_only: serde_json::Map<_, _> = [("id".to_owned(), json!(id))].into_iter().collect();
    query_and_body(
        &h,
        Method::GET,
        USER_INFO,
        &h.signed(json!({})),
        Some(&id_only),
    )
    .await
    .assert_error(1, 400);

    // The same request with everything in the query works, a body notwithstanding.
    let r = query_and_body(
        &h,
        Method::GET,
        USER_INFO,
        &h.signed(json!({"id": id})),
        Some(&id_only),
    )
    .await;
    assert_eq!(r.data()[0]["id"], h.uid());
}

/// A signed GET/DELETE query, encoded as the protocol says, with `extra` appended verbatim.
fn raw_query(params: &serde_json::Map<String, serde_json::Value>, extra: &str) -> String {
    let encoded: Vec<String> = as_query(params)
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace('%', "%25").replace('&', "%26")))
        .collect();
    format!("{}{extra}", encoded.join("&"))
}

/// internal/api/middlewares/app.go binds GET/DELETE parameters with `binding.Form`, i.e.
/// net/http's `Request.ParseForm`, which fails where `url.ParseQuery` fails (a `;` in a pair,
/// a bad `%` escape): code 1, before the time window is looked at, although `URL.Query()`
/// alone would have dropped the bad pair and the signature would have matched.
#[tokio::test]
async fn malformed_query_strings_are_code_1() {
    let h = Harness::start().await;
    let get = |query: String| {
        let url = format!("{}?{query}", h.url(SERVER_KEYS));
        let request = h.http.get(url);
        async move { reply(request.send().await.expect("send")).await }
    };
    let signed = h.signed(json!({}));
    assert_eq!(get(raw_query(&signed, "")).await.code(), 0);
    for extra in ["&a;b=1", "&x=%zz", "&%4=1", "&y=1%"] {
        get(raw_query(&signed, extra)).await.assert_error(1, 400);
    }
    let stale = signed_as(
        &h.info.app_code,
        &h.info.app_secret,
        json!({}),
        now() - 3600,
    );
    get(raw_query(&stale, "&a;b")).await.assert_error(1, 400);
    get(raw_query(&stale, "")).await.assert_error(9, 403);

    // DELETE: the token is not revoked by a refused request.
    let data = h.sign_in(json!({})).await;
    let refresh = data["refreshToken"].as_str().expect("refresh").to_owned();
    let delete = h.signed(json!({"token": refresh}));
    let url = format!("{}?{}", h.url(REFRESH), raw_query(&delete, "&k=1;2"));
    reply(h.http.delete(url).send().await.expect("send"))
        .await
        .assert_error(1, 400);
    h.call(Method::POST, REFRESH, json!({"token": refresh}))
        .await
        .data();

    // login/verify with a non-JSON Content-Type binds with ParseForm too.
    let token = h.login_token(h.uid()).await;
    let body = serde_json::to_string(&h.signed(json!({}))).expect("json");
    let verify_with = |query: String| {
        let request = h
            .http
            .post(format!("{}?{query}", h.url(VERIFY)))
            .header("content-type", "text/plain")
            .body(body.clone());
        async move { reply(request.send().await.expect("send")).await }
    };
    verify_with(format!("token={token}&bad=%g0"))
        .await
        .assert_error(1, 400);
    // The same request with a well-formed query binds the token from it.
    let data = verify_with(format!("token={token}")).await.data();
    assert_eq!(data["userID"], h.uid());
}
