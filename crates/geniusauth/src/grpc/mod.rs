//! The gRPC App service of GeniusAuth (feature `grpc`): live token state over mutual TLS.
//!
//! The server (`ncuhome/GeniusAuthoritarian`, internal/rpc/app/app.go at commit
//! 474680ae5583dfb6da1afd3f65501848e8bf903c) streams every revoked refresh token of the calling
//! app and every user's operation id (`oid`) change. The calling app is the first DNS name of
//! the client certificate that `POST /api/v1/app/keypair/rpc` issues; the server's certificate
//! chains to the CA of `GET /api/v1/app/keypair/server` (`ca`, first PEM block).
//!
//! - [`AppRpc`]: the connection, with the unary calls ([`AppRpc::token_status`] and the rest);
//! - [`TokenWatch`]: [`AppRpc::watch_token_operations`], a stream of [`TokenEvent`]s that
//!   reconnects with jittered backoff and rebuilds its tables from each snapshot, and
//!   [`TokenChecker::check`], the local "is this token still good" answer, which fails closed.

mod identity;
mod rpc;
mod watch;

/// The messages and the client and server stubs, generated from `proto/app.proto` (verbatim
/// from `ncuhome/GeniusAuthoritarianProtos` at dc7a2dfeddda7098dc5e30f94f30a72f313a71d0, the
/// server's `internal/rpc/protos` submodule). Regenerate with
/// `cargo run --manifest-path crates/geniusauth/proto/regenerate/Cargo.toml`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod proto {
    include!("app_proto.rs");
}

pub use identity::{ca_certificate, client_tls_config, private_key, IdentityError};
pub use rpc::{AppRpc, RpcError, RpcOptions, TokenStatus};
pub use watch::{Backoff, LinkState, TokenCheck, TokenChecker, TokenEvent, TokenWatch};
