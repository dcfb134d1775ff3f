//! `geniusctl status` and `geniusctl token` on the app's own session: the real geniusctl
//! binary against the real emulator binary, reading a settings file and secrets that the
//! account crate's service wrote exactly as the app writes them (a profile saved, a browser
//! sign-in finished with a login token), in an app data folder found through `XDG_DATA_HOME`.
//!
//! The keyring test uses a real Secret Service: the test keyring of `scripts/test-session.sh`
//! (`GENIUS_TEST_KEYRING_DIR` set), or else a private D-Bus session with its own gnome-keyring
//! that this test binary runs itself in (as crates/account/tests/keyring.rs does);
//! `GENIUS_SKIP_KEYRING_TESTS=1` skips it knowingly. The other tests use the opt-in secrets
//! file, and a keyring that cannot be reached.

mod emulator_process;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use account::secret_store::{refresh_token_key, FileStore, KeyringStore, MemoryStore, SecretStore};
use account::settings::SettingsStore;
use account::{AccountService, JsonSettingsFile, ProfileInput, ServiceConfig, Settings};
use emulator_process::EmulatorProcess;
use geniusauth_emulator::StartupInfo;
use serde_json::{json, Value};

const IDENTIFIER: &str = "club.ncuhome.genius-account";

struct Fixture {
    runtime: tokio::runtime::Runtime,
    emulator: EmulatorProcess,
    info: StartupInfo,
    /// HOME of geniusctl; its XDG_DATA_HOME is `<home>/data`.
    home: tempfile::TempDir,
}

impl Fixture {
    fn start() -> Fixture {
        geniusauth::tls::install_crypto_provider();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let emulator = EmulatorProcess::start();
        let info = emulator.info.clone();
        Fixture {
            runtime,
            emulator,
            info,
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn xdg_data_home(&self) -> PathBuf {
        self.home.path().join("data")
    }

    /// Where Tauri puts the app's data for this XDG_DATA_HOME (tests/app_paths.rs of the app
    /// checks the rule against Tauri itself).
    fn data_dir(&self) -> PathBuf {
        self.xdg_data_home().join(IDENTIFIER)
    }

    fn settings_path(&self) -> PathBuf {
        self.data_dir().join("settings.json")
    }

    fn secrets_path(&self) -> PathBuf {
        self.data_dir().join("secrets.json")
    }

    /// The app's service on the app's files; `keyring` stands in for the OS keyring, or is
    /// the real one.
    fn service(&self, keyring: Arc<dyn SecretStore>) -> AccountService {
        let config = ServiceConfig::new(
            self.data_dir(),
            self.home.path().join("cache").join(IDENTIFIER),
            "en".into(),
        );
        AccountService::with_keyring(
            config,
            Box::new(JsonSettingsFile(self.settings_path())),
            keyring,
        )
    }

    fn profile_input(&self, name: &str) -> ProfileInput {
        ProfileInput {
            id: None,
            name: name.into(),
            server: self.emulator.url().to_owned(),
            app_code: self.info.app_code.clone(),
            callback: "http://localhost:47150/callback".into(),
            app_secret: Some(self.info.app_secret.clone()),
        }
    }

    /// Adds a profile (it becomes the active one) and, with `sign_in`, signs the first user in
    /// on it the way the browser sign-in ends. Returns the profile's id.
    fn add_profile(&self, service: &AccountService, name: &str, sign_in: bool) -> String {
        let login_token = sign_in.then(|| self.login_token());
        self.runtime.block_on(async {
            let id = service
                .save_profile(self.profile_input(name))
                .await
                .expect("profile saved");
            if let Some(token) = login_token {
                service
                    .sign_in_with_token(token, None)
                    .await
                    .expect("signed in");
            }
            id
        })
    }

    fn uid(&self) -> u64 {
        self.info.users[0].id
    }

    fn user_name(&self) -> &str {
        &self.info.users[0].name
    }

    fn login_token(&self) -> String {
        let minted = self.admin(
            "/__emulator/login-token",
            json!({"appCode": self.info.app_code, "uid": self.uid()}),
        );
        minted["token"].as_str().unwrap().to_owned()
    }

    fn admin(&self, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.emulator.url());
        self.runtime.block_on(async {
            let response = reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let value: Value = response.json().await.unwrap_or(Value::Null);
            assert!(status.is_success(), "{path}: HTTP {status}: {value}");
            value
        })
    }

    /// The server's opinion of an access token: its user id.
    fn verify(&self, access_token: &str) -> Result<u64, geniusauth::Error> {
        let config =
            geniusauth::Config::new(self.info.app_code.clone(), self.info.app_secret.clone())
                .with_base_url(self.emulator.url())
                .unwrap();
        let client = geniusauth::Client::new(config).unwrap();
        self.runtime
            .block_on(client.verify_access_token(access_token))
            .map(|info| info.uid)
    }

    /// geniusctl with this fixture's home and data folder, and nothing of the caller's.
    fn ctl(&self, args: &[&str]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_geniusctl"));
        command
            .args(args)
            .env("HOME", self.home.path())
            .env("XDG_DATA_HOME", self.xdg_data_home())
            .env("XDG_CACHE_HOME", self.home.path().join("cache"))
            .env_remove("GENIUS_SERVER")
            .env_remove("GENIUS_APP_CODE")
            .env_remove("GENIUS_APP_SECRET")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null());
        run(&mut command)
    }

    /// Like [`Fixture::ctl`], with the session bus at an address where nothing listens.
    fn ctl_without_keyring(&self, args: &[&str]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_geniusctl"));
        command
            .args(args)
            .env("HOME", self.home.path())
            .env("XDG_DATA_HOME", self.xdg_data_home())
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}", self.home.path().join("no-bus").display()),
            )
            .env_remove("GENIUS_SERVER")
            .env_remove("GENIUS_APP_CODE")
            .env_remove("GENIUS_APP_SECRET")
            .stdin(Stdio::null());
        run(&mut command)
    }

    /// The refresh token the app stored for a profile in the secrets file.
    fn stored_refresh_token(&self, profile_id: &str) -> String {
        FileStore::new(self.secrets_path())
            .get(&refresh_token_key(profile_id))
            .unwrap()
            .expect("a stored refresh token")
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", self.stdout))
    }
}

fn run(command: &mut Command) -> Run {
    let output = command.output().expect("geniusctl runs");
    let run = Run {
        code: output.status.code().expect("exited normally"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    };
    assert!(
        !run.stderr.contains("panicked") && !run.stderr.contains("internal error"),
        "{}",
        run.stderr
    );
    run
}

fn exp_of(token: &str) -> i64 {
    geniusauth::tokens::decode(token)
        .unwrap()
        .claims
        .exp
        .unwrap()
}

/// The file store: `use_file_store(true)` as the app's "keep secrets in a file" choice.
fn file_store_service(fx: &Fixture) -> AccountService {
    let service = fx.service(Arc::new(MemoryStore::default()));
    fx.runtime
        .block_on(service.use_file_store(true))
        .expect("file store chosen");
    service
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The token goes to the server and back: a fresh access token, alone on stdout, that the
/// server accepts for the signed-in user; nothing of the app's files changes.
#[test]
fn token_prints_a_fresh_access_token_from_the_secrets_file() {
    let fx = Fixture::start();
    let service = file_store_service(&fx);
    let id = fx.add_profile(&service, "Emulator", true);
    drop(service);
    let settings_before = read(&fx.settings_path());
    let secrets_before = read(&fx.secrets_path());

    let out = fx.ctl(&["token"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "");
    assert!(out.stdout.ends_with('\n'), "{:?}", out.stdout);
    let token = out.stdout.trim_end_matches('\n');
    assert_eq!(out.stdout.lines().count(), 1, "{:?}", out.stdout);
    assert!(!token.contains(char::is_whitespace), "{token:?}");
    let claims = geniusauth::tokens::decode(token).unwrap().claims;
    assert_eq!(claims.token_type, geniusauth::tokens::TokenType::Access);
    assert_eq!(fx.verify(token).expect("the server accepts it"), fx.uid());
    // The same session: the access token belongs to the stored refresh token's login record.
    let refresh = fx.stored_refresh_token(&id);
    let record = geniusauth::tokens::decode(&refresh).unwrap().claims.id;
    assert_eq!(claims.id, record);

    // By name and by id alike.
    for profile in ["Emulator", id.as_str()] {
        let out = fx.ctl(&["token", "--profile", profile]);
        assert_eq!(out.code, 0, "{profile}: {}", out.stderr);
        assert_eq!(fx.verify(out.stdout.trim()).unwrap(), fx.uid());
    }
    assert_eq!(
        read(&fx.settings_path()),
        settings_before,
        "settings untouched"
    );
    assert_eq!(
        read(&fx.secrets_path()),
        secrets_before,
        "secrets untouched"
    );
}

#[test]
fn status_tells_who_is_signed_in_until_when_and_where_the_secrets_are() {
    let fx = Fixture::start();
    let service = file_store_service(&fx);
    let spare = fx.add_profile(&service, "Spare", false);
    let id = fx.add_profile(&service, "Emulator", true);
    drop(service);
    let exp = exp_of(&fx.stored_refresh_token(&id));

    let out = fx.ctl(&["status", "--json"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(
        report["settingsFile"],
        fx.settings_path().display().to_string()
    );
    assert_eq!(report["activeProfileId"], id.as_str());
    assert_eq!(report["secretStore"], "file");
    assert_eq!(
        report["secretLocation"],
        fx.secrets_path().display().to_string()
    );
    let profiles = report["profiles"].as_array().unwrap();
    assert_eq!(profiles.len(), 2, "{report}");
    let signed_in = profiles.iter().find(|p| p["id"] == id.as_str()).unwrap();
    assert_eq!(signed_in["name"], "Emulator");
    assert_eq!(signed_in["server"], fx.emulator.url());
    assert_eq!(signed_in["appCode"], fx.info.app_code.as_str());
    assert_eq!(signed_in["active"], true);
    assert_eq!(signed_in["signedIn"], true);
    assert_eq!(signed_in["state"], "signed_in");
    assert_eq!(signed_in["user"]["uid"], fx.uid());
    assert_eq!(signed_in["user"]["name"], fx.user_name());
    assert_eq!(signed_in["expiresAt"], exp);
    let other = profiles.iter().find(|p| p["id"] == spare.as_str()).unwrap();
    assert_eq!(other["active"], false);
    assert_eq!(other["signedIn"], false);
    assert_eq!(other["state"], "signed_out");
    assert!(other.get("user").is_none(), "{other}");

    // The text: both profiles, the user, the expiry, the store.
    let out = fx.ctl(&["status"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = &out.stdout;
    assert!(
        text.contains(&fx.settings_path().display().to_string()),
        "{text}"
    );
    assert!(
        text.contains(&format!("the secrets file {}", fx.secrets_path().display())),
        "{text}"
    );
    let expected = format!(
        "signed in as {} (user {}), until {}",
        fx.user_name(),
        fx.uid(),
        signed_in["expiresAtUtc"].as_str().unwrap()
    );
    assert!(text.contains(&expected), "{expected:?} not in:\n{text}");
    assert!(text.contains(&format!("* Emulator (id {id})")), "{text}");
    assert!(text.contains(&format!("  Spare (id {spare})")), "{text}");
    assert!(text.contains("    not signed in\n"), "{text}");
    assert!(
        !text.contains(&fx.stored_refresh_token(&id)[..20]),
        "no token in the status"
    );

    // One profile: the signed-out one exits 1.
    let out = fx.ctl(&["status", "--profile", "Spare", "--json"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["profiles"].as_array().unwrap().len(), 1);
    assert_eq!(report["profiles"][0]["state"], "signed_out");
    let out = fx.ctl(&["status", "--profile", &id]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn each_failure_has_its_exit_code() {
    let fx = Fixture::start();

    // No settings at all: no such profile (4), for both commands.
    for args in [&["token"][..], &["status"]] {
        let out = fx.ctl(args);
        assert_eq!(out.code, 4, "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, "");
        assert!(
            out.stderr.contains("no Genius Account settings"),
            "{}",
            out.stderr
        );
    }

    let service = file_store_service(&fx);
    let spare = fx.add_profile(&service, "Spare", false);
    let id = fx.add_profile(&service, "Emulator", true);

    // An unknown profile: 4, naming the ones there are.
    let out = fx.ctl(&["token", "--profile", "Nope"]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("\"Nope\""), "{}", out.stderr);
    assert!(out.stderr.contains("\"Emulator\""), "{}", out.stderr);
    assert_eq!(fx.ctl(&["status", "--profile", "Nope"]).code, 4);

    // Signed out: 5 (and status says 1).
    let out = fx.ctl(&["token", "--profile", &spare]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("not signed in"), "{}", out.stderr);
    assert_eq!(fx.ctl(&["status", "--profile", "Spare"]).code, 1);

    // Forgotten in the app: signed out too.
    fx.runtime.block_on(service.forget_session()).unwrap();
    let out = fx.ctl(&["token"]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert_eq!(fx.ctl(&["status"]).code, 1);

    // The session ended on the server (code 31): 6.
    fx.runtime
        .block_on(service.sign_in_with_token(fx.login_token(), None))
        .unwrap();
    assert_eq!(fx.ctl(&["token"]).code, 0);
    fx.admin(
        &format!("/__emulator/users/{}/revoke-all", fx.uid()),
        json!({}),
    );
    let out = fx.ctl(&["token", "--profile", &id]);
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("code 31"), "{}", out.stderr);
    assert!(out.stderr.contains("sign in again"), "{}", out.stderr);

    // A secrets file others may read: refused, 7.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(fx.secrets_path(), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        let out = fx.ctl(&["token"]);
        assert_eq!(out.code, 7, "{}", out.stderr);
        assert!(out.stderr.contains("0600"), "{}", out.stderr);
        assert_eq!(fx.ctl(&["status"]).code, 7);
        std::fs::set_permissions(fx.secrets_path(), std::fs::Permissions::from_mode(0o600))
            .unwrap();
    }

    // A settings file that cannot be read: 4, and it stays where it is (the app recovers it).
    drop(service);
    std::fs::write(fx.settings_path(), b"{\"settings\": {\"pro").unwrap();
    let out = fx.ctl(&["status"]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(out.stderr.contains("cut off"), "{}", out.stderr);
    assert_eq!(read(&fx.settings_path()), b"{\"settings\": {\"pro");
}

/// Secrets in the keyring (the app's default) while no keyring can be reached: 7.
#[test]
fn an_unreachable_keyring_is_its_own_exit_code() {
    let fx = Fixture::start();
    // The app with a keyring that works (in memory): settings say "keyring".
    let service = fx.service(Arc::new(MemoryStore::default()));
    fx.add_profile(&service, "Emulator", true);
    drop(service);
    assert!(!fx.secrets_path().exists());

    let out = fx.ctl_without_keyring(&["token"]);
    assert_eq!(out.code, 7, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("keyring"), "{}", out.stderr);
    let out = fx.ctl_without_keyring(&["status", "--json"]);
    assert_eq!(out.code, 7, "{}", out.stderr);
    let report = out.json();
    assert_eq!(report["secretStore"], "keyring");
    assert_eq!(report["secretLocation"], IDENTIFIER);
    assert_eq!(report["profiles"][0]["state"], "unavailable");
}

// ---- the real keyring ---------------------------------------------------------------------

/// Starts a private session bus with an unlocked gnome-keyring in a temp dir and runs
/// `$1 --exact $2` (this test binary, one test) inside it.
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

/// Whether this process has the test keyring; otherwise the test ran (and was checked) in a
/// private D-Bus session, or was skipped on request.
fn have_test_keyring(test: &str) -> bool {
    if std::env::var_os("GENIUS_TEST_KEYRING_DIR").is_some() {
        return true;
    }
    if std::env::var("GENIUS_SKIP_KEYRING_TESTS").as_deref() == Ok("1") {
        eprintln!("{test}: SKIPPED on request (GENIUS_SKIP_KEYRING_TESTS=1)");
        return false;
    }
    let output = Command::new("dbus-run-session")
        .args(["--", "bash", "-c", PRIVATE_KEYRING, "private-keyring"])
        .arg(std::env::current_exe().unwrap())
        .arg(test)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "no Secret Service: cannot run dbus-run-session ({e}); install dbus and \
                 gnome-keyring, or set GENIUS_SKIP_KEYRING_TESTS=1 to skip knowingly"
            )
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{test} in a private keyring session failed:\n{stdout}\n{stderr}"
    );
    false
}

/// The app's default: the secrets in the OS keyring, under the app's service name. The
/// profile number is this process's, so that the entries are this test's own in a shared
/// test keyring; they are deleted at the end.
#[test]
fn token_and_status_read_the_app_keyring_entries() {
    if !have_test_keyring("token_and_status_read_the_app_keyring_entries") {
        return;
    }
    let fx = Fixture::start();
    let number = 1000 + std::process::id() % 1_000_000;
    let seeded = Settings {
        next_profile_number: number,
        ..Settings::default()
    };
    JsonSettingsFile(fx.settings_path()).save(&seeded).unwrap();
    let keyring = Arc::new(KeyringStore::new(IDENTIFIER));
    keyring.probe().expect("the test keyring answers");
    let service = fx.service(keyring.clone());
    let id = fx.add_profile(&service, "Keyring", true);
    assert_eq!(id, format!("p{number}"));
    assert!(!fx.secrets_path().exists(), "nothing in the secrets file");
    let refresh = keyring
        .get(&refresh_token_key(&id))
        .unwrap()
        .expect("the app stored the refresh token in the keyring");

    let out = fx.ctl(&["token"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 1);
    assert_eq!(fx.verify(out.stdout.trim()).unwrap(), fx.uid());

    let out = fx.ctl(&["status", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = out.json();
    assert_eq!(report["secretStore"], "keyring");
    assert_eq!(report["profiles"][0]["state"], "signed_in");
    assert_eq!(report["profiles"][0]["expiresAt"], exp_of(&refresh));
    let out = fx.ctl(&["status"]);
    assert!(
        out.stdout
            .contains(&format!("the OS keyring (service {IDENTIFIER})")),
        "{}",
        out.stdout
    );

    fx.runtime.block_on(service.delete_profile(&id)).unwrap();
    assert_eq!(keyring.get(&refresh_token_key(&id)).unwrap(), None);
}
