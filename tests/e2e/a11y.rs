//! Accessibility, checked by a machine: axe-core (installed by scripts/install-deps.sh into
//! tests/e2e/vendor/, never shipped) runs in the real window on every screen, setup, signed out,
//! signed in, editing the payload, the profile list, About, offline, Support with rows (before
//! and after a revocation run), the audit log, expired, in the light and the dark theme, with the
//! WCAG 2.1 A and AA rules; any violation fails the test with its rule, element and summary. The
//! one live region is checked too: it says what changed (signed in, offline, a finished
//! revocation run, expired) and is the same node across every render.

use std::time::{Duration, Instant};

use geniusauth::{Client, LoginOptions};
use serde_json::{json, Value};

use crate::harness::{free_port, App, WAIT};
use crate::{set_up_profile, Server};

/// axe-core's browser build, as scripts/install-deps.sh installs it.
const AXE_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/e2e/vendor/node_modules/axe-core/axe.min.js"
);

/// Runs axe on the page as it is; the violations as "rule (impact): help" with each element's
/// selector and axe's summary of what to fix.
async fn axe_violations(app: &App) -> Vec<String> {
    let loaded = "return typeof window.axe === 'object' && typeof window.axe.run === 'function';";
    if app.client.execute(loaded, vec![]).await.unwrap() != json!(true) {
        let source = std::fs::read_to_string(AXE_PATH).unwrap_or_else(|e| {
            panic!("{AXE_PATH}: {e}; scripts/install-deps.sh installs axe-core there")
        });
        // axe's bundle sets window.axe itself when it finds a window.
        app.client
            .execute(&format!("{source}\n;return true;"), vec![])
            .await
            .expect("axe-core loads in the window");
        assert_eq!(
            app.client.execute(loaded, vec![]).await.unwrap(),
            json!(true),
            "axe-core did not define window.axe"
        );
    }
    // What is checked is the page at rest: finish the dialogs' and toasts' entry animations
    // (not the spinners, which never end), so that colours are not read halfway through a fade.
    let settle = "document.getAnimations().forEach((a) => { \
                      if (a.effect && a.effect.getComputedTiming().endTime !== Infinity) a.finish(); }); \
                  return true;";
    app.client.execute(settle, vec![]).await.unwrap();
    let run = r#"
        const done = arguments[arguments.length - 1];
        axe.run(document, {
            runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
            resultTypes: ['violations'],
        }).then(
            (r) => done(r.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
            }))),
            (e) => done({ error: String(e) }),
        );"#;
    let result = app
        .client
        .execute_async(run, vec![])
        .await
        .expect("axe.run");
    if let Some(error) = result.get("error") {
        panic!("axe.run failed: {error}");
    }
    let mut found = Vec::new();
    for v in result.as_array().expect("a list of violations") {
        let mut text = format!(
            "{} ({}): {}",
            v["id"].as_str().unwrap_or("?"),
            v["impact"].as_str().unwrap_or("?"),
            v["help"].as_str().unwrap_or("")
        );
        for n in v["nodes"].as_array().into_iter().flatten() {
            let summary = n["summary"].as_str().unwrap_or("").replace('\n', " ");
            text.push_str(&format!(
                "\n      {} — {summary}",
                n["target"].as_str().unwrap_or("?")
            ));
        }
        found.push(text);
    }
    found
}

/// Switches the theme through the app's preferences (the app bar's buttons) and waits for it.
async fn set_theme(app: &App, theme: &str) {
    app.click(&format!("theme-{theme}")).await;
    let applied = format!(
        "return document.documentElement.dataset.theme === '{theme}' && \
         document.querySelector('[data-testid=\"theme-{theme}\"]').getAttribute('aria-pressed') === 'true';"
    );
    wait_until(app, &format!("the {theme} theme"), &applied).await;
}

/// Every violation found so far, by screen and theme.
#[derive(Default)]
struct Report(Vec<String>);

impl Report {
    /// Checks the page in its current theme.
    async fn check(&mut self, app: &App, screen: &str, theme: &str) {
        // A page with nothing laid out in its view would pass every rule: the view must show text.
        let shown = "const m = document.getElementById('main'); \
                     return !!m && m.innerText.trim().length > 20 && m.getClientRects().length > 0;";
        wait_until(
            app,
            &format!("the {screen} view to show its content"),
            shown,
        )
        .await;
        let found = axe_violations(app).await;
        eprintln!("a11y: {screen} ({theme}): {} violations", found.len());
        if !found.is_empty() {
            app.screenshot(&format!("a11y-failed-{screen}-{theme}"))
                .await;
        }
        for v in found {
            self.0.push(format!("{screen}, {theme} theme: {v}"));
        }
    }

    /// Checks the page in the light theme, then in the dark one (left on dark), with a
    /// screenshot of each.
    async fn check_both(&mut self, app: &App, screen: &str) {
        for theme in ["light", "dark"] {
            set_theme(app, theme).await;
            self.check(app, screen, theme).await;
            app.screenshot(&format!("a11y-{screen}-{theme}")).await;
        }
    }
}

async fn wait_until(app: &App, what: &str, script: &str) {
    let start = Instant::now();
    while app.client.execute(script, vec![]).await.unwrap() != Value::Bool(true) {
        assert!(start.elapsed() < WAIT, "{what} never happened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the live region says something containing `words`; returns what it says.
async fn wait_announced(app: &App, words: &str) -> String {
    let read = "return document.querySelector('[data-testid=\"announcer\"]')?.textContent ?? null;";
    let start = Instant::now();
    loop {
        let said = app.client.execute(read, vec![]).await.unwrap();
        let said = said.as_str().unwrap_or_default().to_owned();
        if said.contains(words) {
            return said;
        }
        assert!(
            start.elapsed() < WAIT,
            "the live region never said {words:?}; it says {said:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The live region is the node marked at the start: one of it, polite, never re-created.
async fn assert_same_live_region(app: &App) {
    let script = r#"
        const all = document.querySelectorAll('[data-testid="announcer"]');
        const [a] = all;
        return { count: all.length, mark: a?.__a11yMark ?? null, live: a?.getAttribute('aria-live') ?? null,
                 hidden: !!a && a.getBoundingClientRect().width <= 1 && a.getBoundingClientRect().height <= 1 };"#;
    let found = app.client.execute(script, vec![]).await.unwrap();
    assert_eq!(
        found,
        json!({"count": 1, "mark": "first", "live": "polite", "hidden": true}),
        "the live region is one node, kept across renders, polite and visually hidden"
    );
}

/// The element ids in `attr` of the element at `css` all exist and have text.
async fn referenced_text(app: &App, css: &str, attr: &str) -> String {
    let script = "const e = document.querySelector(arguments[0]); \
                  const ids = (e?.getAttribute(arguments[1]) ?? '').split(/\\s+/).filter(Boolean); \
                  const texts = ids.map((id) => document.getElementById(id)?.textContent?.trim() ?? ''); \
                  return ids.length && texts.every(Boolean) ? texts.join(' | ') : null;";
    let text = app
        .client
        .execute(script, vec![json!(css), json!(attr)])
        .await
        .unwrap();
    text.as_str()
        .unwrap_or_else(|| panic!("{css}: {attr} names no element with text"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_screen_passes_the_wcag_rules_of_axe_in_both_themes() {
    let server = Server::start().await;
    let info = server.emulator.info().clone();
    let users = info.users.clone();
    let callback = format!("http://127.0.0.1:{}/callback", free_port());
    let mut report = Report::default();

    let app = App::launch(&[], &[("LANG", "en_US.UTF-8")]).await;

    // The live region: there from the start, outside everything that is re-rendered.
    // Marked as soon as the shell has mounted it (the window may still be loading the page).
    let mark = "const e = document.querySelector('[data-testid=\"announcer\"]'); \
        if (!e) return false; e.__a11yMark = 'first'; return true;";
    let started = std::time::Instant::now();
    while !app
        .client
        .execute(mark, vec![])
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the live region never appeared"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // The forced-colours focus ring is in the stylesheet the window uses: a system colour.
    let forced = r#"
        const rules = [];
        const walk = (list, forced) => { for (const r of list) {
            if (r instanceof CSSMediaRule) walk(r.cssRules, forced || r.conditionText.includes('forced-colors: active'));
            else if (forced && r.selectorText) rules.push(r);
        } };
        for (const sheet of document.styleSheets) walk(sheet.cssRules, false);
        return rules.some((r) => r.selectorText.split(',').some((s) => s.trim() === ':focus-visible')
            && r.style.outlineStyle === 'solid' && /^(Highlight|CanvasText)$/i.test(r.style.outlineColor));"#;
    assert_eq!(
        app.client.execute(forced, vec![]).await.unwrap(),
        json!(true),
        "a forced-colors focus ring (outline in Highlight or CanvasText)"
    );

    // Setup, then signed out.
    app.el("setup").await;
    report.check_both(&app, "setup").await;
    set_up_profile(&app, &server, &info.app_code, &info.app_secret, &callback).await;
    report.check_both(&app, "signed-out").await;

    // Signed in: the live region says so.
    let token = server
        .emulator
        .login_token(&info.app_code, users[0].id)
        .unwrap();
    app.type_into("signin-paste-input", &token).await;
    app.click("signin-paste-submit").await;
    app.wait_state("signed-in").await;
    app.wait_text("user-name", |t| t.trim() == users[0].name)
        .await;
    let said = wait_announced(&app, "Signed in").await;
    assert!(said.contains(&users[0].name), "{said}");
    assert_same_live_region(&app).await;
    report.check_both(&app, "signed-in").await;

    // The profile list: a disclosure (its button says expanded and what it controls).
    app.click("profile-switcher").await;
    app.el("btn-add-profile").await;
    let trigger = r#"
        const b = document.querySelector('[data-testid="profile-switcher"]');
        return { haspopup: b.getAttribute('aria-haspopup'), expanded: b.getAttribute('aria-expanded'),
                 controls: !!document.getElementById(b.getAttribute('aria-controls')) };"#;
    assert_eq!(
        app.client.execute(trigger, vec![]).await.unwrap(),
        json!({"haspopup": null, "expanded": "true", "controls": true})
    );
    report.check(&app, "profile-list", "dark").await;
    app.click("profile-switcher").await;
    wait_until(
        &app,
        "the profile list to close",
        "return !document.getElementById('profile-menu');",
    )
    .await;

    // Editing the payload, with a value over the limit (the error shows).
    app.click("btn-edit-payload").await;
    app.type_into("payload-input", &"载荷".repeat(17)).await;
    app.wait_text("payload-counter", |t| t.contains("34")).await;
    report.check_both(&app, "editing-payload").await;
    app.click("btn-cancel-payload").await;

    // A confirmation dialog is described by its explanation.
    app.click("btn-revoke").await;
    app.el("dialog-revoke").await;
    let described =
        referenced_text(&app, "[data-testid=\"dialog-revoke\"]", "aria-describedby").await;
    assert!(described.contains("revoked"), "{described}");
    report.check(&app, "revoke-dialog", "dark").await;
    app.click("btn-dialog-cancel").await;

    // About: a modal (the theme buttons are behind it), so once per theme.
    for theme in ["light", "dark"] {
        set_theme(&app, theme).await;
        app.click("btn-about").await;
        app.el("about-version").await;
        report.check(&app, "about", theme).await;
        app.screenshot(&format!("a11y-about-{theme}")).await;
        app.click("btn-about-close").await;
        wait_until(
            &app,
            "About to close",
            "return !document.querySelector('[data-testid=\"dialog-about\"]');",
        )
        .await;
    }

    // Offline: every refresh dropped; the live region says so.
    server
        .admin(
            "/__emulator/faults",
            json!({"path": "/api/v1/app/token/refresh/", "kind": "drop"}),
        )
        .await;
    app.click("btn-refresh").await;
    app.wait_state("offline").await;
    app.el("offline-banner").await;
    wait_announced(&app, "Offline").await;
    report.check_both(&app, "offline").await;
    server.clear_faults().await;
    app.click("btn-refresh").await;
    app.wait_state("signed-in").await;
    wait_announced(&app, "Back online").await;

    // Support with rows: refresh tokens of three users and a line without one.
    let client = Client::new(
        geniusauth::Config::new(info.app_code.clone(), info.app_secret.clone())
            .with_base_url(server.emulator.url())
            .unwrap(),
    )
    .unwrap();
    let mut lines = vec!["tokens from the service desk:".to_owned()];
    for user in users.iter().take(3) {
        let login = server
            .emulator
            .login_token(&info.app_code, user.id)
            .unwrap();
        let result = client
            .login_verify(&login, &LoginOptions::default())
            .await
            .unwrap();
        lines.push(result.refresh_token);
    }
    app.click("nav-support").await;
    let input = app.el("support-input").await;
    app.client
        .execute(
            "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
            vec![serde_json::to_value(&input).unwrap(), json!(lines.join("\n"))],
        )
        .await
        .unwrap();
    app.click("support-parse").await;
    app.wait_text("support-summary", |t| t.contains("3 tokens"))
        .await;
    let resolved = "const owners = [...document.querySelectorAll('[data-testid=\"support-owner-name\"]')]; \
                    return owners.length === 3 && owners.every((o) => o.textContent.trim().length > 0);";
    wait_until(&app, "the owners to be resolved", resolved).await;
    report.check_both(&app, "support-rows").await;

    // Revoke them: the confirmation is described, and the end of the run is announced.
    let click = "const e = document.querySelector(arguments[0]); if (!e || e.disabled) return false; e.click(); return true;";
    let select_all = json!("[data-testid=\"support-select-all\"]");
    assert_eq!(
        app.client.execute(click, vec![select_all]).await.unwrap(),
        json!(true)
    );
    app.wait_text("support-revoke", |t| t.contains('3')).await;
    app.click("support-revoke").await;
    app.el("support-confirm").await;
    let described = referenced_text(
        &app,
        "[data-testid=\"support-confirm-dialog\"]",
        "aria-describedby",
    )
    .await;
    assert!(described.contains('3'), "{described}");
    report.check(&app, "support-confirm", "dark").await;
    app.click("support-confirm").await;
    let said = wait_announced(&app, "Revocation finished").await;
    assert!(
        said.contains("3 revoked") && said.contains("0 failed"),
        "{said}"
    );
    wait_until(
        &app,
        "the run to finish",
        "return document.querySelector('[data-testid=\"support-progress\"]')?.dataset.state === 'done';",
    )
    .await;
    report.check_both(&app, "support-revoked").await;

    // The audit log, with the three entries.
    app.click("nav-audit").await;
    let three = "return document.querySelectorAll('[data-testid=\"audit-row\"]').length === 3;";
    wait_until(&app, "three audit entries", three).await;
    report.check_both(&app, "audit").await;

    // Expired: every token of the user revoked elsewhere; the next refresh finds out.
    app.click("nav-account").await;
    server
        .admin(
            &format!("/__emulator/users/{}/revoke-all", users[0].id),
            json!({}),
        )
        .await;
    app.click("btn-refresh").await;
    app.wait_state("expired").await;
    app.el("expired-panel").await;
    wait_announced(&app, "Session expired").await;
    report.check_both(&app, "expired").await;

    // Through all of that, the same live region.
    assert_same_live_region(&app).await;

    app.quit().await;
    tokio::time::timeout(Duration::from_secs(10), server.emulator.shutdown())
        .await
        .expect("the emulator shuts down");
    assert!(
        report.0.is_empty(),
        "axe found {} WCAG 2.1 A/AA violations:\n{}",
        report.0.len(),
        report.0.join("\n")
    );
}
