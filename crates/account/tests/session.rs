//! The session logic against the real emulator over loopback HTTP: sign-in, scheduled and
//! single-flight refresh, expiry (code 31), offline backoff and recovery, payload edits,
//! revoke/forget, restart. Every test ends by checking that no snapshot leaked a secret.

mod common;

use std::time::{Duration, Instant};

use account::mask::mask;
use account::snapshot::{SessionState, SignatureState};
use account::{Busy, ProfileInput};
use base64::Engine;
use common::*;
use geniusauth::tokens;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_shows_the_user_with_masked_verified_tokens() {
    let h = Harness::new().await;
    h.emu.reset_requests().await;
    let snapshot = h.sign_in(Some("desk")).await;

    let session = snapshot.session.as_ref().unwrap();
    assert_eq!(session.state, SessionState::SignedIn);
    assert_eq!(session.user.user_id, h.emu.uid());
    assert_eq!(session.user.name, h.emu.info.users[0].name);
    assert!(
        !session.user.groups.is_empty(),
        "groups: {:?}",
        session.user.groups
    );
    assert_eq!(
        session.user.initials,
        h.emu.info.users[0].name.chars().next().unwrap().to_string()
    );

    // The server's own view of the user agrees with the snapshot.
    let access = h.service.access_token().unwrap();
    let info = h.emu.client().user_info(&access).await.unwrap();
    assert_eq!(info.user_id, session.user.user_id);
    assert_eq!(info.name, session.user.name);
    assert_eq!(info.groups, session.user.groups);

    let stored = h.stored_refresh().expect("refresh token stored");
    let claims = tokens::decode(&stored).unwrap().claims;
    let refresh = session.refresh.as_ref().unwrap();
    assert_eq!(refresh.masked, mask(&stored));
    assert_ne!(refresh.masked, stored);
    assert_eq!(refresh.record_id, claims.id);
    assert_eq!(refresh.payload, "desk");
    assert_eq!(refresh.signature, SignatureState::Verified);
    assert_eq!(refresh.expires_at, claims.exp.unwrap() * 1000);
    assert!(!refresh.expiring_soon);
    // Seven days (the default lifetime) between issue and expiry.
    assert_eq!(refresh.expires_at - refresh.issued_at, 7 * 86_400_000);

    let access_view = session.access.as_ref().unwrap();
    assert_eq!(access_view.masked, mask(&access));
    assert_eq!(access_view.signature, SignatureState::Verified);
    assert_eq!(access_view.record_id, claims.id);
    assert_eq!(access_view.payload, "desk");
    assert!(snapshot.error.is_none());
    // Only the avatar may still be downloading in the background.
    assert!(
        snapshot.busy.iter().all(|b| *b == "avatar"),
        "busy: {:?}",
        snapshot.busy
    );
    assert_eq!(h.emu.count(LOGIN_PATH).await, 1);

    // The next sign-in asks for the lifetime chosen in the preferences.
    h.service.set_preferences(None, None, Some(30)).unwrap();
    let snapshot = h.sign_in(None).await;
    let refresh = snapshot.session.unwrap().refresh.unwrap();
    assert_eq!(refresh.expires_at - refresh.issued_at, 30 * 86_400_000);
    h.assert_no_secrets(&[access]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_refuses_bad_input_before_any_request() {
    let h = Harness::new().await;
    h.emu.reset_requests().await;
    let token = h.emu.login_token(h.emu.uid());
    let too_long: String = "字".repeat(33);
    let code = h.code_of(
        h.service
            .sign_in_with_token(token.clone(), Some(too_long))
            .await,
    );
    assert_eq!(code, "invalid_input");
    assert_eq!(
        h.code_of(h.service.sign_in_with_token("  ".into(), None).await),
        "invalid_input"
    );
    assert_eq!(
        h.code_of(
            h.service
                .sign_in_with_token("not a token".into(), None)
                .await
        ),
        "invalid_input"
    );
    assert_eq!(h.emu.requests().await.get(LOGIN_PATH), None);
    // A used login token is refused by the server (code 6) and leaves no session behind.
    h.service
        .sign_in_with_token(token.clone(), None)
        .await
        .unwrap();
    h.service.forget_session().await.unwrap();
    assert_eq!(
        h.code_of(h.service.sign_in_with_token(token, None).await),
        "unauthorized"
    );
    assert!(h.service.snapshot().session.is_none());
    h.assert_no_secrets(&[]);
}

/// A login token that names another app is refused locally. GeniusAuth's own login tokens
/// carry no appCode (jwtClaims.LoginToken is UserClaims + ID), so this can only catch tokens
/// that do name their app; the token is built by hand, signed by nobody, and never sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_token_naming_another_app_is_sign_in_wrong_app() {
    let h = Harness::new().await;
    let (other_code, _) = h.emu.second_app().await;
    h.emu.reset_requests().await;
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let now = now_ms() / 1000;
    let token = format!(
        "{}.{}.{}",
        b64(json!({"alg": "EdDSA", "typ": "JWT"})),
        b64(
            json!({"type": "Login", "uid": h.emu.uid(), "oid": 1, "id": 7,
                    "appCode": other_code, "iat": now, "exp": now + 300})
        ),
        "c2lnbmF0dXJlLW5vdC1jaGVja2Vk"
    );
    let err = h
        .service
        .run(Busy::SignIn, h.service.sign_in_with_token(token, None))
        .await
        .unwrap_err();
    let reply = h.service.reply_for(&err);
    assert_eq!(reply.code, "sign_in_wrong_app");
    assert!(reply.message.contains(&other_code), "{}", reply.message);
    assert_eq!(
        h.service.snapshot().error.unwrap().reply.code,
        "sign_in_wrong_app"
    );
    assert!(h.service.snapshot().session.is_none());
    assert_eq!(h.emu.requests().await.get(LOGIN_PATH), None);
}

/// What a real login token minted for another app does: neither the token (no appCode) nor
/// the server (CompleteLogin does not compare the login's app with the caller) tells, so the
/// sign-in succeeds and the tokens are this profile's app's. Pinned here so that a change on
/// either side shows up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genuine_login_token_of_another_app_cannot_be_told_apart() {
    let h = Harness::new().await;
    let (other_code, _) = h.emu.second_app().await;
    let token = h
        .emu
        .emulator
        .login_token(&other_code, h.emu.uid())
        .unwrap();
    assert_eq!(tokens::decode(&token).unwrap().claims.app_code, "");
    h.service.sign_in_with_token(token, None).await.unwrap();
    let stored = h.stored_refresh().unwrap();
    assert_eq!(
        tokens::decode(&stored).unwrap().claims.app_code,
        h.emu.info.app_code
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_refresh_fires_lead_before_expiry_and_timers_replace_each_other() {
    // Access tokens live 300 s: a 297 s lead puts the timer 3 s after each new access token.
    let h = Harness::with(Options {
        refresh_lead: Some(Duration::from_secs(297)),
        ..Options::default()
    })
    .await;
    h.sign_in(None).await;
    let signed_in_at = Instant::now();
    let first_access = h.service.access_token().unwrap();
    h.emu.reset_requests().await;
    assert!(h.service.refresh_scheduled());

    // Nothing polls: the product does nothing until its timer fires.
    let snap = h
        .recorder
        .wait_for("the scheduled refresh", Duration::from_secs(10), |s| {
            s.session
                .as_ref()
                .and_then(|s| s.access.as_ref())
                .is_some_and(|a| a.masked != mask(&first_access))
        })
        .await;
    let fired_after = signed_in_at.elapsed();
    assert!(
        fired_after >= Duration::from_millis(2500),
        "refreshed after {fired_after:?}, before lifetime - lead"
    );
    assert_eq!(h.emu.count(REFRESH_PATH).await, 1);
    let second_access = h.service.access_token().unwrap();
    assert_ne!(second_access, first_access);
    assert_eq!(snap.session.as_ref().unwrap().state, SessionState::SignedIn);
    assert!(
        h.service.refresh_scheduled(),
        "the next refresh is scheduled"
    );

    // A manual refresh 1.5 s later replaces the pending timer: the old one (due 1.5 s after
    // the manual refresh) must not fire; the new one fires 3 s after the manual refresh.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    h.service.refresh_access().await.unwrap();
    let manual_at = Instant::now();
    let manual_access = h.service.access_token().unwrap();
    assert_eq!(h.emu.count(REFRESH_PATH).await, 2);
    tokio::time::sleep(Duration::from_millis(2250)).await;
    assert_eq!(
        h.emu.count(REFRESH_PATH).await,
        2,
        "a replaced timer fired anyway"
    );
    h.recorder
        .wait_for("the rescheduled refresh", Duration::from_secs(10), |s| {
            s.session
                .as_ref()
                .and_then(|s| s.access.as_ref())
                .is_some_and(|a| a.masked != mask(&manual_access))
        })
        .await;
    assert!(manual_at.elapsed() >= Duration::from_millis(2500));
    assert_eq!(h.emu.count(REFRESH_PATH).await, 3);
    h.assert_no_secrets(&[first_access, second_access]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_after_server_side_expiry_recovers_through_a_refresh() {
    let h = Harness::new().await;
    h.sign_in(None).await;
    let old_access = h.service.access_token().unwrap();
    // The server's clock moves past the access token's 5 minutes (not past the refresh token's).
    h.emu.advance_clock(400).await;
    h.emu.reset_requests().await;
    // The server itself now refuses the old access token with code 31.
    let refused = h
        .emu
        .client()
        .verify_access_token(&old_access)
        .await
        .unwrap_err();
    assert!(refused.is_token_invalid(), "{refused:?}");
    h.emu.reset_requests().await;

    h.service
        .run(Busy::Verify, h.service.verify_access())
        .await
        .expect("verify recovers through a refresh");
    let new_access = h.service.access_token().unwrap();
    assert_ne!(new_access, old_access);
    let counts = h.emu.requests().await;
    assert_eq!(counts.get(VERIFY_PATH), Some(&2), "{counts:?}");
    assert_eq!(counts.get(REFRESH_PATH), Some(&1), "{counts:?}");
    let snap = h.service.snapshot();
    let session = snap.session.as_ref().unwrap();
    assert_eq!(session.state, SessionState::SignedIn);
    let check = session.access.as_ref().unwrap().last_check.clone().unwrap();
    assert!(check.ok, "{check:?}");
    assert!(snap.error.is_none(), "{:?}", snap.error);
    h.assert_no_secrets(&[old_access, new_access]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_share_one_request() {
    let h = Harness::new().await;
    h.sign_in(None).await;
    h.emu.reset_requests().await;
    h.emu
        .fault(
            json!({"path": "/api/v1/app/token/refresh/", "method": "POST",
                      "kind": "latency", "delayMs": 600}),
        )
        .await;
    let before = h.service.access_token().unwrap();
    // Tokens are deterministic per second: let the clock move so the new one differs.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let calls = (0..50).map(|_| {
        let service = h.service.clone();
        tokio::spawn(async move { service.refresh_access().await })
    });
    let results = futures_util::future::join_all(calls).await;
    for result in results {
        result
            .unwrap()
            .expect("every caller gets the shared success");
    }
    assert_eq!(h.emu.count(REFRESH_PATH).await, 1);
    assert_ne!(h.service.access_token().unwrap(), before);

    // A failure is shared the same way: one request, fifty callers told the same thing.
    h.emu.clear_faults().await;
    h.emu.reset_requests().await;
    h.emu
        .fault(json!({"path": "/api/v1/app/token/refresh/", "kind": "latency", "delayMs": 600}))
        .await;
    h.emu
        .fault(json!({"path": "/api/v1/app/token/refresh/", "kind": "http502"}))
        .await;
    let calls = (0..50).map(|_| {
        let service = h.service.clone();
        tokio::spawn(async move { service.refresh_access().await })
    });
    for result in futures_util::future::join_all(calls).await {
        let err = result.unwrap().unwrap_err();
        assert_eq!(err.code(), "unexpected_reply");
    }
    assert_eq!(h.emu.count(REFRESH_PATH).await, 1);
    h.emu.clear_faults().await;
    h.assert_no_secrets(&[before]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_31_expires_the_session_removes_the_token_and_stops_retrying() {
    // Timers 2 s apart, so that a session that kept retrying would show in the counts.
    let h = Harness::with(Options {
        refresh_lead: Some(Duration::from_secs(298)),
        ..Options::default()
    })
    .await;
    h.sign_in(None).await;
    assert!(h.stored_refresh().is_some());
    h.emu.revoke_all(h.emu.uid()).await;
    h.emu.reset_requests().await;

    let code = h.code_of(
        h.service
            .run(Busy::Refresh, h.service.refresh_access())
            .await,
    );
    assert_eq!(code, "token_invalid");
    let snap = h.service.snapshot();
    let session = snap.session.as_ref().expect("the session stays, expired");
    assert_eq!(session.state, SessionState::Expired);
    assert!(session.access.is_none());
    assert!(
        !session
            .refresh
            .as_ref()
            .unwrap()
            .last_check
            .as_ref()
            .unwrap()
            .ok
    );
    assert_eq!(snap.error.as_ref().unwrap().reply.code, "token_invalid");
    assert_eq!(snap.error.as_ref().unwrap().reply.server_code, Some(31));
    assert_eq!(
        h.stored_refresh(),
        None,
        "the dead refresh token is still stored"
    );
    assert!(!h.service.refresh_scheduled());

    // Nothing retries an expired session, and the actions that need it say so.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(h.emu.count(REFRESH_PATH).await, 1);
    assert_eq!(h.code_of(h.service.refresh_access().await), "no_session");
    assert_eq!(
        h.code_of(h.service.edit_payload("x".into(), false).await),
        "no_session"
    );
    assert_eq!(h.emu.count(REFRESH_PATH).await, 1);
    h.assert_no_secrets(&[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_refresh_finds_a_deleted_token_expired() {
    let h = Harness::with(Options {
        refresh_lead: Some(Duration::from_secs(298)),
        ..Options::default()
    })
    .await;
    h.sign_in(None).await;
    let token = h.stored_refresh().unwrap();
    // Revoked behind the app's back: the next scheduled refresh finds out, nobody asks.
    h.emu.client().revoke_refresh_token(&token).await.unwrap();
    let snap = h
        .recorder
        .wait_for("the session to expire", Duration::from_secs(10), |s| {
            state(s) == Some(SessionState::Expired)
        })
        .await;
    assert!(snap.session.unwrap().access.is_none());
    let snap = h
        .recorder
        .wait_for("the banner", Duration::from_secs(5), |s| s.error.is_some())
        .await;
    assert_eq!(snap.error.unwrap().reply.code, "token_invalid");
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.stored_refresh().is_some() {
        assert!(Instant::now() < deadline, "the dead token was not removed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    h.assert_no_secrets(&[]);
}

/// One transient failure: the session is kept and shows offline with the next retry time;
/// once the fault is gone, the backoff timer (not the test) brings it back.
async fn offline_then_recovers(h: &Harness, fault: serde_json::Value, expect_code: &str) {
    let token = h.stored_refresh().unwrap();
    h.emu.reset_requests().await;
    h.emu.fault(fault.clone()).await;
    let started = now_ms();
    let err = h
        .service
        .run(Busy::Refresh, h.service.refresh_access())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{fault}: {err:?}");
    assert_eq!(err.code(), expect_code, "{fault}");
    let snap = h.service.snapshot();
    let session = snap.session.as_ref().expect("the session is kept");
    assert_eq!(session.state, SessionState::Offline, "{fault}");
    assert_eq!(session.user.user_id, h.emu.uid());
    let offline = session.offline.as_ref().unwrap();
    assert!(offline.since >= started - 1000);
    assert!(
        offline.next_retry_at > now_ms() && offline.next_retry_at <= now_ms() + 2500,
        "{fault}: next retry {} ms away",
        offline.next_retry_at - now_ms()
    );
    assert!(!offline.message.is_empty());
    assert_eq!(h.stored_refresh().as_deref(), Some(token.as_str()));
    assert_eq!(snap.error.as_ref().unwrap().reply.code, expect_code);

    h.emu.clear_faults().await;
    let before = h.emu.count(REFRESH_PATH).await;
    let snap = h
        .recorder
        .wait_for(
            "recovery by the backoff retry",
            Duration::from_secs(10),
            |s| state(s) == Some(SessionState::SignedIn),
        )
        .await;
    assert!(snap.session.unwrap().offline.is_none());
    assert_eq!(h.emu.count(REFRESH_PATH).await, before + 1);
    assert!(h.service.refresh_scheduled());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_faults_keep_the_session_offline_until_the_backoff_retry_recovers() {
    let h = Harness::with(Options {
        request_timeout: Some(Duration::from_millis(1500)),
        ..Options::default()
    })
    .await;
    h.sign_in(None).await;
    let path = "/api/v1/app/token/refresh/";
    offline_then_recovers(
        &h,
        json!({"path": path, "kind": "http502"}),
        "unexpected_reply",
    )
    .await;
    offline_then_recovers(
        &h,
        json!({"path": path, "kind": "truncated"}),
        "unexpected_reply",
    )
    .await;
    offline_then_recovers(&h, json!({"path": path, "kind": "drop"}), "network").await;
    offline_then_recovers(
        &h,
        json!({"path": path, "kind": "latency", "delayMs": 3000}),
        "timeout",
    )
    .await;
    h.assert_no_secrets(&[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_doubles_while_the_server_stays_down() {
    let h = Harness::new().await;
    h.sign_in(None).await;
    h.emu
        .fault(json!({"path": "/api/v1/app/token/refresh/", "kind": "http500"}))
        .await;
    h.emu.reset_requests().await;
    assert!(h.service.refresh_access().await.is_err());
    let first = h.service.snapshot().session.unwrap().offline.unwrap();
    let first_gap = first.next_retry_at - now_ms();
    assert!((1000..=2100).contains(&first_gap), "{first_gap}");
    // The automatic retry fails too and waits twice as long.
    let snap = h
        .recorder
        .wait_for("the second retry", Duration::from_secs(6), |s| {
            s.session
                .as_ref()
                .and_then(|s| s.offline.as_ref())
                .is_some_and(|o| o.next_retry_at > first.next_retry_at + 1000)
        })
        .await;
    let second = snap.session.unwrap().offline.unwrap();
    assert_eq!(second.since, first.since);
    let gap = second.next_retry_at - first.next_retry_at;
    assert!((3500..=5000).contains(&gap), "second gap {gap}");
    assert_eq!(h.emu.count(REFRESH_PATH).await, 2);
    // While offline, Verify doubles as the manual retry: it refreshes first, at once.
    h.emu.clear_faults().await;
    h.service.verify_access().await.unwrap();
    assert_eq!(h.emu.count(REFRESH_PATH).await, 3);
    let snap = h.service.snapshot();
    assert_eq!(state(&snap), Some(SessionState::SignedIn));
    assert!(snap.session.unwrap().offline.is_none());
    // The pending backoff timer was replaced by the regular one: no stray retry follows.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(h.emu.count(REFRESH_PATH).await, 3);
    h.assert_no_secrets(&[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_edit_replaces_the_stored_token_and_limits_are_checked_first() {
    let h = Harness::new().await;
    h.sign_in(None).await;
    let old = h.stored_refresh().unwrap();
    h.service
        .run(
            Busy::Payload,
            h.service.edit_payload("桌面客户端".into(), true),
        )
        .await
        .unwrap();
    let new = h.stored_refresh().unwrap();
    assert_ne!(new, old);
    assert_eq!(tokens::decode(&new).unwrap().claims.payload, "桌面客户端");
    assert_eq!(
        tokens::decode(&new).unwrap().claims.id,
        tokens::decode(&old).unwrap().claims.id
    );
    let snap = h.service.snapshot();
    let session = snap.session.as_ref().unwrap();
    assert_eq!(session.refresh.as_ref().unwrap().payload, "桌面客户端");
    assert_eq!(session.refresh.as_ref().unwrap().masked, mask(&new));
    assert_eq!(session.access.as_ref().unwrap().payload, "桌面客户端");
    // The new refresh token works and carries the payload into access tokens.
    h.service.refresh_access().await.unwrap();
    let access = h.service.access_token().unwrap();
    assert_eq!(
        tokens::decode(&access).unwrap().claims.payload,
        "桌面客户端"
    );

    let max: String = "中".repeat(32);
    h.service.edit_payload(max.clone(), false).await.unwrap();
    assert_eq!(
        h.service
            .snapshot()
            .session
            .unwrap()
            .refresh
            .unwrap()
            .payload,
        max
    );
    let stored = h.stored_refresh().unwrap();

    let counts = h.emu.requests().await;
    let too_long: String = "中".repeat(33);
    assert_eq!(
        h.code_of(h.service.edit_payload(too_long, true).await),
        "invalid_input"
    );
    assert_eq!(
        h.code_of(h.service.edit_payload(String::new(), true).await),
        "invalid_input"
    );
    assert_eq!(h.emu.requests().await, counts, "a request went out");
    assert_eq!(h.stored_refresh(), Some(stored));
    h.assert_no_secrets(&[old, access]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_signs_out_and_kills_the_token_on_the_server() {
    let h = Harness::new().await;
    h.sign_in(None).await;
    let token = h.stored_refresh().unwrap();
    h.service
        .run(Busy::Revoke, h.service.revoke_session())
        .await
        .unwrap();
    let snap = h.service.snapshot();
    assert!(snap.session.is_none());
    assert!(snap.error.is_none());
    assert_eq!(h.stored_refresh(), None);
    assert!(!h.service.refresh_scheduled());
    let err = h
        .emu
        .client()
        .refresh_access_token(&token)
        .await
        .unwrap_err();
    assert!(err.is_token_invalid(), "{err:?}");
    assert_eq!(h.code_of(h.service.revoke_session().await), "no_session");
    h.assert_no_secrets(&[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_signs_out_locally_and_leaves_the_token_valid() {
    let h = Harness::new().await;
    h.sign_in(None).await;
    let token = h.stored_refresh().unwrap();
    h.service.forget_session().await.unwrap();
    assert!(h.service.snapshot().session.is_none());
    assert_eq!(h.stored_refresh(), None);
    assert!(!h.service.refresh_scheduled());
    h.emu
        .client()
        .refresh_access_token(&token)
        .await
        .expect("the server still honours the forgotten token");
    h.assert_no_secrets(&[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_service_restores_the_session_without_signing_in() {
    let h = Harness::new().await;
    let before = h.sign_in(Some("desk")).await;
    let before_refresh = before.session.as_ref().unwrap().refresh.clone().unwrap();

    // A second service over the same settings file and secret store: the app restarted.
    let again = make_service(&h.dir, h.store.clone(), &Options::default());
    let recorder = Recorder::attach(&again);
    h.emu.reset_requests().await;
    again.start().await;

    let snap = again.snapshot();
    assert_eq!(
        snap.active_profile_id.as_deref(),
        Some(h.profile_id.as_str())
    );
    let session = snap.session.as_ref().expect("session restored");
    assert_eq!(session.state, SessionState::SignedIn);
    assert_eq!(session.user.name, h.emu.info.users[0].name);
    assert_eq!(session.user.user_id, h.emu.uid());
    let refresh = session.refresh.as_ref().unwrap();
    assert_eq!(refresh.masked, before_refresh.masked);
    assert_eq!(refresh.signature, SignatureState::Verified);
    assert_eq!(refresh.payload, "desk");
    assert!(session.access.is_some());
    let counts = h.emu.requests().await;
    assert_eq!(counts.get(LOGIN_PATH), None, "{counts:?}");
    assert_eq!(counts.get(REFRESH_PATH), Some(&1), "{counts:?}");
    assert_eq!(counts.get(USER_INFO_PATH), Some(&1), "{counts:?}");
    assert!(again.refresh_scheduled());
    // start() again (e.g. after demo mode) does not restore twice.
    again.start().await;
    assert_eq!(h.emu.count(REFRESH_PATH).await, 1);
    assert!(recorder.count() > 0);
    for text in recorder.json.lock().unwrap().iter() {
        assert!(!has_jwt(text), "{text}");
    }
    h.assert_no_secrets(&[again.access_token().unwrap()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_the_token_died_offline_shows_it_expired() {
    let h = Harness::new().await;
    h.sign_in(None).await;
    let token = h.stored_refresh().unwrap();
    h.emu.client().revoke_refresh_token(&token).await.unwrap();
    let again = make_service(&h.dir, h.store.clone(), &Options::default());
    again.start().await;
    let snap = again.snapshot();
    assert_eq!(state(&snap), Some(SessionState::Expired));
    assert_eq!(h.stored_refresh(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_profiles_keeps_sessions_apart() {
    let h = Harness::new().await;
    h.sign_in(None).await;
    let (code, secret) = h.emu.second_app().await;
    let second = h
        .service
        .save_profile(ProfileInput {
            id: None,
            name: "Other".into(),
            server: h.emu.url().to_owned(),
            app_code: code,
            callback: free_callback(),
            app_secret: Some(secret),
        })
        .await
        .unwrap();
    let snap = h.service.snapshot();
    assert_eq!(snap.active_profile_id.as_deref(), Some(second.as_str()));
    assert!(snap.session.is_none());
    // Back to the first: its stored session comes back.
    h.service.switch_profile(&h.profile_id).await.unwrap();
    assert_eq!(state(&h.service.snapshot()), Some(SessionState::SignedIn));
    // Deleting the other (inactive) profile leaves the session alone: no new refresh.
    h.emu.reset_requests().await;
    h.service.delete_profile(&second).await.unwrap();
    assert_eq!(state(&h.service.snapshot()), Some(SessionState::SignedIn));
    assert_eq!(h.emu.requests().await.get(REFRESH_PATH), None);
    assert_eq!(
        h.code_of(h.service.switch_profile("p99").await),
        "no_profile"
    );
    h.assert_no_secrets(&[]);
}

/// The futures of every public async method are `Send`: no `std::sync::MutexGuard` lives
/// across an `.await` (the guard is not `Send`, so holding one would fail to compile here).
#[test]
fn no_lock_is_held_across_an_await() {
    fn send<T: Send>(_: T) {}
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(RecordingStore::default());
    let s = make_service(&dir, store, &Options::default());
    send(s.start());
    send(s.refresh_access());
    send(s.verify_access());
    send(s.reload_user());
    send(s.edit_payload(String::new(), false));
    send(s.revoke_session());
    send(s.forget_session());
    send(s.sign_in_browser(None));
    send(s.sign_in_with_token(String::new(), None));
    send(s.switch_profile("p1"));
    send(s.delete_profile("p1"));
    send(s.use_file_store(true));
    send(s.run(Busy::Refresh, s.refresh_access()));
    send(s.save_profile(ProfileInput {
        id: None,
        name: String::new(),
        server: String::new(),
        app_code: String::new(),
        callback: String::new(),
        app_secret: None,
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_to_the_file_store_and_back_moves_the_secrets() {
    use account::secret_store::{app_secret_key, refresh_token_key, FileStore, SecretStore};
    let h = Harness::new().await;
    h.sign_in(None).await;
    let token = h.stored_refresh().unwrap();
    let file = FileStore::new(h.dir.path().join("data/secrets.json"));
    h.emu.reset_requests().await;

    h.service.use_file_store(true).await.unwrap();
    let snap = h.service.snapshot();
    assert_eq!(snap.storage.backend, account::secret_store::Backend::File);
    assert!(snap.storage.file_opt_in);
    // The session goes on untouched (no new refresh), its secrets now in the file.
    assert_eq!(state(&snap), Some(SessionState::SignedIn));
    assert_eq!(h.emu.requests().await.get(REFRESH_PATH), None);
    let key = refresh_token_key(&h.profile_id);
    assert_eq!(file.get(&key).unwrap().as_deref(), Some(token.as_str()));
    assert_eq!(
        file.get(&app_secret_key(&h.profile_id)).unwrap().as_deref(),
        Some(h.emu.info.app_secret.as_str())
    );
    // The app secret is read from the file from now on: calls still work.
    h.service.refresh_access().await.unwrap();

    // A restart keeps the choice and restores from the file.
    let again = make_service(&h.dir, h.store.clone(), &Options::default());
    again.start().await;
    assert_eq!(state(&again.snapshot()), Some(SessionState::SignedIn));
    assert!(again.snapshot().storage.file_opt_in);

    // Back to the keyring: the secrets move back and leave the unencrypted file.
    again.use_file_store(false).await.unwrap();
    assert!(!again.snapshot().storage.file_opt_in);
    assert_eq!(file.get(&key).unwrap(), None);
    assert_eq!(file.get(&app_secret_key(&h.profile_id)).unwrap(), None);
    assert_eq!(h.stored_refresh().as_deref(), Some(token.as_str()));
    again.refresh_access().await.unwrap();
    h.assert_no_secrets(&[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pointing_a_profile_at_another_app_drops_its_session() {
    let h = Harness::new().await;
    h.sign_in(None).await;
    assert!(h.stored_refresh().is_some());
    let profile = |app_code: String, app_secret: Option<String>| ProfileInput {
        id: Some(h.profile_id.clone()),
        name: "Renamed".into(),
        server: h.emu.url().to_owned(),
        app_code,
        callback: free_callback(),
        app_secret,
    };
    // A new name keeps the session.
    h.service
        .save_profile(profile(h.emu.info.app_code.clone(), None))
        .await
        .unwrap();
    assert_eq!(state(&h.service.snapshot()), Some(SessionState::SignedIn));
    // Another app: the tokens belong to the old one, so they are forgotten here.
    let (code, secret) = h.emu.second_app().await;
    h.service
        .save_profile(profile(code, Some(secret)))
        .await
        .unwrap();
    assert!(h.service.snapshot().session.is_none());
    assert_eq!(h.stored_refresh(), None);
    h.assert_no_secrets(&[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_avatar_is_downloaded_and_shown_as_a_data_url() {
    let h = Harness::new().await;
    h.sign_in(None).await;
    let snapshot = h
        .recorder
        .wait_for("the avatar", Duration::from_secs(10), |s| {
            s.session.as_ref().is_some_and(|s| s.user.avatar.is_some())
        })
        .await;
    let avatar = snapshot.session.unwrap().user.avatar.unwrap();
    assert!(
        avatar.starts_with("data:image/png;base64,"),
        "{}",
        &avatar[..40.min(avatar.len())]
    );
}

// ---- failures that are neither transient nor code 31 ------------------------------------

fn retry_of(snapshot: &account::Snapshot) -> Option<account::snapshot::RetryView> {
    snapshot.session.as_ref().and_then(|s| s.retry.clone())
}

/// Code 6 (the server refuses the app's signature) is not transient and not 31: the session
/// must stay, retried with backoff by the timer, and come back once the secret is right.
/// Here a restarted app finds a wrong appSecret stored; the user then corrects it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_signature_keeps_the_session_and_retries_until_the_secret_is_right() {
    use account::secret_store::{app_secret_key, SecretStore};
    let h = Harness::new().await;
    h.sign_in(Some("desk")).await;
    let token = h.stored_refresh().unwrap();
    let key = app_secret_key(&h.profile_id);
    h.store.set(&key, &"x".repeat(100)).unwrap();

    let again = make_service(&h.dir, h.store.clone(), &Options::default());
    let recorder = Recorder::attach(&again);
    h.emu.reset_requests().await;
    again.start().await;
    let snap = again.snapshot();
    let session = snap.session.as_ref().expect("the session is kept");
    assert_eq!(session.state, SessionState::SignedIn);
    assert!(
        session.offline.is_none(),
        "the server answered: not offline"
    );
    assert_eq!(session.refresh.as_ref().unwrap().payload, "desk");
    let first = session.retry.clone().expect("a retry is scheduled");
    assert_eq!(first.code, "unauthorized");
    assert_eq!(first.attempts, 1);
    assert!(!first.message.is_empty());
    let gap = first.next_retry_at - now_ms();
    assert!((1000..=2100).contains(&gap), "first retry in {gap} ms");
    assert_eq!(session.next_refresh_at, Some(first.next_retry_at));
    assert!(again.refresh_scheduled());
    let error = snap
        .error
        .as_ref()
        .expect("the refusal shows in the banner");
    assert_eq!(error.reply.code, "unauthorized");
    assert_eq!(error.reply.server_code, Some(6));
    assert_eq!(h.stored_refresh().as_deref(), Some(token.as_str()));
    assert_eq!(h.emu.count(REFRESH_PATH).await, 1);

    // The timer retries, fails again, and waits twice as long.
    let snap = recorder
        .wait_for("the second attempt", Duration::from_secs(6), |s| {
            retry_of(s).is_some_and(|r| r.attempts == 2)
        })
        .await;
    let second = retry_of(&snap).unwrap();
    assert_eq!(second.since, first.since);
    let gap = second.next_retry_at - first.next_retry_at;
    assert!((3500..=5000).contains(&gap), "second gap {gap} ms");
    assert_eq!(state(&snap), Some(SessionState::SignedIn));
    assert_eq!(h.emu.count(REFRESH_PATH).await, 2);

    // The right secret again: the next timer-driven attempt succeeds by itself.
    h.store.set(&key, &h.emu.info.app_secret).unwrap();
    let snap = recorder
        .wait_for("recovery", Duration::from_secs(8), |s| {
            s.session
                .as_ref()
                .is_some_and(|s| s.retry.is_none() && s.access.is_some())
        })
        .await;
    assert_eq!(state(&snap), Some(SessionState::SignedIn));
    assert_eq!(h.emu.count(REFRESH_PATH).await, 3);
    assert!(again.refresh_scheduled());
    let next = snap.session.unwrap().next_refresh_at.unwrap();
    assert!(next - now_ms() > 200_000, "back on the regular schedule");
    again.verify_access().await.unwrap();
    for text in recorder.json.lock().unwrap().iter() {
        assert!(!text.contains(&h.emu.info.app_secret) && !text.contains(&token));
        assert!(!has_jwt(text), "{text}");
    }
    h.assert_no_secrets(&[]);
}

/// The keyring does not answer when the app secret is read for a refresh: the session is
/// kept and retried, the storage shows the keyring unavailable (with the file opt-in), and
/// all is well again once the keyring answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyring_timeout_reading_the_app_secret_keeps_the_session_and_retries() {
    let h = Harness::new().await;
    h.sign_in(None).await;
    let again = make_service(&h.dir, h.store.clone(), &Options::default());
    let recorder = Recorder::attach(&again);
    h.store.fail_reads(Some("app-secret:"));
    h.emu.reset_requests().await;
    again.start().await;

    let snap = again.snapshot();
    let session = snap.session.as_ref().expect("the session is kept");
    assert_eq!(session.state, SessionState::SignedIn);
    let retry = session.retry.as_ref().expect("a retry is scheduled");
    assert_eq!(retry.code, "keyring_unavailable");
    assert!(again.refresh_scheduled());
    assert!(!snap.storage.available, "{:?}", snap.storage);
    assert!(!snap.storage.file_opt_in);
    assert!(snap.storage.message.as_deref().unwrap().contains("locked"));
    assert_eq!(
        snap.error.as_ref().unwrap().reply.code,
        "keyring_unavailable"
    );
    // Nothing reached the server without the secret.
    assert_eq!(h.emu.requests().await.get(REFRESH_PATH), None);
    assert!(h.stored_refresh().is_some());

    h.store.fail_reads(None);
    let snap = recorder
        .wait_for("the retry to get through", Duration::from_secs(8), |s| {
            s.session
                .as_ref()
                .is_some_and(|s| s.retry.is_none() && s.access.is_some())
        })
        .await;
    assert!(snap.storage.available, "{:?}", snap.storage);
    assert_eq!(snap.storage.message, None);
    assert_eq!(h.emu.count(REFRESH_PATH).await, 1);
    h.assert_no_secrets(&[]);
}

// ---- code 31 from calls other than the refresh ------------------------------------------

/// Signs in afresh, then revokes the refresh token behind the app's back (as another device
/// or the support tool would): the server now answers 31 for it and its access tokens.
async fn revoked_behind_the_apps_back(h: &Harness) -> String {
    h.sign_in(None).await;
    let token = h.stored_refresh().unwrap();
    h.emu.client().revoke_refresh_token(&token).await.unwrap();
    h.emu.reset_requests().await;
    token
}

fn assert_expired(h: &Harness, what: &str) {
    let snap = h.service.snapshot();
    let session = snap.session.as_ref().expect("the session stays, expired");
    assert_eq!(session.state, SessionState::Expired, "{what}");
    assert!(session.access.is_none(), "{what}");
    assert!(session.retry.is_none(), "{what}");
    let check = session
        .refresh
        .as_ref()
        .unwrap()
        .last_check
        .clone()
        .unwrap();
    assert!(!check.ok, "{what}: {check:?}");
    assert_eq!(
        snap.error.as_ref().unwrap().reply.server_code,
        Some(31),
        "{what}"
    );
    assert_eq!(h.stored_refresh(), None, "{what}: the dead token is kept");
    assert!(!h.service.refresh_scheduled(), "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_31_from_a_payload_edit_expires_the_session() {
    let h = Harness::new().await;
    revoked_behind_the_apps_back(&h).await;
    let code = h.code_of(
        h.service
            .run(Busy::Payload, h.service.edit_payload("新".into(), true))
            .await,
    );
    assert_eq!(code, "token_invalid");
    assert_expired(&h, "edit_payload");
    let counts = h.emu.requests().await;
    assert_eq!(counts.get(PATCH_PATH), Some(&1), "{counts:?}");
    // The refresh token was the one refused: no refresh is tried with it.
    assert_eq!(counts.get(REFRESH_PATH), None, "{counts:?}");
    h.assert_no_secrets(&[]);
}

/// An access-token call answered 31 tries one refresh; when that says 31 too, the session
/// is expired. Each of verify and reload, on its own session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_31_from_verify_or_reload_expires_the_session_after_one_refresh() {
    let h = Harness::new().await;
    revoked_behind_the_apps_back(&h).await;
    let code = h.code_of(h.service.run(Busy::Verify, h.service.verify_access()).await);
    assert_eq!(code, "token_invalid");
    assert_expired(&h, "verify_access");
    let counts = h.emu.requests().await;
    assert_eq!(counts.get(VERIFY_PATH), Some(&1), "{counts:?}");
    assert_eq!(counts.get(REFRESH_PATH), Some(&1), "{counts:?}");

    revoked_behind_the_apps_back(&h).await;
    let code = h.code_of(h.service.run(Busy::Reload, h.service.reload_user()).await);
    assert_eq!(code, "token_invalid");
    assert_expired(&h, "reload_user");
    let counts = h.emu.requests().await;
    assert_eq!(counts.get(USER_INFO_PATH), Some(&1), "{counts:?}");
    assert_eq!(counts.get(REFRESH_PATH), Some(&1), "{counts:?}");
    h.assert_no_secrets(&[]);
}

/// Many access-token calls refused at once: one refresh request between them. Each caller
/// is told 31, or "not signed in" when it started after the session had already expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_refused_with_31_share_one_refresh() {
    let h = Harness::new().await;
    revoked_behind_the_apps_back(&h).await;
    let calls = (0..20).map(|i| {
        let service = h.service.clone();
        tokio::spawn(async move {
            if i % 2 == 0 {
                service.verify_access().await
            } else {
                service.reload_user().await
            }
        })
    });
    let mut told_31 = 0;
    for result in futures_util::future::join_all(calls).await {
        let err = result.unwrap().unwrap_err();
        match err.code() {
            "token_invalid" => told_31 += 1,
            "no_session" => {}
            other => panic!("{other}: {err:?}"),
        }
    }
    assert!(told_31 >= 1);
    assert_eq!(h.emu.count(REFRESH_PATH).await, 1);
    assert_eq!(state(&h.service.snapshot()), Some(SessionState::Expired));
    assert_eq!(h.stored_refresh(), None);
}

/// An access token the server's clock has expired (31) while the refresh token lives: reload
/// gets a new access token and succeeds; the session is fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_after_server_side_access_expiry_recovers_through_a_refresh() {
    let h = Harness::new().await;
    h.sign_in(None).await;
    let old_access = h.service.access_token().unwrap();
    h.emu.advance_clock(400).await;
    h.emu.reset_requests().await;
    h.service
        .run(Busy::Reload, h.service.reload_user())
        .await
        .expect("reload recovers through a refresh");
    let counts = h.emu.requests().await;
    assert_eq!(counts.get(USER_INFO_PATH), Some(&2), "{counts:?}");
    assert_eq!(counts.get(REFRESH_PATH), Some(&1), "{counts:?}");
    let snap = h.service.snapshot();
    assert_eq!(state(&snap), Some(SessionState::SignedIn));
    assert_eq!(snap.session.unwrap().user.name, h.emu.info.users[0].name);
    assert!(snap.error.is_none(), "{:?}", snap.error);
    let new_access = h.service.access_token().unwrap();
    assert_ne!(new_access, old_access);
    h.assert_no_secrets(&[old_access, new_access]);
}

// ---- payload edits and the last server check --------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_edit_keeps_the_record_checked_and_a_new_access_token_unchecked() {
    let h = Harness::new().await;
    h.sign_in(None).await;
    h.service.refresh_access().await.unwrap();
    h.service.verify_access().await.unwrap();
    let before = h.service.snapshot().session.unwrap();
    let refresh_check = before
        .refresh
        .unwrap()
        .last_check
        .expect("checked by the refresh");
    assert!(refresh_check.ok);
    assert!(before.access.unwrap().last_check.is_some());

    // Without a new access token: the record stays checked, the access token keeps its check.
    h.service.edit_payload("一".into(), false).await.unwrap();
    let after = h.service.snapshot().session.unwrap();
    let check = after.refresh.as_ref().unwrap().last_check.clone();
    let check = check.expect("the payload edit wiped the record's last check");
    assert!(check.ok && check.at >= refresh_check.at, "{check:?}");
    assert_eq!(after.refresh.as_ref().unwrap().payload, "一");
    assert!(after.access.as_ref().unwrap().last_check.is_some());

    // With a new access token: that one has never been checked.
    h.service.edit_payload("二".into(), true).await.unwrap();
    let after = h.service.snapshot().session.unwrap();
    assert!(
        after
            .refresh
            .as_ref()
            .unwrap()
            .last_check
            .as_ref()
            .unwrap()
            .ok
    );
    let access = after.access.unwrap();
    assert_eq!(access.payload, "二");
    assert!(access.last_check.is_none(), "{:?}", access.last_check);
    h.assert_no_secrets(&[]);
}

// ---- the server's clock --------------------------------------------------------------------

/// The refresh timer is set from the access token's own lifetime (exp − iat), so a server
/// whose clock is far off (hours ahead, days behind) gives neither a refresh loop (tokens
/// that look expired here) nor a token that dies before its timer fires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_is_scheduled_from_the_token_lifetime_whatever_the_server_clock() {
    let h = Harness::new().await;
    h.sign_in(None).await;
    for offset in [3 * 3600, -6 * 86_400, 0] {
        h.emu.set_clock_offset(offset).await;
        h.emu.reset_requests().await;
        // Tokens are stamped in whole seconds: make sure the new one differs.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let asked_at = now_ms();
        h.service.refresh_access().await.unwrap();
        let snap = h.service.snapshot();
        let session = snap.session.as_ref().unwrap();
        let access = session.access.as_ref().unwrap();
        // The access token carries the server's time: shifted by the offset.
        let shift = access.issued_at - asked_at;
        assert!(
            (shift - offset * 1000).abs() < 3000,
            "offset {offset}: issued {shift} ms from here"
        );
        // 300 s tokens, renewed 60 s before they end: 240 s from now, by this machine's clock.
        let next = session.next_refresh_at.expect("a refresh is scheduled");
        let delay = next - asked_at;
        assert!(
            (238_000..=242_000).contains(&delay),
            "offset {offset}: next refresh in {delay} ms"
        );
        assert_eq!(session.state, SessionState::SignedIn);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            h.emu.count(REFRESH_PATH).await,
            1,
            "offset {offset}: refreshed again on its own"
        );
    }
    h.assert_no_secrets(&[]);
}

/// Staff whose clock is ten minutes off the server's, either way: every call succeeds (the
/// first stamp is corrected from the reply's Date and sent again) and the countdowns are right
/// by this machine's clock, where they used to show a valid token as expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_clock_ten_minutes_off_either_way_changes_nothing_the_user_sees() {
    for skew in [600, -600] {
        let h = Harness::new().await;
        h.emu.set_clock_skew(skew).await;
        let snap = h.sign_in(Some("时钟")).await;
        assert!(snap.clock.measured, "skew {skew}");
        assert!(
            (snap.clock.offset_ms - skew * 1000).abs() <= 1_500,
            "skew {skew}: measured {} ms",
            snap.clock.offset_ms
        );
        let session = snap.session.unwrap();
        let access = session.access.unwrap();
        let left = access.expires_at - now_ms();
        assert!(
            (294_000..=301_000).contains(&left),
            "skew {skew}: {left} ms left"
        );
        let refresh = session.refresh.unwrap();
        let days = (refresh.expires_at - now_ms()) as f64 / 86_400_000.0;
        assert!(
            (6.99..=7.0).contains(&days),
            "skew {skew}: {days} days left"
        );
        assert!(!refresh.expiring_soon);

        h.service.refresh_access().await.unwrap();
        h.service.verify_access().await.unwrap();
        h.service.reload_user().await.unwrap();
        h.service.edit_payload("新的".into(), true).await.unwrap();
        let snap = h.service.snapshot();
        let session = snap.session.as_ref().unwrap();
        assert_eq!(session.state, SessionState::SignedIn);
        assert_eq!(session.refresh.as_ref().unwrap().payload, "新的");
        let left = session.access.as_ref().unwrap().expires_at - now_ms();
        assert!(
            (294_000..=301_000).contains(&left),
            "skew {skew}: {left} ms left"
        );
        assert!(snap.error.is_none(), "skew {skew}: {:?}", snap.error);
        h.service.revoke_session().await.unwrap();
        assert!(h.service.snapshot().session.is_none());
        h.assert_no_secrets(&[]);
    }
}

/// A change of the user's groups (the server bumps their `oid`) ends the session at the next
/// refresh: expired, and the explanation says the account may have changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_of_groups_expires_the_session_and_says_why() {
    let h = Harness::new().await;
    h.sign_in(None).await;
    h.emu.change_groups(h.emu.uid(), &["设计"]).await;
    let err = h.service.refresh_access().await.unwrap_err();
    assert!(err.is_token_invalid(), "{err:?}");
    let snap = h.service.snapshot();
    let session = snap.session.unwrap();
    assert_eq!(session.state, SessionState::Expired);
    let message = session
        .refresh
        .unwrap()
        .last_check
        .unwrap()
        .message
        .unwrap();
    assert!(message.contains("account changed"), "{message}");
    assert_eq!(h.stored_refresh(), None, "the dead token is not kept");
    h.assert_no_secrets(&[]);
}

/// The "less than 24 hours left" warning: off for a fresh seven-day token, on for one whose
/// record the server started long ago (its clock six days behind at sign-in, the login
/// token minted before the shift), and it turns on as that moment passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_expiry_warning_turns_on_under_24_hours() {
    let h = Harness::new().await;
    let snap = h.sign_in(None).await;
    assert!(!snap.session.unwrap().refresh.unwrap().expiring_soon);

    // 7 days − (6 days − 4 s) = 24 h + 4 s left at sign-in.
    let login = h.emu.login_token(h.emu.uid());
    h.emu.set_clock_offset(-(6 * 86_400 - 4)).await;
    h.service.sign_in_with_token(login, None).await.unwrap();
    let refresh = h.service.snapshot().session.unwrap().refresh.unwrap();
    let left = refresh.expires_at - now_ms();
    assert!((86_400_000..86_404_500).contains(&left), "{left} ms left");
    assert!(
        !refresh.expiring_soon,
        "24 h + {} ms left",
        left - 86_400_000
    );
    tokio::time::sleep(Duration::from_millis((left - 86_400_000 + 500) as u64)).await;
    // The next snapshot (any change, here a refresh) says so.
    h.service.refresh_access().await.unwrap();
    let refresh = h.service.snapshot().session.unwrap().refresh.unwrap();
    assert!(refresh.expires_at - now_ms() < 86_400_000);
    assert!(refresh.expiring_soon);
    h.assert_no_secrets(&[]);
}
