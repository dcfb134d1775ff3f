//! The desktop app: thin glue between the web UI and the Tauri-free `account` crate.
//! Commands, managed state, the `state` event, windows; no session logic lives here.

#[macro_use]
mod ipc_contract;
#[macro_use]
pub mod contract;

mod about;
mod commands;
mod demo;
mod error;
mod logging;
mod notices;
mod support_commands;
mod window_chrome;

use std::sync::Arc;

use account::{AccountService, JsonSettingsFile, ServiceConfig};
use tauri::{Emitter, Manager, Runtime};

/// What every command reaches through `tauri::State`.
pub struct AppState {
    pub service: AccountService,
    pub demo: demo::DemoServer,
}

/// Command-line options the app understands.
#[derive(Debug, Default, Clone)]
pub struct LaunchOptions {
    /// Start the embedded emulator and make its demo app the active profile.
    pub demo: bool,
}

impl LaunchOptions {
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Self {
        LaunchOptions {
            demo: args.into_iter().any(|a| a == "--demo"),
        }
    }
}

impl AppState {
    pub fn new(service: AccountService) -> Self {
        AppState {
            service,
            demo: demo::DemoServer::default(),
        }
    }
}

/// The app without its desktop-only plugins: the commands, the managed [`AppState`] (with the
/// service `make_service` builds) and the `state` event. [`run`] adds the rest; tests drive
/// it on Tauri's mock runtime.
pub fn app_builder<R, F>(
    builder: tauri::Builder<R>,
    options: LaunchOptions,
    make_service: F,
) -> tauri::Builder<R>
where
    R: Runtime,
    F: FnOnce(&tauri::AppHandle<R>) -> Result<AccountService, Box<dyn std::error::Error>>
        + Send
        + 'static,
{
    builder
        .plugin(tauri_plugin_opener::init())
        .setup(move |app| {
            log::info!(
                "Genius Account {} ({}) starting{}",
                env!("CARGO_PKG_VERSION"),
                env!("GENIUS_BUILD_COMMIT"),
                if options.demo { " in demo mode" } else { "" }
            );
            let service = make_service(app.handle())?;
            let handle = app.handle().clone();
            let theme = Arc::new(window_chrome::ThemeFollower::default());
            theme.apply(&handle, &service.snapshot().theme);
            let notices = Arc::new(notices::Notices::default());
            service.set_listener(move |snapshot| {
                let (preference, glance) = (snapshot.theme.clone(), notices::Glance::of(&snapshot));
                let _ = handle.emit("state", snapshot);
                // Window calls wait for the main thread, and the listener runs on whichever
                // thread changed the state, the main one included (a sync command), which may
                // be waiting for that change: never wait here, queue the window work instead.
                let (app, theme, notices) = (handle.clone(), theme.clone(), notices.clone());
                let _ = handle.run_on_main_thread(move || {
                    theme.apply(&app, &preference);
                    notify(&app, &notices, glance);
                });
            });
            app.manage(AppState::new(service));
            support_commands::init(app.handle())?;
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                let state = handle.state::<AppState>();
                if options.demo {
                    if let Err(err) = state.demo.start(&state.service).await {
                        log::error!("demo mode failed to start: {err}");
                    }
                }
                state.service.start().await;
            });
            Ok(())
        })
        .invoke_handler(commands::handler())
}

/// Shows the OS notification a snapshot calls for, if the notification plugin is there (the
/// tests' mock runtime has none) and the desktop has a notification service.
fn notify<R: Runtime>(
    app: &tauri::AppHandle<R>,
    notices: &notices::Notices,
    glance: notices::Glance,
) {
    use tauri_plugin_notification::NotificationExt;
    let unseen = app
        .get_webview_window("main")
        .is_none_or(|w| !w.is_visible().unwrap_or(true) || w.is_minimized().unwrap_or(false));
    let Some(notice) = notices.decide(glance, unseen) else {
        return;
    };
    if app
        .try_state::<tauri_plugin_notification::Notification<R>>()
        .is_none()
    {
        return;
    }
    if let Err(err) = app
        .notification()
        .builder()
        .title(&notice.title)
        .body(&notice.body)
        .show()
    {
        log::warn!("could not show a notification: {err}");
    }
}

pub fn run() {
    let options = LaunchOptions::from_args(std::env::args().skip(1));
    let builder = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, args, _cwd| {
            // A second start (the desktop file's "Demo" action, say) hands its arguments here.
            if LaunchOptions::from_args(args.into_iter().skip(1)).demo {
                let handle = app.clone();
                tauri::async_runtime::spawn(async move {
                    let state = handle.state::<AppState>();
                    if let Err(err) = state.demo.start(&state.service).await {
                        log::error!("demo mode failed to start: {err}");
                    }
                });
            }
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.unminimize();
                let _ = window.show();
                let _ = window.set_focus();
            }
        }))
        .plugin(logging::plugin())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_dialog::init());
    app_builder(builder, options, build_service)
        .build(tauri::generate_context!())
        .expect("error while building Genius Account")
        .run(|_app, _event| {});
}

fn build_service(app: &tauri::AppHandle) -> Result<AccountService, Box<dyn std::error::Error>> {
    let paths = app.path();
    let data_dir = paths.app_data_dir()?;
    let cache_dir = paths.app_cache_dir()?;
    let locale = sys_locale::get_locale().unwrap_or_else(|| "en".into());
    // Where tauri-plugin-store kept it before, in the same layout: profiles survive the update.
    let settings = JsonSettingsFile(data_dir.join("settings.json"));
    let config = ServiceConfig::new(data_dir, cache_dir, locale);
    Ok(AccountService::new(config, Box::new(settings)))
}
