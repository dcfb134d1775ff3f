//! What each subcommand does.

use std::io::{BufRead, Read};
use std::path::Path;
use std::time::Duration;

use geniusauth::mask::{fingerprint, mask};
use geniusauth::tokens;
use geniusauth::{Client, Config};
use serde::Serialize;
use serde_json::Value;

use crate::app_session;
use crate::browser;
use crate::cli::{Command, GlobalOptions, TokenArg};
use crate::failure::Failure;
use crate::output::print_json;
use geniusauth::callback::{login_token_check, parse_callback, CallbackListener, Pages};

pub async fn run(global: &GlobalOptions, command: Command) -> Result<(), Failure> {
    match command {
        Command::LoginVerify {
            login_token,
            grant,
            client_ip,
        } => {
            let client = client(global)?;
            let result = client
                .login_verify(&token(login_token)?, &grant.login_options(client_ip))
                .await?;
            print_json(&result)
        }
        Command::Refresh { refresh_token } => {
            let refresh_token = token(refresh_token)?;
            print_json(&client(global)?.refresh_access_token(&refresh_token).await?)
        }
        Command::Payload {
            refresh_token,
            new_payload,
            access_token,
        } => {
            let refresh_token = token(refresh_token)?;
            let update = client(global)?
                .edit_payload(&refresh_token, &new_payload, access_token)
                .await?;
            print_json(&update)
        }
        Command::Revoke {
            refresh_tokens,
            file,
            audit_log,
        } => {
            let tokens = tokens_to_revoke(&refresh_tokens, file.as_deref())?;
            let client = client(global)?;
            let audit = match audit_log {
                Some(path) => Some(
                    support::cli::CliAudit::open(&path, &client, &global.server, &tokens)
                        .await
                        .map_err(|e| {
                            Failure::Usage(format!("cannot open {}: {e}", path.display()))
                        })?,
                ),
                None => None,
            };
            revoke_all(&client, &tokens, audit.as_ref()).await
        }
        Command::VerifyAccess { access_token } => {
            let access_token = token(access_token)?;
            print_json(&client(global)?.verify_access_token(&access_token).await?)
        }
        Command::Userinfo { access_token } => {
            let access_token = token(access_token)?;
            print_json(&client(global)?.user_info(&access_token).await?)
        }
        Command::Users { ids } => print_json(&client(global)?.public_user_info(&ids).await?),
        Command::Inspect { token: arg, verify } => inspect(global, &token(arg)?, verify).await,
        Command::Login {
            grant,
            callback,
            timeout,
            no_browser,
        } => {
            let client = client(global)?;
            let token =
                receive_login_token(&client, &callback, Duration::from_secs(timeout), no_browser)
                    .await?;
            let result = client
                .login_verify(&token, &grant.login_options(None))
                .await?;
            print_json(&result)
        }
        Command::Status { profile, json } => app_session::status(profile.as_deref(), json).await,
        Command::Token { profile } => app_session::token(profile.as_deref()).await,
        Command::Completions { shell } => crate::generate::completions(shell),
        Command::Man => crate::generate::man(),
    }
}

fn client(global: &GlobalOptions) -> Result<Client, Failure> {
    let app_code = global
        .app_code
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| Failure::Usage("--app-code (or GENIUS_APP_CODE) is required".into()))?;
    let app_secret = global
        .app_secret
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Failure::Usage("--app-secret (or GENIUS_APP_SECRET) is required".into()))?;
    let config = Config::new(app_code.trim(), app_secret).with_base_url(&global.server)?;
    Ok(Client::new(config)?)
}

/// A token argument's token: `-` reads the one token on stdin (surrounding whitespace and a
/// final newline dropped), so that it shows neither in `ps` nor in the shell's history.
fn token(argument: TokenArg) -> Result<String, Failure> {
    if argument.0 != STDIN {
        return Ok(argument.0);
    }
    let mut text = String::new();
    std::io::stdin()
        .lock()
        .read_to_string(&mut text)
        .map_err(|e| Failure::Usage(format!("cannot read standard input: {e}")))?;
    let mut words = text.split_whitespace();
    match (words.next(), words.next()) {
        (Some(token), None) => Ok(token.to_owned()),
        (None, _) => Err(Failure::Usage(
            "`-` reads the token from standard input, which holds none".into(),
        )),
        (Some(_), Some(_)) => Err(Failure::Usage(
            "standard input holds more than one word: `-` reads one token".into(),
        )),
    }
}

/// The token argument that stands for standard input.
const STDIN: &str = "-";

/// The arguments (none may be blank; `-` reads stdin, one token per line), then the file's
/// lines. Nothing at all to revoke is a usage error: a script whose token list came out empty
/// should hear about it. Standard input is read once: `-` twice is refused (clap refuses
/// arguments beside `--file`).
fn tokens_to_revoke(arguments: &[TokenArg], file: Option<&Path>) -> Result<Vec<String>, Failure> {
    let stdin = Path::new(STDIN);
    if arguments.iter().filter(|a| a.0 == STDIN).count() > 1 {
        return Err(Failure::Usage(
            "standard input is read once: give `-` once".into(),
        ));
    }
    let mut tokens = Vec::new();
    for (position, argument) in arguments.iter().enumerate() {
        if argument.0 == STDIN {
            tokens.extend(read_token_lines(stdin)?);
            continue;
        }
        let token = argument.0.trim();
        if token.is_empty() {
            return Err(Failure::Usage(format!(
                "refresh token argument {} is empty",
                position + 1
            )));
        }
        tokens.push(token.to_owned());
    }
    if let Some(file) = file {
        tokens.extend(read_token_lines(file)?);
    }
    if tokens.is_empty() {
        let source = file.map_or_else(|| describe_source(stdin), describe_source);
        return Err(Failure::Usage(format!(
            "no refresh tokens to revoke: {source} has no token (blank lines are skipped)"
        )));
    }
    Ok(tokens)
}

fn describe_source(path: &Path) -> String {
    if path == Path::new("-") {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    }
}

/// One token per line; blank lines skipped; `-` reads stdin.
fn read_token_lines(path: &Path) -> Result<Vec<String>, Failure> {
    let unreadable =
        |e: std::io::Error| Failure::Usage(format!("cannot read {}: {e}", describe_source(path)));
    let lines: Vec<String> = if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .lines()
            .collect::<Result<_, _>>()
            .map_err(unreadable)?
    } else {
        std::fs::read_to_string(path)
            .map_err(unreadable)?
            .lines()
            .map(str::to_owned)
            .collect()
    };
    Ok(lines
        .into_iter()
        .map(|line| line.trim().to_owned())
        .filter(|line| !line.is_empty())
        .collect())
}

/// One line of `revoke` output: `{"token","fingerprint","ok":true}` or, on failure,
/// `{"token","fingerprint","ok":false,"code","msg","error"}`.
#[derive(Serialize)]
struct RevokeLine {
    /// The masked tail, `…x9Qk9x` ([`geniusauth::mask::mask`]): every JWT starts alike, so its
    /// end is what tells tokens apart.
    token: String,
    /// The audit log's fingerprint of the token ([`geniusauth::mask::fingerprint`]).
    fingerprint: String,
    ok: bool,
    /// On failure: the server's code, or `null` when no server answer was read (timeout,
    /// connection or TLS failure, an unreadable reply).
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<Option<i64>>,
    /// On failure: the server's message, or a description of the failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    msg: Option<String>,
    /// On failure: its kind, `server` for a refusal, else `timeout`, `connect`, `tls`,
    /// `network`, `unexpected_reply`, `body_too_large` or `invalid_input`.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
}

impl RevokeLine {
    fn new(token: &str, result: &Result<(), geniusauth::Error>) -> RevokeLine {
        let shown = mask(token);
        let fingerprint = fingerprint(token);
        match result {
            Ok(()) => RevokeLine {
                token: shown,
                fingerprint,
                ok: true,
                code: None,
                msg: None,
                error: None,
            },
            Err(error) => RevokeLine {
                token: shown,
                fingerprint,
                ok: false,
                code: Some(error.server_code()),
                msg: Some(match error {
                    geniusauth::Error::Server { msg, .. } => msg.clone(),
                    other => other.to_string(),
                }),
                error: Some(error.code()),
            },
        }
    }
}

/// Tries every token, reporting each on its own line; fails at the end if any failed.
async fn revoke_all(
    client: &Client,
    tokens: &[String],
    audit: Option<&support::cli::CliAudit>,
) -> Result<(), Failure> {
    let mut any_failed = false;
    for token in tokens {
        // Written ahead: a geniusctl killed while the request is out leaves the attempt logged.
        let attempt = audit.map(|audit| audit.record_attempt(token)).transpose()?;
        let result = client.revoke_refresh_token(token).await;
        if let (Some(audit), Some(attempt)) = (audit, attempt) {
            audit.record_result(attempt, &result)?;
        }
        any_failed |= result.is_err();
        print_json(&RevokeLine::new(token, &result))?;
    }
    if any_failed {
        Err(Failure::Partial)
    } else {
        Ok(())
    }
}

/// `inspect` output.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InspectReport {
    header: Value,
    claims: Value,
    /// Past `exp` (with the server's 3 s leeway) by this machine's clock.
    expired: bool,
    /// With --verify: EdDSA and signed by the server's key.
    #[serde(skip_serializing_if = "Option::is_none")]
    verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verify_error: Option<&'static str>,
}

async fn inspect(global: &GlobalOptions, token: &str, verify: bool) -> Result<(), Failure> {
    let decoded = tokens::decode(token)?;
    let mut report = InspectReport {
        expired: decoded.claims.is_expired(),
        header: decoded.header,
        claims: decoded.raw_claims,
        verified: None,
        verify_error: None,
    };
    if verify {
        let key = client(global)?
            .server_public_keys()
            .await?
            .jwt_verifying_key()?;
        let outcome = tokens::verify_signature(token, &key);
        report.verified = Some(outcome.is_ok());
        report.verify_error = outcome.err().map(|error| error.code());
    }
    print_json(&report)
}

/// Checks the app with the server, opens the sign-in page and waits for the browser to come
/// back to the callback with a genuine, fresh login token.
async fn receive_login_token(
    client: &Client,
    callback: &str,
    timeout: Duration,
    no_browser: bool,
) -> Result<String, Failure> {
    let address = parse_callback(callback)?;
    // Unsigned and cheap: the appCode exists, the registration sends the browser here, and the
    // reply's Date tells the server's clock for the token check.
    let app = client.app_info().await?;
    let registered = app.host.trim();
    if !registered.is_empty() && !registered.eq_ignore_ascii_case(&address.host_and_port()) {
        return Err(Failure::Usage(format!(
            "the app is registered with callback host {registered}, not {}: pass --callback \
             with the registered URL",
            address.host_and_port()
        )));
    }
    let key = match client.server_public_keys().await {
        Ok(keys) => keys.jwt_verifying_key().ok(),
        Err(_) => None,
    };
    let listener = CallbackListener::bind(
        &address,
        Pages {
            product: "geniusctl",
        },
    )
    .await?;
    let check = login_token_check(client, key);
    let login_url = client.login_url();
    eprintln!("Signing in to {}.", app.name);
    if no_browser {
        eprintln!("Open this URL to sign in: {login_url}");
    } else if let Err(why) = browser::open(login_url.as_str()) {
        eprintln!("Could not open a browser ({why}).");
        eprintln!("Open this URL to sign in: {login_url}");
    } else {
        eprintln!("Opened the browser. If nothing appears, open this URL to sign in: {login_url}");
    }
    eprintln!(
        "Waiting up to {} s for the sign-in at {callback} …",
        timeout.as_secs()
    );
    Ok(listener.wait_for_token(timeout, check).await?)
}
