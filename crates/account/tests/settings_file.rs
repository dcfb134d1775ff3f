//! `settings.json` on disk: the plugin's layout is read as it is, a damaged file is moved aside
//! (never overwritten) and reported in the snapshot, and fields of a newer version survive a
//! save. Real files in a temp dir, the real service on top.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use account::secret_store::MemoryStore;
use account::settings_file::SettingsDamage;
use account::{AccountService, JsonSettingsFile, ProfileInput, ServiceConfig, Snapshot};
use serde_json::{json, Value};

/// A settings file as tauri-plugin-store 2 wrote it (pretty JSON, the value under "settings").
const PLUGIN_FILE: &str = r#"{
  "settings": {
    "profiles": [
      {
        "id": "p1",
        "name": "NCUOS",
        "server": "https://v.ncuos.com",
        "appCode": "Ab3dE6g8",
        "callback": "http://127.0.0.1:47150/callback",
        "demo": false
      },
      {
        "id": "p2",
        "name": "预发布",
        "server": "https://v.ncuhome.club",
        "appCode": "Pr3R3l5e",
        "callback": "http://127.0.0.1:47151/callback",
        "demo": false
      }
    ],
    "activeProfileId": "p2",
    "locale": "zh-CN",
    "theme": "dark",
    "lifetimeDays": 14,
    "fileStoreOptIn": false,
    "cachedUsers": [
      {"profileId": "p2", "userId": 1, "name": "张伟", "groups": ["研发"], "avatarUrl": ""}
    ],
    "nextProfileNumber": 3
  }
}"#;

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        Files {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn settings(&self) -> PathBuf {
        self.dir.path().join("settings.json")
    }

    fn write(&self, bytes: &[u8]) {
        std::fs::write(self.settings(), bytes).unwrap();
    }

    /// The app starting over these files (the secrets in memory: only settings matter here).
    fn service(&self) -> AccountService {
        let config = ServiceConfig::new(
            self.dir.path().join("data"),
            self.dir.path().join("cache"),
            "en-US".into(),
        );
        AccountService::with_keyring(
            config,
            Box::new(JsonSettingsFile(self.settings())),
            Arc::new(MemoryStore::default()),
        )
    }

    /// Files beside settings.json whose name starts `settings.json.bad-`.
    fn set_aside(&self) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("settings.json.bad-")
            })
            .collect();
        found.sort();
        found
    }

    fn document(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.settings()).unwrap()).unwrap()
    }
}

fn new_profile() -> ProfileInput {
    ProfileInput {
        id: None,
        name: "Mine".into(),
        server: "https://v.ncuos.com".into(),
        app_code: "Zz9yX8w7".into(),
        callback: "http://127.0.0.1:47152/callback".into(),
        app_secret: Some("s".repeat(100)),
    }
}

fn snapshot_json(snapshot: &Snapshot) -> Value {
    serde_json::to_value(snapshot).unwrap()
}

/// A damaged file: the service starts with defaults, the file is kept byte for byte under a
/// `.bad-` name that the snapshot reports, and the next save writes a new file beside it.
async fn damaged_file_is_moved_aside_and_reported(bytes: &[u8], reason: SettingsDamage) {
    let files = Files::new();
    files.write(bytes);
    let service = files.service();
    service.start().await;

    let snapshot = service.snapshot();
    assert!(snapshot.profiles.is_empty(), "defaults: the setup screen");
    let damaged = snapshot
        .damaged_settings
        .clone()
        .expect("the snapshot reports the damaged file");
    assert_eq!(damaged.reason, reason);
    assert_eq!(damaged.path, files.settings().display().to_string());
    let moved_to = PathBuf::from(damaged.moved_to.as_deref().expect("moved aside"));
    assert_eq!(files.set_aside(), std::slice::from_ref(&moved_to));
    assert_eq!(std::fs::read(&moved_to).unwrap(), bytes, "kept as it was");
    assert!(!files.settings().exists());
    let view = snapshot_json(&snapshot);
    assert_eq!(
        view["damagedSettings"]["movedTo"],
        moved_to.display().to_string()
    );
    assert!(view["damagedSettings"]["at"].as_i64().unwrap() > 0);

    // It keeps going: a new profile is saved to a new settings.json, the damaged one untouched.
    service.save_profile(new_profile()).await.unwrap();
    assert_eq!(files.document()["settings"]["profiles"][0]["name"], "Mine");
    assert_eq!(std::fs::read(&moved_to).unwrap(), bytes);

    // The next start reads the new file and has nothing to report.
    let again = files.service();
    assert_eq!(again.snapshot().profiles.len(), 1);
    assert_eq!(again.snapshot().damaged_settings, None);
    assert_eq!(files.set_aside().len(), 1);
}

#[tokio::test]
async fn garbage_is_moved_aside() {
    damaged_file_is_moved_aside_and_reported(
        b"\x00\x17\xffnot settings at all",
        SettingsDamage::NotJson,
    )
    .await;
}

#[tokio::test]
async fn a_truncated_file_is_moved_aside() {
    let cut = &PLUGIN_FILE.as_bytes()[..PLUGIN_FILE.len() / 2];
    damaged_file_is_moved_aside_and_reported(cut, SettingsDamage::Truncated).await;
}

#[tokio::test]
async fn an_empty_file_is_moved_aside() {
    damaged_file_is_moved_aside_and_reported(b"", SettingsDamage::Empty).await;
}

#[tokio::test]
async fn a_file_of_the_wrong_shape_is_moved_aside() {
    damaged_file_is_moved_aside_and_reported(
        br#"{"settings": {"profiles": "none", "lifetimeDays": -1}}"#,
        SettingsDamage::WrongShape,
    )
    .await;
}

#[tokio::test]
async fn a_second_damaged_file_gets_a_name_of_its_own() {
    let files = Files::new();
    files.write(b"{");
    let first = files.service().snapshot().damaged_settings.unwrap();
    files.write(b"[");
    let second = files.service().snapshot().damaged_settings.unwrap();
    assert_ne!(first.moved_to, second.moved_to);
    let kept: Vec<Vec<u8>> = files
        .set_aside()
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert_eq!(kept.len(), 2);
    assert!(kept.contains(&b"{".to_vec()) && kept.contains(&b"[".to_vec()));
}

#[tokio::test]
async fn the_plugin_file_of_an_existing_installation_is_read_as_it_is() {
    let files = Files::new();
    files.write(PLUGIN_FILE.as_bytes());
    let service = files.service();
    let snapshot = service.snapshot();
    assert_eq!(snapshot.damaged_settings, None);
    let names: Vec<&str> = snapshot.profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["NCUOS", "预发布"]);
    assert_eq!(snapshot.active_profile_id.as_deref(), Some("p2"));
    assert_eq!(snapshot.locale, "zh-CN");
    assert_eq!(snapshot.theme, "dark");
    assert_eq!(snapshot.lifetime_days, 14);

    // A save writes the same layout back: the old document with one change.
    service
        .set_preferences(None, Some("light".into()), None)
        .unwrap();
    let mut expected: Value = serde_json::from_str(PLUGIN_FILE).unwrap();
    expected["settings"]["theme"] = json!("light");
    assert_eq!(files.document(), expected);
    assert!(files.set_aside().is_empty());
}

#[tokio::test]
async fn fields_of_a_newer_version_are_kept_on_the_next_save() {
    let files = Files::new();
    let mut newer: Value = serde_json::from_str(PLUGIN_FILE).unwrap();
    newer["settings"]["trayIcon"] = json!({"show": true, "style": "mono"});
    newer["settings"]["recentServers"] = json!(["https://example.org"]);
    files.write(serde_json::to_string_pretty(&newer).unwrap().as_bytes());

    let service = files.service();
    assert_eq!(service.snapshot().damaged_settings, None);
    assert_eq!(service.snapshot().profiles.len(), 2);
    service.save_profile(new_profile()).await.unwrap();
    service.delete_profile("p1").await.unwrap();

    let saved = files.document();
    assert_eq!(saved["settings"]["trayIcon"], newer["settings"]["trayIcon"]);
    assert_eq!(
        saved["settings"]["recentServers"],
        newer["settings"]["recentServers"]
    );
    let names: Vec<&str> = saved["settings"]["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["预发布", "Mine"]);
    // And once more through a restart.
    let again = files.service();
    again
        .set_preferences(Some("en".into()), None, None)
        .unwrap();
    assert_eq!(
        files.document()["settings"]["trayIcon"],
        newer["settings"]["trayIcon"]
    );
}

#[tokio::test]
async fn saving_leaves_no_temporary_file_and_replaces_a_leftover_one() {
    let files = Files::new();
    let leftover = files.dir.path().join("settings.tmp");
    std::fs::write(&leftover, b"{\"settings\": {\"pro").unwrap();
    let service = files.service();
    service
        .set_preferences(None, Some("dark".into()), None)
        .unwrap();
    assert_eq!(files.document()["settings"]["theme"], "dark");
    assert!(!leftover.exists());
    let names: Vec<String> = std::fs::read_dir(files.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["settings.json"], "{names:?}");
}

#[cfg(unix)]
#[tokio::test]
async fn an_unreadable_file_is_moved_aside_too() {
    use std::os::unix::fs::PermissionsExt;
    if is_root() {
        // root reads any file: nothing to test.
        return;
    }
    let files = Files::new();
    files.write(PLUGIN_FILE.as_bytes());
    std::fs::set_permissions(files.settings(), std::fs::Permissions::from_mode(0o000)).unwrap();
    let damaged = files.service().snapshot().damaged_settings.unwrap();
    assert_eq!(damaged.reason, SettingsDamage::Unreadable);
    let moved_to = PathBuf::from(damaged.moved_to.unwrap());
    std::fs::set_permissions(&moved_to, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(std::fs::read_to_string(&moved_to).unwrap(), PLUGIN_FILE);
}

#[cfg(unix)]
fn is_root() -> bool {
    Path::new("/proc/self/status").exists()
        && std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}
