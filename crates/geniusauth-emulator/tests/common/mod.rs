//! Test harness: an emulator on a free loopback port and a client that signs requests with
//! its own implementation of the protocol's signature (independent of the emulator's).
#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use geniusauth_emulator::{Config, Emulator, StartupInfo};
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

pub const VERIFY: &str = "/api/v1/public/login/verify";
pub const REFRESH: &str = "/api/v1/app/token/refresh/";
pub const ACCESS_VERIFY: &str = "/api/v1/app/token/access/verify";
pub const ACCESS_USER_INFO: &str = "/api/v1/app/token/access/user/info";
pub const USER_INFO: &str = "/api/v1/app/user/info";
pub const SERVER_KEYS: &str = "/api/v1/app/keypair/server";

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// The protocol's signature: sha256 hex of sorted `key=value` pairs plus appSecret.
pub fn sign(params: &Map<String, Value>, secret: &str) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k.as_str() != "signature")
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                other => panic!("test helper signs scalars only, got {other}"),
            };
            (k.clone(), text)
        })
        .collect();
    pairs.push(("appSecret".into(), secret.into()));
    pairs.sort();
    let joined: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    hex::encode(Sha256::digest(joined.join("&").as_bytes()))
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    pub fn code(&self) -> i64 {
        self.json()["code"].as_i64().expect("code")
    }

    pub fn data(&self) -> Value {
        let body = self.json();
        assert_eq!(body["code"], 0, "expected success, got {}", self.text);
        assert_eq!(self.status, StatusCode::OK);
        body["data"].clone()
    }

    /// Asserts an error envelope with this code and HTTP status.
    pub fn assert_error(&self, code: i64, status: u16) {
        let body = self.json();
        assert_eq!(body["code"], code, "body: {}", self.text);
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert!(body["msg"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(body.get("data").is_none());
    }
}

pub struct Harness {
    pub emulator: Emulator,
    pub info: StartupInfo,
    pub http: reqwest::Client,
}

/// reqwest is built without a crypto provider of its own (the workspace uses ring).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub fn client() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::start_with(Config::ephemeral()).await
    }

    pub async fn start_with(config: Config) -> Harness {
        let emulator = Emulator::start(config).await.expect("emulator starts");
        let info = emulator.info().clone();
        Harness {
            emulator,
            info,
            http: client(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.info.url, path)
    }

    pub fn uid(&self) -> u64 {
        self.info.users[0].id
    }

    /// Adds appCode, timeStamp and signature for the demo app.
    pub fn signed(&self, params: Value) -> Map<String, Value> {
        signed_as(&self.info.app_code, &self.info.app_secret, params, now())
    }

    pub async fn raw(&self, method: Method, path: &str, params: &Map<String, Value>) -> Reply {
        send(&self.http, &self.info.url, method, path, params).await
    }

    /// A signed call by the demo app.
    pub async fn call(&self, method: Method, path: &str, params: Value) -> Reply {
        let params = self.signed(params);
        self.raw(method, path, &params).await
    }

    /// An admin call; state-changing ones always say `Content-Type: application/json`, as
    /// the admin API requires.
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let changes_state = method != Method::GET;
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        } else if changes_state {
            request = request.header("content-type", "application/json");
        }
        reply(request.send().await.expect("admin request")).await
    }

    pub async fn login_token(&self, uid: u64) -> String {
        let r = self
            .admin(
                Method::POST,
                "/__emulator/login-token",
                Some(json!({"appCode": self.info.app_code, "uid": uid})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json()["token"].as_str().expect("token").to_owned()
    }

    /// Signs in the first user with grantType=refresh_token and returns the verify data.
    pub async fn sign_in(&self, extra: Value) -> Value {
        let token = self.login_token(self.uid()).await;
        let mut params = json!({"token": token, "grantType": "refresh_token"});
        if let (Some(p), Value::Object(e)) = (params.as_object_mut(), extra) {
            p.extend(e);
        }
        self.call(Method::POST, VERIFY, params).await.data()
    }
}

pub fn signed_as(
    app_code: &str,
    secret: &str,
    params: Value,
    time_stamp: i64,
) -> Map<String, Value> {
    let mut map = match params {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    map.insert("appCode".into(), json!(app_code));
    map.insert("timeStamp".into(), json!(time_stamp));
    let signature = sign(&map, secret);
    map.insert("signature".into(), json!(signature));
    map
}

pub async fn send(
    http: &reqwest::Client,
    base: &str,
    method: Method,
    path: &str,
    params: &Map<String, Value>,
) -> Reply {
    let url = format!("{base}{path}");
    let request = if method == Method::GET || method == Method::DELETE {
        let query: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), text)
            })
            .collect();
        http.request(method, url).query(&query)
    } else {
        http.request(method, url).json(params)
    };
    reply(request.send().await.expect("request")).await
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    Reply {
        status,
        headers,
        text,
    }
}

/// The JWT's claims (no verification).
pub fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("claims segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

pub fn jwt_header(token: &str) -> Value {
    let part = token.split('.').next().expect("header segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

/// Decodes a base64 PEM from the keypair endpoint: (label, DER).
pub fn decode_pem_b64(b64: &str) -> (String, Vec<u8>) {
    let pem = String::from_utf8(STANDARD.decode(b64).expect("base64")).expect("utf8");
    let mut lines = pem.lines();
    let begin = lines.next().expect("BEGIN line");
    let label = begin
        .strip_prefix("-----BEGIN ")
        .and_then(|l| l.strip_suffix("-----"))
        .expect("PEM header")
        .to_owned();
    let body: String = lines.take_while(|l| !l.starts_with("-----END")).collect();
    assert!(pem.ends_with(&format!("-----END {label}-----\n")));
    (label, STANDARD.decode(body).expect("PEM body"))
}

/// Parses an RFC 7231 IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) to unix seconds.
pub fn parse_http_date(text: &str) -> i64 {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = text.split([' ', ':']).collect();
    let [_, day, month, year, h, m, s, "GMT"] = parts.as_slice() else {
        panic!("not an IMF-fixdate: {text:?}");
    };
    let number = |t: &str| t.parse::<i64>().unwrap_or_else(|_| panic!("{text:?}"));
    let month = MONTHS.iter().position(|x| x == month).expect("month") as i64 + 1;
    // Days from civil (H. Hinnant), independent of the emulator's own code.
    let (y, mo) = if month <= 2 {
        (number(year) - 1, month + 9)
    } else {
        (number(year), month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + number(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + number(h) * 3600 + number(m) * 60 + number(s)
}

/// The reply's `Date` header as unix seconds.
pub fn date_of(reply: &Reply) -> i64 {
    parse_http_date(reply.headers["date"].to_str().expect("Date header"))
}
