//! Profiles: which GeniusAuth server and registered app the user signs in to.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::AccountError;

/// Where a profile points; presets fill the server URL in the setup screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    Production,
    Prerelease,
    Emulator,
    Custom,
}

impl Preset {
    pub fn server(self) -> Option<&'static str> {
        match self {
            Preset::Production => Some("https://v.ncuos.com"),
            Preset::Prerelease => Some("https://v.ncuhome.club"),
            Preset::Emulator => Some("http://127.0.0.1:4780"),
            Preset::Custom => None,
        }
    }

    pub fn for_server(server: &str) -> Preset {
        let server = server.trim_end_matches('/');
        [Preset::Production, Preset::Prerelease, Preset::Emulator]
            .into_iter()
            .find(|p| p.server() == Some(server))
            .unwrap_or(Preset::Custom)
    }
}

/// What the GeniusAuth dashboard lets a desktop app register: plain http only on host
/// `localhost` (`internal/api/controllers/user/dev/app.go` of the server).
pub const DEFAULT_CALLBACK: &str = "http://localhost:47150/callback";

/// A profile as stored in preferences. The app secret is not here: it lives in the secret store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub id: String,
    pub name: String,
    pub server: String,
    pub app_code: String,
    pub callback: String,
    #[serde(default)]
    pub demo: bool,
}

/// What the setup form sends; `id` absent means a new profile. `Debug` shows the app secret's
/// fingerprint only.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileInput {
    pub id: Option<String>,
    pub name: String,
    pub server: String,
    pub app_code: String,
    pub callback: String,
    pub app_secret: Option<String>,
}

impl std::fmt::Debug for ProfileInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileInput")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("server", &self.server)
            .field("app_code", &self.app_code)
            .field("callback", &self.callback)
            .field(
                "app_secret",
                &crate::mask::RedactedOpt(self.app_secret.as_deref()),
            )
            .finish()
    }
}

impl ProfileInput {
    /// Checks every field and returns the normalised profile (without its secret).
    pub fn validate(&self, id: String) -> Result<Profile, AccountError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(AccountError::invalid(
                "profile name must be 1–64 characters",
            ));
        }
        let server = validate_server(&self.server)?;
        let app_code = self.app_code.trim();
        if app_code.len() != 8 || !app_code.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(AccountError::invalid("appCode must be 8 letters or digits"));
        }
        let callback = validate_callback(&self.callback)?;
        if let Some(secret) = &self.app_secret {
            if secret.trim().is_empty() {
                return Err(AccountError::invalid("appSecret must not be empty"));
            }
        }
        Ok(Profile {
            id,
            name: name.to_owned(),
            server,
            app_code: app_code.to_owned(),
            callback,
            demo: false,
        })
    }
}

fn validate_server(server: &str) -> Result<String, AccountError> {
    let url = Url::parse(server.trim())
        .map_err(|_| AccountError::invalid("server must be a URL such as https://v.ncuos.com"))?;
    let loopback = url.host_str().is_some_and(is_loopback_host);
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(AccountError::invalid(
                "server must use https (http only on 127.0.0.1)",
            ))
        }
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// The registered callback, on this computer: `http://localhost:<port>/…` as the production
/// dashboard registers it, or `127.0.0.1` / `[::1]` for servers that allow them (the emulator,
/// a self-hosted server). The app listens there while a sign-in is pending.
pub fn validate_callback(callback: &str) -> Result<String, AccountError> {
    let address = geniusauth::callback::parse_callback(callback).map_err(|err| match err {
        geniusauth::Error::Callback(geniusauth::CallbackError::Invalid(why)) => {
            AccountError::InvalidInput(why)
        }
        other => AccountError::from(other),
    })?;
    Ok(address.url.to_string())
}

fn is_loopback_host(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(server: &str, code: &str, callback: &str) -> ProfileInput {
        ProfileInput {
            id: None,
            name: "NCUOS".into(),
            server: server.into(),
            app_code: code.into(),
            callback: callback.into(),
            app_secret: Some("s".into()),
        }
    }

    #[test]
    fn accepts_a_production_profile() {
        let p = input("https://v.ncuos.com/", "Ab3dE6g8", DEFAULT_CALLBACK)
            .validate("p1".into())
            .unwrap();
        assert_eq!(p.server, "https://v.ncuos.com");
        assert_eq!(Preset::for_server(&p.server), Preset::Production);
    }

    #[test]
    fn rejects_bad_fields() {
        assert!(input("http://v.ncuos.com", "Ab3dE6g8", DEFAULT_CALLBACK)
            .validate("p".into())
            .is_err());
        assert!(input("https://v.ncuos.com", "short", DEFAULT_CALLBACK)
            .validate("p".into())
            .is_err());
        assert!(input(
            "https://v.ncuos.com",
            "Ab3dE6g8",
            "http://example.com:80/cb"
        )
        .validate("p".into())
        .is_err());
        assert!(
            input("https://v.ncuos.com", "Ab3dE6g8", "http://127.0.0.1/cb")
                .validate("p".into())
                .is_err()
        );
        assert!(input("http://127.0.0.1:4780", "Ab3dE6g8", DEFAULT_CALLBACK)
            .validate("p".into())
            .is_ok());
    }

    /// Every loopback spelling the listener can serve is accepted; localhost is the default.
    #[test]
    fn callback_on_this_computer_with_a_port() {
        assert_eq!(
            validate_callback(" http://localhost:47150/callback ").unwrap(),
            DEFAULT_CALLBACK
        );
        for ok in [
            "http://127.0.0.1:47150/callback",
            "http://[::1]:47150/callback",
            "http://LOCALHOST:47150/cb?from=sso",
        ] {
            assert!(validate_callback(ok).is_ok(), "{ok}");
        }
        let err = validate_callback("https://localhost:47150/cb")
            .unwrap_err()
            .to_string();
        assert!(err.contains("http://"), "{err}");
        let err = validate_callback("http://localhost/cb")
            .unwrap_err()
            .to_string();
        assert!(err.contains("port"), "{err}");
        let err = validate_callback("http://10.0.0.2:47150/cb")
            .unwrap_err()
            .to_string();
        assert!(err.contains("localhost"), "{err}");
    }

    #[test]
    fn debug_never_shows_the_app_secret() {
        let secret = "AppSecret-0123456789-".repeat(5);
        let mut form = input(
            "http://127.0.0.1:4780",
            "Ab3dE6g8",
            "http://localhost:47150/callback",
        );
        form.app_secret = Some(secret.clone());
        let shown = format!("{form:?}");
        assert!(!shown.contains("AppSecret-0123"), "{shown}");
        assert!(!shown.contains(&secret[secret.len() - 12..]), "{shown}");
        assert!(
            shown.contains(&crate::mask::fingerprint(&secret)),
            "{shown}"
        );
        assert!(shown.contains("Ab3dE6g8"), "{shown}");
        form.app_secret = None;
        assert!(format!("{form:#?}").contains("app_secret: None"));
    }
}
