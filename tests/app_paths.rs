//! `account::paths` (what geniusctl reads) against Tauri's own answer for this app: the app
//! built from tauri.conf.json on the mock runtime, asked for its folders by `Manager::path()`,
//! under several environments (`XDG_DATA_HOME` / `XDG_CACHE_HOME` set, unset, relative).
//!
//! One test function: it changes the process environment, which other tests must not see
//! half-changed.

use std::path::PathBuf;

use tauri::Manager;

fn tauri_app() -> tauri::App<tauri::test::MockRuntime> {
    tauri::test::mock_builder()
        .build(tauri::generate_context!(test = true))
        .expect("the app builds on the mock runtime")
}

fn tauri_dirs(app: &tauri::App<tauri::test::MockRuntime>) -> (PathBuf, PathBuf) {
    let paths = app.path();
    (
        paths.app_data_dir().expect("Tauri's app data dir"),
        paths.app_cache_dir().expect("Tauri's app cache dir"),
    )
}

fn ours() -> (PathBuf, PathBuf) {
    (
        account::paths::app_data_dir().expect("our app data dir"),
        account::paths::app_cache_dir().expect("our app cache dir"),
    )
}

#[test]
fn app_folders_are_the_ones_tauri_gives_the_app() {
    let app = tauri_app();
    assert_eq!(
        app.config().identifier,
        account::paths::APP_IDENTIFIER,
        "tauri.conf.json's identifier changed: account::paths (and the keyring service) must follow"
    );
    assert!(
        app.config().app.app_directories_override.is_none(),
        "tauri.conf.json overrides the app folders: account::paths must follow"
    );

    let home = tempfile::tempdir().unwrap();
    let xdg = tempfile::tempdir().unwrap();
    let cases: [(&str, Option<PathBuf>, Option<PathBuf>); 3] = [
        (
            "XDG_DATA_HOME and XDG_CACHE_HOME set",
            Some(xdg.path().join("data")),
            Some(xdg.path().join("cache")),
        ),
        ("both unset", None, None),
        (
            "relative (ignored by the XDG rules)",
            Some(PathBuf::from("relative/data")),
            Some(PathBuf::from("relative/cache")),
        ),
    ];
    std::env::set_var("HOME", home.path());
    for (case, data_home, cache_home) in cases {
        match &data_home {
            Some(dir) => std::env::set_var("XDG_DATA_HOME", dir),
            None => std::env::remove_var("XDG_DATA_HOME"),
        }
        match &cache_home {
            Some(dir) => std::env::set_var("XDG_CACHE_HOME", dir),
            None => std::env::remove_var("XDG_CACHE_HOME"),
        }
        let theirs = tauri_dirs(&app);
        assert_eq!(ours(), theirs, "{case}");
        assert!(
            theirs.0.ends_with("club.ncuhome.genius-account"),
            "{case}: {}",
            theirs.0.display()
        );
        #[cfg(target_os = "linux")]
        {
            let expected = match &data_home {
                Some(dir) if dir.is_absolute() => dir.join("club.ncuhome.genius-account"),
                _ => home.path().join(".local/share/club.ncuhome.genius-account"),
            };
            assert_eq!(theirs.0, expected, "{case}");
        }
    }
    assert_eq!(
        account::paths::settings_file().unwrap(),
        tauri_dirs(&app).0.join("settings.json"),
        "the app's settings file (src-tauri/lib.rs: build_service)"
    );
}
