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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AdminAccess {
    /// Anyone who can reach the port (loopback only: startup refuses it elsewhere).
    #[default]
    Open,
    /// Requests must carry `Authorization: Bearer <token>` (`--admin-token`).
    Token(String),
    /// No HTTP admin API at all (`--no-admin`).
    Disabled,
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
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartupInfo {
    pub url: String,
    pub app_code: String,
    pub app_secret: String,
    pub users: Vec<SeedUser>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SeedUser {
    pub id: u64,
    pub name: String,
}
