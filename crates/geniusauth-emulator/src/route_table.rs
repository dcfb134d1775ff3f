//! The server's whole `/api` route table (`internal/api/router/`: `v1.go`, `public/`, `app/`,
//! `user/`, `feishu/`), in gin's route trees, one per method, so that every registered route
//! and the trailing-slash form of each resolve as on the server (gin.go: `handleHTTPRequest`:
//! a match runs the route; otherwise, unless the path is `/`, a trailing-slash recommendation
//! redirects; anything else is gin's NoRoute).

use std::sync::OnceLock;

use axum::http::Method;

use crate::gin_tree::{Lookup, Node};

/// What a route runs. Routes the emulator does not model still have to exist for gin's
/// routing (their other form redirects); they answer as the server does without credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    LoginVerify,
    Refresh,
    ModifyPayload,
    DestroyRefresh,
    AccessVerify,
    AccessUserInfo,
    UserInfo,
    ServerKeys,
    ClientCertificate,
    /// `GET /api/v1/public/app/` (`controllers/public/app/data.go: AppInfo`).
    AppInfo,
    /// `POST /api/v1/public/login/mfa` (`controllers/public/login/mfa.go: VerifyMfa`).
    VerifyMfa,
    /// `POST /api/v1/public/login/:app/` (`thirdPartyLogin.go: ThirdPartySelfLogin`).
    ThirdPartySelfLogin,
    /// `POST /api/v1/public/login/:app/:appCode` (`thirdPartyLogin.go: ThirdPartyLogin`).
    ThirdPartyLogin,
    /// `GET /api/v1/public/login/:app/link/` (`thirdPartyLogin.go: GetSelfLoginLink`).
    SelfLoginLink,
    /// `GET /api/v1/public/login/:app/link/:appCode` (`thirdPartyLogin.go: GetLoginLink`).
    LoginLink,
    /// Every `/api/v1/user/...` route: `middlewares/auth.go: UserAuth` refuses a request
    /// without a user token (which only the server's own front end obtains): code 6.
    UserSession,
    /// Dashboard login, passkey login and the Feishu webhook: not emulated, code 1.
    NotEmulated,
}

impl Endpoint {
    /// Behind `middlewares.RequireAppSignature`.
    pub fn signed(self) -> bool {
        matches!(
            self,
            Endpoint::LoginVerify
                | Endpoint::Refresh
                | Endpoint::ModifyPayload
                | Endpoint::DestroyRefresh
                | Endpoint::AccessVerify
                | Endpoint::AccessUserInfo
                | Endpoint::UserInfo
                | Endpoint::ServerKeys
                | Endpoint::ClientCertificate
        )
    }

    /// Behind `middlewares.Secure()` (the `/user/u2f/:method` route is too, but `UserAuth`
    /// runs first and refuses every request the emulator can get).
    pub fn rate_limited(self) -> bool {
        matches!(
            self,
            Endpoint::AppInfo
                | Endpoint::VerifyMfa
                | Endpoint::ThirdPartySelfLogin
                | Endpoint::ThirdPartyLogin
                | Endpoint::SelfLoginLink
                | Endpoint::LoginLink
        )
    }
}

/// The server's routes, in its registration order.
const ROUTES: &[(&str, &str, Endpoint)] = {
    use Endpoint::*;
    &[
        // router/public/app.go
        ("GET", "/api/v1/public/app/", AppInfo),
        // router/public/login/init.go and passkey.go
        ("POST", "/api/v1/public/login/", NotEmulated),
        ("POST", "/api/v1/public/login/mfa", VerifyMfa),
        ("POST", "/api/v1/public/login/verify", LoginVerify),
        ("GET", "/api/v1/public/login/passkey/", NotEmulated),
        ("POST", "/api/v1/public/login/passkey/", NotEmulated),
        ("POST", "/api/v1/public/login/:app/", ThirdPartySelfLogin),
        (
            "POST",
            "/api/v1/public/login/:app/:appCode",
            ThirdPartyLogin,
        ),
        ("GET", "/api/v1/public/login/:app/link/", SelfLoginLink),
        ("GET", "/api/v1/public/login/:app/link/:appCode", LoginLink),
        // router/public/init.go: the deprecated aliases
        ("POST", "/api/v1/public/token/refresh/", Refresh),
        ("PATCH", "/api/v1/public/token/refresh/", ModifyPayload),
        ("DELETE", "/api/v1/public/token/refresh/", DestroyRefresh),
        ("POST", "/api/v1/public/token/access/verify", AccessVerify),
        (
            "POST",
            "/api/v1/public/token/access/user/info",
            AccessUserInfo,
        ),
        ("GET", "/api/v1/public/user/info", UserInfo),
        // router/app/init.go, token/token.go, user/user.go
        ("GET", "/api/v1/app/keypair/server", ServerKeys),
        ("POST", "/api/v1/app/keypair/rpc", ClientCertificate),
        ("GET", "/api/v1/app/user/info", UserInfo),
        ("POST", "/api/v1/app/token/refresh/", Refresh),
        ("PATCH", "/api/v1/app/token/refresh/", ModifyPayload),
        ("DELETE", "/api/v1/app/token/refresh/", DestroyRefresh),
        ("POST", "/api/v1/app/token/access/verify", AccessVerify),
        ("POST", "/api/v1/app/token/access/user/info", AccessUserInfo),
        // router/user/*.go
        ("POST", "/api/v1/user/logout", UserSession),
        ("PATCH", "/api/v1/user/logout", UserSession),
        ("GET", "/api/v1/user/profile/", UserSession),
        ("GET", "/api/v1/user/app/accessible", UserSession),
        ("GET", "/api/v1/user/group/list", UserSession),
        ("GET", "/api/v1/user/mfa/", UserSession),
        ("POST", "/api/v1/user/mfa/", UserSession),
        ("DELETE", "/api/v1/user/mfa/", UserSession),
        ("POST", "/api/v1/user/identity/sms", UserSession),
        ("GET", "/api/v1/user/u2f/", UserSession),
        ("POST", "/api/v1/user/u2f/:method", UserSession),
        ("PUT", "/api/v1/user/u2f/prefer", UserSession),
        ("GET", "/api/v1/user/passkey/", UserSession),
        ("GET", "/api/v1/user/passkey/options", UserSession),
        ("DELETE", "/api/v1/user/passkey/", UserSession),
        ("PATCH", "/api/v1/user/passkey/", UserSession),
        ("GET", "/api/v1/user/passkey/register/", UserSession),
        ("POST", "/api/v1/user/passkey/register/", UserSession),
        ("GET", "/api/v1/user/dev/app/", UserSession),
        ("POST", "/api/v1/user/dev/app/", UserSession),
        ("PUT", "/api/v1/user/dev/app/", UserSession),
        ("PUT", "/api/v1/user/dev/app/linkOff", UserSession),
        ("DELETE", "/api/v1/user/dev/app/", UserSession),
        ("GET", "/api/v1/user/dev/ssh/", UserSession),
        ("PUT", "/api/v1/user/dev/ssh/", UserSession),
        ("POST", "/api/v1/user/dev/ssh/killall", UserSession),
        ("GET", "/api/v1/user/admin/data/login", UserSession),
        // router/feishu/init.go
        ("POST", "/api/v1/feishu/webhook", NotEmulated),
    ]
};

struct Trees(Vec<(Method, Node<Endpoint>)>);

fn trees() -> &'static Trees {
    static TREES: OnceLock<Trees> = OnceLock::new();
    TREES.get_or_init(|| {
        let mut trees: Vec<(Method, Node<Endpoint>)> = Vec::new();
        for (method, path, endpoint) in ROUTES {
            let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
            let at = match trees.iter().position(|(m, _)| *m == method) {
                Some(at) => at,
                None => {
                    trees.push((method, Node::new()));
                    trees.len() - 1
                }
            };
            trees[at].1.add_route(path, *endpoint);
        }
        Trees(trees)
    })
}

/// Where gin sends a request.
#[derive(Debug)]
pub enum Resolved<'p> {
    Route(Endpoint, Lookup<'p, Endpoint>),
    /// `redirectTrailingSlash`: the path to send the client to.
    Redirect(String),
    NotFound,
}

pub fn resolve<'p>(method: &Method, path: &'p str) -> Resolved<'p> {
    let Some((_, tree)) = trees().0.iter().find(|(m, _)| m == method) else {
        return Resolved::NotFound;
    };
    let lookup = tree.get_value(path);
    if let Some(endpoint) = lookup.handler {
        return Resolved::Route(endpoint, lookup);
    }
    if method != Method::CONNECT && path != "/" && lookup.tsr {
        return Resolved::Redirect(trailing_slash_toggled(path));
    }
    Resolved::NotFound
}

/// gin.go `redirectTrailingSlash`: `p + "/"`, or `p` without its last `/`; then `http.Redirect`
/// cleans it (`path.Clean`) but keeps a trailing slash.
fn trailing_slash_toggled(path: &str) -> String {
    let toggled = match path.strip_suffix('/') {
        Some(stripped) if path.len() > 1 => stripped.to_owned(),
        _ => format!("{path}/"),
    };
    let mut cleaned = go_path_clean(&toggled);
    if toggled.ends_with('/') && !cleaned.ends_with('/') {
        cleaned.push('/');
    }
    cleaned
}

/// Go's `path.Clean` for an absolute path.
fn go_path_clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// internal/api/router/ with gin's tree.go: each route's other form redirects.
    #[test]
    fn server_routes_and_their_other_forms() {
        let redirect = |method: Method, path: &str| match resolve(&method, path) {
            Resolved::Redirect(to) => to,
            other => panic!("{method} {path}: {other:?}"),
        };
        assert_eq!(
            redirect(Method::POST, "/api/v1/public/login/verify/"),
            "/api/v1/public/login/verify"
        );
        assert_eq!(
            redirect(Method::POST, "/api/v1/app/token/refresh"),
            "/api/v1/app/token/refresh/"
        );
        assert_eq!(
            redirect(Method::GET, "/api/v1/public/app"),
            "/api/v1/public/app/"
        );
        assert_eq!(
            redirect(Method::POST, "/api/v1/public/login/.."),
            "/api/v1/public/"
        );
        for (method, path, _) in ROUTES {
            let method = Method::from_bytes(method.as_bytes()).expect("method");
            let concrete = path
                .replace(":app", "feishu")
                .replace(":appCode", "Ab3dE6g8");
            let concrete = concrete.replace(":method", "phone");
            assert!(
                matches!(resolve(&method, &concrete), Resolved::Route(..)),
                "{method} {concrete}"
            );
            let other = match concrete.strip_suffix('/') {
                Some(stripped) => stripped.to_owned(),
                None => format!("{concrete}/"),
            };
            assert_eq!(
                redirect(method.clone(), &other),
                concrete,
                "{method} {other}"
            );
        }
        assert!(matches!(
            resolve(&Method::GET, "/api/v1/app/token/refresh/"),
            Resolved::NotFound
        ));
        assert!(matches!(
            resolve(&Method::PUT, "/api/v1/app/token/refresh/"),
            Resolved::NotFound
        ));
        assert!(matches!(
            resolve(&Method::HEAD, "/api/v1/app/user/info"),
            Resolved::NotFound
        ));
    }
}
