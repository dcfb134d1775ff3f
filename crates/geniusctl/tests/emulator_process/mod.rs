//! The `geniusauth-emulator` binary run as a child process, as scripts and other back ends run
//! it: started with `--listen 127.0.0.1:0`, described by its first stdout line, killed on drop.
//!
//! Cargo builds only the binaries of the package under test, so the emulator's is built here,
//! once per test binary, with `cargo build` into the same target directory and profile as this
//! test (a no-op when it is up to date; a binary left over from an older build is never used).
//! `GENIUSAUTH_EMULATOR_BIN` names a prebuilt binary instead.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use geniusauth_emulator::StartupInfo;
use serde_json::Value;

const PACKAGE: &str = "geniusauth-emulator";

pub struct EmulatorProcess {
    child: Child,
    /// Kept open: the emulator must be able to write to its stdout for as long as it runs.
    _stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<String>>,
    /// The first stdout line, parsed.
    pub info: StartupInfo,
    /// The first stdout line as printed.
    pub first_line: String,
}

impl EmulatorProcess {
    /// On a free loopback port with an in-memory database.
    pub fn start() -> EmulatorProcess {
        EmulatorProcess::start_with(&["--memory"])
    }

    /// On a free loopback port, with these extra arguments (`--db PATH`, `--seed FILE`…).
    pub fn start_with(extra: &[&str]) -> EmulatorProcess {
        let mut child = Command::new(emulator_binary())
            .args(["--listen", "127.0.0.1:0", "--quiet"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", emulator_binary().display()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut child_stderr = child.stderr.take().expect("stderr is piped");
        let collected = stderr.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = child_stderr.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buffer[..n]);
                collected
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&text);
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut first_line = String::new();
        let read = stdout.read_line(&mut first_line);
        if !matches!(read, Ok(n) if n > 0) {
            let status = child.wait();
            panic!(
                "the emulator printed no first line ({read:?}, exit {status:?}); stderr:\n{}",
                stderr.lock().unwrap_or_else(|e| e.into_inner())
            );
        }
        let info: StartupInfo = serde_json::from_str(&first_line).unwrap_or_else(|e| {
            panic!("the first stdout line is not the startup JSON ({e}): {first_line:?}")
        });
        EmulatorProcess {
            child,
            _stdout: stdout,
            stderr,
            info,
            first_line,
        }
    }

    pub fn url(&self) -> &str {
        &self.info.url
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the emulator wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The emulator binary: `GENIUSAUTH_EMULATOR_BIN`, else built (or found up to date) by cargo.
pub fn emulator_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| match std::env::var_os("GENIUSAUTH_EMULATOR_BIN") {
        Some(path) => PathBuf::from(path),
        None => build_emulator(),
    })
}

/// `cargo build -p geniusauth-emulator --bin geniusauth-emulator` for the target directory and
/// profile this test binary was built in (`<target>/<profile>/deps/<test>`), returning the
/// executable cargo reports.
fn build_emulator() -> PathBuf {
    let test_binary = std::env::current_exe().expect("path of the test binary");
    let profile_dir = test_binary
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in <target>/<profile>/deps");
    let target_dir = profile_dir.parent().expect("a target directory");
    let mut command = Command::new(env!("CARGO"));
    command
        .args(["build", "--package", PACKAGE, "--bin", PACKAGE])
        .arg("--message-format=json-render-diagnostics")
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null());
    match profile_dir.file_name().and_then(|name| name.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(custom) => {
            command.args(["--profile", custom]);
        }
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the emulator: {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "building the emulator failed ({}):\n{stderr}",
        output.status
    );
    let built = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| {
            message["reason"] == "compiler-artifact" && message["target"]["name"] == PACKAGE
        })
        .find_map(|message| message["executable"].as_str().map(PathBuf::from));
    let binary = built
        .unwrap_or_else(|| profile_dir.join(format!("{PACKAGE}{}", std::env::consts::EXE_SUFFIX)));
    assert!(
        binary.is_file(),
        "cargo built no emulator at {}:\n{stderr}",
        binary.display()
    );
    binary
}
