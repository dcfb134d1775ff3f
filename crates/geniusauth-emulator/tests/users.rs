//! `GET /api/v1/app/user/info`, access-token user info, the login page and avatars.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn public_user_info() {
    let h = Harness::start().await;
    let ids: Vec<u64> = h.info.users.iter().map(|u| u.id).collect();
    let query = format!("{},{},999", ids[2], ids[0]);
    let data = h
        .call(Method::GET, USER_INFO, json!({"id": query}))
        .await
        .data();
    let users = data.as_array().expect("array");
    assert_eq!(users.len(), 2, "unknown ids are skipped: {data}");
    assert_eq!(users[0]["id"], ids[2], "request order");
    assert_eq!(users[1]["id"], ids[0]);
    for user in users {
        let keys: Vec<&str> = user
            .as_object()
            .expect("obj")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 4, "{user}");
        for key in ["id", "name", "avatarUrl", "groups"] {
            assert!(keys.contains(&key));
        }
        for group in user["groups"].as_array().expect("groups") {
            assert!(group["id"].is_u64() && group["name"].is_string(), "{group}");
        }
    }
    for bad in ["", "1,,2", "a", "-1", "+1"] {
        h.call(Method::GET, USER_INFO, json!({"id": bad}))
            .await
            .assert_error(1, 400);
    }
    h.call(Method::GET, USER_INFO, json!({}))
        .await
        .assert_error(1, 400);
}

#[tokio::test]
async fn admin_users_and_their_groups() {
    let h = Harness::start().await;
    let r = h
        .admin(
            Method::POST,
            "/__emulator/users",
            Some(json!({"name": "赵六", "groups": ["研发", "测试组"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let uid = r.json()["id"].as_u64().expect("id");
    let data = h
        .call(Method::GET, USER_INFO, json!({"id": uid.to_string()}))
        .await
        .data();
    assert_eq!(data[0]["name"], "赵六");
    let names: Vec<&str> = data[0]["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    // Newest assignment first (the server orders by user_groups.id DESC).
    assert_eq!(names, ["测试组", "研发"]);

    // Custom avatar URLs are returned as given.
    let r = h
        .admin(
            Method::POST,
            "/__emulator/users",
            Some(json!({"name": "Zoe", "groups": ["设计"], "avatarUrl": "https://example.com/z.png"})),
        )
        .await;
    let zoe = r.json()["id"].as_u64().expect("id");
    let token = h.login_token(zoe).await;
    let data = h
        .call(
            Method::POST,
            VERIFY,
            json!({"token": token, "grantType": "refresh_token"}),
        )
        .await
        .data();
    assert_eq!(data["avatarUrl"], "https://example.com/z.png");
    assert_eq!(data["groups"], json!(["设计"]));
    let info = h
        .call(
            Method::POST,
            ACCESS_USER_INFO,
            json!({"token": data["accessToken"]}),
        )
        .await
        .data();
    let mut keys: Vec<&String> = info.as_object().expect("obj").keys().collect();
    keys.sort();
    assert_eq!(keys, ["avatarUrl", "groups", "name", "userID"]);
    assert_eq!(info["userID"], zoe);

    let r = h
        .admin(
            Method::POST,
            "/__emulator/users",
            Some(json!({"groups": []})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["error"].is_string());
}

#[tokio::test]
async fn login_page_redirects_to_the_callback() {
    let h = Harness::start().await;
    let page = reply(
        h.http
            .get(h.url(&format!("/?appCode={}", h.info.app_code)))
            .send()
            .await
            .expect("page"),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Genius Account 演示"));
    assert!(page.text.contains("登录") && page.text.contains("Sign in"));
    for user in &h.info.users {
        assert!(page.text.contains(&user.name), "user {} listed", user.name);
    }
    assert!(page.text.contains("<form"));

    let chosen = h.info.users[1].id;
    let r = reply(
        h.http
            .post(h.url("/__emulator/authorize"))
            .form(&[
                ("appCode", h.info.app_code.as_str()),
                ("uid", &chosen.to_string()),
            ])
            .send()
            .await
            .expect("authorize"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FOUND);
    let location = r.headers["location"].to_str().expect("location").to_owned();
    let token = location
        .strip_prefix("http://localhost:47150/callback?token=")
        .expect("registered callback with token");
    let data = h
        .call(Method::POST, VERIFY, json!({"token": token}))
        .await
        .data();
    assert_eq!(data["userID"], chosen);

    // A callback with its own query keeps it.
    let app = h
        .admin(
            Method::POST,
            "/__emulator/apps",
            Some(
                json!({"name": "Query app", "callback": "http://localhost:9/cb?from=sso&lang=zh"}),
            ),
        )
        .await
        .json();
    let code = app["appCode"].as_str().expect("code");
    let r = reply(
        h.http
            .get(h.url(&format!(
                "/__emulator/authorize?appCode={code}&uid={chosen}"
            )))
            .send()
            .await
            .expect("authorize"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FOUND);
    let location = url::Url::parse(r.headers["location"].to_str().expect("loc")).expect("url");
    let pairs: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    assert_eq!(location.path(), "/cb");
    assert!(pairs.contains(&("from".into(), "sso".into())));
    assert!(pairs.contains(&("lang".into(), "zh".into())));
    assert!(pairs
        .iter()
        .any(|(k, v)| k == "token" && v.split('.').count() == 3));
}

#[tokio::test]
async fn login_page_errors() {
    let h = Harness::start().await;
    for path in ["/?appCode=nope1234", "/"] {
        let r = reply(h.http.get(h.url(path)).send().await.expect("page")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert!(r.headers["content-type"]
            .to_str()
            .is_ok_and(|c| c.starts_with("text/html")));
        assert!(r.text.contains("无法登录") && r.text.contains("Cannot sign in"));
    }
    let r = h
        .admin(
            Method::POST,
            "/__emulator/login-token",
            Some(json!({"appCode": "nope1234", "uid": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = h
        .admin(
            Method::POST,
            "/__emulator/login-token",
            Some(json!({"appCode": h.info.app_code, "uid": 999})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn app_groups_limit_what_login_verify_reports() {
    let h = Harness::start().await;
    let app = h
        .admin(
            Method::POST,
            "/__emulator/apps",
            Some(
                json!({"name": "Design only", "callback": "http://localhost:9/cb",
                        "groups": ["设计"], "permitAllGroup": false}),
            ),
        )
        .await
        .json();
    let (code, secret) = (
        app["appCode"].as_str().expect("c"),
        app["appSecret"].as_str().expect("s"),
    );
    let designer = h
        .admin(
            Method::POST,
            "/__emulator/users",
            Some(json!({"name": "D", "groups": ["设计", "运营"]})),
        )
        .await
        .json()["id"]
        .as_u64()
        .expect("id");
    let outsider = h
        .admin(
            Method::POST,
            "/__emulator/users",
            Some(json!({"name": "O", "groups": ["运营"]})),
        )
        .await
        .json()["id"]
        .as_u64()
        .expect("id");
    let token = |uid: u64| {
        let http = h.http.clone();
        let url = h.url("/__emulator/login-token");
        let code = code.to_owned();
        async move {
            reply(
                http.post(url)
                    .json(&json!({"appCode": code, "uid": uid}))
                    .send()
                    .await
                    .expect("send"),
            )
            .await
        }
    };
    let t = token(designer).await.json()["token"]
        .as_str()
        .expect("t")
        .to_owned();
    let r = h
        .raw(
            Method::POST,
            VERIFY,
            &signed_as(code, secret, json!({"token": t}), now()),
        )
        .await;
    assert_eq!(r.data()["groups"], json!(["设计"]));
    let denied = token(outsider).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert!(denied.json()["error"]
        .as_str()
        .is_some_and(|e| e.contains("找不到身份组")));
    // The public user info is not limited to the app's groups.
    let data = h
        .raw(
            Method::GET,
            USER_INFO,
            &signed_as(code, secret, json!({"id": designer.to_string()}), now()),
        )
        .await
        .data();
    assert_eq!(data[0]["groups"].as_array().map(Vec::len), Some(2));
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Walks the PNG chunks, checking CRCs; returns (width, height, chunk names).
fn check_png(bytes: &[u8]) -> (u32, u32, Vec<String>) {
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "PNG signature");
    let mut at = 8;
    let mut names = Vec::new();
    let (mut width, mut height) = (0, 0);
    while at < bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().expect("len")) as usize;
        let kind = &bytes[at + 4..at + 8];
        let data = &bytes[at + 8..at + 8 + len];
        let crc = u32::from_be_bytes(bytes[at + 8 + len..at + 12 + len].try_into().expect("crc"));
        assert_eq!(crc, crc32(&bytes[at + 4..at + 8 + len]), "chunk CRC");
        if kind == b"IHDR" {
            width = u32::from_be_bytes(data[0..4].try_into().expect("w"));
            height = u32::from_be_bytes(data[4..8].try_into().expect("h"));
        }
        names.push(String::from_utf8_lossy(kind).into_owned());
        at += 12 + len;
    }
    (width, height, names)
}

#[tokio::test]
async fn avatars_are_png_images() {
    let h = Harness::start().await;
    let data = h
        .call(Method::GET, USER_INFO, json!({"id": "1,2"}))
        .await
        .data();
    let urls: Vec<String> = data
        .as_array()
        .expect("users")
        .iter()
        .map(|u: &Value| u["avatarUrl"].as_str().expect("url").to_owned())
        .collect();
    let mut images = Vec::new();
    for url in &urls {
        assert!(
            url.starts_with(&h.info.url),
            "absolute URL on the emulator: {url}"
        );
        let response = h.http.get(url).send().await.expect("avatar");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "image/png");
        let bytes = response.bytes().await.expect("bytes").to_vec();
        let (w, h_px, names) = check_png(&bytes);
        assert!(w > 0 && h_px > 0);
        assert_eq!(names.first().map(String::as_str), Some("IHDR"));
        assert!(names.iter().any(|n| n == "IDAT"));
        assert_eq!(names.last().map(String::as_str), Some("IEND"));
        images.push(bytes);
    }
    assert_ne!(images[0], images[1], "each user has their own identicon");
    let missing = h
        .http
        .get(h.url("/avatars/999.png"))
        .send()
        .await
        .expect("404");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn public_user_info_reproduces_the_servers_null_groups() {
    let h = Harness::start().await;
    let r = h
        .admin(
            Method::POST,
            "/__emulator/users",
            Some(json!({"name": "无组", "groups": []})),
        )
        .await;
    let lonely = r.json()["id"].as_u64().expect("id");
    let first = h.info.users[0].id;
    // The server's merge loop stops once every group row is used: later users get null,
    // earlier users without groups get [].
    let data = h
        .call(
            Method::GET,
            USER_INFO,
            json!({"id": format!("{lonely},{first}")}),
        )
        .await
        .data();
    assert_eq!(data[0]["groups"], json!([]));
    assert!(data[1]["groups"].as_array().is_some_and(|g| !g.is_empty()));
    let data = h
        .call(
            Method::GET,
            USER_INFO,
            json!({"id": format!("{first},{lonely}")}),
        )
        .await
        .data();
    assert!(data[1]["groups"].is_null(), "{data}");
    assert!(data[1]
        .as_object()
        .is_some_and(|o| o.contains_key("groups")));
    let data = h
        .call(Method::GET, USER_INFO, json!({"id": lonely.to_string()}))
        .await
        .data();
    assert!(data[0]["groups"].is_null());
}
