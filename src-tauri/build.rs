// The app's commands are listed here so that a capability must grant each one: the UI can call
// exactly what src-tauri/capabilities/default.json allows, nothing more.
const COMMANDS: &[&str] = &[
    "get_state",
    "set_preferences",
    "save_profile",
    "delete_profile",
    "switch_profile",
    "start_demo",
    "use_file_store",
    "sign_in_browser",
    "cancel_sign_in",
    "sign_in_paste",
    "demo_sign_in",
    "refresh_access",
    "verify_access",
    "reload_user",
    "edit_payload",
    "copy_access_token",
    "revoke_session",
    "forget_session",
    "dismiss_error",
    "support_state",
    "parse_tokens",
    "open_token_file",
    "revoke_tokens",
    "cancel_revoke",
    "retry_failed",
    "clear_tokens",
    "audit_log",
    "export_audit_csv",
];

fn main() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .capabilities_path_pattern("./src-tauri/capabilities/**/*")
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("failed to run tauri-build");
}
