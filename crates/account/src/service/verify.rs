//! Calls made with the access token: the server's verdict on it, and the user's current
//! identity. An access token the server calls invalid gets one refresh and a second try.

use super::{now_ms, AccountService};
use crate::error::AccountError;
use crate::messages;
use crate::profile::Profile;
use crate::session::User;
use crate::settings::CachedUser;
use crate::snapshot::{CheckView, SessionState};

impl AccountService {
    /// Whether an action that needs the access token should refresh first: there is none, or
    /// a failed refresh waits for its retry (the action then doubles as the manual retry).
    fn needs_refresh_first(&self) -> bool {
        self.read(|st| {
            st.session.as_ref().is_some_and(|s| {
                s.access.is_none() || s.state == SessionState::Offline || s.retry.is_some()
            })
        })
    }

    /// Asks the server whether the access token is valid (a round trip, unlike the local check).
    /// An access token the server calls invalid (code 31: revoked, or expired by the server's
    /// clock) is replaced by one refresh, shared with any other in flight, and checked again:
    /// the session is fine as long as that works, and expired when the refresh says 31 too.
    pub async fn verify_access(&self) -> Result<(), AccountError> {
        if self.needs_refresh_first() {
            self.refresh_access().await?;
        }
        match self.verify_once().await {
            Err(err) if err.is_token_invalid() => {
                self.refresh_after_31(err).await?;
                self.verify_once().await
            }
            other => other,
        }
    }

    async fn verify_once(&self) -> Result<(), AccountError> {
        let (profile, access) = self.session_access_token()?;
        let client = self.client(&profile).await?;
        let result = client.verify_access_token(&access).await;
        self.change(|st| {
            let check = match &result {
                Ok(info) => CheckView {
                    ok: true,
                    at: now_ms(),
                    message: Some(format!("uid {}", info.uid)),
                },
                Err(err) => CheckView {
                    ok: false,
                    at: now_ms(),
                    message: Some(messages::explain(
                        &AccountError::GeniusAuth(err.clone()),
                        &self.locale_of(&st.settings),
                    )),
                },
            };
            // Kept on the token it is about: a refresh meanwhile brought another one.
            if let Some(token) = st
                .session
                .as_mut()
                .and_then(|s| s.access.as_mut())
                .filter(|t| t.value == access)
            {
                token.last_check = Some(check);
            }
        });
        result.map(|_| ()).map_err(Into::into)
    }

    /// Fetches the user's current name, groups and avatar. Code 31 is handled like in
    /// [`AccountService::verify_access`]: one refresh, then once more.
    pub async fn reload_user(&self) -> Result<(), AccountError> {
        if self.needs_refresh_first() {
            self.refresh_access().await?;
        }
        let (profile, info) = match self.user_info_once().await {
            Err(err) if err.is_token_invalid() => {
                self.refresh_after_31(err).await?;
                self.user_info_once().await?
            }
            other => other?,
        };
        let user = User {
            user_id: info.user_id,
            name: info.name,
            groups: info.groups,
            avatar_url: info.avatar_url,
        };
        let cached = CachedUser {
            profile_id: profile.id.clone(),
            user_id: user.user_id,
            name: user.name.clone(),
            groups: user.groups.clone(),
            avatar_url: user.avatar_url.clone(),
        };
        let avatar = self.inner.avatars.cached(&user.avatar_url);
        self.change(|st| {
            if let Some(session) = st.session.as_mut().filter(|s| s.profile_id == profile.id) {
                if session.user.avatar_url != user.avatar_url {
                    session.avatar = avatar;
                }
                session.user = user;
            }
            if profile.id != super::DEMO_PROFILE_ID {
                self.save_settings(st, |s| {
                    s.set_cached_user(cached);
                    Ok(())
                })?;
            }
            self.start_avatar_fetch(st, profile.server.clone());
            Ok(())
        })
    }

    /// The refresh that follows a code 31 on an access-token call. When another caller's
    /// refresh has meanwhile found the session dead, this caller's answer is that same 31.
    async fn refresh_after_31(&self, access_refused: AccountError) -> Result<(), AccountError> {
        match self.refresh_access().await {
            Err(AccountError::NoSession) if self.session_expired() => Err(access_refused),
            other => other,
        }
    }

    fn session_expired(&self) -> bool {
        self.read(|st| {
            st.session
                .as_ref()
                .is_some_and(|s| s.state == SessionState::Expired)
        })
    }

    async fn user_info_once(&self) -> Result<(Profile, geniusauth::model::UserInfo), AccountError> {
        let (profile, access) = self.session_access_token()?;
        let client = self.client(&profile).await?;
        let info = client.user_info(&access).await?;
        Ok((profile, info))
    }
}

#[cfg(test)]
mod tests {
    use crate::error::AccountError;
    use crate::service::test_support::{Emulated, Snapshots};
    use crate::snapshot::SessionState;

    #[tokio::test]
    async fn a_valid_access_token_is_confirmed_by_the_server() {
        let emulated = Emulated::start().await;
        emulated.sign_in().await;
        let snapshots = Snapshots::attach(&emulated.service);
        emulated.service.verify_access().await.unwrap();
        let check = snapshots
            .last()
            .session
            .unwrap()
            .access
            .unwrap()
            .last_check
            .expect("checked");
        assert!(check.ok);
        assert_eq!(check.message, Some(format!("uid {}", emulated.uid())));
        assert_eq!(snapshots.count(), 1);
    }

    #[tokio::test]
    async fn a_revoked_session_is_expired_after_the_one_refresh_and_answers_31() {
        let emulated = Emulated::start().await;
        emulated.sign_in().await;
        let service = &emulated.service;
        let token = service.read(|st| st.session.as_ref().unwrap().refresh.value.clone());
        let (_, client) = service.active_client().await.unwrap();
        client.revoke_refresh_token(&token).await.unwrap();

        let err = service.verify_access().await.unwrap_err();
        assert!(err.is_token_invalid(), "{err}");
        assert!(service.session_expired());
        assert_eq!(
            service.snapshot().session.unwrap().state,
            SessionState::Expired
        );
        assert!(matches!(
            service.reload_user().await,
            Err(AccountError::NoSession)
        ));
    }

    #[tokio::test]
    async fn reloading_the_user_updates_the_session_and_the_cache() {
        let emulated = Emulated::start().await;
        emulated.sign_in().await;
        let service = &emulated.service;
        // What an older start remembered about the user.
        service.quietly(|st| st.session.as_mut().unwrap().user.name = "old name".into());
        service.reload_user().await.unwrap();
        let name = service.snapshot().session.unwrap().user.name;
        assert_ne!(name, "old name");
        assert_eq!(name, emulated.info.users[0].name);
        let cached = service.read(|st| st.settings.cached_user(&emulated.profile_id).cloned());
        assert_eq!(cached.unwrap().name, name);
    }
}
