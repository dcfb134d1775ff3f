//! Where the app secret and the refresh token are kept: the OS keyring, or, only when the user
//! explicitly opts in, a local file that is not encrypted.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::error::AccountError;

/// Keyring calls can hang (a locked collection waiting for a prompt nobody answers): bound them.
pub const KEYRING_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Keyring,
    File,
    Memory,
}

pub trait SecretStore: Send + Sync {
    fn backend(&self) -> Backend;
    fn get(&self, key: &str) -> Result<Option<String>, AccountError>;
    fn set(&self, key: &str, value: &str) -> Result<(), AccountError>;
    fn delete(&self, key: &str) -> Result<(), AccountError>;
}

/// Keys of the items a profile owns.
pub fn app_secret_key(profile_id: &str) -> String {
    format!("app-secret:{profile_id}")
}
pub fn refresh_token_key(profile_id: &str) -> String {
    format!("refresh-token:{profile_id}")
}

/// The OS keyring: Secret Service on Linux, Keychain on macOS, Credential Manager on Windows.
pub struct KeyringStore {
    service: String,
    timeout: Duration,
}

impl KeyringStore {
    pub fn new(service: impl Into<String>) -> Self {
        KeyringStore {
            service: service.into(),
            timeout: KEYRING_TIMEOUT,
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether the keyring answers at all: reading an absent item must say "no entry" quickly.
    pub fn probe(&self) -> Result<(), AccountError> {
        self.get("probe:availability").map(|_| ())
    }

    fn bounded<T: Send + 'static>(
        &self,
        key: &str,
        op: impl FnOnce(keyring::Entry) -> keyring::Result<T> + Send + 'static,
    ) -> Result<T, AccountError> {
        let (tx, rx) = mpsc::channel();
        let service = self.service.clone();
        let user = key.to_owned();
        // A thread of its own, so a hung D-Bus call cannot block the caller past the timeout.
        std::thread::spawn(move || {
            let result = keyring::Entry::new(&service, &user).and_then(op);
            let _ = tx.send(result);
        });
        match rx.recv_timeout(self.timeout) {
            Ok(result) => result.map_err(keyring_error),
            Err(_) => Err(AccountError::KeyringUnavailable(format!(
                "the keyring did not answer within {} s (is it locked?)",
                self.timeout.as_secs()
            ))),
        }
    }
}

fn keyring_error(err: keyring::Error) -> AccountError {
    AccountError::KeyringUnavailable(err.to_string())
}

impl SecretStore for KeyringStore {
    fn backend(&self) -> Backend {
        Backend::Keyring
    }

    fn get(&self, key: &str) -> Result<Option<String>, AccountError> {
        self.bounded(key, |entry| match entry.get_password() {
            Ok(value) => Ok(Some(value)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(err) => Err(err),
        })
    }

    fn set(&self, key: &str, value: &str) -> Result<(), AccountError> {
        let value = value.to_owned();
        self.bounded(key, move |entry| entry.set_password(&value))
    }

    fn delete(&self, key: &str) -> Result<(), AccountError> {
        self.bounded(key, |entry| match entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(err) => Err(err),
        })
    }
}

/// A JSON file readable by its owner only (0600). Not encrypted: the user opts in knowingly.
pub struct FileStore {
    path: PathBuf,
    lock: Mutex<()>,
}

impl FileStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileStore {
            path: path.into(),
            lock: Mutex::new(()),
        }
    }

    fn read(&self) -> Result<BTreeMap<String, String>, AccountError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                AccountError::Storage(format!("{} is damaged: {e}", self.path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(AccountError::Storage(format!(
                "{}: {e}",
                self.path.display()
            ))),
        }
    }

    fn write(&self, items: &BTreeMap<String, String>) -> Result<(), AccountError> {
        let io = |e: std::io::Error| AccountError::Storage(format!("{}: {e}", self.path.display()));
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = self.path.with_extension("tmp");
        let bytes =
            serde_json::to_vec_pretty(items).map_err(|e| AccountError::Storage(e.to_string()))?;
        write_private(&tmp, &bytes).map_err(io)?;
        // Rename is atomic: a crash leaves the old file or the new one, never half of one.
        std::fs::rename(&tmp, &self.path).map_err(io)
    }
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

impl SecretStore for FileStore {
    fn backend(&self) -> Backend {
        Backend::File
    }

    fn get(&self, key: &str) -> Result<Option<String>, AccountError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        Ok(self.read()?.remove(key))
    }

    fn set(&self, key: &str, value: &str) -> Result<(), AccountError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut items = self.read()?;
        items.insert(key.to_owned(), value.to_owned());
        self.write(&items)
    }

    fn delete(&self, key: &str) -> Result<(), AccountError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut items = self.read()?;
        if items.remove(key).is_some() {
            self.write(&items)?;
        }
        Ok(())
    }
}

/// Kept in memory only: the demo profile's secrets, which die with its embedded emulator.
#[derive(Default)]
pub struct MemoryStore(Mutex<BTreeMap<String, String>>);

impl SecretStore for MemoryStore {
    fn backend(&self) -> Backend {
        Backend::Memory
    }

    fn get(&self, key: &str) -> Result<Option<String>, AccountError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned())
    }

    fn set(&self, key: &str, value: &str) -> Result<(), AccountError> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), AccountError> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_store_round_trips_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("secrets.json"));
        assert_eq!(store.get("a").unwrap(), None);
        store.set("a", "1").unwrap();
        store.set("b", "2").unwrap();
        store.delete("a").unwrap();
        assert_eq!(store.get("a").unwrap(), None);
        assert_eq!(store.get("b").unwrap().as_deref(), Some("2"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secrets.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn damaged_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        std::fs::write(&path, b"{not json").unwrap();
        let err = FileStore::new(&path).get("a").unwrap_err();
        assert!(err.to_string().contains("damaged"), "{err}");
    }
}
