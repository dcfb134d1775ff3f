//! A local server that behaves like the production GeniusAuth server (v.ncuos.com), so that
//! the app, the typed client and the CLI can be developed and tested offline.
//!
//! It speaks the same wire protocol (paths, signatures, envelope, codes, HTTP statuses,
//! Ed25519 JWTs), serves a stand-in login page, persists its state in SQLite and adds an
//! emulator-only admin API under `/__emulator/` (clock control, fault injection, request
//! counts). See the crate README for the admin API and the seed format.
//!
//! ```no_run
//! # async fn demo() -> Result<(), geniusauth_emulator::Error> {
//! use geniusauth_emulator::{Config, Emulator};
//! let emulator = Emulator::start(Config {
//!     listen: "127.0.0.1:0".parse().expect("address"),
//!     ..Config::default()
//! })
//! .await?;
//! let info = emulator.info().clone();
//! let login_token = emulator.login_token(&info.app_code, info.users[0].id)?;
//! # let _ = login_token;
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod admin;
mod admin_access;
mod api_request;
mod avatar;
mod avatar_route;
mod binding;
mod callback_rule;
mod certificates;
mod clock;
pub mod codes;
mod config;
mod der;
mod envelope;
mod error;
mod fault_layer;
mod faults;
mod gin_tree;
mod gojson;
#[cfg(feature = "grpc")]
mod grpc;
mod jwt;
mod keypair;
mod live;
mod login_page;
mod public_routes;
mod rate_limit;
mod route_table;
mod routes;
mod seed;
mod server;
mod signature;
mod state;
mod store;
mod token_routes;
mod tokens;

pub use config::{AdminAccess, Config, Database, SeedUser, StartupInfo, DEFAULT_PORT};

/// How `Debug` output shows an app secret or the admin token: not at all.
pub(crate) const HIDDEN: &str = "***";
pub use error::Error;
pub use server::{set_request_logging, Emulator};
