//! The refresh token's work: new access tokens (one server call however many ask), retries
//! with backoff after failures, and the end of a session whose refresh token is dead.

use std::time::Duration;

use geniusauth::tokens::TokenType;

use super::{now_ms, AccountService, State};
use crate::error::AccountError;
use crate::messages;
use crate::profile::Profile;
use crate::secret_store::refresh_token_key;
use crate::session::{HeldToken, Session};
use crate::snapshot::{CheckView, OfflineView, RetryView, SessionState};

/// Retry delays after transient failures: 2 s doubling up to a minute.
const BACKOFF_START: Duration = Duration::from_secs(2);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// Which session a call was made for: the profile and the login record. A payload edit
/// keeps the record (the new refresh token has the same id); a new sign-in makes a new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SessionId {
    profile_id: String,
    record_id: u64,
}

impl SessionId {
    fn of(session: &Session) -> Self {
        SessionId {
            profile_id: session.profile_id.clone(),
            record_id: session.refresh.claims.id,
        }
    }
}

/// The session a call was made for, if it is still the current one.
pub(super) fn current_session<'a>(st: &'a mut State, which: &SessionId) -> Option<&'a mut Session> {
    st.session.as_mut().filter(|s| SessionId::of(s) == *which)
}

pub(super) struct RefreshTarget {
    pub(super) profile: Profile,
    pub(super) session: SessionId,
    pub(super) token: String,
}

/// The next retry's delay after `last`: 2 s, then doubling up to a minute.
fn next_backoff(last: Option<Duration>) -> Duration {
    last.map(|d| (d * 2).min(BACKOFF_MAX))
        .unwrap_or(BACKOFF_START)
}

impl AccountService {
    /// Gets a new access token. Concurrent callers share one server call: whoever arrives
    /// while a refresh is in flight gets that refresh's outcome.
    pub async fn refresh_access(&self) -> Result<(), AccountError> {
        let generation = self.read(|st| st.refresh_generation);
        let gate = self.inner.refresh_gate.lock().await;
        let served = self.read(|st| {
            (st.refresh_generation != generation).then(|| match &st.last_refresh_error {
                None => Ok(()),
                Some(err) => Err(err.clone()),
            })
        });
        if let Some(outcome) = served {
            return outcome;
        }
        let result = match self.session_refresh_token() {
            Ok(target) => {
                let result = self.refresh_once(&target).await;
                self.after_refresh(&target, &result).await;
                result
            }
            Err(err) => Err(err),
        };
        self.change(|st| {
            st.refresh_generation += 1;
            st.last_refresh_error = result.as_ref().err().cloned();
            // Released before the window hears: whoever sees the outcome and refreshes again
            // gets a refresh of its own.
            drop(gate);
        });
        result
    }

    async fn refresh_once(&self, target: &RefreshTarget) -> Result<(), AccountError> {
        let client = self.client(&target.profile).await?;
        let result = client.refresh_access_token(&target.token).await?;
        let key = self.server_key(&target.profile, &client).await;
        let access = HeldToken::new(result.access_token, TokenType::Access, key.as_ref())?;
        let due_at = access
            .lifetime_secs()
            .map(|lifetime| self.refresh_due_at(lifetime));
        // Published by `refresh_access` when the call is done.
        self.quietly(|st| {
            let Some(session) = current_session(st, &target.session) else {
                // Signed out, switched or signed in anew meanwhile: this answer is stale.
                return;
            };
            session.access = Some(access);
            if key.is_some() {
                session.refresh.recheck_signature(key.as_ref());
            }
            session.refresh.last_check = Some(CheckView {
                ok: true,
                at: now_ms(),
                message: None,
            });
            session.state = SessionState::SignedIn;
            session.offline = None;
            session.retry = None;
            st.backoff = None;
            if let Some(due_at) = due_at {
                self.arm_timer(st, due_at);
            }
        });
        Ok(())
    }

    /// What a refresh outcome means for the session: 31 ends it; any other failure keeps it
    /// and tries again with backoff (a rate limit, a clock problem, a keyring that timed out
    /// or a server error may all pass, and giving up would let the access token die unseen).
    /// The caller notifies.
    async fn after_refresh(&self, target: &RefreshTarget, result: &Result<(), AccountError>) {
        let Err(err) = result else {
            return;
        };
        if err.is_token_invalid() {
            self.mark_expired(&target.session, err).await;
            return;
        }
        if err.is_unauthorized() {
            // The app secret may have been corrected meanwhile: the retry reads it again.
            self.quietly(|st| st.clients.remove(&target.profile.id));
        }
        self.retry_later(&target.session, err);
    }

    /// Keeps the session and schedules the next attempt, 2 s doubling up to a minute. A
    /// transient failure also shows the session offline; any other leaves it signed in (the
    /// server answered, or the trouble is on this machine) with the error in `retry`.
    fn retry_later(&self, which: &SessionId, err: &AccountError) {
        self.quietly(|st| {
            let message = messages::explain(err, &self.locale_of(&st.settings));
            let delay = next_backoff(st.backoff);
            let Some(session) = current_session(st, which) else {
                return;
            };
            // Another call found the refresh token dead meanwhile: nothing is worth retrying.
            if session.state == SessionState::Expired {
                return;
            }
            let now = now_ms();
            let next_retry_at = now + delay.as_millis() as i64;
            if err.is_transient() {
                let since = session.offline.as_ref().map_or(now, |o| o.since);
                session.state = SessionState::Offline;
                session.offline = Some(OfflineView {
                    since,
                    next_retry_at,
                    message: message.clone(),
                });
            } else {
                session.state = SessionState::SignedIn;
                session.offline = None;
            }
            let previous = session.retry.as_ref();
            session.retry = Some(RetryView {
                since: previous.map_or(now, |r| r.since),
                next_retry_at,
                attempts: previous.map_or(0, |r| r.attempts) + 1,
                code: err.code().to_owned(),
                message,
            });
            st.backoff = Some(delay);
            // The timer's due time is the one shown as `nextRetryAt`.
            self.arm_timer(st, next_retry_at);
        });
    }

    /// Code 31: the refresh token is dead. The session shows as expired, nothing retries it,
    /// and the stored copy goes so that the next start does not try it again.
    pub(super) async fn mark_expired(&self, which: &SessionId, err: &AccountError) {
        let expired = self.change(|st| {
            let message = messages::explain(err, &self.locale_of(&st.settings));
            let session = current_session(st, which)?;
            session.state = SessionState::Expired;
            session.offline = None;
            session.retry = None;
            session.access = None;
            session.refresh.last_check = Some(CheckView {
                ok: false,
                at: now_ms(),
                message: Some(message),
            });
            let profile_id = session.profile_id.clone();
            log::info!(
                "session of user {} on profile {profile_id} ended: {}",
                session.user.user_id,
                err.code()
            );
            st.stop_timer();
            Some(profile_id)
        });
        let Some(profile_id) = expired else {
            return;
        };
        let store = self.store_for(&profile_id);
        let key = refresh_token_key(&profile_id);
        if let Err(err) = self
            .with_store(store, move |store| store.delete(&key))
            .await
        {
            self.record_error(&err);
        }
    }

    /// The active profile's live session, as a refresh needs it.
    pub(super) fn session_refresh_token(&self) -> Result<RefreshTarget, AccountError> {
        let profile = self.active_profile()?;
        self.read(|st| {
            let session = st
                .session
                .as_ref()
                .filter(|s| s.profile_id == profile.id && s.state != SessionState::Expired)
                .ok_or(AccountError::NoSession)?;
            Ok(RefreshTarget {
                session: SessionId::of(session),
                token: session.refresh.value.clone(),
                profile,
            })
        })
    }

    pub(super) fn session_access_token(&self) -> Result<(Profile, String), AccountError> {
        let profile = self.active_profile()?;
        let access = self.read(|st| {
            let session = st.session.as_ref().ok_or(AccountError::NoSession)?;
            let access = session.access.as_ref().ok_or(AccountError::NoSession)?;
            Ok::<_, AccountError>(access.value.clone())
        })?;
        Ok((profile, access))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret_store::refresh_token_key;
    use crate::service::test_support::{offline_service, Emulated, Snapshots};

    #[test]
    fn backoff_doubles_from_two_seconds_to_a_minute() {
        let mut delays = Vec::new();
        let mut last = None;
        for _ in 0..8 {
            let next = next_backoff(last);
            delays.push(next.as_secs());
            last = Some(next);
        }
        assert_eq!(delays, [2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[tokio::test]
    async fn no_session_no_refresh() {
        let (service, _dir) = offline_service();
        assert!(matches!(
            service.refresh_access().await,
            Err(AccountError::NoProfile)
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_refreshes_share_one_call_and_one_outcome() {
        let emulated = Emulated::start().await;
        emulated.sign_in().await;
        let service = &emulated.service;
        let before = service.read(|st| st.refresh_generation);
        let (a, b, c) = tokio::join!(
            service.refresh_access(),
            service.refresh_access(),
            service.refresh_access()
        );
        assert!(a.is_ok() && b.is_ok() && c.is_ok());
        assert_eq!(service.read(|st| st.refresh_generation), before + 1);
        assert_eq!(
            emulated.requests("POST /api/v1/app/token/refresh/").await,
            1
        );
        assert!(service.refresh_scheduled());
    }

    #[tokio::test]
    async fn a_server_that_is_gone_keeps_the_session_offline_with_backoff() {
        let emulated = Emulated::start().await;
        emulated.sign_in().await;
        let service = &emulated.service;
        let snapshots = Snapshots::attach(service);
        emulated.emulator.shutdown().await;
        for attempt in 1..=2 {
            let err = service.refresh_access().await.unwrap_err();
            assert!(err.is_transient(), "{err}");
            let session = service.snapshot().session.unwrap();
            assert_eq!(session.state, SessionState::Offline);
            let retry = session.retry.unwrap();
            assert_eq!(retry.attempts, attempt);
            assert_eq!(session.next_refresh_at, Some(retry.next_retry_at));
        }
        assert_eq!(service.read(|st| st.backoff), Some(Duration::from_secs(4)));
        assert!(snapshots.count() >= 2);
        assert!(snapshots.last().session.unwrap().offline.is_some());
    }

    #[tokio::test]
    async fn a_revoked_refresh_token_expires_the_session_and_leaves_the_store() {
        let emulated = Emulated::start().await;
        emulated.sign_in().await;
        let service = &emulated.service;
        let token = service.read(|st| st.session.as_ref().unwrap().refresh.value.clone());
        let (_, client) = service.active_client().await.unwrap();
        client.revoke_refresh_token(&token).await.unwrap();

        let err = service.refresh_access().await.unwrap_err();
        assert!(err.is_token_invalid(), "{err}");
        let session = service.snapshot().session.unwrap();
        assert_eq!(session.state, SessionState::Expired);
        assert!(session.access.is_none());
        assert!(!service.refresh_scheduled());
        let key = refresh_token_key(&emulated.profile_id);
        assert_eq!(emulated.keyring.value(&key), None);
        // Nothing retries a dead token.
        assert!(matches!(
            service.refresh_access().await,
            Err(AccountError::NoSession)
        ));
    }
}
