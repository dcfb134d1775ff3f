//! Every call and every error path against the real emulator over loopback.

use std::collections::BTreeMap;
use std::time::Duration;

use geniusauth::{Client, Config, Error, Grant, LoginOptions, TokenType};
use geniusauth_emulator::Emulator;
use serde_json::{json, Value};

struct Harness {
    emulator: Emulator,
    client: Client,
    admin: reqwest::Client,
}

impl Harness {
    async fn start() -> Self {
        let emulator = Emulator::start(geniusauth_emulator::Config::ephemeral())
            .await
            .expect("emulator starts");
        let info = emulator.info().clone();
        let client = Client::new(config(emulator.url(), &info.app_code, &info.app_secret)).unwrap();
        Self {
            emulator,
            client,
            admin: {
                geniusauth::tls::install_crypto_provider();
                reqwest::Client::new()
            },
        }
    }

    fn uid(&self) -> u64 {
        self.emulator.info().users[0].id
    }

    fn login_token(&self) -> String {
        let info = self.emulator.info();
        self.emulator
            .login_token(&info.app_code, self.uid())
            .unwrap()
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.emulator.url());
        let changes_state = method != reqwest::Method::GET;
        let mut request = self.admin.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        } else if changes_state {
            // The emulator's admin API takes state changes as JSON only.
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json");
        }
        let response = request.send().await.unwrap();
        assert!(response.status().is_success(), "admin {path}: {response:?}");
        response.json().await.unwrap()
    }

    async fn fault(&self, spec: Value) {
        self.admin(reqwest::Method::POST, "/__emulator/faults", Some(spec))
            .await;
    }

    async fn request_counts(&self) -> BTreeMap<String, u64> {
        let counts = self
            .admin(reqwest::Method::GET, "/__emulator/requests", None)
            .await;
        serde_json::from_value(counts).unwrap()
    }

    /// A fresh refresh and access token for the first seed user.
    async fn sign_in(&self, payload: Option<&str>) -> geniusauth::LoginResult {
        let options = LoginOptions {
            payload: payload.map(str::to_owned),
            ..Default::default()
        };
        self.client
            .login_verify(&self.login_token(), &options)
            .await
            .unwrap()
    }

    /// A second registered app with its own client.
    async fn other_app_client(&self) -> Client {
        let app = self
            .admin(
                reqwest::Method::POST,
                "/__emulator/apps",
                Some(json!({"name": "Other app", "callback": "http://localhost:47151/callback"})),
            )
            .await;
        Client::new(config(
            self.emulator.url(),
            app["appCode"].as_str().unwrap(),
            app["appSecret"].as_str().unwrap(),
        ))
        .unwrap()
    }
}

fn config(url: &str, app_code: &str, secret: &str) -> Config {
    Config::new(app_code, secret)
        .with_base_url(url)
        .unwrap()
        .with_request_timeout(Duration::from_secs(2))
}

#[tokio::test]
async fn login_verify_refresh_grant_gives_working_tokens() {
    let h = Harness::start().await;
    let login = h.sign_in(Some("研发")).await;
    assert_eq!(login.user_id, h.uid());
    assert_eq!(login.name, h.emulator.info().users[0].name);
    assert!(!login.refresh_token.is_empty());
    assert!(!login.access_token.is_empty());

    let refresh = h
        .client
        .verify_token(&login.refresh_token, &TokenType::Refresh)
        .await
        .unwrap();
    assert_eq!(refresh.uid, h.uid());
    assert_eq!(refresh.app_code, h.emulator.info().app_code);
    assert_eq!(refresh.payload, "研发");
    // Default validity: 7 days.
    assert_eq!(refresh.exp.unwrap() - refresh.iat.unwrap(), 604_800);
    let access = h
        .client
        .verify_token(&login.access_token, &TokenType::Access)
        .await
        .unwrap();
    assert_eq!(access.id, refresh.id);
}

#[tokio::test]
async fn login_token_is_single_use() {
    let h = Harness::start().await;
    let token = h.login_token();
    h.client
        .login_verify(&token, &LoginOptions::default())
        .await
        .unwrap();
    let err = h
        .client
        .login_verify(&token, &LoginOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    assert_eq!(err.server_code(), Some(6));
    assert!(!err.is_transient());
}

#[tokio::test]
async fn login_verify_other_grants_and_validity() {
    let h = Harness::start().await;
    for grant in [Grant::Once, Grant::None] {
        let options = LoginOptions {
            grant,
            client_ip: Some("10.0.0.1".into()),
            ..Default::default()
        };
        let login = h
            .client
            .login_verify(&h.login_token(), &options)
            .await
            .unwrap();
        assert_eq!(login.user_id, h.uid());
        assert_eq!(login.refresh_token, "");
        assert_eq!(login.access_token, "");
    }
    let options = LoginOptions {
        grant: Grant::RefreshToken {
            valid: Some(2_592_000),
        },
        payload: Some("字".repeat(32)),
        client_ip: None,
    };
    let login = h
        .client
        .login_verify(&h.login_token(), &options)
        .await
        .unwrap();
    let claims = geniusauth::tokens::decode(&login.refresh_token)
        .unwrap()
        .claims;
    assert_eq!(claims.exp.unwrap() - claims.iat.unwrap(), 2_592_000);
    assert_eq!(claims.payload, "字".repeat(32));
}

#[tokio::test]
async fn refresh_edit_payload_and_verify() {
    let h = Harness::start().await;
    let login = h.sign_in(Some("first")).await;

    let refreshed = h
        .client
        .refresh_access_token(&login.refresh_token)
        .await
        .unwrap();
    assert!(!refreshed.access_token.is_empty());
    assert_eq!(refreshed.payload, "first");

    let info = h
        .client
        .verify_access_token(&refreshed.access_token)
        .await
        .unwrap();
    assert_eq!(info.uid, h.uid());
    assert_eq!(info.payload, "first");

    let edited = h
        .client
        .edit_payload(&login.refresh_token, "second", true)
        .await
        .unwrap();
    assert_ne!(edited.refresh_token, login.refresh_token);
    let access = edited.access_token.expect("asked for an access token");
    assert_eq!(
        h.client.verify_access_token(&access).await.unwrap().payload,
        "second"
    );
    let again = h
        .client
        .refresh_access_token(&edited.refresh_token)
        .await
        .unwrap();
    assert_eq!(again.payload, "second");
    // The old string stays valid (same id).
    assert_eq!(
        h.client
            .refresh_access_token(&login.refresh_token)
            .await
            .unwrap()
            .payload,
        "first"
    );

    let without = h
        .client
        .edit_payload(&login.refresh_token, "third", false)
        .await
        .unwrap();
    assert_eq!(without.access_token, None);
}

#[tokio::test]
async fn user_info_and_public_user_info() {
    let h = Harness::start().await;
    let login = h.sign_in(None).await;
    let me = h.client.user_info(&login.access_token).await.unwrap();
    assert_eq!(me.user_id, h.uid());
    assert_eq!(me.name, login.name);
    assert_eq!(me.groups, login.groups);

    let ids: Vec<u64> = h.emulator.info().users.iter().map(|u| u.id).collect();
    let users = h.client.public_user_info(&ids).await.unwrap();
    assert!(!users.is_empty());
    assert_eq!(users[0].id, ids[0]);
    assert_eq!(users[0].name, h.emulator.info().users[0].name);
    let none = h.client.public_user_info(&[999_999]).await.unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn server_public_keys_verify_tokens() {
    let h = Harness::start().await;
    let keys = h.client.server_public_keys().await.unwrap();
    assert!(keys.jwt.contains("-----BEGIN"), "{}", keys.jwt);
    let key = keys.jwt_verifying_key().unwrap();
    let login = h.sign_in(None).await;
    geniusauth::tokens::verify(&login.refresh_token, &key, &TokenType::Refresh).unwrap();
    let err =
        geniusauth::tokens::verify(&login.refresh_token, &key, &TokenType::Access).unwrap_err();
    assert_eq!(err.code(), "token_wrong_type");
}

#[tokio::test]
async fn revoked_refresh_token_is_code_31() {
    let h = Harness::start().await;
    let login = h.sign_in(None).await;
    h.client
        .revoke_refresh_token(&login.refresh_token)
        .await
        .unwrap();
    let err = h
        .client
        .refresh_access_token(&login.refresh_token)
        .await
        .unwrap_err();
    assert!(err.is_token_invalid(), "{err:?}");
    assert!(!err.is_transient());
    assert!(matches!(
        err,
        Error::Server {
            http_status: 403,
            ..
        }
    ));
    // Access tokens made from it die with it.
    let err = h
        .client
        .verify_access_token(&login.access_token)
        .await
        .unwrap_err();
    assert!(err.is_token_invalid(), "{err:?}");
    // Revoking twice: the token is already invalid.
    let err = h
        .client
        .revoke_refresh_token(&login.refresh_token)
        .await
        .unwrap_err();
    assert!(err.is_token_invalid(), "{err:?}");
}

#[tokio::test]
async fn revoke_all_and_expiry_are_code_31() {
    let h = Harness::start().await;
    let login = h.sign_in(None).await;
    h.admin(
        reqwest::Method::POST,
        &format!("/__emulator/users/{}/revoke-all", h.uid()),
        None,
    )
    .await;
    let err = h
        .client
        .refresh_access_token(&login.refresh_token)
        .await
        .unwrap_err();
    assert!(err.is_token_invalid(), "{err:?}");

    let login = h.sign_in(None).await;
    h.admin(
        reqwest::Method::POST,
        "/__emulator/clock",
        Some(json!({"advanceSeconds": 310})),
    )
    .await;
    let err = h
        .client
        .verify_access_token(&login.access_token)
        .await
        .unwrap_err();
    assert!(err.is_token_invalid(), "{err:?}");
    // The refresh token (7 days) still works.
    h.client
        .refresh_access_token(&login.refresh_token)
        .await
        .unwrap();
}

#[tokio::test]
async fn another_apps_token_is_code_6() {
    let h = Harness::start().await;
    let login = h.sign_in(None).await;
    let other = h.other_app_client().await;
    for err in [
        other
            .refresh_access_token(&login.refresh_token)
            .await
            .unwrap_err(),
        other
            .verify_access_token(&login.access_token)
            .await
            .unwrap_err(),
        other.user_info(&login.access_token).await.unwrap_err(),
    ] {
        assert!(err.is_unauthorized(), "{err:?}");
        assert_eq!(err.server_code(), Some(6));
        assert!(matches!(
            err,
            Error::Server {
                http_status: 401,
                ..
            }
        ));
    }
    // The server does not check the app on DELETE: support can revoke any token.
    other
        .revoke_refresh_token(&login.refresh_token)
        .await
        .unwrap();
    assert!(h
        .client
        .refresh_access_token(&login.refresh_token)
        .await
        .unwrap_err()
        .is_token_invalid());
}

#[tokio::test]
async fn wrong_secret_and_unknown_app() {
    let h = Harness::start().await;
    let info = h.emulator.info();
    let wrong_secret = Client::new(config(h.emulator.url(), &info.app_code, "wrong")).unwrap();
    let err = wrong_secret.server_public_keys().await.unwrap_err();
    assert_eq!(err.server_code(), Some(6));
    let unknown = Client::new(config(h.emulator.url(), "Zz9Zz9Zz", "x")).unwrap();
    let err = unknown.server_public_keys().await.unwrap_err();
    assert_eq!(err.server_code(), Some(3));
    assert!(matches!(
        err,
        Error::Server {
            http_status: 404,
            ..
        }
    ));
}

/// The client does not judge the app code (the app's settings do); an empty one reaches the
/// server, whose signature binding requires it: code 1, HTTP 400, as a plain server error.
#[tokio::test]
async fn empty_app_code_is_the_servers_code_1() {
    let h = Harness::start().await;
    let login = h.sign_in(None).await;
    let info = h.emulator.info();
    let no_app = Client::new(config(h.emulator.url(), "", &info.app_secret)).unwrap();
    let errors = [
        no_app
            .refresh_access_token(&login.refresh_token)
            .await
            .unwrap_err(),
        no_app
            .revoke_refresh_token(&login.refresh_token)
            .await
            .unwrap_err(),
        no_app.public_user_info(&[h.uid()]).await.unwrap_err(),
    ];
    for err in errors {
        match &err {
            Error::Server {
                code,
                msg,
                http_status,
            } => {
                assert_eq!((*code, *http_status), (1, 400), "{err:?}");
                assert_eq!(msg, "参数错误，请把输入截图发给前端同学");
            }
            other => panic!("expected a server error, got {other:?}"),
        }
        assert_eq!(err.code(), "server");
        assert!(!err.is_transient());
        assert!(!err.is_unauthorized() && !err.is_token_invalid());
        assert_eq!(
            err.explanation(),
            "The server rejected the request's parameters."
        );
    }
    // Nothing was revoked.
    h.client
        .refresh_access_token(&login.refresh_token)
        .await
        .unwrap();
}

/// A machine whose clock is ten minutes off either way: its first stamp is refused (code 9),
/// the reply's `Date` tells the server's time, and the call is sent once more, stamped right.
/// Later calls are right the first time.
#[tokio::test]
async fn a_clock_ten_minutes_off_is_corrected_from_the_date_header() {
    let h = Harness::start().await;
    let info = h.emulator.info();
    for offset in [-600, 600] {
        let skewed = Client::new(
            config(h.emulator.url(), &info.app_code, &info.app_secret)
                .with_clock_offset_secs(offset),
        )
        .unwrap();
        h.admin(reqwest::Method::DELETE, "/__emulator/requests", None)
            .await;
        skewed.server_public_keys().await.unwrap();
        let counts = h.request_counts().await;
        assert_eq!(
            counts["GET /api/v1/app/keypair/server"], 2,
            "offset {offset}"
        );
        assert!(skewed.clock().is_measured());
        assert!(
            skewed.clock().offset_ms().abs() <= 1_500,
            "offset {offset} corrected to {} ms",
            skewed.clock().offset_ms()
        );
        let login = skewed
            .login_verify(&h.login_token(), &LoginOptions::default())
            .await
            .unwrap();
        skewed
            .refresh_access_token(&login.refresh_token)
            .await
            .unwrap();
        let counts = h.request_counts().await;
        assert_eq!(counts["POST /api/v1/public/login/verify"], 1);
        assert_eq!(counts["POST /api/v1/app/token/refresh/"], 1);
    }
    // A small offset is within the server's window: no retry was needed.
    let slightly = Client::new(
        config(h.emulator.url(), &info.app_code, &info.app_secret).with_clock_offset_secs(-120),
    )
    .unwrap();
    h.admin(reqwest::Method::DELETE, "/__emulator/requests", None)
        .await;
    slightly.server_public_keys().await.unwrap();
    assert_eq!(
        h.request_counts().await["GET /api/v1/app/keypair/server"],
        1
    );
}

#[tokio::test]
async fn bad_input_is_caught_before_any_request() {
    let h = Harness::start().await;
    h.admin(reqwest::Method::DELETE, "/__emulator/requests", None)
        .await;
    let too_long = "x".repeat(33);
    let errors = [
        h.client
            .login_verify("", &LoginOptions::default())
            .await
            .unwrap_err(),
        h.client
            .login_verify(
                "t",
                &LoginOptions {
                    grant: Grant::RefreshToken { valid: Some(60) },
                    ..Default::default()
                },
            )
            .await
            .unwrap_err(),
        h.client
            .login_verify(
                "t",
                &LoginOptions {
                    payload: Some(too_long.clone()),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err(),
        h.client.edit_payload("t", "", true).await.unwrap_err(),
        h.client
            .edit_payload("t", &too_long, true)
            .await
            .unwrap_err(),
        h.client.refresh_access_token("").await.unwrap_err(),
        h.client.public_user_info(&[]).await.unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.code(), "invalid_input", "{err:?}");
    }
    assert_eq!(h.request_counts().await, BTreeMap::new());

    // The same mistakes slipping through would be code 1 from the server.
    let raw = reqwest::Client::new()
        .post(format!("{}/api/v1/app/token/refresh/", h.emulator.url()))
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let counts = h.request_counts().await;
    assert_eq!(counts.get("POST /api/v1/app/token/refresh/"), Some(&1));
}

#[tokio::test]
async fn faults_are_transient_errors() {
    let h = Harness::start().await;
    let login = h.sign_in(None).await;
    let path = "/api/v1/app/token/refresh/";
    let cases = [
        ("http502", "unexpected_reply"),
        ("http500", "unexpected_reply"),
        ("truncated", "unexpected_reply"),
        ("drop", "network"),
    ];
    for (kind, code) in cases {
        h.fault(json!({"path": path, "kind": kind, "times": 1}))
            .await;
        let err = h
            .client
            .refresh_access_token(&login.refresh_token)
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{kind}: {err:?}");
        assert!(err.is_transient(), "{kind}");
        if kind.starts_with("http") {
            let status = if kind == "http502" { 502 } else { 500 };
            assert!(
                matches!(err, Error::UnexpectedReply { http_status, .. } if http_status == status)
            );
        }
    }
    h.fault(json!({"path": path, "kind": "latency", "delayMs": 3000, "times": 1}))
        .await;
    let err = h
        .client
        .refresh_access_token(&login.refresh_token)
        .await
        .unwrap_err();
    assert_eq!(err, Error::Timeout);
    assert!(err.is_transient());
    // Faults used up: the next call works.
    h.client
        .refresh_access_token(&login.refresh_token)
        .await
        .unwrap();
}

#[tokio::test]
async fn client_is_shared_across_tasks() {
    let h = Harness::start().await;
    let login = h.sign_in(None).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = h.client.clone();
        let token = login.refresh_token.clone();
        tasks.push(tokio::spawn(async move {
            client.refresh_access_token(&token).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
}
