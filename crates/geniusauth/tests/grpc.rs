//! The gRPC App service over real loopback mutual TLS against the emulator
//! (`cargo test -p geniusauth --features grpc`).
#![cfg(feature = "grpc")]

use std::time::{Duration, Instant};

use geniusauth::grpc::{
    AppRpc, Backoff, LinkState, RpcOptions, TokenCheck, TokenEvent, TokenWatch,
};
use geniusauth::{Claims, Client, Config, LoginOptions};
use geniusauth_emulator::Emulator;
use serde_json::Value;

struct Harness {
    emulator: Emulator,
    client: Client,
    admin: reqwest::Client,
}

impl Harness {
    async fn start() -> Harness {
        let emulator = Emulator::start(geniusauth_emulator::Config {
            grpc_listen: Some("127.0.0.1:0".parse().unwrap()),
            ..geniusauth_emulator::Config::ephemeral()
        })
        .await
        .expect("emulator starts");
        let client = new_client(&emulator);
        geniusauth::tls::install_crypto_provider();
        Harness {
            emulator,
            client,
            admin: reqwest::Client::new(),
        }
    }

    fn grpc_url(&self) -> String {
        self.emulator
            .info()
            .grpc_url
            .clone()
            .expect("grpcUrl announced")
    }

    fn uid(&self) -> u64 {
        self.emulator.info().users[0].id
    }

    /// A fresh sign-in: its refresh token and that token's claims.
    async fn sign_in(&self) -> (String, Claims) {
        let info = self.emulator.info();
        let login = self
            .emulator
            .login_token(&info.app_code, self.uid())
            .unwrap();
        let result = self
            .client
            .login_verify(&login, &LoginOptions::default())
            .await
            .unwrap();
        let claims = geniusauth::tokens::decode(&result.refresh_token)
            .unwrap()
            .claims;
        (result.refresh_token, claims)
    }

    async fn rpc(&self, backoff: Backoff) -> AppRpc {
        let mut options = RpcOptions::new(self.grpc_url());
        options.backoff = backoff;
        AppRpc::connect(&self.client, options)
            .await
            .expect("credentials")
    }

    async fn admin_post(&self, path: &str) -> Value {
        let response = self
            .admin
            .post(format!("{}{path}", self.emulator.url()))
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{path}: {response:?}");
        response.json().await.unwrap()
    }
}

fn new_client(emulator: &Emulator) -> Client {
    let info = emulator.info();
    Client::new(
        Config::new(info.app_code.clone(), info.app_secret.clone())
            .with_base_url(emulator.url())
            .unwrap(),
    )
    .unwrap()
}

fn fast() -> Backoff {
    Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(400),
    }
}

/// The next event that `wanted` accepts, within `limit`.
async fn expect_event(
    watch: &mut TokenWatch,
    limit: Duration,
    mut wanted: impl FnMut(&TokenEvent) -> bool,
) -> TokenEvent {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, watch.next_event()).await {
            Ok(Some(event)) if wanted(&event) => return event,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the watch ended"),
            Err(_) => panic!("no such event within {limit:?}"),
        }
    }
}

fn is_snapshot(event: &TokenEvent) -> bool {
    matches!(event, TokenEvent::Snapshot { .. })
}

#[tokio::test]
async fn a_rest_delete_by_another_client_reaches_the_stream_within_a_second() {
    let h = Harness::start().await;
    let (refresh, claims) = h.sign_in().await;
    let rpc = h.rpc(fast()).await;
    let mut watch = rpc.watch_token_operations();
    // Fails closed until the snapshot is in.
    assert!(watch.is_revoked(&claims) || watch.state() == LinkState::Connected);
    expect_event(&mut watch, Duration::from_secs(10), is_snapshot).await;
    assert_eq!(watch.check(&claims), TokenCheck::Valid);
    assert!(rpc.token_status(&[claims.id]).await.unwrap()[0].valid);

    let started = Instant::now();
    new_client(&h.emulator)
        .revoke_refresh_token(&refresh)
        .await
        .unwrap();
    let event = expect_event(
        &mut watch,
        Duration::from_secs(1),
        |e| matches!(e, TokenEvent::TokenCancelled { id, .. } if *id == claims.id),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(
        event,
        TokenEvent::TokenCancelled {
            id: claims.id,
            valid_before: claims.exp.unwrap()
        }
    );
    assert_eq!(watch.check(&claims), TokenCheck::Cancelled);
    assert!(watch.is_revoked(&claims));
    assert!(!rpc.token_status(&[claims.id]).await.unwrap()[0].valid);
}

#[tokio::test]
async fn an_oid_bump_is_delivered_and_revokes_the_users_tokens() {
    let h = Harness::start().await;
    let (_, claims) = h.sign_in().await;
    let rpc = h.rpc(fast()).await;
    let mut watch = rpc.watch_token_operations();
    expect_event(&mut watch, Duration::from_secs(10), is_snapshot).await;
    assert_eq!(watch.check(&claims), TokenCheck::Valid);

    let bumped = h
        .admin_post(&format!("/__emulator/users/{}/revoke-all", h.uid()))
        .await;
    let oid = bumped["oid"].as_u64().unwrap();
    assert_eq!(oid, claims.oid + 1);
    let event = expect_event(&mut watch, Duration::from_secs(1), |e| {
        matches!(e, TokenEvent::UserOidChanged { .. })
    })
    .await;
    assert_eq!(event, TokenEvent::UserOidChanged { uid: h.uid(), oid });
    assert_eq!(
        watch.check(&claims),
        TokenCheck::OidChanged {
            token_oid: claims.oid,
            current_oid: oid
        }
    );

    h.admin_post(&format!("/__emulator/users/{}/freeze", h.uid()))
        .await;
    expect_event(&mut watch, Duration::from_secs(1), |e| {
        *e == TokenEvent::UserDeleted { uid: h.uid() }
    })
    .await;
    assert_eq!(watch.check(&claims), TokenCheck::UserUnknown);
}

#[tokio::test]
async fn a_dropped_connection_reconnects_and_rebuilds_the_tables_from_the_snapshot() {
    let h = Harness::start().await;
    let (_, first) = h.sign_in().await;
    let (second_token, second) = h.sign_in().await;
    // A second of backoff leaves time to change state while no stream is open.
    let rpc = h
        .rpc(Backoff {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(2),
        })
        .await;
    let mut watch = rpc.watch_token_operations();
    let checker = watch.checker();
    expect_event(&mut watch, Duration::from_secs(10), is_snapshot).await;

    let dropped = h.admin_post("/__emulator/grpc/drop").await;
    assert!(dropped["dropped"].as_u64().unwrap() >= 1, "{dropped}");
    expect_event(&mut watch, Duration::from_secs(5), |e| {
        matches!(e, TokenEvent::Disconnected { .. })
    })
    .await;
    // Not connected: every token is refused, and the state says why.
    assert!(matches!(
        checker.check(&first),
        TokenCheck::NotConnected(LinkState::Reconnecting { attempt: 1, .. })
    ));
    // Revoked while no stream is open: only the next snapshot can tell.
    new_client(&h.emulator)
        .revoke_refresh_token(&second_token)
        .await
        .unwrap();

    let snapshot = expect_event(&mut watch, Duration::from_secs(10), is_snapshot).await;
    assert_eq!(
        snapshot,
        TokenEvent::Snapshot {
            users: h.emulator.info().users.len(),
            cancelled_tokens: 1
        }
    );
    assert_eq!(checker.state(), LinkState::Connected);
    assert_eq!(checker.check(&first), TokenCheck::Valid);
    assert_eq!(checker.check(&second), TokenCheck::Cancelled);
}

#[tokio::test]
async fn a_client_certificate_of_another_ca_is_refused() {
    let h = Harness::start().await;
    let (_, claims) = h.sign_in().await;
    let keys = h.client.server_public_keys().await.unwrap();
    // Another emulator has another CA: its certificate is well formed but not trusted here.
    let stranger = Emulator::start(geniusauth_emulator::Config::ephemeral())
        .await
        .unwrap();
    let foreign = new_client(&stranger).rpc_client_credential().await.unwrap();
    let own = h.client.rpc_client_credential().await.unwrap();
    let app_code = h.emulator.info().app_code.clone();

    let refused = AppRpc::with_credential(
        app_code.clone(),
        keys.ca.clone(),
        foreign,
        RpcOptions::new(h.grpc_url()),
    )
    .unwrap();
    let error = refused.token_status(&[claims.id]).await.unwrap_err();
    assert!(error.to_string().contains("gRPC"), "{error}");

    let accepted =
        AppRpc::with_credential(app_code, keys.ca, own, RpcOptions::new(h.grpc_url())).unwrap();
    assert!(accepted.token_status(&[claims.id]).await.unwrap()[0].valid);
}
