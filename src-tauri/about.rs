//! The About panel's facts: version, build commit, licence and the two links, all fixed at build
//! time (the version and repository come from Cargo.toml, the commit from src-tauri/build.rs).

use account::{AccountError, ErrorReply, Preset};
use serde::Serialize;
use tauri::{Runtime, State};
use tauri_plugin_opener::OpenerExt;

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
    let err = match AppInfo::current().link(&link) {
        None => AccountError::invalid(format!("unknown link: {link}")),
        Some(url) => match app.opener().open_url(url, None::<&str>) {
            Ok(()) => return Ok(()),
            Err(err) => {
                AccountError::Internal(format!("could not open a browser for {url}: {err}"))
            }
        },
    };
    Err(state.service.reply_for(&err))
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
    fn only_the_two_links_open() {
        let info = AppInfo::current();
        assert_eq!(info.link("server"), Some("https://v.ncuos.com"));
        assert_eq!(info.link("repository"), Some(info.repository));
        assert_eq!(info.link("file:///etc/passwd"), None);
    }
}
