//! The state as the window sees it: one [`Snapshot`], built under the lock.

use std::sync::atomic::Ordering;

use super::profiles::{active_id, demo_profile};
use super::{now_ms, AccountService, State};
use crate::secret_store::Backend;
use crate::settings::Settings;
use crate::snapshot::*;

impl AccountService {
    pub fn snapshot(&self) -> Snapshot {
        self.read(|st| {
            // Numbered under the lock: a later revision always shows a later state.
            let revision = self.inner.revision.fetch_add(1, Ordering::SeqCst) + 1;
            build(st, &self.inner.config.system_locale, revision, now_ms())
        })
    }

    pub(super) fn locale_of(&self, settings: &Settings) -> String {
        locale_of(settings, &self.inner.config.system_locale)
    }
}

/// "zh-CN" or "en": the preference, or the OS locale for "system".
fn locale_of(settings: &Settings, system_locale: &str) -> String {
    let chosen = if settings.locale == "system" {
        system_locale
    } else {
        &settings.locale
    };
    if chosen.to_ascii_lowercase().starts_with("zh") {
        "zh-CN".into()
    } else {
        "en".into()
    }
}

fn storage_view(st: &State) -> StorageView {
    let settings = &st.settings;
    if st.demo_active {
        // The demo's secrets live in memory with its emulator: the keyring is not involved.
        return StorageView {
            backend: Backend::Memory,
            available: true,
            file_opt_in: false,
            message: None,
        };
    }
    StorageView {
        backend: if settings.file_store_opt_in {
            Backend::File
        } else {
            Backend::Keyring
        },
        available: settings.file_store_opt_in || st.keyring_problem.is_none(),
        file_opt_in: settings.file_store_opt_in,
        message: st.keyring_problem.clone(),
    }
}

fn build(st: &State, system_locale: &str, revision: u64, now: i64) -> Snapshot {
    let settings = &st.settings;
    // Token times are the server's: shown on this machine's clock, so that countdowns
    // are right however far the local clock is off.
    let server_clock = active_id(st)
        .and_then(|id| st.clients.get(&id))
        .map(|client| client.clock());
    let offset_ms = server_clock.map_or(0, |clock| clock.offset_ms());
    let mut profiles: Vec<ProfileView> = settings
        .profiles
        .iter()
        .map(|p| ProfileView::new(p, true))
        .collect();
    if let Some(demo) = &st.demo {
        profiles.push(ProfileView::new(&demo_profile(demo), true));
    }
    let session = st.session.as_ref().map(|s| SessionView {
        state: s.state,
        user: UserView {
            user_id: s.user.user_id,
            name: s.user.name.clone(),
            groups: s.user.groups.clone(),
            avatar: s.avatar.clone(),
            initials: initials(&s.user.name),
        },
        refresh: Some(s.refresh.view(now, offset_ms)),
        access: s.access.as_ref().map(|a| a.view(now, offset_ms)),
        previous_user: s.previous_user.clone(),
        offline: s.offline.clone(),
        retry: s.retry.clone(),
        next_refresh_at: st.scheduled.as_ref().map(|t| t.due_at),
    });
    Snapshot {
        revision,
        locale: locale_of(settings, system_locale),
        locale_preference: settings.locale.clone(),
        theme: settings.theme.clone(),
        lifetime_days: settings.lifetime_days,
        demo: st.demo.is_some(),
        demo_users: st
            .demo
            .as_ref()
            .map(|d| d.users.clone())
            .unwrap_or_default(),
        profiles,
        active_profile_id: active_id(st),
        storage: storage_view(st),
        sign_in: st.sign_in.as_ref().map(|p| p.view.clone()),
        session,
        // Sorted by key: `Busy` is declared in the order of its keys.
        busy: st.busy.keys().map(|b| b.key()).collect(),
        error: st.error.clone(),
        clock: ClockView {
            offset_ms,
            measured: server_clock.is_some_and(|clock| clock.is_measured()),
        },
        damaged_settings: st.damaged_settings.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;
    use crate::service::{Busy, Demo, DEMO_PROFILE_ID};

    fn profile(id: &str) -> Profile {
        Profile {
            id: id.into(),
            name: format!("profile {id}"),
            server: "https://v.ncuos.com".into(),
            app_code: "app".into(),
            callback: "http://localhost:8123/callback".into(),
            demo: false,
        }
    }

    fn demo() -> Demo {
        Demo {
            server: "http://127.0.0.1:9".into(),
            app_code: "demo-app".into(),
            app_secret: "s3cret".into(),
            callback: "http://localhost:9/callback".into(),
            users: vec![DemoUser {
                id: 1,
                name: "Ann".into(),
            }],
        }
    }

    #[test]
    fn the_locale_follows_the_preference_or_the_system() {
        let mut settings = Settings {
            locale: "system".into(),
            ..Settings::default()
        };
        assert_eq!(locale_of(&settings, "zh-TW"), "zh-CN");
        assert_eq!(locale_of(&settings, "ZH_cn.UTF-8"), "zh-CN");
        assert_eq!(locale_of(&settings, "de-DE"), "en");
        settings.locale = "en".into();
        assert_eq!(locale_of(&settings, "zh-CN"), "en");
        settings.locale = "zh-CN".into();
        assert_eq!(locale_of(&settings, "en-US"), "zh-CN");
    }

    #[test]
    fn storage_shows_the_keyring_the_file_or_the_demo_memory() {
        let mut st = State {
            keyring_problem: Some("no Secret Service".into()),
            ..State::default()
        };
        let keyring = storage_view(&st);
        assert_eq!(keyring.backend, Backend::Keyring);
        assert!(!keyring.available);
        assert_eq!(keyring.message.as_deref(), Some("no Secret Service"));

        st.settings.file_store_opt_in = true;
        let file = storage_view(&st);
        assert_eq!(file.backend, Backend::File);
        assert!(file.available, "the file works without a keyring");
        assert!(file.file_opt_in);

        st.demo = Some(demo());
        st.demo_active = true;
        let memory = storage_view(&st);
        assert_eq!(memory.backend, Backend::Memory);
        assert!(memory.available && !memory.file_opt_in && memory.message.is_none());
    }

    #[test]
    fn the_demo_profile_is_listed_last_and_active_only_while_chosen() {
        let mut st = State::default();
        st.settings.profiles = vec![profile("p1"), profile("p2")];
        st.settings.active_profile_id = Some("p2".into());
        st.demo = Some(demo());
        let snapshot = build(&st, "en-US", 7, 0);
        let ids: Vec<&str> = snapshot.profiles.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["p1", "p2", DEMO_PROFILE_ID]);
        assert!(snapshot.profiles[2].demo);
        assert_eq!(snapshot.active_profile_id.as_deref(), Some("p2"));
        assert!(snapshot.demo);
        assert_eq!(snapshot.demo_users.len(), 1);
        assert_eq!(snapshot.revision, 7);

        st.demo_active = true;
        let snapshot = build(&st, "en-US", 8, 0);
        assert_eq!(snapshot.active_profile_id.as_deref(), Some(DEMO_PROFILE_ID));
    }

    #[test]
    fn busy_keys_are_the_wire_strings_sorted() {
        let mut st = State::default();
        for busy in [Busy::Verify, Busy::SignIn, Busy::Avatar, Busy::Refresh] {
            st.busy.insert(busy, 1);
        }
        let snapshot = build(&st, "en-US", 1, 0);
        assert_eq!(snapshot.busy, ["avatar", "refresh", "signin", "verify"]);
        let json = serde_json::to_value(&snapshot).unwrap();
        assert_eq!(
            json["busy"],
            serde_json::json!(["avatar", "refresh", "signin", "verify"])
        );
    }

    #[test]
    fn revisions_grow_with_every_snapshot() {
        let (service, _dir) = crate::service::test_support::offline_service();
        let first = service.snapshot().revision;
        let second = service.snapshot().revision;
        assert!(second > first);
        assert!(service.snapshot().session.is_none());
        assert_eq!(service.snapshot().clock.offset_ms, 0);
    }
}
