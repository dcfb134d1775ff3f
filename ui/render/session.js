// Signed in (or offline): the user, the two token cards, and ending the session.

import { h } from '../dom.js';
import { t, fmtDateTime, fmtTime } from '../i18n.js';
import { run, setUi, store, isBusy } from '../store.js';
import { confirmDialog } from '../dialog.js';
import { toast } from '../toast.js';
import { avatar, badge, button, countdown, cpLength, hostOf, icon, PAYLOAD_MAX, payloadCounter, updateCounter, setFieldError } from './widgets.js';

export function renderSession(snap, profile) {
  const s = snap.session;
  return [
    s.previousUser ? previousUserNote(s.user, s.previousUser) : null,
    userCard(s.user, profile),
    s.refresh?.expiringSoon ? expiringSoon(s.refresh) : null,
    h('div', { class: 'token-grid' },
      tokenCard('refresh', s.refresh, snap),
      tokenCard('access', s.access, snap)),
    endSessionCard(snap, profile),
  ];
}

function userCard(user, profile) {
  const groups = user?.groups ?? [];
  return h('section', { class: 'card user-card', 'aria-labelledby': 'user-name' },
    avatar(user, { size: 'lg', testid: 'user-avatar' }),
    h('div', { class: 'user-main' },
      h('h2', { class: 'user-name', id: 'user-name', testid: 'user-name', text: user?.name ?? '' }),
      h('p', { class: 'user-id' },
        h('span', { class: 'muted', text: t('user.id') }), ' ',
        h('span', { class: 'mono', testid: 'user-id', text: String(user?.userId ?? '') })),
      groups.length
        ? h('ul', { class: 'chips', testid: 'user-groups', 'aria-label': t('user.groups') },
          groups.map((g) => h('li', { class: 'chip', text: g })))
        : h('p', { class: 'muted small', testid: 'user-groups', text: t('user.noGroups') })),
    h('div', { class: 'user-side' },
      h('dl', { class: 'kv kv-compact' },
        h('dt', { text: t('user.profile') }), h('dd', { testid: 'user-profile', text: profile?.name ?? '' }),
        h('dt', { text: t('user.server') }), h('dd', { class: 'mono', title: profile?.server ?? '', testid: 'user-server', text: hostOf(profile?.server) })),
      button({ label: t('actions.reloadUser'), icon: 'rotate', variant: 'secondary', size: 'sm', busy: 'reload', testid: 'btn-reload-user',
        onClick: () => run('reload_user') })));
}

/** Another user than last time signed in on this profile: worth a look (a mistake, or a page
 * that raced a login token of its own into the callback). */
function previousUserNote(user, previous) {
  return h('div', { class: 'banner banner-info', testid: 'previous-user' },
    icon('info', { cls: 'banner-icon' }),
    h('div', { class: 'banner-body' },
      h('p', { class: 'banner-title', text: t('session.otherUserTitle', { name: user?.name ?? '' }) }),
      h('p', { text: t('session.otherUserBody', { previous: previous.name || String(previous.userId), id: previous.userId }) })));
}

function expiringSoon(refresh) {
  return h('div', { class: 'banner banner-warning', testid: 'refresh-expiring-soon' },
    icon('clock', { cls: 'banner-icon' }),
    h('div', { class: 'banner-body' },
      h('p', { class: 'banner-title', text: t('token.expiringSoonTitle') }),
      h('p', { text: t('token.expiringSoonBody', { time: fmtDateTime(refresh.expiresAt) }) })));
}

function signatureBadge(kind, sig) {
  const map = {
    verified: ['success', 'shieldCheck', 'sig.verified'],
    failed: ['danger', 'shieldX', 'sig.failed'],
    unavailable: ['neutral', 'shieldAlert', 'sig.unavailable'],
  };
  const [tone, ic, key] = map[sig] ?? map.unavailable;
  return badge(t(key), tone, ic, { testid: `${kind}-signature`, 'data-state': sig ?? 'unavailable', title: t(`${key}Title`) });
}

function lastCheck(kind, lc) {
  if (!lc) return h('span', { class: 'muted', testid: `${kind}-last-check`, 'data-state': 'none', text: t('check.never') });
  return h('span', { class: ['check', lc.ok ? 'check-ok' : 'check-fail'], testid: `${kind}-last-check`, 'data-state': lc.ok ? 'ok' : 'failed' },
    icon(lc.ok ? 'checkCircle' : 'xCircle'),
    h('span', { text: `${lc.ok ? t('check.ok') : t('check.failed')} · ${fmtTime(lc.at)}` }),
    lc.message ? h('span', { class: 'check-msg', text: lc.message }) : null);
}

function tokenCard(kind, tok, snap) {
  const title = t(`token.${kind}`);
  const head = h('header', { class: 'card-head token-head' },
    h('span', { class: ['card-head-icon', `token-icon-${kind}`] }, icon(kind === 'refresh' ? 'key' : 'zap')),
    h('h3', { class: 'card-title', id: `${kind}-title`, text: title }),
    tok ? signatureBadge(kind, tok.signature) : null);

  if (!tok) {
    return h('section', { class: 'card token-card token-empty', 'aria-labelledby': `${kind}-title`, testid: `${kind}-card` },
      head,
      h('div', { class: 'empty' },
        h('p', { text: t('token.noAccess') }),
        h('p', { class: 'muted small', text: t('token.noAccessHint') })),
      h('footer', { class: 'card-actions' }, refreshButton()));
  }

  const editing = kind === 'refresh' && store.ui.editing;
  return h('section', { class: ['card', 'token-card', tok.expiringSoon && 'is-warning'], 'aria-labelledby': `${kind}-title`, testid: `${kind}-card` },
    head,
    h('div', { class: 'token-value' },
      h('code', { class: 'masked', testid: `${kind}-masked`, title: t('token.maskedTitle'), text: tok.masked ?? '' })),
    h('div', { class: 'token-life' },
      h('div', { class: 'token-life-row' },
        h('span', { class: 'muted small', text: t('token.expiresIn') }),
        countdown(tok.expiresAt, { testid: `${kind}-countdown`, cls: 'countdown-big' })),
      h('progress', { class: 'life', max: '1000', value: String(lifeValue(tok)), 'data-from': String(tok.issuedAt), 'data-to': String(tok.expiresAt),
        'aria-label': t('token.lifeLeft') })),
    h('dl', { class: 'kv' },
      h('dt', { text: t('token.expiresAt') }),
      h('dd', { testid: `${kind}-expires`, 'data-ms': String(tok.expiresAt), text: fmtDateTime(tok.expiresAt) }),
      h('dt', { text: t('token.issuedAt') }),
      h('dd', { testid: `${kind}-issued`, text: fmtDateTime(tok.issuedAt) }),
      h('dt', { text: t('token.record') }),
      h('dd', { class: 'mono', testid: `${kind}-record`, text: tok.recordId != null ? `#${tok.recordId}` : '—' }),
      h('dt', { text: t('token.payload') }),
      h('dd', {}, tok.payload
        ? h('code', { class: 'payload', testid: kind === 'refresh' ? 'payload-value' : 'access-payload-value', text: tok.payload })
        : h('span', { class: 'muted', testid: kind === 'refresh' ? 'payload-value' : 'access-payload-value', 'data-empty': '', text: t('token.noPayload') })),
      h('dt', { text: t('token.lastCheck') }),
      h('dd', {}, lastCheck(kind, tok.lastCheck))),
    editing ? payloadEditor(tok) : h('footer', { class: 'card-actions' }, kind === 'refresh'
      ? [button({ label: t('actions.editPayload'), icon: 'edit', variant: 'secondary', size: 'sm', busy: 'payload', testid: 'btn-edit-payload',
        onClick: () => setUi({ editing: { value: tok.payload ?? '', newAccess: true }, focusAfterRender: 'k:payload-input' }) })]
      : [refreshButton(),
        button({ label: t('actions.verify'), icon: 'shieldCheck', variant: 'secondary', size: 'sm', busy: 'verify', testid: 'btn-verify',
          extra: { 'aria-label': t('actions.verifyFull') }, onClick: () => run('verify_access') }),
        button({ label: t('actions.copy'), icon: 'copy', variant: 'secondary', size: 'sm', busy: 'copy', testid: 'btn-copy-access',
          extra: { 'aria-label': t('actions.copyFull'), 'aria-keyshortcuts': 'Control+Shift+C' }, onClick: copyAccess })]));
}

function lifeValue(tok) {
  const span = tok.expiresAt - tok.issuedAt;
  return span > 0 ? Math.round(Math.max(0, Math.min(1, (tok.expiresAt - Date.now()) / span)) * 1000) : 0;
}

function refreshButton() {
  return button({ label: t('actions.refresh'), icon: 'refresh', variant: 'primary', size: 'sm', busy: 'refresh', testid: 'btn-refresh',
    extra: { 'aria-label': t('actions.refreshFull'), 'aria-keyshortcuts': 'Control+R' }, onClick: () => run('refresh_access') });
}

async function copyAccess() {
  // Rust puts the token on the clipboard (out of clipboard history) and clears it later; the
  // reply carries no token, only when that happens.
  const res = await run('copy_access_token');
  if (!res.ok) return; // the error banner explains (code `clipboard` when the write failed)
  const seconds = Number(res.value?.clearsInSeconds) || 60;
  toast(t('toast.copied', { seconds }), { tone: 'success' });
}

function payloadProblem(value) {
  const n = cpLength(value);
  if (n === 0) return t('payload.empty');
  if (n > PAYLOAD_MAX) return t('payload.tooLong', { max: PAYLOAD_MAX });
  return null;
}

function payloadEditor(tok) {
  const ed = store.ui.editing;
  const problem = payloadProblem(ed.value);
  const counter = payloadCounter('payload-input', ed.value, 'payload-counter');
  const input = h('input', { class: 'input', id: 'payload-input', key: 'payload-input', testid: 'payload-input', value: ed.value,
    autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'payload-input-counter payload-input-error payload-input-hint',
    'aria-invalid': problem ? 'true' : null });
  const save = button({ label: t('common.save'), icon: 'check', variant: 'primary', size: 'sm', busy: 'payload', testid: 'btn-save-payload',
    disabled: Boolean(problem), onClick: () => savePayload() });
  input.addEventListener('input', () => {
    ed.value = input.value;
    updateCounter(counter, input.value);
    const p = payloadProblem(input.value);
    setFieldError(input, p);
    if (!save.classList.contains('is-busy')) save.disabled = Boolean(p);
  });
  const checkbox = h('input', { type: 'checkbox', id: 'payload-new-access', key: 'payload-new-access', testid: 'payload-new-access', checked: ed.newAccess,
    onChange: (e) => { ed.newAccess = e.target.checked; } });

  return h('div', {
    class: 'payload-editor', testid: 'payload-editor', role: 'group', 'aria-labelledby': 'payload-editor-label',
    onKeydown: (e) => {
      if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); cancelEdit(); }
      else if (e.key === 'Enter' && e.target === input) { e.preventDefault(); if (!payloadProblem(ed.value)) savePayload(); }
    },
  },
  h('div', { class: 'field-head' },
    h('label', { for: 'payload-input', id: 'payload-editor-label', class: 'field-label', text: t('payload.editLabel') }),
    counter),
  input,
  h('p', { class: 'field-error', id: 'payload-input-error', role: 'status', hidden: !problem }, icon('alertCircle'), h('span', { text: problem ?? '' })),
  h('p', { class: 'field-hint', id: 'payload-input-hint', text: t('payload.keys') }),
  h('label', { class: 'checkbox', for: 'payload-new-access' }, checkbox, h('span', { text: t('payload.newAccess') })),
  h('div', { class: 'editor-actions' },
    button({ label: t('common.cancel'), variant: 'ghost', size: 'sm', testid: 'btn-cancel-payload', onClick: cancelEdit }),
    save));
}

function cancelEdit() {
  setUi({ editing: null, focusAfterRender: 't:btn-edit-payload:' });
}

async function savePayload() {
  const ed = store.ui.editing;
  if (!ed || payloadProblem(ed.value) || isBusy('payload')) return;
  const res = await run('edit_payload', { payload: ed.value, newAccess: Boolean(ed.newAccess) });
  if (res.ok) {
    setUi({ editing: null, focusAfterRender: 't:btn-edit-payload:' });
    toast(t('toast.payloadSaved'));
  }
}

function endSessionCard(snap, profile) {
  const refresh = snap.session?.refresh;
  return h('section', { class: 'card end-card', 'aria-labelledby': 'end-title' },
    h('h2', { id: 'end-title', class: 'card-title small-title', text: t('end.title') }),
    h('div', { class: 'end-row' },
      h('div', { class: 'end-text' },
        h('p', { class: 'end-label', text: t('end.revoke') }),
        h('p', { class: 'muted small', text: t('end.revokeHint') })),
      button({ label: t('end.revokeBtn'), icon: 'ban', variant: 'danger', busy: 'revoke', testid: 'btn-revoke',
        onClick: () => confirmDialog({
          title: t('end.revokeTitle'),
          body: [t('end.revokeBody', { server: hostOf(profile?.server), record: refresh?.recordId != null ? `#${refresh.recordId}` : '—' })],
          confirmLabel: t('end.revokeBtn'),
          confirmTestid: 'btn-confirm-revoke',
          icon: 'ban',
          testid: 'dialog-revoke',
          onConfirm: () => run('revoke_session'),
        }) })),
    h('div', { class: 'end-row' },
      h('div', { class: 'end-text' },
        h('p', { class: 'end-label', text: t('end.forget') }),
        h('p', { class: 'muted small', text: t('end.forgetHint') })),
      button({ label: t('end.forgetBtn'), icon: 'logout', variant: 'secondary', busy: 'forget', testid: 'btn-forget',
        onClick: () => confirmDialog({
          title: t('end.forgetTitle'),
          body: [
            t('end.forgetBody1'),
            refresh?.expiresAt ? t('end.forgetBody2', { time: fmtDateTime(refresh.expiresAt) }) : null,
            t('end.forgetBody3'),
          ].filter(Boolean),
          confirmLabel: t('end.forgetBtn'),
          confirmTestid: 'btn-confirm-forget',
          icon: 'alert',
          tone: 'danger',
          testid: 'dialog-forget',
          onConfirm: () => run('forget_session'),
        }) })));
}
