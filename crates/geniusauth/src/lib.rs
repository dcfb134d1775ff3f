//! Typed async client for GeniusAuth, the single sign-on service of NCUHOME
//! (<https://v.ncuos.com>).
//!
//! ```no_run
//! # async fn demo() -> Result<(), geniusauth::Error> {
//! use geniusauth::{Client, Config, LoginOptions};
//! let client = Client::new(Config::new("Ab3dE6g8", "app secret"))?;
//! let login = client.login_verify("login token", &LoginOptions::default()).await?;
//! let access = client.refresh_access_token(&login.refresh_token).await?;
//! # let _ = access; Ok(()) }
//! ```

pub mod callback;
pub mod client;
pub mod clock;
pub mod config;
pub mod envelope;
pub mod error;
#[cfg(feature = "grpc")]
pub mod grpc;
pub mod mask;
pub mod model;
pub mod secret;
pub mod signature;
pub mod tls;
pub mod tokens;

pub use client::Client;
pub use clock::ServerClock;
pub use config::{Config, DEFAULT_BASE_URL};
pub use error::{explain_server_code, CallbackError, Error, TokenError};
pub use model::{
    AccessTokenInfo, AppInfo, Grant, Group, LoginOptions, LoginResult, PayloadUpdate,
    PublicUserInfo, RefreshResult, RpcClientCredential, ServerPublicKeys, UserInfo,
};
pub use secret::AppSecret;
pub use signature::{sign, ParamValue};
pub use tokens::{Claims, DecodedToken, TokenType};
