//! The session's own life: restored from the store at start, its avatar, payload edits, the
//! access token handed out, and its end (revoked, or forgotten on this device).

use std::sync::Arc;
use std::time::Duration;

use geniusauth::tokens::TokenType;

use super::busy::BusyGuard;
use super::tokens::current_session;
use super::{now_ms, upgrade, AccountService, Busy, State};
use crate::error::AccountError;
use crate::secret_store::refresh_token_key;
use crate::session::{HeldToken, Session, User};
use crate::snapshot::{CheckView, SessionState};

impl AccountService {
    /// Restores the active profile's stored session: refresh token from the store, identity
    /// from the cache, then a fresh access token from the server.
    pub(super) async fn restore(&self) -> Result<(), AccountError> {
        let Ok(profile) = self.active_profile() else {
            return Ok(());
        };
        let restored = |st: &State| {
            st.session
                .as_ref()
                .is_some_and(|s| s.profile_id == profile.id)
        };
        if self.read(restored) {
            return Ok(());
        }
        let store = self.store_for(&profile.id);
        let key = refresh_token_key(&profile.id);
        let Some(value) = self.with_store(store, move |store| store.get(&key)).await? else {
            return Ok(());
        };
        let Ok(refresh) = HeldToken::new(value, TokenType::Refresh, None) else {
            return Ok(());
        };
        let cached = self.read(|st| st.settings.cached_user(&profile.id).cloned());
        let user = match cached {
            Some(c) => User {
                user_id: c.user_id,
                name: c.name,
                groups: c.groups,
                avatar_url: c.avatar_url,
            },
            None => User {
                user_id: refresh.claims.uid,
                name: String::new(),
                groups: Vec::new(),
                avatar_url: String::new(),
            },
        };
        let avatar = self.inner.avatars.cached(&user.avatar_url);
        let installed = self.change(|st| {
            if st.session.is_some() {
                // A sign-in finished while the store was read: it wins.
                return false;
            }
            st.session = Some(Session {
                profile_id: profile.id.clone(),
                user,
                avatar,
                refresh,
                access: None,
                state: SessionState::SignedIn,
                offline: None,
                retry: None,
                previous_user: None,
            });
            st.stop_timer();
            true
        });
        if !installed {
            return Ok(());
        }
        match self.refresh_access().await {
            Ok(()) => {
                let _ = self.reload_user().await;
            }
            Err(err) if err.is_transient() || err.is_token_invalid() => {}
            Err(err) => self.record_error(&err),
        }
        // With the server's key known, the stored token's signature is checked again.
        let client = self.read(|st| st.clients.get(&profile.id).cloned());
        let key = match &client {
            Some(client) => Some(self.server_key(&profile, client).await),
            None => None,
        };
        self.change(|st| {
            let session = st.session.as_mut().filter(|s| s.profile_id == profile.id);
            if let (Some(key), Some(session)) = (key, session) {
                session.refresh.recheck_signature(key.as_ref());
            }
        });
        Ok(())
    }

    /// Downloads the session user's avatar in the background; "avatar" is busy meanwhile.
    /// A refused or failed download leaves the initials (or the cached image) in place.
    /// Called inside a change, which publishes the busy flag.
    pub(super) fn start_avatar_fetch(&self, st: &mut State, server: String) {
        let Some(url) = st.session.as_ref().map(|s| s.user.avatar_url.clone()) else {
            return;
        };
        if url.is_empty() {
            return;
        }
        let busy = BusyGuard::enter(st, &self.inner, Busy::Avatar);
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let Some(service) = upgrade(&weak) else {
                return;
            };
            let fetched = service.inner.avatars.fetch(&url, &server).await;
            drop(busy);
            service.change(|st| match fetched {
                Ok(data) => {
                    if let Some(session) = st.session.as_mut().filter(|s| s.user.avatar_url == url)
                    {
                        session.avatar = Some(data);
                    }
                }
                // Not worth a banner (initials stand in), but worth a line for whoever
                // debugs it. Avatar URLs are public.
                Err(err) => log::warn!("{err}"),
            });
        });
    }

    /// Replaces the refresh token's payload; the new refresh token replaces the stored one.
    /// Code 31 means the refresh token is dead: the session expires, as after a refresh.
    pub async fn edit_payload(
        &self,
        payload: String,
        new_access: bool,
    ) -> Result<(), AccountError> {
        if payload.is_empty() {
            return Err(AccountError::invalid("the payload must not be empty"));
        }
        super::sign_in::check_payload(Some(&payload))?;
        let target = self.session_refresh_token()?;
        let profile = &target.profile;
        let client = self.client(profile).await?;
        let update = match client
            .edit_payload(&target.token, &payload, new_access)
            .await
        {
            Ok(update) => update,
            Err(err) => {
                let err = AccountError::from(err);
                if err.is_token_invalid() {
                    self.mark_expired(&target.session, &err).await;
                }
                return Err(err);
            }
        };
        let key = self.server_key(profile, &client).await;
        let mut new_refresh =
            HeldToken::new(update.refresh_token, TokenType::Refresh, key.as_ref())?;
        // Same login record, and the server has just accepted the old token: that is a
        // server verification of the record, not a reason to forget the last one.
        new_refresh.last_check = Some(CheckView {
            ok: true,
            at: now_ms(),
            message: None,
        });
        let new_access_token = update
            .access_token
            .map(|a| HeldToken::new(a, TokenType::Access, key.as_ref()))
            .transpose()?;
        let lifetime = new_access_token.as_ref().and_then(HeldToken::lifetime_secs);
        let new_value = new_refresh.value.clone();
        // The session takes the new token at once (a refresh meanwhile must not use the old
        // one); the window hears of it once it is stored and the next refresh is due.
        let applied = self.quietly(|st| {
            let Some(session) = current_session(st, &target.session) else {
                return false;
            };
            session.refresh = new_refresh;
            // The server answered: not offline. A pending retry stays unless a new access
            // token makes it moot.
            session.offline = None;
            if session.state == SessionState::Offline {
                session.state = SessionState::SignedIn;
            }
            if let Some(access) = new_access_token {
                session.access = Some(access);
                session.retry = None;
            }
            if lifetime.is_some() {
                st.backoff = None;
            }
            true
        });
        if !applied {
            return Err(AccountError::NoSession);
        }
        self.store_refresh_token(profile, &new_value).await;
        let due_at = lifetime.map(|lifetime| self.refresh_due_at(lifetime));
        self.change(|st| {
            if let Some(due_at) = due_at {
                self.arm_timer(st, due_at);
            }
        });
        Ok(())
    }

    /// The access token itself (Rust callers only: no command replies with it).
    pub fn access_token(&self) -> Result<String, AccountError> {
        self.session_access_token().map(|(_, token)| token)
    }

    /// Puts the access token on the system clipboard, out of clipboard history, and clears it
    /// after `clipboard_clear_after` if the clipboard still holds it. Returns that delay.
    pub fn copy_access_token(&self) -> Result<Duration, AccountError> {
        let token = self.access_token()?;
        self.inner
            .clipboard
            .copy_secret(token)
            .map_err(|e| AccountError::Clipboard(e.0))
    }

    /// Revokes the refresh token on the server (and so every access token from it), then
    /// forgets it. A token the server already considers invalid counts as revoked.
    pub async fn revoke_session(&self) -> Result<(), AccountError> {
        let profile = self.active_profile()?;
        let refresh = self
            .read(|st| {
                st.session
                    .as_ref()
                    .filter(|s| s.profile_id == profile.id)
                    .map(|s| s.refresh.value.clone())
            })
            .ok_or(AccountError::NoSession)?;
        let client = self.client(&profile).await?;
        match client.revoke_refresh_token(&refresh).await {
            Ok(()) => {}
            Err(err) if err.is_token_invalid() => {}
            Err(err) => return Err(err.into()),
        }
        self.forget_session().await
    }

    /// Forgets the session on this device only; the token stays valid on the server.
    /// The session goes from memory even when the stored copy cannot be deleted (the error
    /// then says so).
    pub async fn forget_session(&self) -> Result<(), AccountError> {
        let profile_id = self
            .change(|st| {
                let profile_id = st.session.as_ref()?.profile_id.clone();
                st.end_session();
                Some(profile_id)
            })
            .ok_or(AccountError::NoSession)?;
        let store = self.store_for(&profile_id);
        let key = refresh_token_key(&profile_id);
        self.with_store(store, move |store| store.delete(&key))
            .await
    }
}

impl State {
    /// No session any more, and nothing scheduled for it.
    pub(super) fn end_session(&mut self) {
        self.session = None;
        self.stop_timer();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::test_support::{config, service_with, Emulated, Snapshots};

    fn stored_refresh(emulated: &Emulated) -> Option<String> {
        emulated
            .keyring
            .value(&refresh_token_key(&emulated.profile_id))
    }

    #[tokio::test]
    async fn the_next_start_restores_the_session_from_the_store() {
        let emulated = Emulated::start().await;
        emulated.sign_in().await;
        let name = emulated.service.snapshot().session.unwrap().user.name;
        // The app again, on the same files and keyring.
        let again = service_with(
            &emulated.dir,
            config(&emulated.dir),
            emulated.keyring.clone(),
        );
        let snapshots = Snapshots::attach(&again);
        again.start().await;
        let session = again.snapshot().session.expect("restored");
        assert_eq!(session.state, SessionState::SignedIn);
        assert_eq!(session.user.user_id, emulated.uid());
        assert_eq!(session.user.name, name);
        assert!(session.access.is_some(), "a fresh access token");
        assert!(again.refresh_scheduled());
        // The window saw the restored session before the refresh finished.
        let first_with_session = snapshots.all().into_iter().find_map(|s| s.session).unwrap();
        assert!(first_with_session.access.is_none());
    }

    #[tokio::test]
    async fn a_payload_edit_replaces_the_stored_refresh_token() {
        let emulated = Emulated::start().await;
        emulated.sign_in().await;
        let service = &emulated.service;
        let before = stored_refresh(&emulated).unwrap();
        assert_eq!(
            service
                .edit_payload(String::new(), false)
                .await
                .unwrap_err()
                .code(),
            "invalid_input"
        );
        service.edit_payload("桌面".into(), true).await.unwrap();
        let session = service.snapshot().session.unwrap();
        assert_eq!(session.refresh.unwrap().payload, "桌面");
        let after = stored_refresh(&emulated).unwrap();
        assert_ne!(after, before);
        let held = service.read(|st| st.session.as_ref().unwrap().refresh.value.clone());
        assert_eq!(after, held);
        assert!(service.refresh_scheduled());
    }

    #[tokio::test]
    async fn forgetting_ends_the_session_here_and_revoking_also_on_the_server() {
        let emulated = Emulated::start().await;
        emulated.sign_in().await;
        let service = &emulated.service;
        service.forget_session().await.unwrap();
        assert!(service.snapshot().session.is_none());
        assert!(!service.refresh_scheduled());
        assert_eq!(stored_refresh(&emulated), None);
        assert!(matches!(
            service.forget_session().await,
            Err(AccountError::NoSession)
        ));

        emulated.sign_in().await;
        let token = service.read(|st| st.session.as_ref().unwrap().refresh.value.clone());
        service.revoke_session().await.unwrap();
        assert!(service.snapshot().session.is_none());
        assert_eq!(stored_refresh(&emulated), None);
        let (_, client) = service.active_client().await.unwrap();
        let refused = client.refresh_access_token(&token).await.unwrap_err();
        assert!(refused.is_token_invalid(), "{refused}");
    }
}
