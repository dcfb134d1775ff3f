//! The opt-in secrets file (`FileStore`) and `settings.json` on disk: each change is renamed
//! into place and the folder fsync'd after the rename (watched with strace, so a "Forget" is
//! durable, not only atomic), a `secrets.tmp` left by a crash is removed at start-up, and a file
//! other users may read is refused with `secrets_file_too_open` until the user has it fixed.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use account::secret_store::{FileStore, SecretStore, SECRETS_FILE};
use account::snapshot::SessionState;
use account::{Busy, JsonSettingsFile, Settings, SettingsStore};
use common::*;

/// Set in the child: the folder it writes in.
const CHILD_ENV: &str = "ACCOUNT_DURABILITY_CHILD_DIR";

#[test]
#[ignore = "the process that every_replacement_is_renamed_then_its_folder_synced traces"]
fn child_saves_settings_stores_and_forgets_a_secret() {
    let Some(dir) = std::env::var_os(CHILD_ENV).map(PathBuf::from) else {
        return;
    };
    JsonSettingsFile(dir.join("settings.json"))
        .save(&Settings::default())
        .unwrap();
    let store = FileStore::new(dir.join(SECRETS_FILE));
    store.set("refresh-token:p1", "a token").unwrap();
    store.delete("refresh-token:p1").unwrap();
}

/// One traced system call: `openat`, `rename*` or `fsync`, with its path(s) and result.
#[derive(Debug)]
struct Call {
    name: String,
    args: String,
    result: String,
}

fn trace(dir: &Path) -> Vec<Call> {
    let log = dir.join("strace.txt");
    let status = Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-e",
            "trace=openat,rename,renameat,renameat2,fsync,fdatasync",
        ])
        .arg("-o")
        .arg(&log)
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_saves_settings_stores_and_forgets_a_secret",
        ])
        .args(["--ignored", "--test-threads", "1"])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::null())
        .status()
        .expect("strace runs (scripts/install-deps.sh installs it)");
    assert!(status.success(), "the traced child failed");
    std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter_map(|line| {
            // `1234 fsync(5)      = 0`: drop the pid, split name(args) = result (padded).
            let call = line.split_once(' ').map_or(line, |(_, rest)| rest).trim();
            let (name, rest) = call.split_once('(')?;
            let (args, result) = rest.rsplit_once('=')?;
            let args = args.trim_end().strip_suffix(')')?;
            Some(Call {
                name: name.to_owned(),
                args: args.to_owned(),
                result: result.split_whitespace().next()?.to_owned(),
            })
        })
        .collect()
}

/// Whether `call` opened `path` (exactly) and returned a descriptor.
fn opened(call: &Call, path: &Path) -> Option<String> {
    let quoted = format!("\"{}\"", path.display());
    let opens = call.name == "openat" && call.args.split(", ").nth(1) == Some(quoted.as_str());
    opens.then(|| call.result.clone()).filter(|fd| fd != "-1")
}

/// Index of the fsync of a descriptor opened on `path` after `from`.
fn synced_after(calls: &[Call], from: usize, path: &Path) -> Option<usize> {
    let mut fd = None;
    for (i, call) in calls.iter().enumerate().skip(from) {
        if let Some(opened) = opened(call, path) {
            fd = Some(opened);
        } else if call.name == "fsync" && Some(call.args.as_str()) == fd.as_deref() {
            return Some(i);
        }
    }
    None
}

#[test]
fn every_replacement_is_renamed_then_its_folder_synced() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().canonicalize().unwrap();
    let calls = trace(&dir);
    for (target, replacements) in [("settings.json", 1), (SECRETS_FILE, 2)] {
        let target = dir.join(target);
        let temp = target.with_extension("tmp");
        let renames: Vec<usize> = calls
            .iter()
            .enumerate()
            .filter(|(_, c)| c.name.starts_with("rename") && c.result == "0")
            .filter(|(_, c)| {
                c.args.contains(&format!("\"{}\"", temp.display()))
                    && c.args.contains(&format!("\"{}\"", target.display()))
            })
            .map(|(i, _)| i)
            .collect();
        assert_eq!(
            renames.len(),
            replacements,
            "{}: renames from {}: {calls:#?}",
            target.display(),
            temp.display()
        );
        let mut from = 0;
        for rename in renames {
            // The contents are on disk before the rename, the rename before the call returns.
            let file_sync = synced_after(&calls, from, &temp);
            assert!(
                file_sync.is_some_and(|i| i < rename),
                "{} not fsync'd before its rename: {calls:#?}",
                temp.display()
            );
            assert!(
                synced_after(&calls, rename, &dir).is_some(),
                "the folder was not fsync'd after renaming {}: {calls:#?}",
                target.display()
            );
            from = rename + 1;
        }
    }
}

#[test]
fn a_temporary_file_left_by_a_crash_is_removed_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(SECRETS_FILE);
    let leftover = dir.path().join("secrets.tmp");
    std::fs::write(&leftover, r#"{"refresh-token:p1": "a forgotten token"}"#).unwrap();
    let store = FileStore::new(&path);
    assert!(!leftover.exists(), "removed when the store is opened");
    assert_eq!(store.get("refresh-token:p1").unwrap(), None);

    // The app's start-up: the service opens the file store in its data folder.
    let app = tempfile::tempdir().unwrap();
    let data = app.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("secrets.tmp"), "{").unwrap();
    let _service = make_service(
        &app,
        std::sync::Arc::new(RecordingStore::default()),
        &Options::default(),
    );
    assert!(!data.join("secrets.tmp").exists());
}

#[test]
fn a_file_others_may_read_is_refused_until_narrowed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(SECRETS_FILE);
    let store = FileStore::new(&path);
    store.set("app-secret:p1", "the secret").unwrap();
    for mode in [0o644, 0o640, 0o604, 0o660, 0o666] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        for result in [
            store.get("app-secret:p1").map(|_| ()),
            store.set("app-secret:p2", "x"),
            store.delete("app-secret:p1"),
        ] {
            let err = result.expect_err("refused");
            assert_eq!(err.code(), "secrets_file_too_open", "{mode:o}: {err}");
            let text = err.to_string();
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(text.contains(&format!("{mode:04o}")), "{text}");
            assert!(!text.contains("the secret"), "{text}");
        }
        // Refused means untouched: the mode and the contents are as they were.
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, mode);
    }
    FileStore::restrict_to_owner(&path).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        store.get("app-secret:p1").unwrap().as_deref(),
        Some("the secret")
    );
    // Owner-only modes narrower than 0600 are fine.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    assert!(store.get("app-secret:p1").is_ok());
}

/// The app starting over a secrets file someone made readable to all: the session is not
/// restored, the banner's error says why (and offers the fix); the fix brings the session back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_refuses_an_open_secrets_file_and_fixes_it_when_asked() {
    let h = Harness::new().await;
    h.sign_in(Some("desk")).await;
    h.service.use_file_store(true).await.unwrap();
    let path = h.dir.path().join("data").join(SECRETS_FILE);
    assert!(path.exists());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();

    let again = make_service(&h.dir, h.store.clone(), &Options::default());
    again.start().await;
    let snapshot = again.snapshot();
    assert!(snapshot.session.is_none(), "not restored from an open file");
    let error = snapshot.error.expect("the banner says why");
    assert_eq!(error.reply.code, "secrets_file_too_open");
    assert!(error.reply.message.contains(&path.display().to_string()));
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o644,
        "nothing is changed without being asked"
    );

    again
        .run(Busy::Storage, again.fix_secrets_file_permissions())
        .await
        .unwrap();
    let snapshot = again.snapshot();
    assert_eq!(snapshot.error, None, "the banner is gone");
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(state(&snapshot), Some(SessionState::SignedIn));
    assert_eq!(
        snapshot.session.unwrap().refresh.unwrap().payload,
        "desk",
        "the same session"
    );
}
