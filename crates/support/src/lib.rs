//! Support tools for GeniusAuth, free of Tauri: what the app's Support and Audit log views and
//! `geniusctl revoke --audit-log` are built on.
//!
//! - [`parse`]: find tokens in pasted text or a text/CSV file (any separator, quotes, `Bearer `,
//!   headers, junk), duplicates merged in first-seen order.
//! - [`inspect`]: what a token is (refresh / access / login / not GeniusAuth), whose, which app and
//!   login record, its times, and whether the server key signed it.
//! - [`owners`]: owners' public profiles, looked up in batches and cached.
//! - [`revoke`]: bulk revocation with bounded concurrency, progress, cancel and an audit entry per
//!   attempt.
//! - [`audit`]: the audit log (JSON lines, fsync'd per entry): append, read, search, CSV.
//! - [`session`]: the Support view's state (rows, owners, runs) and its snapshot for the UI.
//! - [`cli`]: auditing for `geniusctl revoke`.
//! - [`SupportError`]: the crate's one error type, each variant with a stable code for the UI.
//!
//! Token strings never leave this crate in any view, event, log or error: views carry a masked
//! form ([`mask`]), the audit log a fingerprint ([`fingerprint`]).
//!
//! # Speed
//!
//! The Support view takes up to 10,000 tokens at once without stalling. The targets, checked by
//! `cargo bench -p support` (benches/support.rs; `scripts/bench.sh` runs every benchmark), which
//! exits non-zero when a median misses one:
//!
//! | step, 10,000 tokens | target |
//! |---|---|
//! | [`parse_tokens`] on ≈ 3 MB of messy text | < 250 ms |
//! | [`SupportSession::load_text`]: parse, decode, signature check, rows | < 1 s |
//! | full snapshot (what the UI fetches after a paste): build and serialize | < 100 ms |
//! | progress event (no rows): build and serialize | < 1 ms |
//!
//! Tests check what is found and listed, never how fast.

pub mod audit;
pub mod cli;
mod error;
pub mod inspect;
pub mod messages;
pub mod owners;
pub mod parse;
pub mod revoke;
pub mod session;
pub mod time;

pub use audit::{AuditEntry, AuditLog};
pub use error::SupportError;
pub use inspect::{inspect, Inspection, SignatureCheck, TokenKind};
pub use owners::{Owner, OwnerDirectory};
pub use parse::{parse_tokens, ParsedTokens};
pub use revoke::{CancelFlag, Outcome, RevokeJob};
pub use session::{Connection, Selection, SupportSession, SupportSnapshot};

/// The workspace's masking rule ([`geniusauth::mask`]): `…x9Qk9x`, the token's last characters
/// (views), and the 8-hex-digit fingerprint the audit log records.
pub use geniusauth::mask::{fingerprint, mask};
