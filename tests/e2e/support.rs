//! The Support and Audit log views through the real window: paste 50 lines of tokens (garbage
//! lines, tokens revoked before, an access token, a token of another system, owners of several
//! users), see the owners resolved, revoke all, check each row's result and the progress display,
//! then find the attempts in the audit log. Screenshots go to `target/e2e-screenshots/`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use geniusauth::{Client, LoginOptions};
use geniusauth_emulator::{Config, Database, Emulator};
use serde_json::{json, Value};

use crate::harness::{free_port, App, WAIT};

const REFRESH_PATH: &str = "/api/v1/app/token/refresh/";

/// What the test knows about each token it pastes.
struct Pasted {
    token: String,
    kind: &'static str,
    uid: Option<u64>,
    revoked_before: bool,
}

/// Rows as the page shows them.
async fn rows(app: &App) -> Vec<Value> {
    let script = r#"
        return [...document.querySelectorAll('[data-testid="support-row"]')].map((r) => ({
            id: Number(r.dataset.id),
            state: r.dataset.state,
            kind: r.dataset.kind,
            masked: r.querySelector('.st-masked')?.textContent ?? '',
            uid: r.querySelector('[data-testid="support-owner"]')?.dataset.uid ?? null,
            owner: r.querySelector('[data-testid="support-owner-name"]')?.textContent ?? null,
            result: r.querySelector('[data-testid="support-result"]')?.textContent ?? '',
            resultState: r.querySelector('[data-testid="support-result"]')?.dataset.state ?? null,
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

async fn attr(app: &App, testid: &str, name: &str) -> Option<String> {
    app.el(testid).await.attr(name).await.ok().flatten()
}

/// An HS256 JWT of some other system.
fn foreign_jwt() -> String {
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c".into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_staff_paste_fifty_tokens_revoke_them_and_find_them_in_the_audit_log() {
    let emulator = Emulator::start(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: Database::Memory,
        seed: None,
    })
    .await
    .expect("emulator");
    let info = emulator.info().clone();
    let http = reqwest::Client::new();
    let client = Client::new(
        geniusauth::Config::new(info.app_code.clone(), info.app_secret.clone())
            .with_base_url(emulator.url())
            .unwrap(),
    )
    .unwrap();
    let names: HashMap<u64, String> = info.users.iter().map(|u| (u.id, u.name.clone())).collect();
    let owners: Vec<u64> = info.users.iter().take(5).map(|u| u.id).collect();

    // 40 refresh tokens of five users, six of them revoked before; an access token whose refresh
    // token is in the list, one whose is not; a token of another system; and garbage lines.
    let mut pasted: Vec<Pasted> = Vec::new();
    let mut access = Vec::new();
    for i in 0..40 {
        let uid = owners[i % owners.len()];
        let login = emulator.login_token(&info.app_code, uid).unwrap();
        let result = client
            .login_verify(&login, &LoginOptions::default())
            .await
            .unwrap();
        let revoked_before = i % 7 == 3;
        if revoked_before {
            client
                .revoke_refresh_token(&result.refresh_token)
                .await
                .unwrap();
        }
        if i == 10 || i == 20 {
            access.push((result.access_token.clone(), uid, i == 10));
        }
        // Token 20's refresh token is left out: its access token stands alone.
        if i != 20 {
            pasted.push(Pasted {
                token: result.refresh_token,
                kind: "refresh",
                uid: Some(uid),
                revoked_before,
            });
        }
    }
    let extra_uid = owners[0];
    let login = emulator.login_token(&info.app_code, extra_uid).unwrap();
    let extra = client
        .login_verify(&login, &LoginOptions::default())
        .await
        .unwrap();
    pasted.push(Pasted {
        token: extra.refresh_token,
        kind: "refresh",
        uid: Some(extra_uid),
        revoked_before: false,
    });
    for (token, uid, _) in &access {
        pasted.push(Pasted {
            token: token.clone(),
            kind: "access",
            uid: Some(*uid),
            revoked_before: false,
        });
    }
    pasted.push(Pasted {
        token: foreign_jwt(),
        kind: "other",
        uid: None,
        revoked_before: false,
    });
    let refresh_total = pasted.iter().filter(|p| p.kind == "refresh").count();
    let already_total = pasted.iter().filter(|p| p.revoked_before).count();
    assert_eq!(refresh_total, 40);
    assert_eq!(pasted.len(), 43);

    // 50 lines as support staff get them: a CSV header, quotes, Bearer, separators, junk.
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
    assert_eq!(lines.iter().filter(|l| !l.is_empty()).count(), 50);

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
        .wait_text("support-summary", |t| t.contains("43 tokens"))
        .await;
    assert!(summary.contains("1 duplicates merged"), "{summary}");
    assert!(summary.contains("6 lines without a token"), "{summary}");

    // Owners resolved: every row of a user shows that user's name.
    let shown = wait_rows(&app, "resolved", |rows| {
        rows.len() == 43
            && rows.iter().all(|r| {
                r["kind"] == "other"
                    || r["owner"]
                        .as_str()
                        .is_some_and(|o| names.values().any(|n| n == o))
            })
    })
    .await;
    let by_masked: HashMap<String, &Pasted> = pasted
        .iter()
        .map(|p| (::support::mask(&p.token), p))
        .collect();
    for row in &shown {
        let p = by_masked[row["masked"].as_str().unwrap()];
        assert_eq!(row["kind"], p.kind);
        assert_eq!(row["state"], "ready");
        if let Some(uid) = p.uid {
            assert_eq!(row["uid"], json!(uid.to_string()));
            assert_eq!(row["owner"], json!(names[&uid]));
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
    app.screenshot("support-02-owners-resolved").await;

    // Slow the server down a little so the progress display can be watched.
    let fault = http
        .post(format!("{}/__emulator/faults", emulator.url()))
        .json(&json!({"path": REFRESH_PATH, "method": "DELETE", "kind": "latency", "delayMs": 400}))
        .send()
        .await
        .unwrap();
    assert!(
        fault.status().is_success(),
        "{}",
        fault.text().await.unwrap()
    );

    // Select all: the 40 refresh tokens (revoked ones included: only the server knows).
    app.click("support-select-all").await;
    app.wait_text("support-revoke", |t| t.contains("40")).await;
    app.click("support-revoke").await;
    let dialog = app
        .wait_text("support-confirm-dialog", |t| t.contains("40"))
        .await;
    for uid in &owners {
        assert!(
            dialog.contains(&names[uid]),
            "the confirmation names {}: {dialog}",
            names[uid]
        );
    }
    assert!(dialog.contains("5 people"), "{dialog}");
    app.screenshot("support-03-confirm").await;
    app.click("support-confirm").await;

    // Progress while it runs, then the end state.
    let start = Instant::now();
    let mut saw_running = false;
    loop {
        let state = attr(&app, "support-progress", "data-state")
            .await
            .unwrap_or_default();
        let done: usize = attr(&app, "support-progress", "data-done")
            .await
            .and_then(|d| d.parse().ok())
            .unwrap_or(0);
        if state == "running" && done > 0 && !saw_running {
            saw_running = true;
            let count = app.text("support-progress-count").await;
            assert!(count.contains("/ 40"), "{count}");
            app.screenshot("support-04-progress").await;
        }
        if state == "done" {
            break;
        }
        assert!(start.elapsed() < WAIT, "the run did not finish");
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    assert!(saw_running, "the progress display showed the run");
    assert_eq!(
        attr(&app, "support-progress", "data-done").await.as_deref(),
        Some("40")
    );
    let progress = app.text("support-progress").await;
    assert!(
        progress.contains(&format!("{} revoked", refresh_total - already_total)),
        "{progress}"
    );
    assert!(
        progress.contains(&format!("{already_total} already invalid")),
        "{progress}"
    );
    assert!(!progress.contains("failed"), "{progress}");

    // Every row has its result.
    let done = wait_rows(&app, "finished", |rows| {
        rows.iter()
            .all(|r| r["state"] != "running" && r["state"] != "queued")
    })
    .await;
    for row in &done {
        let p = by_masked[row["masked"].as_str().unwrap()];
        let expected = match (p.kind, p.revoked_before) {
            ("refresh", true) => "already_invalid",
            ("refresh", false) => "revoked",
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
        let err = client.refresh_access_token(&p.token).await.unwrap_err();
        assert!(err.is_token_invalid(), "{err}");
    }
    app.screenshot("support-05-revoked").await;

    // Access tokens cannot be revoked alone: the one whose refresh token was in the list says
    // it is covered; the other says why.
    let access_ids: Vec<u64> = done
        .iter()
        .filter(|r| r["kind"] == "access")
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    for id in &access_ids {
        // A script click: the list re-renders as owners' avatars arrive, and WebDriver's own
        // click may land while the row is being put back.
        let css = format!("[data-testid=\"support-row-select\"][data-id=\"{id}\"]");
        let script = "const e = document.querySelector(arguments[0]); e.click(); return e.checked;";
        let checked = app.client.execute(script, vec![json!(css)]).await.unwrap();
        assert_eq!(checked, json!(true));
    }
    app.click("support-revoke").await;
    let after = wait_rows(&app, "not revocable", |rows| {
        rows.iter()
            .filter(|r| r["kind"] == "access")
            .all(|r| r["state"] == "not_revocable")
    })
    .await;
    for row in after.iter().filter(|r| r["kind"] == "access") {
        let text = row["result"].as_str().unwrap();
        assert!(text.contains("Can’t revoke alone"), "{text}");
    }
    assert!(after.iter().any(|r| r["kind"] == "access"
        && r["result"]
            .as_str()
            .unwrap()
            .contains("refresh token is revoked")));
    app.screenshot("support-06-access-tokens").await;

    // The audit log: one entry per attempt, searchable.
    app.click("nav-audit").await;
    let start = Instant::now();
    while app.all("audit-row").await.len() != 40 {
        assert!(
            start.elapsed() < WAIT,
            "the audit log shows {} entries",
            app.all("audit-row").await.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let total = app.text("audit-total").await;
    assert!(total.contains("40"), "{total}");
    let audit_text = app.text("audit-table").await;
    assert!(audit_text.contains("Already invalid") && audit_text.contains("Revoked"));
    assert!(audit_text.contains("e2e-support"), "the actor is recorded");
    assert!(app.el("audit-export").await.is_enabled().await.unwrap());
    app.screenshot("support-07-audit-log").await;

    let who = owners[1];
    let theirs = pasted
        .iter()
        .filter(|p| p.kind == "refresh" && p.uid == Some(who))
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
    app.type_into("audit-search", "already_invalid").await;
    let start = Instant::now();
    while app.all("audit-row").await.len() != already_total {
        assert!(start.elapsed() < WAIT, "searching already_invalid");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.screenshot("support-08-audit-search").await;

    app.quit().await;
    emulator.shutdown().await;
}
