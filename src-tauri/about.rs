//! The About panel's facts: version, build commit, licence and the two links, all fixed at build
//! time (the version and repository come from Cargo.toml, the commit from src-tauri/build.rs).

use account::{AccountError, ErrorReply, Preset};
use serde::Serialize;
use tauri::{Manager, Runtime, State};
use tauri_plugin_opener::OpenerExt;

use crate::error::CommandError;
use crate::AppState;

/// What `app_info` answers (docs/ipc.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub name: &'static str,
    pub version: &'static str,
    /// `git rev-parse --short HEAD` when the binary was built, or "unknown".
    pub commit: &'static str,
    pub license: &'static str,
    /// The production GeniusAuth server.
    pub server: &'static str,
    /// The project's source repository.
    pub repository: &'static str,
}

impl AppInfo {
    pub fn current() -> Self {
        AppInfo {
            name: "Genius Account",
            version: env!("CARGO_PKG_VERSION"),
            commit: env!("GENIUS_BUILD_COMMIT"),
            license: env!("CARGO_PKG_LICENSE"),
            server: Preset::Production.server().unwrap_or("https://v.ncuos.com"),
            repository: env!("CARGO_PKG_REPOSITORY"),
        }
    }

    /// The URL behind one of the About panel's links; only these two can be opened.
    pub fn link(&self, which: &str) -> Option<&'static str> {
        match which {
            "server" => Some(self.server),
            "repository" => Some(self.repository),
            _ => None,
        }
    }
}

#[tauri::command]
pub fn app_info() -> AppInfo {
    AppInfo::current()
}

/// Opens the server or the repository page in the system browser (the web view itself never
/// navigates). `link` names the page, so the UI cannot open an arbitrary URL through this.
#[tauri::command]
pub fn open_about_link<R: Runtime>(
    app: tauri::AppHandle<R>,
    state: State<'_, AppState>,
    link: String,
) -> Result<(), ErrorReply> {
    let snapshot = state.service.snapshot();
    let server = snapshot
        .profiles
        .into_iter()
        .find(|p| Some(&p.id) == snapshot.active_profile_id.as_ref())
        .map(|p| p.server);
    let url = AppInfo::current()
        .link(&link)
        .map(str::to_owned)
        .or_else(|| dashboard_page(server.as_deref()?, &link));
    let err = match url {
        None => AccountError::invalid(format!("unknown link: {link}")),
        Some(url) => match app.opener().open_url(&url, None::<&str>) {
            Ok(()) => return Ok(()),
            Err(err) => {
                AccountError::Internal(format!("could not open a browser for {url}: {err}"))
            }
        },
    };
    Err(state.reject(err))
}

/// The user's GeniusAuth dashboard pages for what app credentials cannot reach (protocol §8):
/// sessions, sign-in history, MFA and passkeys; developer apps; the dashboard itself.
pub fn dashboard_page(server: &str, which: &str) -> Option<String> {
    let path = match which {
        "dashboard" => "/user/",
        "dashboard-profile" => "/user/profile",
        "dashboard-dev" => "/user/dev",
        _ => return None,
    };
    let mut url = url::Url::parse(server).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let prefix = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{prefix}{path}"));
    url.set_query(None);
    Some(url.to_string())
}

/// Opens the folder that holds the log files in the system's file manager.
#[tauri::command]
pub fn open_log_folder<R: Runtime>(
    app: tauri::AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<(), ErrorReply> {
    let opened = app
        .path()
        .app_log_dir()
        .map_err(|e| e.to_string())
        .and_then(|dir| {
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            app.opener()
                .open_path(dir.to_string_lossy(), None::<&str>)
                .map_err(|e| e.to_string())
        });
    opened.map_err(|err| {
        state.reject(CommandError::internal(format!(
            "could not open the log folder: {err}"
        )))
    })
}

/// What "Copy diagnostics" puts on the clipboard: facts for a bug report, no secret and no
/// token (the profile's server and app code are not secret; the app secret never leaves Rust).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostics {
    pub version: &'static str,
    pub commit: &'static str,
    pub os: String,
    pub webview: String,
    pub locale: String,
    pub system_locale: String,
    pub keyring: String,
    pub server: Option<String>,
    pub clock_offset_ms: i64,
    pub clock_measured: bool,
    pub log_folder: String,
}

#[tauri::command]
pub fn diagnostics<R: Runtime>(
    app: tauri::AppHandle<R>,
    state: State<'_, AppState>,
) -> Diagnostics {
    let snapshot = state.service.snapshot();
    let info = AppInfo::current();
    let active = snapshot
        .profiles
        .iter()
        .find(|p| Some(&p.id) == snapshot.active_profile_id.as_ref());
    let storage = &snapshot.storage;
    Diagnostics {
        version: info.version,
        commit: info.commit,
        os: os_description(),
        webview: tauri::webview_version().unwrap_or_else(|e| format!("unknown ({e})")),
        locale: snapshot.locale.clone(),
        system_locale: sys_locale::get_locale().unwrap_or_default(),
        keyring: format!(
            "{:?}{}",
            storage.backend,
            if storage.available {
                ""
            } else {
                " (unavailable)"
            }
        )
        .to_lowercase(),
        server: active.map(|p| p.server.clone()),
        clock_offset_ms: snapshot.clock.offset_ms,
        clock_measured: snapshot.clock.measured,
        log_folder: app
            .path()
            .app_log_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default(),
    }
}

/// `PRETTY_NAME` of /etc/os-release on Linux, the OS family elsewhere; with the architecture.
fn os_description() -> String {
    let name = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| std::env::consts::OS.to_owned());
    format!("{name} ({})", std::env::consts::ARCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_comes_from_the_workspace_manifest() {
        let info = AppInfo::current();
        assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(info.license, "MIT");
        assert_eq!(info.server, "https://v.ncuos.com");
        assert!(
            info.repository.starts_with("https://"),
            "{}",
            info.repository
        );
        assert!(!info.commit.is_empty());
    }

    #[test]
    fn dashboard_pages_are_under_the_profiles_server() {
        assert_eq!(
            dashboard_page("https://v.ncuos.com", "dashboard-profile").as_deref(),
            Some("https://v.ncuos.com/user/profile")
        );
        assert_eq!(
            dashboard_page("https://sso.example.org/auth/", "dashboard-dev").as_deref(),
            Some("https://sso.example.org/auth/user/dev")
        );
        assert_eq!(dashboard_page("https://v.ncuos.com", "elsewhere"), None);
        assert_eq!(dashboard_page("file:///etc", "dashboard"), None);
    }

    #[test]
    fn only_the_two_links_open() {
        let info = AppInfo::current();
        assert_eq!(info.link("server"), Some("https://v.ncuos.com"));
        assert_eq!(info.link("repository"), Some(info.repository));
        assert_eq!(info.link("file:///etc/passwd"), None);
    }
}
