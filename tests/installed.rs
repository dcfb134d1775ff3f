//! The INSTALLED app, driven through WebDriver: scripts/package-test.sh installs the .deb and
//! runs `GENIUS_INSTALLED_BINARY=/usr/bin/genius-account cargo test --test installed` under Xvfb
//! inside a private D-Bus session. Without that variable this test does nothing, so the normal
//! test command (scripts/test.sh) passes over it.
//!
//! It checks that the installed binary starts in demo mode and shows the demo screen, that its
//! About dialog names the version (and, when given, the commit) it was built from, and that a demo
//! user can sign in. Environment:
//! - `GENIUS_INSTALLED_BINARY`: the binary to start (required, else the test is skipped);
//! - `GENIUS_INSTALLED_HOME`: where its XDG data, config and cache dirs go (kept afterwards, so
//!   the script can check that uninstalling leaves user data alone); a temp dir if unset;
//! - `GENIUS_EXPECTED_VERSION` (default: this workspace's version), `GENIUS_EXPECTED_COMMIT`;
//! - `GENIUS_INSTALLED_SHOTS`: where the screenshots go (default `target/package-test/`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

struct Installed {
    client: Client,
    driver: Child,
    /// A unique argument on the app's command line, so that it can be found and ended.
    tag: String,
    shots: PathBuf,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl Installed {
    async fn launch(binary: &str, home: &std::path::Path) -> Installed {
        assert!(
            std::env::var_os("DISPLAY").is_some(),
            "needs an X display: run it through scripts/package-test.sh (Xvfb)"
        );
        let _ = rustls::crypto::ring::default_provider().install_default();
        let shots = std::env::var_os("GENIUS_INSTALLED_SHOTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/package-test")
            });
        std::fs::create_dir_all(&shots).unwrap();
        let log = std::fs::File::create(shots.join("installed-app.log")).unwrap();
        let (port, native_port) = (free_port(), free_port());
        let mut command = Command::new("tauri-driver");
        command
            .args(["--port", &port.to_string()])
            .args(["--native-port", &native_port.to_string()])
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("LANG", "en_US.UTF-8")
            .env("BROWSER", "true")
            .stdout(Stdio::null())
            .stderr(log);
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command
            .spawn()
            .expect("tauri-driver is missing: scripts/install-deps.sh installs it");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < WAIT,
                "tauri-driver did not listen on {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let tag = format!("--installed-test={}", home.display());
        let capabilities = json!({
            "browserName": "wry",
            "tauri:options": { "application": binary, "args": ["--demo", &tag] },
        });
        let mut builder = ClientBuilder::rustls().expect("rustls client");
        builder.capabilities(capabilities.as_object().unwrap().clone());
        let url = format!("http://127.0.0.1:{port}");
        let client = tokio::time::timeout(WAIT, builder.connect(&url))
            .await
            .expect("the installed app's window did not come up for WebDriver in time")
            .expect("WebDriver session with the installed app");
        Installed {
            client,
            driver,
            tag,
            shots,
        }
    }

    /// The first laid-out element with this `data-testid`, waiting for it to appear.
    async fn el(&self, testid: &str) -> Element {
        let css = format!("[data-testid=\"{testid}\"]");
        let start = Instant::now();
        loop {
            for element in self
                .client
                .find_all(Locator::Css(&css))
                .await
                .unwrap_or_default()
            {
                let arg = serde_json::to_value(&element).unwrap();
                let shown = self
                    .client
                    .execute(
                        "return arguments[0].getClientRects().length > 0;",
                        vec![arg],
                    )
                    .await
                    .ok()
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false);
                if shown {
                    return element;
                }
            }
            if start.elapsed() > WAIT {
                self.screenshot(&format!("installed-failed-{testid}")).await;
                panic!("no visible element {testid} after {WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn text(&self, testid: &str) -> String {
        let element = self.el(testid).await;
        let text = element.prop("textContent").await.ok().flatten();
        text.unwrap_or_default().trim().to_owned()
    }

    async fn wait_text(&self, testid: &str, check: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let text = self.text(testid).await;
            if check(&text) {
                return text;
            }
            assert!(start.elapsed() < WAIT, "{testid} stayed {text:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The hidden marker with the session state ("signed-out", "signed-in", …).
    async fn state(&self) -> String {
        match self
            .client
            .find(Locator::Css("[data-testid=\"session-state\"]"))
            .await
        {
            Ok(el) => el
                .prop("textContent")
                .await
                .ok()
                .flatten()
                .unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    async fn wait_state(&self, want: &str) {
        let start = Instant::now();
        while self.state().await.trim() != want {
            assert!(start.elapsed() < WAIT, "session state never became {want}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn screenshot(&self, name: &str) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if let Ok(png) = self.client.screenshot().await {
            std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
        }
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        // tauri-driver's group (with WebKitWebDriver), then the app, found by its unique tag.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.wait();
        let _ = Command::new("pkill")
            .args(["-KILL", "-f", "--", &self.tag])
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_installed_binary_shows_the_demo_and_its_version() {
    let Some(binary) = std::env::var("GENIUS_INSTALLED_BINARY")
        .ok()
        .filter(|b| !b.is_empty())
    else {
        eprintln!(
            "GENIUS_INSTALLED_BINARY is not set: nothing to test (scripts/package-test.sh sets it)"
        );
        return;
    };
    assert!(
        std::path::Path::new(&binary).is_file(),
        "{binary} does not exist: is the package installed?"
    );
    let temp = tempfile::tempdir().unwrap();
    let home = std::env::var_os("GENIUS_INSTALLED_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| temp.path().to_owned());
    let app = Installed::launch(&binary, &home).await;

    // The demo screen: the DEMO badge and the seeded demo users to sign in as.
    assert_eq!(app.text("demo-badge").await, "DEMO");
    app.el("demo-signin").await;
    assert_eq!(app.state().await.trim(), "signed-out");
    assert_eq!(app.client.title().await.unwrap(), "Genius Account");
    app.screenshot("installed-1-demo").await;

    // About: the version and commit this package was built from.
    app.el("btn-about").await.click().await.unwrap();
    let expected = std::env::var("GENIUS_EXPECTED_VERSION")
        .unwrap_or_else(|_| env!("CARGO_PKG_VERSION").to_owned());
    let version = app.wait_text("about-version", |t| !t.is_empty()).await;
    assert_eq!(version, expected, "About shows the wrong version");
    if let Ok(commit) = std::env::var("GENIUS_EXPECTED_COMMIT") {
        assert_eq!(
            app.text("about-commit").await,
            commit,
            "About shows the wrong commit"
        );
    }
    assert_eq!(app.text("about-license").await, "MIT");
    assert_eq!(app.text("about-server").await, "https://v.ncuos.com");
    app.screenshot("installed-2-about").await;
    app.el("btn-about-close").await.click().await.unwrap();

    // The embedded emulator answers: a demo user signs in.
    app.el("demo-signin").await.click().await.unwrap();
    app.wait_state("signed-in").await;
    app.wait_text("user-name", |t| !t.is_empty()).await;
    app.screenshot("installed-3-signed-in").await;

    let _ = tokio::time::timeout(Duration::from_secs(10), app.client.clone().close()).await;
    drop(app);
    println!("installed app: demo screen, About {version}, demo sign-in: ok");
}
