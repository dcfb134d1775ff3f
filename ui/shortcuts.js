// Keyboard shortcuts of a desktop app, and the web view's browser habits turned off: Ctrl+R
// refreshes the access token instead of reloading the page, and the default context menu
// (Reload, Back) shows only where text is edited or selected. Listed in the About dialog.

import { showView } from './render/shell.js';

/** [keys, what] for the About dialog; `what` is an i18n key. */
export const SHORTCUTS = [
  ['Ctrl+1', 'shortcut.account'],
  ['Ctrl+2', 'shortcut.support'],
  ['Ctrl+3', 'shortcut.audit'],
  ['Ctrl+F', 'shortcut.find'],
  ['Ctrl+R', 'shortcut.refresh'],
  ['Ctrl+Shift+C', 'shortcut.copy'],
  ['Ctrl+= / Ctrl+- / Ctrl+0', 'shortcut.zoom'],
];

const VIEWS = { 1: 'account', 2: 'support', 3: 'audit' };

/** Clicks the control with this test id when it is there and enabled. */
function press(testid) {
  const el = document.querySelector(`[data-testid="${testid}"]`);
  if (el && !el.disabled) el.click();
}

function onKey(e) {
  const ctrl = e.ctrlKey || e.metaKey;
  if (e.key === 'F5' || (ctrl && !e.shiftKey && e.key.toLowerCase() === 'r')) {
    // Never a reload: the page holds no state worth reloading and would flash.
    e.preventDefault();
    press('btn-refresh');
    return;
  }
  if (!ctrl || e.altKey) return;
  if (!e.shiftKey && VIEWS[e.key]) {
    e.preventDefault();
    showView(VIEWS[e.key]);
    return;
  }
  if (!e.shiftKey && e.key.toLowerCase() === 'f') {
    const field = document.querySelector('[data-testid="support-filter"], [data-testid="audit-search"]');
    if (field) {
      e.preventDefault();
      field.focus();
      field.select();
    }
    return;
  }
  if (e.shiftKey && e.key.toLowerCase() === 'c') {
    e.preventDefault();
    press('btn-copy-access');
  }
}

function onContextMenu(e) {
  const editable = e.target.closest?.('input, textarea, [contenteditable=""], [contenteditable="true"]');
  const selected = String(window.getSelection?.() ?? '').length > 0;
  if (!editable && !selected) e.preventDefault();
}

export function installShortcuts() {
  document.addEventListener('keydown', onKey);
  document.addEventListener('contextmenu', onContextMenu);
}
