//! The sign-in page standing in for the server's front end: `GET /?appCode=…` lists the users,
//! choosing one redirects (302) to the app's registered callback with `token=<login token>`
//! added to its query, built like the server's `tools.GenCallback`.

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::avatar::avatar_url;
use crate::binding::{first_value, go_query_escape, parse_go_query};
use crate::error::Error;
use crate::state::SharedState;
use crate::store::{App, Group, User};

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;background:#f4f6fa;margin:0;color:#1f2329}
main{max-width:460px;margin:48px auto;background:#fff;border-radius:12px;box-shadow:0 4px 24px rgba(0,0,0,.08);padding:28px 32px}
h1{font-size:20px;margin:0 0 4px}p.sub{color:#646a73;margin:0 0 20px;font-size:14px}
form{margin:0}button.user{display:flex;align-items:center;gap:12px;width:100%;padding:10px 12px;margin:6px 0;border:1px solid #dee0e3;border-radius:8px;background:#fff;cursor:pointer;text-align:left;font-size:15px}
button.user:hover{border-color:#3370ff;background:#f0f4ff}img{width:40px;height:40px;border-radius:50%}
.groups{color:#646a73;font-size:12px}.note{color:#8f959e;font-size:12px;margin-top:20px}
.error h1{color:#d83931}
";

pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

fn html_page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>\n",
        html_escape(title)
    );
    let mut response = (status, html).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// A bilingual error page.
pub fn error_page(status: StatusCode, chinese: &str, english: &str) -> Response {
    let body = format!(
        "<div class=\"error\"><h1>{} · {}</h1><p class=\"sub\">{}</p><p class=\"sub\">{}</p></div>\
         <p class=\"note\">GeniusAuth 模拟器 · GeniusAuth emulator</p>",
        html_escape("无法登录"),
        html_escape("Cannot sign in"),
        html_escape(chinese),
        html_escape(english)
    );
    html_page(status, "GeniusAuth · 错误 / Error", &body)
}

/// What the front end serves for any other GET path (the server's SPA index.html).
pub fn front_end_index() -> String {
    "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>GeniusAuth</title></head>\
     <body><p>GeniusAuth 模拟器：请从应用跳转到 <code>/?appCode=…</code> 登录。</p>\
     <p>GeniusAuth emulator: apps send users to <code>/?appCode=…</code> to sign in.</p></body></html>\n"
        .to_owned()
}

/// `GET /?appCode=…`
pub async fn page(State(state): State<SharedState>, request: Request) -> Response {
    let query = parse_go_query(request.uri().query().unwrap_or(""));
    let app_code = first_value(&query, "appCode").unwrap_or("");
    let loaded = {
        let store = state.store();
        let app = store.app_by_code(app_code);
        let users = store.users();
        match (app, users) {
            (Ok(Some(app)), Ok(users)) => {
                let mut listed = Vec::with_capacity(users.len());
                for user in users {
                    let groups = store.user_groups(user.id).unwrap_or_default();
                    listed.push((user, groups));
                }
                Ok((app, listed))
            }
            (Ok(None), _) => Err(None),
            (Err(e), _) | (_, Err(e)) => Err(Some(e)),
        }
    };
    match loaded {
        Ok((app, users)) => render_page(&state.base_url, &app, &users),
        Err(None) if app_code.is_empty() => error_page(
            StatusCode::NOT_FOUND,
            "缺少 appCode：请从应用的登录按钮进入本页。",
            "Missing appCode: open this page through an application's sign-in button.",
        ),
        Err(None) => error_page(
            StatusCode::NOT_FOUND,
            &format!("没有找到授权码 {app_code:?}：该应用未注册。"),
            &format!("Unknown appCode {app_code:?}: no application is registered with it."),
        ),
        Err(Some(e)) => error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "模拟器数据库出错。",
            &format!("The emulator's database failed: {e}"),
        ),
    }
}

fn render_page(base_url: &str, app: &App, users: &[(User, Vec<Group>)]) -> Response {
    let mut list = String::new();
    for (user, groups) in users {
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        list.push_str(&format!(
            "<button class=\"user\" type=\"submit\" name=\"uid\" value=\"{}\">\
             <img src=\"{}\" alt=\"\"><span>{}<br><span class=\"groups\">{}</span></span></button>",
            user.id,
            html_escape(&avatar_url(user, base_url)),
            html_escape(&user.name),
            html_escape(&names.join(" · "))
        ));
    }
    let body = format!(
        "<h1>登录 {name}</h1><p class=\"sub\">Sign in to {name}</p>\
         <p class=\"sub\">选择一个账号继续 · Choose an account to continue</p>\
         <form method=\"post\" action=\"/__emulator/authorize\">\
         <input type=\"hidden\" name=\"appCode\" value=\"{code}\">{list}</form>\
         <p class=\"note\">GeniusAuth 模拟器：无需密码，仅供开发测试。<br>\
         GeniusAuth emulator: no password, for development and tests only.</p>",
        name = html_escape(&app.name),
        code = html_escape(&app.app_code),
    );
    html_page(
        StatusCode::OK,
        &format!("登录 · Sign in — {}", app.name),
        &body,
    )
}

/// `POST /__emulator/authorize` (form) or `GET` with the same query: mint a login token and
/// send the browser to the callback.
pub async fn authorize(
    State(state): State<SharedState>,
    method: Method,
    request: Request,
) -> Response {
    let query_text = request.uri().query().unwrap_or("").to_owned();
    let mut params = parse_go_query(&query_text);
    if method == Method::POST {
        let body: Bytes = axum::body::to_bytes(request.into_body(), 64 * 1024)
            .await
            .unwrap_or_default();
        let mut form = parse_go_query(&String::from_utf8_lossy(&body));
        form.append(&mut params);
        params = form;
    }
    let app_code = first_value(&params, "appCode").unwrap_or("").to_owned();
    let uid = first_value(&params, "uid").and_then(|u| u.parse::<u64>().ok());
    let Some(uid) = uid else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "请选择一个用户。",
            "Choose a user.",
        );
    };
    let callback = state
        .store()
        .app_by_code(&app_code)
        .ok()
        .flatten()
        .map(|app| app.callback);
    match (state.login_token(&app_code, uid), callback) {
        (Ok(token), Some(callback)) => {
            let location = callback_with_token(&callback, &token);
            match HeaderValue::from_str(&location) {
                Ok(value) => {
                    let mut response = StatusCode::FOUND.into_response();
                    response.headers_mut().insert(header::LOCATION, value);
                    response
                }
                Err(_) => error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "应用的回调地址无效。",
                    "The application's callback URL is invalid.",
                ),
            }
        }
        (Err(Error::NoVisibleGroup { .. }), _) => error_page(
            StatusCode::FORBIDDEN,
            "找不到身份组，请联系管理员处理（该用户不在此应用可见的任何身份组中）。",
            "No group found: this user is in none of the groups the application may see.",
        ),
        (Err(Error::UnknownUser(_)), _) => {
            error_page(StatusCode::NOT_FOUND, "用户不存在。", "No such user.")
        }
        (Err(Error::UnknownApp(_)), _) | (Ok(_), None) => error_page(
            StatusCode::NOT_FOUND,
            &format!("没有找到授权码 {app_code:?}：该应用未注册。"),
            &format!("Unknown appCode {app_code:?}: no application is registered with it."),
        ),
        (Err(e), _) => error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "模拟器出错。",
            &format!("The emulator failed: {e}"),
        ),
    }
}

/// `tools.GenCallback`: the callback's query re-encoded by Go's `url.Values.Encode` (sorted
/// by key) with `token` set; everything else kept.
pub fn callback_with_token(callback: &str, token: &str) -> String {
    let (without_fragment, fragment) = match callback.split_once('#') {
        Some((before, after)) => (before, Some(after)),
        None => (callback, None),
    };
    let (base, query) = without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""));
    let mut pairs = parse_go_query(query);
    pairs.retain(|(k, _)| k != "token");
    pairs.push(("token".to_owned(), token.to_owned()));
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", go_query_escape(k), go_query_escape(v)))
        .collect();
    let mut out = format!("{base}?{}", encoded.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_keeps_its_query() {
        assert_eq!(
            callback_with_token("http://localhost:47150/callback", "t.o.k"),
            "http://localhost:47150/callback?token=t.o.k"
        );
        assert_eq!(
            callback_with_token("http://h/cb?z=1&a=x+y&token=old#frag", "T"),
            "http://h/cb?a=x+y&token=T&z=1#frag"
        );
    }
}
