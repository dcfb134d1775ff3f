//! `cargo bench -p support`: the Support view's heavy steps with 10,000 tokens, measured against
//! targets that keep the UI responsive. Each step runs a few times after a warm-up; the median is
//! reported. Exits with status 1 if a median misses its target.
//!
//! | step | target | why |
//! |---|---|---|
//! | parse 10,000 messy tokens (≈ 3 MB of CSV-ish text) | < 250 ms | a paste is parsed before anything is shown |
//! | load them: parse, decode, check each signature against the server key, build the rows | < 1 s | the list appears within a second of "Find tokens" |
//! | build and serialize the full snapshot the UI fetches (all rows) | < 100 ms | the command answer the list is drawn from |
//! | build and serialize a progress event (no rows) | < 1 ms | up to ten per second during a run, whatever the list's length |
//!
//! The tokens are real: signed by a GeniusAuth emulator on loopback (refresh and access tokens
//! of 500 sign-ins, login tokens for the rest), whose key the session fetches as the app does.

use std::time::{Duration, Instant};

use geniusauth::LoginOptions;
use geniusauth_emulator::{Config, Emulator};
use support::{Connection, SupportSession};

const TOKENS: usize = 10_000;
const SIGN_INS: usize = 500;
const WARM_UP: usize = 2;
const RUNS: usize = 7;

struct Target {
    name: &'static str,
    limit: Duration,
}

const PARSE: Target = Target {
    name: "parse 10,000 messy tokens",
    limit: Duration::from_millis(250),
};
const LOAD: Target = Target {
    name: "load 10,000 tokens (parse, decode, signature check, rows)",
    limit: Duration::from_secs(1),
};
const SNAPSHOT: Target = Target {
    name: "full snapshot of 10,000 rows: build and serialize",
    limit: Duration::from_millis(100),
};
const PROGRESS: Target = Target {
    name: "progress event (no rows): build and serialize",
    limit: Duration::from_millis(1),
};

/// Runs `step` WARM_UP + RUNS times; the median of the timed runs.
fn median(mut step: impl FnMut()) -> Duration {
    for _ in 0..WARM_UP {
        step();
    }
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            step();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

/// Prints one result; false if it missed its target.
fn report(target: &Target, took: Duration, extra: &str) -> bool {
    let ok = took <= target.limit;
    println!(
        "{:<62} {:>10.1} ms  (target < {:>6.1} ms) {}{}",
        target.name,
        took.as_secs_f64() * 1e3,
        target.limit.as_secs_f64() * 1e3,
        if ok { "ok" } else { "MISSED" },
        extra
    );
    ok
}

/// The tokens as support staff get them: a CSV header, quotes, `Bearer `, CRLF, tabs, repeats
/// and junk lines.
fn messy_text(tokens: &[String]) -> String {
    let mut text = String::from("\u{feff}\"token\",\"reported by\",\"note\"\r\n");
    for (i, token) in tokens.iter().enumerate() {
        let line = match i % 5 {
            0 => format!("\"{token}\",service desk,\"leaked in a log, rotated\"\r\n"),
            1 => format!("Authorization: Bearer {token}\r\n"),
            2 => format!("{token} ; {token}\r\n"),
            3 => format!("\t'{token}'\r\n"),
            _ => format!("{token}\r\n"),
        };
        text.push_str(&line);
        if i % 100 == 99 {
            text.push_str("-- forwarded message --\r\neyJhbGciOi.cut-off\r\n");
        }
    }
    text
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let emulator = runtime
        .block_on(Emulator::start(Config::ephemeral()))
        .expect("emulator");
    let info = emulator.info().clone();
    let client = geniusauth::Client::new(
        geniusauth::Config::new(info.app_code.clone(), info.app_secret.clone())
            .with_base_url(emulator.url())
            .unwrap(),
    )
    .unwrap();
    let uids: Vec<u64> = info.users.iter().map(|u| u.id).collect();

    let mut tokens = Vec::with_capacity(TOKENS);
    for i in 0..SIGN_INS {
        let login = emulator
            .login_token(&info.app_code, uids[i % uids.len()])
            .unwrap();
        let signed = runtime
            .block_on(client.login_verify(&login, &LoginOptions::default()))
            .expect("sign-in");
        tokens.push(signed.refresh_token);
        tokens.push(signed.access_token);
    }
    while tokens.len() < TOKENS {
        let uid = uids[tokens.len() % uids.len()];
        tokens.push(emulator.login_token(&info.app_code, uid).unwrap());
    }
    let text = messy_text(&tokens);
    println!(
        "support bench: {} tokens, {:.1} MB of text; median of {RUNS} runs after {WARM_UP} warm-up runs",
        tokens.len(),
        text.len() as f64 / 1e6
    );

    let mut all_met = true;

    let took = median(|| {
        let parsed = support::parse_tokens(&text);
        assert_eq!(parsed.tokens.len(), TOKENS);
    });
    all_met &= report(&PARSE, took, "");

    let dir = tempfile::tempdir().unwrap();
    let session = SupportSession::new(dir.path().join("audit.jsonl"));
    let conn = Connection {
        profile: "bench".into(),
        server: emulator.url().to_owned(),
        client,
    };
    let took = median(|| {
        let status = runtime
            .block_on(session.load_text(&text, "bench", false, &conn))
            .expect("load");
        assert_eq!(status.row_count, TOKENS);
    });
    let verified = session
        .snapshot()
        .rows
        .iter()
        .filter(|r| r.signature == support::SignatureCheck::Verified)
        .count();
    assert_eq!(verified, TOKENS, "every token was checked against the key");
    all_met &= report(&LOAD, took, "");

    let mut size = 0;
    let took = median(|| size = serde_json::to_vec(&session.snapshot()).unwrap().len());
    all_met &= report(
        &SNAPSHOT,
        took,
        &format!(
            "  {:.2} MB, {} bytes a row",
            size as f64 / 1e6,
            size / TOKENS
        ),
    );

    let took = median(|| size = serde_json::to_vec(&session.status()).unwrap().len());
    all_met &= report(&PROGRESS, took, &format!("  {size} bytes"));

    runtime.block_on(emulator.shutdown());
    if !all_met {
        eprintln!("support bench: a target was missed");
        std::process::exit(1);
    }
}
