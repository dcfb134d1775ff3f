//! Avatars inside the service, over real HTTP: the profile's server is a small server in
//! front of the emulator, whose own origin serves avatars that break the rules. Each broken
//! one leaves the initials; a good one, direct or after a same-origin redirect, shows as a
//! data URL and stays cached for a restart without the server.

mod common;

use account::avatar::MAX_AVATAR_BYTES;
use account::snapshot::SessionState;
use common::*;

/// Signs in a new user whose avatar is `avatar_url` and waits for the download to end.
/// Returns the user's avatar as the snapshot shows it then.
async fn avatar_after_sign_in(h: &Harness, name: &str, avatar_url: &str) -> Option<String> {
    let uid = h.emu.user_with_avatar(name, avatar_url).await;
    h.sign_in_as(uid, None).await;
    let snap = wait_until(&h.service, "the avatar download to end", |s| {
        !s.busy.contains(&"avatar")
    })
    .await;
    let user = snap.session.unwrap().user;
    assert_eq!(user.user_id, uid);
    assert_eq!(user.initials, name.chars().next().unwrap().to_string());
    user.avatar
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avatars_that_break_the_rules_leave_the_initials() {
    let emu = Emu::start().await;
    let front = TestServer::start(Some(emu.url())).await;
    let elsewhere = TestServer::start(None).await;
    let h = Harness::with_server(Options::default(), emu, &front.url).await;
    let png = png_bytes(100);
    elsewhere.route("/a.png", Canned::ok("image/png", png.clone()));
    front.route("/ok.png", Canned::ok("image/png", png.clone()));
    front.route(
        "/limit.png",
        Canned::ok("image/png", png_bytes(MAX_AVATAR_BYTES - png.len() + 100)),
    );
    front.route(
        "/big.png",
        Canned::ok("image/png", png_bytes(MAX_AVATAR_BYTES - png.len() + 101)),
    );
    front.route(
        "/page.png",
        Canned::ok("image/png", b"<!doctype html><p>not an image".to_vec()),
    );
    let away = format!("{}/a.png", elsewhere.url);
    front.route("/hop-away", Canned::redirect(&away));
    front.route("/hop-home", Canned::redirect("/ok.png"));
    front.route("/loop", Canned::redirect("/loop"));

    // Exactly 2 MiB is allowed; one byte more is not.
    let limit = avatar_after_sign_in(&h, "Lim", &format!("{}/limit.png", front.url)).await;
    assert!(limit.is_some_and(|a| a.starts_with("data:image/png;base64,")));
    let big = avatar_after_sign_in(&h, "Big", &format!("{}/big.png", front.url)).await;
    assert_eq!(big, None, "over 2 MiB");
    assert_eq!(front.hits("/big.png"), 1);
    // Sniffed, not trusted: an HTML page called image/png is no image.
    let page = avatar_after_sign_in(&h, "Page", &format!("{}/page.png", front.url)).await;
    assert_eq!(page, None, "not an image");
    // Plain http to anywhere but the profile's own loopback server: not even asked.
    let other = avatar_after_sign_in(&h, "Other", &away).await;
    assert_eq!(other, None, "another origin");
    // A redirect to there is refused at the hop, before any request goes out.
    let hop = avatar_after_sign_in(&h, "Hop", &format!("{}/hop-away", front.url)).await;
    assert_eq!(hop, None, "redirected to another origin");
    assert_eq!(front.hits("/hop-away"), 1);
    assert_eq!(elsewhere.hits("/a.png"), 0, "the redirect was followed");
    // Endless redirects end.
    let looped = avatar_after_sign_in(&h, "Loop", &format!("{}/loop", front.url)).await;
    assert_eq!(looped, None, "redirect loop");
    assert_eq!(
        front.hits("/loop"),
        4,
        "the first request and three redirects"
    );
    // A redirect within the allowed origin is fine.
    let home = avatar_after_sign_in(&h, "Home", &format!("{}/hop-home", front.url)).await;
    assert!(home.is_some_and(|a| a.starts_with("data:image/png;base64,")));
    assert_eq!(front.hits("/ok.png"), 1);
    h.assert_no_secrets(&[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_avatar_shows_after_a_restart_without_the_server() {
    let h = Harness::new().await;
    h.sign_in(None).await;
    let snap = wait_until(&h.service, "the avatar", |s| {
        s.session.as_ref().is_some_and(|s| s.user.avatar.is_some())
    })
    .await;
    let avatar = snap.session.unwrap().user.avatar.unwrap();
    assert!(avatar.starts_with("data:image/png;base64,"));

    let Harness {
        emu,
        dir,
        store,
        service,
        ..
    } = h;
    drop(service);
    emu.emulator.shutdown().await;
    let again = make_service(&dir, store, &Options::default());
    again.start().await;
    let snap = again.snapshot();
    let session = snap.session.expect("restored from the store");
    assert_eq!(session.state, SessionState::Offline, "the server is gone");
    assert_eq!(session.user.avatar.as_deref(), Some(avatar.as_str()));
    assert!(!session.user.name.is_empty());
}
