//! Request parameters bound the way gin binds them into the server's Go structs.
//!
//! JSON: encoding/json rules (keys match field names exactly or case-insensitively with Go's
//! folding, `null` leaves the zero value, a value of the wrong JSON type is an error, integers
//! must be integer literals). Query string: gin's form binding (case-sensitive keys, first
//! value, `strconv.ParseInt` / `ParseBool`). Any error means code 1.

use axum::http::Method;

use crate::gojson::GoValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    Bool,
}

/// One Go struct field: its JSON/form name and its type.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
}

pub const fn field(name: &'static str, kind: Kind) -> Field {
    Field { name, kind }
}

#[derive(Debug, Clone, PartialEq)]
enum Bound {
    Str(String),
    Int(i64),
    Bool(bool),
}

/// The bound struct: every field present, zero-valued when not sent.
#[derive(Debug, Clone)]
pub struct BoundFields {
    fields: Vec<(&'static str, Bound)>,
}

/// Binding failed: gin answers `ErrForm` (code 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindError;

impl BoundFields {
    fn zero(fields: &[Field]) -> BoundFields {
        BoundFields {
            fields: fields
                .iter()
                .map(|f| {
                    let zero = match f.kind {
                        Kind::Str => Bound::Str(String::new()),
                        Kind::Int => Bound::Int(0),
                        Kind::Bool => Bound::Bool(false),
                    };
                    (f.name, zero)
                })
                .collect(),
        }
    }

    fn slot(&mut self, name: &str) -> Option<&mut Bound> {
        self.fields
            .iter_mut()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    fn get(&self, name: &str) -> Option<&Bound> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    pub fn str(&self, name: &str) -> &str {
        match self.get(name) {
            Some(Bound::Str(s)) => s,
            _ => "",
        }
    }

    pub fn int(&self, name: &str) -> i64 {
        match self.get(name) {
            Some(Bound::Int(i)) => *i,
            _ => 0,
        }
    }

    pub fn bool(&self, name: &str) -> bool {
        matches!(self.get(name), Some(Bound::Bool(true)))
    }
}

/// `json.Unmarshal(body, &struct)` on an already decoded value.
pub fn bind_json(value: &GoValue, fields: &[Field]) -> Result<BoundFields, BindError> {
    let mut bound = BoundFields::zero(fields);
    let entries = match value {
        GoValue::Object(entries) => entries,
        // `null` into a struct is a no-op; any other JSON type is an UnmarshalTypeError.
        GoValue::Null => return Ok(bound),
        _ => return Err(BindError),
    };
    let mut failed = false;
    for (key, value) in entries {
        let Some(target) = match_field(key, fields) else {
            continue;
        };
        let new_value = match (target.kind, value) {
            (_, GoValue::Null) => continue,
            (Kind::Str, GoValue::String(s)) => Bound::Str(s.clone()),
            (Kind::Int, GoValue::Number(literal)) => match parse_go_int(literal) {
                Some(i) => Bound::Int(i),
                None => {
                    failed = true;
                    continue;
                }
            },
            (Kind::Bool, GoValue::Bool(b)) => Bound::Bool(*b),
            // Go keeps decoding after a type error and reports it at the end.
            _ => {
                failed = true;
                continue;
            }
        };
        if let Some(slot) = bound.slot(target.name) {
            *slot = new_value;
        }
    }
    if failed {
        Err(BindError)
    } else {
        Ok(bound)
    }
}

/// gin's form binding from query parameters (already parsed by [`parse_go_query`]).
pub fn bind_query(query: &[(String, String)], fields: &[Field]) -> Result<BoundFields, BindError> {
    let mut bound = BoundFields::zero(fields);
    for f in fields {
        let Some(raw) = first_value(query, f.name) else {
            continue;
        };
        let value = match f.kind {
            Kind::Str => Bound::Str(raw.to_owned()),
            Kind::Int if raw.is_empty() => Bound::Int(0),
            Kind::Int => Bound::Int(raw.parse::<i64>().map_err(|_| BindError)?),
            Kind::Bool if raw.is_empty() => Bound::Bool(false),
            Kind::Bool => Bound::Bool(parse_go_bool(raw).ok_or(BindError)?),
        };
        if let Some(slot) = bound.slot(f.name) {
            *slot = value;
        }
    }
    Ok(bound)
}

/// gin's `ShouldBind` for a content type other than JSON (`binding.Form`): net/http's
/// `Request.ParseForm` reads an urlencoded body for POST, PUT and PATCH, then the query
/// string, each with `url.ParseQuery` (an error fails the binding); body values come first.
pub fn bind_form(
    method: &Method,
    content_type: &str,
    body: &[u8],
    raw_query: &str,
    fields: &[Field],
) -> Result<BoundFields, BindError> {
    let mut values = Vec::new();
    let has_body = [Method::POST, Method::PUT, Method::PATCH].contains(method);
    if has_body && content_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        values = parse_go_form_query(&String::from_utf8_lossy(body))?;
    }
    values.extend(parse_go_form_query(raw_query)?);
    bind_query(&values, fields)
}

/// encoding/json picks the exactly named field first, else a case-folded match.
fn match_field<'f>(key: &str, fields: &'f [Field]) -> Option<&'f Field> {
    fields
        .iter()
        .find(|f| f.name == key)
        .or_else(|| fields.iter().find(|f| go_fold_eq(key, f.name)))
}

/// Go's `foldName` comparison against an ASCII field name: ASCII letters fold by case, and
/// the only non-ASCII runes that fold onto ASCII letters are K (Kelvin), ſ, ı and İ.
fn go_fold_eq(key: &str, ascii_field: &str) -> bool {
    let mut chars = key.chars();
    for expected in ascii_field.bytes() {
        let Some(ch) = chars.next() else {
            return false;
        };
        let folded = match ch {
            '\u{212A}' => 'K',
            '\u{017F}' => 'S',
            '\u{0131}' | '\u{0130}' => 'I',
            c => c.to_ascii_uppercase(),
        };
        if folded != char::from(expected.to_ascii_uppercase()) {
            return false;
        }
    }
    chars.next().is_none()
}

/// `strconv.ParseInt(literal, 10, 64)` on a JSON number literal: `1.0` and `1e3` fail.
fn parse_go_int(literal: &str) -> Option<i64> {
    literal.parse::<i64>().ok()
}

/// `strconv.ParseBool`.
fn parse_go_bool(raw: &str) -> Option<bool> {
    match raw {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The first value of `key`, like `url.Values.Get`.
pub fn first_value<'q>(query: &'q [(String, String)], key: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Go's `URL.Query()`: `url.ParseQuery` with its error ignored. Pairs split on `&`; a pair
/// containing `;` or a bad percent escape is dropped; `+` is a space.
pub fn parse_go_query(raw: &str) -> Vec<(String, String)> {
    parse_query(raw).0
}

/// Go's `url.ParseQuery` as `Request.ParseForm` uses it (gin's form binding): a `;` in a pair
/// or a bad percent escape is an error, so the binding fails (code 1).
pub fn parse_go_form_query(raw: &str) -> Result<Vec<(String, String)>, BindError> {
    match parse_query(raw) {
        (pairs, false) => Ok(pairs),
        (_, true) => Err(BindError),
    }
}

/// The pairs Go keeps and whether `url.ParseQuery` reported an error.
fn parse_query(raw: &str) -> (Vec<(String, String)>, bool) {
    let mut pairs = Vec::new();
    let mut malformed = false;
    for part in raw.split('&') {
        if part.contains(';') {
            malformed = true;
            continue;
        }
        if part.is_empty() {
            continue;
        }
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        match (query_unescape(key), query_unescape(value)) {
            (Some(key), Some(value)) => pairs.push((key, value)),
            _ => malformed = true,
        }
    }
    (pairs, malformed)
}

fn query_unescape(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = hex_value(*bytes.get(i + 1)?)?;
                let lo = hex_value(*bytes.get(i + 2)?)?;
                out.push(hi * 16 + lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Go's `url.QueryEscape`.
pub fn go_query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gojson::decode_first;

    const FIELDS: [Field; 3] = [
        field("token", Kind::Str),
        field("valid", Kind::Int),
        field("accessToken", Kind::Bool),
    ];

    fn json(text: &str) -> Result<BoundFields, BindError> {
        let value = decode_first(text.as_bytes()).map_err(|_| BindError)?;
        bind_json(&value, &FIELDS)
    }

    #[test]
    fn binds_json_like_encoding_json() {
        let b = json(r#"{"TOKEN":"a","valid":5,"accessToken":true}"#).expect("binds");
        assert_eq!(
            (b.str("token"), b.int("valid"), b.bool("accessToken")),
            ("a", 5, true)
        );
        let b = json(r#"{"token":"a","token":null,"to\u212aen":"k"}"#).expect("binds");
        assert_eq!(b.str("token"), "k");
        assert!(json(r#"{"valid":1.0}"#).is_err());
        assert!(json(r#"{"valid":"1"}"#).is_err());
        assert!(json(r#"{"accessToken":"true"}"#).is_err());
        assert!(json(r#"[1]"#).is_err());
        assert!(json("null").is_ok());
    }

    #[test]
    fn parses_queries_like_go() {
        let q = parse_go_query("a=1&a=2&b=x+y%21&c;d=1&e=%zz&&f");
        assert_eq!(
            q,
            vec![
                ("a".into(), "1".into()),
                ("a".into(), "2".into()),
                ("b".into(), "x y!".into()),
                ("f".into(), "".into())
            ]
        );
        let b = bind_query(&q, &[field("a", Kind::Int)]).expect("binds");
        // net/http's ParseForm (gin's form binding) reports what URL.Query() drops.
        assert!(parse_go_form_query("c;d=1").is_err());
        assert!(parse_go_form_query("e=%zz").is_err());
        assert!(parse_go_form_query("%4=1").is_err());
        assert_eq!(
            parse_go_form_query("a=1&&b=%21").expect("well formed"),
            vec![("a".into(), "1".into()), ("b".into(), "!".into())]
        );
        assert_eq!(b.int("a"), 1);
        assert_eq!(go_query_escape("a b*~é"), "a+b%2A~%C3%A9");
    }
}

/// Property tests on hostile input (256 cases per property, `PROPTEST_CASES` for more): Go's
/// `url.ParseQuery` (net/url/url.go) and gin's form binding (gin/binding/form_mapping.go,
/// `strconv.ParseInt` / `ParseBool`) are the reference.
#[cfg(test)]
mod props {
    use super::*;
    use crate::gojson::decode_first;
    use proptest::prelude::*;
    use proptest::test_runner::Config as ProptestConfig;

    fn config() -> ProptestConfig {
        let mut config = ProptestConfig::default();
        if std::env::var_os("PROPTEST_CASES").is_none() {
            config.cases = 256;
        }
        config.failure_persistence = None;
        config.max_global_rejects = config.cases.max(1024);
        config
    }

    /// One byte of a key or value, written as a client might: raw when that is unambiguous,
    /// else (or by choice) `%XX` in either case, a space maybe as `+`.
    fn escaped_byte(b: u8, choice: u8, in_key: bool) -> String {
        let must_escape = matches!(b, b'%' | b'&' | b'+' | b';' | b'#')
            || (in_key && b == b'=')
            || !b.is_ascii()
            || b.is_ascii_control();
        match choice % 4 {
            0 if b == b' ' => "+".to_owned(),
            0 | 1 if !must_escape => char::from(b).to_string(),
            2 => format!("%{b:02x}"),
            _ => format!("%{b:02X}"),
        }
    }

    fn encode(text: &str, choices: &[u8], in_key: bool) -> String {
        text.bytes()
            .enumerate()
            .map(|(i, b)| escaped_byte(b, choices.get(i).copied().unwrap_or(0), in_key))
            .collect()
    }

    fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
        prop::collection::vec(
            (
                prop_oneof![any::<String>(), "[a-zA-Z]{1,8}", Just(String::new())],
                prop_oneof![any::<String>(), "[ -~]{0,12}", Just(String::new())],
            ),
            0..8,
        )
    }

    /// A query part Go refuses: a `;`, or a `%` not followed by two hex digits.
    fn bad_part() -> impl Strategy<Value = String> {
        prop_oneof![
            ("[a-z=]{0,4}", "[a-z=]{0,4}").prop_map(|(a, b)| format!("{a};{b}")),
            ("[a-z]{0,4}", "[0-9a-fA-F]?[g-zG-Z%=]?").prop_map(|(a, b)| format!("{a}%{b}")),
            ("[a-z]{1,4}", "[a-z]{0,4}", "[0-9a-fA-F]?[g-zG-Z%]?")
                .prop_map(|(k, v, bad)| format!("{k}={v}%{bad}")),
        ]
        .prop_filter("really bad", |part| {
            part.contains(';')
                || query_unescape(part.split_once('=').map_or(part.as_str(), |p| p.0)).is_none()
                || query_unescape(part.split_once('=').map_or("", |p| p.1)).is_none()
        })
    }

    fn int_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i64>().prop_map(|i| i.to_string()),
            (0i64..1000).prop_map(|i| format!("+{i}")),
            "[0-9]{19,22}",
            "[-+]?[0-9]{0,3}[ .a-fxX_][0-9]{0,3}",
            "[-+]{1,2}",
        ]
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn never_panics_on_arbitrary_queries(raw in prop_oneof![
            any::<String>(),
            "[a-z0-9%&=;+#A-F]{0,60}",
        ]) {
            let pairs = parse_go_query(&raw);
            let form = parse_go_form_query(&raw);
            if let Ok(form) = &form {
                prop_assert_eq!(form, &pairs);
            }
            let fields = [field("a", Kind::Str), field("b", Kind::Int), field("c", Kind::Bool)];
            let _ = bind_query(&pairs, &fields);
            let _ = bind_form(&Method::POST, "application/x-www-form-urlencoded", raw.as_bytes(), &raw, &fields);
        }

        #[test]
        fn escaped_pairs_round_trip(
            pairs in pairs(),
            choices in prop::collection::vec(any::<u8>(), 64),
            go_escape in any::<bool>(),
        ) {
            let raw: Vec<String> = pairs
                .iter()
                .map(|(k, v)| if go_escape {
                    format!("{}={}", go_query_escape(k), go_query_escape(v))
                } else {
                    format!("{}={}", encode(k, &choices, true), encode(v, &choices, false))
                })
                .collect();
            let raw = raw.join("&");
            prop_assert_eq!(&parse_go_query(&raw), &pairs);
            prop_assert_eq!(&parse_go_form_query(&raw).expect("well formed"), &pairs);
            // `url.Values.Get`: the first value of a key.
            if let Some((key, value)) = pairs.first() {
                let parsed = parse_go_query(&raw);
                prop_assert_eq!(first_value(&parsed, key), Some(value.as_str()));
            }
        }

        #[test]
        fn bad_parts_are_dropped_or_refused(
            parts in prop::collection::vec(
                prop_oneof![
                    (pairs(), any::<bool>()).prop_map(|(p, empty)| Ok((p, empty))),
                    bad_part().prop_map(Err),
                ],
                0..8,
            ),
        ) {
            let mut raw = Vec::new();
            let mut kept = Vec::new();
            let mut any_bad = false;
            for part in &parts {
                match part {
                    Ok((pairs, empty)) => {
                        for (k, v) in pairs {
                            raw.push(format!("{}={}", go_query_escape(k), go_query_escape(v)));
                            kept.push((k.clone(), v.clone()));
                        }
                        if *empty {
                            raw.push(String::new());
                        }
                    }
                    Err(bad) => {
                        raw.push(bad.clone());
                        any_bad = true;
                    }
                }
            }
            let raw = raw.join("&");
            // URL.Query() drops what it cannot read; ParseForm (gin's form binding) fails.
            prop_assert_eq!(&parse_go_query(&raw), &kept, "{:?}", raw);
            prop_assert_eq!(parse_go_form_query(&raw).is_err(), any_bad, "{:?}", raw);
            let fields = [field("token", Kind::Str)];
            prop_assert_eq!(
                bind_form(&Method::GET, "", b"", &raw, &fields).is_err(),
                any_bad
            );
        }

        #[test]
        fn query_ints_and_bools_bind_like_strconv(
            int in int_text(),
            boolean in prop_oneof![
                prop::sample::select(vec!["1", "t", "T", "TRUE", "true", "True", "0", "f", "F",
                    "FALSE", "false", "False", ""]).prop_map(str::to_owned),
                "[a-zA-Z01 ]{1,6}",
            ],
            later in any::<i64>(),
        ) {
            let query = vec![
                ("valid".to_owned(), int.clone()),
                ("valid".to_owned(), later.to_string()),
                ("accessToken".to_owned(), boolean.clone()),
            ];
            let fields = [field("valid", Kind::Int), field("accessToken", Kind::Bool)];
            // strconv.ParseInt(s, 10, 64): an optional sign and decimal digits, in range.
            let digits = int.strip_prefix(['+', '-']).unwrap_or(&int);
            let int_ok = int.is_empty() || (!digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
                && int.parse::<i128>().is_ok_and(|i| i64::try_from(i).is_ok()));
            let bool_value = match boolean.as_str() {
                "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
                "0" | "f" | "F" | "FALSE" | "false" | "False" | "" => Some(false),
                _ => None,
            };
            match bind_query(&query, &fields) {
                Ok(bound) => {
                    prop_assert!(int_ok && bool_value.is_some());
                    // The first value counts, an empty one is zero.
                    prop_assert_eq!(bound.int("valid"), if int.is_empty() { 0 } else {
                        int.parse::<i64>().expect("in range") });
                    prop_assert_eq!(Some(bound.bool("accessToken")), bool_value);
                }
                Err(BindError) => prop_assert!(!int_ok || bool_value.is_none()),
            }
        }

        #[test]
        fn json_binds_like_encoding_json(
            token in any::<String>(),
            valid in any::<i64>(),
            access in any::<bool>(),
            key_case in prop::collection::vec(any::<bool>(), 11),
            nulls in any::<(bool, bool, bool)>(),
        ) {
            // Any case of a field name matches it (Go's case folding).
            let recase = |name: &str| -> String {
                name.chars().zip(key_case.iter().cycle())
                    .map(|(c, up)| if *up { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
                    .collect()
            };
            let value = |null: bool, v: serde_json::Value| if null { serde_json::Value::Null } else { v };
            let body = serde_json::json!({
                recase("token"): value(nulls.0, token.clone().into()),
                recase("valid"): value(nulls.1, valid.into()),
                recase("accessToken"): value(nulls.2, access.into()),
                "unknown": [1, {"x": null}],
            });
            let fields = [field("token", Kind::Str), field("valid", Kind::Int), field("accessToken", Kind::Bool)];
            let decoded = decode_first(body.to_string().as_bytes()).expect("valid JSON");
            let bound = bind_json(&decoded, &fields).expect("binds");
            // `null` leaves the zero value.
            prop_assert_eq!(bound.str("token"), if nulls.0 { "" } else { token.as_str() });
            prop_assert_eq!(bound.int("valid"), if nulls.1 { 0 } else { valid });
            prop_assert_eq!(bound.bool("accessToken"), !nulls.2 && access);
            // A value of another JSON type is an error, whatever else binds.
            for (name, wrong) in [
                ("token", serde_json::json!(1)),
                ("valid", serde_json::json!("1")),
                ("valid", serde_json::json!(1.5)),
                ("accessToken", serde_json::json!("true")),
                ("token", serde_json::json!([token])),
            ] {
                let body = serde_json::json!({"token": "t", (recase(name)): wrong});
                let decoded = decode_first(body.to_string().as_bytes()).expect("valid JSON");
                prop_assert_eq!(bind_json(&decoded, &fields).err(), Some(BindError));
            }
        }
    }
}
