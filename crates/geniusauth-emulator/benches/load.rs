//! The emulator under load: `cargo bench -p geniusauth-emulator --bench load`.
//!
//! Starts the real emulator on a loopback port (in memory, no admin API), signs in once, then
//! makes 10,000 signed `POST /api/v1/app/token/access/verify` calls through 64 connections: 64
//! typed clients (`geniusauth::Client`, each with its own connection pool), each sending its
//! calls one after another, so each holds exactly one keep-alive connection. Every reply is
//! checked (code 0, the signed-in user's id). Prints errors, throughput and latency (median,
//! p90, p99, max) and exits non-zero on any error. Client and server share this process and
//! the machine's cores, so the figures are a floor for the server alone.
//!
//! `LOAD_CALLS` and `LOAD_CONNECTIONS` change the counts. Only loopback traffic, bounded in
//! count; a run stops by itself (each call times out after 15 s).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use geniusauth::{Client, Config as ClientConfig, LoginOptions};
use geniusauth_emulator::{AdminAccess, Config, Emulator};

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

struct Worker {
    latencies: Vec<Duration>,
    errors: Vec<String>,
}

#[tokio::main]
async fn main() {
    let calls = env_count("LOAD_CALLS", 10_000);
    let connections = env_count("LOAD_CONNECTIONS", 64);
    // `cargo bench` passes `--bench`; a filter argument that is not ours means "not me".
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && a != "load")
    {
        return;
    }

    let emulator = Emulator::start(Config {
        admin: AdminAccess::Disabled,
        ..Config::ephemeral()
    })
    .await
    .expect("emulator starts");
    let info = emulator.info().clone();
    let uid = info.users[0].id;
    let new_client = || {
        Client::new(
            ClientConfig::new(info.app_code.clone(), info.app_secret.clone())
                .with_base_url(&info.url)
                .expect("loopback URL"),
        )
        .expect("client")
    };

    // One sign-in: the access token every call verifies (it lives 5 minutes).
    let login_token = emulator
        .login_token(&info.app_code, uid)
        .expect("login token");
    let login = new_client()
        .login_verify(&login_token, &LoginOptions::default())
        .await
        .expect("sign-in");
    let access_token: Arc<str> = login.access_token.into();

    // One client per connection, each warmed up by one call (connection set up, not timed).
    let mut clients = Vec::with_capacity(connections);
    for _ in 0..connections {
        let client = new_client();
        client
            .verify_access_token(&access_token)
            .await
            .expect("warm-up call");
        clients.push(client);
    }

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = clients
        .into_iter()
        .map(|client| {
            let next = Arc::clone(&next);
            let token = Arc::clone(&access_token);
            tokio::spawn(async move {
                let mut worker = Worker {
                    latencies: Vec::with_capacity(calls / connections + 1),
                    errors: Vec::new(),
                };
                while next.fetch_add(1, Ordering::Relaxed) < calls {
                    let sent = Instant::now();
                    let result = client.verify_access_token(&token).await;
                    worker.latencies.push(sent.elapsed());
                    match result {
                        Ok(info) if info.uid == uid => {}
                        Ok(info) => worker.errors.push(format!("wrong user {}", info.uid)),
                        Err(err) => worker.errors.push(err.to_string()),
                    }
                }
                worker
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(calls);
    let mut errors = Vec::new();
    for worker in workers {
        let worker = worker.await.expect("worker");
        latencies.extend(worker.latencies);
        errors.extend(worker.errors);
    }
    let elapsed = started.elapsed();
    emulator.shutdown().await;

    latencies.sort();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "emulator load: {} verify calls over {connections} connections, {cores} cores",
        latencies.len()
    );
    println!("  errors      {}", errors.len());
    println!("  elapsed     {:.2} s", elapsed.as_secs_f64());
    println!(
        "  throughput  {:.0} calls/s",
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  latency     median {}, p90 {}, p99 {}, max {}",
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 90.0)),
        ms(percentile(&latencies, 99.0)),
        ms(latencies.last().copied().unwrap_or_default())
    );
    if !errors.is_empty() {
        let mut kinds: Vec<&String> = errors.iter().collect();
        kinds.dedup();
        for error in kinds.iter().take(5) {
            eprintln!("  error: {error}");
        }
        std::process::exit(1);
    }
    if latencies.len() != calls {
        eprintln!("  only {} of {calls} calls were made", latencies.len());
        std::process::exit(1);
    }
}
