//! Production's rules the emulator follows, each test naming the Go source it reproduces
//! (`ncuhome/GeniusAuthoritarian`, gin v1.10): the dashboard's callback rule, the public app
//! route and its rate limit, malformed query strings, and the server's clock.

mod common;

use common::*;
use geniusauth_emulator::Config;
use reqwest::{Method, StatusCode};
use serde_json::json;

const KEYS: &str = "/api/v1/app/keypair/server";
const PUBLIC_APP: &str = "/api/v1/public/app/";

/// internal/api/controllers/user/dev/app.go `checkCallback`: plain http only on `localhost`.
#[tokio::test]
async fn apps_register_plain_http_callbacks_on_localhost_only() {
    let h = Harness::start().await;
    for ok in [
        "http://localhost:47151/callback",
        "https://app.example.org/cb",
    ] {
        let r = h
            .admin(
                Method::POST,
                "/__emulator/apps",
                Some(json!({"name": "Ok", "callback": ok})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{ok}: {}", r.text);
    }
    for refused in [
        "http://127.0.0.1:47151/callback",
        "http://[::1]:1/cb",
        "http://app.example.org/cb",
    ] {
        let r = h
            .admin(
                Method::POST,
                "/__emulator/apps",
                Some(json!({"name": "No", "callback": refused})),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{refused}");
        assert!(
            r.text.contains("plain http only on host localhost"),
            "{}",
            r.text
        );
        assert!(r.text.contains("--allow-any-callback"), "{}", r.text);
    }
    // The seeded demo app follows the rule too.
    let r = reply(
        h.http
            .get(h.url(&format!("{PUBLIC_APP}?appCode={}", h.info.app_code)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.data()["host"], "localhost:47150");

    let lenient = Harness::with_config(Config {
        allow_any_callback: true,
        ..Config::ephemeral()
    })
    .await;
    let r = lenient
        .admin(
            Method::POST,
            "/__emulator/apps",
            Some(json!({"name": "Self-hosted", "callback": "http://127.0.0.1:9/cb"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// internal/api/controllers/public/app/data.go `AppInfo`: unsigned; name and callback host,
/// code 3 for an unknown appCode, the server's own name without one.
#[tokio::test]
async fn the_public_app_route_names_the_app_and_its_callback_host() {
    let h = Harness::start().await;
    let get = |query: String| {
        let http = h.http.clone();
        let url = h.url(&format!("{PUBLIC_APP}{query}"));
        async move { reply(http.get(url).send().await.unwrap()).await }
    };
    let r = get(format!("?appCode={}", h.info.app_code)).await;
    assert_eq!(r.status, StatusCode::OK);
    // gin.H is a map: keys in sorted order.
    assert_eq!(
        r.text,
        r#"{"code":0,"data":{"host":"localhost:47150","name":"Genius Account 演示"}}"#
    );
    get("?appCode=Zz9Zz9Zz".into()).await.assert_error(3, 404);
    let own = get(String::new()).await.data();
    assert_eq!(own["name"], "统一授权系统");
    assert_eq!(own["host"], h.info.url.trim_start_matches("http://"));
    // A malformed query is code 1 (form binding: http.Request.ParseForm).
    get("?appCode=a;b".into()).await.assert_error(1, 400);
    // Without the slash: gin's 301.
    let r = reply(
        h.http
            .get(h.url("/api/v1/public/app?appCode=x"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(r.headers["location"], "/api/v1/public/app/?appCode=x");
}

/// internal/api/middlewares/secure.go (Mmx233/secure v2, Redis driver): 60 a minute per IP,
/// one count for every guarded route, code 19 beyond; signed app routes are not limited.
#[tokio::test]
async fn the_public_routes_share_a_limit_of_sixty_a_minute() {
    let h = Harness::start().await;
    let url = h.url(&format!("{PUBLIC_APP}?appCode={}", h.info.app_code));
    for i in 0..59 {
        let r = reply(h.http.get(&url).send().await.unwrap()).await;
        assert_eq!(r.status, StatusCode::OK, "request {i}");
    }
    // The third-party login route counts against the same limit.
    let params = h.signed(json!({}));
    h.raw(Method::POST, "/api/v1/public/login/feishu/", &params)
        .await
        .assert_error(1, 400);
    let r = reply(h.http.get(&url).send().await.unwrap()).await;
    r.assert_error(19, 403);
    h.raw(Method::POST, "/api/v1/public/login/feishu/", &params)
        .await
        .assert_error(19, 403);
    // A signed app route is not behind Secure().
    h.call(Method::GET, KEYS, json!({})).await.data();
}

/// net/http's `ParseForm` as gin's form binding calls it in the signature middleware
/// (internal/api/middlewares/app.go): a `;` or a bad `%` escape anywhere is code 1.
#[tokio::test]
async fn a_malformed_query_string_is_code_1() {
    let h = Harness::start().await;
    let params = h.signed(json!({}));
    let mut query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().map_or(v.to_string(), str::to_owned)))
        .collect();
    let good = query.join("&");
    let r = reply(
        h.http
            .get(h.url(&format!("{KEYS}?{good}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for bad in ["x=1;y=2", "x=%zz", "x=%4"] {
        query.push(bad.to_owned());
        let r = reply(
            h.http
                .get(h.url(&format!("{KEYS}?{}", query.join("&"))))
                .send()
                .await
                .unwrap(),
        )
        .await;
        r.assert_error(1, 400);
        query.pop();
    }
}

/// The server's one clock (`time.Now()`): with its wall clock off, the signature window
/// (internal/api/middlewares/app.go), the tokens (internal/pkg/jwt/jwt.go) and the `Date`
/// header net/http writes on every reply move together.
#[tokio::test]
async fn a_skewed_server_clock_moves_the_window_the_tokens_and_date() {
    for skew in [600i64, -600] {
        let h = Harness::with_config(Config {
            clock_skew_secs: skew,
            ..Config::ephemeral()
        })
        .await;
        let real = now();
        // Stamped with the real time: ten minutes off the server's clock, code 9.
        let r = h.call(Method::GET, KEYS, json!({})).await;
        r.assert_error(9, 403);
        let date = r.headers["date"].to_str().unwrap().to_owned();
        let server_now = httpdate::parse_http_date(&date)
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!(
            (server_now - real - skew).abs() <= 2,
            "skew {skew}: Date {date} is {} s off",
            server_now - real
        );
        // Stamped with the server's time: fine, and its tokens carry that time.
        let params = signed_as(&h.info.app_code, &h.info.app_secret, json!({}), real + skew);
        h.raw(Method::GET, KEYS, &params).await.data();
        let token = h.login_token(h.uid()).await;
        let iat = claims(&token)["iat"].as_i64().unwrap();
        assert!((iat - real - skew).abs() <= 2, "skew {skew}: iat {iat}");
        // The admin clock reports it, and it can be set back.
        let r = h
            .admin(
                Method::POST,
                "/__emulator/clock",
                Some(json!({"skewSeconds": 0})),
            )
            .await;
        assert_eq!(r.json()["skewSeconds"], 0);
        h.call(Method::GET, KEYS, json!({})).await.data();
    }
}

/// A department change from Feishu bumps the user's `oid` (`ChangeOperateID` in
/// internal/api/controllers/feishu/webhook.go, internal/pkg/feishu/UserSync.go): every token of
/// the user is code 31 from then on (internal/pkg/jwt/jwtVerify/userVerify.go). The same
/// groups again change nothing.
#[tokio::test]
async fn a_change_of_groups_ends_every_session_of_that_user() {
    let h = Harness::start().await;
    let login = h.sign_in(json!({})).await;
    let refresh = login["refreshToken"].as_str().unwrap().to_owned();
    let access = login["accessToken"].as_str().unwrap().to_owned();
    let path = format!("/__emulator/users/{}/groups", h.uid());
    let groups = h
        .call(
            Method::POST,
            "/api/v1/app/token/access/user/info",
            json!({"token": access}),
        )
        .await
        .data()["groups"]
        .clone();
    let same = h
        .admin(Method::POST, &path, Some(json!({ "groups": groups })))
        .await;
    assert_eq!(same.json()["changed"], false, "{}", same.text);
    h.call(
        Method::POST,
        "/api/v1/app/token/refresh/",
        json!({"token": refresh}),
    )
    .await
    .data();

    let changed = h
        .admin(Method::POST, &path, Some(json!({ "groups": ["设计"] })))
        .await;
    assert_eq!(changed.json()["changed"], true, "{}", changed.text);
    h.call(
        Method::POST,
        "/api/v1/app/token/refresh/",
        json!({"token": refresh}),
    )
    .await
    .assert_error(31, 403);
    h.call(
        Method::POST,
        "/api/v1/app/token/access/verify",
        json!({"token": access}),
    )
    .await
    .assert_error(31, 403);
    // A new sign-in carries the new groups.
    let again = h.sign_in(json!({})).await;
    assert_eq!(again["groups"], json!(["设计"]));
}
