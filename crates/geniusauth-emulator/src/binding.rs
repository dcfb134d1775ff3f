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
