//! The state every handler shares. It sits below all of them: handlers, the admin API and
//! the login page use it, and it uses none of them.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::admin_access::AdminPolicy;
use crate::clock::Clock;
use crate::config::StartupInfo;
use crate::error::Error;
use crate::faults::{Faults, RequestCounts};
use crate::keypair::Keys;
use crate::live::Live;
use crate::rate_limit::RateLimiter;
use crate::store::Store;
use crate::tokens::Tokens;

/// Everything the handlers share.
pub struct EmulatorState {
    pub(crate) store: Mutex<Store>,
    pub(crate) keys: Keys,
    pub(crate) clock: Clock,
    pub(crate) base_url: String,
    pub(crate) faults: Faults,
    pub(crate) requests: RequestCounts,
    /// `middlewares.Secure()`'s shared per-IP counter.
    pub(crate) rate_limiter: RateLimiter,
    pub(crate) info: StartupInfo,
    /// `--allow-any-callback`: registered callbacks skip the dashboard's rule.
    pub(crate) allow_any_callback: bool,
    /// Who may use the admin API.
    pub(crate) admin_policy: AdminPolicy,
    /// What the gRPC App service streams.
    pub(crate) live: Live,
}

pub type SharedState = Arc<EmulatorState>;

impl EmulatorState {
    /// The database; SQLite calls are short, so a plain mutex is enough.
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` with the store locked and the clock read once.
    pub(crate) fn with_tokens<R>(&self, f: impl FnOnce(&Tokens<'_>) -> R) -> R {
        let store = self.store();
        let tokens = Tokens {
            store: &store,
            keys: &self.keys,
            now_ms: self.clock.now_ms(),
            base_url: &self.base_url,
        };
        f(&tokens)
    }

    /// A fresh login token, as if the user had just signed in on the login page.
    pub(crate) fn login_token(&self, app_code: &str, uid: u64) -> Result<String, Error> {
        self.with_tokens(|tokens| {
            let app = tokens
                .store
                .app_by_code(app_code)?
                .ok_or_else(|| Error::UnknownApp(app_code.to_owned()))?;
            tokens.issue_login_token(&app, uid)
        })
    }
}
