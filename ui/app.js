// Entry point: mount the frame, load the snapshot, re-render on every `state` event.

import { available, onState } from './ipc.js';
import { store, subscribe, setSnapshot, run, setUi } from './store.js';
import { setLocale, t } from './i18n.js';
import { mountShell, renderShell } from './render/shell.js';
import { mountToasts } from './toast.js';
import { startClock } from './clock.js';
import { installShortcuts } from './shortcuts.js';
import { h } from './dom.js';

const shell = mountShell(document.getElementById('app'));
mountToasts();
installShortcuts();

function applyDocument(snap) {
  setLocale(snap.locale);
  const html = document.documentElement;
  html.lang = snap.locale === 'zh-CN' ? 'zh-CN' : 'en';
  if (snap.theme === 'light' || snap.theme === 'dark') html.dataset.theme = snap.theme;
  else delete html.dataset.theme;
  document.title = t('app.name');
}

// Marks for scripts/bench-app.sh, read over WebDriver: the first snapshot rendered, and the first
// signed-in view (a session restored from the keyring, or a sign-in).
const marked = new Set();
function markOnce(name) {
  if (marked.has(name)) return;
  marked.add(name);
  performance.mark(name);
}

subscribe(({ snap }) => {
  if (!snap) return;
  applyDocument(snap);
  renderShell(shell, snap);
  markOnce('first-content');
  if (snap.session?.state === 'signed-in') markOnce('signed-in');
});

// Close the profile menu on a click anywhere else.
document.addEventListener('pointerdown', (e) => {
  if (store.ui.profileMenu && !e.target.closest('.profile-menu-wrap')) setUi({ profileMenu: false });
});

async function boot() {
  if (!available()) {
    shell.main.replaceChildren(h('div', { class: 'page' }, h('div', { class: 'banner banner-danger', role: 'alert', testid: 'error-banner' },
      h('div', { class: 'banner-body' }, h('p', { class: 'banner-title', text: 'The Tauri API is not available.' })))));
    return;
  }
  await onState(setSnapshot);
  const res = await run('get_state', undefined, { busy: null });
  if (!res.ok && !store.snap) {
    shell.main.replaceChildren(h('div', { class: 'page' }, h('div', { class: 'banner banner-danger', role: 'alert', testid: 'error-banner' },
      h('div', { class: 'banner-body' }, h('p', { class: 'banner-title', text: res.error.message })))));
    return;
  }
  startClock();
}

boot();
