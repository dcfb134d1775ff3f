// Banners above the page content: errors, storage problems, a damaged settings file, offline.
// They are rebuilt on every render, so none is a live region: the one live region of the shell
// (ui/announce.js) says what changed.

import { h } from '../dom.js';
import { t, fmtDateTime, fmtTime } from '../i18n.js';
import { run, currentError, dismissError, store, setUi } from '../store.js';
import { button, icon, countdown } from './widgets.js';

export function errorBanner() {
  const err = currentError();
  if (!err) return null;
  const hasServer = err.serverCode != null || err.serverMsg;
  return h('div', { class: 'banner banner-danger', testid: 'error-banner', 'data-code': err.code },
    icon('alertCircle', { cls: 'banner-icon' }),
    h('div', { class: 'banner-body' },
      h('p', { class: 'banner-title', testid: 'error-message', text: err.message || t('error.generic') }),
      hasServer
        ? h('p', { class: 'banner-detail', testid: 'error-server' },
          err.serverCode != null ? h('span', { class: 'code-chip', text: t('error.serverCode', { code: err.serverCode }) }) : null,
          err.serverMsg ? h('span', { class: 'server-msg', lang: 'zh-CN', text: err.serverMsg }) : null)
        : null,
      h('p', { class: 'banner-meta' },
        h('span', { class: 'mono', text: err.code }),
        err.at ? h('span', { text: ` · ${fmtTime(err.at)}` }) : null),
      errorActions(err)),
    button({ label: t('common.dismiss'), icon: 'x', variant: 'ghost', size: 'sm', iconOnly: true, testid: 'btn-dismiss-error', onClick: () => dismissError() }));
}

/** What the user can do about some errors, right in the banner. */
function errorActions(err) {
  if (err.code !== 'secrets_file_too_open') return null;
  return h('div', { class: 'banner-actions' },
    button({ label: t('storage.fixPermissions'), icon: 'lock', variant: 'secondary', size: 'sm', busy: 'storage', testid: 'btn-fix-permissions',
      onClick: () => run('fix_secrets_file_permissions') }),
    h('span', { class: 'banner-note', text: t('storage.fixPermissionsNote') }));
}

export function storageBanner(snap) {
  const st = snap.storage;
  if (!st || st.available) return null;
  return h('div', { class: 'banner banner-warning', role: 'region', 'aria-label': t('storage.title'), testid: 'storage-banner' },
    icon('alert', { cls: 'banner-icon' }),
    h('div', { class: 'banner-body' },
      h('p', { class: 'banner-title', text: t('storage.title') }),
      h('p', { text: t('storage.body') }),
      st.message ? h('p', { class: 'banner-meta', text: st.message }) : null,
      h('div', { class: 'banner-actions' },
        button({ label: t('storage.optIn'), icon: 'unlock', variant: 'warning', size: 'sm', busy: 'storage', testid: 'storage-optin',
          onClick: () => run('use_file_store', { enabled: true }) }),
        h('span', { class: 'banner-note', text: t('storage.optInNote') }))));
}

/**
 * The settings file could not be used at start-up: Rust moved it aside and started from the
 * defaults (`damagedSettings`). Dismissing it is the UI's own business: it stays dismissed until
 * another damaged file is found (a new `at`).
 */
export function damagedSettingsBanner(snap) {
  const d = snap.damagedSettings;
  if (!d || store.ui.dismissedDamagedSettingsAt === d.at) return null;
  const reason = t(`settingsDamaged.reason.${d.reason}`);
  return h('div', { class: 'banner banner-warning', testid: 'settings-damaged-banner', 'data-reason': d.reason },
    icon('alert', { cls: 'banner-icon' }),
    h('div', { class: 'banner-body' },
      h('p', { class: 'banner-title', text: t('settingsDamaged.title') }),
      h('p', { text: t('settingsDamaged.body', { reason }) }),
      d.movedTo
        ? h('p', { class: 'banner-meta' }, t('settingsDamaged.keptAs'), ' ', h('code', { class: 'mono', testid: 'settings-damaged-path', text: d.movedTo }))
        : h('p', { class: 'banner-meta' }, t('settingsDamaged.notMoved'), ' ', h('code', { class: 'mono', testid: 'settings-damaged-path', text: d.path })),
      h('p', { class: 'banner-meta', text: t('settingsDamaged.hint', { file: d.path }) })),
    button({ label: t('common.dismiss'), icon: 'x', variant: 'ghost', size: 'sm', iconOnly: true, testid: 'btn-dismiss-settings-damaged',
      onClick: () => setUi({ dismissedDamagedSettingsAt: d.at }) }));
}

export function offlineBanner(session) {
  const off = session?.offline;
  if (session?.state !== 'offline' || !off) return null;
  return h('div', { class: 'banner banner-info', testid: 'offline-banner' },
    icon('wifiOff', { cls: 'banner-icon' }),
    h('div', { class: 'banner-body' },
      h('p', { class: 'banner-title', text: t('offline.title') }),
      h('p', {},
        off.nextRetryAt
          ? [t('offline.nextRetry', { time: fmtTime(off.nextRetryAt) }), ' · ',
            countdown(off.nextRetryAt, { testid: 'offline-retry-in', cls: 'inline', doneKey: 'offline.retrying' })]
          : null),
      off.message ? h('p', { class: 'banner-meta', text: off.message }) : null,
      off.since ? h('p', { class: 'banner-meta', text: t('offline.since', { time: fmtDateTime(off.since) }) }) : null));
}

/** A refresh that failed for a reason other than the network: the session is kept and retried. */
export function retryBanner(session) {
  const retry = session?.retry;
  if (session?.state !== 'signed-in' || !retry) return null;
  return h('div', { class: 'banner banner-warning', testid: 'retry-banner' },
    icon('rotate', { cls: 'banner-icon' }),
    h('div', { class: 'banner-body' },
      h('p', { class: 'banner-title', text: t('retry.title') }),
      h('p', {},
        retry.nextRetryAt
          ? [t('retry.next', { time: fmtTime(retry.nextRetryAt), attempts: retry.attempts ?? 1 }), ' · ',
            countdown(retry.nextRetryAt, { testid: 'retry-in', cls: 'inline', doneKey: 'offline.retrying' })]
          : null),
      retry.message ? h('p', { class: 'banner-meta', text: retry.message }) : null));
}
