//! The app signature check (`RequireAppSignature` in the server), step for step:
//! bind `appCode`/`timeStamp`/`signature` (code 1), check the timestamp window against the
//! server's wall clock (`time.Now()`, which `--clock-skew` shifts) (code 9), look the app up (code 3), then compare the SHA-256 of the sorted
//! `key=fmt.Sprint(value)` pairs plus `appSecret` (code 6).

use std::collections::BTreeMap;

use axum::http::Method;
use sha2::{Digest, Sha256};

use crate::binding::{
    bind_json, bind_query, field, parse_go_form_query, BindError, BoundFields, Field, Kind,
};
use crate::codes;
use crate::envelope::ApiError;
use crate::gojson::{decode_first, GoValue};
use crate::store::App;

const HEADER: [Field; 3] = [
    field("appCode", Kind::Str),
    field("timeStamp", Kind::Int),
    field("signature", Kind::Str),
];

const NANOS_PER_SECOND: i128 = 1_000_000_000;
/// Older than five minutes is expired.
const MAX_AGE_NS: i128 = 5 * 60 * NANOS_PER_SECOND;
/// More than ten seconds in the future is expired too.
const MAX_AHEAD_NS: i128 = 10 * NANOS_PER_SECOND;

/// Where the request's parameters came from.
#[derive(Debug, Clone)]
pub enum Params {
    /// POST/PATCH: the JSON body, kept for the handler (gin's `BodyBytesKey`).
    Body(GoValue),
    /// GET/DELETE: the query string.
    Query(Vec<(String, String)>),
}

impl From<BindError> for ApiError {
    fn from(_: BindError) -> ApiError {
        codes::FORM.into()
    }
}

impl Params {
    /// `tools.ShouldBindReused`: bind from the kept body, else from the query string.
    pub fn bind(&self, fields: &[Field]) -> Result<BoundFields, BindError> {
        match self {
            Params::Body(value) => bind_json(value, fields),
            Params::Query(query) => bind_query(query, fields),
        }
    }

    /// Every parameter sent, as `fmt.Sprint` text, keyed and deduplicated like the Go map.
    fn sprinted(&self) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        match self {
            Params::Body(GoValue::Object(entries)) => {
                for (key, value) in entries {
                    map.insert(key.clone(), value.go_sprint());
                }
            }
            Params::Body(_) => {}
            Params::Query(query) => {
                for (key, value) in query {
                    map.entry(key.clone()).or_insert_with(|| value.clone());
                }
            }
        }
        map
    }
}

/// A request whose signature checked out.
#[derive(Debug, Clone)]
pub struct Signed {
    pub app: App,
    pub params: Params,
}

/// Runs the middleware. `find_app` looks an appCode up (`Ok(None)` when unknown).
pub fn verify(
    method: &Method,
    raw_query: &str,
    body: &[u8],
    server_now_ns: i128,
    find_app: impl FnOnce(&str) -> Result<Option<App>, ApiError>,
) -> Result<Signed, ApiError> {
    let (header, params) = if method == Method::GET || method == Method::DELETE {
        // `c.ShouldBindWith(&header, binding.Form)`: ParseForm fails on a malformed query.
        let query = parse_go_form_query(raw_query)?;
        (bind_query(&query, &HEADER)?, Params::Query(query))
    } else {
        let value = decode_first(body).map_err(|_| ApiError::from(codes::FORM))?;
        (bind_json(&value, &HEADER)?, Params::Body(value))
    };
    let app_code = header.str("appCode");
    let time_stamp = header.int("timeStamp");
    let signature = header.str("signature");
    // binding:"required" rejects zero values.
    if app_code.is_empty() || time_stamp == 0 || signature.is_empty() {
        return Err(codes::FORM.into());
    }

    let age_ns = server_now_ns - i128::from(time_stamp) * NANOS_PER_SECOND;
    if !(-MAX_AHEAD_NS..=MAX_AGE_NS).contains(&age_ns) {
        return Err(codes::SIGNATURE_EXPIRED.into());
    }

    let app = find_app(app_code)?.ok_or(ApiError::from(codes::APP_CODE_NOT_FOUND))?;
    if signature != expected_signature(&params, &app.app_secret) {
        return Err(codes::UNAUTHORIZED.into());
    }
    Ok(Signed { app, params })
}

/// The lowercase hex signature the server expects for these parameters.
pub fn expected_signature(params: &Params, app_secret: &str) -> String {
    hex::encode(Sha256::digest(
        signing_string(params, app_secret).as_bytes(),
    ))
}

/// `k1=v1&k2=v2…` over every parameter but `signature`, plus `appSecret`, sorted by key.
pub fn signing_string(params: &Params, app_secret: &str) -> String {
    let mut map = params.sprinted();
    map.remove("signature");
    map.insert("appSecret".to_owned(), app_secret.to_owned());
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binding::parse_go_query;

    #[test]
    fn protocol_example() {
        let body = br#"{"token":"abc","appCode":"Ab3dE6g8","timeStamp":1700000000}"#;
        let params = Params::Body(decode_first(body).expect("json"));
        assert_eq!(
            signing_string(&params, "S"),
            "appCode=Ab3dE6g8&appSecret=S&timeStamp=1700000000&token=abc"
        );
    }

    #[test]
    fn client_cannot_override_the_secret() {
        let params = Params::Query(parse_go_query("appSecret=x&id=1,2&id=3"));
        assert_eq!(signing_string(&params, "S"), "appSecret=S&id=1,2");
    }
}
