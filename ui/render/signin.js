// Signed out: browser sign-in (with the pending state), paste a token, demo users, options.
// Also the "session expired or revoked" panel.

import { h } from '../dom.js';
import { t } from '../i18n.js';
import { run, setUi, store, isBusy } from '../store.js';
import { copyText } from '../clipboard.js';
import { toast } from '../toast.js';
import { avatar, spinner, badge, button, countdown, cpLength, field, hostOf, icon, PAYLOAD_MAX, payloadCounter, updateCounter, setFieldError } from './widgets.js';

const LIFETIMES = [7, 14, 21, 30];

function payloadArg() {
  const p = store.ui.signinPayload;
  return p ? { payload: p } : {};
}
const payloadOk = () => cpLength(store.ui.signinPayload) <= PAYLOAD_MAX;

/** Whether a sign-in button of this kind can be pressed right now (busy is handled by button()). */
function signinDisabled(kind) {
  const pending = Boolean(store.snap?.signIn);
  if (!payloadOk()) return true;
  if (kind === 'paste') return pending || !store.ui.pasteToken.trim();
  if (kind === 'demo') return pending || isBusy('signin');
  if (kind === 'again') return pending;
  return false;
}

/** Re-evaluate the sign-in buttons in place while the user types (no re-render). */
function refreshSigninButtons() {
  for (const b of document.querySelectorAll('[data-signin-kind]')) {
    if (!b.classList.contains('is-busy')) b.disabled = signinDisabled(b.dataset.signinKind);
  }
}

export function signInBrowser() {
  return run('sign_in_browser', payloadArg());
}

async function signInPaste() {
  const token = store.ui.pasteToken.trim();
  if (!token || !payloadOk()) return;
  const res = await run('sign_in_paste', { token, ...payloadArg() });
  if (res.ok) setUi({ pasteToken: '' });
}

export function renderSignedOut(snap, profile) {
  const pending = snap.signIn;
  const busy = isBusy('signin');
  const cards = [];
  if (snap.demo && snap.demoUsers?.length) cards.push(demoCard(snap));
  cards.push(h('div', { class: 'signin-grid' }, methodsCard(snap, profile, pending, busy), optionsCard(snap)));
  return cards;
}

export function renderExpired(snap) {
  const user = snap.session?.user;
  return h('section', { class: 'panel panel-expired', testid: 'expired-panel', 'aria-labelledby': 'expired-title' },
    h('span', { class: 'panel-icon' }, icon('ban')),
    h('div', { class: 'panel-body' },
      h('h2', { id: 'expired-title', class: 'panel-title', text: t('expired.title') }),
      h('p', { text: user?.name ? t('expired.bodyNamed', { name: user.name }) : t('expired.body') })),
    button({ label: t('expired.signIn'), icon: 'external', variant: 'primary', busy: 'signin', testid: 'btn-signin-again',
      disabled: signinDisabled('again'), extra: { 'data-signin-kind': 'again' }, onClick: signInBrowser }));
}

function methodsCard(snap, profile, pending, busy) {
  return h('section', { class: 'card signin-card', 'aria-labelledby': 'signin-title' },
    h('header', { class: 'card-head' },
      h('span', { class: 'card-head-icon' }, icon('key')),
      h('div', {},
        h('h2', { id: 'signin-title', class: 'card-title', text: t('signin.title', { name: profile?.name ?? '' }) }),
        h('p', { class: 'card-sub', text: hostOf(profile?.server) }))),
    pending ? pendingBlock(pending) : h('div', { class: 'signin-browser' },
      // When expired, the panel above holds the primary "Sign in again"; keep one primary action.
      button({ label: t('signin.browser'), icon: 'external', variant: snap.session?.state === 'expired' ? 'secondary' : 'primary', size: 'lg', busy: 'signin', testid: 'signin-browser',
        disabled: signinDisabled('browser'), extra: { 'data-signin-kind': 'browser' }, onClick: signInBrowser }),
      h('p', { class: 'muted small', text: t('signin.browserHint') })),
    h('div', { class: 'divider', role: 'separator' }, h('span', { text: t('common.or') })),
    pasteForm(pending, busy));
}

function pendingBlock(pending) {
  const urlInput = h('input', { class: 'input mono', readOnly: true, value: pending.url ?? '', testid: 'signin-url', key: 'signin-url',
    'aria-label': t('signin.pendingUrl'), onFocus: (e) => e.target.select() });
  return h('div', { class: 'pending', testid: 'signin-pending' },
    h('div', { class: 'pending-head' },
      h('span', { class: 'spinner spinner-accent', 'aria-hidden': 'true' }),
      h('span', { class: 'pending-title', testid: 'signin-pending-title',
        text: pending.appName ? t('signin.pendingTitleApp', { name: pending.appName }) : t('signin.pendingTitle') }),
      pending.expiresAt ? h('span', { class: 'pending-timer' }, icon('clock'),
        countdown(pending.expiresAt, { testid: 'signin-countdown', doneKey: 'signin.timedOut' })) : null),
    h('p', { class: 'muted small', text: t('signin.pendingHint') }),
    h('div', { class: 'input-group' },
      urlInput,
      button({ label: t('common.copy'), icon: 'copy', variant: 'secondary', testid: 'btn-copy-url',
        onClick: async () => toast((await copyText(pending.url ?? '')) ? t('toast.copiedUrl') : t('toast.copyFailed'), {}) })),
    h('div', { class: 'pending-actions' },
      button({ label: t('signin.cancel'), icon: 'x', variant: 'secondary', busy: 'cancel', testid: 'btn-cancel-signin',
        onClick: () => run('cancel_sign_in') })));
}

function pasteForm(pending, busy) {
  const input = h('input', {
    class: 'input mono', type: 'password', testid: 'signin-paste-input', key: 'paste-input',
    value: store.ui.pasteToken, autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off',
    placeholder: t('signin.pastePlaceholder'),
  });
  const submit = button({ label: t('signin.pasteSubmit'), icon: 'arrowRight', variant: 'secondary', type: 'submit', busy: 'signin', testid: 'signin-paste-submit',
    disabled: signinDisabled('paste'), extra: { 'data-signin-kind': 'paste' } });
  input.addEventListener('input', () => {
    store.ui.pasteToken = input.value;
    refreshSigninButtons();
  });
  const form = h('form', { class: 'paste-form', novalidate: true, onSubmit: (e) => { e.preventDefault(); signInPaste(); } },
    field({ id: 'paste-token', label: t('signin.pasteLabel'), hint: t('signin.pasteHint'),
      control: h('div', { class: 'input-group' }, input, submit) }));
  return form;
}

function optionsCard(snap) {
  const value = store.ui.signinPayload;
  const counter = payloadCounter('signin-payload', value, 'signin-payload-counter');
  const over = cpLength(value) > PAYLOAD_MAX;
  const input = h('input', { class: 'input', testid: 'signin-payload-input', key: 'signin-payload', value, autocomplete: 'off', spellcheck: 'false',
    placeholder: t('signin.payloadPlaceholder') });
  input.addEventListener('input', () => {
    store.ui.signinPayload = input.value;
    updateCounter(counter, input.value);
    const bad = cpLength(input.value) > PAYLOAD_MAX;
    setFieldError(input, bad ? t('payload.tooLong', { max: PAYLOAD_MAX }) : null);
    refreshSigninButtons();
  });

  const days = snap.lifetimeDays ?? 7;
  const opts = [...new Set([...LIFETIMES, days])].sort((a, b) => a - b);
  const select = h('select', { class: 'select-input', testid: 'lifetime-select', value: String(days),
    onChange: (e) => run('set_preferences', { prefs: { lifetimeDays: Number(e.target.value) } }, { busy: 'prefs' }) },
  opts.map((d) => h('option', { value: String(d), text: t('signin.days', { n: d }) })));

  return h('section', { class: 'card options-card', 'aria-labelledby': 'options-title' },
    h('h2', { id: 'options-title', class: 'card-title small-title', text: t('signin.options') }),
    field({ id: 'signin-payload', label: t('signin.payload'), optional: true, counter, hint: t('signin.payloadHint'),
      error: over ? t('payload.tooLong', { max: PAYLOAD_MAX }) : null, control: input }),
    field({ id: 'lifetime', label: t('signin.lifetime'), hint: t('signin.lifetimeHint'),
      control: h('div', { class: 'select select-block' }, select, icon('chevronDown', { cls: 'select-chev' })) }));
}

function demoCard(snap) {
  return h('section', { class: 'card demo-card', 'aria-labelledby': 'demo-title', testid: 'demo-users' },
    h('header', { class: 'card-head' },
      h('span', { class: 'card-head-icon card-head-icon-demo' }, icon('flask')),
      h('div', {},
        h('h2', { id: 'demo-title', class: 'card-title' }, t('demo.signInAs'), ' ', badge(t('demo.badge'), 'demo')),
        h('p', { class: 'card-sub', text: t('demo.signInHint') }))),
    h('ul', { class: ['demo-users', `demo-users-${Math.min(snap.demoUsers.length, 5)}`] },
      snap.demoUsers.map((u) => h('li', {},
        h('button', {
          type: 'button', class: 'demo-user', testid: 'demo-signin', 'data-uid': String(u.id),
          'data-signin-kind': 'demo', disabled: signinDisabled('demo'),
          'aria-busy': isBusy('signin') && store.ui.demoUid === u.id ? 'true' : null,
          onClick: (e) => {
            if (e.currentTarget.disabled) return;
            store.ui.demoUid = u.id;
            run('demo_sign_in', { uid: u.id, ...payloadArg() });
          },
        },
        isBusy('signin') && store.ui.demoUid === u.id
          ? h('span', { class: 'avatar avatar-sm avatar-busy' }, spinner())
          : avatar({ userId: u.id, name: u.name, avatar: null }, { size: 'sm' }),
        h('span', { class: 'demo-user-text' },
          // The name comes from the visible text (WCAG 2.5.3), with what the button does before it.
          h('span', { class: 'sr-only', text: `${t('demo.signInAsPrefix')} ` }),
          h('span', { class: 'demo-user-name', text: u.name }),
          h('span', { class: 'demo-user-id', text: t('user.idShort', { id: u.id }) })))))));
}
