//! Drives the real app window through WebDriver: `tauri-driver` in front of WebKitWebDriver,
//! the app binary built by cargo, its data dirs in a temp dir, screenshots in
//! `target/e2e-screenshots/`. Needs an X display (scripts/test.sh provides Xvfb).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

pub const WAIT: Duration = Duration::from_secs(30);

/// One app at a time: it is a single-instance app, so a second copy on the same D-Bus session
/// would hand over to the first and exit.
static ONE_APP_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One app session may last this long: a WebDriver call that never answers must fail the run,
/// not stall it.
const SESSION_LIMIT: Duration = Duration::from_secs(600);

/// Ends the test process when an app session outlives [`SESSION_LIMIT`]; dropping it disarms it.
struct Watchdog(Arc<AtomicBool>);

impl Watchdog {
    fn arm(tag: String) -> Watchdog {
        let disarmed = Arc::new(AtomicBool::new(false));
        let flag = disarmed.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            while start.elapsed() < SESSION_LIMIT {
                if flag.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            eprintln!("e2e: an app session ran past {SESSION_LIMIT:?} (WebDriver stopped answering?); ending the run");
            let _ = Command::new("pkill")
                .args(["-KILL", "-f", "--", &tag])
                .status();
            std::process::exit(1);
        });
        Watchdog(disarmed)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

pub struct App {
    pub client: Client,
    _watchdog: Watchdog,
    _turn: tokio::sync::MutexGuard<'static, ()>,
    driver: Child,
    /// Passed to the app on its command line so that a test that fails can still find and end it.
    tag: String,
    _home: tempfile::TempDir,
    shots: PathBuf,
}

/// A port free on 127.0.0.1 and on ::1 (a `localhost` callback is served on both).
pub fn free_port() -> u16 {
    loop {
        let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = v4.local_addr().unwrap().port();
        if TcpListener::bind(("::1", port)).is_ok() {
            return port;
        }
    }
}

/// The app's identifier (tauri.conf.json): its folder name under the XDG dirs.
const IDENTIFIER: &str = "club.ncuhome.genius-account";

impl App {
    /// Starts the app with `args` and `env` (on top of isolated XDG data, config and cache dirs).
    pub async fn launch(args: &[&str], env: &[(&str, &str)]) -> App {
        App::launch_with_data(args, env, &[]).await
    }

    /// Like [`App::launch`], with these files (name, contents) in the app's data directory
    /// before it starts, as an earlier run (or a crash) left them.
    pub async fn launch_with_data(
        args: &[&str],
        env: &[(&str, &str)],
        files: &[(&str, &[u8])],
    ) -> App {
        assert!(
            std::env::var_os("DISPLAY").is_some(),
            "the end-to-end tests need an X display: run them through scripts/test.sh (Xvfb)"
        );
        // reqwest and fantoccini are built without a crypto provider of their own.
        geniusauth::tls::install_crypto_provider();
        let turn = ONE_APP_AT_A_TIME.lock().await;
        let home = tempfile::tempdir().unwrap();
        let data_dir = home.path().join("data").join(IDENTIFIER);
        for (name, contents) in files {
            std::fs::create_dir_all(&data_dir).unwrap();
            std::fs::write(data_dir.join(name), contents).unwrap();
        }
        let (port, native_port) = (free_port(), free_port());
        // The app's own output (it inherits tauri-driver's stderr), for when a test fails.
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        let log =
            std::fs::File::create(shots.join(format!("app-{}.log", std::process::id()))).unwrap();
        let mut command = Command::new("tauri-driver");
        command
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            // A browser the app may try to open for sign-in must not exist here: the test plays it.
            .env("BROWSER", "true")
            .stdout(Stdio::null())
            .stderr(log);
        for (key, value) in env {
            command.env(key, value);
        }
        // Its own process group, so that quitting ends WebKitWebDriver and the app with it.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command
            .spawn()
            .expect("tauri-driver is missing: scripts/install-deps.sh installs it (cargo install tauri-driver)");
        wait_for_port(port).await;
        let tag = format!("--e2e-instance={}", home.path().display());
        let mut app_args: Vec<&str> = args.to_vec();
        app_args.push(&tag);
        let capabilities = json!({
            "browserName": "wry",
            "tauri:options": {
                "application": env!("CARGO_BIN_EXE_genius-account"),
                "args": app_args,
            }
        });
        let url = format!("http://127.0.0.1:{port}");
        // tauri-driver now and then drops the first session request while WebKitWebDriver
        // starts (hyper's IncompleteMessage): no app was started then, so asking again is safe.
        let mut attempt = 0;
        let client = loop {
            attempt += 1;
            let mut builder = ClientBuilder::rustls().expect("rustls client");
            builder.capabilities(capabilities.as_object().unwrap().clone());
            let connected = tokio::time::timeout(WAIT, builder.connect(&url))
                .await
                .expect("the app's window did not come up for WebDriver in time");
            match connected {
                Ok(client) => break client,
                Err(fantoccini::error::NewSessionError::FailedC(err)) if attempt < 3 => {
                    eprintln!("e2e: WebDriver session request failed ({err}), asking again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(err) => panic!("WebDriver session with the app: {err:?}"),
            }
        };
        App {
            client,
            _watchdog: Watchdog::arm(tag.clone()),
            _turn: turn,
            driver,
            tag,
            _home: home,
            shots,
        }
    }

    /// Everything the app wrote to its log folder so far (`<data dir>/logs`).
    pub fn log_text(&self) -> String {
        let mut text = String::new();
        if let Ok(entries) = std::fs::read_dir(self.data_dir().join("logs")) {
            for entry in entries.flatten() {
                text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
        text
    }

    /// The app's data directory (XDG_DATA_HOME/<identifier>).
    pub fn data_dir(&self) -> PathBuf {
        self._home.path().join("data").join(IDENTIFIER)
    }

    pub async fn el(&self, testid: &str) -> Element {
        self.wait_el(testid).await
    }

    /// The first element with `data-testid`, waiting for it to appear.
    pub async fn wait_el(&self, testid: &str) -> Element {
        let css = format!("[data-testid=\"{testid}\"]");
        let start = Instant::now();
        loop {
            for element in self
                .client
                .find_all(Locator::Css(&css))
                .await
                .unwrap_or_default()
            {
                if self.rendered(&element).await {
                    return element;
                }
            }
            if start.elapsed() > WAIT {
                self.screenshot(&format!("failed-waiting-for-{testid}"))
                    .await;
                panic!(
                    "no visible element {testid} after {WAIT:?}; error banner: {:?}",
                    self.error_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Laid out on the page. WebDriver's own "displayed" check misreads ellipsised text.
    async fn rendered(&self, element: &Element) -> bool {
        let script = "const e = arguments[0]; return e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';";
        let arg = serde_json::to_value(element).unwrap();
        self.client
            .execute(script, vec![arg])
            .await
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    }

    /// Clicks through a script: for inputs styled invisible over their label (radio cards).
    pub async fn script_click(&self, testid: &str) {
        let css = format!("[data-testid=\"{testid}\"]");
        let element = self
            .client
            .find(Locator::Css(&css))
            .await
            .unwrap_or_else(|e| panic!("{testid}: {e}"));
        let arg = serde_json::to_value(&element).unwrap();
        self.client
            .execute("arguments[0].click();", vec![arg])
            .await
            .unwrap();
    }

    pub async fn all(&self, testid: &str) -> Vec<Element> {
        let css = format!("[data-testid=\"{testid}\"]");
        self.client
            .find_all(Locator::Css(&css))
            .await
            .unwrap_or_default()
    }

    /// Scrolls the element into the middle of the view, then clicks it as a user would. A
    /// snapshot may re-render the page between finding the element and clicking it: then the
    /// element is found again.
    pub async fn click(&self, testid: &str) {
        let start = Instant::now();
        loop {
            let element = self.el(testid).await;
            let arg = serde_json::to_value(&element).unwrap();
            let center = "arguments[0].scrollIntoView({block: 'center', inline: 'center'});";
            let result = match self.client.execute(center, vec![arg]).await {
                Ok(_) => element.click().await,
                Err(err) => Err(err),
            };
            match result {
                Ok(_) => return,
                Err(err) if is_stale(&err) && start.elapsed() < WAIT => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(err) => {
                    self.screenshot(&format!("failed-click-{testid}")).await;
                    panic!("click {testid}: {err:?}");
                }
            }
        }
    }

    pub async fn type_into(&self, testid: &str, text: &str) {
        let element = self.el(testid).await;
        // WebKitWebDriver refuses Element Clear on some inputs: empty it the way a script would.
        let empty = "arguments[0].value = ''; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));";
        self.client
            .execute(empty, vec![serde_json::to_value(&element).unwrap()])
            .await
            .unwrap();
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {testid}: {e}"));
    }

    /// The element's text as the DOM has it (WebDriver's visible-text atom drops ellipsised
    /// text), read in one script so that a re-render between finding the element and reading
    /// it cannot leave a stale reference (which read as "" before). Waits for a rendered one.
    pub async fn text(&self, testid: &str) -> String {
        let script = "const all = document.querySelectorAll(`[data-testid=\"${arguments[0]}\"]`); \
            for (const e of all) { if (e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden') return e.textContent; } \
            return null;";
        let start = Instant::now();
        loop {
            let text = self
                .client
                .execute(script, vec![serde_json::json!(testid)])
                .await
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned));
            if let Some(text) = text {
                return text;
            }
            if start.elapsed() > WAIT {
                self.screenshot(&format!("failed-waiting-for-{testid}"))
                    .await;
                panic!("no visible element {testid} after {WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the element's text satisfies `check`; returns that text.
    pub async fn wait_text(&self, testid: &str, check: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let text = self.text(testid).await;
            if check(&text) {
                return text;
            }
            assert!(
                start.elapsed() < WAIT,
                "{testid} stayed {text:?} for {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_state(&self, state: &str) {
        let start = Instant::now();
        loop {
            let css = "[data-testid=\"session-state\"]";
            // The state marker may be visually hidden: read it through the DOM.
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(el) => el.prop("textContent").await.ok().flatten(),
                Err(_) => None,
            };
            if text.as_deref().map(str::trim) == Some(state) {
                return;
            }
            if start.elapsed() > WAIT {
                let banner = self.error_text().await;
                panic!("session-state stayed {text:?}, wanted {state:?}; error banner: {banner:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn error_text(&self) -> Option<String> {
        let el = self
            .client
            .find(Locator::Css("[data-testid=\"error-banner\"]"))
            .await
            .ok()?;
        if self.rendered(&el).await {
            el.text().await.ok()
        } else {
            None
        }
    }

    pub async fn screenshot(&self, name: &str) {
        // Let the last render and any transition settle.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// Ends the WebDriver session (closing the window); Drop ends the processes either way.
    pub async fn quit(self) {
        let close = self.client.clone().close();
        if tokio::time::timeout(Duration::from_secs(10), close)
            .await
            .is_err()
        {
            eprintln!("e2e: closing the WebDriver session timed out; killing the app instead");
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        // tauri-driver's whole group (it and WebKitWebDriver), then the app, which WebKitWebDriver
        // starts in a group of its own.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.wait();
        let _ = Command::new("pkill")
            .args(["-KILL", "-f", "--", &self.tag])
            .status();
    }
}

/// The element left the page (re-rendered) between finding it and using it.
fn is_stale(err: &fantoccini::error::CmdError) -> bool {
    matches!(
        err,
        fantoccini::error::CmdError::Standard(e)
            if e.error == fantoccini::error::ErrorStatus::StaleElementReference
    )
}

async fn wait_for_port(port: u16) {
    let start = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            start.elapsed() < WAIT,
            "tauri-driver did not listen on {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
