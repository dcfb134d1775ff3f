//! User actions: what the window marks busy while one runs, and the error banner they leave.

use std::future::Future;
use std::sync::Arc;

use super::{lock, AccountService, Inner, State};
use crate::error::{AccountError, ErrorReply};
use crate::messages;
use crate::settings::Settings;
use crate::snapshot::ErrorView;

/// An action in flight, as the snapshot's `busy` lists it. The wire keys are part of the IPC
/// contract (src-tauri/ipc_contract.rs, ui/store.js, docs/ipc.md). Declared in the order of
/// their keys, so that the snapshot lists them sorted as it always has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Busy {
    /// The session user's avatar is downloading (no command: the service starts it).
    Avatar,
    Cancel,
    Copy,
    Demo,
    Forget,
    Payload,
    Profile,
    Refresh,
    Reload,
    Revoke,
    SignIn,
    Storage,
    Verify,
}

impl Busy {
    pub const ALL: [Busy; 13] = [
        Busy::Avatar,
        Busy::Cancel,
        Busy::Copy,
        Busy::Demo,
        Busy::Forget,
        Busy::Payload,
        Busy::Profile,
        Busy::Refresh,
        Busy::Reload,
        Busy::Revoke,
        Busy::SignIn,
        Busy::Storage,
        Busy::Verify,
    ];

    /// The key on the wire.
    pub const fn key(self) -> &'static str {
        match self {
            Busy::Avatar => "avatar",
            Busy::Cancel => "cancel",
            Busy::Copy => "copy",
            Busy::Demo => "demo",
            Busy::Forget => "forget",
            Busy::Payload => "payload",
            Busy::Profile => "profile",
            Busy::Refresh => "refresh",
            Busy::Reload => "reload",
            Busy::Revoke => "revoke",
            Busy::SignIn => "signin",
            Busy::Storage => "storage",
            Busy::Verify => "verify",
        }
    }

    /// The action with this wire key. A `const fn`, so that a command table's keys can be
    /// checked when the app is compiled.
    pub const fn from_key(key: &str) -> Option<Busy> {
        let mut i = 0;
        while i < Busy::ALL.len() {
            if const_eq(Busy::ALL[i].key(), key) {
                return Some(Busy::ALL[i]);
            }
            i += 1;
        }
        None
    }
}

const fn const_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// Keeps an action in `busy` while it runs, even if its future is dropped half-way.
pub(super) struct BusyGuard {
    inner: Arc<Inner>,
    action: Busy,
}

impl BusyGuard {
    /// Marks `action` busy in `st` (the caller holds the lock and publishes the change).
    pub(super) fn enter(st: &mut State, inner: &Arc<Inner>, action: Busy) -> Self {
        *st.busy.entry(action).or_insert(0) += 1;
        BusyGuard {
            inner: inner.clone(),
            action,
        }
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        let mut st = lock(&self.inner.state);
        if let Some(n) = st.busy.get_mut(&self.action) {
            *n -= 1;
            if *n == 0 {
                st.busy.remove(&self.action);
            }
        }
    }
}

impl AccountService {
    /// Runs a user action: marks it busy, records its error for the banner, notifies.
    pub async fn run<T>(
        &self,
        action: Busy,
        work: impl Future<Output = Result<T, AccountError>>,
    ) -> Result<T, AccountError> {
        let busy = self.change(|st| {
            if action != Busy::Verify {
                // A new action supersedes the last failure; what goes wrong during it is kept
                // (e.g. a sign-in that worked but could not store its token).
                st.error = None;
            }
            BusyGuard::enter(st, &self.inner, action)
        });
        let result = work.await;
        drop(busy);
        self.change(|st| {
            if let Err(err) = &result {
                st.error = Some(self.error_view(&st.settings, err));
            }
        });
        result
    }

    /// The banner for `err`, in the UI's language.
    pub(super) fn error_view(&self, settings: &Settings, err: &AccountError) -> ErrorView {
        let mut reply = err.to_reply();
        reply.message = messages::explain(err, &self.locale_of(settings));
        ErrorView {
            reply,
            at: super::now_ms(),
        }
    }

    /// Puts `err` on the banner; the caller's next change publishes it.
    pub(super) fn record_error(&self, err: &AccountError) {
        self.quietly(|st| st.error = Some(self.error_view(&st.settings, err)));
    }

    /// The UI's language: "zh-CN" or "en" (the preference, or the OS locale for "system").
    pub fn locale(&self) -> String {
        self.read(|st| self.locale_of(&st.settings))
    }

    /// Localised reply for a failed command.
    pub fn reply_for(&self, err: &AccountError) -> ErrorReply {
        let mut reply = err.to_reply();
        reply.message = messages::explain(err, &self.locale());
        reply
    }

    pub fn dismiss_error(&self) {
        self.change(|st| st.error = None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::test_support::{offline_service, Snapshots};

    #[test]
    fn every_action_has_its_wire_key_and_back() {
        let keys: Vec<&str> = Busy::ALL.iter().map(|b| b.key()).collect();
        assert_eq!(
            keys,
            [
                "avatar", "cancel", "copy", "demo", "forget", "payload", "profile", "refresh",
                "reload", "revoke", "signin", "storage", "verify"
            ]
        );
        for busy in Busy::ALL {
            assert_eq!(Busy::from_key(busy.key()), Some(busy));
            assert_eq!(busy.to_string(), busy.key());
        }
        assert_eq!(Busy::from_key("sign_in"), None);
        assert_eq!(Busy::from_key(""), None);
        assert_eq!(Busy::from_key("refresh "), None);
    }

    #[test]
    fn actions_sort_like_their_keys() {
        let mut by_order = Busy::ALL.to_vec();
        by_order.sort();
        let mut by_key = Busy::ALL.to_vec();
        by_key.sort_by_key(|b| b.key());
        assert_eq!(by_order, by_key);
    }

    #[tokio::test]
    async fn an_action_is_busy_while_it_runs_and_leaves_its_error() {
        let (service, _dir) = offline_service();
        let snapshots = Snapshots::attach(&service);
        let seen_busy = {
            let service = service.clone();
            async move {
                let busy = service.snapshot().busy;
                Err::<(), _>(AccountError::invalid(format!("busy: {busy:?}")))
            }
        };
        let err = service.run(Busy::Refresh, seen_busy).await.unwrap_err();
        assert_eq!(err.to_string(), r#"busy: ["refresh"]"#);
        let last = snapshots.last();
        assert!(last.busy.is_empty(), "{:?}", last.busy);
        assert_eq!(last.error.unwrap().reply.code, "invalid_input");
        // Told twice: when it started and when it ended.
        assert_eq!(snapshots.count(), 2);
    }

    #[tokio::test]
    async fn verify_keeps_the_last_error_and_other_actions_clear_it() {
        let (service, _dir) = offline_service();
        service.record_error(&AccountError::NoSession);
        service.run(Busy::Verify, async { Ok(()) }).await.unwrap();
        assert!(
            service.snapshot().error.is_some(),
            "verify keeps the banner"
        );
        service.run(Busy::Reload, async { Ok(()) }).await.unwrap();
        assert!(service.snapshot().error.is_none(), "a new action clears it");
    }

    #[tokio::test]
    async fn overlapping_actions_stay_busy_until_the_last_ends() {
        let (service, _dir) = offline_service();
        let (release_first, first_released) = tokio::sync::oneshot::channel::<()>();
        let first = {
            let service = service.clone();
            tokio::spawn(async move {
                service
                    .run(Busy::Refresh, async {
                        let _ = first_released.await;
                        Ok(())
                    })
                    .await
            })
        };
        while service.snapshot().busy.is_empty() {
            tokio::task::yield_now().await;
        }
        service.run(Busy::Refresh, async { Ok(()) }).await.unwrap();
        assert_eq!(service.snapshot().busy, ["refresh"], "the first still runs");
        release_first.send(()).unwrap();
        first.await.unwrap().unwrap();
        assert!(service.snapshot().busy.is_empty());
    }

    #[tokio::test]
    async fn a_dropped_action_is_no_longer_busy() {
        let (service, _dir) = offline_service();
        let never = service.run(Busy::Payload, std::future::pending::<Result<(), _>>());
        let timed_out = tokio::time::timeout(std::time::Duration::from_millis(20), never).await;
        assert!(timed_out.is_err());
        assert!(service.snapshot().busy.is_empty());
    }

    #[tokio::test]
    async fn dismissing_the_error_tells_the_window() {
        let (service, _dir) = offline_service();
        service.record_error(&AccountError::NoProfile);
        let snapshots = Snapshots::attach(&service);
        service.dismiss_error();
        assert_eq!(snapshots.count(), 1);
        assert!(snapshots.last().error.is_none());
    }
}
