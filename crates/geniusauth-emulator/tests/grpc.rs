//! The gRPC App service as the server's internal/rpc/app/app.go serves it: the snapshot
//! first, then deltas for the calling app only; DestroyToken checks ownership; the startup
//! line announces the service.

mod common;

use std::time::Duration;

use common::*;
use geniusauth::grpc::{AppRpc, RpcOptions, TokenCheck, TokenEvent, TokenWatch};
use geniusauth::{Claims, LoginOptions};
use geniusauth_emulator::Config;
use reqwest::Method;
use serde_json::json;

async fn start() -> Harness {
    Harness::start_with(Config {
        grpc_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..Config::ephemeral()
    })
    .await
}

fn rest_client(h: &Harness, app_code: &str, secret: &str) -> geniusauth::Client {
    geniusauth::Client::new(
        geniusauth::Config::new(app_code, secret)
            .with_base_url(&h.info.url)
            .unwrap(),
    )
    .unwrap()
}

async fn sign_in(h: &Harness, client: &geniusauth::Client) -> (String, Claims) {
    let login = h
        .emulator
        .login_token(&client.config().app_code, h.uid())
        .unwrap();
    let result = client
        .login_verify(&login, &LoginOptions::default())
        .await
        .unwrap();
    let claims = geniusauth::tokens::decode(&result.refresh_token)
        .unwrap()
        .claims;
    (result.refresh_token, claims)
}

async fn next(watch: &mut TokenWatch) -> TokenEvent {
    tokio::time::timeout(Duration::from_secs(5), watch.next_event())
        .await
        .expect("an event in time")
        .expect("the watch runs")
}

#[tokio::test]
async fn snapshot_first_then_only_the_calling_apps_cancellations() {
    let h = start().await;
    let demo = rest_client(&h, &h.info.app_code, &h.info.app_secret);
    let other_app = h
        .admin(
            Method::POST,
            "/__emulator/apps",
            Some(json!({"name": "Other", "callback": "http://localhost:47151/callback"})),
        )
        .await
        .json();
    let other = rest_client(
        &h,
        other_app["appCode"].as_str().unwrap(),
        other_app["appSecret"].as_str().unwrap(),
    );
    // Cancelled before the stream opens: in the snapshot, for its owner only.
    let (early, early_claims) = sign_in(&h, &demo).await;
    demo.revoke_refresh_token(&early).await.unwrap();
    let (other_early, _) = sign_in(&h, &other).await;
    other.revoke_refresh_token(&other_early).await.unwrap();

    let rpc = AppRpc::connect(&demo, RpcOptions::new(h.info.grpc_url.clone().unwrap()))
        .await
        .unwrap();
    let mut watch = rpc.watch_token_operations();
    assert_eq!(
        next(&mut watch).await,
        TokenEvent::Snapshot {
            users: h.info.users.len(),
            cancelled_tokens: 1
        }
    );
    assert_eq!(watch.check(&early_claims), TokenCheck::Cancelled);

    // Another app's token revoked (through the demo app's REST DELETE, which any app may
    // use): not this stream's business. Then the demo app's own: the next event.
    let (other_token, _) = sign_in(&h, &other).await;
    demo.revoke_refresh_token(&other_token).await.unwrap();
    let (own, own_claims) = sign_in(&h, &demo).await;
    other.revoke_refresh_token(&own).await.unwrap();
    assert_eq!(
        next(&mut watch).await,
        TokenEvent::TokenCancelled {
            id: own_claims.id,
            valid_before: own_claims.exp.unwrap()
        }
    );
}

#[tokio::test]
async fn destroy_token_leaves_another_apps_token_alone_and_cancels_its_own() {
    let h = start().await;
    let demo = rest_client(&h, &h.info.app_code, &h.info.app_secret);
    let other_app = h
        .admin(
            Method::POST,
            "/__emulator/apps",
            Some(json!({"name": "Other", "callback": "http://localhost:47152/callback"})),
        )
        .await
        .json();
    let other = rest_client(
        &h,
        other_app["appCode"].as_str().unwrap(),
        other_app["appSecret"].as_str().unwrap(),
    );
    let rpc = AppRpc::connect(&demo, RpcOptions::new(h.info.grpc_url.clone().unwrap()))
        .await
        .unwrap();
    let (foreign, foreign_claims) = sign_in(&h, &other).await;
    rpc.destroy(&foreign).await.unwrap();
    assert!(rpc.token_status(&[foreign_claims.id]).await.unwrap()[0].valid);
    assert!(rpc.refresh(&foreign).await.is_err(), "not this app's token");

    let (own, own_claims) = sign_in(&h, &demo).await;
    let (access, payload) = rpc.refresh(&own).await.unwrap();
    assert_eq!(payload, "");
    assert_eq!(
        geniusauth::tokens::decode(&access).unwrap().claims.id,
        own_claims.id
    );
    rpc.destroy(&own).await.unwrap();
    assert!(!rpc.token_status(&[own_claims.id]).await.unwrap()[0].valid);

    let user = rpc.user_info(h.uid()).await.unwrap();
    assert_eq!(user.uid, h.uid());
    assert_eq!(user.name, h.info.users[0].name);
}
