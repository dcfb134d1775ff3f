//! The connection to the App service and its unary calls.

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_rustls::TlsConnector;
use tonic::codegen::http::Uri;
use tonic::transport::{Channel, Endpoint};

use super::identity::{client_tls_config, IdentityError};
use super::proto::app_client::AppClient;
use super::proto::{RefreshTokenRequest, TokenIdRequest, UserIdRequest, UserInfo};
use super::watch::{Backoff, TokenWatch};
use crate::model::RpcClientCredential;
use crate::tokens::unix_now;
use crate::Client;

/// The SDK's `RpcClientKeypair.Valid` (rpc.go): a certificate with 5 minutes or less left is
/// re-issued before the next handshake.
const RENEW_BEFORE_SECS: i64 = 5 * 60;
/// How many `GetTokenStatus` calls run at once in [`AppRpc::token_status`].
const STATUS_CONCURRENCY: usize = 16;

#[derive(Debug, Clone, thiserror::Error)]
pub enum RpcError {
    #[error("the gRPC address {0:?} is not an https URL with a host")]
    Address(String),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The REST call that fetches the CA or the client certificate failed.
    #[error(transparent)]
    Api(#[from] crate::Error),
    /// The server answered with a gRPC status (code and message).
    #[error("gRPC App service: {0}")]
    Status(String),
    #[error("gRPC App service unreachable: {0}")]
    Transport(String),
}

impl From<tonic::Status> for RpcError {
    fn from(status: tonic::Status) -> Self {
        RpcError::Status(format!("{:?}: {}", status.code(), status.message()))
    }
}

/// Where the App service is and how to reach it.
#[derive(Debug, Clone)]
pub struct RpcOptions {
    /// `https://host:port` (`https://v-app.ncuos.com:443` in the reference integration
    /// ncuhome/GeniusAuthoritarianGate; the emulator prints its own as `grpcUrl`).
    pub address: String,
    pub connect_timeout: Duration,
    /// Between two attempts of [`AppRpc::watch_token_operations`].
    pub backoff: Backoff,
}

impl RpcOptions {
    pub fn new(address: impl Into<String>) -> Self {
        RpcOptions {
            address: address.into(),
            connect_timeout: Duration::from_secs(10),
            backoff: Backoff::default(),
        }
    }
}

/// The server's answer for one login-record id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenStatus {
    pub id: u64,
    /// The record's point exists: the refresh token (and its access tokens) still work.
    pub valid: bool,
}

/// The CA and the current client certificate; every new connection asks it for a TLS
/// configuration, so a certificate close to its end is re-issued (SDK `loadKeypair`).
struct Identity {
    api: Option<Client>,
    ca_pem: String,
    credential: Mutex<RpcClientCredential>,
}

impl Identity {
    async fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, RpcError> {
        let mut credential = self.credential.lock().await;
        if let Some(api) = &self.api {
            if credential.valid_before <= unix_now() + RENEW_BEFORE_SECS {
                *credential = api.rpc_client_credential().await?;
            }
        }
        Ok(client_tls_config(&self.ca_pem, &credential)?)
    }
}

/// A connection to the App service of one app. Cheap to clone.
#[derive(Clone)]
pub struct AppRpc {
    pub(super) app_code: String,
    pub(super) channel: Channel,
    pub(super) options: RpcOptions,
}

impl std::fmt::Debug for AppRpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppRpc")
            .field("app_code", &self.app_code)
            .field("address", &self.options.address)
            .finish_non_exhaustive()
    }
}

impl AppRpc {
    /// Fetches the CA (`keypair/server`) and a client certificate (`keypair/rpc`) through
    /// `api`, which also re-issues the certificate when it nears its end. Connects lazily.
    pub async fn connect(api: &Client, options: RpcOptions) -> Result<AppRpc, RpcError> {
        let keys = api.server_public_keys().await?;
        let credential = api.rpc_client_credential().await?;
        Self::build(
            api.config().app_code.clone(),
            Identity {
                api: Some(api.clone()),
                ca_pem: keys.ca,
                credential: Mutex::new(credential),
            },
            options,
        )
    }

    /// With a CA and a credential obtained elsewhere; the credential is never renewed.
    pub fn with_credential(
        app_code: impl Into<String>,
        ca_pem: impl Into<String>,
        credential: RpcClientCredential,
        options: RpcOptions,
    ) -> Result<AppRpc, RpcError> {
        // Fails now rather than at the first handshake.
        let ca_pem = ca_pem.into();
        client_tls_config(&ca_pem, &credential)?;
        Self::build(
            app_code.into(),
            Identity {
                api: None,
                ca_pem,
                credential: Mutex::new(credential),
            },
            options,
        )
    }

    fn build(
        app_code: String,
        identity: Identity,
        options: RpcOptions,
    ) -> Result<AppRpc, RpcError> {
        let bad_address = || RpcError::Address(options.address.clone());
        let uri: Uri = options.address.parse().map_err(|_| bad_address())?;
        if uri.scheme_str() != Some("https") {
            return Err(bad_address());
        }
        let host = uri.host().ok_or_else(bad_address)?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(443);
        let server_name = ServerName::try_from(host.clone()).map_err(|_| bad_address())?;
        let identity = Arc::new(identity);
        // TLS is ours, not tonic's: the identity may change between connections.
        let connector = tower::service_fn(move |_: Uri| {
            let identity = identity.clone();
            let host = host.clone();
            let server_name = server_name.clone();
            async move {
                let config = identity.tls_config().await?;
                let tcp = TcpStream::connect((host.as_str(), port))
                    .await
                    .map_err(|e| RpcError::Transport(e.to_string()))?;
                let tls = TlsConnector::from(config)
                    .connect(server_name, tcp)
                    .await
                    .map_err(|e| RpcError::Transport(e.to_string()))?;
                Ok::<_, RpcError>(TokioIo::new(tls))
            }
        });
        let channel = Endpoint::from(uri)
            .connect_timeout(options.connect_timeout)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10))
            .connect_with_connector_lazy(connector);
        Ok(AppRpc {
            app_code,
            channel,
            options,
        })
    }

    pub fn app_code(&self) -> &str {
        &self.app_code
    }

    pub(super) fn client(&self) -> AppClient<Channel> {
        AppClient::new(self.channel.clone())
    }

    /// `GetTokenStatus` for each id, concurrently over the one connection, in the order given
    /// (the server answers one id a call: internal/rpc/app/app.go `GetTokenStatus`).
    pub async fn token_status(&self, ids: &[u64]) -> Result<Vec<TokenStatus>, RpcError> {
        stream::iter(ids.iter().copied())
            .map(|id| async move {
                let reply = self
                    .client()
                    .get_token_status(TokenIdRequest { id })
                    .await?;
                Ok::<_, RpcError>(TokenStatus {
                    id,
                    valid: reply.into_inner().valid,
                })
            })
            .buffered(STATUS_CONCURRENCY)
            .try_collect()
            .await
    }

    /// `RefreshToken`: a new access token and the payload, for this app's refresh tokens only.
    pub async fn refresh(&self, refresh_token: &str) -> Result<(String, String), RpcError> {
        let reply = self
            .client()
            .refresh_token(RefreshTokenRequest {
                token: refresh_token.to_owned(),
            })
            .await?
            .into_inner();
        Ok((reply.access_token, reply.payload))
    }

    /// `DestroyToken`: unlike the REST DELETE, a token of another app is left alone (and the
    /// server still answers success: app.go `DestroyToken`).
    pub async fn destroy(&self, refresh_token: &str) -> Result<(), RpcError> {
        self.client()
            .destroy_token(RefreshTokenRequest {
                token: refresh_token.to_owned(),
            })
            .await?;
        Ok(())
    }

    /// `GetUserInfo` of any user.
    pub async fn user_info(&self, uid: u64) -> Result<UserInfo, RpcError> {
        Ok(self
            .client()
            .get_user_info(UserIdRequest { id: uid })
            .await?
            .into_inner())
    }

    /// The live revocation stream; see [`TokenWatch`].
    pub fn watch_token_operations(&self) -> TokenWatch {
        TokenWatch::start(self.clone())
    }
}
