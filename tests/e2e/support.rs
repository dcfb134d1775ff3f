//! The Support and Audit log views through the real window: paste 50 tokens among garbage lines
//! (tokens revoked before, access tokens, a login token, a token of another system, owners of
//! five users), see the owners resolved and the table's columns at three window sizes, filter by
//! owner and sort by issue time; revoke an access token's refresh token from its row; revoke all
//! with faults injected (error rows show the code and message) and cancel the slow run midway,
//! then retry the failed ones and revoke the rest; find every attempt in the audit log and its
//! file. Screenshots go to `target/e2e-screenshots/`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use geniusauth::{Client, LoginOptions};
use geniusauth_emulator::{Config, Emulator};
use serde_json::{json, Value};

use crate::harness::{free_port, App, WAIT};

const REFRESH_PATH: &str = "/api/v1/app/token/refresh/";

/// What the test knows about each token it pastes.
struct Pasted {
    token: String,
    kind: &'static str,
    uid: Option<u64>,
    revoked_before: bool,
    payload: Option<String>,
    /// For an access token: the index of its refresh token in the paste, if it is there.
    refresh_of: Option<usize>,
}

/// Rows as the page shows them.
async fn rows(app: &App) -> Vec<Value> {
    let script = r#"
        const shown = (e) => !!e && e.getClientRects().length > 0;
        return [...document.querySelectorAll('[data-testid="support-row"]')].map((r) => ({
            id: Number(r.dataset.id),
            state: r.dataset.state,
            kind: r.dataset.kind,
            masked: r.querySelector('.st-masked')?.textContent ?? '',
            uid: r.querySelector('[data-testid="support-owner"]')?.dataset.uid ?? null,
            owner: r.querySelector('[data-testid="support-owner-name"]')?.textContent ?? null,
            avatar: r.querySelector('[data-testid="support-avatar"]')?.dataset.kind ?? null,
            avatarText: r.querySelector('[data-testid="support-avatar"]')?.textContent ?? '',
            avatarLoaded: (() => {
                const img = r.querySelector('[data-testid="support-avatar"] img');
                return !!img && img.complete && img.naturalWidth > 0 && img.getClientRects().length > 0;
            })(),
            payload: r.querySelector('[data-testid="support-payload"]')?.textContent ?? '',
            issued: r.querySelector('[data-testid="support-issued"]')?.textContent ?? '',
            issuedAt: Number(r.querySelector('[data-testid="support-issued"]')?.dataset.at ?? 'NaN'),
            expires: r.querySelector('[data-testid="support-expires"]')?.textContent ?? '',
            issuedShown: shown(r.querySelector('[data-testid="support-issued"]')),
            payloadShown: shown(r.querySelector('[data-testid="support-payload"]')),
            expiresShown: shown(r.querySelector('[data-testid="support-expires"]')),
            resultShown: shown(r.querySelector('[data-testid="support-result"]')),
            result: r.querySelector('[data-testid="support-result"]')?.textContent ?? '',
            detail: r.querySelector('[data-testid="support-result-detail"]')?.textContent ?? '',
            resultState: r.querySelector('[data-testid="support-result"]')?.dataset.state ?? null,
            refreshLink: r.querySelector('[data-testid="support-revoke-refresh"]')?.dataset.id ?? null,
        }));"#;
    let value = app
        .client
        .execute(script, vec![])
        .await
        .expect("rows script");
    value.as_array().cloned().unwrap_or_default()
}

async fn wait_rows(app: &App, what: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let rows = rows(app).await;
        if check(&rows) {
            return rows;
        }
        if start.elapsed() > WAIT {
            app.screenshot(&format!("support-failed-{}", what.replace(' ', "-")))
                .await;
            panic!(
                "support rows never were {what}: {rows:#?}; error banner: {:?}",
                app.error_text().await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The progress card's counts (its data attributes), read in one go.
async fn progress(app: &App) -> HashMap<String, String> {
    let script = r#"
        const p = document.querySelector('[data-testid="support-progress"]');
        return p ? { ...p.dataset } : {};"#;
    let value = app.client.execute(script, vec![]).await.unwrap();
    serde_json::from_value(value).unwrap_or_default()
}

fn count(p: &HashMap<String, String>, key: &str) -> usize {
    p.get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Finds and clicks in one script: the Support view re-renders up to ten times a second during a
/// run, so an element WebDriver found a moment ago may already have been replaced.
async fn click_now(app: &App, css: &str) {
    let script = "const e = document.querySelector(arguments[0]); if (!e || e.disabled) return false; e.click(); return true;";
    let start = Instant::now();
    while app.client.execute(script, vec![json!(css)]).await.unwrap() != json!(true) {
        assert!(start.elapsed() < WAIT, "nothing to click at {css}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Scrolls the first element matching `css` into the middle of the view (for a screenshot).
async fn scroll_to(app: &App, css: &str) {
    let script = "const e = document.querySelector(arguments[0]); e?.scrollIntoView({block: 'center'}); return !!e;";
    let found = app.client.execute(script, vec![json!(css)]).await.unwrap();
    assert_eq!(found, json!(true), "nothing at {css}");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

async fn select_row(app: &App, id: u64) {
    let css = format!("[data-testid=\"support-row-select\"][data-id=\"{id}\"]");
    let script = "const e = document.querySelector(arguments[0]); if (!e.checked) e.click(); return e.checked;";
    let checked = app.client.execute(script, vec![json!(css)]).await.unwrap();
    assert_eq!(checked, json!(true));
}

async fn choose(app: &App, testid: &str, value: &str) {
    let script = "const s = document.querySelector(`[data-testid=\"${arguments[0]}\"]`); s.value = arguments[1]; s.dispatchEvent(new Event('change', {bubbles: true})); return s.value;";
    let chosen = app
        .client
        .execute(script, vec![json!(testid), json!(value)])
        .await
        .unwrap();
    assert_eq!(chosen, json!(value), "{testid} has no option {value}");
}

async fn wait_progress_done(app: &App) -> HashMap<String, String> {
    let start = Instant::now();
    loop {
        let p = progress(app).await;
        if p.get("state").map(String::as_str) == Some("done") {
            return p;
        }
        assert!(start.elapsed() < WAIT, "the run did not finish: {p:?}");
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
}

async fn fault(http: &reqwest::Client, emulator: &Emulator, body: Value) {
    let reply = http
        .post(format!("{}/__emulator/faults", emulator.url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        reply.status().is_success(),
        "{}",
        reply.text().await.unwrap()
    );
}

/// Whether the server still takes the refresh token.
async fn is_valid(client: &Client, refresh_token: &str) -> bool {
    match client.refresh_access_token(refresh_token).await {
        Ok(_) => true,
        Err(err) if err.is_token_invalid() => false,
        Err(err) => panic!("checking a token: {err}"),
    }
}

/// An HS256 JWT of some other system.
fn foreign_jwt() -> String {
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c".into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_staff_paste_fifty_tokens_revoke_them_and_find_them_in_the_audit_log() {
    let emulator = Emulator::start(Config::ephemeral())
        .await
        .expect("emulator");
    let info = emulator.info().clone();
    geniusauth::tls::install_crypto_provider();
    let http = reqwest::Client::new();
    let client = Client::new(
        geniusauth::Config::new(info.app_code.clone(), info.app_secret.clone())
            .with_base_url(emulator.url())
            .unwrap(),
    )
    .unwrap();
    let names: HashMap<u64, String> = info.users.iter().map(|u| (u.id, u.name.clone())).collect();
    let owners: Vec<u64> = info.users.iter().take(5).map(|u| u.id).collect();

    // 47 sign-ins of five users; 46 of their refresh tokens (seven revoked before; every ninth
    // carries a payload), two access tokens (one whose refresh token is pasted too, one whose is
    // not), a login token and a token of another system: 50 tokens.
    const PAIRED: usize = 12;
    const LONELY: usize = 20;
    let mut pasted: Vec<Pasted> = Vec::new();
    let mut access = Vec::new();
    let mut paired_refresh_index = None;
    // The rows are told apart by their masked tokens (the last 6 characters, and an Ed25519
    // signature's last bits are not random): a sign-in whose tokens would look like earlier
    // ones is done again.
    let mut masks = std::collections::HashSet::new();
    for i in 0..47 {
        let uid = owners[i % owners.len()];
        let payload = (i % 9 == 0).then(|| format!("desk-{i}"));
        let options = LoginOptions {
            payload: payload.clone(),
            ..LoginOptions::default()
        };
        let result = loop {
            let login = emulator.login_token(&info.app_code, uid).unwrap();
            let result = client.login_verify(&login, &options).await.unwrap();
            let (refresh, access) = (
                ::support::mask(&result.refresh_token),
                ::support::mask(&result.access_token),
            );
            if refresh != access && !masks.contains(&refresh) && !masks.contains(&access) {
                masks.extend([refresh, access]);
                break result;
            }
        };
        let revoked_before = i % 7 == 3;
        if revoked_before {
            client
                .revoke_refresh_token(&result.refresh_token)
                .await
                .unwrap();
        }
        if i == PAIRED || i == LONELY {
            access.push((result.access_token.clone(), uid, i, payload.clone()));
        }
        if i != LONELY {
            if i == PAIRED {
                paired_refresh_index = Some(pasted.len());
            }
            pasted.push(Pasted {
                token: result.refresh_token,
                kind: "refresh",
                uid: Some(uid),
                revoked_before,
                payload,
                refresh_of: None,
            });
        }
    }
    for (token, uid, i, payload) in &access {
        pasted.push(Pasted {
            token: token.clone(),
            kind: "access",
            uid: Some(*uid),
            revoked_before: false,
            payload: payload.clone(),
            refresh_of: (*i == PAIRED).then(|| paired_refresh_index.unwrap()),
        });
    }
    let login = loop {
        let login = emulator.login_token(&info.app_code, owners[2]).unwrap();
        if masks.insert(::support::mask(&login)) {
            break login;
        }
    };
    pasted.push(Pasted {
        token: login,
        kind: "login",
        uid: Some(owners[2]),
        revoked_before: false,
        payload: None,
        refresh_of: None,
    });
    pasted.push(Pasted {
        token: foreign_jwt(),
        kind: "other",
        uid: None,
        revoked_before: false,
        payload: None,
        refresh_of: None,
    });
    let refresh_total = pasted.iter().filter(|p| p.kind == "refresh").count();
    let already_total = pasted.iter().filter(|p| p.revoked_before).count();
    assert_eq!(pasted.len(), 50);
    assert_eq!((refresh_total, already_total), (46, 7));

    // As support staff get them: a CSV header, quotes, Bearer, separators, and garbage besides.
    let mut lines = vec!["token,reported by,note".to_owned()];
    for (i, p) in pasted.iter().enumerate() {
        lines.push(match i % 5 {
            0 => format!("\"{}\",service desk,leaked in a log", p.token),
            1 => format!("Authorization: Bearer {}", p.token),
            2 => format!("{} ; ", p.token),
            3 => format!("\t'{}'", p.token),
            _ => p.token.clone(),
        });
    }
    lines.extend([
        "-- forwarded message --".to_owned(),
        "eyJhbGciOiJFZERTQSJ9.cut-off".to_owned(),
        "see attachment".to_owned(),
        format!("duplicate: {}", pasted[0].token),
        "thanks!".to_owned(),
        "".to_owned(),
        "…".to_owned(),
    ]);
    let text = lines.join("\r\n");

    let callback = format!("http://127.0.0.1:{}/callback", free_port());
    let app = App::launch(&[], &[("LANG", "en_US.UTF-8"), ("USER", "e2e-support")]).await;
    app.el("setup").await;
    app.script_click("preset-custom").await;
    app.type_into("profile-name", "Local").await;
    app.type_into("profile-server", emulator.url()).await;
    app.type_into("profile-appcode", &info.app_code).await;
    app.type_into("profile-callback", &callback).await;
    app.type_into("profile-secret", &info.app_secret).await;
    app.click("btn-save-profile").await;
    app.wait_state("signed-out").await;

    // The Support view; paste (as the clipboard would: all at once) and find the tokens.
    app.click("nav-support").await;
    app.el("support-empty").await;
    let input = app.el("support-input").await;
    app.client
        .execute(
            "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
            vec![serde_json::to_value(&input).unwrap(), json!(text)],
        )
        .await
        .unwrap();
    app.screenshot("support-01-pasted").await;
    app.click("support-parse").await;
    let summary = app
        .wait_text("support-summary", |t| t.contains("50 tokens"))
        .await;
    assert!(summary.contains("1 duplicate merged"), "{summary}");
    assert!(summary.contains("6 lines without a token"), "{summary}");

    // Owners resolved: every row of a user shows that user's name, and a picture or initials.
    let shown = wait_rows(&app, "resolved", |rows| {
        rows.len() == 50
            && rows.iter().all(|r| {
                r["uid"].is_null()
                    || r["owner"]
                        .as_str()
                        .is_some_and(|o| names.values().any(|n| n == o))
            })
    })
    .await;
    let by_masked: HashMap<String, usize> = pasted
        .iter()
        .enumerate()
        .map(|(i, p)| (::support::mask(&p.token), i))
        .collect();
    assert_eq!(
        by_masked.len(),
        pasted.len(),
        "every pasted token looks different"
    );
    let index_of = |row: &Value| by_masked[row["masked"].as_str().unwrap()];
    let id_of = |index: usize, rows: &[Value]| -> u64 {
        rows.iter()
            .find(|r| index_of(r) == index)
            .and_then(|r| r["id"].as_u64())
            .unwrap()
    };
    for row in &shown {
        let p = &pasted[index_of(row)];
        assert_eq!(row["kind"], p.kind);
        assert_eq!(row["state"], "ready");
        if let Some(uid) = p.uid {
            assert_eq!(row["uid"], json!(uid.to_string()));
            assert_eq!(row["owner"], json!(names[&uid]));
            let avatar = row["avatar"].as_str().unwrap_or_default();
            assert!(
                avatar == "image"
                    || (avatar == "initials" && !row["avatarText"].as_str().unwrap().is_empty()),
                "an owner is shown with a picture or initials: {row}"
            );
        }
        // The payload and issue time are columns of their own.
        match &p.payload {
            Some(payload) => assert_eq!(row["payload"], json!(payload)),
            None => assert_eq!(row["payload"], "—"),
        }
        if p.kind == "other" {
            assert_eq!(row["issued"], "—");
        } else {
            assert!(
                row["issuedAt"].as_f64().is_some_and(|at| at > 1.6e12),
                "{row}"
            );
            assert!(!row["expires"].as_str().unwrap().is_empty());
        }
    }
    assert!(!app.text("support-owners-status").await.contains("Looking"));
    // The page never holds a whole token.
    let html: String = app.client.source().await.unwrap();
    for p in &pasted {
        assert!(
            !html.contains(p.token.rsplit('.').next().unwrap()),
            "a token reached the web view"
        );
    }
    // At the window's default size (900×640) every column is there.
    assert!(shown.iter().all(|r| r["issuedShown"] == true
        && r["payloadShown"] == true
        && r["expiresShown"] == true
        && r["resultShown"] == true));
    app.screenshot("support-02-owners-resolved").await;

    // A wide window, then a small one: payload and issued give way below 880 px.
    app.client
        .set_window_size(1280, 860)
        .await
        .expect("resize the window");
    // By now the owners' pictures (the emulator's identicons, fetched by Rust) are in every row.
    let wide = wait_rows(&app, "wide, with pictures", |rows| {
        rows.len() == 50
            && rows.iter().all(|r| {
                r["issuedShown"] == true && (r["uid"].is_null() || r["avatarLoaded"] == true)
            })
    })
    .await;
    assert!(wide.iter().all(|r| r["payloadShown"] == true));
    scroll_to(&app, "[data-testid=\"support-table\"]").await;
    app.screenshot("support-02-wide").await;
    app.client
        .set_window_size(640, 480)
        .await
        .expect("resize the window");
    let narrow = wait_rows(&app, "narrow", |rows| {
        rows.iter().all(|r| r["issuedShown"] == false)
    })
    .await;
    assert!(narrow.iter().all(|r| r["payloadShown"] == false
        && r["expiresShown"] == true
        && r["resultShown"] == true));
    scroll_to(&app, "[data-testid=\"support-row\"][data-kind=\"access\"]").await;
    app.screenshot("support-02-narrow").await;
    app.client.set_window_size(900, 640).await.unwrap();
    wait_rows(&app, "back to 900", |rows| {
        rows.iter().all(|r| r["issuedShown"] == true)
    })
    .await;

    // Filter by owner: only theirs; sort by issue time, both ways.
    let who = owners[1];
    let theirs = pasted.iter().filter(|p| p.uid == Some(who)).count();
    choose(&app, "support-filter-owner", &who.to_string()).await;
    let filtered = wait_rows(&app, "one owner", |rows| rows.len() == theirs).await;
    assert!(filtered.iter().all(|r| r["uid"] == json!(who.to_string())));
    let count_text = app.text("support-count").await;
    assert_eq!(count_text, format!("{theirs} / 50"));
    scroll_to(&app, "[data-testid=\"support-filter-owner\"]").await;
    app.screenshot("support-03-owner-filter").await;
    choose(&app, "support-filter-owner", "").await;
    wait_rows(&app, "all owners", |rows| rows.len() == 50).await;
    let issued_rows = shown
        .iter()
        .filter(|r| r["issuedAt"].as_f64().is_some())
        .count();
    assert!(
        issued_rows >= 49,
        "every GeniusAuth token has an issue time"
    );
    click_now(&app, "[data-testid=\"support-sort-issued\"]").await;
    let sorted = wait_rows(&app, "sorted by issue time", |rows| {
        let at: Vec<f64> = rows.iter().filter_map(|r| r["issuedAt"].as_f64()).collect();
        at.len() == issued_rows && at.windows(2).all(|w| w[0] <= w[1])
    })
    .await;
    assert_eq!(
        sorted.last().unwrap()["kind"],
        "other",
        "no issue time: last"
    );
    click_now(&app, "[data-testid=\"support-sort-issued\"]").await;
    wait_rows(&app, "sorted by issue time, newest first", |rows| {
        let at: Vec<f64> = rows.iter().filter_map(|r| r["issuedAt"].as_f64()).collect();
        at.len() == issued_rows && at.windows(2).all(|w| w[0] >= w[1])
    })
    .await;
    click_now(&app, "[data-testid=\"support-sort-issued\"]").await;

    // Access tokens cannot be revoked alone: the one whose refresh token is in the list offers
    // to revoke that one instead; the other says why.
    let rows_now = rows(&app).await;
    let paired_index = pasted.iter().position(|p| p.refresh_of.is_some()).unwrap();
    let lonely_index = pasted
        .iter()
        .position(|p| p.kind == "access" && p.refresh_of.is_none())
        .unwrap();
    let paired_id = id_of(paired_index, &rows_now);
    let paired_refresh_id = id_of(pasted[paired_index].refresh_of.unwrap(), &rows_now);
    select_row(&app, paired_id).await;
    select_row(&app, id_of(lonely_index, &rows_now)).await;
    click_now(&app, "[data-testid=\"support-revoke\"]").await;
    let after = wait_rows(&app, "not revocable", |rows| {
        rows.iter()
            .filter(|r| r["kind"] == "access")
            .all(|r| r["state"] == "not_revocable")
    })
    .await;
    for row in after.iter().filter(|r| r["kind"] == "access") {
        assert!(
            row["result"]
                .as_str()
                .unwrap()
                .contains("Can’t revoke alone"),
            "{row}"
        );
    }
    let paired_row = after.iter().find(|r| r["id"] == json!(paired_id)).unwrap();
    assert_eq!(
        paired_row["refreshLink"],
        json!(paired_refresh_id.to_string())
    );
    assert!(paired_row["result"]
        .as_str()
        .unwrap()
        .contains("Revoke its refresh token"));
    let lonely_row = after.iter().find(|r| index_of(r) == lonely_index).unwrap();
    assert!(lonely_row["refreshLink"].is_null());
    scroll_to(
        &app,
        &format!("[data-testid=\"support-row\"][data-id=\"{paired_id}\"]"),
    )
    .await;
    app.screenshot("support-04-access-token").await;
    click_now(
        &app,
        &format!("[data-testid=\"support-revoke-refresh\"][data-id=\"{paired_refresh_id}\"]"),
    )
    .await;
    let dialog = app
        .wait_text("support-confirm-dialog", |t| t.contains("1 refresh token"))
        .await;
    let paired_owner = &names[&pasted[paired_index].uid.unwrap()];
    assert!(dialog.contains(paired_owner.as_str()), "{dialog}");
    app.click("support-confirm").await;
    let after = wait_rows(&app, "refresh of the access token revoked", |rows| {
        rows.iter()
            .any(|r| r["id"] == json!(paired_refresh_id) && r["state"] == "revoked")
            && rows.iter().any(|r| {
                r["id"] == json!(paired_id)
                    && r["result"]
                        .as_str()
                        .unwrap()
                        .contains("refresh token is revoked")
            })
    })
    .await;
    assert_eq!(
        after.iter().filter(|r| r["state"] == "revoked").count(),
        1,
        "only that refresh token"
    );
    let paired_refresh = &pasted[pasted[paired_index].refresh_of.unwrap()].token;
    assert!(!is_valid(&client, paired_refresh).await);
    wait_progress_done(&app).await;

    // Revoke all the others, slowly, the first three requests failing with nginx error pages.
    fault(
        &http,
        &emulator,
        json!({"path": REFRESH_PATH, "method": "DELETE", "kind": "http502", "times": 3}),
    )
    .await;
    fault(
        &http,
        &emulator,
        json!({"path": REFRESH_PATH, "method": "DELETE", "kind": "latency", "delayMs": 600}),
    )
    .await;
    let run_total = refresh_total - 1;
    click_now(&app, "[data-testid=\"support-select-all\"]").await;
    app.wait_text("support-revoke", |t| t.contains(&run_total.to_string()))
        .await;
    click_now(&app, "[data-testid=\"support-revoke\"]").await;
    let dialog = app
        .wait_text("support-confirm-dialog", |t| {
            t.contains(&run_total.to_string())
        })
        .await;
    for uid in &owners {
        assert!(
            dialog.contains(&names[uid]),
            "the confirmation names {}: {dialog}",
            names[uid]
        );
    }
    assert!(dialog.contains("5 people"), "{dialog}");
    app.screenshot("support-05-confirm").await;
    app.click("support-confirm").await;

    // Watch the progress, and cancel midway.
    let start = Instant::now();
    loop {
        let p = progress(&app).await;
        if p.get("state").map(String::as_str) == Some("running") && count(&p, "done") >= 8 {
            let text = app.text("support-progress-count").await;
            assert!(text.contains(&format!("/ {run_total}")), "{text}");
            app.screenshot("support-06-progress").await;
            break;
        }
        assert!(start.elapsed() < WAIT, "the run never got going: {p:?}");
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    click_now(&app, "[data-testid=\"support-cancel\"]").await;
    let p = wait_progress_done(&app).await;
    let (done, revoked, already, failed, cancelled) = (
        count(&p, "done"),
        count(&p, "revoked"),
        count(&p, "already"),
        count(&p, "failed"),
        count(&p, "cancelled"),
    );
    assert_eq!(count(&p, "total"), run_total);
    assert_eq!(revoked + already + failed, done, "{p:?}");
    assert_eq!(done + cancelled, run_total, "{p:?}");
    assert!(
        cancelled > 0 && done < run_total,
        "the cancel came in time: {p:?}"
    );
    assert_eq!(failed, 3);
    let progress_text = app.text("support-progress").await;
    assert!(
        progress_text.contains("Revocation cancelled"),
        "{progress_text}"
    );
    assert!(
        progress_text.contains(&format!("{cancelled} not sent")),
        "{progress_text}"
    );

    // The rows agree: failed ones show the code and what went wrong, the rest were not sent.
    let after_cancel = rows(&app).await;
    let in_state =
        |rows: &[Value], state: &str| rows.iter().filter(|r| r["state"] == state).count();
    assert_eq!(in_state(&after_cancel, "error"), 3);
    assert_eq!(in_state(&after_cancel, "cancelled"), cancelled);
    assert_eq!(
        in_state(&after_cancel, "revoked") + in_state(&after_cancel, "already_invalid"),
        revoked + already + 1
    );
    for row in after_cancel.iter().filter(|r| r["state"] == "error") {
        let detail = row["detail"].as_str().unwrap();
        assert!(
            detail.contains("HTTP 502") && detail.contains("Unexpected reply"),
            "{row}"
        );
        assert!(row["result"].as_str().unwrap().contains("Failed"));
    }
    for row in after_cancel.iter().filter(|r| r["state"] == "cancelled") {
        assert!(
            row["result"].as_str().unwrap().contains("Not sent"),
            "{row}"
        );
        let p = &pasted[index_of(row)];
        if !p.revoked_before {
            assert!(
                is_valid(&client, &p.token).await,
                "a token not sent was revoked"
            );
        }
    }
    scroll_to(&app, "[data-testid=\"support-row\"][data-state=\"error\"]").await;
    app.screenshot("support-07-cancelled-with-errors").await;

    // The details of a failed row: the status code and the server's reply.
    let failed_id = after_cancel.iter().find(|r| r["state"] == "error").unwrap()["id"]
        .as_u64()
        .unwrap();
    click_now(
        &app,
        &format!("[data-testid=\"support-row\"][data-id=\"{failed_id}\"] .st-details-btn"),
    )
    .await;
    let details = app
        .wait_text("support-details", |t| t.contains("502"))
        .await;
    assert!(details.contains("HTTP status"), "{details}");
    assert!(app
        .text("support-details-msg")
        .await
        .contains("unexpected reply"));
    app.screenshot("support-08-error-details").await;
    app.client
        .execute(
            "document.querySelector('[data-testid=\"support-details\"] .modal-close').click();",
            vec![],
        )
        .await
        .unwrap();

    // The audit log right after the cancel: one entry per request sent, none for the others.
    app.click("nav-audit").await;
    let logged = 1 + done;
    app.wait_text("audit-total", |t| t.contains(&format!("{logged} entries")))
        .await;
    let audit_path = app.text("audit-path").await;
    // One entry per attempt: its result paired with the attempt written ahead of the request.
    let entries = audit_entries(audit_path.trim());
    assert_eq!(entries.len(), logged);
    assert_eq!(entries.iter().filter(|e| e["result"] == "error").count(), 3);
    app.click("nav-support").await;

    // Retry the failed ones: they go through now.
    http.delete(format!("{}/__emulator/faults", emulator.url()))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .send()
        .await
        .unwrap();
    app.wait_text("support-retry", |t| t.contains('3')).await;
    click_now(&app, "[data-testid=\"support-retry\"]").await;
    let p = wait_progress_done(&app).await;
    assert_eq!((count(&p, "total"), count(&p, "failed")), (3, 0), "{p:?}");
    let after_retry = wait_rows(&app, "retried", |rows| in_state(rows, "error") == 0).await;
    assert_eq!(in_state(&after_retry, "cancelled"), cancelled);
    assert!(app.all("support-retry").await.is_empty());

    // Revoke the rest: the ones the cancel left unsent.
    click_now(&app, "[data-testid=\"support-select-all\"]").await;
    app.wait_text("support-revoke", |t| t.contains(&cancelled.to_string()))
        .await;
    click_now(&app, "[data-testid=\"support-revoke\"]").await;
    app.wait_text("support-confirm-dialog", |t| {
        t.contains(&cancelled.to_string())
    })
    .await;
    app.click("support-confirm").await;
    let p = wait_progress_done(&app).await;
    assert_eq!(count(&p, "total"), cancelled);

    // Every row has its final result, and the server agrees.
    let done_rows = wait_rows(&app, "finished", |rows| {
        rows.iter().all(|r| {
            !["running", "queued", "error", "cancelled"].contains(&r["state"].as_str().unwrap())
        })
    })
    .await;
    for row in &done_rows {
        let p = &pasted[index_of(row)];
        let expected = match (p.kind, p.revoked_before) {
            ("refresh", true) => "already_invalid",
            ("refresh", false) => "revoked",
            ("access", _) => "not_revocable",
            _ => "ready",
        };
        assert_eq!(row["state"], expected, "{row}");
        assert_eq!(row["resultState"], expected);
        match expected {
            "revoked" => assert!(row["result"].as_str().unwrap().contains("Revoked")),
            "already_invalid" => assert!(row["result"].as_str().unwrap().contains("31")),
            _ => {}
        }
    }
    for p in pasted.iter().filter(|p| p.kind == "refresh") {
        assert!(!is_valid(&client, &p.token).await);
    }
    scroll_to(&app, "[data-testid=\"support-row\"][data-kind=\"access\"]").await;
    app.screenshot("support-09-all-revoked").await;

    // The audit log: one entry per request (the three failures were sent twice), searchable.
    app.click("nav-audit").await;
    let attempts = refresh_total + 3;
    let start = Instant::now();
    while app.all("audit-row").await.len() != attempts {
        assert!(
            start.elapsed() < WAIT,
            "the audit log shows {} entries",
            app.all("audit-row").await.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let total = app.text("audit-total").await;
    assert!(total.contains(&attempts.to_string()), "{total}");
    let audit_text = app.text("audit-table").await;
    assert!(audit_text.contains("Already invalid") && audit_text.contains("Revoked"));
    assert!(audit_text.contains("e2e-support"), "the actor is recorded");
    assert!(app.el("audit-export").await.is_enabled().await.unwrap());
    app.screenshot("support-10-audit-log").await;

    // The file: the same entries, each token's attempts in order, never a token.
    let log = std::fs::read_to_string(audit_path.trim()).unwrap();
    for p in &pasted {
        assert!(!log.contains(p.token.as_str()));
        assert!(!log.contains(p.token.rsplit('.').next().unwrap()));
    }
    let entries = audit_entries(audit_path.trim());
    assert_eq!(entries.len(), attempts);
    assert_eq!(
        log.lines().count(),
        2 * attempts,
        "an attempt line and a result line each"
    );
    for p in pasted.iter().filter(|p| p.kind == "refresh") {
        let fp = ::support::fingerprint(&p.token);
        let mine: Vec<&Value> = entries
            .iter()
            .filter(|e| e["fingerprint"] == json!(fp))
            .collect();
        let last = mine.last().expect("every refresh token was attempted");
        let expected = if p.revoked_before {
            "already_invalid"
        } else {
            "revoked"
        };
        assert_eq!(last["result"], expected);
        assert!(mine[..mine.len() - 1]
            .iter()
            .all(|e| e["result"] == "error"));
        assert_eq!(last["userName"], json!(names[&p.uid.unwrap()]));
    }

    let theirs = entries
        .iter()
        .filter(|e| e["userName"] == json!(names[&who]))
        .count();
    app.type_into("audit-search", &names[&who]).await;
    let start = Instant::now();
    while app.all("audit-row").await.len() != theirs {
        assert!(
            start.elapsed() < WAIT,
            "searching {} shows {} rows",
            names[&who],
            app.all("audit-row").await.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The three refused by a 502 page, by their error kind ("502" alone may also be in the
    // server's port, a fingerprint or a time of every entry).
    app.type_into("audit-search", "unexpected_reply").await;
    let start = Instant::now();
    while app.all("audit-row").await.len() != 3 {
        assert!(start.elapsed() < WAIT, "searching unexpected_reply");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.screenshot("support-11-audit-search").await;

    app.quit().await;
    emulator.shutdown().await;
}

/// The audit log as the app reads it (attempts paired with their results), as JSON values.
fn audit_entries(path: &str) -> Vec<Value> {
    let read = ::support::audit::read_entries(std::path::Path::new(path)).expect("the audit log");
    assert_eq!(read.unreadable_lines, 0);
    read.entries
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect()
}
