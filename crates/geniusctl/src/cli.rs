//! Command-line syntax (clap derive).

use std::fmt;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use geniusauth::mask::{Redacted, RedactedOpt};

#[derive(Debug, Parser)]
#[command(
    name = "geniusctl",
    version,
    about = "GeniusAuth from the command line: verify logins, refresh, revoke and inspect tokens.",
    long_about = "GeniusAuth from the command line: verify logins, refresh, revoke and inspect \
                  tokens.\n\nEvery command prints one JSON document on stdout (revoke: one line \
                  per token). Exit codes: 0 ok; 1 the server refused (JSON {code,msg,httpStatus} \
                  on stderr), or revoke had a failure; 2 usage or invalid input; 3 network \
                  trouble, an unreadable reply, or an internal error (a bug in geniusctl: one \
                  line on stderr, no backtrace).\n\nTokens and the app secret given as \
                  arguments show in `ps` and in the shell's history. Give `-` instead of a \
                  token and pipe it on stdin (`revoke -` reads one token per line), and put the \
                  secret in GENIUS_APP_SECRET.\n\n\
                  `status` and `token` read the Genius Account \
                  app's session and print text (see their --help); they add: 4 no such profile, \
                  5 signed out, 6 the session has ended (server code 31), 7 the keyring or \
                  secrets file cannot be read; `status` exits 1 when not signed in."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,
    #[command(subcommand)]
    pub command: Command,
}

/// `Debug` shows the app secret's fingerprint only.
#[derive(Args)]
pub struct GlobalOptions {
    /// GeniusAuth server root URL
    #[arg(
        long,
        global = true,
        env = "GENIUS_SERVER",
        value_name = "URL",
        default_value = geniusauth::DEFAULT_BASE_URL
    )]
    pub server: String,
    /// The app's appCode
    #[arg(long, global = true, env = "GENIUS_APP_CODE", value_name = "CODE")]
    pub app_code: Option<String>,
    /// The app's appSecret (prefer the environment variable: arguments show in `ps`)
    #[arg(
        long,
        global = true,
        env = "GENIUS_APP_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub app_secret: Option<String>,
}

impl fmt::Debug for GlobalOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GlobalOptions")
            .field("server", &self.server)
            .field("app_code", &self.app_code)
            .field("app_secret", &RedactedOpt(self.app_secret.as_deref()))
            .finish()
    }
}

/// A token argument: the token itself, or `-` to read it from stdin. `Debug` shows it redacted
/// (fingerprint and masked tail).
#[derive(Clone, PartialEq, Eq)]
pub struct TokenArg(pub String);

impl From<String> for TokenArg {
    fn from(token: String) -> Self {
        TokenArg(token)
    }
}

impl fmt::Debug for TokenArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenArg({:?})", Redacted(&self.0))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Exchange a login token for the user's identity and tokens
    LoginVerify {
        /// Login token from the callback's `token` parameter; `-` reads it from stdin
        /// (arguments show in `ps` and shell history)
        login_token: TokenArg,
        #[command(flatten)]
        grant: GrantOptions,
        /// The user's IP address as the app saw it
        #[arg(long, value_name = "IP")]
        client_ip: Option<String>,
    },
    /// Get a new access token for a refresh token
    Refresh {
        /// The refresh token; `-` reads it from stdin (arguments show in `ps` and shell history)
        refresh_token: TokenArg,
    },
    /// Change a refresh token's payload (gives a new refresh token)
    Payload {
        /// The refresh token; `-` reads it from stdin (arguments show in `ps` and shell history)
        refresh_token: TokenArg,
        new_payload: String,
        /// Also issue an access token carrying the new payload
        #[arg(long)]
        access_token: bool,
    },
    /// Revoke refresh tokens (and their access tokens); one JSON line per token
    #[command(
        group = clap::ArgGroup::new("tokens").required(true).args(["refresh_tokens", "file"]),
        long_about = "Revoke refresh tokens (and every access token made from them). Every token \
                      is tried, in order, and reported on its own line of stdout:\n  \
                      {\"token\":\"…x9Qk9x\",\"fingerprint\":\"1a2b3c4d\",\"ok\":true}\n  \
                      {\"token\":\"…\",\"fingerprint\":\"…\",\"ok\":false,\"code\":31,\
                      \"msg\":\"<server message>\",\"error\":\"server\"}\n\
                      `token` is the token's last 6 characters (shorter strings: ••••••••), \
                      `fingerprint` the first 8 hex digits of its SHA-256, as the audit log \
                      records it. `code` is the server's code, or null when no server answer was read; \
                      `error` is the failure's kind: server, timeout, connect, tls, network, \
                      unexpected_reply, body_too_large or invalid_input.\n\nExit status 1 if any \
                      token failed. An empty token list (an empty --file, only blank lines on \
                      stdin) or an empty argument is a usage error, exit status 2.\n\nTokens \
                      given as arguments show in `ps` and in the shell's history: prefer `-` (or \
                      --file -) and pipe them on stdin."
    )]
    Revoke {
        /// Refresh tokens to revoke; `-` reads them from stdin, one per line (arguments show in
        /// `ps` and shell history)
        #[arg(value_name = "REFRESH_TOKEN")]
        refresh_tokens: Vec<TokenArg>,
        /// Read tokens from a file, one per line (`-` for stdin); blank lines are skipped
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Append one record per attempt to this JSON-lines audit log (the app's format; no token)
        #[arg(long, value_name = "PATH")]
        audit_log: Option<PathBuf>,
    },
    /// Check an access token with the server: {uid, payload}
    VerifyAccess {
        /// The access token; `-` reads it from stdin (arguments show in `ps` and shell history)
        access_token: TokenArg,
    },
    /// The user behind an access token
    Userinfo {
        /// The access token; `-` reads it from stdin (arguments show in `ps` and shell history)
        access_token: TokenArg,
    },
    /// Public profiles of users by id
    Users {
        /// User ids, comma-separated or as separate arguments
        #[arg(required = true, value_delimiter = ',', value_name = "ID[,ID…]")]
        ids: Vec<u64>,
    },
    /// Decode a token locally; with --verify also check its signature with the server key
    Inspect {
        /// Any token; `-` reads it from stdin (arguments show in `ps` and shell history)
        token: TokenArg,
        /// Fetch the server key and check the signature (needs app credentials)
        #[arg(long)]
        verify: bool,
    },
    /// Sign in through the browser and print the verified result
    Login {
        #[command(flatten)]
        grant: GrantOptions,
        /// The app's registered callback: http://localhost:<port>/… (as the dashboard registers
        /// it; served on 127.0.0.1 and ::1), or http://127.0.0.1:<port>/…, http://[::1]:<port>/…
        #[arg(
            long,
            value_name = "URL",
            default_value = "http://localhost:47150/callback"
        )]
        callback: String,
        /// Give up after this many seconds without a sign-in
        #[arg(long, value_name = "SECS", default_value_t = 300)]
        timeout: u64,
        /// Do not open a browser; only print the sign-in URL on stderr
        #[arg(long, hide = true)]
        no_browser: bool,
    },
    /// The Genius Account app's profiles and who is signed in on each (exit 1: not signed in)
    #[command(long_about = crate::app_session::STATUS_HELP)]
    Status {
        /// Only this profile of the app (its name or id)
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
        /// One JSON document instead of text
        #[arg(long)]
        json: bool,
    },
    /// Print a fresh access token of the app's session on stdout, nothing else
    #[command(long_about = crate::app_session::TOKEN_HELP)]
    Token {
        /// This profile of the app (its name or id) instead of the active one
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
    },
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): geniusctl man > geniusctl.1
    Man,
}

#[derive(Debug, Args)]
pub struct GrantOptions {
    /// Refresh token lifetime in seconds (604800 to 2592000; default 7 days)
    #[arg(long, value_name = "SECS", conflicts_with = "once")]
    pub valid: Option<u64>,
    /// App data carried in the tokens (at most 32 characters)
    #[arg(long, value_name = "P")]
    pub payload: Option<String>,
    /// Identity only: no refresh or access token
    #[arg(long)]
    pub once: bool,
}

impl GrantOptions {
    pub fn login_options(&self, client_ip: Option<String>) -> geniusauth::LoginOptions {
        let grant = if self.once {
            geniusauth::Grant::Once
        } else {
            geniusauth::Grant::RefreshToken { valid: self.valid }
        };
        geniusauth::LoginOptions {
            grant,
            payload: self.payload.clone(),
            client_ip,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFRESH: &str = "eyJhbGciOiJFZERTQSJ9.eyJ0eXBlIjoicmVmcmVzaCJ9.refresh-signature-AAAA";
    const ACCESS: &str = "eyJhbGciOiJFZERTQSJ9.eyJ0eXBlIjoiYWNjZXNzIn0.access-signature-BBBB";
    const SECRET: &str = "AppSecret-0123456789-AppSecret-0123456789-AppSecret-0123456789";

    fn assert_redacted(shown: &str, secret: &str) {
        assert!(!shown.contains(&secret[..16]), "{shown}");
        assert!(!shown.contains(&secret[secret.len() - 12..]), "{shown}");
        assert!(
            shown.contains(&geniusauth::mask::fingerprint(secret)),
            "{shown}"
        );
    }

    #[test]
    fn debug_never_shows_a_token_or_the_app_secret() {
        let commands: [&[&str]; 7] = [
            &["login-verify", REFRESH],
            &["refresh", REFRESH],
            &["payload", REFRESH, "desk", "--access-token"],
            &["revoke", REFRESH, ACCESS],
            &["verify-access", REFRESH],
            &["userinfo", REFRESH],
            &["inspect", REFRESH],
        ];
        for args in commands {
            let cli = Cli::try_parse_from(
                [
                    "geniusctl",
                    "--app-code",
                    "Ab3dE6g8",
                    "--app-secret",
                    SECRET,
                ]
                .iter()
                .chain(args),
            )
            .unwrap();
            for shown in [format!("{cli:?}"), format!("{cli:#?}")] {
                assert_redacted(&shown, SECRET);
                assert_redacted(&shown, REFRESH);
                if args[0] == "revoke" {
                    assert_redacted(&shown, ACCESS);
                }
                assert!(shown.contains("Ab3dE6g8"), "{shown}");
            }
        }
    }
}
