//! `geniusauth-emulator`: runs the emulator until Ctrl-C or SIGTERM.
//! The first stdout line is the JSON [`StartupInfo`]; logs go to stderr.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use geniusauth_emulator::{
    set_request_logging, AdminAccess, Config, Database, Emulator, StartupInfo,
};

/// A local server that behaves like the production GeniusAuth server. No `Debug`: it holds the
/// admin token.
#[derive(Parser)]
#[command(name = "geniusauth-emulator", version)]
struct Cli {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:4780")]
    listen: SocketAddr,
    /// SQLite database file (created if missing); state survives restarts.
    #[arg(long, value_name = "PATH", conflicts_with = "memory")]
    db: Option<PathBuf>,
    /// Keep everything in memory (the default when --db is not given).
    #[arg(long)]
    memory: bool,
    /// JSON seed file replacing the default demo app and users (empty database only).
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,
    /// Register any absolute http(s) callback (apps created through the admin API or the
    /// seed file); without it the dashboard's rule applies: non-https only on `localhost`.
    #[arg(long)]
    allow_any_callback: bool,
    /// Model the server's wall clock being off by SECS seconds (negative: behind): it moves
    /// the signature window, token times and the HTTP Date header.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    clock_skew: i64,
    /// Require `Authorization: Bearer TOKEN` on the admin API (needed off loopback unless
    /// --no-admin).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "GENIUSAUTH_EMULATOR_ADMIN_TOKEN",
        conflicts_with = "no_admin"
    )]
    admin_token: Option<String>,
    /// Turn the HTTP admin API off (the login page stays on).
    #[arg(long)]
    no_admin: bool,
    /// Also serve the gRPC App service (mutual TLS with the CA of keypair/server) on this
    /// address; port 0 picks a free port. Its URL is `grpcUrl` in the first stdout line.
    #[arg(long, value_name = "ADDR")]
    grpc_listen: Option<SocketAddr>,
    /// Do not log each request to stderr.
    #[arg(long)]
    quiet: bool,
}

fn print_startup_line(info: &StartupInfo) -> std::io::Result<()> {
    let line = serde_json::to_string(info).map_err(std::io::Error::other)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()
}

/// Resolves on Ctrl-C or SIGTERM. Handlers are installed when this is called (before the
/// startup line goes out), so a supervisor's signal is never missed.
fn termination() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = Config {
        listen: cli.listen,
        database: match cli.db {
            Some(path) => Database::File(path),
            None => Database::Memory,
        },
        seed: cli.seed,
        allow_any_callback: cli.allow_any_callback,
        clock_skew_seconds: cli.clock_skew,
        admin: match (cli.admin_token, cli.no_admin) {
            (_, true) => AdminAccess::Disabled,
            (Some(token), false) => AdminAccess::Token(token),
            (None, false) => AdminAccess::Open,
        },
        grpc_listen: cli.grpc_listen,
    };
    set_request_logging(!cli.quiet);
    let emulator = match Emulator::start(config).await {
        Ok(emulator) => emulator,
        Err(error) => {
            eprintln!("geniusauth-emulator: {error}");
            return ExitCode::FAILURE;
        }
    };
    let terminated = termination();
    if let Err(error) = print_startup_line(emulator.info()) {
        eprintln!("geniusauth-emulator: cannot write to stdout: {error}");
        emulator.shutdown().await;
        return ExitCode::FAILURE;
    }
    eprintln!(
        "geniusauth-emulator: listening on {} (login page: {}/?appCode={})",
        emulator.url(),
        emulator.url(),
        emulator.info().app_code
    );
    terminated.await;
    eprintln!("geniusauth-emulator: shutting down");
    emulator.shutdown().await;
    ExitCode::SUCCESS
}
