//! Browser sign-in through the loopback callback, over real sockets: the listener serves
//! each connection on its own (an idle one blocks nothing), answers other paths 404, gives
//! its port back when it completes, is cancelled or times out, and says clearly when the
//! port is taken.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use account::snapshot::SessionState;
use common::*;

fn callback_of(h: &Harness) -> (String, u16) {
    let snap = h.service.snapshot();
    let profile = snap.profiles.iter().find(|p| p.id == h.profile_id).unwrap();
    let port = url::Url::parse(&profile.callback).unwrap().port().unwrap();
    (profile.callback.clone(), port)
}

fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Cancelling aborts the listener task; the runtime drops it (and its socket) right after.
fn wait_until_free(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !port_is_free(port) {
        assert!(Instant::now() < deadline, "port {port} is still held");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_does_not_block_the_redirect_and_other_paths_get_404() {
    let h = Harness::new().await;
    let (callback, port) = callback_of(&h);
    let url = h
        .service
        .run("signin", h.service.sign_in_browser(Some("浏览器".into())))
        .await
        .unwrap();
    assert_eq!(
        url,
        format!("{}/?appCode={}", h.emu.url(), h.emu.info.app_code)
    );
    let pending = h.service.snapshot().sign_in.expect("a sign-in is pending");
    assert_eq!(pending.method, "browser");
    assert_eq!(pending.url, url);
    let left = pending.expires_at - now_ms();
    assert!((295_000..=300_000).contains(&left), "{left} ms left");
    assert!(!port_is_free(port));

    // A connection that says nothing (a browser's preconnect, say) and stays open.
    let mut idle = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    // Half the time a connection may take to send its request: a listener that served one
    // connection at a time would still be waiting on the idle one when this gives up.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let base = callback.trim_end_matches("/callback").to_owned();
    let other = http
        .get(format!("{base}/favicon.ico?token=abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    let no_token = http.get(&callback).send().await.unwrap();
    assert_eq!(no_token.status(), 404);
    assert!(h.service.snapshot().sign_in.is_some(), "still pending");
    assert!(h.service.snapshot().session.is_none());

    // The browser comes back from GeniusAuth with the login token.
    let token = h.emu.login_token(h.emu.uid());
    let page = http
        .get(format!("{callback}?token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let text = page.text().await.unwrap();
    assert!(
        text.contains("Signed in") && text.contains("已登录"),
        "{text}"
    );

    let snap = h
        .recorder
        .wait_for("the session", Duration::from_secs(10), |s| {
            s.session.is_some()
        })
        .await;
    assert!(snap.sign_in.is_none());
    let session = snap.session.unwrap();
    assert_eq!(session.state, SessionState::SignedIn);
    assert_eq!(session.user.user_id, h.emu.uid());
    assert_eq!(session.refresh.unwrap().payload, "浏览器");
    // The listener is gone with its port, and so is the idle connection.
    assert!(port_is_free(port));
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        idle.read(&mut buf).unwrap(),
        0,
        "the idle connection was closed"
    );
    h.assert_no_secrets(&[token]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_listening_and_a_new_sign_in_gets_the_port_again() {
    let h = Harness::new().await;
    let (callback, port) = callback_of(&h);
    h.service.sign_in_browser(None).await.unwrap();
    h.service.cancel_sign_in();
    let snap = h.service.snapshot();
    assert!(snap.sign_in.is_none());
    assert!(
        snap.error.is_none(),
        "a cancel is no failure: {:?}",
        snap.error
    );
    // At once, a new sign-in on the same port: it waits for the old listener to go.
    h.service.sign_in_browser(None).await.unwrap();
    assert!(h.service.snapshot().sign_in.is_some());
    h.service.cancel_sign_in();
    wait_until_free(port);
    assert!(reqwest::get(&callback).await.is_err(), "nobody listens");
    // Switching profiles cancels a pending sign-in as well.
    h.service.sign_in_browser(None).await.unwrap();
    h.service.switch_profile(&h.profile_id).await.unwrap();
    assert!(h.service.snapshot().sign_in.is_none());
    wait_until_free(port);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_in_use_is_a_clear_error() {
    let h = Harness::new().await;
    let (_, port) = callback_of(&h);
    let _taken = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let err = h
        .service
        .run("signin", h.service.sign_in_browser(None))
        .await
        .unwrap_err();
    let reply = h.service.reply_for(&err);
    assert_eq!(reply.code, "sign_in_port_in_use");
    assert!(
        reply.message.contains(&port.to_string()),
        "{}",
        reply.message
    );
    let snap = h.service.snapshot();
    assert!(snap.sign_in.is_none());
    assert_eq!(snap.error.unwrap().reply.code, "sign_in_port_in_use");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_redirect_in_time_is_sign_in_timeout_and_frees_the_port() {
    let h = Harness::with(Options {
        sign_in_timeout: Some(Duration::from_secs(1)),
        ..Options::default()
    })
    .await;
    let (_, port) = callback_of(&h);
    h.service.sign_in_browser(None).await.unwrap();
    let pending = h.service.snapshot().sign_in.unwrap();
    assert!(pending.expires_at - now_ms() <= 1000);
    let snap = h
        .recorder
        .wait_for("the timeout", Duration::from_secs(10), |s| {
            s.error.is_some()
        })
        .await;
    assert_eq!(snap.error.unwrap().reply.code, "sign_in_timeout");
    assert!(snap.sign_in.is_none());
    assert!(snap.session.is_none());
    assert!(port_is_free(port));
}
