//! The crate's one error type: why a support command was refused. Each variant has a stable
//! [`SupportError::code`], which src-tauri hands to the UI as `{code, message}` (docs/ipc.md,
//! "Support"); the wording the user reads is in [`crate::messages`].

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SupportError {
    /// A revocation run is in progress.
    #[error("a revocation run is in progress; cancel it or wait")]
    Busy,
    #[error("no token was selected")]
    NothingSelected,
    #[error("no revocation failed")]
    NothingToRetry,
    #[error("more than {max} tokens at once; split the list")]
    TooManyTokens { max: usize },
    #[error("no token was found in the text")]
    NoTokens,
    /// The audit log cannot be opened for writing: nothing was sent.
    #[error("{0}; nothing was revoked")]
    AuditLog(String),
    /// The token file `name` is larger than `max` bytes.
    #[error("{name} is larger than {} MiB", max / 1024 / 1024)]
    FileTooLarge { name: String, max: u64 },
    /// A file could not be read or written; the message names the file, never its contents.
    #[error("{0}")]
    Io(String),
}

impl SupportError {
    /// Every code, in declaration order (the contract's list).
    pub const CODES: [&'static str; 8] = [
        "support_busy",
        "nothing_selected",
        "nothing_to_retry",
        "too_many_tokens",
        "no_tokens",
        "audit_log",
        "file_too_large",
        "io",
    ];

    /// The stable code the UI switches on.
    pub fn code(&self) -> &'static str {
        let index = match self {
            SupportError::Busy => 0,
            SupportError::NothingSelected => 1,
            SupportError::NothingToRetry => 2,
            SupportError::TooManyTokens { .. } => 3,
            SupportError::NoTokens => 4,
            SupportError::AuditLog(_) => 5,
            SupportError::FileTooLarge { .. } => 6,
            SupportError::Io(_) => 7,
        };
        Self::CODES[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_of_each() -> Vec<SupportError> {
        vec![
            SupportError::Busy,
            SupportError::NothingSelected,
            SupportError::NothingToRetry,
            SupportError::TooManyTokens { max: 20_000 },
            SupportError::NoTokens,
            SupportError::AuditLog("could not open audit.jsonl: permission denied".into()),
            SupportError::FileTooLarge {
                name: "tokens.csv".into(),
                max: 32 * 1024 * 1024,
            },
            SupportError::Io("could not read tokens.csv: not a regular file".into()),
        ]
    }

    #[test]
    fn codes_are_the_ones_the_ui_knows() {
        let codes: Vec<&str> = one_of_each().iter().map(SupportError::code).collect();
        assert_eq!(
            codes,
            [
                "support_busy",
                "nothing_selected",
                "nothing_to_retry",
                "too_many_tokens",
                "no_tokens",
                "audit_log",
                "file_too_large",
                "io"
            ]
        );
        assert_eq!(codes, SupportError::CODES);
    }

    /// docs/ipc.md lists the rejections of the support commands: each code is there.
    #[test]
    fn every_code_is_documented() {
        let doc = include_str!("../../../docs/ipc.md");
        let start = doc
            .find("Rejections (besides the account ones")
            .expect("docs/ipc.md lists the support rejections");
        let paragraph = &doc[start..doc[start..].find("\n\n").map_or(doc.len(), |e| start + e)];
        for code in SupportError::CODES {
            assert!(
                paragraph.contains(&format!("`{code}`")),
                "docs/ipc.md does not list `{code}`"
            );
        }
    }

    #[test]
    fn messages_keep_their_details() {
        let texts: Vec<String> = one_of_each().iter().map(ToString::to_string).collect();
        assert_eq!(
            texts[0],
            "a revocation run is in progress; cancel it or wait"
        );
        assert_eq!(texts[3], "more than 20000 tokens at once; split the list");
        assert_eq!(
            texts[5],
            "could not open audit.jsonl: permission denied; nothing was revoked"
        );
        assert_eq!(texts[6], "tokens.csv is larger than 32 MiB");
        assert_eq!(texts[7], "could not read tokens.csv: not a regular file");
    }
}
