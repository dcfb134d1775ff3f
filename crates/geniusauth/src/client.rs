//! The HTTP client: one typed async method per GeniusAuth endpoint.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::VerifyingKey;
use reqwest::Method;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;
use tokio::sync::OnceCell;
use url::Url;

use crate::clock::{local_now_ms, ServerClock};
use crate::config::Config;
use crate::envelope::{decode_envelope, read_capped_body, snippet};
use crate::error::Error;
use crate::model::{
    AccessTokenInfo, AppInfo, Grant, LoginOptions, LoginResult, PayloadUpdate, PublicUserInfo,
    RefreshResult, RpcClientCredential, ServerPublicKeys, UserInfo, MAX_PAYLOAD_CHARS,
    MAX_REFRESH_VALIDITY_SECS, MIN_REFRESH_VALIDITY_SECS,
};
use crate::signature::{sign, ParamValue};
use crate::tokens::{self, Claims, TokenType};

// The refresh routes end with '/': gin answers the slash-less form with a 307 redirect.
const PATH_LOGIN_VERIFY: &str = "/api/v1/public/login/verify";
const PATH_REFRESH: &str = "/api/v1/app/token/refresh/";
const PATH_ACCESS_VERIFY: &str = "/api/v1/app/token/access/verify";
const PATH_ACCESS_USER_INFO: &str = "/api/v1/app/token/access/user/info";
const PATH_PUBLIC_USER_INFO: &str = "/api/v1/app/user/info";
const PATH_SERVER_KEYS: &str = "/api/v1/app/keypair/server";
const PATH_RPC_CREDENTIAL: &str = "/api/v1/app/keypair/rpc";
// Registered as `G.GET("/")` in the `app` group: the path ends with '/'.
const PATH_PUBLIC_APP: &str = "/api/v1/public/app/";

const MAX_REDIRECTS: usize = 5;

/// A GeniusAuth client for one app. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: Config,
    /// The token-signing key, fetched on first use by [`Client::verify_token`].
    jwt_key: OnceCell<VerifyingKey>,
    /// The server's clock, learnt from every reply's `Date`.
    clock: ServerClock,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

type Params = Vec<(&'static str, ParamValue)>;

impl Client {
    pub fn new(config: Config) -> Result<Self, Error> {
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .user_agent(concat!("geniusauth/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(same_origin_redirects())
            .build()
            .map_err(|e| Error::Network(error_chain(&e)))?;
        let clock = ServerClock::with_offset_ms(config.clock_offset_secs.saturating_mul(1000));
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                jwt_key: OnceCell::new(),
                clock,
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The server's clock as measured from its replies so far.
    pub fn clock(&self) -> &ServerClock {
        &self.inner.clock
    }

    /// `GET /api/v1/public/app/?appCode=…` (unsigned, rate limited on the server): the app's
    /// registered name and its callback's `host[:port]`. An unknown appCode is code 3. A cheap
    /// check of a profile before a browser opens, which also measures the server's clock.
    pub async fn app_info(&self) -> Result<AppInfo, Error> {
        let mut url = self.endpoint(PATH_PUBLIC_APP);
        url.query_pairs_mut()
            .append_pair("appCode", &self.inner.config.app_code);
        let (status, body) = self.send(self.inner.http.get(url)).await?;
        decode_envelope(status, &body)
    }

    /// Where to send the user's browser to sign in: `<server>/?appCode=<code>`.
    pub fn login_url(&self) -> Url {
        let mut url = self.endpoint("/");
        url.query_pairs_mut()
            .append_pair("appCode", &self.inner.config.app_code);
        url
    }

    /// `POST /api/v1/public/login/verify`: exchanges the single-use login token the browser
    /// brought back for the user's identity and (with the default grant) tokens.
    pub async fn login_verify(
        &self,
        login_token: &str,
        options: &LoginOptions,
    ) -> Result<LoginResult, Error> {
        let mut params: Params = vec![("token", checked_token(login_token, "login token")?)];
        match options.grant {
            Grant::RefreshToken { valid } => {
                params.push(("grantType", "refresh_token".into()));
                if let Some(valid) = valid {
                    if !(MIN_REFRESH_VALIDITY_SECS..=MAX_REFRESH_VALIDITY_SECS).contains(&valid) {
                        return Err(Error::InvalidInput(format!(
                            "refresh token validity must be {MIN_REFRESH_VALIDITY_SECS} to \
                             {MAX_REFRESH_VALIDITY_SECS} seconds (7 to 30 days), got {valid}"
                        )));
                    }
                    params.push(("valid", ParamValue::Int(valid as i64)));
                }
            }
            Grant::Once => params.push(("grantType", "once".into())),
            Grant::None => {}
        }
        if let Some(payload) = options.payload.as_deref().filter(|p| !p.is_empty()) {
            params.push(("payload", checked_payload(payload)?));
        }
        if let Some(ip) = options.client_ip.as_deref().map(str::trim) {
            if !ip.is_empty() {
                params.push(("clientIp", ip.into()));
            }
        }
        self.call(Method::POST, PATH_LOGIN_VERIFY, params).await
    }

    /// `POST /api/v1/app/token/refresh/`: a new 5-minute access token.
    pub async fn refresh_access_token(&self, refresh_token: &str) -> Result<RefreshResult, Error> {
        let params = vec![("token", checked_token(refresh_token, "refresh token")?)];
        self.call(Method::POST, PATH_REFRESH, params).await
    }

    /// `PATCH /api/v1/app/token/refresh/`: a new refresh token carrying `payload`, plus an
    /// access token when `with_access_token`.
    pub async fn edit_payload(
        &self,
        refresh_token: &str,
        payload: &str,
        with_access_token: bool,
    ) -> Result<PayloadUpdate, Error> {
        let token = checked_token(refresh_token, "refresh token")?;
        if payload.is_empty() {
            return Err(Error::InvalidInput(
                "the new payload must not be empty".into(),
            ));
        }
        let params = vec![
            ("token", token),
            ("payload", checked_payload(payload)?),
            ("accessToken", with_access_token.into()),
        ];
        self.call(Method::PATCH, PATH_REFRESH, params).await
    }

    /// `DELETE /api/v1/app/token/refresh/`: revokes the refresh token and every access token
    /// made from it. Works for tokens of any app.
    pub async fn revoke_refresh_token(&self, refresh_token: &str) -> Result<(), Error> {
        let params = vec![("token", checked_token(refresh_token, "refresh token")?)];
        let IgnoredAny = self.call(Method::DELETE, PATH_REFRESH, params).await?;
        Ok(())
    }

    /// `POST /api/v1/app/token/access/verify`: whose access token this is, and its payload.
    pub async fn verify_access_token(&self, access_token: &str) -> Result<AccessTokenInfo, Error> {
        let params = vec![("token", checked_token(access_token, "access token")?)];
        self.call(Method::POST, PATH_ACCESS_VERIFY, params).await
    }

    /// `POST /api/v1/app/token/access/user/info`: the user behind an access token.
    pub async fn user_info(&self, access_token: &str) -> Result<UserInfo, Error> {
        let params = vec![("token", checked_token(access_token, "access token")?)];
        self.call(Method::POST, PATH_ACCESS_USER_INFO, params).await
    }

    /// `GET /api/v1/app/user/info?id=1,2`: public profiles, in the order the server returns them
    /// (unknown ids are left out).
    pub async fn public_user_info(&self, ids: &[u64]) -> Result<Vec<PublicUserInfo>, Error> {
        if ids.is_empty() {
            return Err(Error::InvalidInput("at least one user id is needed".into()));
        }
        let joined = ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        let users: Option<Vec<PublicUserInfo>> = self
            .call(
                Method::GET,
                PATH_PUBLIC_USER_INFO,
                vec![("id", joined.into())],
            )
            .await?;
        Ok(users.unwrap_or_default())
    }

    /// `GET /api/v1/app/keypair/server`: the server's public keys as PEM text.
    pub async fn server_public_keys(&self) -> Result<ServerPublicKeys, Error> {
        #[derive(Deserialize)]
        struct WireKeys {
            #[serde(default)]
            jwt: Option<String>,
            #[serde(default)]
            ca: Option<String>,
        }
        let (status, body) = self
            .call_raw(Method::GET, PATH_SERVER_KEYS, Vec::new())
            .await?;
        let wire: WireKeys = decode_envelope(status, &body)?;
        let unexpected = || Error::UnexpectedReply {
            http_status: status,
            snippet: snippet(&body),
        };
        let jwt = pem_from_wire(wire.jwt.as_deref().unwrap_or_default()).ok_or_else(unexpected)?;
        let ca = pem_from_wire(wire.ca.as_deref().unwrap_or_default()).ok_or_else(unexpected)?;
        Ok(ServerPublicKeys { jwt, ca })
    }

    /// `POST /api/v1/app/keypair/rpc` (`RpcClientCredential` in the server's
    /// internal/api/controllers/app/keypair.go): a fresh client certificate for the gRPC App
    /// service, issued by the RPC CA for this appCode, valid 7 days. `cert` is the certificate
    /// followed by the CA, `key` an `EC PRIVATE KEY` PEM holding a PKCS#8 Ed25519 key.
    pub async fn rpc_client_credential(&self) -> Result<RpcClientCredential, Error> {
        #[derive(Deserialize)]
        struct WireCredential {
            #[serde(default)]
            cert: Option<String>,
            #[serde(default)]
            key: Option<String>,
            #[serde(rename = "validBefore", default)]
            valid_before: i64,
        }
        let (status, body) = self
            .call_raw(Method::POST, PATH_RPC_CREDENTIAL, Vec::new())
            .await?;
        let wire: WireCredential = decode_envelope(status, &body)?;
        let unexpected = || Error::UnexpectedReply {
            http_status: status,
            snippet: snippet(&body),
        };
        let cert =
            pem_from_wire(wire.cert.as_deref().unwrap_or_default()).ok_or_else(unexpected)?;
        let key = pem_from_wire(wire.key.as_deref().unwrap_or_default()).ok_or_else(unexpected)?;
        Ok(RpcClientCredential {
            cert,
            key: crate::secret::AppSecret::new(key),
            valid_before: wire.valid_before,
        })
    }

    /// Verifies a token locally (signature, type, expiry) with the server key, fetched once per
    /// client. Revocation is not visible locally.
    pub async fn verify_token(&self, token: &str, expected: &TokenType) -> Result<Claims, Error> {
        let key = self
            .inner
            .jwt_key
            .get_or_try_init(|| async { self.server_public_keys().await?.jwt_verifying_key() })
            .await?;
        tokens::verify(token, key, expected)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        params: Params,
    ) -> Result<T, Error> {
        let (status, body) = self.call_raw(method, path, params).await?;
        decode_envelope(status, &body)
    }

    /// Signs `params` with the server's time, sends them and returns the HTTP status and the
    /// size-capped body. A code 9 (stamp outside the server's window) whose reply corrected our
    /// idea of the server's clock is sent once more, stamped anew.
    async fn call_raw(
        &self,
        method: Method,
        path: &str,
        params: Params,
    ) -> Result<(u16, Vec<u8>), Error> {
        let offset = self.inner.clock.offset_ms();
        let (status, body) = self
            .send_signed(method.clone(), path, params.clone())
            .await?;
        let stale_stamp = matches!(
            decode_envelope::<IgnoredAny>(status, &body),
            Err(ref err) if err.is_clock_skew()
        );
        if stale_stamp && self.inner.clock.offset_ms() != offset {
            return self.send_signed(method, path, params).await;
        }
        Ok((status, body))
    }

    /// One signed request: JSON body for POST/PATCH, query string for GET/DELETE.
    async fn send_signed(
        &self,
        method: Method,
        path: &str,
        mut params: Params,
    ) -> Result<(u16, Vec<u8>), Error> {
        let config = &self.inner.config;
        params.push(("appCode", config.app_code.as_str().into()));
        params.push(("timeStamp", ParamValue::Int(self.inner.clock.now())));
        let signature = sign(&params, &config.app_secret);
        params.push(("signature", signature.into()));

        let mut url = self.endpoint(path);
        let request = if method == Method::GET || method == Method::DELETE {
            {
                let mut query = url.query_pairs_mut();
                for (key, value) in &params {
                    query.append_pair(key, &value.to_string());
                }
            }
            self.inner.http.request(method, url)
        } else {
            let body: serde_json::Map<String, serde_json::Value> = params
                .iter()
                .map(|(key, value)| ((*key).to_owned(), value.to_json()))
                .collect();
            self.inner.http.request(method, url).json(&body)
        };
        self.send(request).await
    }

    /// Sends a request, learns the server's time from the reply's `Date` and reads the body.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), Error> {
        let response = request.send().await.map_err(transport_error)?;
        if let Some(date) = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
        {
            self.inner.clock.observe_date(date, local_now_ms());
        }
        let status = response.status().as_u16();
        let body = read_capped_body(response, self.inner.config.max_body_bytes).await?;
        Ok((status, body))
    }

    /// `path` under the base URL, keeping any path prefix of the base.
    fn endpoint(&self, path: &str) -> Url {
        let mut url = self.inner.config.base_url.clone();
        let prefix = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{prefix}{path}"));
        url.set_query(None);
        url.set_fragment(None);
        url
    }
}

fn checked_token(token: &str, what: &str) -> Result<ParamValue, Error> {
    let token = token.trim();
    if token.is_empty() {
        return Err(Error::InvalidInput(format!("the {what} is empty")));
    }
    Ok(token.into())
}

fn checked_payload(payload: &str) -> Result<ParamValue, Error> {
    let chars = payload.chars().count();
    if chars > MAX_PAYLOAD_CHARS {
        return Err(Error::InvalidInput(format!(
            "the payload has {chars} characters, at most {MAX_PAYLOAD_CHARS} are allowed"
        )));
    }
    Ok(payload.into())
}

/// The server sends each PEM document base64-encoded (Go `[]byte`); accept plain PEM too.
/// An absent key reads as empty.
fn pem_from_wire(value: &str) -> Option<String> {
    if value.is_empty() || value.contains("-----BEGIN") {
        return Some(value.to_owned());
    }
    let bytes = STANDARD.decode(value.trim()).ok()?;
    String::from_utf8(bytes).ok()
}

/// Follows a redirect only to the same host and never from https down to http, so a token in
/// a re-sent body or query never goes elsewhere or in the clear. The port may change only with
/// an http → https upgrade.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let allowed = attempt
            .previous()
            .first()
            .is_some_and(|first| redirect_allowed(first, attempt.url()));
        if attempt.previous().len() > MAX_REDIRECTS || !allowed {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

fn redirect_allowed(from: &Url, to: &Url) -> bool {
    if from.host_str() != to.host_str() {
        return false;
    }
    match (from.scheme(), to.scheme()) {
        (a, b) if a == b => from.port_or_known_default() == to.port_or_known_default(),
        ("http", "https") => true,
        _ => false,
    }
}

/// Maps a reqwest failure to this crate's error. The URL is dropped first (on GET/DELETE its
/// query string holds a token); a TLS failure keeps the host, which is what to check.
pub(crate) fn transport_error(err: reqwest::Error) -> Error {
    let host = err
        .url()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_default();
    let err = err.without_url();
    if err.is_timeout() {
        return Error::Timeout;
    }
    let detail = error_chain(&err);
    if is_tls_failure(&err) {
        Error::Tls(format!("{host}: {detail}"))
    } else if err.is_connect() {
        Error::Connect(detail)
    } else {
        Error::Network(detail)
    }
}

/// Whether the TLS layer failed: a `rustls::Error` somewhere in the source chain. tokio-rustls
/// hands it up inside an `io::Error`, which the connector wraps in another one, and
/// `io::Error::source` skips the wrapped value, so io errors are descended with `get_ref`.
/// When no such value is found, for instance a handshake cut short ("tls handshake eof") or a
/// wrapper that keeps only text, the messages decide.
fn is_tls_failure(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(cause) = current {
        if cause.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        current = match cause.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => cause.source(),
        };
    }
    let lower = error_chain(err).to_lowercase();
    ["certificate", "tls", "handshake", "rustls"]
        .iter()
        .any(|word| lower.contains(word))
}

/// `outer: inner: innermost`, skipping repeated messages.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The desktop app keeps one client in shared state and calls it from many tasks.
    #[test]
    fn client_is_clone_send_sync() {
        fn assert_shareable<T: Clone + Send + Sync + 'static>() {}
        assert_shareable::<Client>();
        assert_shareable::<Error>();
    }

    /// An error whose own message says nothing about TLS, like hyper's "client error (Connect)".
    #[derive(Debug)]
    struct Wrapper(Box<dyn std::error::Error + Send + Sync + 'static>);

    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("client error (Connect)")
        }
    }

    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&*self.0)
        }
    }

    #[test]
    fn tls_failures_are_found_in_the_source_chain() {
        use std::io::{Error as IoError, ErrorKind};
        // Found by type, although no message mentions TLS ("unexpected error: boom").
        let in_io = IoError::new(
            ErrorKind::InvalidData,
            rustls::Error::General("boom".into()),
        );
        let in_io_in_io = IoError::other(in_io);
        assert!(is_tls_failure(&Wrapper(Box::new(in_io_in_io))));
        let direct = rustls::Error::General("boom".into());
        assert!(is_tls_failure(&Wrapper(Box::new(direct))));
        // No rustls value: the words decide.
        let eof = IoError::new(ErrorKind::UnexpectedEof, "tls handshake eof");
        assert!(is_tls_failure(&Wrapper(Box::new(eof))));
        let refused = IoError::new(ErrorKind::ConnectionRefused, "Connection refused");
        assert!(!is_tls_failure(&Wrapper(Box::new(refused))));
    }

    #[test]
    fn redirects_stay_on_the_origin_and_never_downgrade() {
        let url = |s: &str| Url::parse(s).unwrap();
        let allowed = |a: &str, b: &str| redirect_allowed(&url(a), &url(b));
        assert!(allowed("https://v.ncuos.com/a", "https://v.ncuos.com/a/"));
        assert!(allowed(
            "http://127.0.0.1:4780/a",
            "http://127.0.0.1:4780/b?x=1"
        ));
        assert!(allowed("http://v.ncuos.com/a", "https://v.ncuos.com/a"));
        assert!(!allowed("https://v.ncuos.com/a", "http://v.ncuos.com/a"));
        assert!(!allowed("https://v.ncuos.com/a", "https://evil.example/a"));
        assert!(!allowed(
            "https://v.ncuos.com/a",
            "https://v.ncuos.com:8443/a"
        ));
        assert!(!allowed(
            "http://127.0.0.1:4780/a",
            "http://127.0.0.1:4781/a"
        ));
        assert!(!allowed(
            "http://127.0.0.1:4780/a",
            "http://localhost:4780/a"
        ));
    }

    #[test]
    fn endpoint_keeps_a_path_prefix() {
        let config = Config::new("a", "s")
            .with_base_url("https://example.org/auth/?x=1")
            .unwrap();
        let client = Client::new(config).unwrap();
        assert_eq!(
            client.endpoint(PATH_REFRESH).as_str(),
            "https://example.org/auth/api/v1/app/token/refresh/"
        );
    }
}
