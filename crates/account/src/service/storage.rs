//! Where secrets live (keyring, opt-in file, the demo's memory), how the keyring is doing,
//! and the clients and server keys made from them.

use std::sync::Arc;

use geniusauth::Client;

use super::{blocking, AccountService, DEMO_PROFILE_ID};
use crate::error::AccountError;
use crate::profile::Profile;
use crate::secret_store::{
    app_secret_key, refresh_token_key, Backend, FileStore, SecretStore, SECRETS_FILE,
};
use crate::snapshot::SessionState;

impl AccountService {
    /// Asks the keyring for an item that does not exist: it must answer "no entry" within the
    /// keyring timeout. The outcome shows in the snapshot's `storage` (see `with_store`); a
    /// locked collection may pass this and fail at the first real read, which sets the same
    /// state.
    pub(super) async fn probe_keyring(&self) {
        let _ = self
            .with_store(self.inner.keyring.clone(), |keyring| {
                keyring.get("probe:availability")
            })
            .await;
    }

    /// Switches the secrets between the OS keyring and the opt-in file. What the old store
    /// holds for each profile is copied over (best effort from a keyring that does not answer),
    /// the current session's refresh token is written to the new store, and leaving the file
    /// deletes the copied secrets from it.
    pub async fn use_file_store(&self, enabled: bool) -> Result<(), AccountError> {
        let (keyring_problem, already) =
            self.read(|st| (st.keyring_problem.is_some(), st.settings.file_store_opt_in));
        if !enabled {
            // Leaving the file needs a keyring that answers; otherwise nothing changes.
            self.with_store(self.inner.keyring.clone(), |keyring| {
                keyring.get("probe:availability")
            })
            .await?;
        }
        if enabled != already {
            let (from, to) = if enabled {
                (self.inner.keyring.clone(), self.inner.file_store.clone())
            } else {
                (self.inner.file_store.clone(), self.inner.keyring.clone())
            };
            // A keyring known not to answer is not read (each call would wait for the timeout).
            let read_old = !(enabled && keyring_problem);
            let (keys, session_token) = self.read(|st| {
                let keys: Vec<String> = st
                    .settings
                    .profiles
                    .iter()
                    .flat_map(|p| [app_secret_key(&p.id), refresh_token_key(&p.id)])
                    .collect();
                let session_token = st
                    .session
                    .as_ref()
                    .filter(|s| s.profile_id != DEMO_PROFILE_ID && s.state != SessionState::Expired)
                    .map(|s| (refresh_token_key(&s.profile_id), s.refresh.value.clone()));
                (keys, session_token)
            });
            let delete_from_old = !enabled;
            self.with_store(to, move |to| {
                let mut moved = Vec::new();
                for key in keys {
                    let value = if read_old {
                        from.get(&key).ok().flatten()
                    } else {
                        None
                    };
                    if let Some(value) = value {
                        to.set(&key, &value)?;
                        moved.push(key);
                    }
                }
                if let Some((key, value)) = &session_token {
                    to.set(key, value)?;
                }
                if delete_from_old {
                    for key in moved {
                        let _ = from.delete(&key);
                    }
                }
                Ok(())
            })
            .await?;
        }
        self.change(|st| {
            self.save_settings(st, |s| {
                s.file_store_opt_in = enabled;
                Ok(())
            })?;
            // Clients hold the secret they were made with: the next call reads the new store.
            st.clients.clear();
            Ok::<_, AccountError>(())
        })?;
        self.restore().await
    }

    /// The user's answer to `secrets_file_too_open`: narrows the secrets file to its owner
    /// (0600), then restores the session it holds.
    pub async fn fix_secrets_file_permissions(&self) -> Result<(), AccountError> {
        let path = self.inner.config.data_dir.join(SECRETS_FILE);
        blocking(move || FileStore::restrict_to_owner(&path)).await?;
        self.restore().await
    }

    pub(super) fn store_for(&self, profile_id: &str) -> Arc<dyn SecretStore> {
        if profile_id == DEMO_PROFILE_ID {
            return self.inner.demo_store.clone();
        }
        if self.read(|st| st.settings.file_store_opt_in) {
            self.inner.file_store.clone()
        } else {
            self.inner.keyring.clone()
        }
    }

    /// Runs a secret-store operation off the async workers. Keyring outcomes keep the
    /// snapshot's `storage` honest: a failure says the keyring is unavailable, a success that
    /// it works again; the window hears of it when that changes.
    pub(super) async fn with_store<T: Send + 'static>(
        &self,
        store: Arc<dyn SecretStore>,
        op: impl FnOnce(&dyn SecretStore) -> Result<T, AccountError> + Send + 'static,
    ) -> Result<T, AccountError> {
        let backend = store.backend();
        let result = blocking(move || op(&*store)).await;
        if backend == Backend::Keyring {
            let problem = match &result {
                Ok(_) => Some(None),
                Err(err @ AccountError::KeyringUnavailable(_)) => Some(Some(err.to_string())),
                Err(_) => None,
            };
            if let Some(problem) = problem {
                if self.read(|st| st.keyring_problem != problem) {
                    self.change(|st| st.keyring_problem = problem);
                }
            }
        }
        result
    }

    /// Stores a new refresh token. The session stays usable in memory if storing fails; the
    /// error says it won't survive a restart.
    pub(super) async fn store_refresh_token(&self, profile: &Profile, token: &str) {
        let store = self.store_for(&profile.id);
        let (key, token) = (refresh_token_key(&profile.id), token.to_owned());
        if let Err(err) = self
            .with_store(store, move |store| store.set(&key, &token))
            .await
        {
            self.record_error(&err);
        }
    }

    /// The profile's client, made once from its stored app secret.
    pub(super) async fn client(&self, profile: &Profile) -> Result<Client, AccountError> {
        if let Some(client) = self.read(|st| st.clients.get(&profile.id).cloned()) {
            return Ok(client);
        }
        let store = self.store_for(&profile.id);
        let key = app_secret_key(&profile.id);
        let secret = self
            .with_store(store, move |store| store.get(&key))
            .await?
            .ok_or_else(|| {
                AccountError::invalid(
                    "this profile has no appSecret stored: edit the profile and enter it",
                )
            })?;
        let mut config = geniusauth::Config::new(profile.app_code.clone(), secret)
            .with_base_url(&profile.server)?;
        if let Some(timeout) = self.inner.config.request_timeout {
            config = config.with_request_timeout(timeout);
        }
        let client = Client::new(config)?;
        self.quietly(|st| st.clients.insert(profile.id.clone(), client.clone()));
        Ok(client)
    }

    /// The active profile and a client for it (its app's credentials), for the support tools,
    /// which act on other people's tokens with the profile's app.
    pub async fn active_client(&self) -> Result<(Profile, Client), AccountError> {
        let profile = self.active_profile()?;
        let client = self.client(&profile).await?;
        Ok((profile, client))
    }

    /// The server's token key, fetched once per profile; `None` when it cannot be had now.
    pub(super) async fn server_key(
        &self,
        profile: &Profile,
        client: &Client,
    ) -> Option<ed25519_dalek::VerifyingKey> {
        if let Some(key) = self.read(|st| st.server_keys.get(&profile.id).copied()) {
            return Some(key);
        }
        let key = client
            .server_public_keys()
            .await
            .ok()?
            .jwt_verifying_key()
            .ok()?;
        self.quietly(|st| st.server_keys.insert(profile.id.clone(), key));
        Some(key)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::secret_store::Backend;
    use crate::service::test_support::{offline_service, Emulated, Snapshots};

    #[tokio::test]
    async fn the_keyring_shows_unavailable_and_recovers_and_each_change_is_told() {
        let emulated = Emulated::start().await;
        let service = &emulated.service;
        let snapshots = Snapshots::attach(service);
        emulated.keyring.down.store(true, Ordering::SeqCst);
        service.probe_keyring().await;
        let storage = service.snapshot().storage;
        assert!(!storage.available);
        assert_eq!(storage.backend, Backend::Keyring);
        assert!(storage.message.unwrap().contains("test keyring is down"));
        assert_eq!(snapshots.count(), 1, "told when it broke");
        service.probe_keyring().await;
        assert_eq!(snapshots.count(), 1, "not told again while nothing changes");

        emulated.keyring.down.store(false, Ordering::SeqCst);
        service.probe_keyring().await;
        assert!(service.snapshot().storage.available);
        assert_eq!(snapshots.count(), 2, "told when it works again");
    }

    #[tokio::test]
    async fn clients_are_made_once_from_the_stored_secret_and_know_the_server_key() {
        let emulated = Emulated::start().await;
        let service = &emulated.service;
        let (profile, client) = service.active_client().await.unwrap();
        assert_eq!(profile.id, emulated.profile_id);
        let again = service.client(&profile).await.unwrap();
        assert!(service.read(|st| st.clients.len() == 1));
        assert_eq!(again.login_url(), client.login_url());
        assert!(service.server_key(&profile, &client).await.is_some());
        assert!(service.read(|st| st.server_keys.contains_key(&profile.id)));
    }

    #[tokio::test]
    async fn a_profile_without_its_secret_gets_no_client() {
        let (service, _dir) = offline_service();
        let profile = Profile {
            id: "p1".into(),
            name: "No secret".into(),
            server: "http://127.0.0.1:9".into(),
            app_code: "abcd1234".into(),
            callback: "http://localhost:9/callback".into(),
            demo: false,
        };
        let err = service.client(&profile).await.unwrap_err();
        assert!(err.to_string().contains("no appSecret stored"), "{err}");
    }

    #[tokio::test]
    async fn the_file_store_takes_the_secrets_and_the_session_and_gives_them_back() {
        let emulated = Emulated::start().await;
        emulated.sign_in().await;
        let service = &emulated.service;
        let id = emulated.profile_id.clone();
        let file = FileStore::new(emulated.dir.path().join("data").join(SECRETS_FILE));

        service.use_file_store(true).await.unwrap();
        assert_eq!(service.snapshot().storage.backend, Backend::File);
        assert_eq!(
            file.get(&app_secret_key(&id)).unwrap(),
            Some(emulated.info.app_secret.clone())
        );
        assert!(file.get(&refresh_token_key(&id)).unwrap().is_some());
        assert!(service.snapshot().session.is_some(), "still signed in");

        service.use_file_store(false).await.unwrap();
        assert_eq!(service.snapshot().storage.backend, Backend::Keyring);
        assert_eq!(
            file.get(&app_secret_key(&id)).unwrap(),
            None,
            "left the file"
        );
        assert!(emulated.keyring.value(&refresh_token_key(&id)).is_some());

        // Leaving the file needs a keyring that answers.
        service.use_file_store(true).await.unwrap();
        emulated.keyring.down.store(true, Ordering::SeqCst);
        let refused = service.use_file_store(false).await.unwrap_err();
        assert_eq!(refused.code(), "keyring_unavailable");
        assert_eq!(service.snapshot().storage.backend, Backend::File);
    }
}
