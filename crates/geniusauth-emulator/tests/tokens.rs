//! Protocol §3–§4: sign-in, refresh, PATCH, DELETE, access tokens, lifetimes and revocation.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn login_verify_returns_the_user_and_both_tokens() {
    let h = Harness::start().await;
    let data = h.sign_in(json!({"payload": "device-1"})).await;
    let fields: Vec<&str> = data
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "userID",
        "name",
        "groups",
        "avatarUrl",
        "refreshToken",
        "accessToken",
    ] {
        assert!(fields.contains(&key), "missing {key} in {data}");
    }
    assert_eq!(data["userID"], h.uid());
    assert_eq!(data["name"], h.info.users[0].name);
    assert!(data["groups"].as_array().is_some_and(|g| !g.is_empty()));
    assert!(data["avatarUrl"]
        .as_str()
        .is_some_and(|u| u.starts_with(&h.info.url) && u.ends_with(".png")));

    let refresh = claims(data["refreshToken"].as_str().expect("refresh"));
    let access = claims(data["accessToken"].as_str().expect("access"));
    assert_eq!(refresh["type"], "Refresh");
    assert_eq!(access["type"], "Access");
    assert_eq!(
        refresh["exp"]
            .as_i64()
            .zip(refresh["iat"].as_i64())
            .map(|(e, i)| e - i),
        Some(604_800)
    );
    assert_eq!(
        access["exp"]
            .as_i64()
            .zip(access["iat"].as_i64())
            .map(|(e, i)| e - i),
        Some(300)
    );
    for c in [&refresh, &access] {
        assert_eq!(c["uid"], h.uid());
        assert_eq!(c["appCode"], h.info.app_code.as_str());
        assert_eq!(c["payload"], "device-1");
        assert!(c["oid"].as_u64().is_some());
        for absent in ["iss", "aud", "sub", "nbf", "jti"] {
            assert!(c.get(absent).is_none(), "{absent} present");
        }
    }
    assert_eq!(refresh["id"], access["id"]);
    let header = jwt_header(data["refreshToken"].as_str().expect("refresh"));
    assert_eq!(header["alg"], "EdDSA");
}

#[tokio::test]
async fn login_token_is_single_use_and_lives_five_minutes() {
    let h = Harness::start().await;
    let token = h.login_token(h.uid()).await;
    let login = claims(&token);
    assert_eq!(login["type"], "Login");
    assert_eq!(
        login["exp"]
            .as_i64()
            .zip(login["iat"].as_i64())
            .map(|(e, i)| e - i),
        Some(300)
    );
    assert!(login.get("appCode").is_none());

    let first = h
        .call(Method::POST, VERIFY, json!({"token": token}))
        .await
        .data();
    // Without refresh_token both token fields are present and empty.
    assert_eq!(first["refreshToken"], "");
    assert_eq!(first["accessToken"], "");
    let r = h.call(Method::POST, VERIFY, json!({"token": token})).await;
    r.assert_error(6, 401);

    // An expired login token is refused too.
    let token = h.login_token(h.uid()).await;
    h.admin(
        Method::POST,
        "/__emulator/clock",
        Some(json!({"advanceSeconds": 301})),
    )
    .await;
    h.call(
        Method::POST,
        VERIFY,
        json!({"token": token, "grantType": "once"}),
    )
    .await
    .assert_error(6, 401);
    h.call(Method::POST, VERIFY, json!({"token": "garbage"}))
        .await
        .assert_error(6, 401);
}

#[tokio::test]
async fn login_verify_parameter_rules() {
    let h = Harness::start().await;
    let token = h.login_token(h.uid()).await;
    let bad = [
        json!({"token": token, "grantType": "refresh_token", "valid": 1}),
        json!({"token": token, "grantType": "refresh_token", "valid": 604_799}),
        json!({"token": token, "grantType": "refresh_token", "valid": 2_592_001}),
        json!({"token": token, "grantType": "refresh_token", "valid": -1}),
        json!({"token": token, "grantType": "password"}),
        json!({"token": token, "payload": "一".repeat(33)}),
        json!({"token": ""}),
        json!({"grantType": "once"}),
    ];
    for params in bad {
        h.call(Method::POST, VERIFY, params.clone())
            .await
            .assert_error(1, 400);
    }
    let r = h
        .call(
            Method::POST,
            VERIFY,
            json!({"token": token, "grantType": "refresh_token", "valid": 5}),
        )
        .await;
    assert_eq!(
        r.json()["msg"],
        "valid time too short, min 604800 seconds (7 days)"
    );
    // None of those consumed the login token.
    let data = h
        .call(
            Method::POST,
            VERIFY,
            json!({"token": token, "grantType": "refresh_token", "valid": 2_592_000, "payload": "中".repeat(32)}),
        )
        .await
        .data();
    let refresh = claims(data["refreshToken"].as_str().expect("refresh"));
    assert_eq!(
        refresh["exp"]
            .as_i64()
            .zip(refresh["iat"].as_i64())
            .map(|(e, i)| e - i),
        Some(2_592_000)
    );
    assert_eq!(refresh["payload"], "中".repeat(32));
}

#[tokio::test]
async fn refresh_gives_access_tokens_with_the_payload() {
    let h = Harness::start().await;
    let data = h.sign_in(json!({"payload": "p1"})).await;
    let refresh_token = data["refreshToken"].as_str().expect("refresh").to_owned();
    let refreshed = h
        .call(Method::POST, REFRESH, json!({"token": refresh_token}))
        .await
        .data();
    assert_eq!(refreshed["payload"], "p1");
    let access = refreshed["access_token"]
        .as_str()
        .expect("snake_case access_token");
    assert!(refreshed.get("accessToken").is_none());
    assert_eq!(claims(access)["id"], claims(&refresh_token)["id"]);

    let verified = h
        .call(Method::POST, ACCESS_VERIFY, json!({"token": access}))
        .await
        .data();
    assert_eq!(verified, json!({"uid": h.uid(), "payload": "p1"}));
    let info = h
        .call(Method::POST, ACCESS_USER_INFO, json!({"token": access}))
        .await
        .data();
    assert_eq!(info["userID"], h.uid());
    assert_eq!(info["name"], h.info.users[0].name);
    assert!(info["groups"].is_array() && info["avatarUrl"].is_string());

    // Empty payload: omitted everywhere.
    let plain = h.sign_in(json!({})).await;
    assert!(claims(plain["refreshToken"].as_str().expect("r"))
        .get("payload")
        .is_none());
    let refreshed = h
        .call(
            Method::POST,
            REFRESH,
            json!({"token": plain["refreshToken"]}),
        )
        .await
        .data();
    assert!(refreshed.get("payload").is_none(), "{refreshed}");
    let verified = h
        .call(
            Method::POST,
            ACCESS_VERIFY,
            json!({"token": refreshed["access_token"]}),
        )
        .await
        .data();
    assert_eq!(verified, json!({"uid": h.uid()}));

    // Wrong token types and garbage: 31; missing token: 1.
    h.call(Method::POST, REFRESH, json!({"token": access}))
        .await
        .assert_error(31, 403);
    h.call(Method::POST, ACCESS_VERIFY, json!({"token": refresh_token}))
        .await
        .assert_error(31, 403);
    let r = h
        .call(Method::POST, ACCESS_VERIFY, json!({"token": "x.y.z"}))
        .await;
    r.assert_error(31, 403);
    assert_eq!(r.json()["msg"], "身份令牌无效或已过期");
    h.call(Method::POST, REFRESH, json!({}))
        .await
        .assert_error(1, 400);
}

#[tokio::test]
async fn patch_keeps_id_and_expiry_and_the_old_token() {
    let h = Harness::start().await;
    let data = h.sign_in(json!({"payload": "old"})).await;
    let old = data["refreshToken"].as_str().expect("refresh").to_owned();
    h.admin(
        Method::POST,
        "/__emulator/clock",
        Some(json!({"advanceSeconds": 5})),
    )
    .await;
    let patched = h
        .call(
            Method::PATCH,
            REFRESH,
            json!({"token": old, "payload": "new"}),
        )
        .await
        .data();
    assert!(patched.get("accessToken").is_none(), "{patched}");
    let new = patched["refreshToken"].as_str().expect("new refresh");
    let (old_claims, new_claims) = (claims(&old), claims(new));
    assert_eq!(new_claims["id"], old_claims["id"]);
    assert_eq!(new_claims["exp"], old_claims["exp"]);
    assert_eq!(new_claims["payload"], "new");
    assert_ne!(new_claims["iat"], old_claims["iat"]);

    // Both strings stay valid and carry their own payload.
    let via_old = h
        .call(Method::POST, REFRESH, json!({"token": old}))
        .await
        .data();
    assert_eq!(via_old["payload"], "old");
    let via_new = h
        .call(Method::POST, REFRESH, json!({"token": new}))
        .await
        .data();
    assert_eq!(via_new["payload"], "new");

    let with_access = h
        .call(
            Method::PATCH,
            REFRESH,
            json!({"token": new, "payload": "third", "accessToken": true}),
        )
        .await
        .data();
    let access = with_access["accessToken"]
        .as_str()
        .expect("accessToken when asked");
    assert_eq!(claims(access)["payload"], "third");

    h.call(Method::PATCH, REFRESH, json!({"token": new, "payload": ""}))
        .await
        .assert_error(1, 400);
    h.call(Method::PATCH, REFRESH, json!({"token": new}))
        .await
        .assert_error(1, 400);
    h.call(
        Method::PATCH,
        REFRESH,
        json!({"token": new, "payload": "x", "accessToken": "yes"}),
    )
    .await
    .assert_error(1, 400);
}

#[tokio::test]
async fn delete_revokes_the_refresh_token_and_its_access_tokens() {
    let h = Harness::start().await;
    let data = h.sign_in(json!({})).await;
    let refresh = data["refreshToken"].as_str().expect("refresh").to_owned();
    let access = data["accessToken"].as_str().expect("access").to_owned();
    let patched = h
        .call(
            Method::PATCH,
            REFRESH,
            json!({"token": refresh, "payload": "p"}),
        )
        .await
        .data();
    let r = h
        .call(Method::DELETE, REFRESH, json!({"token": refresh}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({"code": 0}));
    for token in [
        &refresh,
        &patched["refreshToken"].as_str().expect("p").to_owned(),
    ] {
        h.call(Method::POST, REFRESH, json!({"token": token}))
            .await
            .assert_error(31, 403);
    }
    h.call(Method::POST, ACCESS_VERIFY, json!({"token": access}))
        .await
        .assert_error(31, 403);
    h.call(Method::POST, ACCESS_USER_INFO, json!({"token": access}))
        .await
        .assert_error(31, 403);
    h.call(Method::DELETE, REFRESH, json!({"token": refresh}))
        .await
        .assert_error(31, 403);
    h.call(Method::DELETE, REFRESH, json!({}))
        .await
        .assert_error(1, 400);
}

#[tokio::test]
async fn tokens_of_another_app() {
    let h = Harness::start().await;
    let created = h
        .admin(
            Method::POST,
            "/__emulator/apps",
            Some(json!({"name": "Other", "callback": "http://localhost:9/cb"})),
        )
        .await
        .json();
    let (code, secret) = (
        created["appCode"].as_str().expect("appCode").to_owned(),
        created["appSecret"].as_str().expect("appSecret").to_owned(),
    );
    assert_eq!(code.len(), 8);
    assert_eq!(secret.len(), 100);
    let data = h.sign_in(json!({})).await;
    let as_other = |params| signed_as(&code, &secret, params, now());
    let refresh = &data["refreshToken"];
    let access = &data["accessToken"];
    h.raw(Method::POST, REFRESH, &as_other(json!({"token": refresh})))
        .await
        .assert_error(6, 401);
    h.raw(
        Method::POST,
        ACCESS_VERIFY,
        &as_other(json!({"token": access})),
    )
    .await
    .assert_error(6, 401);
    h.raw(
        Method::POST,
        ACCESS_USER_INFO,
        &as_other(json!({"token": access})),
    )
    .await
    .assert_error(6, 401);
    // Like production, PATCH does not check the app: the new token still belongs to the
    // demo app, and its payload has no length limit there.
    let long_payload = "长".repeat(40);
    let patched = h
        .raw(
            Method::PATCH,
            REFRESH,
            &as_other(json!({"token": refresh, "payload": long_payload})),
        )
        .await
        .data();
    let patched_claims = claims(patched["refreshToken"].as_str().expect("patched"));
    assert_eq!(patched_claims["appCode"], h.info.app_code.as_str());
    assert_eq!(patched_claims["payload"], long_payload.as_str());
    // Like production, a login token is not bound to the app it was issued for: the app that
    // verifies it gets refresh tokens of its own.
    let login = h.login_token(h.uid()).await;
    let theirs = h
        .raw(
            Method::POST,
            VERIFY,
            &as_other(json!({"token": login, "grantType": "refresh_token"})),
        )
        .await
        .data();
    assert_eq!(
        claims(theirs["refreshToken"].as_str().expect("r"))["appCode"],
        code.as_str()
    );
    // Like production, any app may revoke any refresh token.
    let r = h
        .raw(
            Method::DELETE,
            REFRESH,
            &as_other(json!({"token": refresh})),
        )
        .await;
    assert_eq!(r.code(), 0);
    h.call(Method::POST, REFRESH, json!({"token": refresh}))
        .await
        .assert_error(31, 403);
}

#[tokio::test]
async fn slashless_refresh_routes_redirect_with_307() {
    let h = Harness::start().await;
    let slashless = "/api/v1/app/token/refresh";
    for method in [Method::POST, Method::PATCH] {
        let r = h.call(method, slashless, json!({"token": "t"})).await;
        assert_eq!(r.status, StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(r.headers["location"], REFRESH);
    }
    let params = h.signed(json!({"token": "t"}));
    let r = h.raw(Method::DELETE, slashless, &params).await;
    assert_eq!(r.status, StatusCode::TEMPORARY_REDIRECT);
    let location = r.headers["location"].to_str().expect("location");
    assert!(
        location.starts_with("/api/v1/app/token/refresh/?"),
        "{location}"
    );
    assert!(location.contains("token=t"));
    // Followed, the redirect works (reqwest keeps method and body on 307).
    let data = h.sign_in(json!({})).await;
    let following = reqwest::Client::new();
    let params = h.signed(json!({"token": data["refreshToken"]}));
    let r = send(&following, &h.info.url, Method::POST, slashless, &params).await;
    assert!(r.data()["access_token"].is_string());
    // GET routes redirect with 301.
    let params = h.signed(json!({}));
    let r = h
        .raw(Method::GET, "/api/v1/app/keypair/server/", &params)
        .await;
    assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
}

#[tokio::test]
async fn clock_shift_expires_tokens() {
    let h = Harness::start().await;
    let data = h.sign_in(json!({})).await;
    let access = data["accessToken"].clone();
    let refresh = data["refreshToken"].clone();
    let clock = |body| h.admin(Method::POST, "/__emulator/clock", Some(body));
    // Within the 3 s leeway the access token still verifies.
    let r = clock(json!({"advanceSeconds": 301})).await.json();
    assert_eq!(r["offsetSeconds"], 301);
    assert_eq!(
        h.call(Method::POST, ACCESS_VERIFY, json!({"token": access}))
            .await
            .code(),
        0
    );
    clock(json!({"advanceSeconds": 3})).await;
    h.call(Method::POST, ACCESS_VERIFY, json!({"token": access}))
        .await
        .assert_error(31, 403);
    // The refresh token lives 7 days.
    let fresh = h
        .call(Method::POST, REFRESH, json!({"token": refresh}))
        .await
        .data();
    assert!(fresh["access_token"].is_string());
    let r = clock(json!({"offsetSeconds": 604_800})).await.json();
    assert_eq!(r["offsetSeconds"], 604_800);
    assert!(r["now"].as_i64().is_some_and(|n| n >= now() + 604_799));
    h.call(Method::POST, REFRESH, json!({"token": refresh}))
        .await
        .assert_error(31, 403);
    h.call(
        Method::PATCH,
        REFRESH,
        json!({"token": refresh, "payload": "x"}),
    )
    .await
    .assert_error(31, 403);
}

#[tokio::test]
async fn revoke_all_bumps_the_oid() {
    let h = Harness::start().await;
    let first = h.sign_in(json!({})).await;
    let second = h.sign_in(json!({})).await;
    let pending = h.login_token(h.uid()).await;
    let oid_before = claims(first["refreshToken"].as_str().expect("r"))["oid"]
        .as_u64()
        .expect("oid");
    let r = h
        .admin(
            Method::POST,
            &format!("/__emulator/users/{}/revoke-all", h.uid()),
            None,
        )
        .await
        .json();
    assert_eq!(r["oid"].as_u64(), Some(oid_before + 1));
    for data in [&first, &second] {
        h.call(
            Method::POST,
            REFRESH,
            json!({"token": data["refreshToken"]}),
        )
        .await
        .assert_error(31, 403);
        h.call(
            Method::POST,
            ACCESS_VERIFY,
            json!({"token": data["accessToken"]}),
        )
        .await
        .assert_error(31, 403);
    }
    h.call(Method::POST, VERIFY, json!({"token": pending}))
        .await
        .assert_error(6, 401);
    // New sign-ins carry the new oid and work.
    let third = h.sign_in(json!({})).await;
    assert_eq!(
        claims(third["refreshToken"].as_str().expect("r"))["oid"].as_u64(),
        Some(oid_before + 1)
    );
    // Other users are unaffected.
    let other = h.info.users[1].id;
    let token = h.login_token(other).await;
    assert_eq!(
        h.call(Method::POST, VERIFY, json!({"token": token}))
            .await
            .data()["userID"],
        other
    );
    let r = h
        .admin(Method::POST, "/__emulator/users/999/revoke-all", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tokens_verify_with_the_published_key() {
    let h = Harness::start().await;
    let keys = h.call(Method::GET, SERVER_KEYS, json!({})).await.data();
    let mut names: Vec<&String> = keys.as_object().expect("object").keys().collect();
    names.sort();
    assert_eq!(names, ["ca", "jwt"]);
    let (label, der) = decode_pem_b64(keys["jwt"].as_str().expect("jwt"));
    assert_eq!(label, "EC PUBLIC KEY");
    // PKIX SubjectPublicKeyInfo of an Ed25519 key: fixed 12-byte prefix + 32-byte key.
    assert_eq!(der.len(), 44);
    assert_eq!(
        &der[..12],
        &[0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]
    );
    let key = VerifyingKey::from_bytes(&der[12..].try_into().expect("32 bytes")).expect("key");
    let (ca_label, ca_der) = decode_pem_b64(keys["ca"].as_str().expect("ca"));
    assert_eq!(ca_label, "CERTIFICATE");
    assert_eq!(ca_der[0], 0x30);

    let data = h.sign_in(json!({})).await;
    for token in [&data["refreshToken"], &data["accessToken"]] {
        let token = token.as_str().expect("token");
        let (input, sig) = token.rsplit_once('.').expect("three parts");
        let sig: [u8; 64] = URL_SAFE_NO_PAD
            .decode(sig)
            .expect("b64")
            .try_into()
            .expect("64 bytes");
        assert!(key
            .verify(input.as_bytes(), &Signature::from_bytes(&sig))
            .is_ok());
    }
}

#[tokio::test]
async fn login_verify_binds_json_only_with_a_json_content_type() {
    let h = Harness::start().await;
    let token = h.login_token(h.uid()).await;
    let params = h.signed(json!({"token": token}));
    let body = serde_json::to_string(&params).expect("json");
    // The signature middleware accepts any content type, but CompleteLogin's c.ShouldBind
    // then uses form binding and finds no token: code 1, and the login token is not used.
    let r = reply(
        h.http
            .post(h.url(VERIFY))
            .header("content-type", "text/plain")
            .body(body.clone())
            .send()
            .await
            .expect("send"),
    )
    .await;
    r.assert_error(1, 400);
    let r = reply(
        h.http
            .post(h.url(VERIFY))
            .header("content-type", "application/json; charset=utf-8")
            .body(body)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(r.data()["userID"], h.uid());
    // Other routes read the JSON body whatever the content type says.
    let data = h.sign_in(json!({})).await;
    let params = h.signed(json!({"token": data["refreshToken"]}));
    let r = reply(
        h.http
            .post(h.url(REFRESH))
            .header("content-type", "text/plain")
            .body(serde_json::to_string(&params).expect("json"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert!(r.data()["access_token"].is_string());
}
