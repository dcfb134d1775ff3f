//! The app signature that authenticates every call to GeniusAuth.
//!
//! signature = lowercase hex SHA-256 of `k1=v1&k2=v2&...`: every parameter sent (except
//! `signature`) plus `appSecret`, sorted by key in byte order, each value rendered the way Go's
//! `fmt.Sprint` renders the decoded JSON value.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::secret::AppSecret;

/// A top-level request parameter: the only value kinds the protocol sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    Str(String),
    Int(i64),
    Bool(bool),
}

impl ParamValue {
    /// The JSON value sent in a POST/PATCH body.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            ParamValue::Str(s) => serde_json::Value::from(s.as_str()),
            ParamValue::Int(i) => serde_json::Value::from(*i),
            ParamValue::Bool(b) => serde_json::Value::from(*b),
        }
    }
}

/// Text as Go's `fmt.Sprint` gives it: strings unquoted, integers as digits, `true`/`false`.
/// The same text is what a GET/DELETE query string carries.
impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Str(s) => f.write_str(s),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl From<&str> for ParamValue {
    fn from(value: &str) -> Self {
        ParamValue::Str(value.to_owned())
    }
}

impl From<String> for ParamValue {
    fn from(value: String) -> Self {
        ParamValue::Str(value)
    }
}

impl From<i64> for ParamValue {
    fn from(value: i64) -> Self {
        ParamValue::Int(value)
    }
}

impl From<bool> for ParamValue {
    fn from(value: bool) -> Self {
        ParamValue::Bool(value)
    }
}

/// The exact text that gets hashed. Exposed for debugging signature mismatches; it contains
/// the secret, so never log it.
pub fn signing_string(params: &[(&str, ParamValue)], secret: &AppSecret) -> String {
    let mut pairs: Vec<(&str, String)> = params
        .iter()
        .filter(|(key, _)| *key != "signature" && *key != "appSecret")
        .map(|(key, value)| (*key, value.to_string()))
        .collect();
    pairs.push(("appSecret", secret.expose().to_owned()));
    // Byte order, like Go's sort.Strings; stable so a duplicated key keeps a fixed order.
    pairs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    pairs
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Lowercase hex SHA-256 signature over `params` (which must already hold `appCode` and
/// `timeStamp`) and the secret.
pub fn sign(params: &[(&str, ParamValue)], secret: &AppSecret) -> String {
    hex::encode(Sha256::digest(signing_string(params, secret).as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_page_example() {
        let params = [
            ("token", ParamValue::from("abc")),
            ("appCode", ParamValue::from("Ab3dE6g8")),
            ("timeStamp", ParamValue::Int(1_700_000_000)),
        ];
        let secret = AppSecret::new("S");
        assert_eq!(
            signing_string(&params, &secret),
            "appCode=Ab3dE6g8&appSecret=S&timeStamp=1700000000&token=abc"
        );
        assert_eq!(
            sign(&params, &secret),
            hex::encode(Sha256::digest(
                b"appCode=Ab3dE6g8&appSecret=S&timeStamp=1700000000&token=abc"
            ))
        );
    }

    #[test]
    fn signature_key_is_never_signed() {
        let secret = AppSecret::new("S");
        let with = [
            ("a", ParamValue::Bool(true)),
            ("signature", ParamValue::from("x")),
        ];
        let without = [("a", ParamValue::Bool(true))];
        assert_eq!(sign(&with, &secret), sign(&without, &secret));
    }
}
