// The IPC contract, declared once: every command the UI may invoke, the module that defines it,
// and the busy key the UI (and the account service) marks while it runs. `build.rs` reads this
// file (`include!`) for the permission manifest, `commands::handler` for the invoke handler,
// `contract.rs` for the busy keys, and tests/contract.rs checks the capability file,
// docs/ipc.md, ui/store.js and the preview mock against it.
//
// `with_commands!(callback)` calls `callback! { module::command: busy, ... }`.
#[allow(unused_macros)]
macro_rules! with_commands {
    ($callback:ident) => {
        $callback! {
            commands::get_state: None,
            commands::set_preferences: None,
            commands::save_profile: Some("profile"),
            commands::delete_profile: Some("profile"),
            commands::switch_profile: Some("profile"),
            commands::start_demo: Some("demo"),
            commands::use_file_store: Some("storage"),
            commands::fix_secrets_file_permissions: Some("storage"),
            commands::sign_in_browser: Some("signin"),
            commands::cancel_sign_in: Some("cancel"),
            commands::sign_in_paste: Some("signin"),
            commands::demo_sign_in: Some("signin"),
            commands::refresh_access: Some("refresh"),
            commands::verify_access: Some("verify"),
            commands::reload_user: Some("reload"),
            commands::edit_payload: Some("payload"),
            commands::copy_access_token: Some("copy"),
            commands::revoke_session: Some("revoke"),
            commands::forget_session: Some("forget"),
            commands::dismiss_error: None,
            support_commands::support_state: None,
            support_commands::parse_tokens: None,
            support_commands::open_token_file: None,
            support_commands::revoke_tokens: None,
            support_commands::cancel_revoke: None,
            support_commands::retry_failed: None,
            support_commands::clear_tokens: None,
            support_commands::audit_log: None,
            support_commands::export_audit_csv: None,
            about::app_info: None,
            about::open_about_link: None,
            about::open_log_folder: None,
            about::diagnostics: None,
        }
    };
}

/// The command names as a `&[&str]` (for the build script's permission manifest).
#[allow(unused_macros)]
macro_rules! command_names {
    ($($module:ident :: $command:ident : $busy:expr),* $(,)?) => {
        &[$(stringify!($command)),*]
    };
}
