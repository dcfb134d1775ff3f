// The Support view: paste or open tokens, see whose they are, revoke them in bulk.
// It only renders: the list, the filters and the selection live in ui/state/support.js.

import { h } from '../dom.js';
import { t, fmtDateTime, fmtWith, getLocale } from '../i18n.js';
import { changed, store } from '../store.js';
import { confirmDialog, openModal } from '../dialog.js';
import { toast } from '../toast.js';
import { announce } from '../announce.js';
import { avatar, badge, button, icon, spinner, hostOf } from './widgets.js';
import { virtualBody } from './vlist.js';
import {
  command, ensureSupport, filters, listFacets, ownerOf, refreshRowOf, sup, visibleRows,
} from '../state/support.js';
import { isDone, isRevocable } from '../state/support-rows.js';

/** What the view keeps across renders: elements that are costly to rebuild. */
const ui = {
  input: null, // the textarea (it may hold megabytes)
  ownerSelect: null, // the owner filter (it may list thousands)
  ownerSelectKey: '',
};

/** "6 d left", "5 h left", "12 min left". */
function fmtLeft(ms) {
  const min = Math.max(1, Math.floor(ms / 60e3));
  if (min >= 48 * 60) return t('support.leftDays', { n: Math.floor(min / 1440) });
  if (min >= 60) return t('support.leftHours', { n: Math.floor(min / 60) });
  return t('support.leftMinutes', { n: min });
}

/** "Mar 15" / "3月15日" (with the year when it is not this year): the table's narrow date. */
export function fmtDay(ms) {
  const sameYear = new Date(ms).getFullYear() === new Date().getFullYear();
  return sameYear
    ? fmtWith('day', { month: 'short', day: 'numeric' }, ms)
    : fmtWith('dayYear', { year: 'numeric', month: 'short', day: 'numeric' }, ms);
}
const fmtClock = (ms) => fmtWith('clock', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }, ms);

export function renderSupport(snap) {
  ensureSupport();
  const st = sup.status;
  const profile = snap.profiles?.find((p) => p.id === snap.activeProfileId) ?? null;
  const hasRows = sup.order.length > 0;
  return [
    h('div', { class: 'page-head' },
      h('h1', { tabindex: '-1', text: t('nav.support') }),
      profile ? h('span', { class: 'pill', title: profile.server, testid: 'support-profile' }, icon('server'), h('span', { text: `${profile.name} · ${hostOf(profile.server)}` })) : null),
    h('p', { class: 'muted support-lead', text: t('support.lead') }),
    inputCard(st),
    st?.auditError ? auditErrorBanner(st.auditError) : null,
    st?.keyError ? h('div', { class: 'banner banner-warning', testid: 'support-key-warning' },
      icon('shieldAlert', { cls: 'banner-icon' }),
      h('div', { class: 'banner-body' },
        h('p', { class: 'banner-title', text: t('support.keyUnavailable') }),
        h('p', { class: 'banner-meta', text: st.keyError }))) : null,
    progressCard(st),
    hasRows ? tableCard(st) : emptyState(),
  ];
}

function auditErrorBanner(message) {
  return h('div', { class: 'banner banner-danger', testid: 'support-audit-error' },
    icon('alertCircle', { cls: 'banner-icon' }),
    h('div', { class: 'banner-body' },
      h('p', { class: 'banner-title', text: t('support.auditFailed') }),
      h('p', { class: 'banner-meta', text: message })));
}

function inputCard(st) {
  if (!ui.input) {
    ui.input = h('textarea', {
      class: 'input mono support-input', id: 'support-input', key: 'support-input', testid: 'support-input',
      rows: '4', spellcheck: 'false', autocomplete: 'off', 'aria-describedby': 'support-input-hint',
    });
    ui.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); parse(); }
    });
  }
  ui.input.placeholder = t('support.placeholder');
  ui.input.setAttribute('aria-label', t('support.inputLabel'));
  const running = Boolean(st?.progress?.running);
  const parseSummary = st?.parse;
  ui.input.rows = sup.order.length ? 2 : 4;
  return h('section', { class: ['card', 'support-input-card', sup.order.length && 'is-compact'], 'aria-labelledby': 'support-input-title' },
    h('div', { class: 'field-head' },
      h('label', { for: 'support-input', class: 'field-label', id: 'support-input-title', text: t('support.inputLabel') }),
      h('span', { class: 'muted small', text: t('support.keys') })),
    ui.input,
    h('p', { class: 'field-hint', id: 'support-input-hint', text: t('support.inputHint') }),
    h('div', { class: 'support-input-actions' },
      button({ label: t('support.parse'), icon: 'clipboard', variant: 'primary', size: 'sm', busy: 'support-parse', testid: 'support-parse',
        disabled: running, onClick: parse }),
      button({ label: t('support.openFile'), icon: 'fileText', variant: 'secondary', size: 'sm', busy: 'support-file', testid: 'support-open-file',
        disabled: running, onClick: openFile }),
      h('label', { class: 'checkbox', for: 'support-append' },
        h('input', { type: 'checkbox', id: 'support-append', key: 'support-append', testid: 'support-append', checked: filters.append,
          onChange: (e) => { filters.append = e.target.checked; } }),
        h('span', { text: t('support.append') })),
      h('span', { class: 'appbar-spacer' }),
      sup.order.length ? button({ label: t('support.clear'), icon: 'trash', variant: 'ghost', size: 'sm', testid: 'support-clear',
        disabled: running, onClick: clearList }) : null),
    parseSummary ? h('p', { class: 'support-summary small', testid: 'support-summary' },
      icon(parseSummary.added ? 'checkCircle' : 'info'),
      h('span', { text: summaryText(parseSummary) })) : null);
}

function summaryText(p) {
  const parts = [t(p.source && p.source !== 'text' ? 'support.foundIn' : 'support.found', { n: p.added, file: p.source })];
  if (p.duplicates) parts.push(t('support.duplicates', { n: p.duplicates }));
  if (p.junkLines) parts.push(t('support.junk', { n: p.junkLines }));
  return parts.join(' · ');
}

async function parse() {
  const text = ui.input?.value ?? '';
  if (!text.trim()) {
    ui.input?.focus();
    toast(t('support.nothingPasted'), { tone: 'info' });
    return;
  }
  const res = await command('parse_tokens', { text, append: filters.append }, 'support-parse');
  if (res.ok) {
    ui.input.value = '';
    if (!filters.append) filters.selected.clear();
    // The summary line is rebuilt with the view: the live region says it once.
    const summary = res.value?.parse ?? sup.status?.parse;
    if (summary) announce(summaryText(summary));
  }
}

async function openFile() {
  const res = await command('open_token_file', { append: filters.append }, 'support-file');
  if (res.ok && res.value && !filters.append) filters.selected.clear();
}

async function clearList() {
  const res = await command('clear_tokens', undefined, 'support-clear');
  if (res.ok) filters.selected.clear();
}

function emptyState() {
  return h('section', { class: 'card support-empty', testid: 'support-empty' },
    h('span', { class: 'card-head-icon' }, icon('lifeBuoy')),
    h('div', {},
      h('p', { class: 'end-label', text: t('support.emptyTitle') }),
      h('p', { class: 'muted small', text: t('support.emptyBody') })));
}

// ---- progress ---------------------------------------------------------------------------

function progressCard(st) {
  const p = st?.progress;
  if (!p || (!p.running && !p.finishedAt)) return null;
  const pct = p.total ? Math.round((p.done / p.total) * 100) : 0;
  const counts = [
    [p.revoked, 'support.count.revoked', 'ok'],
    [p.alreadyInvalid, 'support.count.already', 'warn'],
    [p.failed, 'support.count.failed', 'bad'],
    [p.cancelled, 'support.count.cancelled', 'muted'],
    [p.running ? p.inFlight : 0, 'support.count.inFlight', 'muted'],
  ].filter(([n]) => n > 0);
  const title = p.running
    ? (p.cancelRequested ? t('support.cancelling') : t('support.revoking'))
    : (p.cancelled ? t('support.runCancelled') : t('support.runDone'));
  return h('section', {
    class: ['card', 'support-progress', p.running ? 'is-running' : 'is-done'], testid: 'support-progress',
    'data-state': p.running ? 'running' : 'done', 'data-done': String(p.done), 'data-total': String(p.total),
    'data-revoked': String(p.revoked), 'data-already': String(p.alreadyInvalid), 'data-failed': String(p.failed), 'data-cancelled': String(p.cancelled),
    'aria-labelledby': 'support-progress-title',
  },
  h('div', { class: 'support-progress-head' },
    p.running ? spinner() : icon(p.failed ? 'alertCircle' : 'checkCircle', { cls: p.failed ? 'tone-bad' : 'tone-ok' }),
    h('h2', { class: 'card-title', id: 'support-progress-title', text: title }),
    h('span', { class: 'support-progress-count', testid: 'support-progress-count', text: t('support.progressCount', { done: p.done, total: p.total }) }),
    h('span', { class: 'appbar-spacer' }),
    p.running
      ? button({ label: t('support.cancel'), icon: 'x', variant: 'secondary', size: 'sm', testid: 'support-cancel', busy: 'support-cancel',
        disabled: p.cancelRequested, onClick: () => command('cancel_revoke', undefined, 'support-cancel') })
      : (st.failedRows > 0
        ? button({ label: t('support.retry', { n: st.failedRows }), icon: 'rotate', variant: 'secondary', size: 'sm', testid: 'support-retry', busy: 'support-retry',
          onClick: () => command('retry_failed', undefined, 'support-retry') })
        : null)),
  h('progress', { class: 'life support-bar', max: String(Math.max(1, p.total)), value: String(p.done), 'aria-label': t('support.progressLabel'),
    'aria-valuetext': `${pct}%` }),
  h('ul', { class: 'support-counts' },
    counts.map(([n, key, tone]) => h('li', { class: `count-${tone}`, 'data-key': key }, h('span', { class: 'count-n', text: String(n) }), ' ', h('span', { text: t(key) })))));
}

// ---- the table --------------------------------------------------------------------------

function tableCard(st) {
  const rows = visibleRows();
  const running = Boolean(st?.progress?.running);
  const selectable = rows.filter(isRevocable);
  const allSelected = selectable.length > 0 && selectable.every((r) => filters.selected.has(r.id));
  const someSelected = selectable.some((r) => filters.selected.has(r.id));
  const selectAll = h('input', {
    type: 'checkbox', testid: 'support-select-all', key: 'support-select-all', checked: allSelected,
    disabled: running || selectable.length === 0, 'aria-label': t('support.selectAll', { n: selectable.length }),
    title: t('support.selectAll', { n: selectable.length }),
    onChange: (e) => {
      for (const r of selectable) {
        if (e.target.checked) filters.selected.add(r.id); else filters.selected.delete(r.id);
      }
      changed();
    },
  });
  selectAll.indeterminate = someSelected && !allSelected;
  const selectedIds = [...filters.selected].filter((id) => sup.rows.has(id));
  const { apps, ownerCount } = listFacets();
  const sortHead = (key, label, title) => {
    const active = filters.sort.key === key;
    return h('div', { class: `st-cell st-head-cell st-col-${key}`, role: 'columnheader', title, 'aria-sort': active ? (filters.sort.dir > 0 ? 'ascending' : 'descending') : 'none' },
      h('button', { type: 'button', class: ['st-sort', active && 'is-active'], testid: `support-sort-${key}`, key: `support-sort-${key}`,
        onClick: () => {
          filters.sort = active ? (filters.sort.dir > 0 ? { key, dir: -1 } : { key: '', dir: 1 }) : { key, dir: 1 };
          changed();
        } },
      h('span', { text: label }), active ? icon('chevronDown', { cls: filters.sort.dir > 0 ? 'icon-flip' : '' }) : null));
  };
  const plainHead = (cls, label) => h('div', { class: `st-cell st-head-cell ${cls}`, role: 'columnheader', text: label });

  return h('section', { class: 'card support-table-card', 'aria-labelledby': 'support-table-title' },
    h('div', { class: 'support-toolbar' },
      h('h2', { class: 'card-title', id: 'support-table-title' },
        h('span', { text: t('support.tokens') }),
        h('span', { class: 'badge badge-neutral', testid: 'support-count', text: rows.length === sup.order.length ? String(rows.length) : `${rows.length} / ${sup.order.length}` })),
      h('span', { class: 'muted small', testid: 'support-owners-status' },
        sup.status?.ownersPending ? [spinner(), ' ', t('support.ownersPending')] : t('support.ownersCount', { n: ownerCount })),
      h('span', { class: 'appbar-spacer' }),
      button({
        label: selectedIds.length ? t('support.revokeSelected', { n: selectedIds.length }) : t('support.revoke'),
        icon: 'ban', variant: 'danger', size: 'sm', testid: 'support-revoke', busy: 'support-revoke',
        disabled: running || selectedIds.length === 0,
        onClick: () => confirmRevoke(selectedIds),
      })),
    sup.status?.ownerError ? h('p', { class: 'inline-alert small', testid: 'support-owner-error' }, icon('alertCircle'), h('span', { text: t('support.ownerError', { msg: sup.status.ownerError }) })) : null,
    h('div', { class: 'support-filters' },
      h('input', {
        class: 'input support-filter', type: 'search', key: 'support-filter', testid: 'support-filter', 'aria-keyshortcuts': 'Control+F', value: filters.q,
        placeholder: t('support.filterPlaceholder'), 'aria-label': t('support.filterPlaceholder'),
        onInput: (e) => { filters.q = e.target.value; changed(); },
      }),
      ownerFilter(),
      selectBox('support-filter-app', t('support.filterApp'), filters.app, [['', t('support.allApps')], ...apps.map((a) => [a, a])], (v) => { filters.app = v; }),
      selectBox('support-filter-state', t('support.filterState'), filters.state, [
        ['', t('support.allStates')],
        ['revocable', t('support.f.revocable')],
        ['revoked', t('support.state.revoked')],
        ['already_invalid', t('support.state.already_invalid')],
        ['error', t('support.state.error')],
        ['cancelled', t('support.state.cancelled')],
        ['not_revocable', t('support.state.not_revocable')],
        ['access', t('support.kind.access')],
        ['expired', t('support.f.expired')],
        ['other', t('support.kind.other')],
      ], (v) => { filters.state = v; })),
    h('div', { class: 'support-table', role: 'table', 'aria-label': t('support.tokens'), 'aria-rowcount': String(rows.length + 1), testid: 'support-table' },
      h('div', { class: 'st-row st-head', role: 'row' },
        h('div', { class: 'st-cell st-check', role: 'columnheader' }, selectAll),
        plainHead('st-col-token', t('support.col.token')),
        sortHead('owner', t('support.col.owner')),
        sortHead('app', t('support.col.appShort'), t('support.col.app')),
        plainHead('st-col-payload', t('support.col.payload')),
        sortHead('issued', t('support.col.issued')),
        sortHead('expires', t('support.col.expires')),
        sortHead('state', t('support.col.result'))),
      rows.length
        ? virtualBody({ items: rows, renderRow: (row, i) => cachedRow(row, i, running), cls: 'st-body', attrs: { role: 'rowgroup' }, key: 'support' })
        : h('p', { class: 'muted support-no-match', text: t('support.noMatch') })));
}

function selectBox(testid, label, value, options, set) {
  return h('span', { class: 'select support-select' },
    h('select', { class: 'select-input', testid, key: testid, 'aria-label': label, value,
      onChange: (e) => { set(e.target.value); changed(); } },
    options.map(([v, text]) => h('option', { value: v, text }))),
    icon('chevronDown', { cls: 'select-chev' }));
}

/** The owner filter: its options (one per owner, with their token count) are rebuilt only when the owners change. */
function ownerFilter() {
  const { owners, noOwner, key } = listFacets();
  if (!ui.ownerSelect) {
    ui.ownerSelect = h('select', { class: 'select-input', testid: 'support-filter-owner', key: 'support-filter-owner',
      onChange: (e) => { filters.owner = e.target.value; changed(); } });
  }
  const el = ui.ownerSelect;
  const optionsKey = `${key}|${getLocale()}`;
  if (ui.ownerSelectKey !== optionsKey) {
    ui.ownerSelectKey = optionsKey;
    el.replaceChildren(
      h('option', { value: '', text: t('support.allOwners') }),
      ...owners.map((o) => h('option', { value: o.uid, text: `${o.name || t('support.unknownUserId', { id: o.uid })} · ${o.n}` })),
      noOwner ? h('option', { value: 'none', text: `${t('support.withoutOwner')} · ${noOwner}` }) : null);
  }
  el.setAttribute('aria-label', t('support.filterOwner'));
  el.value = filters.owner;
  return h('span', { class: 'select support-select support-select-owner' }, el, icon('chevronDown', { cls: 'select-chev' }));
}

/**
 * Row elements are kept while nothing they show changed, so that a progress event rebuilds only
 * the rows it touched (and avatar images are not decoded again on every render).
 */
const rowCache = new WeakMap();
function cachedRow(row, index, running) {
  const refresh = refreshRowOf(row);
  const deps = [filters.selected.has(row.id), ownerOf(row), running, getLocale(), index, refresh];
  const hit = rowCache.get(row);
  if (hit && hit.deps.every((d, i) => d === deps[i])) return hit.el;
  const el = rowEl(row, index, running, refresh);
  rowCache.set(row, { deps, el });
  return el;
}

const KIND_TONE = { refresh: 'info', access: 'success', login: 'neutral', other: 'neutral' };
const none = () => h('span', { class: 'muted', text: '—' });

function rowEl(row, index, running, refresh) {
  const owner = ownerOf(row);
  const selected = filters.selected.has(row.id);
  const check = h('input', {
    type: 'checkbox', testid: 'support-row-select', key: `support-row-select-${row.id}`, 'data-id': String(row.id), checked: selected,
    disabled: running && !selected, 'aria-label': t('support.selectRow', { token: row.masked }),
    onChange: (e) => {
      if (e.target.checked) filters.selected.add(row.id); else filters.selected.delete(row.id);
      changed();
    },
  });
  const issued = row.issuedAt != null
    ? [h('span', { class: 'st-line', text: fmtDay(row.issuedAt) }), h('span', { class: 'st-sub mono', text: fmtClock(row.issuedAt) })]
    : [none()];
  const expiry = row.expiresAt != null
    ? [h('span', { class: 'st-line', text: fmtDay(row.expiresAt) }),
      h('span', { class: ['st-sub', row.expired && 'tone-bad'], text: row.expired ? t('time.expired') : fmtLeft(row.expiresAt - Date.now()) })]
    : [none()];
  return h('div', {
    class: ['st-row', selected && 'is-selected', `st-state-${row.state}`], role: 'row', testid: 'support-row',
    'data-id': String(row.id), 'data-state': row.state, 'data-kind': row.kind, 'aria-rowindex': String(index + 2),
    onClick: (e) => {
      if (e.target.closest('input, button, a')) return;
      showDetails(row.id);
    },
  },
  h('div', { class: 'st-cell st-check', role: 'cell' }, check),
  h('div', { class: 'st-cell st-token', role: 'cell' },
    h('span', { class: 'st-line' },
      badge(t(`support.kind.${row.kind}`), KIND_TONE[row.kind] ?? 'neutral', null, { testid: 'support-kind', 'data-kind': row.kind, title: t(`support.kind.${row.kind}`) }),
      row.kind === 'other' ? null : sigIcon(row.signature)),
    h('button', { type: 'button', class: 'st-details-btn', key: `support-details-${row.id}`, title: t('token.maskedTitle'),
      'aria-label': t('support.details', { token: row.masked }), onClick: () => showDetails(row.id) },
    h('code', { class: 'st-sub st-masked', text: row.masked }))),
  h('div', { class: 'st-cell st-owner', role: 'cell', testid: 'support-owner', 'data-uid': row.userId != null ? String(row.userId) : null },
    row.userId != null
      ? [ownerAvatar(row.userId, owner),
        h('span', { class: 'st-owner-text' },
          h('span', { class: 'st-line st-name', testid: 'support-owner-name', text: owner ? (owner.found ? owner.name : t('support.unknownUser')) : t('support.resolving') }),
          h('span', { class: 'st-sub', text: [t('user.idShort', { id: row.userId }), ...(owner?.groups ?? []).slice(0, 2)].join(' · ') }))]
      : none()),
  h('div', { class: 'st-cell st-col-app', role: 'cell' },
    h('span', { class: 'st-line mono', text: row.appCode ?? '—' }),
    h('span', { class: 'st-sub mono', text: row.recordId != null ? `#${row.recordId}` : '' })),
  h('div', { class: 'st-cell st-col-payload', role: 'cell', testid: 'support-payload' },
    row.payload ? h('span', { class: 'st-line st-payload', title: row.payload, text: row.payload }) : none()),
  h('div', { class: 'st-cell st-col-issued', role: 'cell', testid: 'support-issued', 'data-at': row.issuedAt != null ? String(row.issuedAt) : null,
    title: row.issuedAt != null ? fmtDateTime(row.issuedAt) : null }, issued),
  h('div', { class: 'st-cell st-col-expires', role: 'cell', testid: 'support-expires', title: row.expiresAt != null ? fmtDateTime(row.expiresAt) : null }, expiry),
  h('div', { class: 'st-cell st-result', role: 'cell', testid: 'support-result', 'data-state': row.state }, resultEl(row, refresh)));
}

/**
 * The owner's picture; until it arrives, and for owners past the avatar cap (the first 200
 * owners get theirs), their initials on a coloured disc. A spinner while the owner is looked
 * up, a plain silhouette for an id the server does not know.
 */
function ownerAvatar(uid, owner) {
  if (owner?.found) {
    const initials = () => avatar({ id: uid, name: owner.name }, { size: 'xs', testid: 'support-avatar' });
    const src = owner.avatar;
    if (typeof src !== 'string' || !src.startsWith('data:image/')) return initials();
    // An <img> of its own per row: widgets.avatar() shares one element per picture, and an
    // owner of many tokens has many rows. Rows are kept across renders, so it decodes once.
    const box = h('span', { class: 'avatar avatar-xs', testid: 'support-avatar', 'data-kind': 'image' });
    box.append(h('img', { src, alt: '', onError: () => box.replaceWith(initials()) }));
    return box;
  }
  return h('span', { class: 'avatar avatar-xs avatar-unknown', testid: 'support-avatar', 'data-kind': owner ? 'unknown' : 'pending' },
    owner ? icon('user') : spinner());
}

function sigIcon(sig) {
  const map = { verified: ['shieldCheck', 'tone-ok', 'sig.verifiedTitle'], failed: ['shieldX', 'tone-bad', 'sig.failedTitle'], unavailable: ['shieldAlert', 'muted', 'sig.unavailableTitle'] };
  const [ic, cls, title] = map[sig] ?? map.unavailable;
  return h('span', { class: ['st-sig', cls], title: t(title), 'data-state': sig, testid: 'support-signature' }, icon(ic, { label: t(title) }));
}

/** What happened to a row, in a word or two (the details dialog says more). */
function rowResult(row) {
  const r = row.result ?? {};
  switch (row.state) {
    case 'queued': return { tone: 'muted', ic: 'clock', label: t('support.state.queued') };
    case 'running': return { tone: 'info', spin: true, label: t('support.state.running') };
    case 'revoked': return { tone: 'ok', ic: 'checkCircle', label: t('support.state.revoked') };
    case 'already_invalid': return { tone: 'warn', ic: 'info', label: t('support.state.already_invalid'), detail: `${r.code ?? 31}${r.msg ? ` · ${r.msg}` : ''}` };
    case 'error': return { tone: 'bad', ic: 'xCircle', label: t('support.state.error'), detail: errorLabel(r), title: r.msg };
    case 'cancelled': return { tone: 'muted', ic: 'ban', label: t('support.state.cancelled') };
    case 'not_revocable':
      return { tone: 'muted', ic: 'info', label: t(`support.notRevocable.${r.reason ?? 'other'}`) };
    default:
      if (row.kind === 'other') return { tone: 'muted', label: t('support.notGenius') };
      if (row.signature === 'failed') return { tone: 'bad', ic: 'shieldX', label: t('sig.failedTitle') };
      if (row.expired) return { tone: 'muted', label: t('time.expired') };
      return { tone: 'muted', label: '—' };
  }
}

/** "Code 8 · 发生预期外错误…" for a server's refusal; "HTTP 502 · Unexpected reply" otherwise. */
function errorLabel(r) {
  if (r.code != null) return `${t('error.serverCode', { code: r.code })}${r.msg ? ` · ${r.msg}` : ''}`;
  const kind = r.error ?? 'network';
  const key = `support.err.${kind}`;
  const label = t(key) === key ? kind : t(key);
  return r.httpStatus ? `HTTP ${r.httpStatus} · ${label}` : label;
}

function resultEl(row, refresh) {
  const r = rowResult(row);
  const parts = [
    h('span', { class: ['st-line', 'st-result-label', `tone-${r.tone}`] },
      r.spin ? spinner() : r.ic ? icon(r.ic) : null,
      h('span', { testid: 'support-result-label', text: r.label })),
  ];
  if (refresh && (row.state === 'ready' || row.state === 'not_revocable')) {
    // An access token ends with its refresh token: offer that one when the list has it.
    parts.push(isDone(refresh)
      ? h('span', { class: 'st-sub tone-ok', testid: 'support-covered', text: t('support.coveredByRefresh') })
      : h('button', { type: 'button', class: 'st-link', testid: 'support-revoke-refresh', key: `support-revoke-refresh-${row.id}`, 'data-id': String(refresh.id),
        disabled: Boolean(sup.status?.progress?.running),
        title: t('support.revokeItsRefresh'), onClick: () => confirmRevoke([refresh.id]), text: t('support.revokeItsRefresh') }));
  } else if (r.detail) {
    parts.push(h('span', { class: 'st-sub', testid: 'support-result-detail', title: r.title || r.detail, text: r.detail }));
  }
  return parts;
}

// ---- revoke -----------------------------------------------------------------------------

function confirmRevoke(ids) {
  const rows = ids.map((id) => sup.rows.get(id)).filter(Boolean);
  const refresh = rows.filter((r) => r.kind === 'refresh');
  if (!refresh.length) {
    // Nothing destructive: the rows only learn why they cannot be revoked.
    command('revoke_tokens', { ids }, 'support-revoke').then((res) => { if (res.ok) { filters.selected.clear(); changed(); } });
    return;
  }
  const byOwner = new Map();
  for (const r of refresh) {
    const k = r.userId ?? 'none';
    byOwner.set(k, (byOwner.get(k) ?? 0) + 1);
  }
  const people = [...byOwner.entries()].sort((a, b) => b[1] - a[1]);
  const shown = people.slice(0, 8);
  const profile = store.snap?.profiles?.find((p) => p.id === store.snap.activeProfileId);
  const ownerList = h('ul', { class: 'confirm-owners', testid: 'support-confirm-owners' },
    shown.map(([uid, n]) => {
      const owner = uid === 'none' ? null : sup.owners.get(String(uid));
      const name = uid === 'none' ? t('support.noOwner') : owner?.found ? owner.name : t('support.unknownUserId', { id: uid });
      return h('li', { class: 'confirm-owner' },
        uid === 'none' ? h('span', { class: 'avatar avatar-xs avatar-unknown' }, icon('user')) : avatar({ id: uid, name: owner?.name ?? '?', avatar: owner?.avatar }, { size: 'xs' }),
        h('span', { class: 'confirm-owner-name', text: name }),
        uid === 'none' ? null : h('span', { class: 'muted mono small', text: `ID ${uid}` }),
        h('span', { class: 'confirm-owner-n', text: t('support.nTokens', { n }) }));
    }),
    people.length > shown.length ? h('li', { class: 'muted small', text: t('support.andMore', { n: people.length - shown.length }) }) : null);
  const skipped = rows.length - refresh.length;
  confirmDialog({
    title: t('support.confirmTitle', { n: refresh.length }),
    body: [
      t('support.confirmBody', { n: refresh.length, people: people.length, server: hostOf(profile?.server) }),
      ownerList,
      skipped ? t('support.confirmSkipped', { n: skipped }) : null,
      t('support.confirmAudit'),
    ].filter(Boolean),
    confirmLabel: t('support.confirmBtn', { n: refresh.length }),
    confirmTestid: 'support-confirm',
    testid: 'support-confirm-dialog',
    icon: 'ban',
    onConfirm: async () => {
      const res = await command('revoke_tokens', { ids }, 'support-revoke');
      if (res.ok) { filters.selected.clear(); changed(); }
      return res;
    },
  });
}

// ---- details ----------------------------------------------------------------------------

function showDetails(id) {
  const row = sup.rows.get(id);
  if (!row) return;
  const owner = ownerOf(row);
  const r = row.result;
  const refresh = refreshRowOf(row);
  const kv = (label, value, cls) => [h('dt', { text: label }), h('dd', { class: cls }, value ?? h('span', { class: 'muted', text: '—' }))];
  openModal({
    title: t('support.detailsTitle', { kind: t(`support.kind.${row.kind}`) }),
    icon: row.kind === 'access' ? 'zap' : 'key',
    testid: 'support-details',
    wide: true,
    build: (ctx) => ({
      body: [
        h('code', { class: 'masked', title: t('token.maskedTitle'), text: row.masked }),
        owner?.found ? h('div', { class: 'details-owner' },
          avatar({ id: row.userId, name: owner.name, avatar: owner.avatar }, { size: 'md' }),
          h('div', {},
            h('p', { class: 'end-label', text: owner.name }),
            owner.groups?.length ? h('ul', { class: 'chips' }, owner.groups.map((g) => h('li', { class: 'chip', text: g }))) : null)) : null,
        h('dl', { class: 'kv' },
          kv(t('user.id'), row.userId != null ? String(row.userId) : null, 'mono'),
          kv(t('token.record'), row.recordId != null ? `#${row.recordId}` : null, 'mono'),
          kv(t('form.appCode'), row.appCode, 'mono'),
          kv(t('token.payload'), row.payload ? h('code', { class: 'payload', text: row.payload }) : null),
          kv(t('token.issuedAt'), row.issuedAt != null ? fmtDateTime(row.issuedAt) : null),
          kv(t('token.expiresAt'), row.expiresAt != null ? `${fmtDateTime(row.expiresAt)}${row.expired ? ` · ${t('time.expired')}` : ''}` : null),
          kv(t('token.signature'), t(`sig.${row.signature}Title`)),
          kv(t('support.fingerprint'), row.fingerprint, 'mono'),
          row.problem ? kv(t('support.problem'), row.problem) : [],
          kv(t('support.col.result'), rowResult(row).label),
          r?.code != null && row.state === 'error' ? kv(t('support.code'), String(r.code), 'mono') : [],
          r?.httpStatus != null ? kv(t('support.httpStatus'), String(r.httpStatus), 'mono') : [],
          r?.msg ? kv(t('support.message'), h('span', { class: 'server-msg', testid: 'support-details-msg', text: r.msg })) : [],
          r?.at && row.state !== 'ready' ? kv(t('support.at'), fmtDateTime(r.at)) : []),
        row.kind === 'access' ? h('p', { class: 'small', text: t('support.accessExplain') }) : null,
      ],
      actions: [
        refresh && !isDone(refresh) && !sup.status?.progress?.running
          ? button({ label: t('support.revokeItsRefresh'), icon: 'ban', variant: 'danger', testid: 'support-details-revoke-refresh',
            onClick: () => confirmRevoke([refresh.id]) })
          : null,
        button({ label: t('common.close'), variant: 'secondary', onClick: () => ctx.close() }),
      ].filter(Boolean),
    }),
  });
}

/** Busy keys this view uses, for other views to check. */
