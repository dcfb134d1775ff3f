//! Reading a reply: the size-capped body and the `{"code","msg","data"}` envelope around it.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Error;

/// How much of an unexpected body an error keeps.
pub const SNIPPET_BYTES: usize = 200;

/// Reads the whole body, failing as soon as it grows past `limit` bytes so a hostile or broken
/// server cannot make us buffer without bound.
pub(crate) async fn read_capped_body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, Error> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(Error::BodyTooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(crate::client::transport_error)?
    {
        if body.len() + chunk.len() > limit {
            return Err(Error::BodyTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Decodes an envelope: `code` 0 gives `data` as `T` (an absent `data` reads as `null`), any
/// other code gives [`Error::Server`]. Whatever else arrives is [`Error::UnexpectedReply`].
pub fn decode_envelope<T: DeserializeOwned>(http_status: u16, body: &[u8]) -> Result<T, Error> {
    let unexpected = || Error::UnexpectedReply {
        http_status,
        snippet: snippet(body),
    };
    let Ok(Value::Object(mut envelope)) = serde_json::from_slice::<Value>(body) else {
        return Err(unexpected());
    };
    let Some(code) = envelope.get("code").and_then(Value::as_i64) else {
        return Err(unexpected());
    };
    if code != 0 {
        let msg = match envelope.get("msg") {
            Some(Value::String(msg)) => msg.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        return Err(Error::Server {
            code,
            msg,
            http_status,
        });
    }
    let data = envelope.remove("data").unwrap_or(Value::Null);
    serde_json::from_value(data).map_err(|_| unexpected())
}

/// The first [`SNIPPET_BYTES`] bytes as text, for error messages.
pub fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(SNIPPET_BYTES)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LoginResult, RefreshResult};

    #[test]
    fn success_with_wiki_field_names() {
        let body = r#"{"code":0,"data":{"id":8,"name":"孙翔宇","avatarUrl":"a","groups":["研发"],"refreshToken":"r","accessToken":"x","extra":1}}"#;
        let result: LoginResult = decode_envelope(200, body.as_bytes()).unwrap();
        assert_eq!(result.user_id, 8);
        assert_eq!(result.groups, vec!["研发".to_owned()]);
    }

    #[test]
    fn error_code_and_message() {
        let body = r#"{"code":31,"msg":"身份令牌无效或已过期"}"#;
        let err = decode_envelope::<RefreshResult>(403, body.as_bytes()).unwrap_err();
        assert_eq!(
            err,
            Error::Server {
                code: 31,
                msg: "身份令牌无效或已过期".into(),
                http_status: 403
            }
        );
    }

    #[test]
    fn garbage_is_unexpected_reply() {
        for body in [
            "",
            "null",
            "[]",
            "{\"code\":\"0\"}",
            "{\"code\":0,",
            "<html>",
        ] {
            let err = decode_envelope::<RefreshResult>(200, body.as_bytes()).unwrap_err();
            assert_eq!(err.code(), "unexpected_reply", "{body}");
        }
    }

    #[test]
    fn snippet_is_capped_and_lossy() {
        let mut body = vec![b'a'; 300];
        body[0] = 0xff;
        let s = snippet(&body);
        assert!(s.starts_with('\u{fffd}'));
        assert_eq!(s.chars().count(), 200);
    }
}
