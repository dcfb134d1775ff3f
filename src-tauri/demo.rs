//! Demo mode: the emulator runs inside the app on a free loopback port, in memory, with its
//! HTTP admin API off (any web page could reach it on loopback): login tokens for the demo
//! users are minted in process.

use account::snapshot::DemoUser;
use account::{AccountError, AccountService, Demo};
use geniusauth_emulator::{AdminAccess, Config, Emulator, StartupInfo};
use tokio::sync::Mutex;

#[derive(Default)]
pub struct DemoServer(Mutex<Option<Emulator>>);

impl DemoServer {
    /// Starts the emulator once and makes its demo app the active profile.
    pub async fn start(&self, service: &AccountService) -> Result<(), AccountError> {
        let mut slot = self.0.lock().await;
        if slot.is_none() {
            let config = Config {
                admin: AdminAccess::Disabled,
                ..Config::ephemeral()
            };
            let emulator = Emulator::start(config).await.map_err(|e| {
                AccountError::Internal(format!("the demo server did not start: {e}"))
            })?;
            *slot = Some(emulator);
        }
        let Some(emulator) = slot.as_ref() else {
            return Ok(());
        };
        let info = emulator.info().clone();
        let demo = Demo {
            server: info.url.clone(),
            app_code: info.app_code.clone(),
            app_secret: info.app_secret.clone(),
            callback: account::profile::DEFAULT_CALLBACK.into(),
            users: info
                .users
                .iter()
                .map(|u| DemoUser {
                    id: u.id,
                    name: u.name.clone(),
                })
                .collect(),
        };
        drop(slot);
        service.enable_demo(demo).await
    }

    /// What the demo server announced (its URL, the demo app and users), once it runs.
    pub async fn info(&self) -> Option<StartupInfo> {
        self.0.lock().await.as_ref().map(|e| e.info().clone())
    }

    /// A login token for a seeded user, minted directly (a fresh machine may have no browser).
    pub async fn login_token(&self, app_code: &str, uid: u64) -> Result<String, String> {
        let slot = self.0.lock().await;
        let emulator = slot.as_ref().ok_or("demo mode is not running")?;
        emulator
            .login_token(app_code, uid)
            .map_err(|e| e.to_string())
    }
}
