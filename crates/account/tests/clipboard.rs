//! "Copy access token" on a real X clipboard: the service puts the token there, another
//! program pastes it, and it is cleared after the delay unless the user copied something else
//! meanwhile.
//!
//! The other program is this test binary run again (`clipboard_helper`), so every paste and
//! every copy by "the user" crosses the X server as between two apps. Inside
//! `scripts/test.sh` the tests use its Xvfb display; without `DISPLAY` they run themselves
//! again under `xvfb-run`, and fail loudly if that is missing too
//! (`GENIUS_SKIP_CLIPBOARD_TESTS=1` skips them, for machines known to have no X server).
#![cfg(target_os = "linux")]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use account::AccountError;
use common::*;

/// Set in a child process: what `clipboard_helper` does there (`read`, `write`, or `run` to
/// run the test named by GENIUS_CLIPBOARD_TEST inside xvfb-run).
const HELPER: &str = "GENIUS_CLIPBOARD_HELPER";
/// What the `write` helper copies.
const TEXT: &str = "GENIUS_CLIPBOARD_TEXT";

/// Not a test of its own: the other program of the test below. `read` prints the clipboard's
/// text between markers (or why there is none); `write` copies GENIUS_CLIPBOARD_TEXT and
/// serves it until it is replaced or 30 s have passed.
#[test]
fn clipboard_helper() {
    let Ok(role) = std::env::var(HELPER) else {
        return;
    };
    let mut clipboard = arboard::Clipboard::new().expect("a clipboard on DISPLAY");
    match role.as_str() {
        "read" => match clipboard.get_text() {
            Ok(text) => println!("CLIPBOARD-TEXT<{text}>"),
            Err(err) => println!("CLIPBOARD-NONE<{err}>"),
        },
        "write" => {
            use arboard::SetExtLinux;
            let text = std::env::var(TEXT).unwrap();
            clipboard
                .set()
                .wait_until(Instant::now() + Duration::from_secs(30))
                .text(text)
                .unwrap();
        }
        "hint" => match x11_convert(b"x-kde-passwordManagerHint") {
            Some(value) => println!("CLIPBOARD-HINT<{}>", String::from_utf8_lossy(&value)),
            None => println!("CLIPBOARD-HINT-NONE<>"),
        },
        other => panic!("unknown helper role {other}"),
    }
}

/// Asks the X clipboard's owner for `target`, as a clipboard manager does: the bytes, or None
/// when the owner does not offer it.
fn x11_convert(target: &[u8]) -> Option<Vec<u8>> {
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{ConnectionExt as _, *};
    use x11rb::protocol::Event;
    let (conn, screen) = x11rb::connect(None).unwrap();
    let root = conn.setup().roots[screen].root;
    let window = conn.generate_id().unwrap();
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        window,
        root,
        0,
        0,
        1,
        1,
        0,
        WindowClass::INPUT_OUTPUT,
        0,
        &CreateWindowAux::new(),
    )
    .unwrap();
    let atom = |name: &[u8]| conn.intern_atom(false, name).unwrap().reply().unwrap().atom;
    let (clipboard, target, property) = (atom(b"CLIPBOARD"), atom(target), atom(b"GENIUS_TEST"));
    conn.convert_selection(window, clipboard, target, property, x11rb::CURRENT_TIME)
        .unwrap();
    conn.flush().unwrap();
    loop {
        if let Event::SelectionNotify(event) = conn.wait_for_event().unwrap() {
            if event.property == x11rb::NONE {
                return None;
            }
            break;
        }
    }
    let reply = conn
        .get_property(true, window, property, AtomEnum::ANY, 0, 1 << 16)
        .unwrap()
        .reply()
        .unwrap();
    Some(reply.value)
}

fn helper(role: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "clipboard_helper",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(HELPER, role);
    cmd
}

/// What another program pastes: `Some(text)`, or `None` for an empty clipboard.
fn paste() -> Option<String> {
    let out = helper("read").stderr(Stdio::inherit()).output().unwrap();
    assert!(out.status.success(), "the reading program failed");
    let stdout = String::from_utf8(out.stdout).unwrap();
    if let Some(rest) = stdout.split("CLIPBOARD-TEXT<").nth(1) {
        let text = &rest[..rest.rfind('>').unwrap()];
        // An empty text is an empty clipboard too.
        return (!text.is_empty()).then(|| text.to_owned());
    }
    assert!(stdout.contains("CLIPBOARD-NONE<"), "{stdout}");
    None
}

/// The history-exclusion hint the clipboard's owner offers, if any.
fn hint() -> Option<String> {
    let out = helper("hint").stderr(Stdio::inherit()).output().unwrap();
    assert!(out.status.success(), "the reading program failed");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let rest = stdout.split("CLIPBOARD-HINT<").nth(1)?;
    Some(rest[..rest.find('>').unwrap()].to_owned())
}

/// Another program copies `text` and keeps serving it (as an app does) until killed.
fn user_copies(text: &str) -> Child {
    let child = helper("write")
        .env(TEXT, text)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while paste().as_deref() != Some(text) {
        assert!(
            Instant::now() < deadline,
            "the other program's copy never showed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// Pastes until the clipboard no longer holds `token`; returns when that was.
fn wait_gone(token: &str, within: Duration) -> Instant {
    let deadline = Instant::now() + within;
    loop {
        if paste().as_deref() != Some(token) {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "the token is still on the clipboard"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs the test `name` again under `xvfb-run` when there is no display. Returns true when the
/// caller should go on here (a display is there).
fn on_a_display(name: &str) -> bool {
    if std::env::var_os("DISPLAY").is_some() {
        return true;
    }
    if std::env::var_os("GENIUS_SKIP_CLIPBOARD_TESTS").is_some() {
        eprintln!("no DISPLAY, GENIUS_SKIP_CLIPBOARD_TESTS set: {name} skipped");
        return false;
    }
    let status = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 640x480x24"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .status()
        .expect("no DISPLAY and no xvfb-run: install xvfb, or set GENIUS_SKIP_CLIPBOARD_TESTS=1");
    assert!(status.success(), "{name} failed under xvfb-run");
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_copied_access_token_is_cleared_after_the_delay_unless_replaced() {
    if !on_a_display("the_copied_access_token_is_cleared_after_the_delay_unless_replaced") {
        return;
    }
    let delay = Duration::from_secs(2);
    let h = Harness::with(Options {
        clipboard_clear_after: Some(delay),
        ..Options::default()
    })
    .await;
    assert!(matches!(
        h.service.copy_access_token(),
        Err(AccountError::NoSession)
    ));
    h.sign_in(None).await;
    let token = h.service.access_token().unwrap();
    assert!(token.starts_with("eyJ"));

    // Copied: another program pastes exactly the token; after the delay it is gone.
    let copied_at = Instant::now();
    assert_eq!(h.service.copy_access_token().unwrap(), delay);
    assert_eq!(paste().as_deref(), Some(token.as_str()));
    // Marked for clipboard managers to keep it out of their history.
    assert_eq!(hint().as_deref(), Some("secret"));
    let gone_at = wait_gone(&token, delay + Duration::from_secs(5));
    assert!(
        gone_at - copied_at >= delay,
        "cleared after {:?}, before the delay",
        gone_at - copied_at
    );
    assert_eq!(paste(), None, "the clipboard is empty");

    // The user copies something else meanwhile: it stays after the delay.
    h.service.copy_access_token().unwrap();
    assert_eq!(paste().as_deref(), Some(token.as_str()));
    let mut other = user_copies("something the user copied");
    assert_eq!(hint(), None, "an ordinary copy carries no hint");
    tokio::time::sleep(delay + Duration::from_secs(1)).await;
    assert_eq!(
        paste().as_deref(),
        Some("something the user copied"),
        "the user's copy was cleared"
    );
    other.kill().unwrap();
    other.wait().unwrap();

    // Copied twice: the first copy's timer leaves the second one its whole delay.
    h.service.copy_access_token().unwrap();
    tokio::time::sleep(delay / 2).await;
    let second_at = Instant::now();
    h.service.copy_access_token().unwrap();
    tokio::time::sleep(delay / 2 + Duration::from_millis(500)).await;
    assert_eq!(
        paste().as_deref(),
        Some(token.as_str()),
        "cleared by the first copy's timer"
    );
    let gone_at = wait_gone(&token, delay + Duration::from_secs(5));
    assert!(gone_at - second_at >= delay);

    h.assert_no_secrets(&[token]);
}
