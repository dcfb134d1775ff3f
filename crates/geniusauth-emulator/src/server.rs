//! Startup (open, seed, bind) and the HTTP serving loop.
//!
//! The loop drives hyper directly rather than `axum::serve` so that a `drop` fault can close
//! the connection without answering: a service error makes hyper abandon the connection.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderValue};
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

use crate::admin_access::{check_listen, AdminPolicy};
use crate::api_request::PeerAddr;
use crate::certificates::{self_signed_ca_der, CertificateAuthority};
use crate::clock::{floor_seconds, imf_fixdate, real_now_ns, Clock};
use crate::config::{Config, Database, SeedUser, StartupInfo};
use crate::error::Error;
use crate::faults::{DropConnection, Faults, RequestCounts};
use crate::keypair::Keys;
use crate::rate_limit::RateLimiter;
use crate::state::{EmulatorState, SharedState};
use crate::store::{Location, Store};
use crate::{admin, avatar_route, login_page, routes, seed};

static LOG_REQUESTS: AtomicBool = AtomicBool::new(false);

/// Logs one line per request to stderr (the binary turns this on; the library is quiet).
pub fn set_request_logging(enabled: bool) {
    LOG_REQUESTS.store(enabled, Ordering::SeqCst);
}

/// A running emulator. Dropping it stops the server too.
pub struct Emulator {
    state: SharedState,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

fn url_for(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

fn open_store(config: &Config) -> Result<Store, Error> {
    let store = match &config.database {
        Database::Memory => Store::open(Location::Memory)?,
        Database::File(path) => Store::open(Location::File(path))?,
    };
    let custom_seed = config.seed.as_deref().map(seed::load).transpose()?;
    if !store.has_apps()? {
        let seed = custom_seed.unwrap_or_else(seed::default_seed);
        seed::apply(&store, &seed, config.allow_any_callback)?;
    } else if custom_seed.is_some() {
        eprintln!("geniusauth-emulator: database already seeded, --seed ignored");
    }
    Ok(store)
}

fn load_keys(store: &Store) -> Result<Keys, Error> {
    let signing = store.signing_key("jwt_signing_key")?;
    let ca_key = store.signing_key("ca_signing_key")?;
    let now_ns = real_now_ns();
    let ca_der = store.blob_or_insert("ca_certificate", || {
        let now_secs = floor_seconds((now_ns / 1_000_000) as i64);
        self_signed_ca_der(&ca_key, now_secs, now_ns.unsigned_abs())
    })?;
    let ca = CertificateAuthority::new(ca_key, &ca_der)
        .ok_or_else(|| Error::Corrupt("the persisted CA certificate cannot be read".into()))?;
    Ok(Keys::new(signing, ca))
}

fn router(state: SharedState) -> Router {
    Router::new()
        .route("/", get(login_page::page).fallback(routes::production))
        .route(
            "/__emulator/authorize",
            get(login_page::authorize).post(login_page::authorize),
        )
        .route(
            "/avatars/{file}",
            get(avatar_route::serve).fallback(routes::production),
        )
        .merge(admin::router())
        .fallback(routes::production)
        .layer(from_fn_with_state(
            state.clone(),
            crate::fault_layer::middleware,
        ))
        .layer(from_fn_with_state(state.clone(), admin::guard))
        .with_state(state)
}

impl Emulator {
    /// Opens (and if empty, seeds) the database, binds and serves on a spawned task.
    pub async fn start(config: Config) -> Result<Emulator, Error> {
        let store = open_store(&config)?;
        let keys = load_keys(&store)?;
        let demo = store
            .demo_app()?
            .ok_or_else(|| Error::Corrupt("the database has no demo app".into()))?;
        let users = store
            .users()?
            .into_iter()
            .map(|u| SeedUser {
                id: u.id,
                name: u.name,
            })
            .collect();

        check_listen(config.listen, &config.admin)?;
        let listener = TcpListener::bind(config.listen).await?;
        let bound = listener.local_addr()?;
        let base_url = url_for(bound);
        let grpc_listener = match config.grpc_listen {
            Some(addr) => Some(bind_grpc(addr).await?),
            None => None,
        };
        let grpc_url = grpc_listener
            .as_ref()
            .map(|l| {
                l.local_addr()
                    .map(|a| url_for(a).replacen("http://", "https://", 1))
            })
            .transpose()?;
        let info = StartupInfo {
            url: base_url.clone(),
            app_code: demo.app_code,
            app_secret: demo.app_secret,
            users,
            grpc_url,
        };
        let state = Arc::new(EmulatorState {
            store: Mutex::new(store),
            keys,
            clock: Clock::default(),
            base_url,
            faults: Faults::default(),
            requests: RequestCounts::default(),
            rate_limiter: RateLimiter::default(),
            info,
            allow_any_callback: config.allow_any_callback,
            admin_policy: AdminPolicy::new(config.admin.clone(), bound),
            live: Default::default(),
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        state.clock.set_skew_seconds(config.clock_skew_seconds);
        #[cfg(feature = "grpc")]
        let grpc_task = grpc_listener.map(|listener| {
            tokio::spawn(crate::grpc::serve(
                listener,
                state.clone(),
                shutdown_rx.clone(),
            ))
        });
        #[cfg(not(feature = "grpc"))]
        let grpc_task: Option<JoinHandle<()>> = {
            drop(grpc_listener); // always None: `bind_grpc` refused it
            None
        };
        let http_task = tokio::spawn(serve(
            listener,
            router(state.clone()),
            state.clone(),
            shutdown_rx,
        ));
        let task = tokio::spawn(async move {
            let _ = http_task.await;
            if let Some(grpc_task) = grpc_task {
                let _ = grpc_task.await;
            }
        });
        Ok(Emulator {
            state,
            shutdown,
            task,
        })
    }

    pub fn info(&self) -> &StartupInfo {
        &self.state.info
    }

    pub fn url(&self) -> &str {
        &self.state.info.url
    }

    /// Same as `POST /__emulator/login-token`.
    pub fn login_token(&self, app_code: &str, uid: u64) -> Result<String, Error> {
        self.state.login_token(app_code, uid)
    }

    /// Stops accepting, closes open connections and waits for the server task.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        let _ = (&mut self.task).await;
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// The gRPC App service's listener; without the `grpc` feature, asking for it is an error.
async fn bind_grpc(addr: SocketAddr) -> Result<TcpListener, Error> {
    if cfg!(feature = "grpc") {
        Ok(TcpListener::bind(addr).await?)
    } else {
        Err(Error::Invalid(
            "this build has no gRPC App service (the `grpc` feature is off)".into(),
        ))
    }
}

/// The error that tells hyper to close the connection without a response.
#[derive(Debug)]
struct ConnectionDropped;

impl std::fmt::Display for ConnectionDropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for ConnectionDropped {}

async fn serve(
    listener: TcpListener,
    router: Router,
    state: SharedState,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(serve_connection(stream, peer, router.clone(), state.clone()));
                }
                // Typically out of file descriptors: back off instead of spinning.
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
    peer: SocketAddr,
    router: Router,
    state: SharedState,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        let router = router.clone();
        let state = state.clone();
        request.extensions_mut().insert(PeerAddr(peer));
        async move {
            let started = Instant::now();
            let method = request.method().clone();
            let path = request.uri().path().to_owned();
            let mut response = match router.oneshot(request.map(axum::body::Body::new)).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            // Go's net/http sends `Date` on every response, from the server's (skewed) clock;
            // hyper's own unskewed one is turned off below.
            let date = imf_fixdate(floor_seconds(state.clock.server_now_ms()));
            if let Ok(value) = HeaderValue::from_str(&date) {
                response.headers_mut().insert(header::DATE, value);
            }
            let dropped = response.extensions().get::<DropConnection>().is_some();
            if LOG_REQUESTS.load(Ordering::Relaxed) {
                let outcome = if dropped {
                    "dropped".to_owned()
                } else {
                    response.status().as_u16().to_string()
                };
                eprintln!(
                    "{method} {path} -> {outcome} ({} ms)",
                    started.elapsed().as_millis()
                );
            }
            if dropped {
                Err(ConnectionDropped)
            } else {
                Ok(response)
            }
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .auto_date_header(false)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}
