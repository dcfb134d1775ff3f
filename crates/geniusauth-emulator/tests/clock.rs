//! The server's wall clock being off (`skewSeconds`, `--clock-skew`): Go's `time.Now()` in
//! internal/api/middlewares/app.go (the signature window), internal/pkg/jwt/jwt.go (token
//! times) and net/http's `Date` header on every response. The token offset
//! (`offsetSeconds`/`advanceSeconds`) moves token time only.

mod common;

use common::*;
use geniusauth_emulator::Config;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[test]
fn the_test_date_parser_is_right() {
    assert_eq!(
        parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
        784_111_777
    );
}

/// app.go RequireAppSignature uses the server's clock: with the server N s off, a request
/// stamped with the real time is code 9 and one stamped with real + N passes; `Date` is off by
/// N on production and admin replies alike.
#[tokio::test]
async fn a_skewed_server_clock_moves_the_window_the_date_and_token_times() {
    for skew in [600, -600] {
        let h = Harness::start().await;
        let r = h
            .admin(
                Method::POST,
                "/__emulator/clock",
                Some(json!({"skewSeconds": skew})),
            )
            .await;
        assert_eq!(r.json()["skewSeconds"], skew, "{}", r.text);
        assert!((date_of(&r) - (now() + skew)).abs() <= 2, "admin Date");
        assert!((r.json()["serverNow"].as_i64().expect("serverNow") - (now() + skew)).abs() <= 2);

        let (code, secret) = (&h.info.app_code, &h.info.app_secret);
        let real = h
            .raw(
                Method::GET,
                SERVER_KEYS,
                &signed_as(code, secret, json!({}), now()),
            )
            .await;
        real.assert_error(9, 403);
        assert!((date_of(&real) - (now() + skew)).abs() <= 2, "skew {skew}");

        let shifted = h
            .raw(
                Method::GET,
                SERVER_KEYS,
                &signed_as(code, secret, json!({}), now() + skew),
            )
            .await;
        assert_eq!(shifted.code(), 0, "skew {skew}: {}", shifted.text);

        // Tokens are issued on the server's clock.
        let token = h.login_token(h.uid()).await;
        let iat = claims(&token)["iat"].as_i64().expect("iat");
        assert!((iat - (now() + skew)).abs() <= 2, "iat {iat}, skew {skew}");
        let verify = signed_as(code, secret, json!({"token": token}), now() + skew);
        assert_eq!(h.raw(Method::POST, VERIFY, &verify).await.code(), 0);
    }
}

/// The token offset keeps its meaning: token time only, not the window nor `Date`.
#[tokio::test]
async fn the_token_offset_moves_neither_the_window_nor_the_date() {
    let h = Harness::start().await;
    let r = h
        .admin(
            Method::POST,
            "/__emulator/clock",
            Some(json!({"offsetSeconds": 3600})),
        )
        .await;
    assert_eq!(r.json()["skewSeconds"], 0);
    assert!((date_of(&r) - now()).abs() <= 2);
    let keys = h.call(Method::GET, SERVER_KEYS, json!({})).await;
    assert_eq!(keys.code(), 0);
    assert!((date_of(&keys) - now()).abs() <= 2);
    let token = h.login_token(h.uid()).await;
    let iat = claims(&token)["iat"].as_i64().expect("iat");
    assert!((iat - (now() + 3600)).abs() <= 2);
}

/// `Config::clock_skew_seconds` (the `--clock-skew` flag): every reply carries exactly one
/// `Date`, the skewed one, the login page and unknown paths included.
#[tokio::test]
async fn the_configured_skew_applies_from_the_start() {
    let h = Harness::start_with(Config {
        clock_skew_seconds: -900,
        ..Config::ephemeral()
    })
    .await;
    for path in [
        "/",
        "/nope",
        "/__emulator/info",
        "/api/v1/app/token/refresh",
    ] {
        let response = h.http.get(h.url(path)).send().await.expect("send");
        assert_eq!(
            response.headers().get_all("date").iter().count(),
            1,
            "{path}"
        );
        let r = reply(response).await;
        assert!((date_of(&r) - (now() - 900)).abs() <= 2, "{path}");
        assert_ne!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
