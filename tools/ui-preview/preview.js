// Drives the previewed UI into states that need interaction (?ui=...), for screenshots.
(function () {
  'use strict';
  const ui = new URLSearchParams(location.search).get('ui');
  if (!ui) return;
  const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
  const wait = (id) => new Promise((resolve) => {
    const tick = () => { const el = $(id); if (el && !el.disabled) resolve(el); else setTimeout(tick, 50); };
    tick();
  });
  const type = (el, text) => { el.value = text; el.dispatchEvent(new Event('input', { bubbles: true })); };
  const later = (ms) => new Promise((r) => setTimeout(r, ms));

  const steps = {
    'edit-payload': async () => { (await wait('btn-edit-payload')).click(); type(await wait('payload-input'), '桌面客户端'); },
    'edit-payload-over': async () => { (await wait('btn-edit-payload')).click(); type(await wait('payload-input'), 'this payload is far too long for the server'); },
    'edit-payload-empty': async () => { (await wait('btn-edit-payload')).click(); type(await wait('payload-input'), ''); },
    revoke: async () => { (await wait('btn-revoke')).click(); },
    forget: async () => { (await wait('btn-forget')).click(); },
    'profile-menu': async () => { (await wait('profile-switcher')).click(); },
    'profile-edit': async () => { (await wait('profile-switcher')).click(); (await wait('btn-edit-profile')).click(); },
    'profile-add': async () => { (await wait('profile-switcher')).click(); (await wait('btn-add-profile')).click(); },
    'delete-profile': async () => { (await wait('profile-switcher')).click(); (await wait('btn-delete-profile')).click(); },
    'setup-errors': async () => {
      type(await wait('profile-appcode'), 'abc');
      type(await wait('profile-callback'), 'http://example.com/cb');
      (await wait('btn-save-profile')).click();
    },
    'setup-custom': async () => { (await wait('preset-custom')).click(); },
    copy: async () => {
      const b = await wait('btn-copy-access'); await later(2600); b.click();
    },
    paste: async () => { type(await wait('signin-paste-input'), 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOjF9.c2ln'); type(await wait('signin-payload-input'), 'desk'); },
    'browser': async () => { (await wait('signin-browser')).click(); },
    'refresh-busy': async () => { (await wait('btn-refresh')).click(); },
    'revoke-fail': async () => { window.__mock.fail('revoke_session', 'network'); (await wait('btn-revoke')).click(); (await wait('btn-confirm-revoke')).click(); },
    demo: async () => { (await wait('btn-demo')).click(); },
    'demo-signin': async () => { (await wait('demo-signin')).click(); await later(100); },
    support: async () => { (await wait('nav-support')).click(); },
    'support-paste': async () => {
      (await wait('nav-support')).click();
      const sample = 'token,owner\n"eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJ0eXBlIjoiUmVmcmVzaCIsInVpZCI6MjAyMzEwMDEsImlkIjo0MiwiYXBwQ29kZSI6IkFiM2RFNmc4In0.c2lnbmF0dXJlLW9mLXRoZS1zZXJ2ZXI",林晓雨\nBearer eyJhbGciOi…';
      type(await wait('support-input'), sample);
    },
    'support-confirm': async () => {
      (await wait('nav-support')).click();
      (await wait('support-select-all')).click();
      (await wait('support-revoke')).click();
    },
    'support-details': async () => {
      (await wait('nav-support')).click();
      await later(100);
      document.querySelectorAll('[data-testid="support-row"]')[3]?.querySelector('.st-owner')?.click();
    },
    'support-filter': async () => {
      (await wait('nav-support')).click();
      const sel = await wait('support-filter-state');
      sel.value = 'revoked';
      sel.dispatchEvent(new Event('change', { bubbles: true }));
    },
    'support-scrolled': async () => {
      (await wait('nav-support')).click();
      await later(200);
      document.getElementById('main').scrollTop = 52 * 5000;
    },
    audit: async () => { (await wait('nav-audit')).click(); },
  };
  window.addEventListener('load', () => { steps[ui]?.().catch((e) => console.error('preview step failed', e)); });
})();
