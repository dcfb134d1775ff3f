//! The demo data an empty database starts with, and the `--seed FILE` format that replaces it.
//!
//! ```json
//! {
//!   "apps": [
//!     { "name": "My app", "callback": "http://localhost:8080/callback?from=sso",
//!       "appCode": "optional8", "appSecret": "optional…", "groups": ["研发"], "permitAllGroup": true }
//!   ],
//!   "users": [
//!     { "id": 7, "name": "张三", "groups": ["研发", "中心"], "avatarUrl": "https://…/a.png" }
//!   ]
//! }
//! ```
//! The first app is the demo app announced on stdout. Omitted `appCode`/`appSecret` are
//! generated (8 and 100 alphanumerics), omitted `groups` means the app sees every group,
//! `permitAllGroup` defaults to true, omitted user `id`s are assigned in order and an omitted
//! `avatarUrl` means the emulator's generated avatar.

use std::path::Path;

use rand::rngs::OsRng;
use rand::Rng;
use serde::Deserialize;

use crate::callback_rule::check_callback;
use crate::error::Error;
use crate::store::Store;

/// The server's department groups, in its order (`global.Departments`).
pub const DEPARTMENTS: [&str; 8] = [
    "研发", "产品", "游戏", "运营", "行政", "设计", "中心", "生态",
];

/// The server's appCode/appSecret alphabet.
const CODE_ALPHABET: &[u8] = b"1234567890qwertyuiopasdfghjklzxcvbnmQWERTYUIOPASDFGHJKLZXCVBNM";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedFile {
    #[serde(default)]
    pub apps: Vec<SeedApp>,
    #[serde(default)]
    pub users: Vec<SeedUserSpec>,
}

/// `Debug` prints the app secret as `***`.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedApp {
    pub name: String,
    pub callback: String,
    pub app_code: Option<String>,
    pub app_secret: Option<String>,
    pub groups: Option<Vec<String>>,
    pub permit_all_group: Option<bool>,
}

impl std::fmt::Debug for SeedApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeedApp")
            .field("name", &self.name)
            .field("callback", &self.callback)
            .field("app_code", &self.app_code)
            .field(
                "app_secret",
                &self.app_secret.as_ref().map(|_| crate::HIDDEN),
            )
            .field("groups", &self.groups)
            .field("permit_all_group", &self.permit_all_group)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedUserSpec {
    pub id: Option<u64>,
    pub name: String,
    #[serde(default)]
    pub groups: Vec<String>,
    pub avatar_url: Option<String>,
}

pub fn load(path: &Path) -> Result<SeedFile, Error> {
    let seed_error = |message: String| Error::Seed {
        path: path.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| seed_error(e.to_string()))?;
    let seed: SeedFile = serde_json::from_str(&text).map_err(|e| seed_error(e.to_string()))?;
    if seed.apps.is_empty() {
        return Err(seed_error(
            "at least one app is required (the first is the demo app)".into(),
        ));
    }
    Ok(seed)
}

pub fn default_seed() -> SeedFile {
    let user = |name: &str, groups: &[&str]| SeedUserSpec {
        id: None,
        name: name.to_owned(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        avatar_url: None,
    };
    SeedFile {
        apps: vec![SeedApp {
            name: "Genius Account 演示".to_owned(),
            callback: "http://localhost:47150/callback".to_owned(),
            app_code: None,
            app_secret: None,
            groups: None,
            permit_all_group: None,
        }],
        users: vec![
            user("张伟", &["研发", "中心"]),
            user("李娜", &["设计"]),
            user("王芳", &["运营", "产品"]),
            user("Alex Chen", &["研发"]),
            user("陈静", &["产品", "行政"]),
            user("Emily Zhao", &["设计", "游戏"]),
        ],
    }
}

/// A random string over the server's alphabet.
pub fn random_code(len: usize) -> String {
    let mut rng = OsRng;
    (0..len)
        .map(|_| char::from(CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())]))
        .collect()
}

/// Writes the seed into an empty database. Callbacks follow the dashboard's rule unless
/// `allow_any_callback` (see [`check_callback`]).
pub fn apply(store: &Store, seed: &SeedFile, allow_any_callback: bool) -> Result<(), Error> {
    for group in DEPARTMENTS {
        store.ensure_group(group)?;
    }
    for user in &seed.users {
        store.create_user(
            user.id,
            &user.name,
            &user.groups,
            user.avatar_url.as_deref(),
        )?;
    }
    for (i, app) in seed.apps.iter().enumerate() {
        check_callback(&app.callback, allow_any_callback)?;
        let app_code = app.app_code.clone().unwrap_or_else(|| random_code(8));
        let app_secret = app.app_secret.clone().unwrap_or_else(|| random_code(100));
        if app_code.is_empty() || app_secret.is_empty() {
            return Err(Error::Invalid(
                "appCode and appSecret must not be empty".into(),
            ));
        }
        store.create_app(
            &app.name,
            &app.callback,
            &app_code,
            &app_secret,
            app.groups.as_deref(),
            app.permit_all_group.unwrap_or(true),
            i == 0,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_the_server_alphabet() {
        let code = random_code(100);
        assert_eq!(code.len(), 100);
        assert!(code.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
