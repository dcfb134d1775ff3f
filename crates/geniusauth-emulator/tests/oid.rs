//! The user's operation id (`oid`) as a "groups changed" and "account frozen" event:
//! internal/api/controllers/feishu/webhook.go `userUpdated` (department sync, then
//! `ChangeOperateID` in internal/db/redis/UserJwt.go) and internal/pkg/feishu/UserSync.go
//! (frozen users' oid deleted, published as 0).

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// webhook.go userUpdated: new groups, oid + 1, every existing token of the user is code 31.
#[tokio::test]
async fn a_groups_change_bumps_the_oid_and_revokes_every_token() {
    let h = Harness::start().await;
    let uid = h.uid();
    let data = h.sign_in(json!({})).await;
    let (refresh, access) = (data["refreshToken"].clone(), data["accessToken"].clone());
    let old_oid = claims(refresh.as_str().expect("refresh"))["oid"].clone();
    let pending = h.login_token(uid).await;

    let r = h
        .admin(
            Method::POST,
            &format!("/__emulator/users/{uid}/groups"),
            Some(json!({"groups": ["设计", "新部门"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["groups"], json!(["设计", "新部门"]));
    assert_eq!(r.json()["oid"], old_oid.as_u64().expect("oid") + 1);

    h.call(Method::POST, REFRESH, json!({"token": refresh}))
        .await
        .assert_error(31, 403);
    h.call(Method::POST, ACCESS_VERIFY, json!({"token": access}))
        .await
        .assert_error(31, 403);
    h.call(Method::POST, ACCESS_USER_INFO, json!({"token": access}))
        .await
        .assert_error(31, 403);
    // A login token minted before the change is refused too (code 6 on login/verify).
    h.call(Method::POST, VERIFY, json!({"token": pending}))
        .await
        .assert_error(6, 401);

    // Signing in again gives the new groups and the new oid.
    let again = h.sign_in(json!({})).await;
    assert_eq!(again["groups"], json!(["设计", "新部门"]));
    let new_refresh = again["refreshToken"].as_str().expect("refresh");
    assert_eq!(claims(new_refresh)["oid"], r.json()["oid"]);
    let info = h
        .call(
            Method::POST,
            ACCESS_USER_INFO,
            json!({"token": again["accessToken"]}),
        )
        .await
        .data();
    assert_eq!(info["groups"], json!(["设计", "新部门"]));

    // revoke-all keeps working and bumps again.
    let r = h
        .admin(
            Method::POST,
            &format!("/__emulator/users/{uid}/revoke-all"),
            None,
        )
        .await;
    assert_eq!(r.json()["oid"], old_oid.as_u64().expect("oid") + 2);
    let r = h
        .admin(
            Method::POST,
            "/__emulator/users/999999/groups",
            Some(json!({"groups": []})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// UserSync.go: a frozen user's oid is deleted (0): tokens are code 31, no new sign-in, and
/// the public user info leaves the user out.
#[tokio::test]
async fn a_frozen_user_is_gone() {
    let h = Harness::start().await;
    let uid = h.uid();
    let data = h.sign_in(json!({})).await;
    let r = h
        .admin(
            Method::POST,
            &format!("/__emulator/users/{uid}/freeze"),
            None,
        )
        .await;
    assert_eq!(r.json(), json!({"oid": 0}), "{}", r.text);
    h.call(
        Method::POST,
        REFRESH,
        json!({"token": data["refreshToken"]}),
    )
    .await
    .assert_error(31, 403);
    let r = h
        .admin(
            Method::POST,
            "/__emulator/login-token",
            Some(json!({"appCode": h.info.app_code, "uid": uid})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let other = h.info.users[1].id;
    let listed = h
        .call(
            Method::GET,
            USER_INFO,
            json!({"id": format!("{uid},{other}")}),
        )
        .await
        .data();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["id"], other);
    // Freezing twice, or an unknown user: 404.
    let r = h
        .admin(
            Method::POST,
            &format!("/__emulator/users/{uid}/freeze"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
