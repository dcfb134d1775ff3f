//! Signing in: through the browser and the loopback callback, with a pasted login token, or
//! the demo's shortcut; and installing the session that results.

use std::sync::Arc;

use geniusauth::callback::{login_token_check, parse_callback, CallbackListener, Pages};
use geniusauth::tokens::{self, TokenType};
use geniusauth::{Grant, LoginOptions};

use super::{now_ms, upgrade, AccountService, Busy, PendingSignIn, State, DEMO_PROFILE_ID};
use crate::error::AccountError;
use crate::profile::Profile;
use crate::session::{HeldToken, Session, User};
use crate::settings::CachedUser;
use crate::snapshot::{PreviousUserView, SessionState, SignInView};

impl AccountService {
    /// Checks the profile with the server, starts listening on its callback and returns the
    /// URL to open in the browser.
    pub async fn sign_in_browser(&self, payload: Option<String>) -> Result<String, AccountError> {
        let profile = self.active_profile()?;
        check_payload(payload.as_deref())?;
        let address = parse_callback(&profile.callback).map_err(AccountError::from_sign_in)?;
        let client = self.client(&profile).await?;
        // One cheap unsigned call before any browser opens (the server rate-limits it): the
        // appCode exists (code 3 otherwise), its registration sends the browser where we
        // listen, and the reply's Date measures the server's clock for the token check below.
        let app = client.app_info().await?;
        let registered = app.host.trim();
        if !registered.is_empty() && !registered.eq_ignore_ascii_case(&address.host_and_port()) {
            return Err(AccountError::SignInCallbackMismatch {
                registered: registered.to_owned(),
                callback: address.host_and_port(),
            });
        }
        let key = self.server_key(&profile, &client).await;
        // Earlier listeners must be gone before the port is bound again: abort, then wait.
        let stopping = self.quietly(|st| {
            st.stop_sign_in();
            std::mem::take(&mut st.stopping_sign_ins)
        });
        for task in stopping {
            let _ = task.await;
        }
        let timeout = self.inner.config.sign_in_timeout;
        let pages = Pages {
            product: "Genius Account",
        };
        let listener = CallbackListener::bind(&address, pages)
            .await
            .map_err(AccountError::from_sign_in)?;
        let check = login_token_check(&client, key);
        let url = client.login_url().to_string();
        let weak = Arc::downgrade(&self.inner);
        let view = SignInView {
            method: "browser",
            url: url.clone(),
            expires_at: now_ms() + timeout.as_millis() as i64,
            app_name: app.name,
        };
        // Spawned under the lock, so the task's own `sign_in = None` comes after this entry.
        self.change(|st| {
            let task = tokio::spawn(async move {
                let result = listener
                    .wait_for_token(timeout, check)
                    .await
                    .map_err(AccountError::from_sign_in);
                let Some(service) = upgrade(&weak) else {
                    return;
                };
                match result {
                    Ok(token) => {
                        service.quietly(|st| st.sign_in = None);
                        let signed_in = service.sign_in_with_token(token, payload);
                        let _ = service.run(Busy::SignIn, signed_in).await;
                    }
                    Err(err) => service.change(|st| {
                        st.sign_in = None;
                        st.error = Some(service.error_view(&st.settings, &err));
                    }),
                }
            });
            st.sign_in = Some(PendingSignIn { view, task });
        });
        Ok(url)
    }

    /// Stops a pending browser sign-in. An intentional cancel sets no error. The port is
    /// released as soon as the runtime has dropped the listener task, which a new sign-in
    /// waits for.
    pub fn cancel_sign_in(&self) {
        self.change(State::stop_sign_in);
    }

    /// Signs in with a login token from the browser callback, a paste, or the demo shortcut.
    pub async fn sign_in_with_token(
        &self,
        token: String,
        payload: Option<String>,
    ) -> Result<(), AccountError> {
        let profile = self.active_profile()?;
        let token = token.trim().to_owned();
        if token.is_empty() {
            return Err(AccountError::invalid("the login token is empty"));
        }
        check_payload(payload.as_deref())?;
        let claims = tokens::decode(&token)
            .map_err(|_| AccountError::invalid("this is not a GeniusAuth login token"))?
            .claims;
        if claims.token_type != TokenType::Login {
            return Err(AccountError::invalid(format!(
                "this is a {} token; a login token is needed",
                claims.token_type.as_str()
            )));
        }
        if !claims.app_code.is_empty() && claims.app_code != profile.app_code {
            return Err(AccountError::SignInWrongApp {
                expected: profile.app_code,
                found: claims.app_code,
            });
        }
        let client = self.client(&profile).await?;
        // Judged by the server's clock once a reply has told it; until then the server decides.
        if client.clock().is_measured() && claims.is_expired_at(client.clock().now()) {
            return Err(AccountError::invalid(
                "the login token has expired (they last 5 minutes): sign in again",
            ));
        }
        let days = self.read(|st| st.settings.lifetime_days);
        let options = LoginOptions {
            grant: Grant::RefreshToken {
                valid: Some(u64::from(days) * 86_400),
            },
            payload: payload.filter(|p| !p.is_empty()),
            client_ip: None,
        };
        let login = client.login_verify(&token, &options).await?;
        let key = self.server_key(&profile, &client).await;
        let refresh = HeldToken::new(login.refresh_token, TokenType::Refresh, key.as_ref())?;
        let access = HeldToken::new(login.access_token, TokenType::Access, key.as_ref())?;
        let user = User {
            user_id: login.user_id,
            name: login.name,
            groups: login.groups,
            avatar_url: login.avatar_url,
        };
        log::info!(
            "signed in: user {} on profile {} (login record {})",
            user.user_id,
            profile.id,
            refresh.claims.id
        );
        self.store_refresh_token(&profile, &refresh.value).await;
        self.install_session(&profile, user, refresh, Some(access));
        Ok(())
    }

    /// Makes a fresh sign-in the session: remembers who it is, schedules the refresh and
    /// fetches the avatar, in one change.
    fn install_session(
        &self,
        profile: &Profile,
        user: User,
        refresh: HeldToken,
        access: Option<HeldToken>,
    ) {
        let due_at = access
            .as_ref()
            .and_then(HeldToken::lifetime_secs)
            .map(|lifetime| self.refresh_due_at(lifetime));
        let cached = CachedUser {
            profile_id: profile.id.clone(),
            user_id: user.user_id,
            name: user.name.clone(),
            groups: user.groups.clone(),
            avatar_url: user.avatar_url.clone(),
        };
        let avatar = self.inner.avatars.cached(&user.avatar_url);
        self.change(|st| {
            // Someone else signed in on this profile last: say so, it may be a mistake (or a
            // page that raced a login token of its own into the callback).
            let previous_user = st
                .settings
                .cached_user(&profile.id)
                .filter(|c| c.user_id != user.user_id)
                .map(|c| PreviousUserView {
                    user_id: c.user_id,
                    name: c.name.clone(),
                });
            st.session = Some(Session {
                profile_id: profile.id.clone(),
                user,
                avatar,
                refresh,
                access,
                state: SessionState::SignedIn,
                offline: None,
                retry: None,
                previous_user,
            });
            st.stop_timer();
            // Signed in some other way: a browser sign-in still waiting is moot.
            st.stop_sign_in();
            if profile.id != DEMO_PROFILE_ID {
                let _ = self.save_settings(st, |s| {
                    s.set_cached_user(cached);
                    Ok(())
                });
            }
            if let Some(due_at) = due_at {
                self.arm_timer(st, due_at);
            }
            self.start_avatar_fetch(st, profile.server.clone());
        });
    }
}

impl State {
    /// Aborts the pending browser sign-in, if any, and keeps its task until it is known to be
    /// gone (it owns the listening socket).
    pub(super) fn stop_sign_in(&mut self) {
        self.stopping_sign_ins.retain(|task| !task.is_finished());
        if let Some(pending) = self.sign_in.take() {
            pending.task.abort();
            self.stopping_sign_ins.push(pending.task);
        }
    }
}

pub(super) fn check_payload(payload: Option<&str>) -> Result<(), AccountError> {
    match payload {
        Some(p) if p.chars().count() > geniusauth::model::MAX_PAYLOAD_CHARS => {
            Err(AccountError::invalid(format!(
                "the payload has {} characters; at most 32 are allowed",
                p.chars().count()
            )))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::profile::ProfileInput;
    use crate::secret_store::refresh_token_key;
    use crate::service::test_support::{free_callback, Emulated, Snapshots};

    #[test]
    fn payloads_are_at_most_32_characters() {
        assert!(check_payload(None).is_ok());
        assert!(check_payload(Some(&"字".repeat(32))).is_ok());
        let long = check_payload(Some(&"字".repeat(33))).unwrap_err();
        assert_eq!(
            long.to_string(),
            "the payload has 33 characters; at most 32 are allowed"
        );
    }

    #[tokio::test]
    async fn a_pasted_login_token_signs_in_stores_the_token_and_schedules_the_refresh() {
        let emulated = Emulated::start().await;
        let service = &emulated.service;
        let snapshots = Snapshots::attach(service);
        for (token, why) in [
            ("  ", "the login token is empty"),
            ("not-a-jwt", "this is not a GeniusAuth login token"),
        ] {
            let err = service
                .sign_in_with_token(token.into(), None)
                .await
                .unwrap_err();
            assert_eq!(err.to_string(), why);
        }
        assert_eq!(snapshots.count(), 0, "a refused token changes nothing");

        emulated.sign_in().await;
        let snapshot = service.snapshot();
        let session = snapshot.session.expect("signed in");
        assert_eq!(session.state, SessionState::SignedIn);
        assert_eq!(session.user.user_id, emulated.uid());
        assert!(session.next_refresh_at.is_some());
        assert!(service.refresh_scheduled());
        let stored = emulated
            .keyring
            .value(&refresh_token_key(&emulated.profile_id))
            .expect("refresh token stored");
        let held = service.read(|st| st.session.as_ref().unwrap().refresh.value.clone());
        assert_eq!(stored, held);
        let cached = service.read(|st| st.settings.cached_user(&emulated.profile_id).cloned());
        assert_eq!(cached.unwrap().user_id, emulated.uid());

        // A refresh token is no login token.
        let err = service.sign_in_with_token(held, None).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "this is a Refresh token; a login token is needed"
        );
    }

    /// Registers an app whose callback is a free `localhost` port and makes it the profile.
    async fn browser_profile(emulated: &Emulated) -> (String, String) {
        let callback = free_callback();
        let response = reqwest::Client::new()
            .post(format!("{}/__emulator/apps", emulated.info.url))
            .header("content-type", "application/json")
            .body(serde_json::json!({"name": "Desktop", "callback": callback}).to_string())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        let app: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        let app_code = app["appCode"].as_str().unwrap().to_owned();
        emulated
            .service
            .save_profile(ProfileInput {
                id: None,
                name: "Browser".into(),
                server: emulated.info.url.clone(),
                app_code: app_code.clone(),
                callback: callback.clone(),
                app_secret: Some(app["appSecret"].as_str().unwrap().to_owned()),
            })
            .await
            .unwrap();
        (app_code, callback)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_browser_comes_back_with_a_login_token_and_the_session_starts() {
        let emulated = Emulated::start().await;
        let service = &emulated.service;
        let (app_code, callback) = browser_profile(&emulated).await;
        let url = service.sign_in_browser(None).await.unwrap();
        assert!(url.ends_with(&format!("/?appCode={app_code}")), "{url}");
        let pending = service.snapshot().sign_in.expect("pending");
        assert_eq!(pending.app_name, "Desktop");

        // Cancelled and started again: the port is bound anew.
        service.cancel_sign_in();
        assert!(service.snapshot().sign_in.is_none());
        service.sign_in_browser(None).await.unwrap();

        let token = emulated
            .emulator
            .login_token(&app_code, emulated.uid())
            .unwrap();
        let page = reqwest::Client::new()
            .get(format!("{callback}?token={token}"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while service.snapshot().session.is_none() {
            assert!(std::time::Instant::now() < deadline, "no session");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let snapshot = service.snapshot();
        assert!(snapshot.sign_in.is_none());
        assert_eq!(snapshot.session.unwrap().user.user_id, emulated.uid());
    }
}
