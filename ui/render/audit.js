// The Audit log view: every revocation attempt (from this app or `geniusctl revoke
// --audit-log`), newest first, searchable, exportable as CSV. Rust pairs each attempt with its
// result; one without a result shows as `unknown`. Rust reads the file
// (`audit_log`) and writes the export (`export_audit_csv`); no token is in either.

import { h } from '../dom.js';
import { t, fmtDateTime, fmtWith } from '../i18n.js';
import { changed, run } from '../store.js';
import { toast } from '../toast.js';
import { badge, button, icon, spinner } from './widgets.js';
import { virtualBody } from './vlist.js';
import { ensureSupport, supportStatus } from '../state/support.js';

const audit = {
  query: '',
  view: null, // the last `audit_log` answer
  loading: false,
  asked: null, // the query of the request in flight
  seenRun: undefined, // progress.finishedAt when last loaded: a finished run reloads
  timer: null,
  error: null,
};

async function load() {
  const query = audit.query;
  audit.asked = query;
  audit.loading = true;
  changed();
  const res = await run('audit_log', { query }, { busy: 'audit-load' });
  if (audit.asked !== query) return; // a newer search is on its way
  audit.loading = false;
  if (res.ok) {
    audit.view = res.value;
    audit.error = null;
  } else {
    audit.error = res.error?.message ?? t('error.generic');
  }
  changed();
}

function searchLater() {
  clearTimeout(audit.timer);
  audit.timer = setTimeout(load, 200);
}

export function renderAudit() {
  ensureSupport();
  const finished = supportStatus()?.progress?.finishedAt ?? null;
  const running = Boolean(supportStatus()?.progress?.running);
  if (!audit.view && !audit.loading && !audit.error) load();
  else if (finished !== audit.seenRun && !running && !audit.loading) {
    audit.seenRun = finished;
    load();
  }
  if (audit.seenRun === undefined) audit.seenRun = finished;
  const v = audit.view;
  return [
    h('div', { class: 'page-head' },
      h('h1', { tabindex: '-1', text: t('nav.audit') }),
      v ? h('span', { class: 'pill', testid: 'audit-total', text: t('audit.total', { n: v.total }) }) : null),
    h('p', { class: 'muted support-lead', text: t('audit.lead') }),
    h('section', { class: 'card support-table-card', 'aria-labelledby': 'audit-title' },
      h('div', { class: 'support-toolbar' },
        h('h2', { class: 'card-title', id: 'audit-title', text: t('audit.entries') }),
        v ? h('span', { class: 'muted small', testid: 'audit-matched', text: v.matched === v.total ? t('audit.showingAll', { n: v.total }) : t('audit.showing', { n: v.matched, total: v.total }) }) : null,
        audit.loading ? spinner() : null,
        h('span', { class: 'appbar-spacer' }),
        button({ label: t('audit.reload'), icon: 'rotate', variant: 'ghost', size: 'sm', iconOnly: true, testid: 'audit-reload', onClick: load }),
        button({ label: t('audit.export'), icon: 'fileText', variant: 'secondary', size: 'sm', testid: 'audit-export', busy: 'audit-export',
          disabled: !v || v.matched === 0, onClick: exportCsv })),
      h('div', { class: 'support-filters' },
        h('input', {
          class: 'input support-filter', type: 'search', key: 'audit-search', testid: 'audit-search', 'aria-keyshortcuts': 'Control+F', value: audit.query,
          placeholder: t('audit.searchPlaceholder'), 'aria-label': t('audit.searchPlaceholder'),
          onInput: (e) => { audit.query = e.target.value; searchLater(); },
        })),
      audit.error ? h('p', { class: 'inline-alert small', testid: 'audit-error' }, icon('alertCircle'), h('span', { text: audit.error })) : null,
      v && v.unreadableLines ? h('p', { class: 'muted small', text: t('audit.unreadable', { n: v.unreadableLines }) }) : null,
      table(v),
      v ? h('p', { class: 'muted small audit-path' }, t('audit.file'), ' ', h('code', { testid: 'audit-path', text: v.path })) : null),
  ];
}

const fmtDay = (ms) => fmtWith('auditDay', { year: 'numeric', month: 'short', day: 'numeric' }, ms);
const fmtClock = (ms) => fmtWith('auditClock', { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }, ms);

// `unknown`: an attempt logged before its request went out, with no result after it (the app or
// geniusctl stopped while the request was out); `in_flight`: this app's request is still out.
const RESULT_TONE = { revoked: 'success', already_invalid: 'warning', error: 'danger', unknown: 'warning', in_flight: 'neutral' };
const RESULT_NOTE = { unknown: 'audit.unknownNote', in_flight: 'audit.inFlightNote' };

function table(v) {
  if (!v) return h('p', { class: 'muted support-no-match', text: t('audit.loading') });
  if (!v.entries.length) {
    return h('p', { class: 'muted support-no-match', testid: 'audit-empty', text: v.total ? t('audit.noMatch') : t('audit.empty') });
  }
  return h('div', { class: 'support-table audit-table', role: 'table', 'aria-label': t('audit.entries'), testid: 'audit-table' },
    h('div', { class: 'st-row st-head', role: 'row' },
      [t('audit.col.time'), t('audit.col.result'), t('audit.col.user'), t('support.col.app'), t('audit.col.by')]
        .map((label) => h('div', { class: 'st-cell st-head-cell', role: 'columnheader', text: label }))),
    virtualBody({ items: v.entries, renderRow: entryRow, cls: 'st-body', attrs: { role: 'rowgroup' } }),
    v.matched > v.entries.length ? h('p', { class: 'muted small support-no-match', text: t('audit.truncated', { n: v.entries.length }) }) : null);
}

function entryRow(e) {
  const detail = RESULT_NOTE[e.result] ? t(RESULT_NOTE[e.result])
    : e.result === 'revoked' ? '' : [e.code != null ? String(e.code) : e.error, e.msg].filter(Boolean).join(' · ');
  return h('div', { class: 'st-row', role: 'row', testid: 'audit-row', 'data-result': e.result, 'data-fingerprint': e.fingerprint },
    h('div', { class: 'st-cell', role: 'cell', title: e.at != null ? fmtDateTime(e.at) : e.time },
      h('span', { class: 'st-line', text: e.at != null ? fmtDay(e.at) : e.time }),
      h('span', { class: 'st-sub' },
        e.at != null ? h('span', { class: 'mono', text: fmtClock(e.at) }) : null,
        ' · ',
        h('span', { class: 'mono', title: t('support.fingerprint'), text: e.fingerprint }))),
    h('div', { class: 'st-cell st-result', role: 'cell' },
      h('span', { class: 'st-line' }, badge(t(`audit.result.${e.result}`) === `audit.result.${e.result}` ? e.result : t(`audit.result.${e.result}`), RESULT_TONE[e.result] ?? 'neutral')),
      detail ? h('span', { class: 'st-sub', title: detail, text: detail }) : null),
    h('div', { class: 'st-cell', role: 'cell' },
      h('span', { class: 'st-line st-name', text: e.userName || (e.userId != null ? t('support.unknownUserId', { id: e.userId }) : '—') }),
      h('span', { class: 'st-sub', text: e.userId != null ? t('user.idShort', { id: e.userId }) : '' })),
    h('div', { class: 'st-cell', role: 'cell' },
      h('span', { class: 'st-line mono', text: e.appCode || '—' }),
      h('span', { class: 'st-sub mono', text: e.recordId != null ? `#${e.recordId}` : '' })),
    h('div', { class: 'st-cell', role: 'cell' },
      h('span', { class: 'st-line', text: e.profile || '—' }),
      h('span', { class: 'st-sub', text: [e.actor, e.tool].filter(Boolean).join(' · ') })));
}

async function exportCsv() {
  const res = await run('export_audit_csv', { query: audit.query }, { busy: 'audit-export' });
  if (res.ok && res.value) toast(t('audit.exported', { n: res.value.count, path: res.value.path }));
}
