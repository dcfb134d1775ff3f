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
                    push_go_lossy(&mut out, &self.s[run_start..self.i]);
                    self.i += 1;
                    return Ok(out);
                }
                b'\\' => {
                    push_go_lossy(&mut out, &self.s[run_start..self.i]);
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

/// Appends `bytes` as encoding/json's `unquoteBytes` (encoding/json/decode.go) does: its
/// `utf8.DecodeRune` loop turns every byte of an invalid sequence into its own U+FFFD ("we're
/// replacing each byte with RuneError"), where `String::from_utf8_lossy` would give one U+FFFD
/// per maximal invalid run (`E4 B8` is two U+FFFD in Go, one in Rust). The signature covers
/// the decoded text, so the count matters.
fn push_go_lossy(out: &mut String, mut bytes: &[u8]) {
    loop {
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                out.push_str(text);
                return;
            }
            Err(err) => {
                let (valid, rest) = bytes.split_at(err.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                // A maximal invalid run is a lead byte and continuation bytes, none of which
                // starts a rune on its own, so Go replaces each of them.
                let invalid = err.error_len().unwrap_or(rest.len());
                out.extend(std::iter::repeat_n('\u{FFFD}', invalid));
                bytes = &rest[invalid..];
            }
        }
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
        // Each byte of an invalid sequence is its own U+FFFD, as in Go (one in Rust's lossy).
        assert_eq!(
            decode_first(b"\"\xE4\xB8A\xF0\x9F\x98\"").map(|v| v.go_sprint()),
            Ok("\u{FFFD}\u{FFFD}A\u{FFFD}\u{FFFD}\u{FFFD}".to_owned())
        );
    }

    #[test]
    fn ignores_trailing_data_and_rejects_garbage() {
        assert_eq!(sprint("  {\"a\":1} trailing"), "map[a:1]");
        assert!(decode_first(b"").is_err());
        assert!(decode_first(b"token=abc&appCode=x").is_err());
        assert!(decode_first(b"{\"a\":01}").is_err());
        // Go's json.Decoder ends a top-level number where a digit cannot follow: `01` is 0.
        assert_eq!(decode_first(b"01"), Ok(GoValue::Number("0".into())));
        assert!(decode_first(b"{\"a\":1,}").is_err());
        assert!(decode_first(&[b'['; 2000]).is_err());
    }
}

/// Property tests on hostile input (256 cases per property, `PROPTEST_CASES` for more): no
/// panic on any bytes, the same values as serde_json wherever Go and serde_json agree, Go's
/// per-byte U+FFFD for invalid UTF-8.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::Config as ProptestConfig;
    use serde_json::{Map, Value};

    fn config() -> ProptestConfig {
        let mut config = ProptestConfig::default();
        if std::env::var_os("PROPTEST_CASES").is_none() {
            config.cases = 256;
        }
        config.failure_persistence = None;
        config.max_global_rejects = config.cases.max(1024);
        config
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            finite_f64().prop_map(Value::from),
            any::<String>().prop_map(Value::String),
            "[a-z\\\\\"/\u{0}-\u{1f}\u{7f}-\u{a0}\u{2028}\u{fffd}\u{1f600}]{0,8}"
                .prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..6)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    fn finite_f64() -> impl Strategy<Value = f64> {
        use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
        POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO
    }

    /// What serde_json makes of the value Go decoded (numbers from their literal text; a
    /// duplicate key keeps its last value, as in a Go map).
    fn to_serde(value: &GoValue) -> Value {
        match value {
            GoValue::Null => Value::Null,
            GoValue::Bool(b) => Value::Bool(*b),
            GoValue::Number(literal) => serde_json::from_str(literal).expect("a JSON number"),
            GoValue::String(s) => Value::String(s.clone()),
            GoValue::Array(items) => Value::Array(items.iter().map(to_serde).collect()),
            GoValue::Object(entries) => {
                let mut map = Map::new();
                for (key, value) in entries {
                    map.insert(key.clone(), to_serde(value));
                }
                Value::Object(map)
            }
        }
    }

    /// Go's `utf8.DecodeRune` (unicode/utf8/utf8.go), written out from its acceptance table:
    /// the rune and its size, `None` with size 1 for anything invalid.
    fn go_decode_rune(s: &[u8]) -> (Option<char>, usize) {
        let b0 = s[0];
        let (size, lo, hi) = match b0 {
            0x00..=0x7F => return (Some(char::from(b0)), 1),
            0xC2..=0xDF => (2, 0x80, 0xBF),
            0xE0 => (3, 0xA0, 0xBF),
            0xED => (3, 0x80, 0x9F),
            0xE1..=0xEF => (3, 0x80, 0xBF),
            0xF0 => (4, 0x90, 0xBF),
            0xF4 => (4, 0x80, 0x8F),
            0xF1..=0xF3 => (4, 0x80, 0xBF),
            _ => return (None, 1),
        };
        if s.len() < size || !(lo..=hi).contains(&s[1]) {
            return (None, 1);
        }
        if s[2..size].iter().any(|b| !(0x80..=0xBF).contains(b)) {
            return (None, 1);
        }
        let text = std::str::from_utf8(&s[..size]).expect("valid per the table");
        (text.chars().next(), size)
    }

    /// Text Go's decoder makes of string bytes without escapes.
    fn go_string(mut s: &[u8]) -> String {
        let mut out = String::new();
        while !s.is_empty() {
            let (rune, size) = go_decode_rune(s);
            out.push(rune.unwrap_or('\u{FFFD}'));
            s = &s[size..];
        }
        out
    }

    /// Bytes a JSON text is made of, for mutations.
    fn json_byte() -> impl Strategy<Value = u8> {
        prop_oneof![
            prop::sample::select(b"{}[]\",:0123456789.eE+- \t\n\rtrufalsn\\/u".to_vec()),
            any::<u8>(),
        ]
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        Insert(prop::sample::Index, u8),
        Delete(prop::sample::Index),
        Replace(prop::sample::Index, u8),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (any::<prop::sample::Index>(), json_byte()).prop_map(|(i, b)| Mutation::Insert(i, b)),
            any::<prop::sample::Index>().prop_map(Mutation::Delete),
            (any::<prop::sample::Index>(), json_byte()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        ]
    }

    fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
        for m in mutations {
            match m {
                Mutation::Insert(i, b) => bytes.insert(i.index(bytes.len() + 1), *b),
                Mutation::Delete(i) if !bytes.is_empty() => {
                    bytes.remove(i.index(bytes.len()));
                }
                Mutation::Replace(i, b) if !bytes.is_empty() => {
                    let at = i.index(bytes.len());
                    bytes[at] = *b;
                }
                _ => {}
            }
        }
        bytes
    }

    /// The first value as serde_json's stream reader sees it.
    fn serde_first(bytes: &[u8]) -> Option<Result<Value, serde_json::Error>> {
        serde_json::Deserializer::from_slice(bytes)
            .into_iter::<Value>()
            .next()
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn never_panics_on_arbitrary_bytes(
            bytes in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..400),
                prop::collection::vec(json_byte(), 0..400),
            ],
        ) {
            if let Ok(value) = decode_first(&bytes) {
                let _ = value.go_sprint();
            }
        }

        #[test]
        fn agrees_with_serde_json_on_valid_json(
            value in json_value(),
            pretty in any::<bool>(),
            lead in "[ \t\r\n]{0,3}",
            trail in "[ \t\r\n]{0,3}[a-z{}\\[\\],]{0,3}",
        ) {
            let text = if pretty {
                serde_json::to_string_pretty(&value)
            } else {
                serde_json::to_string(&value)
            }
            .expect("serialises");
            // json.Decoder.Decode reads the first value and leaves whatever follows it.
            let delimited = matches!(value, Value::Array(_) | Value::Object(_) | Value::String(_));
            let trail = if delimited { trail } else { format!(" {trail}") };
            let input = format!("{lead}{text}{trail}");
            let decoded = decode_first(input.as_bytes()).expect("valid JSON decodes");
            let expected: Value = serde_json::from_str(&text).expect("valid");
            prop_assert_eq!(to_serde(&decoded), expected);
        }

        #[test]
        fn agrees_with_serde_json_on_mutated_json(
            value in json_value(),
            mutations in prop::collection::vec(mutation(), 1..4),
        ) {
            let bytes = mutate(serde_json::to_vec(&value).expect("serialises"), &mutations);
            match (decode_first(&bytes), serde_first(&bytes)) {
                (Ok(ours), Some(Ok(theirs))) => prop_assert_eq!(to_serde(&ours), theirs),
                (Err(_), Some(Ok(theirs))) => {
                    prop_assert!(false, "serde_json reads {theirs:?} from {:?}, we refuse it",
                        String::from_utf8_lossy(&bytes));
                }
                (Ok(ours), Some(Err(err))) => {
                    // Where Go reads what serde_json refuses: a scalar followed by anything
                    // (`1x`), a number beyond f64 (kept as its literal), invalid UTF-8 and lone
                    // surrogates (U+FFFD).
                    let message = err.to_string();
                    // And a top-level number with a leading zero: `01` is `0` then `1` for
                    // Go's decoder (the scanner ends the value at the second digit).
                    let text = String::from_utf8_lossy(&bytes);
                    let body = text.trim_start_matches([' ', '\t', '\r', '\n']);
                    let digits = body.strip_prefix('-').unwrap_or(body).as_bytes();
                    let leading_zero = digits.first() == Some(&b'0')
                        && digits.get(1).is_some_and(u8::is_ascii_digit);
                    prop_assert!(
                        (leading_zero && matches!(ours, GoValue::Number(_))
                            && message.starts_with("invalid number")) ||
                        ["trailing characters", "number out of range", "invalid unicode code point",
                            "lone leading surrogate", "unexpected end of hex escape"]
                            .iter()
                            .any(|known| message.starts_with(known)),
                        "we read {ours:?} from {:?}, serde_json: {message}",
                        String::from_utf8_lossy(&bytes)
                    );
                }
                (ours, None) => {
                    prop_assert!(ours.is_err());
                    prop_assert!(bytes.iter().all(|b| b" \t\r\n".contains(b)));
                }
                (Err(_), Some(Err(_))) => {}
            }
        }

        #[test]
        fn invalid_utf8_becomes_one_replacement_per_byte(
            // Anything but a quote, a backslash or a control character (moved to 0x80 and up).
            raw in prop::collection::vec(
                any::<u8>().prop_map(|b| if b < 0x20 || b == b'"' || b == b'\\' { b | 0x80 } else { b }),
                0..40,
            ),
        ) {
            let mut input = vec![b'"'];
            input.extend_from_slice(&raw);
            input.push(b'"');
            let decoded = decode_first(&input).expect("a string");
            prop_assert_eq!(decoded, GoValue::String(go_string(&raw)));
            // As a key too.
            let mut object = b"{".to_vec();
            object.extend_from_slice(&input);
            object.extend_from_slice(b":1}");
            let GoValue::Object(entries) = decode_first(&object).expect("an object") else {
                panic!("not an object");
            };
            prop_assert_eq!(&entries[0].0, &go_string(&raw));
        }

        #[test]
        fn surrogate_escapes_like_go(units in prop::collection::vec(
            prop_oneof![0xD800u32..0xE000, 0u32..0x10000], 0..6)
        ) {
            let escaped: String = units.iter().map(|u| format!("\\u{u:04x}")).collect();
            let decoded = decode_first(format!("\"{escaped}\"").as_bytes()).expect("a string");
            // Go pairs a high surrogate with a directly following low one; any other
            // surrogate is U+FFFD (encoding/json/decode.go, unquoteBytes).
            let units16: Vec<u16> = units.iter().map(|&u| u as u16).collect();
            let expected: String = char::decode_utf16(units16)
                .map(|c| c.unwrap_or('\u{FFFD}'))
                .collect();
            prop_assert_eq!(decoded, GoValue::String(expected));
        }

        /// Go's scanner allows 10,000 levels (encoding/json/scanner.go, maxNestingDepth); the
        /// emulator refuses past 512, which keeps its recursion well inside a thread's stack.
        #[test]
        fn nesting_is_bounded(depth in 0usize..1200, object in any::<bool>()) {
            let (open, close) = if object { ("{\"a\":", "}") } else { ("[", "]") };
            let text = format!("{}1{}", open.repeat(depth), close.repeat(depth));
            let result = decode_first(text.as_bytes());
            prop_assert_eq!(result.is_ok(), depth <= MAX_DEPTH, "depth {}", depth);
        }
    }
}
