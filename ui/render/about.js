// The About dialog: version, build commit, licence, and the server and project links
// (`app_info`). Links are text: the web view never navigates; "Open" asks Rust to hand the
// URL to the system browser (`open_about_link`), and the text stays selectable.

import { h } from '../dom.js';
import { t } from '../i18n.js';
import { invoke } from '../ipc.js';
import { openModal } from '../dialog.js';
import { store } from '../store.js';
import { copyText } from '../clipboard.js';
import { toast } from '../toast.js';
import { button } from './widgets.js';
import { SHORTCUTS } from '../shortcuts.js';

/** The server's clock is this far off ours before About mentions it. */
const CLOCK_NOTE_MS = 30_000;

export function openAboutDialog() {
  return openModal({
    title: t('about.title'),
    testid: 'dialog-about',
    icon: 'info',
    build(ctx) {
      const facts = h('dl', { class: 'kv about-facts', testid: 'about-facts' },
        h('dt', { text: t('about.version') }), h('dd', { class: 'muted', text: t('about.loading') }));
      const head = h('div', { class: 'about-head' },
        h('img', { class: 'about-logo', src: 'assets/logo.svg', alt: '', width: '48', height: '48' }),
        h('div', {},
          h('p', { class: 'about-name', text: t('app.name') }),
          h('p', { class: 'about-tagline', text: t('about.tagline') })));
      invoke('app_info').then(
        (info) => facts.replaceChildren(...rows(info, ctx)),
        (err) => ctx.setError(err?.message ?? t('about.unavailable')),
      );
      const close = button({ label: t('common.close'), variant: 'secondary', testid: 'btn-about-close', extra: { 'data-autofocus': '' }, onClick: () => ctx.close() });
      return { body: [head, facts, dashboardLinks(ctx), shortcutList(), tools(ctx)].filter(Boolean), actions: [close] };
    },
  });
}

/** Opens one of the links Rust knows by name; failures go to the dialog's error line. */
async function openLink(ctx, link) {
  ctx.setError(null);
  try {
    await invoke('open_about_link', { link });
  } catch (err) {
    ctx.setError(err?.message ?? t('error.generic'));
  }
}

/** The GeniusAuth dashboard pages for what the app cannot reach with app credentials. */
function dashboardLinks(ctx) {
  if (!store.snap?.activeProfileId) return null;
  const item = (link, key, hint) => h('li', {},
    button({ label: t(key), icon: 'external', variant: 'ghost', size: 'sm', testid: `btn-open-${link}`,
      extra: { title: t(hint) }, onClick: () => openLink(ctx, link) }));
  return h('section', { class: 'about-section', 'aria-labelledby': 'about-dashboard-title', 'aria-describedby': 'about-dashboard-hint' },
    h('h3', { id: 'about-dashboard-title', class: 'about-section-title', text: t('about.dashboardTitle') }),
    h('p', { id: 'about-dashboard-hint', class: 'muted small', text: t('about.dashboardHint') }),
    h('ul', { class: 'about-links' },
      item('dashboard-profile', 'about.dashboardProfile', 'about.dashboardProfileHint'),
      item('dashboard-dev', 'about.dashboardDev', 'about.dashboardDevHint'),
      item('dashboard', 'about.dashboardHome', 'about.dashboardHomeHint')));
}

/** The keyboard shortcuts (ui/shortcuts.js). */
function shortcutList() {
  return h('section', { class: 'about-section', 'aria-labelledby': 'about-keys-title' },
    h('h3', { id: 'about-keys-title', class: 'about-section-title', text: t('about.shortcuts') }),
    h('dl', { class: 'kv about-keys', testid: 'about-shortcuts' },
      SHORTCUTS.flatMap(([keys, what]) => [h('dt', {}, h('kbd', { text: keys })), h('dd', { text: t(what) })])));
}

/** Diagnostics for a bug report (no secrets) and the log folder. */
function tools(ctx) {
  return h('div', { class: 'about-tools' },
    button({ label: t('about.openLogs'), icon: 'external', variant: 'secondary', size: 'sm', testid: 'btn-open-logs',
      onClick: async () => {
        ctx.setError(null);
        try {
          await invoke('open_log_folder');
        } catch (err) {
          ctx.setError(err?.message ?? t('error.generic'));
        }
      } }),
    button({ label: t('about.copyDiagnostics'), icon: 'copy', variant: 'secondary', size: 'sm', testid: 'btn-copy-diagnostics',
      onClick: async () => {
        ctx.setError(null);
        try {
          const facts = await invoke('diagnostics');
          const ok = await copyText(JSON.stringify(facts, null, 2));
          toast(ok ? t('toast.copiedDiagnostics') : t('toast.copyFailed'), {});
        } catch (err) {
          ctx.setError(err?.message ?? t('error.generic'));
        }
      } }));
}

/** The measured offset of the active server's clock, when it is large enough to matter. */
function clockRows(clock) {
  const offset = Number(clock?.offsetMs ?? 0);
  if (!clock?.measured || Math.abs(offset) < CLOCK_NOTE_MS) return [];
  const key = offset > 0 ? 'about.clockBehind' : 'about.clockAhead';
  return [h('dt', { text: t('about.clock') }),
    h('dd', { testid: 'about-clock', text: t(key, { secs: Math.round(Math.abs(offset) / 1000) }) })];
}

function rows(info, ctx) {
  const link = (which, url) => h('span', { class: 'about-link' },
    h('span', { class: 'mono about-url', testid: `about-${which}`, text: url }),
    button({
      label: t('about.openLink', { url }), icon: 'external', variant: 'ghost', size: 'sm', iconOnly: true, testid: `btn-about-open-${which}`,
      onClick: () => openLink(ctx, which),
    }));
  return [
    h('dt', { text: t('about.version') }), h('dd', { class: 'mono', testid: 'about-version', text: info.version }),
    h('dt', { text: t('about.commit') }), h('dd', { class: 'mono', testid: 'about-commit', text: info.commit }),
    h('dt', { text: t('about.license') }), h('dd', { testid: 'about-license', text: info.license }),
    h('dt', { text: t('about.server') }), h('dd', {}, link('server', info.server)),
    ...clockRows(store.snap?.clock),
    h('dt', { text: t('about.repository') }), h('dd', {}, link('repository', info.repository)),
  ];
}
