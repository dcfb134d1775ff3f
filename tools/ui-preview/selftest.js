// Behaviour checks against the mock, run inside the page: preview.html?state=signed-out&demo=1&selftest=1
// shot.sh --test loads it with `chromium --dump-dom` and prints the <pre id="selftest"> report.
(function () {
  'use strict';
  if (!new URLSearchParams(location.search).has('selftest')) return;
  const $ = (sel) => document.querySelector(sel);
  const tid = (id, extra = '') => $(`[data-testid="${id}"]${extra}`);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const results = [];
  const check = (name, ok, detail = '') => results.push(`${ok ? 'PASS' : 'FAIL'} ${name}${ok ? '' : ` — ${detail}`}`);
  async function until(fn, ms = 3000) {
    const end = Date.now() + ms;
    while (Date.now() < end) { const v = fn(); if (v) return v; await sleep(25); }
    return null;
  }
  const type = (el, text) => { el.value = text; el.dispatchEvent(new Event('input', { bubbles: true })); };
  const key = (el, k, opts = {}) => el.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true, ...opts }));
  const state = () => tid('session-state')?.textContent;

  async function run() {
    await until(() => tid('session-state'));
    await until(() => state());
    check('starts signed out', state() === 'signed-out', state());
    check('html lang follows locale', document.documentElement.lang === 'zh-CN', document.documentElement.lang);
    check('demo badge shown', Boolean(tid('demo-badge')));
    const demoButtons = document.querySelectorAll('[data-testid="demo-signin"]');
    check('4 demo users', demoButtons.length === 4, String(demoButtons.length));

    // sign-in payload counter
    const sp = tid('signin-payload-input');
    type(sp, 'x'.repeat(33));
    check('sign-in payload over 32 disables sign-in', tid('signin-browser').disabled && tid('demo-signin').disabled, '');
    check('sign-in counter 33/32', tid('signin-payload-counter').textContent === '33/32', tid('signin-payload-counter').textContent);
    type(sp, '');
    check('paste submit disabled when empty', tid('signin-paste-submit').disabled);
    type(tid('signin-paste-input'), 'abc');
    check('paste submit enabled with token', !tid('signin-paste-submit').disabled);
    type(tid('signin-paste-input'), '');

    tid('demo-signin', '[data-uid="2"]').click();
    await until(() => state() === 'signed-in');
    check('demo sign-in → signed-in', state() === 'signed-in', state());
    check('user name', tid('user-name')?.textContent === '李娜', tid('user-name')?.textContent);
    check('user id', tid('user-id')?.textContent === '2', tid('user-id')?.textContent);
    check('groups chips', tid('user-groups')?.querySelectorAll('.chip').length === 1);
    check('initials avatar', tid('user-avatar')?.dataset.kind === 'initials');
    check('expiry dates', Boolean(tid('refresh-expires')?.dataset.ms && tid('access-expires')?.dataset.ms));
    const c1 = tid('access-countdown').textContent;
    const t1 = Date.now();
    await sleep(2100);
    check('countdown ticks', tid('access-countdown').textContent !== c1, `${c1} → ${tid('access-countdown').textContent} after ${Date.now() - t1} ms`);

    // payload editor
    tid('btn-edit-payload').click();
    const input = await until(() => tid('payload-input'));
    check('editor opens with focus', document.activeElement === input);
    type(input, '😀'.repeat(32));
    check('counts code points (32 emoji = 32/32)', tid('payload-counter').textContent === '32/32' && !tid('btn-save-payload').disabled, tid('payload-counter').textContent);
    type(input, 'a'.repeat(33));
    check('over 32 disables save + message', tid('btn-save-payload').disabled && !$('#payload-input-error').hidden);
    type(input, '');
    check('empty disables save + message', tid('btn-save-payload').disabled && !$('#payload-input-error').hidden);
    key(input, 'Escape');
    await until(() => !tid('payload-input'));
    check('Esc cancels editor', !tid('payload-input'));
    check('focus back on Edit payload', document.activeElement === tid('btn-edit-payload'), document.activeElement?.outerHTML.slice(0, 60));
    tid('btn-edit-payload').click();
    const input2 = await until(() => tid('payload-input'));
    type(input2, '办公室');
    key(input2, 'Enter');
    await until(() => tid('payload-value')?.textContent === '办公室');
    check('Enter saves payload', tid('payload-value')?.textContent === '办公室', tid('payload-value')?.textContent);

    // busy
    tid('btn-refresh').click();
    await until(() => tid('btn-refresh')?.disabled);
    check('busy refresh disables + spinner', tid('btn-refresh').disabled && Boolean(tid('btn-refresh').querySelector('.spinner')));
    await until(() => !tid('btn-refresh').disabled);
    check('refresh done re-enables', !tid('btn-refresh').disabled);

    // copy
    // Rust writes the clipboard: the web view neither receives the token nor writes it.
    Object.defineProperty(navigator, 'clipboard', { configurable: true, value: { writeText: async (t) => { window.__copied = t; }, write: async () => { window.__copied = 'item'; } } });
    tid('btn-copy-access').click();
    const copiedToast = () => [...document.querySelectorAll('[data-testid="toast"]')].find((el) => /60/.test(el.textContent));
    await until(copiedToast);
    check('copy → Rust clipboard + toast with the 60 s', Boolean(window.__mock.rustClipboard) && !window.__copied && Boolean(copiedToast()),
      `${window.__copied} / ${tid('toasts')?.textContent}`);

    // revoke dialog: focus trap + Esc
    tid('btn-revoke').focus();
    tid('btn-revoke').click();
    const dlg = await until(() => tid('dialog-revoke'));
    check('revoke dialog is modal', dlg?.open && dlg.matches(':modal'));
    check('Cancel focused first', document.activeElement === tid('btn-dialog-cancel'));
    tid('btn-confirm-revoke').focus();
    key(document.activeElement, 'Tab');
    check('Tab wraps to first', dlg.contains(document.activeElement) && document.activeElement !== tid('btn-confirm-revoke'), document.activeElement?.className);
    key(document.activeElement, 'Tab', { shiftKey: true });
    check('Shift+Tab wraps to last', document.activeElement === tid('btn-confirm-revoke'));
    key(document.activeElement, 'Escape');
    check('Esc closes dialog', !tid('dialog-revoke'));
    check('focus returns to opener', document.activeElement === tid('btn-revoke'));

    // error banner
    window.__mock.fail('verify_access', 'server');
    tid('btn-verify').click();
    await until(() => tid('error-banner'));
    // Not a live region itself (it is rebuilt on every render): the shell's one live region says it.
    check('error banner is not a live region', !tid('error-banner')?.getAttribute('role'));
    check('the live region announces the error', Boolean(await until(() => /应用不存在|出错/.test(tid('announcer')?.textContent ?? ''))));
    check('server code + message shown', /4/.test(tid('error-server')?.textContent ?? '') && /应用不存在/.test(tid('error-server')?.textContent ?? ''));
    tid('btn-dismiss-error').click();
    await until(() => !tid('error-banner'));
    check('dismiss clears error', !tid('error-banner'));
    window.__mock.unfail('verify_access');

    // forget
    tid('btn-forget').click();
    (await until(() => tid('btn-confirm-forget'))).click();
    await until(() => state() === 'signed-out');
    check('forget → signed-out', state() === 'signed-out');

    // language
    const sel = tid('lang-switch');
    sel.value = 'en';
    sel.dispatchEvent(new Event('change', { bubbles: true }));
    await until(() => document.documentElement.lang === 'en');
    check('language switch → en', document.documentElement.lang === 'en' && tid('signin-browser')?.textContent.includes('Sign in'));
    tid('theme-dark').click();
    await until(() => document.documentElement.dataset.theme === 'dark');
    check('theme dark → data-theme', document.documentElement.dataset.theme === 'dark');
    tid('theme-system').click();
    await until(() => !document.documentElement.dataset.theme);
    check('theme system → no data-theme', !document.documentElement.dataset.theme);

    // browser sign-in pending + cancel
    tid('signin-browser').click();
    await until(() => tid('signin-pending'));
    check('pending shows URL + countdown', Boolean(tid('signin-url')?.value.startsWith('http')) && Boolean(tid('signin-countdown')));
    tid('btn-cancel-signin').click();
    await until(() => !tid('signin-pending'));
    check('cancel sign-in', !tid('signin-pending'));

    // paste sign-in
    type(tid('signin-paste-input'), 'eyJ.token.sig');
    tid('signin-paste-submit').click();
    await until(() => state() === 'signed-in');
    check('paste sign-in → signed-in', state() === 'signed-in');

    // Support view: paste, owners, select all, confirm, progress, results, audit log
    tid('nav-support').click();
    await until(() => tid('support-input'));
    check('support view opens', tid('nav-support').getAttribute('aria-current') === 'page' && Boolean(tid('support-empty')));
    const make = (claims) => `eyJhbGciOiJFZERTQSJ9.${btoa(JSON.stringify(claims)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')}.c2lnbmF0dXJlLW9mLXRoZS1zZXJ2ZXI${Math.random().toString(36).slice(2, 8)}`;
    const now = Math.floor(Date.now() / 1000);
    const sample = [1, 2, 3, 4, 5, 6].map((i) => make({ type: 'Refresh', uid: [20231001, 20230417, 20220932][i % 3], id: 500 + i, appCode: 'Ab3dE6g8', iat: now, exp: now + 86400 }));
    const acc = make({ type: 'Access', uid: 20231001, id: 501, appCode: 'Ab3dE6g8', iat: now, exp: now + 300 });
    type(tid('support-input'), `token,who\n"${sample.join('",\n"')}"\nBearer ${acc}\njunk line\n${sample[0]}`);
    tid('support-parse').click();
    await until(() => document.querySelectorAll('[data-testid="support-row"]').length === 7);
    check('7 rows from a messy paste', document.querySelectorAll('[data-testid="support-row"]').length === 7);
    check('summary counts duplicates and junk', /1/.test(tid('support-summary')?.textContent ?? '') && /2/.test(tid('support-summary')?.textContent ?? ''), tid('support-summary')?.textContent);
    check('input cleared after parse', tid('support-input').value === '');
    await until(() => [...document.querySelectorAll('[data-testid="support-owner-name"]')].every((e) => e.textContent !== '正在查询…' && e.textContent !== 'Looking up…'));
    check('owners resolved', [...document.querySelectorAll('[data-testid="support-owner-name"]')].some((e) => e.textContent === '林晓雨'));
    check('no full token in the page', !document.body.innerText.includes(sample[0].split('.')[2]));
    tid('support-select-all').click();
    await until(() => /6/.test(tid('support-revoke').textContent) && !tid('support-revoke').disabled);
    check('select all takes the 6 refresh tokens', /6/.test(tid('support-revoke').textContent), tid('support-revoke').textContent);
    tid('support-revoke').click();
    const confirmBtn = await until(() => tid('support-confirm'));
    check('confirmation names the owners', /林晓雨/.test(tid('support-confirm-dialog')?.textContent ?? '') && /6/.test(tid('support-confirm-dialog')?.textContent ?? ''));
    confirmBtn.click();
    await until(() => tid('support-progress')?.dataset.state === 'running');
    check('progress shows the run', tid('support-progress')?.dataset.total === '6');
    await until(() => tid('support-progress')?.dataset.state === 'done', 8000);
    const results = [...document.querySelectorAll('[data-testid="support-result"]')].map((e) => e.dataset.state);
    check('every refresh row has a result', results.filter((x) => ['revoked', 'already_invalid', 'error'].includes(x)).length === 6, results.join(','));
    check('access row untouched', results.filter((x) => x === 'ready').length === 1, results.join(','));
    tid('nav-audit').click();
    await until(() => document.querySelectorAll('[data-testid="audit-row"]').length > 6);
    check('audit log lists the attempts', document.querySelectorAll('[data-testid="audit-row"]').length >= 20, String(document.querySelectorAll('[data-testid="audit-row"]').length));
    type(tid('audit-search'), '林晓雨');
    await until(() => [...document.querySelectorAll('[data-testid="audit-row"]')].every((r) => r.textContent.includes('林晓雨')));
    check('audit search filters', [...document.querySelectorAll('[data-testid="audit-row"]')].every((r) => r.textContent.includes('林晓雨')));
    check('export enabled', !tid('audit-export').disabled);
    tid('nav-account').click();
    await until(() => tid('user-name'));
    check('back to the account view', Boolean(tid('user-name')));

    // no inline styles anywhere
    check('no style attributes', document.querySelectorAll('[style]').length === 0, String(document.querySelectorAll('[style]').length));
    const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
    check('ids unique', new Set(ids).size === ids.length, ids.filter((x, i) => ids.indexOf(x) !== i).join(','));
  }

  window.addEventListener('load', () => {
    run().catch((e) => check('exception', false, String(e?.stack ?? e))).finally(() => {
      const pre = document.createElement('pre');
      pre.id = 'selftest';
      pre.textContent = results.join('\n');
      document.body.append(pre);
    });
  });
})();
