//! How the emulator is started, and what it announces once it listens.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// The port the emulator listens on by default (loopback only).
pub const DEFAULT_PORT: u16 = 4780;

/// Where the emulator keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// Gone when the emulator stops.
    Memory,
    /// A SQLite file; restarting with the same file keeps keys, apps, users and tokens.
    File(PathBuf),
}

/// Who may use the HTTP admin API under `/__emulator/` (the login page's `/` and
/// `/__emulator/authorize` stay on whatever this says; `Emulator::login_token` always works).
/// `Debug` prints the token as `***`.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum AdminAccess {
    /// Anyone who can reach the port (loopback only: startup refuses it elsewhere).
    #[default]
    Open,
    /// Requests must carry `Authorization: Bearer <token>` (`--admin-token`).
    Token(String),
    /// No HTTP admin API at all (`--no-admin`).
    Disabled,
}

impl std::fmt::Debug for AdminAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminAccess::Open => f.write_str("Open"),
            AdminAccess::Token(_) => write!(f, "Token({})", crate::HIDDEN),
            AdminAccess::Disabled => f.write_str("Disabled"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database: Database,
    /// A seed file replacing the default demo data (used only when the database is empty).
    pub seed: Option<PathBuf>,
    /// Register any absolute http(s) callback, skipping the dashboard's rule (a non-https
    /// callback only on the host `localhost`). Default false, as on the real server.
    pub allow_any_callback: bool,
    /// How far the emulated server's wall clock is off (seconds, may be negative): it moves
    /// the signature window, token times and the `Date` header. `--clock-skew`, default 0.
    pub clock_skew_seconds: i64,
    /// The admin API's protection; `Open` is refused on a non-loopback address.
    pub admin: AdminAccess,
    /// Where the gRPC App service listens (mutual TLS; port 0 picks one). `None`: not served.
    /// Needs the `grpc` feature. `--grpc-listen`.
    pub grpc_listen: Option<SocketAddr>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, DEFAULT_PORT)),
            database: Database::Memory,
            seed: None,
            allow_any_callback: false,
            clock_skew_seconds: 0,
            admin: AdminAccess::Open,
            grpc_listen: None,
        }
    }
}

impl Config {
    /// In memory, with the default demo data, on a free loopback port: the app's demo mode and
    /// the tests.
    pub fn ephemeral() -> Config {
        Config {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            ..Config::default()
        }
    }
}

/// What the binary prints as its first stdout line: where it listens, the demo app and users.
/// The line carries the app secret (it is how scripts learn it); `Debug` prints it as `***`.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartupInfo {
    pub url: String,
    pub app_code: String,
    pub app_secret: String,
    pub users: Vec<SeedUser>,
    /// `https://host:port` of the gRPC App service, when it is served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_url: Option<String>,
}

impl std::fmt::Debug for StartupInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartupInfo")
            .field("url", &self.url)
            .field("app_code", &self.app_code)
            .field("app_secret", &crate::HIDDEN)
            .field("users", &self.users)
            .field("grpc_url", &self.grpc_url)
            .finish()
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SeedUser {
    pub id: u64,
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_secret() {
        let token = "admin-token-0123456789";
        let config = Config {
            admin: AdminAccess::Token(token.into()),
            ..Config::ephemeral()
        };
        let shown = format!("{config:?}");
        assert!(
            !shown.contains(token) && shown.contains("Token(***)"),
            "{shown}"
        );

        let secret = "S".repeat(100);
        let info = StartupInfo {
            url: "http://127.0.0.1:4780".into(),
            app_code: "Ab3dE6g8".into(),
            app_secret: secret.clone(),
            users: vec![SeedUser {
                id: 1,
                name: "张伟".into(),
            }],
            grpc_url: None,
        };
        for shown in [format!("{info:?}"), format!("{info:#?}")] {
            assert!(!shown.contains("SSSS"), "{shown}");
            assert!(
                shown.contains("Ab3dE6g8") && shown.contains("张伟"),
                "{shown}"
            );
        }
        // The startup line itself still carries it: scripts read the secret there.
        assert!(serde_json::to_string(&info).unwrap().contains(&secret));

        let app = crate::store::App {
            id: 1,
            name: "Demo".into(),
            app_code: "Ab3dE6g8".into(),
            app_secret: secret.clone(),
            callback: "http://localhost:47150/callback".into(),
            permit_all_group: false,
            all_groups: true,
        };
        let shown = format!("{app:?}");
        assert!(
            !shown.contains("SSSS") && shown.contains("Ab3dE6g8"),
            "{shown}"
        );

        let seed: crate::seed::SeedApp = serde_json::from_value(serde_json::json!({
            "name": "Seeded", "callback": "http://localhost:47151/callback", "appSecret": secret,
        }))
        .unwrap();
        let shown = format!("{seed:?}");
        assert!(
            !shown.contains("SSSS") && shown.contains("Seeded"),
            "{shown}"
        );
    }
}
