// The window frame (app bar, sidebar, scrolling main) and what goes into it for a snapshot.

import { h, patch, findByKey } from '../dom.js';
import { t } from '../i18n.js';
import { store, setUi, currentError } from '../store.js';
import { mountAnnouncer, noteSnapshot } from '../announce.js';
import { renderHeader } from './header.js';
import { renderSetup } from './setup.js';
import { renderSignedOut, renderExpired } from './signin.js';
import { renderSession } from './session.js';
import { errorBanner, storageBanner, damagedSettingsBanner, offlineBanner, retryBanner } from './banners.js';
import { icon } from './widgets.js';
import { renderSupport } from './support.js';
import { renderAudit } from './audit.js';

export function mountShell(root) {
  const appbar = h('header', { class: 'appbar', testid: 'appbar' });
  const sidebar = h('nav', { class: 'sidebar', testid: 'sidebar' });
  const main = h('main', { class: 'content', id: 'main', tabindex: '-1' });
  const stateEl = h('span', { class: 'sr-only', testid: 'session-state', 'aria-hidden': 'true' });
  root.replaceChildren(appbar, h('div', { class: 'frame' }, sidebar, main), stateEl);
  // The one live region: outside everything that is re-rendered (ui/announce.js).
  const announcer = mountAnnouncer(root);
  return { root, appbar, sidebar, main, stateEl, announcer };
}

export const sessionState = (snap) => snap?.session?.state ?? 'signed-out';

export function renderShell(shell, snap) {
  const setup = !snap.activeProfileId;
  const ui = store.ui;
  noteSnapshot(snap, currentError());
  if (ui.editing && snap.session?.state !== 'signed-in' && snap.session?.state !== 'offline') ui.editing = null;
  if (setup) ui.profileMenu = false;
  shell.root.classList.toggle('is-setup', setup);
  shell.stateEl.textContent = sessionState(snap);
  shell.sidebar.setAttribute('aria-label', t('nav.label'));
  patch(shell.appbar, renderHeader(snap));
  shell.appbar.classList.toggle('is-crowded', Boolean(snap.demo || snap.storage?.backend === 'file'));
  patch(shell.sidebar, setup ? [] : renderSidebar(snap));
  patch(shell.main, renderMain(snap));

  const want = store.ui.focusAfterRender;
  if (want) {
    store.ui.focusAfterRender = null;
    const el = want === 'menu-first'
      ? document.querySelector('#profile-menu .menu-item')
      : findByKey(document, want);
    el?.focus();
  }
}

function renderSidebar(snap) {
  const state = sessionState(snap);
  const view = currentView();
  const item = (id, ic, label, current, soon) => h('li', {},
    h('button', {
      type: 'button', class: ['nav-item', current && 'is-current'], testid: `nav-${id}`,
      'aria-keyshortcuts': VIEW_SHORTCUTS[id],
      'aria-current': current ? 'page' : null, disabled: soon, title: soon ? t('nav.soon') : label,
      onClick: soon ? null : () => showView(id),
    }, icon(ic), h('span', { class: 'nav-label', text: label }), soon ? h('span', { class: 'nav-soon', text: t('nav.soonShort') }) : null));
  return [
    h('ul', { class: 'nav-list' },
      item('account', 'userCircle', t('nav.account'), view === 'account'),
      item('support', 'lifeBuoy', t('nav.support'), view === 'support'),
      item('audit', 'fileText', t('nav.audit'), view === 'audit')),
    h('div', { class: 'sidebar-foot' },
      h('p', { class: ['status', `status-${state}`], testid: 'status-label' },
        h('span', { class: 'status-dot', 'aria-hidden': 'true' }),
        h('span', { class: 'nav-label', text: t(`state.${state}`) })),
      h('p', { class: 'sidebar-meta nav-label', text: t(storageLabel(snap.storage?.backend)) })),
  ];
}

/** Where the active profile's secrets are kept, as the sidebar says it. */
const storageLabel = (backend) =>
  ({ file: 'storage.backendFile', memory: 'storage.backendMemory' })[backend] ?? 'storage.backendKeyring';

/** Ctrl+1/2/3 (ui/shortcuts.js) for the three pages. */
const VIEW_SHORTCUTS = { account: 'Control+1', support: 'Control+2', audit: 'Control+3' };

/** The page the sidebar shows: `account` (default), `support` or `audit`. */
const currentView = () => store.ui.view ?? 'account';

export function showView(id) {
  if (currentView() === id) return;
  store.ui.view = id;
  store.ui.focusAfterRender = null;
  const main = document.getElementById('main');
  if (main) main.scrollTop = 0;
  setUi({});
  queueMicrotask(() => document.querySelector('#main h1')?.focus({ preventScroll: true }));
}

function renderMain(snap) {
  const banners = h('div', { class: 'banners' }, damagedSettingsBanner(snap), storageBanner(snap));
  const alert = h('div', { class: 'sticky-alert' }, errorBanner());
  if (!snap.activeProfileId) {
    return h('div', { class: 'page page-setup' }, alert, banners, renderSetup(snap));
  }
  const view = currentView();
  if (view === 'support' || view === 'audit') {
    return h('div', { class: 'page page-wide', 'data-view': view },
      alert, banners, view === 'support' ? renderSupport(snap) : renderAudit(snap));
  }
  const profile = snap.profiles?.find((p) => p.id === snap.activeProfileId) ?? null;
  const s = snap.session;
  const state = sessionState(snap);
  let body;
  if (state === 'signed-in' || state === 'offline') body = renderSession(snap, profile);
  else if (state === 'expired') body = [renderExpired(snap), renderSignedOut(snap, profile)];
  else body = renderSignedOut(snap, profile);

  return h('div', { class: 'page', 'data-state': state },
    alert,
    h('div', { class: 'page-head' },
      h('h1', { tabindex: '-1', text: t('nav.account') }),
      statusPill(state)),
    banners,
    offlineBanner(s),
    retryBanner(s),
    body);
}

function statusPill(state) {
  const ic = { 'signed-in': 'checkCircle', 'signed-out': 'user', expired: 'ban', offline: 'wifiOff' }[state];
  return h('span', { class: ['pill', `pill-${state}`], testid: 'status-pill' }, icon(ic), h('span', { text: t(`state.${state}`) }));
}
