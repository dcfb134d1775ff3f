//! Preferences, profiles and the demo profile.

use super::{AccountService, Demo, State, DEMO_PROFILE_ID};
use crate::error::AccountError;
use crate::profile::{Profile, ProfileInput};
use crate::secret_store::{app_secret_key, refresh_token_key};

impl AccountService {
    pub fn set_preferences(
        &self,
        locale: Option<String>,
        theme: Option<String>,
        lifetime_days: Option<u32>,
    ) -> Result<(), AccountError> {
        self.update_settings(|s| {
            if let Some(locale) = locale {
                if !matches!(locale.as_str(), "system" | "zh-CN" | "en") {
                    return Err(AccountError::invalid(
                        "language must be system, zh-CN or en",
                    ));
                }
                s.locale = locale;
            }
            if let Some(theme) = theme {
                if !matches!(theme.as_str(), "system" | "light" | "dark") {
                    return Err(AccountError::invalid("theme must be system, light or dark"));
                }
                s.theme = theme;
            }
            if let Some(days) = lifetime_days {
                if !(7..=30).contains(&days) {
                    return Err(AccountError::invalid(
                        "the refresh-token lifetime must be 7 to 30 days",
                    ));
                }
                s.lifetime_days = days;
            }
            Ok(())
        })
    }

    /// Adds or edits a profile. The secret goes to the secret store; absent keeps the stored one.
    pub async fn save_profile(&self, input: ProfileInput) -> Result<String, AccountError> {
        let is_new = input.id.is_none();
        if is_new && input.app_secret.is_none() {
            return Err(AccountError::invalid("a new profile needs its appSecret"));
        }
        let id = match &input.id {
            Some(id) => {
                if !self.read(|st| st.settings.profiles.iter().any(|p| &p.id == id)) {
                    return Err(AccountError::NoProfile);
                }
                id.clone()
            }
            None => self.quietly(|st| st.settings.new_profile_id()),
        };
        let profile = input.validate(id.clone())?;
        // Another server or app makes the stored session meaningless: its tokens belong elsewhere.
        // A new profile starts signed out even if the keyring holds a token under its id (an
        // earlier installation's, whose settings are gone, numbered its profiles the same way).
        let moved = self
            .profile(&id)
            .is_some_and(|old| old.server != profile.server || old.app_code != profile.app_code);
        if moved || is_new {
            let signed_in_here =
                |st: &State| st.session.as_ref().is_some_and(|s| s.profile_id == id);
            if self.read(signed_in_here) {
                self.change(|st| {
                    st.stop_sign_in();
                    st.end_session();
                });
            }
            let store = self.store_for(&id);
            let key = refresh_token_key(&id);
            self.with_store(store, move |store| store.delete(&key))
                .await?;
            self.update_settings(|s| {
                s.cached_users.retain(|u| u.profile_id != id);
                Ok(())
            })?;
        }
        if let Some(secret) = &input.app_secret {
            let store = self.store_for(&id);
            let secret = secret.trim().to_owned();
            let key = app_secret_key(&id);
            self.with_store(store, move |store| store.set(&key, &secret))
                .await?;
        }
        self.change(|st| {
            // The next call builds a client with the new server, app and secret.
            st.clients.remove(&id);
            st.server_keys.remove(&id);
            self.save_settings(st, |s| {
                s.next_profile_number = s.next_profile_number.max(id_number(&id) + 1);
                match s.profiles.iter_mut().find(|p| p.id == id) {
                    Some(existing) => *existing = profile,
                    None => s.profiles.push(profile),
                }
                if is_new || s.active_profile_id.is_none() {
                    s.active_profile_id = Some(id.clone());
                }
                Ok(())
            })
        })?;
        if is_new {
            self.switch_profile(&id).await?;
        }
        Ok(id)
    }

    pub async fn delete_profile(&self, id: &str) -> Result<(), AccountError> {
        if id == DEMO_PROFILE_ID {
            return Err(AccountError::invalid(
                "the demo profile goes away when the app quits",
            ));
        }
        if self.profile(id).is_none() {
            return Err(AccountError::NoProfile);
        }
        let was_active = self.active_profile().is_ok_and(|p| p.id == id);
        let store = self.store_for(id);
        let (a, r) = (app_secret_key(id), refresh_token_key(id));
        // Best effort: a missing keyring must not keep a profile from being deleted.
        let _ = self
            .with_store(store, move |store| {
                store.delete(&a).and_then(|()| store.delete(&r))
            })
            .await;
        self.change(|st| {
            if was_active {
                st.stop_sign_in();
                st.end_session();
            }
            st.clients.remove(id);
            st.server_keys.remove(id);
            self.save_settings(st, |s| {
                s.profiles.retain(|p| p.id != id);
                s.cached_users.retain(|u| u.profile_id != id);
                if s.active_profile_id.as_deref() == Some(id) {
                    s.active_profile_id = s.profiles.first().map(|p| p.id.clone());
                }
                Ok(())
            })
        })?;
        // Only a change of the active profile needs a session restored; deleting another
        // profile leaves the current session alone.
        if was_active {
            self.restore().await?;
        }
        Ok(())
    }

    pub async fn switch_profile(&self, id: &str) -> Result<(), AccountError> {
        if self.profile(id).is_none() {
            return Err(AccountError::NoProfile);
        }
        self.change(|st| {
            st.stop_sign_in();
            st.end_session();
            // The demo is not persisted: next start the last real profile is active again.
            st.demo_active = id == DEMO_PROFILE_ID;
            if st.demo_active {
                return Ok(());
            }
            self.save_settings(st, |s| {
                s.active_profile_id = Some(id.to_owned());
                Ok(())
            })
        })?;
        self.restore().await
    }

    /// Makes the embedded emulator's demo app the active profile.
    pub async fn enable_demo(&self, demo: Demo) -> Result<(), AccountError> {
        let secret = demo.app_secret.clone();
        self.quietly(|st| {
            st.demo = Some(demo);
            st.clients.remove(DEMO_PROFILE_ID);
            st.server_keys.remove(DEMO_PROFILE_ID);
        });
        self.inner
            .demo_store
            .set(&app_secret_key(DEMO_PROFILE_ID), &secret)?;
        self.switch_profile(DEMO_PROFILE_ID).await
    }

    pub fn is_demo(&self) -> bool {
        self.read(|st| st.demo.is_some())
    }

    /// Demo mode only: the demo app's code, for minting a login token as if a seeded user
    /// had signed in in a browser.
    pub fn demo_app_code(&self) -> Result<String, AccountError> {
        self.read(|st| {
            let demo = st
                .demo
                .as_ref()
                .ok_or_else(|| AccountError::invalid("not in demo mode"))?;
            if active_id(st).as_deref() != Some(DEMO_PROFILE_ID) {
                return Err(AccountError::invalid("switch to the demo profile first"));
            }
            Ok(demo.app_code.clone())
        })
    }

    pub(super) fn profile(&self, id: &str) -> Option<Profile> {
        self.read(|st| {
            if id == DEMO_PROFILE_ID {
                return st.demo.as_ref().map(demo_profile);
            }
            st.settings.profiles.iter().find(|p| p.id == id).cloned()
        })
    }

    pub(super) fn active_profile(&self) -> Result<Profile, AccountError> {
        let id = self.read(active_id).ok_or(AccountError::NoProfile)?;
        self.profile(&id).ok_or(AccountError::NoProfile)
    }
}

/// The active profile's id: the demo while it is active, otherwise the persisted choice.
pub(super) fn active_id(st: &State) -> Option<String> {
    if st.demo_active && st.demo.is_some() {
        Some(DEMO_PROFILE_ID.into())
    } else {
        st.settings.active_profile_id.clone()
    }
}

pub(super) fn demo_profile(demo: &Demo) -> Profile {
    Profile {
        id: DEMO_PROFILE_ID.into(),
        name: "Demo".into(),
        server: demo.server.clone(),
        app_code: demo.app_code.clone(),
        callback: demo.callback.clone(),
        demo: true,
    }
}

/// The number in a profile id ("p3" is 3), so that new ids never reuse one.
fn id_number(id: &str) -> u32 {
    id.trim_start_matches('p').parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::test_support::{free_callback, offline_service, Snapshots};
    use crate::settings_file::JsonSettingsFile;

    fn input(name: &str, secret: Option<&str>) -> ProfileInput {
        ProfileInput {
            id: None,
            name: name.into(),
            server: "http://127.0.0.1:9".into(),
            app_code: "abcd1234".into(),
            callback: free_callback(),
            app_secret: secret.map(str::to_owned),
        }
    }

    fn stored(dir: &tempfile::TempDir) -> crate::settings::Settings {
        JsonSettingsFile(dir.path().join("settings.json"))
            .read()
            .unwrap()
            .expect("settings saved")
    }

    #[test]
    fn ids_number_their_profiles() {
        assert_eq!(id_number("p1"), 1);
        assert_eq!(id_number("p42"), 42);
        assert_eq!(id_number("demo"), 0);
    }

    #[test]
    fn preferences_are_checked_saved_and_told() {
        let (service, dir) = offline_service();
        let snapshots = Snapshots::attach(&service);
        service
            .set_preferences(Some("zh-CN".into()), Some("dark".into()), Some(30))
            .unwrap();
        assert_eq!(snapshots.count(), 1);
        let snapshot = snapshots.last();
        assert_eq!(
            (snapshot.locale.as_str(), snapshot.theme.as_str()),
            ("zh-CN", "dark")
        );
        assert_eq!(stored(&dir).lifetime_days, 30);

        for (locale, theme, days) in [
            (Some("fr"), None, None),
            (None, Some("blue"), None),
            (None, None, Some(6)),
            (None, None, Some(31)),
        ] {
            let refused =
                service.set_preferences(locale.map(str::to_owned), theme.map(str::to_owned), days);
            assert_eq!(refused.unwrap_err().code(), "invalid_input");
        }
        // A refused change leaves everything as it was, also a valid part of it.
        let refused = service.set_preferences(Some("en".into()), None, Some(99));
        assert!(refused.is_err());
        assert_eq!(service.locale(), "zh-CN");
        assert_eq!(stored(&dir).locale, "zh-CN");
    }

    #[tokio::test]
    async fn a_new_profile_is_saved_active_with_its_secret_in_the_store() {
        let (service, dir) = offline_service();
        let refused = service.save_profile(input("No secret", None)).await;
        assert_eq!(refused.unwrap_err().code(), "invalid_input");

        let first = service
            .save_profile(input("First", Some(" s1 ")))
            .await
            .unwrap();
        let second = service
            .save_profile(input("Second", Some("s2")))
            .await
            .unwrap();
        assert_eq!((first.as_str(), second.as_str()), ("p1", "p2"));
        let snapshot = service.snapshot();
        assert_eq!(snapshot.active_profile_id.as_deref(), Some("p2"));
        assert_eq!(snapshot.profiles.len(), 2);
        assert_eq!(stored(&dir).next_profile_number, 3);
        let secret = service.store_for("p1").get(&app_secret_key("p1")).unwrap();
        assert_eq!(secret.as_deref(), Some("s1"), "trimmed");

        // An edit without a secret keeps the stored one, and keeps the active profile.
        let edited = ProfileInput {
            id: Some("p1".into()),
            ..input("First, renamed", None)
        };
        service.save_profile(edited).await.unwrap();
        assert_eq!(
            service.profile("p1").unwrap().name,
            "First, renamed".to_owned()
        );
        assert_eq!(service.active_profile().unwrap().id, "p2");
        let unknown = ProfileInput {
            id: Some("p9".into()),
            ..input("Nobody", None)
        };
        assert_eq!(
            service.save_profile(unknown).await.unwrap_err().code(),
            "no_profile"
        );
    }

    #[tokio::test]
    async fn deleting_the_active_profile_activates_the_first_and_drops_its_secrets() {
        let (service, dir) = offline_service();
        service
            .save_profile(input("One", Some("s1")))
            .await
            .unwrap();
        service
            .save_profile(input("Two", Some("s2")))
            .await
            .unwrap();
        service.delete_profile("p2").await.unwrap();
        assert_eq!(service.active_profile().unwrap().id, "p1");
        assert!(service.profile("p2").is_none());
        assert_eq!(
            service.store_for("p2").get(&app_secret_key("p2")).unwrap(),
            None
        );
        assert_eq!(stored(&dir).profiles.len(), 1);
        assert_eq!(
            service.delete_profile("p2").await.unwrap_err().code(),
            "no_profile"
        );
        let demo = service.delete_profile(DEMO_PROFILE_ID).await.unwrap_err();
        assert_eq!(demo.code(), "invalid_input");
    }

    #[tokio::test]
    async fn the_demo_profile_is_active_without_being_persisted() {
        let (service, dir) = offline_service();
        service
            .save_profile(input("Real", Some("s1")))
            .await
            .unwrap();
        assert!(service.demo_app_code().is_err(), "not in demo mode");
        let demo = Demo {
            server: "http://127.0.0.1:9".into(),
            app_code: "demo1234".into(),
            app_secret: "demo secret".into(),
            callback: free_callback(),
            users: Vec::new(),
        };
        service.enable_demo(demo).await.unwrap();
        assert!(service.is_demo());
        assert_eq!(service.active_profile().unwrap().id, DEMO_PROFILE_ID);
        assert_eq!(service.demo_app_code().unwrap(), "demo1234");
        assert_eq!(stored(&dir).active_profile_id.as_deref(), Some("p1"));

        service.switch_profile("p1").await.unwrap();
        assert_eq!(service.active_profile().unwrap().id, "p1");
        let not_active = service.demo_app_code().unwrap_err();
        assert_eq!(not_active.to_string(), "switch to the demo profile first");
        assert_eq!(
            service.switch_profile("p7").await.unwrap_err().code(),
            "no_profile"
        );
    }
}
