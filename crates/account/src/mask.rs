//! Masked forms of secrets: enough to recognise a token, never enough to use it. The rule is the
//! workspace's one, [`geniusauth::mask`]; this module keeps `account::mask::mask` for callers.

pub use geniusauth::mask::{fingerprint, mask, redacted, Redacted, RedactedOpt};
