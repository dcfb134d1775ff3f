//! The commands the UI may invoke (docs/ipc.md). Each one acts through the account service and
//! answers with the new snapshot; failures reject with `{code, message, …}`.

use account::{AccountError, ErrorReply, ProfileInput, Snapshot};
use serde::Deserialize;
use tauri::{Runtime, State};
use tauri_plugin_opener::OpenerExt;

use crate::AppState;

type Reply<T = Snapshot> = Result<T, ErrorReply>;

/// The invoke handler for every command declared in `ipc_contract.rs`.
pub fn handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    macro_rules! command_handler {
        ($($module:ident :: $command:ident : $busy:expr),* $(,)?) => {
            tauri::generate_handler![$(crate::$module::$command),*]
        };
    }
    with_commands!(command_handler)
}

/// Snapshot on success; the localised error reply on failure.
fn answer(state: &AppState, result: Result<(), AccountError>) -> Reply {
    match result {
        Ok(()) => Ok(state.service.snapshot()),
        Err(err) => Err(state.reject(err)),
    }
}

#[tauri::command]
fn get_state(state: State<'_, AppState>) -> Snapshot {
    state.service.snapshot()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preferences {
    locale: Option<String>,
    theme: Option<String>,
    lifetime_days: Option<u32>,
}

#[tauri::command]
fn set_preferences(state: State<'_, AppState>, prefs: Preferences) -> Reply {
    let result = state
        .service
        .set_preferences(prefs.locale, prefs.theme, prefs.lifetime_days);
    answer(&state, result)
}

#[tauri::command]
async fn save_profile(state: State<'_, AppState>, profile: ProfileInput) -> Reply {
    let result = state.service.save_profile(profile).await.map(|_| ());
    answer(&state, result)
}

#[tauri::command]
async fn delete_profile(state: State<'_, AppState>, id: String) -> Reply {
    let result = state.service.delete_profile(&id).await;
    answer(&state, result)
}

#[tauri::command]
async fn switch_profile(state: State<'_, AppState>, id: String) -> Reply {
    let result = state.service.switch_profile(&id).await;
    answer(&state, result)
}

#[tauri::command]
async fn start_demo(state: State<'_, AppState>) -> Reply {
    let result = state.demo.start(&state.service).await;
    answer(&state, result)
}

#[tauri::command]
async fn use_file_store(state: State<'_, AppState>, enabled: bool) -> Reply {
    let result = state.service.use_file_store(enabled).await;
    answer(&state, result)
}

/// The "Fix permissions" action of `secrets_file_too_open`: the secrets file becomes 0600.
#[tauri::command]
async fn fix_secrets_file_permissions(state: State<'_, AppState>) -> Reply {
    let service = &state.service;
    let result = service
        .run(
            busy!(fix_secrets_file_permissions),
            service.fix_secrets_file_permissions(),
        )
        .await;
    answer(&state, result)
}

#[tauri::command]
async fn sign_in_browser<R: Runtime>(
    app: tauri::AppHandle<R>,
    state: State<'_, AppState>,
    payload: Option<String>,
) -> Reply {
    let result = state.service.sign_in_browser(payload).await.map(|url| {
        // No browser (a bare machine) is not fatal: the UI shows the URL to open by hand.
        if let Err(err) = app.opener().open_url(&url, None::<&str>) {
            log::warn!("could not open a browser: {err}");
        }
    });
    answer(&state, result)
}

#[tauri::command]
fn cancel_sign_in(state: State<'_, AppState>) -> Snapshot {
    state.service.cancel_sign_in();
    state.service.snapshot()
}

#[tauri::command]
async fn sign_in_paste(
    state: State<'_, AppState>,
    token: String,
    payload: Option<String>,
) -> Reply {
    let service = &state.service;
    let result = service
        .run(
            busy!(sign_in_paste),
            service.sign_in_with_token(token, payload),
        )
        .await;
    answer(&state, result)
}

#[tauri::command]
async fn demo_sign_in(state: State<'_, AppState>, uid: u64, payload: Option<String>) -> Reply {
    let service = &state.service;
    let work = async {
        let app_code = service.demo_app_code()?;
        let token = state
            .demo
            .login_token(&app_code, uid)
            .await
            .map_err(AccountError::Internal)?;
        service.sign_in_with_token(token, payload).await
    };
    let result = service.run(busy!(demo_sign_in), work).await;
    answer(&state, result)
}

#[tauri::command]
async fn refresh_access(state: State<'_, AppState>) -> Reply {
    let service = &state.service;
    let result = service
        .run(busy!(refresh_access), service.refresh_access())
        .await;
    answer(&state, result)
}

#[tauri::command]
async fn verify_access(state: State<'_, AppState>) -> Reply {
    let service = &state.service;
    let result = service
        .run(busy!(verify_access), service.verify_access())
        .await;
    answer(&state, result)
}

#[tauri::command]
async fn reload_user(state: State<'_, AppState>) -> Reply {
    let service = &state.service;
    let result = service.run(busy!(reload_user), service.reload_user()).await;
    answer(&state, result)
}

#[tauri::command]
async fn edit_payload(state: State<'_, AppState>, payload: String, new_access: bool) -> Reply {
    let service = &state.service;
    let result = service
        .run(
            busy!(edit_payload),
            service.edit_payload(payload, new_access),
        )
        .await;
    answer(&state, result)
}

/// What `copy_access_token` answers: no token, only when the clipboard is cleared.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Copied {
    clears_in_seconds: u64,
}

/// Rust writes the access token to the clipboard (out of clipboard history) and clears it
/// after 60 s if it is still there; the token never crosses into the web view.
#[tauri::command]
fn copy_access_token(state: State<'_, AppState>) -> Reply<Copied> {
    state
        .service
        .copy_access_token()
        .map(|delay| Copied {
            clears_in_seconds: delay.as_secs(),
        })
        .map_err(|err| state.reject(err))
}

#[tauri::command]
async fn revoke_session(state: State<'_, AppState>) -> Reply {
    let service = &state.service;
    let result = service
        .run(busy!(revoke_session), service.revoke_session())
        .await;
    answer(&state, result)
}

#[tauri::command]
async fn forget_session(state: State<'_, AppState>) -> Reply {
    let service = &state.service;
    let result = service
        .run(busy!(forget_session), service.forget_session())
        .await;
    answer(&state, result)
}

#[tauri::command]
fn dismiss_error(state: State<'_, AppState>) -> Snapshot {
    state.service.dismiss_error();
    state.service.snapshot()
}
