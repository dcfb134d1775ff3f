//! Where the app secret and the refresh token are kept: the OS keyring, or, only when the user
//! explicitly opts in, a local file that is not encrypted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::atomic_file;
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

/// The opt-in secrets file's name in the app data folder.
pub const SECRETS_FILE: &str = "secrets.json";

/// A JSON file readable by its owner only (0600). Not encrypted: the user opts in knowingly.
///
/// Every change replaces the file atomically and durably ([`atomic_file::replace`]): after a
/// crash or a power loss it holds the secrets before the change or after it, and a deleted
/// secret (a "Forget") does not come back. A file that others may read is refused, not used:
/// its secrets may have been copied, and the user should know before the app goes on.
pub struct FileStore {
    path: PathBuf,
    lock: Mutex<()>,
}

impl FileStore {
    /// A store at `path`. A temporary file a crash left beside it (`secrets.tmp`, which may hold
    /// secrets deleted since) is removed now.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let leftover = atomic_file::temp_path(&path);
        if let Err(err) = atomic_file::remove_if_present(&leftover) {
            log::warn!("could not remove {}: {err}", leftover.display());
        }
        FileStore {
            path,
            lock: Mutex::new(()),
        }
    }

    /// A store at `path` for a reader beside the app (`geniusctl`): nothing is removed, not
    /// even a leftover `secrets.tmp`, which may be the app's write in progress.
    pub fn beside_the_app(path: impl Into<PathBuf>) -> Self {
        FileStore {
            path: path.into(),
            lock: Mutex::new(()),
        }
    }

    /// Narrows the file at `path` to its owner (0600), when the user asks for it after
    /// [`AccountError::SecretsFileTooOpen`]. A missing file is left missing.
    pub fn restrict_to_owner(path: &Path) -> Result<(), AccountError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let storage =
                |e: std::io::Error| AccountError::Storage(format!("{}: {e}", path.display()));
            match std::fs::symlink_metadata(path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(storage(e)),
                Ok(meta) if !meta.file_type().is_file() => {
                    return Err(AccountError::Storage(format!(
                        "{} is not a plain file; remove it and opt in again",
                        path.display()
                    )))
                }
                Ok(_) => {}
            }
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(storage)?;
            // The mode change is metadata of the file: make it durable like its contents.
            std::fs::File::open(path)
                .and_then(|f| f.sync_all())
                .map_err(storage)?;
        }
        #[cfg(not(unix))]
        let _ = path;
        Ok(())
    }

    /// Refuses a file that anyone but its owner may read or write.
    fn check_mode(&self, file: &std::fs::File) -> Result<(), AccountError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = file
                .metadata()
                .map_err(|e| AccountError::Storage(format!("{}: {e}", self.path.display())))?
                .permissions()
                .mode()
                & 0o777;
            if mode & 0o077 != 0 {
                return Err(AccountError::SecretsFileTooOpen {
                    path: self.path.display().to_string(),
                    mode,
                });
            }
        }
        #[cfg(not(unix))]
        let _ = file;
        Ok(())
    }

    fn read(&self) -> Result<BTreeMap<String, String>, AccountError> {
        use std::io::Read;
        let storage =
            |e: std::io::Error| AccountError::Storage(format!("{}: {e}", self.path.display()));
        let mut file = match std::fs::File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(storage(e)),
        };
        self.check_mode(&file)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(storage)?;
        // Where, not what: serde's message may quote the file's contents.
        serde_json::from_slice(&bytes).map_err(|e| {
            AccountError::Storage(format!(
                "{} is damaged (line {}, column {})",
                self.path.display(),
                e.line(),
                e.column()
            ))
        })
    }

    fn write(&self, items: &BTreeMap<String, String>) -> Result<(), AccountError> {
        let bytes =
            serde_json::to_vec_pretty(items).map_err(|e| AccountError::Storage(e.to_string()))?;
        atomic_file::replace(&self.path, &bytes, 0o600)
            .map_err(|e| AccountError::Storage(format!("{}: {e}", self.path.display())))
    }
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
        std::fs::write(&path, b"{\"a\": \"the secret\", not json").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let err = FileStore::new(&path).get("a").unwrap_err();
        assert!(err.to_string().contains("damaged"), "{err}");
        assert!(!err.to_string().contains("the secret"), "{err}");
    }
}
