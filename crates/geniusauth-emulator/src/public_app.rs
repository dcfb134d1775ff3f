//! `GET /api/v1/public/app/?appCode=…`, unsigned and behind `Secure()`
//! (`internal/api/router/public/app.go`, handler `AppInfo` in
//! `internal/api/controllers/public/app/data.go`): the app's registered name and its
//! callback's `host[:port]`; without an appCode, the server's own name and the request's Host.

use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;

use crate::binding::{bind_query, field, parse_go_form, Kind};
use crate::codes;
use crate::envelope::{success, ApiError};
use crate::server::SharedState;

/// `global.ThisAppName` (`internal/global/config.go`).
pub const SERVER_APP_NAME: &str = "统一授权系统";

/// `gin.H{"name", "host"}`: encoded as a map, so keys in sorted order.
#[derive(Serialize)]
struct AppInfo {
    host: String,
    name: String,
}

pub fn app_info(
    state: &SharedState,
    raw_query: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    // `c.ShouldBind` on a GET is form binding: the query string (a malformed one is code 1).
    let f = bind_query(&parse_go_form(raw_query)?, &[field("appCode", Kind::Str)])?;
    let app_code = f.str("appCode");
    if app_code.is_empty() {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        return Ok(success(AppInfo {
            host: host.to_owned(),
            name: SERVER_APP_NAME.to_owned(),
        }));
    }
    let app = state
        .store()
        .app_by_code(app_code)
        .map_err(|_| ApiError::from(codes::DB_OPERATION))?
        .ok_or(ApiError::from(codes::APP_CODE_NOT_FOUND))?;
    Ok(success(AppInfo {
        host: go_url_host(&app.callback),
        name: app.name,
    }))
}

/// Go's `url.URL.Host`: the authority without user info, port kept as written (even a
/// default one), brackets of an IPv6 literal kept.
fn go_url_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::go_url_host;

    #[test]
    fn host_as_go_parses_it() {
        assert_eq!(
            go_url_host("http://localhost:47150/callback"),
            "localhost:47150"
        );
        assert_eq!(
            go_url_host("https://app.ncuos.com:443/cb?x=1"),
            "app.ncuos.com:443"
        );
        assert_eq!(go_url_host("https://u:p@app.ncuos.com"), "app.ncuos.com");
        assert_eq!(go_url_host("http://[::1]:9/"), "[::1]:9");
    }
}
