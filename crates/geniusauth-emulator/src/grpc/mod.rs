//! The gRPC App service (`--grpc-listen`), as the server's internal/rpc/app/app.go
//! (ncuhome/GeniusAuthoritarian at 474680ae5583dfb6da1afd3f65501848e8bf903c) serves it:
//! mutual TLS with the RPC CA that `keypair/server` publishes, the caller's appCode taken from
//! its certificate's first DNS name, a server certificate issued by the same CA for each SNI
//! name. Served with hyper's HTTP/2 directly so that `POST /__emulator/grpc/drop` can close
//! every connection at once.

mod service;
mod tls;

use std::net::SocketAddr;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::certificates::first_dns_name;
use crate::state::SharedState;

/// The messages and stubs, generated once for both ends (geniusauth's `grpc` module); this
/// crate uses the server half.
#[allow(clippy::all, dead_code, missing_docs)]
pub(crate) mod proto {
    include!("../../../geniusauth/src/grpc/app_proto.rs");
}

/// The caller, from its client certificate (middlewares.go `SetAuthInfoWithContext`).
#[derive(Debug, Clone)]
pub(crate) struct CallerApp(pub String);

/// How long a TLS handshake may take before the connection is closed.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) async fn serve(
    listener: TcpListener,
    state: SharedState,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(tls::server_config(&state));
    let app = proto::app_server::AppServer::new(service::EmulatorApp {
        state: state.clone(),
    });
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(serve_connection(
                        stream, peer, acceptor.clone(), app.clone(), state.clone(), shutdown.clone(),
                    ));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            _ = shutdown.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    _peer: SocketAddr,
    acceptor: TlsAcceptor,
    app: proto::app_server::AppServer<service::EmulatorApp>,
    state: SharedState,
    mut shutdown: watch::Receiver<bool>,
) {
    // `ClientAuth: tls.RequireAndVerifyClientCert`: a client without a certificate of the CA
    // fails here, in the handshake.
    let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await else {
        return;
    };
    let caller = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|leaf| first_dns_name(leaf));
    let Some(caller) = caller else {
        // "get tls info from peer failed": a certificate without a DNS name.
        return;
    };
    let mut dropped = state.live.drop_signal();
    let _open = state.live.connection_opened();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(CallerApp(caller.clone()));
        app.clone().oneshot(request.map(tonic::body::Body::new))
    });
    let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(tls), service);
    // Dropping the connection future closes the socket without a GOAWAY: a network failure.
    tokio::select! {
        _ = connection => {}
        _ = dropped.changed() => {}
        _ = shutdown.changed() => {}
    }
}
