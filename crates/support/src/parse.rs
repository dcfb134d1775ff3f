//! Finding tokens in whatever support staff paste or open: a column copied from a spreadsheet,
//! a CSV export, log lines, `Authorization: Bearer …` headers, JSON snippets.
//!
//! A token is any JWT-shaped word: three non-empty base64url parts separated by dots whose header
//! starts with `eyJ` (`{"` encoded) and whose claims start with `ey`. Every other character is a
//! separator, so newlines, spaces, commas, semicolons, tabs, quotes, `=` and brackets all work,
//! and `Bearer ` prefixes, CSV headers and columns fall away by themselves. Lines that hold no
//! token at all are counted as junk.

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

use crate::SupportError;

/// The tokens found in a text, in first-seen order, without duplicates. `Debug` shows each token
/// redacted ([`geniusauth::mask::redacted`]).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ParsedTokens {
    pub tokens: Vec<String>,
    /// Tokens seen again after their first occurrence (merged).
    pub duplicates: usize,
    /// Non-blank lines without any token: headers, comments, garbage, cut-off tokens.
    pub junk_lines: usize,
    /// Non-blank lines.
    pub lines: usize,
}

impl std::fmt::Debug for ParsedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tokens: Vec<_> = self
            .tokens
            .iter()
            .map(|t| geniusauth::mask::Redacted(t))
            .collect();
        f.debug_struct("ParsedTokens")
            .field("tokens", &tokens)
            .field("duplicates", &self.duplicates)
            .field("junk_lines", &self.junk_lines)
            .field("lines", &self.lines)
            .finish()
    }
}

/// Shortest string accepted as a token: a GeniusAuth token is 200+ characters, but anything
/// shorter than a minimal JWT is certainly junk.
const MIN_TOKEN_LEN: usize = 24;

/// Finds the tokens in `text` (see the module doc). Linear in the text's length.
pub fn parse_tokens(text: &str) -> ParsedTokens {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = ParsedTokens::default();
    let mut seen: HashSet<&str> = HashSet::new();
    for line in text.split('\n') {
        if line.trim().is_empty() {
            continue;
        }
        out.lines += 1;
        let mut found = false;
        for word in words(line) {
            if !is_jwt_shaped(word) {
                continue;
            }
            found = true;
            if seen.insert(word) {
                out.tokens.push(word.to_owned());
            } else {
                out.duplicates += 1;
            }
        }
        if !found {
            out.junk_lines += 1;
        }
    }
    out
}

/// Maximal runs of base64url characters and dots, without leading or trailing dots (a sentence
/// may end right after a token).
fn words(line: &str) -> impl Iterator<Item = &str> {
    line.split(|c: char| !is_token_char(c))
        .map(|word| word.trim_matches('.'))
        .filter(|word| !word.is_empty())
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// Three non-empty parts, a JSON header (`eyJ`) and JSON claims (`ey`).
pub fn is_jwt_shaped(word: &str) -> bool {
    if word.len() < MIN_TOKEN_LEN {
        return false;
    }
    let mut parts = word.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    header.starts_with("eyJ") && claims.starts_with("ey") && !signature.is_empty()
}

/// Text of a file as read from disk: UTF-8 (with or without a BOM) or UTF-16 with a BOM (what
/// spreadsheet programs export as "Unicode text"); invalid bytes become U+FFFD, which is a
/// separator like any other.
pub fn decode_text(bytes: &[u8]) -> String {
    match bytes {
        [0xFF, 0xFE, rest @ ..] => utf16(rest, u16::from_le_bytes),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, u16::from_be_bytes),
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8_lossy(rest).into_owned(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Token files larger than this are refused: 10,000 tokens with a few other CSV columns are
/// about 5 MiB, and the whole file is held in memory while it is searched.
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// Reads a text or CSV file of tokens as text (see [`decode_text`]). Refuses anything larger
/// than [`MAX_FILE_BYTES`], checking the size before reading and again while reading (the file
/// may grow in between). Errors name the file, never its contents.
pub fn read_token_file(path: &Path) -> Result<String, SupportError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let unreadable = |detail: &dyn std::fmt::Display| {
        SupportError::Io(format!("could not read {name}: {detail}"))
    };
    let too_large = || SupportError::FileTooLarge {
        name: name.clone(),
        max: MAX_FILE_BYTES,
    };
    let file = std::fs::File::open(path).map_err(|e| unreadable(&e))?;
    let meta = file.metadata().map_err(|e| unreadable(&e))?;
    if !meta.is_file() {
        return Err(unreadable(&"not a regular file"));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(&e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    Ok(decode_text(&bytes))
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> String {
    let pairs = bytes.chunks_exact(2);
    // An odd last byte (a file cut short) is invalid like any other: U+FFFD, not nothing.
    let odd = !pairs.remainder().is_empty();
    let units = pairs.map(|pair| unit([pair[0], pair[1]]));
    let mut text: String = char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    if odd {
        text.push(char::REPLACEMENT_CHARACTER);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "eyJhbGciOiJFZERTQSJ9.eyJ0eXBlIjoiUmVmcmVzaCJ9.c2lnbmF0dXJl";

    #[test]
    fn shape() {
        assert!(is_jwt_shaped(T));
        assert!(!is_jwt_shaped(
            "eyJhbGciOiJFZERTQSJ9.eyJ0eXBlIjoiUmVmcmVzaCJ9"
        ));
        assert!(!is_jwt_shaped(
            "eyJhbGciOiJFZERTQSJ9.eyJ0eXBlIjoiUmVmcmVzaCJ9."
        ));
        assert!(!is_jwt_shaped("abcdefghijklmnopqrstuvwxyz.ab.cd"));
        assert!(!is_jwt_shaped("www.example.com.cn.and.more.dots"));
    }

    #[test]
    fn trailing_dot_and_quotes() {
        let parsed = parse_tokens(&format!("see \"{T}\". and 'Bearer {T}'"));
        assert_eq!(parsed.tokens, vec![T.to_owned()]);
        assert_eq!(parsed.duplicates, 1);
    }

    #[test]
    fn utf16_files() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in format!("token\r\n{T}\r\n").encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let parsed = parse_tokens(&decode_text(&bytes));
        assert_eq!(parsed.tokens, vec![T.to_owned()]);
        assert_eq!(parsed.junk_lines, 1);
    }

    #[test]
    fn debug_never_shows_a_token() {
        let first = "eyJhbGciOiJFZERTQSJ9.eyJ0eXBlIjoicmVmcmVzaCJ9.first-signature-AAAA";
        let second = "eyJhbGciOiJFZERTQSJ9.eyJ0eXBlIjoiYWNjZXNzIn0.second-signature-BBBB";
        let parsed = parse_tokens(&format!("{first}\n{second}\n{first}\n"));
        assert_eq!(parsed.tokens, [first, second]);
        for shown in [format!("{parsed:?}"), format!("{parsed:#?}")] {
            for token in [first, second] {
                assert!(!shown.contains(&token[..24]), "{shown}");
                assert!(!shown.contains(&token[token.len() - 12..]), "{shown}");
                assert!(shown.contains(&crate::fingerprint(token)), "{shown}");
            }
            assert!(shown.contains("duplicates: 1"), "{shown}");
        }
    }

    #[test]
    fn token_files_that_cannot_be_read_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("exports");
        std::fs::create_dir(&folder).unwrap();
        assert_eq!(
            read_token_file(&folder).unwrap_err(),
            SupportError::Io("could not read exports: not a regular file".into())
        );
        let missing = read_token_file(&dir.path().join("missing.csv")).unwrap_err();
        assert!(
            matches!(&missing, SupportError::Io(m) if m.starts_with("could not read missing.csv: ")),
            "{missing:?}"
        );
        let file = dir.path().join("tokens.txt");
        std::fs::write(&file, format!("\u{feff}{T}\r\n")).unwrap();
        assert_eq!(read_token_file(&file).unwrap(), format!("{T}\r\n"));
    }
}
