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
    "fix_secrets_file_permissions",
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
    "app_info",
    "open_about_link",
    "open_log_folder",
    "diagnostics",
];

fn main() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    embed_build_commit();
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .capabilities_path_pattern("./src-tauri/capabilities/**/*")
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("failed to run tauri-build");
}

/// Sets `GENIUS_BUILD_COMMIT` for the About panel: `GENIUS_BUILD_COMMIT` from the environment if
/// set (a build from a source tarball), else `git rev-parse --short HEAD`, else "unknown".
fn embed_build_commit() {
    println!("cargo:rerun-if-env-changed=GENIUS_BUILD_COMMIT");
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let commit = std::env::var("GENIUS_BUILD_COMMIT")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| git(&["rev-parse", "--short", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=GENIUS_BUILD_COMMIT={commit}");
    // Rebuild when HEAD moves: HEAD itself, the branch it points at, and packed refs.
    for path in [
        git(&["rev-parse", "--git-path", "HEAD"]),
        git(&["rev-parse", "--symbolic-full-name", "HEAD"])
            .and_then(|branch| git(&["rev-parse", "--git-path", &branch])),
        git(&["rev-parse", "--git-path", "packed-refs"]),
    ]
    .into_iter()
    .flatten()
    {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
