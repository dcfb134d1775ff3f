//! The response envelope `{"code":0,"data":...}` / `{"code":N,"msg":"..."}`, serialised the way
//! gin's `c.JSON` does it (Go's encoding/json escapes `<`, `>`, `&`, U+2028 and U+2029).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::codes::ApiCode;

/// A production error answer: a code from the table, optionally with another message
/// (gin's `callback.ErrorWithTip`).
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ApiCode,
    pub msg: Option<String>,
}

impl ApiError {
    pub fn with_tip(code: ApiCode, tip: &str) -> ApiError {
        ApiError {
            code,
            msg: Some(tip.to_owned()),
        }
    }
}

impl From<ApiCode> for ApiError {
    fn from(code: ApiCode) -> ApiError {
        ApiError { code, msg: None }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: u8,
    msg: &'a str,
}

#[derive(Serialize)]
struct SuccessBody<T: Serialize> {
    code: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<T>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let msg = self.msg.as_deref().unwrap_or(self.code.msg);
        let status = StatusCode::from_u16(self.code.status).unwrap_or(StatusCode::BAD_REQUEST);
        json_response(
            status,
            &ErrorBody {
                code: self.code.code,
                msg,
            },
        )
    }
}

/// `{"code":0,"data":...}` with HTTP 200.
pub fn success<T: Serialize>(data: T) -> Response {
    json_response(
        StatusCode::OK,
        &SuccessBody {
            code: 0,
            data: Some(data),
        },
    )
}

/// `{"code":0}` with HTTP 200 (gin's `callback.Default`).
pub fn success_empty() -> Response {
    json_response(
        StatusCode::OK,
        &SuccessBody::<()> {
            code: 0,
            data: None,
        },
    )
}

/// Serialises like Go's `json.Marshal` and answers with gin's JSON content type.
pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response {
    let body = go_json(value);
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// JSON text as Go's encoding/json writes it. Those characters can only occur inside JSON
/// strings, so replacing them in the serialised text is exact.
pub fn go_json<T: Serialize>(value: &T) -> String {
    let text = match serde_json::to_string(value) {
        Ok(text) => text,
        // Only non-string map keys can fail, and none of our types have them.
        Err(_) => return String::from("null"),
    };
    go_escape(&text)
}

fn go_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        assert_eq!(
            go_json(&"a<b>&c\u{2028}"),
            r#""a\u003cb\u003e\u0026c\u2028""#
        );
    }

    #[test]
    fn omits_data_when_none() {
        let body = SuccessBody::<()> {
            code: 0,
            data: None,
        };
        assert_eq!(go_json(&body), r#"{"code":0}"#);
    }
}
