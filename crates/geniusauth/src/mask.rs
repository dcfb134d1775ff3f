//! The one rule for showing a secret without giving it away, used by every crate of the workspace
//! (the app's views, the Support view, the audit log, `geniusctl`, `Debug` output).
//!
//! - [`mask`]: `…x9Qk9x`, the last [`TAIL_CHARS`] characters. A GeniusAuth token starts with the
//!   same `eyJhbGciOi…` as every JWT, so only its end tells tokens apart (the end of the Ed25519
//!   signature: six base64url characters carry 32 bits). Strings shorter than
//!   [`MIN_SHOWN_LEN`] characters show nothing but [`HIDDEN`].
//! - [`fingerprint`]: the first 8 hex digits of the SHA-256 of the (trimmed) token, as the audit
//!   log records it: the same token always gives the same fingerprint, so entries about it can
//!   be found, and nothing usable is recorded.

use sha2::{Digest, Sha256};

/// Characters of the token's end that [`mask`] shows.
pub const TAIL_CHARS: usize = 6;

/// Shortest string whose end [`mask`] shows (the tail is then at most a quarter of it).
pub const MIN_SHOWN_LEN: usize = 24;

/// What [`mask`] gives for a non-empty string shorter than [`MIN_SHOWN_LEN`]: the same for every
/// such string, so not even its length shows.
pub const HIDDEN: &str = "••••••••";

/// `…x9Qk9x`: `…` and the last [`TAIL_CHARS`] characters; [`HIDDEN`] for a string shorter than
/// [`MIN_SHOWN_LEN`], and the empty string for an empty one. Surrounding whitespace is ignored.
pub fn mask(token: &str) -> String {
    let token = token.trim();
    if token.is_empty() {
        return String::new();
    }
    let count = token.chars().count();
    if count < MIN_SHOWN_LEN {
        return HIDDEN.to_owned();
    }
    let tail: String = token.chars().skip(count - TAIL_CHARS).collect();
    format!("…{tail}")
}

/// The first 8 hex digits of the SHA-256 of the trimmed token: what the audit log records to
/// tell entries about the same token apart (its format since the log's first version).
pub fn fingerprint(token: &str) -> String {
    let digest = Sha256::digest(token.trim().as_bytes());
    hex::encode(&digest[..4])
}

/// A token's redacted form for `Debug` output: `fp:1a2b3c4d …x9Qk9x` (`none` when empty).
pub fn redacted(token: &str) -> String {
    if token.trim().is_empty() {
        return "none".to_owned();
    }
    format!("fp:{} {}", fingerprint(token), mask(token))
}

/// Formats as [`redacted`]: for `Debug` impls (`.field("token", &Redacted(&self.token))`).
pub struct Redacted<'a>(pub &'a str);

impl std::fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redacted(self.0))
    }
}

/// Formats an optional token as [`Redacted`] (`None` as `None`).
pub struct RedactedOpt<'a>(pub Option<&'a str>);

impl std::fmt::Debug for RedactedOpt<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(token) => write!(f, "Some({})", redacted(token)),
            None => f.write_str("None"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJ1aWQiOjF9.c2lnbmF0dXJlx9Qk9x";

    #[test]
    fn mask_shows_only_the_tail() {
        assert_eq!(mask(TOKEN), "…x9Qk9x");
        assert_eq!(mask(&format!("  {TOKEN}\n")), "…x9Qk9x");
        // Every JWT starts alike: the head is never shown.
        assert!(!mask(TOKEN).contains("eyJ"));
        let alphabet = "abcdefghijklmnopqrstuvwxyz";
        assert_eq!(mask(alphabet), "…uvwxyz");
        assert!(!mask(alphabet).contains("ghij"));
    }

    #[test]
    fn mask_counts_characters_not_bytes() {
        let text = "令牌".repeat(15);
        assert_eq!(mask(&text), format!("…{}", "令牌".repeat(3)));
    }

    #[test]
    fn short_strings_show_nothing_not_even_their_length() {
        assert_eq!(mask("short"), HIDDEN);
        assert_eq!(mask(&"x".repeat(MIN_SHOWN_LEN - 1)), HIDDEN);
        assert_eq!(mask(&"y".repeat(MIN_SHOWN_LEN)), "…yyyyyy");
        assert_eq!(mask(""), "");
        assert_eq!(mask("   "), "");
    }

    #[test]
    fn fingerprint_keeps_the_audit_log_format() {
        // SHA-256("abc") = ba7816bf8f01cfea…: the audit log's entries since its first version.
        assert_eq!(fingerprint("abc"), "ba7816bf");
        assert_eq!(fingerprint(" abc\n"), "ba7816bf");
        let fp = fingerprint(TOKEN);
        assert_eq!(fp.len(), 8);
        assert!(fp
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(fp, fingerprint(&TOKEN.replace("x9Qk9x", "x9Qk9y")));
    }

    #[test]
    fn redacted_forms_hold_no_secret() {
        let shown = format!("{:?}", Redacted(TOKEN));
        assert_eq!(shown, format!("fp:{} …x9Qk9x", fingerprint(TOKEN)));
        assert!(!shown.contains(&TOKEN[..20]));
        assert_eq!(format!("{:?}", Redacted("")), "none");
        assert_eq!(format!("{:?}", RedactedOpt(None)), "None");
        let some = format!("{:?}", RedactedOpt(Some("secret-value")));
        assert_eq!(
            some,
            format!("Some(fp:{} {HIDDEN})", fingerprint("secret-value"))
        );
        assert!(!some.contains("secret"));
    }
}
