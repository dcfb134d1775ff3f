//! The Support and Audit log views' commands (docs/ipc.md, "Support"): thin glue around the
//! Tauri-free `support` crate. Token strings stay in Rust: rows carry an id and a masked token.
//! Progress and changes arrive as the `support` event.

use std::path::PathBuf;
use std::sync::Arc;

use account::avatar::AvatarCache;
use account::ErrorReply;
use serde::Serialize;
use support::session::AuditView;
use support::{Connection, Selection, SupportSession, SupportSnapshot};
use tauri::{AppHandle, Emitter, Manager, Runtime, State};
use tauri_plugin_dialog::{DialogExt, FilePath};

use crate::error::CommandError;
use crate::AppState;

/// The audit log, in the app data dir.
pub const AUDIT_FILE: &str = "support-audit.jsonl";

type Reply<T = SupportSnapshot> = Result<T, ErrorReply>;

/// Managed next to [`AppState`].
pub struct SupportState {
    pub session: SupportSession,
}

/// Creates the support session (audit log in the app data dir, owners' avatars through the
/// app's avatar cache) and sends its changes to the window as the `support` event.
pub fn init<R: Runtime>(app: &AppHandle<R>) -> Result<(), Box<dyn std::error::Error>> {
    let paths = app.path();
    let session = SupportSession::new(paths.app_data_dir()?.join(AUDIT_FILE));
    let handle = app.clone();
    session.set_listener(move |snapshot| {
        let _ = handle.emit("support", snapshot);
    });
    let avatars = Arc::new(AvatarCache::new(paths.app_cache_dir()?.join("avatars")));
    session.set_avatar_fetcher(Arc::new(move |url: String, server: String| {
        let avatars = avatars.clone();
        // Held in memory within account::avatar::MEMORY_CAP, least recently used out first.
        Box::pin(async move { avatars.get(&url, &server).await })
    }));
    app.manage(SupportState { session });
    Ok(())
}

/// The active profile as a place to revoke at.
async fn connection(state: &AppState) -> Reply<Connection> {
    let (profile, client) = state
        .service
        .active_client()
        .await
        .map_err(|err| state.reject(err))?;
    Ok(Connection {
        profile: profile.name,
        server: profile.server,
        client,
    })
}

/// Everything the Support view shows, rows and owners included.
#[tauri::command]
pub async fn support_state(support: State<'_, SupportState>) -> Reply {
    Ok(support.session.snapshot())
}

/// Finds the tokens in pasted text and lists them (replacing the list unless `append`).
#[tauri::command]
pub async fn parse_tokens(
    state: State<'_, AppState>,
    support: State<'_, SupportState>,
    text: String,
    append: Option<bool>,
) -> Reply {
    let conn = connection(&state).await?;
    support
        .session
        .load_text(&text, "text", append.unwrap_or(false), &conn)
        .await
        .map_err(|err| state.reject(err))
}

/// Lets the user pick a text or CSV file, reads it here and lists its tokens; `null` when the
/// picker was cancelled.
#[tauri::command]
pub async fn open_token_file<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    support: State<'_, SupportState>,
    append: Option<bool>,
) -> Reply<Option<SupportSnapshot>> {
    let conn = connection(&state).await?;
    let zh = state.service.locale() == "zh-CN";
    let Some(path) = pick(&app, false, zh, None)
        .await
        .map_err(|err| state.reject(err))?
    else {
        return Ok(None);
    };
    // Read, decoded and size-checked in the support crate (support::parse::read_token_file).
    support
        .session
        .load_file(&path, append.unwrap_or(false), &conn)
        .await
        .map(Some)
        .map_err(|err| state.reject(err))
}

/// Revokes the rows `ids`, or with `all` every valid refresh token not revoked yet. Returns at
/// once; progress arrives as `support` events.
#[tauri::command]
pub async fn revoke_tokens(
    state: State<'_, AppState>,
    support: State<'_, SupportState>,
    ids: Option<Vec<u32>>,
    all: Option<bool>,
) -> Reply {
    let conn = connection(&state).await?;
    let selection = Selection {
        ids: ids.unwrap_or_default(),
        all: all.unwrap_or(false),
    };
    support
        .session
        .revoke(&selection, &conn)
        .await
        .map_err(|err| state.reject(err))
}

/// Stops starting new revocations; those in flight finish and are logged.
#[tauri::command]
pub async fn cancel_revoke(support: State<'_, SupportState>) -> Reply {
    Ok(support.session.cancel())
}

/// Revokes again the rows whose last attempt failed.
#[tauri::command]
pub async fn retry_failed(state: State<'_, AppState>, support: State<'_, SupportState>) -> Reply {
    let conn = connection(&state).await?;
    support
        .session
        .retry_failed(&conn)
        .await
        .map_err(|err| state.reject(err))
}

/// Empties the list.
#[tauri::command]
pub async fn clear_tokens(state: State<'_, AppState>, support: State<'_, SupportState>) -> Reply {
    support.session.clear().map_err(|err| state.reject(err))
}

/// The audit log's newest entries matching `query` (every word, any field).
#[tauri::command]
pub async fn audit_log(
    state: State<'_, AppState>,
    support: State<'_, SupportState>,
    query: Option<String>,
) -> Reply<AuditView> {
    let session = support.session.clone();
    let query = query.unwrap_or_default();
    tokio::task::spawn_blocking(move || session.audit_view(&query))
        .await
        .map_err(|e| state.reject(CommandError::internal(e.to_string())))?
        .map_err(|err| state.reject(err))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exported {
    path: String,
    count: usize,
}

/// Asks where to save, then writes the entries matching `query` as CSV; `null` when the save
/// dialog was cancelled.
#[tauri::command]
pub async fn export_audit_csv<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    support: State<'_, SupportState>,
    query: Option<String>,
) -> Reply<Option<Exported>> {
    let zh = state.service.locale() == "zh-CN";
    let Some(path) = pick(&app, true, zh, Some("genius-account-audit.csv"))
        .await
        .map_err(|err| state.reject(err))?
    else {
        return Ok(None);
    };
    let session = support.session.clone();
    let query = query.unwrap_or_default();
    let target = path.clone();
    let count = tokio::task::spawn_blocking(move || session.export_audit_csv(&query, &target))
        .await
        .map_err(|e| state.reject(CommandError::internal(e.to_string())))?
        .map_err(|err| state.reject(err))?;
    Ok(Some(Exported {
        path: path.display().to_string(),
        count,
    }))
}

/// The native open (or save) dialog; `None` when cancelled.
async fn pick<R: Runtime>(
    app: &AppHandle<R>,
    save: bool,
    zh: bool,
    file_name: Option<&str>,
) -> Result<Option<PathBuf>, CommandError> {
    if app.try_state::<tauri_plugin_dialog::Dialog<R>>().is_none() {
        return Err(CommandError::internal("file dialogs are not available"));
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<Option<FilePath>>();
    let mut dialog = app.dialog().file();
    if let Some(window) = app.get_webview_window("main") {
        dialog = dialog.set_parent(&window);
    }
    if save {
        dialog = dialog
            .set_title(if zh {
                "导出审计日志"
            } else {
                "Export the audit log"
            })
            .add_filter("CSV", &["csv"]);
        if let Some(name) = file_name {
            dialog = dialog.set_file_name(name);
        }
        dialog.save_file(move |path| {
            let _ = tx.send(path);
        });
    } else {
        dialog = dialog
            .set_title(if zh {
                "打开令牌文件"
            } else {
                "Open a token file"
            })
            .add_filter(
                if zh { "文本或 CSV" } else { "Text or CSV" },
                &["txt", "csv", "tsv", "log", "json"],
            )
            .add_filter(if zh { "所有文件" } else { "All files" }, &["*"]);
        dialog.pick_file(move |path| {
            let _ = tx.send(path);
        });
    }
    let Some(path) = rx.await.ok().flatten() else {
        return Ok(None);
    };
    path.into_path()
        .map(Some)
        .map_err(|e| CommandError::internal(format!("not a local file: {e}")))
}
