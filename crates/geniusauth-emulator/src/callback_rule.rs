//! Which callback URLs an app may register, as the dashboard decides
//! (`internal/api/controllers/user/dev/app.go`: `checkCallback`, used by `ApplyApp` and
//! `ModifyApp`): a callback whose host is exactly `localhost` is accepted with any scheme;
//! any other host must be `https` (and on the site whitelist, which the emulator, being
//! offline, does not have: every https host counts as whitelisted).
//!
//! The emulator also requires an absolute http(s) URL, whatever the mode, because its login
//! page redirects the browser there; `--allow-any-callback` keeps only that requirement.

use crate::error::Error;

/// The rule's name in refusals, so that a test failure says what to change.
const RULE: &str = "the dashboard accepts a non-https callback only when its host is exactly \
                    `localhost`; any other host must be https \
                    (internal/api/controllers/user/dev/app.go: checkCallback)";

/// Checks an app's callback before it is registered (admin API or seed file).
pub fn check_callback(callback: &str, allow_any_callback: bool) -> Result<(), Error> {
    match url::Url::parse(callback) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {}
        _ => {
            return Err(Error::Invalid(format!(
                "callback {callback:?} is not an absolute http(s) URL"
            )))
        }
    }
    if allow_any_callback {
        return Ok(());
    }
    // `callbackUrl.Hostname() == "localhost"`: Go keeps the host's case, so `LOCALHOST` is
    // not localhost there.
    if go_hostname(callback).as_deref() == Some("localhost") {
        return Ok(());
    }
    if go_scheme(callback) != "https" {
        return Err(Error::Invalid(format!(
            "callback {callback:?} is refused: {RULE}; register http://localhost:<port>/<path> \
             or start the emulator with --allow-any-callback"
        )));
    }
    Ok(())
}

/// `url.Parse(s).Scheme`: Go lowercases it.
fn go_scheme(raw: &str) -> String {
    raw.split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase())
        .unwrap_or_default()
}

/// `url.Parse(s).Hostname()`: [`go_url_host`] without its port and IPv6 brackets.
fn go_hostname(raw: &str) -> Option<String> {
    go_url_host(raw).map(|host| split_host_port(&host).to_owned())
}

/// `url.Parse(s).Host`: the authority after `//` (query and fragment cut first, then
/// everything from the first `/`), without the userinfo (up to the last `@`), percent-decoded.
/// Case and port are kept.
pub fn go_url_host(raw: &str) -> Option<String> {
    let without_fragment = raw.split('#').next().unwrap_or("");
    let (_, rest) = without_fragment.split_once(':')?;
    let rest = rest.split('?').next().unwrap_or("");
    let authority = rest.strip_prefix("//")?;
    let authority = authority.split('/').next().unwrap_or("");
    let host_port = match authority.rfind('@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    percent_decode(host_port)
}

/// Go's `splitHostPort` as used by `Hostname()`.
fn split_host_port(host_port: &str) -> &str {
    let mut host = host_port;
    if let Some(colon) = host.rfind(':') {
        let port = &host[colon + 1..];
        if port.bytes().all(|b| b.is_ascii_digit()) {
            host = &host[..colon];
        }
    }
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// internal/api/controllers/user/dev/app.go: checkCallback.
    #[test]
    fn dashboard_rule() {
        for accepted in [
            "http://localhost:47150/callback",
            "http://localhost/cb?x=1",
            "http://user@localhost:8/cb",
            "http://local%68ost:1/",
            "https://example.com/cb",
            "HTTPS://Example.com:8443/cb",
            "https://127.0.0.1:1/cb",
        ] {
            assert!(check_callback(accepted, false).is_ok(), "{accepted}");
        }
        for refused in [
            "http://127.0.0.1:47150/callback",
            "http://[::1]:47150/callback",
            "http://LOCALHOST:47150/callback",
            "http://localhost.example.com/cb",
            "http://example.com/cb",
        ] {
            let error = check_callback(refused, false)
                .expect_err(refused)
                .to_string();
            assert!(error.contains("exactly `localhost`"), "{error}");
            assert!(check_callback(refused, true).is_ok(), "{refused}");
        }
        for never in ["/callback", "javascript:alert(1)", "ftp://localhost/x"] {
            assert!(check_callback(never, true).is_err(), "{never}");
            assert!(check_callback(never, false).is_err(), "{never}");
        }
    }
}
