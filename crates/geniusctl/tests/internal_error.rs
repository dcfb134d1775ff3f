//! A bug (a panic) ends geniusctl with exit status 3 and one readable line, never Rust's 101 and
//! a backtrace. The hook is geniusctl's own module; the panic happens in a child process that
//! is this test binary re-run with a marker in its environment.

use std::process::Command;

#[path = "../src/internal_error.rs"]
mod internal_error;

const CHILD_MARKER: &str = "GENIUSCTL_TEST_PANIC_CHILD";
const TEST_NAME: &str = "a_panic_exits_3_without_a_backtrace";

#[test]
fn a_panic_exits_3_without_a_backtrace() {
    if std::env::var_os(CHILD_MARKER).is_some() {
        internal_error::install();
        // A panic on another thread ends the whole process too.
        let worker = std::thread::spawn(|| {
            let values: Vec<u32> = Vec::new();
            values.first().copied().expect("a deliberate bug")
        });
        let _ = worker.join();
        unreachable!("the hook exits the process");
    }
    let output = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_MARKER, "1")
        .env("RUST_BACKTRACE", "full")
        .output()
        .expect("child runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(internal_error::EXIT_INTERNAL),
        "{stderr}"
    );
    assert_eq!(internal_error::EXIT_INTERNAL, 3);
    assert!(
        stderr.contains("geniusctl: internal error: a deliberate bug (at "),
        "{stderr}"
    );
    assert!(stderr.contains("please report it"), "{stderr}");
    for noise in [
        "panicked",
        "stack backtrace",
        "RUST_BACKTRACE",
        "rust_begin_unwind",
    ] {
        assert!(!stderr.contains(noise), "{noise}: {stderr}");
    }
}
