//! A real emulator on loopback, a client for its demo app, and tokens of its users.
#![allow(dead_code)]

use geniusauth::{Client, Config, LoginOptions};
use geniusauth_emulator::Emulator;
use serde_json::{json, Value};

pub struct Server {
    pub emulator: Emulator,
    pub client: Client,
    pub app_code: String,
    http: reqwest::Client,
}

pub const DELETE_ROUTE: &str = "DELETE /api/v1/app/token/refresh/";
pub const USERS_ROUTE: &str = "GET /api/v1/app/user/info";
pub const REFRESH_PATH: &str = "/api/v1/app/token/refresh/";

impl Server {
    pub async fn start() -> Server {
        let emulator = Emulator::start(geniusauth_emulator::Config::ephemeral())
            .await
            .expect("emulator starts");
        let info = emulator.info().clone();
        let config = Config::new(info.app_code.clone(), info.app_secret.clone())
            .with_base_url(emulator.url())
            .unwrap();
        Server {
            client: Client::new(config).unwrap(),
            app_code: info.app_code,
            emulator,
            http: {
                geniusauth::tls::install_crypto_provider();
                reqwest::Client::new()
            },
        }
    }

    pub fn url(&self) -> String {
        self.emulator.url().to_owned()
    }

    pub fn user_ids(&self) -> Vec<u64> {
        self.emulator.info().users.iter().map(|u| u.id).collect()
    }

    pub fn user_name(&self, id: u64) -> String {
        let users = &self.emulator.info().users;
        users.iter().find(|u| u.id == id).unwrap().name.clone()
    }

    /// A fresh sign-in of `uid`: (refresh token, access token).
    pub async fn sign_in(&self, uid: u64) -> (String, String) {
        let login = self.emulator.login_token(&self.app_code, uid).unwrap();
        let result = self
            .client
            .login_verify(&login, &LoginOptions::default())
            .await
            .expect("login verifies");
        (result.refresh_token, result.access_token)
    }

    /// `n` refresh tokens, round-robin over `uids`.
    pub async fn refresh_tokens(&self, n: usize, uids: &[u64]) -> Vec<String> {
        let mut tokens = Vec::with_capacity(n);
        for i in 0..n {
            tokens.push(self.sign_in(uids[i % uids.len()]).await.0);
        }
        tokens
    }

    pub fn login_token(&self, uid: u64) -> String {
        self.emulator.login_token(&self.app_code, uid).unwrap()
    }

    pub async fn create_user(&self, name: &str) -> u64 {
        let reply = self
            .admin_post(
                "/__emulator/users",
                json!({"name": name, "groups": ["测试"]}),
            )
            .await;
        reply["id"].as_u64().unwrap()
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    pub async fn fault(&self, body: Value) {
        self.admin_post("/__emulator/faults", body).await;
    }

    pub async fn clear_faults(&self) {
        self.http
            .delete(format!("{}/__emulator/faults", self.url()))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .send()
            .await
            .unwrap();
    }

    pub async fn count(&self, route: &str) -> u64 {
        let counts: Value = self
            .http
            .get(format!("{}/__emulator/requests", self.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        counts.get(route).and_then(Value::as_u64).unwrap_or(0)
    }

    /// Whether the server still takes the refresh token.
    pub async fn is_valid(&self, refresh_token: &str) -> bool {
        match self.client.refresh_access_token(refresh_token).await {
            Ok(_) => true,
            Err(err) if err.is_token_invalid() => false,
            Err(err) => panic!("unexpected error checking a token: {err}"),
        }
    }
}
