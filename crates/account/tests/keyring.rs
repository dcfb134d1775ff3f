//! The OS keyring for real: a Secret Service (gnome-keyring) on D-Bus.
//!
//! These tests never touch a desktop's own keyring. Inside `scripts/test.sh` (which runs
//! `scripts/test-session.sh` under `dbus-run-session`, with gnome-keyring unlocked and
//! `GENIUS_TEST_KEYRING_DIR` set) they use that test keyring. Anywhere else they start a
//! private D-Bus session with its own gnome-keyring and run themselves again inside it, so a
//! plain `cargo test` really exercises the keyring too. If no Secret Service can be had, they
//! fail loudly; `GENIUS_SKIP_KEYRING_TESTS=1` skips them, for machines known to lack one.
//!
//! The unavailable-keyring test runs itself in a child process whose
//! `DBUS_SESSION_BUS_ADDRESS` points at a socket that does not exist.

mod common;

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use account::secret_store::{
    app_secret_key, refresh_token_key, Backend, FileStore, KeyringStore, SecretStore,
};
use account::snapshot::SessionState;
use account::{AccountService, JsonSettingsFile, ProfileInput, ServiceConfig};
use common::*;

/// Set in a child process: which test body it should run.
const CHILD: &str = "GENIUS_KEYRING_TEST_CHILD";

/// Starts a private session bus with an unlocked, empty-password gnome-keyring whose files
/// live in a temp dir, then runs `$1 --exact $2` (this test binary, one test) inside it.
const PRIVATE_KEYRING: &str = r#"
set -euo pipefail
GENIUS_TEST_KEYRING_DIR=$(mktemp -d)
export GENIUS_TEST_KEYRING_DIR
trap 'rm -rf "$GENIUS_TEST_KEYRING_DIR"' EXIT
export XDG_DATA_HOME="$GENIUS_TEST_KEYRING_DIR/data"
export XDG_RUNTIME_DIR="$GENIUS_TEST_KEYRING_DIR/run"
mkdir -m 700 -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
eval "$(printf '\n' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
"$1" --exact "$2" --nocapture --test-threads=1
"#;

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Whether this process should run the keyring test body itself. Otherwise the test was run
/// (and checked) in a private D-Bus session, or skipped on explicit request.
fn have_test_keyring(test: &str) -> bool {
    if std::env::var_os("GENIUS_TEST_KEYRING_DIR").is_some() {
        // scripts/test-session.sh, or our own private session: a keyring must be there.
        return true;
    }
    if std::env::var("GENIUS_SKIP_KEYRING_TESTS").as_deref() == Ok("1") {
        eprintln!(
            "{test}: SKIPPED on request (GENIUS_SKIP_KEYRING_TESTS=1): the keyring is untested"
        );
        return false;
    }
    let exe = std::env::current_exe().unwrap();
    let output = Command::new("dbus-run-session")
        .args(["--", "bash", "-c", PRIVATE_KEYRING, "private-keyring"])
        .arg(&exe)
        .arg(test)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "no Secret Service for the keyring tests: cannot run dbus-run-session ({e}). \
                 Install dbus and gnome-keyring (scripts/install-deps.sh) or run scripts/test.sh; \
                 GENIUS_SKIP_KEYRING_TESTS=1 skips these tests knowingly"
            )
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{test} failed in a private D-Bus session with gnome-keyring ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    false
}

#[test]
fn keyring_store_round_trips_through_the_secret_service() {
    if !have_test_keyring("keyring_store_round_trips_through_the_secret_service") {
        return;
    }
    let service = unique("genius-account-test");
    let store = KeyringStore::new(service.clone());
    store
        .probe()
        .expect("the test Secret Service answers (is gnome-keyring running and unlocked?)");
    assert_eq!(store.backend(), Backend::Keyring);
    assert_eq!(store.get("item").unwrap(), None);
    store.set("item", "first 秘密").unwrap();
    assert_eq!(store.get("item").unwrap().as_deref(), Some("first 秘密"));
    store.set("item", "second").unwrap();
    // Another store object (its own D-Bus connection) reads the same item: it is in the
    // keyring, not in this object.
    let other = KeyringStore::new(service.clone());
    assert_eq!(other.get("item").unwrap().as_deref(), Some("second"));
    // And so does another program: libsecret's command-line tool.
    if let Ok(out) = Command::new("secret-tool")
        .args(["lookup", "service", &service, "username", "item"])
        .output()
    {
        assert_eq!(String::from_utf8_lossy(&out.stdout), "second");
    }
    // Items are per service name: another service does not see it.
    assert_eq!(
        KeyringStore::new(unique("genius-account-other"))
            .get("item")
            .unwrap(),
        None
    );
    store.delete("item").unwrap();
    assert_eq!(other.get("item").unwrap(), None);
    store
        .delete("item")
        .expect("deleting an absent item is fine");
}

#[test]
fn the_service_keeps_its_secrets_in_the_keyring_and_restores_from_it() {
    if !have_test_keyring("the_service_keeps_its_secrets_in_the_keyring_and_restores_from_it") {
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(service_with_keyring());
}

async fn service_with_keyring() {
    let emu = Emu::start().await;
    let dir = tempfile::tempdir().unwrap();
    let keyring_service = unique("genius-account-test");
    let config = || {
        let mut config = ServiceConfig::new(
            dir.path().join("data"),
            dir.path().join("cache"),
            "zh-CN".into(),
        );
        config.keyring_service = keyring_service.clone();
        config
    };
    let settings = || Box::new(JsonSettingsFile(dir.path().join("settings.json")));
    let keyring = KeyringStore::new(keyring_service.clone());

    // The production constructor: the real keyring, probed when the service starts.
    let service = AccountService::new(config(), settings());
    service.start().await;
    let storage = service.snapshot().storage;
    assert_eq!(storage.backend, Backend::Keyring);
    assert!(storage.available, "{storage:?}");
    assert_eq!(storage.message, None);
    let profile = service.save_profile(emu.profile_input()).await.unwrap();
    assert_eq!(
        keyring.get(&app_secret_key(&profile)).unwrap().as_deref(),
        Some(emu.info.app_secret.as_str())
    );
    service
        .sign_in_with_token(emu.login_token(emu.uid()), None)
        .await
        .unwrap();
    let refresh = keyring
        .get(&refresh_token_key(&profile))
        .unwrap()
        .expect("the refresh token is in the keyring");
    let snapshot = service.snapshot();
    assert_eq!(
        snapshot
            .session
            .as_ref()
            .unwrap()
            .refresh
            .as_ref()
            .unwrap()
            .masked,
        account::mask::mask(&refresh)
    );
    assert!(!dir.path().join("data/secrets.json").exists());
    let settings_text = std::fs::read_to_string(dir.path().join("settings.json")).unwrap();
    assert!(!settings_text.contains(&refresh));
    assert!(!settings_text.contains(&emu.info.app_secret));
    drop(service);

    // Restart: everything comes back from the keyring, without a new sign-in.
    let again = AccountService::new(config(), settings());
    emu.reset_requests().await;
    again.start().await;
    let snapshot = again.snapshot();
    let session = snapshot
        .session
        .as_ref()
        .expect("restored from the keyring");
    assert_eq!(session.state, SessionState::SignedIn);
    assert_eq!(session.user.user_id, emu.uid());
    assert_eq!(emu.count(LOGIN_PATH).await, 0);
    assert_eq!(emu.count(REFRESH_PATH).await, 1);
    let json = serde_json::to_string(&snapshot).unwrap();
    assert!(!json.contains(&refresh) && !json.contains(&emu.info.app_secret));

    // Revoking removes it from the keyring; deleting the profile removes the app secret.
    again.revoke_session().await.unwrap();
    assert_eq!(keyring.get(&refresh_token_key(&profile)).unwrap(), None);
    again.delete_profile(&profile).await.unwrap();
    assert_eq!(keyring.get(&app_secret_key(&profile)).unwrap(), None);
    drop(again);

    // A fresh installation (its settings gone, the keyring kept) numbers its profiles from the
    // start again: its first profile must not pick up a token an earlier one left under that id.
    keyring.set(&refresh_token_key(&profile), &refresh).unwrap();
    std::fs::remove_file(dir.path().join("settings.json")).unwrap();
    let fresh = AccountService::new(config(), settings());
    fresh.start().await;
    let reused = fresh
        .save_profile(ProfileInput {
            name: "Emulator again".into(),
            ..emu.profile_input()
        })
        .await
        .unwrap();
    assert_eq!(reused, profile, "the same id as the earlier installation's");
    assert!(
        fresh.snapshot().session.is_none(),
        "a new profile starts signed out"
    );
    assert_eq!(keyring.get(&refresh_token_key(&profile)).unwrap(), None);
    fresh.delete_profile(&reused).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_keyring_is_reported_and_the_file_store_takes_over() {
    if std::env::var(CHILD).as_deref() == Ok("unreachable") {
        unreachable_keyring().await;
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let output = Command::new(exe)
        .args([
            "--exact",
            "unreachable_keyring_is_reported_and_the_file_store_takes_over",
            "--nocapture",
        ])
        .env(CHILD, "unreachable")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/genius-account-test/bus",
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn unreachable_keyring() {
    let emu = Emu::start().await;
    let dir = tempfile::tempdir().unwrap();
    let make = || {
        let mut config = ServiceConfig::new(
            dir.path().join("data"),
            dir.path().join("cache"),
            "en".into(),
        );
        config.keyring_service = unique("genius-account-test");
        AccountService::new(
            config,
            Box::new(JsonSettingsFile(dir.path().join("settings.json"))),
        )
    };
    let started = std::time::Instant::now();
    let service = make();
    // The keyring is first asked when the service starts (off the window's setup path).
    service.start().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the probe must be bounded"
    );
    let storage = service.snapshot().storage;
    assert_eq!(storage.backend, Backend::Keyring);
    assert!(!storage.available, "{storage:?}");
    assert!(!storage.file_opt_in);
    let message = storage.message.expect("a message says why");
    assert!(!message.is_empty());

    let input = emu.profile_input();
    let err = service.save_profile(input.clone()).await.unwrap_err();
    assert_eq!(err.code(), "keyring_unavailable");
    assert!(service.snapshot().profiles.is_empty());

    // The user opts in to the file.
    service.use_file_store(true).await.unwrap();
    let storage = service.snapshot().storage;
    assert_eq!(storage.backend, Backend::File);
    assert!(storage.available && storage.file_opt_in, "{storage:?}");
    let profile = service.save_profile(input).await.unwrap();
    service
        .sign_in_with_token(emu.login_token(emu.uid()), None)
        .await
        .unwrap();
    let path = dir.path().join("data/secrets.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "secrets.json mode {mode:o}");
    }
    let file = FileStore::new(&path);
    let refresh = file.get(&refresh_token_key(&profile)).unwrap().unwrap();
    assert_eq!(
        file.get(&app_secret_key(&profile)).unwrap().as_deref(),
        Some(emu.info.app_secret.as_str())
    );
    let json = serde_json::to_string(&service.snapshot()).unwrap();
    assert!(!json.contains(&refresh) && !json.contains(&emu.info.app_secret));
    drop(service);

    // Restart with the keyring still unreachable: the file has everything.
    let again = make();
    again.start().await;
    let snap = again.snapshot();
    assert_eq!(snap.storage.backend, Backend::File);
    assert!(snap.storage.available);
    assert_eq!(snap.session.map(|s| s.state), Some(SessionState::SignedIn));
    // Leaving the file needs a keyring to go to: refused, and nothing changes.
    let err = again.use_file_store(false).await.unwrap_err();
    assert_eq!(err.code(), "keyring_unavailable");
    assert_eq!(again.snapshot().storage.backend, Backend::File);
    assert!(file.get(&refresh_token_key(&profile)).unwrap().is_some());
}

/// Runs `test` of this binary in a private D-Bus session with its own gnome-keyring, always
/// (not the shared test keyring: the test locks its collection, which cannot be undone
/// without a password prompt). Returns whether this process is that child and should run
/// the body.
fn in_private_keyring(test: &str, child: &str) -> bool {
    if std::env::var(CHILD).as_deref() == Ok(child) {
        assert!(
            std::env::var_os("GENIUS_TEST_KEYRING_DIR").is_some(),
            "the child runs in a private keyring"
        );
        return true;
    }
    if std::env::var("GENIUS_SKIP_KEYRING_TESTS").as_deref() == Ok("1") {
        eprintln!("{test}: SKIPPED on request (GENIUS_SKIP_KEYRING_TESTS=1)");
        return false;
    }
    let exe = std::env::current_exe().unwrap();
    let output = Command::new("dbus-run-session")
        .args(["--", "bash", "-c", PRIVATE_KEYRING, "private-keyring"])
        .arg(&exe)
        .arg(test)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env(CHILD, child)
        .output()
        .unwrap_or_else(|e| panic!("cannot run dbus-run-session for {test}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{test} failed in a private D-Bus session with gnome-keyring ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    false
}

/// Locks the default collection of the session's Secret Service, as a screen lock or
/// `seahorse` would: reading an item then needs an unlock prompt that nobody answers.
fn lock_default_collection() {
    let output = Command::new("gdbus")
        .args([
            "call",
            "--session",
            "--dest",
            "org.freedesktop.secrets",
            "--object-path",
            "/org/freedesktop/secrets",
            "--method",
            "org.freedesktop.Secret.Service.Lock",
            "['/org/freedesktop/secrets/aliases/default', '/org/freedesktop/secrets/collection/login']",
        ])
        .output()
        .expect("gdbus (libglib2.0-bin) locks the collection");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("collection/login"),
        "the collection was not locked: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A keyring that answers the availability probe (searching finds nothing, which needs no
/// unlock) but is locked: the first real read fails after the bounded wait. That must give
/// the same clear state as a missing keyring, "unavailable" with the reason and the file
/// opt-in, and the opt-in must work from there.
#[test]
fn a_locked_keyring_found_at_the_first_read_offers_the_file_store() {
    if !in_private_keyring(
        "a_locked_keyring_found_at_the_first_read_offers_the_file_store",
        "locked",
    ) {
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(locked_keyring());
}

async fn locked_keyring() {
    let emu = Emu::start().await;
    let dir = tempfile::tempdir().unwrap();
    let keyring_service = unique("genius-account-test");
    let make = || {
        let mut config = ServiceConfig::new(
            dir.path().join("data"),
            dir.path().join("cache"),
            "en".into(),
        );
        config.keyring_service = keyring_service.clone();
        AccountService::new(
            config,
            Box::new(JsonSettingsFile(dir.path().join("settings.json"))),
        )
    };
    let service = make();
    service.start().await;
    assert!(service.snapshot().storage.available);
    let profile = service.save_profile(emu.profile_input()).await.unwrap();
    service
        .sign_in_with_token(emu.login_token(emu.uid()), None)
        .await
        .unwrap();
    drop(service);

    lock_default_collection();
    // The next start: the probe may pass, the stored refresh token cannot be read.
    let again = make();
    let recorder = Recorder::attach(&again);
    again.start().await;
    let snap = again.snapshot();
    let storage = &snap.storage;
    assert_eq!(storage.backend, Backend::Keyring);
    assert!(!storage.available, "{storage:?}");
    assert!(!storage.file_opt_in);
    assert!(
        storage.message.as_deref().is_some_and(|m| !m.is_empty()),
        "{storage:?}"
    );
    let error = snap.error.as_ref().expect("the failed read shows");
    assert_eq!(error.reply.code, "keyring_unavailable");
    assert!(snap.session.is_none());

    // The user takes the offer: the file store works without the keyring.
    again.use_file_store(true).await.unwrap();
    let storage = again.snapshot().storage;
    assert_eq!(storage.backend, Backend::File);
    assert!(storage.available && storage.file_opt_in, "{storage:?}");
    // The app secret stayed in the locked keyring: the profile asks for it again.
    let err = again
        .sign_in_with_token(emu.login_token(emu.uid()), None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("appSecret"), "{err}");
    again
        .save_profile(ProfileInput {
            id: Some(profile.clone()),
            ..emu.profile_input()
        })
        .await
        .unwrap();
    again
        .sign_in_with_token(emu.login_token(emu.uid()), None)
        .await
        .unwrap();
    let file = FileStore::new(dir.path().join("data/secrets.json"));
    let refresh = file.get(&refresh_token_key(&profile)).unwrap().unwrap();
    for text in recorder.json.lock().unwrap().iter() {
        assert!(!text.contains(&refresh) && !text.contains(&emu.info.app_secret));
    }
}
