//! Avatars inside the service, over real HTTP: the profile's server is a small server in
//! front of the emulator, whose own origin serves avatars that break the rules. Each broken
//! one leaves the initials; a good one, direct or after a same-origin redirect, shows as a
//! data URL and stays cached for a restart without the server.
//!
//! And the avatar cache itself against loopback servers: local addresses refused unless the
//! profile's server is local, oversized images refused from their header, and the in-memory
//! cache of the Support view bounded.

mod common;

use account::avatar::{AvatarCache, AvatarError, MAX_AVATAR_BYTES, MEMORY_CAP};
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

/// A PNG header (signature and IHDR) that claims `width` x `height` pixels.
fn png_of(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    bytes.extend_from_slice(&width.to_be_bytes());
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes.extend_from_slice(b"\x08\x06\x00\x00\x00\x00\x00\x00\x00");
    bytes.resize(bytes.len() + 64, 0);
    bytes
}

/// A listener nobody should connect to: `untouched()` says whether anyone did.
struct Tripwire(std::net::TcpListener);

impl Tripwire {
    fn new() -> Tripwire {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Tripwire(listener)
    }

    fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }

    fn untouched(&self) -> bool {
        matches!(self.0.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_addresses_are_refused_unless_the_server_is_local_itself() {
    let dir = tempfile::tempdir().unwrap();
    let cache = AvatarCache::new(dir.path());
    let public = "https://v.ncuos.com";
    let wire = Tripwire::new();
    let port = wire.port();
    // By IP literal (v4, v6, v4-mapped v6) and by a name that resolves to loopback, on the port
    // of a listener that must see no connection; private and link-local ones too.
    for url in [
        format!("https://127.0.0.1:{port}/a.png"),
        format!("https://localhost:{port}/a.png"),
        format!("https://[::ffff:127.0.0.1]:{port}/a.png"),
        format!("https://[::ffff:7f00:1]:{port}/a.png"),
        format!("https://[::1]:{port}/a.png"),
        "https://10.0.0.7/a.png".to_owned(),
        "https://192.168.1.1/a.png".to_owned(),
        "https://169.254.169.254/latest/meta-data".to_owned(),
        "https://[fe80::1]/a.png".to_owned(),
        "https://[fd00::1]/a.png".to_owned(),
        "https://0.0.0.0/a.png".to_owned(),
    ] {
        let err = cache.fetch(&url, public).await.unwrap_err();
        assert!(matches!(err, AvatarError::NotAllowed(_)), "{url}: {err:?}");
    }
    assert!(wire.untouched(), "a refused avatar was connected to");

    // The profile's server is the loopback server itself (the emulator's case): its avatars
    // load, by address and by name.
    let local = TestServer::start(None).await;
    local.route("/a.png", Canned::ok("image/png", png_of(64, 64)));
    let avatar = cache
        .fetch(&format!("{}/a.png", local.url), &local.url)
        .await
        .unwrap();
    assert!(avatar.starts_with("data:image/png;base64,"));
    let by_name = local.url.replace("127.0.0.1", "localhost");
    let avatar = cache
        .fetch(&format!("{by_name}/a.png"), &by_name)
        .await
        .unwrap();
    assert!(avatar.starts_with("data:image/png;base64,"));
    assert_eq!(local.hits("/a.png"), 2);
    // A public-named server's avatar on a name that resolves to the loopback server: refused
    // before any request.
    let err = cache
        .fetch(
            &format!("https://{}/a.png", &by_name["http://".len()..]),
            public,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AvatarError::NotAllowed(_)), "{err:?}");
    assert_eq!(local.hits("/a.png"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_larger_than_4096_a_side_are_refused_from_their_header() {
    let dir = tempfile::tempdir().unwrap();
    let cache = AvatarCache::new(dir.path());
    let server = TestServer::start(None).await;
    server.route("/edge.png", Canned::ok("image/png", png_of(4096, 4096)));
    server.route("/wide.png", Canned::ok("image/png", png_of(4097, 16)));
    server.route(
        "/bomb.png",
        Canned::ok("image/png", png_of(100_000, 100_000)),
    );
    // GIF: the logical screen's width and height, little-endian.
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&20_000u16.to_le_bytes());
    gif.extend_from_slice(&10u16.to_le_bytes());
    gif.resize(64, 0);
    server.route("/tall.gif", Canned::ok("image/gif", gif));
    let get = |path: &str| {
        let url = format!("{}{path}", server.url);
        let cache = &cache;
        let server = server.url.clone();
        async move { cache.fetch(&url, &server).await }
    };

    assert!(get("/edge.png").await.is_ok(), "4096 x 4096 is allowed");
    assert_eq!(
        get("/wide.png").await.unwrap_err(),
        AvatarError::TooManyPixels {
            width: 4097,
            height: 16
        }
    );
    assert_eq!(
        get("/bomb.png").await.unwrap_err(),
        AvatarError::TooManyPixels {
            width: 100_000,
            height: 100_000
        }
    );
    assert!(matches!(
        get("/tall.gif").await.unwrap_err(),
        AvatarError::TooManyPixels { width: 20_000, .. }
    ));
    // Nothing refused was cached for offline use.
    assert!(cache.cached(&format!("{}/bomb.png", server.url)).is_none());
    assert!(cache.cached(&format!("{}/edge.png", server.url)).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_support_views_avatars_in_memory_stay_under_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let cache = AvatarCache::new(dir.path());
    let server = TestServer::start(None).await;
    // 60 avatars of 300 kB (400 kB as data URLs): 24 MB in all, three times the cap.
    let count = 60;
    for i in 0..count {
        let mut png = png_of(256, 256);
        png.resize(300_000, i as u8);
        server.route(&format!("/{i}.png"), Canned::ok("image/png", png));
    }
    let url = |i: usize| format!("{}/{i}.png", server.url);
    let mut peak = 0;
    for i in 0..count {
        let avatar = cache.get(&url(i), &server.url).await.unwrap();
        assert!(avatar.starts_with("data:image/png;base64,"));
        peak = peak.max(cache.memory_bytes());
        assert!(
            cache.memory_bytes() <= MEMORY_CAP,
            "{}",
            cache.memory_bytes()
        );
    }
    assert!(
        peak > MEMORY_CAP / 2,
        "the memory cache holds avatars: {peak}"
    );
    // The newest is answered from memory; the oldest was dropped and is downloaded again.
    cache.get(&url(count - 1), &server.url).await.unwrap();
    assert_eq!(server.hits(&format!("/{}.png", count - 1)), 1);
    cache.get(&url(0), &server.url).await.unwrap();
    assert_eq!(server.hits("/0.png"), 2);
    assert!(cache.memory_bytes() <= MEMORY_CAP);
}
