//! When refreshes happen on their own: one timer before the access token expires (or when a
//! retry is due), and a check right after the machine wakes from sleep.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::task::JoinHandle;

use super::{now_ms, upgrade, AccountService, State};
use crate::error::AccountError;
use crate::snapshot::SessionState;

/// How often the sleep detector compares the wall clock with the monotonic clock.
const WAKE_CHECK_EVERY: Duration = Duration::from_secs(15);

pub(super) struct Timer {
    id: u64,
    /// Wall-clock time it fires, for the snapshot.
    pub(super) due_at: i64,
    task: JoinHandle<()>,
}

impl State {
    /// Stops the pending refresh timer and forgets any backoff.
    pub(super) fn stop_timer(&mut self) {
        self.backoff = None;
        if let Some(timer) = self.scheduled.take() {
            timer.task.abort();
        }
    }
}

/// When to renew an access token that lives `lifetime_secs` from now: `lead` before it
/// expires, and not sooner than in a second.
fn refresh_delay(lifetime_secs: i64, lead: Duration) -> Duration {
    let lifetime = Duration::from_secs(lifetime_secs.max(0) as u64);
    lifetime.saturating_sub(lead).max(Duration::from_secs(1))
}

impl AccountService {
    /// The wall-clock time (Unix ms) to renew an access token that lives `lifetime_secs`.
    pub(super) fn refresh_due_at(&self, lifetime_secs: i64) -> i64 {
        let delay = refresh_delay(lifetime_secs, self.inner.config.refresh_lead);
        now_ms() + delay.as_millis() as i64
    }

    /// Arms the one timer: it fires once, at `due_at` (Unix ms), and refreshes (no polling).
    /// A new timer replaces the pending one; without a session there is nothing to arm.
    /// Called under the lock, so the timer cannot look for its own entry before it is there.
    pub(super) fn arm_timer(&self, st: &mut State, due_at: i64) {
        if st.session.is_none() {
            return;
        }
        let delay = Duration::from_millis(due_at.saturating_sub(now_ms()).max(0) as u64);
        let weak = Arc::downgrade(&self.inner);
        st.next_timer_id += 1;
        let id = st.next_timer_id;
        let task = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let Some(service) = upgrade(&weak) else {
                return;
            };
            let still_mine = service.quietly(|st| {
                if st.scheduled.as_ref().is_none_or(|timer| timer.id != id) {
                    // Replaced while firing: the newer timer is in charge.
                    return false;
                }
                st.scheduled = None;
                true
            });
            if still_mine {
                service.automatic_refresh().await;
            }
        });
        let timer = Timer { id, due_at, task };
        if let Some(old) = st.scheduled.replace(timer) {
            old.task.abort();
        }
    }

    /// A refresh nobody awaits (the timer, the wake check). Whatever fails, `after_refresh`
    /// has kept the session and scheduled the retry; offline shows in the session and "not
    /// signed in" is no failure, anything else goes to the banner.
    async fn automatic_refresh(&self) {
        let Err(err) = self.refresh_access().await else {
            return;
        };
        // The first failure of a streak goes to the banner; the retries after it show in
        // `session.retry`, so a banner the user dismissed stays dismissed.
        let retried_before = self.read(|st| {
            st.session
                .as_ref()
                .and_then(|s| s.retry.as_ref())
                .is_some_and(|r| r.attempts > 1)
        });
        if !err.is_transient()
            && !retried_before
            && !matches!(err, AccountError::NoSession | AccountError::NoProfile)
        {
            self.change(|st| st.error = Some(self.error_view(&st.settings, &err)));
        }
    }

    /// Timers do not run while the machine sleeps: when the wall clock jumps ahead of the
    /// monotonic clock, the machine was asleep, so check the session at once.
    pub(super) fn spawn_wake_detector(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut wall = SystemTime::now();
            let mut mono = Instant::now();
            loop {
                tokio::time::sleep(WAKE_CHECK_EVERY).await;
                let Some(service) = upgrade(&weak) else {
                    return;
                };
                let wall_elapsed = SystemTime::now().duration_since(wall).unwrap_or_default();
                let slept = wall_elapsed.saturating_sub(mono.elapsed()) > Duration::from_secs(10);
                wall = SystemTime::now();
                mono = Instant::now();
                let live = service.read(|st| {
                    st.session
                        .as_ref()
                        .is_some_and(|s| s.state != SessionState::Expired)
                });
                if slept && live {
                    service.automatic_refresh().await;
                }
            }
        });
    }

    /// Whether a refresh timer is pending (for tests and diagnostics).
    pub fn refresh_scheduled(&self) -> bool {
        self.read(|st| {
            st.scheduled
                .as_ref()
                .is_some_and(|timer| !timer.task.is_finished())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::test_support::{offline_service, Emulated, Snapshots};

    #[test]
    fn the_refresh_comes_the_lead_before_expiry_and_never_at_once() {
        let lead = Duration::from_secs(60);
        assert_eq!(refresh_delay(900, lead), Duration::from_secs(840));
        assert_eq!(refresh_delay(30, lead), Duration::from_secs(1));
        assert_eq!(refresh_delay(-5, lead), Duration::from_secs(1));
    }

    #[tokio::test]
    async fn without_a_session_no_timer_is_armed() {
        let (service, _dir) = offline_service();
        service.quietly(|st| service.arm_timer(st, now_ms() + 1000));
        assert!(!service.refresh_scheduled());
        assert!(service.snapshot().session.is_none());
    }

    #[tokio::test]
    async fn a_new_timer_replaces_the_pending_one_and_ending_the_session_stops_it() {
        let emulated = Emulated::start().await;
        emulated.sign_in().await;
        let service = &emulated.service;
        let due = now_ms() + 3_600_000;
        service.change(|st| service.arm_timer(st, due));
        let first = service.read(|st| st.next_timer_id);
        service.change(|st| service.arm_timer(st, due + 1000));
        assert_eq!(service.read(|st| st.next_timer_id), first + 1);
        assert_eq!(
            service.snapshot().session.unwrap().next_refresh_at,
            Some(due + 1000)
        );
        assert!(service.refresh_scheduled());
        service.forget_session().await.unwrap();
        assert!(!service.refresh_scheduled());
    }

    #[tokio::test]
    async fn the_timer_refreshes_when_it_fires() {
        // A lead longer than the access token's life: the timer fires after a second.
        let emulated =
            Emulated::with(|config| config.refresh_lead = Duration::from_secs(86_400)).await;
        emulated.sign_in().await;
        let service = &emulated.service;
        let snapshots = Snapshots::attach(service);
        let first = service.access_token().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while service.access_token().unwrap() == first {
            assert!(Instant::now() < deadline, "the timer did not refresh");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(snapshots.count() > 0, "the window heard of the new token");
        // And the next refresh is scheduled in turn.
        assert!(service.refresh_scheduled());
    }
}
