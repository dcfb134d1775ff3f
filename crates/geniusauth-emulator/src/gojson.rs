//! JSON decoding as the production server's Go code sees it.
//!
//! The signature middleware decodes the body into `map[string]interface{}` with `UseNumber()`
//! and signs `fmt.Sprint` of every value, so numbers must keep their literal text (`1.50`,
//! `1e3`), objects print as `map[k:v]` and arrays as `[a b]`. serde_json would normalise
//! numbers, hence this small decoder that keeps them verbatim.

use std::collections::BTreeMap;

/// A decoded JSON value that remembers number literals and object key order (duplicates too).
#[derive(Debug, Clone, PartialEq)]
pub enum GoValue {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<GoValue>),
    Object(Vec<(String, GoValue)>),
}

/// The body is not JSON (Go would answer code 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxError;

/// Nesting deeper than this is refused instead of risking the stack.
const MAX_DEPTH: usize = 512;

/// Decodes the first JSON value of `input` like `json.Decoder.Decode`: leading whitespace is
/// skipped and whatever follows the first value is ignored.
pub fn decode_first(input: &[u8]) -> Result<GoValue, SyntaxError> {
    let mut parser = Parser { s: input, i: 0 };
    parser.skip_ws();
    parser.value(0)
}

impl GoValue {
    /// `fmt.Sprint(v)` of the value Go decoded.
    pub fn go_sprint(&self) -> String {
        let mut out = String::new();
        self.write_sprint(&mut out);
        out
    }

    fn write_sprint(&self, out: &mut String) {
        match self {
            GoValue::Null => out.push_str("<nil>"),
            GoValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            GoValue::Number(literal) => out.push_str(literal),
            GoValue::String(s) => out.push_str(s),
            GoValue::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    item.write_sprint(out);
                }
                out.push(']');
            }
            GoValue::Object(entries) => {
                // A Go map keeps the last duplicate and fmt prints keys sorted.
                let map: BTreeMap<&str, &GoValue> =
                    entries.iter().map(|(k, v)| (k.as_str(), v)).collect();
                out.push_str("map[");
                for (i, (key, value)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(key);
                    out.push(':');
                    value.write_sprint(out);
                }
                out.push(']');
            }
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn expect_literal(&mut self, literal: &[u8]) -> Result<(), SyntaxError> {
        if self.s.get(self.i..self.i + literal.len()) == Some(literal) {
            self.i += literal.len();
            Ok(())
        } else {
            Err(SyntaxError)
        }
    }

    fn value(&mut self, depth: usize) -> Result<GoValue, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(SyntaxError);
        }
        match self.peek().ok_or(SyntaxError)? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string().map(GoValue::String),
            b't' => self.expect_literal(b"true").map(|_| GoValue::Bool(true)),
            b'f' => self.expect_literal(b"false").map(|_| GoValue::Bool(false)),
            b'n' => self.expect_literal(b"null").map(|_| GoValue::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(SyntaxError),
        }
    }

    fn object(&mut self, depth: usize) -> Result<GoValue, SyntaxError> {
        self.i += 1;
        let mut entries = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(GoValue::Object(entries));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(SyntaxError);
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(SyntaxError);
            }
            self.i += 1;
            self.skip_ws();
            let value = self.value(depth + 1)?;
            entries.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(GoValue::Object(entries));
                }
                _ => return Err(SyntaxError),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<GoValue, SyntaxError> {
        self.i += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(GoValue::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(GoValue::Array(items));
                }
                _ => return Err(SyntaxError),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<GoValue, SyntaxError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(SyntaxError),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(SyntaxError);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(SyntaxError);
            }
        }
        let literal = std::str::from_utf8(&self.s[start..self.i]).map_err(|_| SyntaxError)?;
        Ok(GoValue::Number(literal.to_owned()))
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let digits = self.s.get(self.i..self.i + 4).ok_or(SyntaxError)?;
        let text = std::str::from_utf8(digits).map_err(|_| SyntaxError)?;
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SyntaxError);
        }
        self.i += 4;
        u32::from_str_radix(text, 16).map_err(|_| SyntaxError)
    }

    /// A string; like Go, invalid UTF-8 and lone surrogates become U+FFFD.
    fn string(&mut self) -> Result<String, SyntaxError> {
        self.i += 1;
        let mut out = String::new();
        let mut run_start = self.i;
        loop {
            let byte = self.peek().ok_or(SyntaxError)?;
            match byte {
                b'"' => {
                    out.push_str(&String::from_utf8_lossy(&self.s[run_start..self.i]));
                    self.i += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(&String::from_utf8_lossy(&self.s[run_start..self.i]));
                    self.i += 1;
                    let escape = self.peek().ok_or(SyntaxError)?;
                    self.i += 1;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let first = self.hex4()?;
                            out.push(self.unicode_escape(first)?);
                        }
                        _ => return Err(SyntaxError),
                    }
                    run_start = self.i;
                }
                0x00..=0x1f => return Err(SyntaxError),
                _ => self.i += 1,
            }
        }
    }

    fn unicode_escape(&mut self, first: u32) -> Result<char, SyntaxError> {
        if (0xD800..0xDC00).contains(&first) {
            // A high surrogate pairs only with an immediately following low one.
            if self.s.get(self.i..self.i + 2) == Some(b"\\u") {
                let save = self.i;
                self.i += 2;
                let second = self.hex4()?;
                if (0xDC00..0xE000).contains(&second) {
                    let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                    return Ok(char::from_u32(code).unwrap_or('\u{FFFD}'));
                }
                self.i = save;
            }
            return Ok('\u{FFFD}');
        }
        Ok(char::from_u32(first).unwrap_or('\u{FFFD}'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sprint(text: &str) -> String {
        decode_first(text.as_bytes())
            .map(|v| v.go_sprint())
            .unwrap_or_default()
    }

    #[test]
    fn prints_like_go_fmt_sprint() {
        assert_eq!(sprint("\"abc\""), "abc");
        assert_eq!(sprint("1.50"), "1.50");
        assert_eq!(sprint("1e3"), "1e3");
        assert_eq!(sprint("-0"), "-0");
        assert_eq!(sprint("true"), "true");
        assert_eq!(sprint("null"), "<nil>");
        assert_eq!(sprint("[1, \"a\", null, false]"), "[1 a <nil> false]");
        assert_eq!(
            sprint(r#"{"b":1,"a":{"y":[],"x":"s"},"b":2}"#),
            "map[a:map[x:s y:[]] b:2]"
        );
    }

    #[test]
    fn decodes_strings_like_go() {
        assert_eq!(
            sprint(r#""\u4e2d\ud83d\ude00\ud800x\n""#),
            "中😀\u{FFFD}x\n"
        );
        assert!(decode_first(b"\"a\x01\"").is_err());
    }

    #[test]
    fn ignores_trailing_data_and_rejects_garbage() {
        assert_eq!(sprint("  {\"a\":1} trailing"), "map[a:1]");
        assert!(decode_first(b"").is_err());
        assert!(decode_first(b"token=abc&appCode=x").is_err());
        assert!(decode_first(b"{\"a\":01}").is_err());
        assert!(decode_first(b"{\"a\":1,}").is_err());
        assert!(decode_first(&[b'['; 2000]).is_err());
    }
}
