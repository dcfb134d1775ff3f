//! Browser sign-in through the loopback callback, over real sockets, against the emulator with
//! production's registration rule (plain http only on `localhost`): the app is checked with
//! the server before anything listens, a `localhost` callback is served on 127.0.0.1 and ::1,
//! only a genuine fresh login token ends the wait, and the port comes back when it ends.

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use account::snapshot::SessionState;
use account::{Busy, ProfileInput};
use common::*;
use serde_json::json;

/// A harness whose active profile is an app registered with its own free `localhost`
/// callback, as a developer registers one in the dashboard. Returns the profile's callback
/// and its port.
async fn browser_harness(options: Options) -> (Harness, String, u16) {
    let h = Harness::with(options).await;
    let port = free_dual_stack_port();
    let callback = format!("http://localhost:{port}/callback");
    let app = h
        .emu
        .admin(
            reqwest::Method::POST,
            "/__emulator/apps",
            Some(json!({"name": "桌面登录 Desktop", "callback": callback})),
        )
        .await;
    h.service
        .save_profile(ProfileInput {
            id: None,
            name: "Browser".into(),
            server: h.emu.url().to_owned(),
            app_code: app["appCode"].as_str().unwrap().to_owned(),
            callback: callback.clone(),
            app_secret: Some(app["appSecret"].as_str().unwrap().to_owned()),
        })
        .await
        .unwrap();
    (h, callback, port)
}

fn v4(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn v6(port: u16) -> SocketAddr {
    format!("[::1]:{port}").parse().unwrap()
}

fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(v4(port)).is_ok() && std::net::TcpListener::bind(v6(port)).is_ok()
}

/// Cancelling aborts the listener task; the runtime drops it (and its sockets) right after.
fn wait_until_free(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !port_is_free(port) {
        assert!(Instant::now() < deadline, "port {port} is still held");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A client that reaches the callback over one loopback address only, as a browser that
/// resolved `localhost` that way would.
fn browser_via(addr: SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .resolve("localhost", addr)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_stale_tokens_are_refused_and_the_real_redirect_over_ipv6_signs_in() {
    let (h, callback, port) = browser_harness(Options::default()).await;
    // A login token issued a minute before this sign-in, by the server's clock.
    h.emu.set_clock_offset(-60).await;
    let early = h.emu.login_token(h.emu.uid());
    h.emu.set_clock_offset(0).await;
    let other_kind = h.token_of_another_kind().await;
    let url = h
        .service
        .run(
            Busy::SignIn,
            h.service.sign_in_browser(Some("浏览器".into())),
        )
        .await
        .unwrap();
    let snap = h.service.snapshot();
    let profile = snap
        .profiles
        .iter()
        .find(|p| Some(&p.id) == snap.active_profile_id.as_ref())
        .unwrap();
    assert_eq!(
        url,
        format!("{}/?appCode={}", h.emu.url(), profile.app_code)
    );
    let pending = snap.sign_in.expect("a sign-in is pending");
    assert_eq!(pending.method, "browser");
    assert_eq!(pending.url, url);
    assert_eq!(pending.app_name, "桌面登录 Desktop");
    let left = pending.expires_at - now_ms();
    assert!((295_000..=300_000).contains(&left), "{left} ms left");
    for addr in [v4(port), v6(port)] {
        assert!(
            std::net::TcpListener::bind(addr).is_err(),
            "{addr} not bound"
        );
    }

    // A connection that says nothing (a browser's preconnect, say) and stays open.
    let mut idle = std::net::TcpStream::connect(v4(port)).unwrap();
    let over_v4 = browser_via(v4(port));
    let over_v6 = browser_via(v6(port));
    let base = callback.trim_end_matches("/callback").to_owned();
    let other = over_v4
        .get(format!("{base}/favicon.ico?token=abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    // What another page in the browser could send: no token, `token=x`, a token that is not
    // a login token, a login token from before this sign-in began, the real one by POST, a
    // forged one.
    let genuine = h.emu.login_token(h.emu.uid());
    let mut refused = vec![
        over_v4.get(&callback).send().await.unwrap(),
        over_v4
            .get(format!("{callback}?token=x"))
            .send()
            .await
            .unwrap(),
        over_v6
            .get(format!("{callback}?token={other_kind}"))
            .send()
            .await
            .unwrap(),
        over_v4
            .get(format!("{callback}?token={early}"))
            .send()
            .await
            .unwrap(),
        over_v6
            .post(format!("{callback}?token={genuine}"))
            .send()
            .await
            .unwrap(),
    ];
    refused.push(
        over_v4
            .get(format!("{callback}?token={}", forge(&genuine)))
            .send()
            .await
            .unwrap(),
    );
    let statuses: Vec<u16> = refused.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, vec![400, 400, 400, 400, 405, 400]);
    assert!(h.service.snapshot().sign_in.is_some(), "still pending");
    assert!(h.service.snapshot().session.is_none());

    // The browser comes back from GeniusAuth, having resolved localhost to ::1.
    let page = over_v6
        .get(format!("{callback}?token={genuine}"))
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
    assert!(
        session.previous_user.is_none(),
        "first sign-in of this profile"
    );
    // The listener is gone with its ports, and so is the idle connection.
    assert!(port_is_free(port));
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        idle.read(&mut buf).unwrap(),
        0,
        "the idle connection was closed"
    );
    h.assert_no_secrets(&[genuine, other_kind, early]);
}

/// A token of the right shape signed with another key: what a page could forge.
fn forge(token: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut signature = parts[2].clone().into_bytes();
    signature[5] = if signature[5] == b'A' { b'B' } else { b'A' };
    parts[2] = String::from_utf8(signature).unwrap();
    parts.join(".")
}

impl Harness {
    /// A real token that is not a login token (an access token from a sign-in elsewhere).
    async fn token_of_another_kind(&self) -> String {
        let login = self
            .emu
            .client()
            .login_verify(
                &self.emu.login_token(self.emu.uid()),
                &geniusauth::LoginOptions::default(),
            )
            .await
            .unwrap();
        login.access_token
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redirect_over_ipv4_signs_in_and_another_user_is_pointed_out() {
    let (h, callback, port) = browser_harness(Options::default()).await;
    // Someone signed in on this profile before.
    let first = h.emu.info.users[1].id;
    h.service
        .run(
            Busy::SignIn,
            h.service.sign_in_with_token(h.emu.login_token(first), None),
        )
        .await
        .unwrap();
    h.service.forget_session().await.unwrap();

    h.service.sign_in_browser(None).await.unwrap();
    let token = h.emu.login_token(h.emu.uid());
    let page = browser_via(v4(port))
        .get(format!("{callback}?token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let snap = h
        .recorder
        .wait_for("the session", Duration::from_secs(10), |s| {
            s.session
                .as_ref()
                .is_some_and(|s| s.user.user_id == h.emu.uid())
        })
        .await;
    let previous = snap.session.unwrap().previous_user.expect("pointed out");
    assert_eq!(previous.user_id, first);
    assert_eq!(previous.name, h.emu.info.users[1].name);
    assert!(port_is_free(port));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_listening_and_a_new_sign_in_gets_the_port_again() {
    let (h, callback, port) = browser_harness(Options::default()).await;
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
    assert!(
        browser_via(v4(port)).get(&callback).send().await.is_err(),
        "nobody listens"
    );
    // Switching profiles cancels a pending sign-in as well.
    h.service.sign_in_browser(None).await.unwrap();
    h.service.switch_profile(&h.profile_id).await.unwrap();
    assert!(h.service.snapshot().sign_in.is_none());
    wait_until_free(port);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_in_use_on_either_address_is_a_clear_error() {
    let (h, _, port) = browser_harness(Options::default()).await;
    for addr in [v4(port), v6(port)] {
        let taken = std::net::TcpListener::bind(addr).unwrap();
        let err = h
            .service
            .run(Busy::SignIn, h.service.sign_in_browser(None))
            .await
            .unwrap_err();
        let reply = h.service.reply_for(&err);
        assert_eq!(reply.code, "sign_in_port_in_use", "{addr}");
        assert!(
            reply.message.contains(&port.to_string()),
            "{}",
            reply.message
        );
        let snap = h.service.snapshot();
        assert!(snap.sign_in.is_none());
        assert_eq!(snap.error.unwrap().reply.code, "sign_in_port_in_use");
        drop(taken);
        wait_until_free(port);
    }
}

/// The profile is checked with the server before anything listens or any browser opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_app_or_another_registered_callback_fails_before_listening() {
    let h = Harness::new().await;
    // The demo app is registered with http://localhost:47150/callback; this profile listens
    // on another port.
    let snap = h.service.snapshot();
    let callback = &snap.profiles[0].callback;
    let port = url::Url::parse(callback).unwrap().port().unwrap();
    let err = h
        .service
        .run(Busy::SignIn, h.service.sign_in_browser(None))
        .await
        .unwrap_err();
    let reply = h.service.reply_for(&err);
    assert_eq!(reply.code, "sign_in_callback_mismatch");
    assert!(
        reply.message.contains("localhost:47150"),
        "{}",
        reply.message
    );
    assert!(port_is_free(port));

    // An appCode the server does not know: code 3, nothing listens.
    h.service
        .save_profile(ProfileInput {
            app_code: "Zz9Zz9Zz".into(),
            ..h.emu.profile_input()
        })
        .await
        .unwrap();
    let callback = h
        .service
        .snapshot()
        .profiles
        .last()
        .unwrap()
        .callback
        .clone();
    let port = url::Url::parse(&callback).unwrap().port().unwrap();
    let err = h
        .service
        .run(Busy::SignIn, h.service.sign_in_browser(None))
        .await
        .unwrap_err();
    let reply = h.service.reply_for(&err);
    assert_eq!(
        (reply.code.as_str(), reply.server_code),
        ("server", Some(3))
    );
    assert!(h.service.snapshot().sign_in.is_none());
    assert!(port_is_free(port));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_redirect_in_time_is_sign_in_timeout_and_frees_the_port() {
    let (h, _, port) = browser_harness(Options {
        sign_in_timeout: Some(Duration::from_secs(1)),
        ..Options::default()
    })
    .await;
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
