//! What the service's unit tests share: a service on a temp dir with an in-memory keyring that
//! can be made to fail, a recorder of the snapshots it emits, and one backed by an in-process
//! emulator on loopback.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use geniusauth_emulator::{Config, Emulator, StartupInfo};

use super::{AccountService, ServiceConfig};
use crate::error::AccountError;
use crate::profile::ProfileInput;
use crate::secret_store::{Backend, SecretStore};
use crate::settings_file::JsonSettingsFile;
use crate::snapshot::Snapshot;

/// A keyring kept in memory, which answers "unavailable" while `down` is set.
#[derive(Default)]
pub struct TestKeyring {
    items: Mutex<BTreeMap<String, String>>,
    pub down: AtomicBool,
}

impl TestKeyring {
    fn check(&self) -> Result<(), AccountError> {
        if self.down.load(Ordering::SeqCst) {
            Err(AccountError::KeyringUnavailable(
                "test keyring is down".into(),
            ))
        } else {
            Ok(())
        }
    }

    pub fn value(&self, key: &str) -> Option<String> {
        self.items.lock().unwrap().get(key).cloned()
    }
}

impl SecretStore for TestKeyring {
    fn backend(&self) -> Backend {
        Backend::Keyring
    }

    fn get(&self, key: &str) -> Result<Option<String>, AccountError> {
        self.check()?;
        Ok(self.value(key))
    }

    fn set(&self, key: &str, value: &str) -> Result<(), AccountError> {
        self.check()?;
        self.items
            .lock()
            .unwrap()
            .insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), AccountError> {
        self.check()?;
        self.items.lock().unwrap().remove(key);
        Ok(())
    }
}

pub fn config(dir: &tempfile::TempDir) -> ServiceConfig {
    let mut config = ServiceConfig::new(
        dir.path().join("data"),
        dir.path().join("cache"),
        "en-US".into(),
    );
    config.request_timeout = Some(Duration::from_secs(5));
    config
}

pub fn service_with(
    dir: &tempfile::TempDir,
    config: ServiceConfig,
    keyring: Arc<TestKeyring>,
) -> AccountService {
    AccountService::with_keyring(
        config,
        Box::new(JsonSettingsFile(dir.path().join("settings.json"))),
        keyring,
    )
}

/// A service with no server and nothing stored.
pub fn offline_service() -> (AccountService, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let service = service_with(&dir, config(&dir), Arc::default());
    (service, dir)
}

/// Every snapshot the service emitted, in order.
#[derive(Clone, Default)]
pub struct Snapshots(Arc<Mutex<Vec<Snapshot>>>);

impl Snapshots {
    pub fn attach(service: &AccountService) -> Snapshots {
        let snapshots = Snapshots::default();
        let recorder = snapshots.clone();
        service.set_listener(move |s| recorder.0.lock().unwrap().push(s));
        snapshots
    }

    pub fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    pub fn last(&self) -> Snapshot {
        self.0.lock().unwrap().last().cloned().expect("a snapshot")
    }

    pub fn all(&self) -> Vec<Snapshot> {
        self.0.lock().unwrap().clone()
    }
}

/// A free `localhost` callback (the listener binds 127.0.0.1 and ::1).
pub fn free_callback() -> String {
    loop {
        let v4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = v4.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("::1", port)).is_ok() {
            return format!("http://localhost:{port}/callback");
        }
    }
}

/// A started service with one profile for an emulator on loopback.
pub struct Emulated {
    pub emulator: Emulator,
    pub info: StartupInfo,
    pub service: AccountService,
    pub keyring: Arc<TestKeyring>,
    pub profile_id: String,
    pub dir: tempfile::TempDir,
}

impl Emulated {
    pub async fn start() -> Emulated {
        Emulated::with(|_| {}).await
    }

    pub async fn with(adjust: impl FnOnce(&mut ServiceConfig)) -> Emulated {
        let emulator = Emulator::start(Config::ephemeral())
            .await
            .expect("emulator starts");
        let info = emulator.info().clone();
        let dir = tempfile::tempdir().unwrap();
        let keyring = Arc::new(TestKeyring::default());
        let mut config = config(&dir);
        adjust(&mut config);
        let service = service_with(&dir, config, keyring.clone());
        service.start().await;
        let profile_id = service
            .save_profile(Emulated::profile_input(&info))
            .await
            .expect("profile saved");
        Emulated {
            emulator,
            info,
            service,
            keyring,
            profile_id,
            dir,
        }
    }

    pub fn profile_input(info: &StartupInfo) -> ProfileInput {
        ProfileInput {
            id: None,
            name: "Emulator".into(),
            server: info.url.clone(),
            app_code: info.app_code.clone(),
            callback: free_callback(),
            app_secret: Some(info.app_secret.clone()),
        }
    }

    pub fn uid(&self) -> u64 {
        self.info.users[0].id
    }

    pub fn login_token(&self) -> String {
        self.emulator
            .login_token(&self.info.app_code, self.uid())
            .expect("login token")
    }

    /// How often the emulator has served `route` (e.g. "POST /api/v1/app/token/refresh/").
    pub async fn requests(&self, route: &str) -> u64 {
        let url = format!("{}/__emulator/requests", self.info.url);
        let text = reqwest::get(url).await.unwrap().text().await.unwrap();
        let counts: BTreeMap<String, u64> = serde_json::from_str(&text).unwrap();
        counts.get(route).copied().unwrap_or(0)
    }

    /// Signs the first seeded user in.
    pub async fn sign_in(&self) {
        self.service
            .sign_in_with_token(self.login_token(), None)
            .await
            .expect("sign-in");
    }
}
