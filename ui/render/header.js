// The app bar: brand, DEMO badge, storage warning, profile switcher, language, theme, About.

import { h } from '../dom.js';
import { t } from '../i18n.js';
import { run, setUi, store } from '../store.js';
import { confirmDialog } from '../dialog.js';
import { openProfileDialog } from './profile-form.js';
import { openAboutDialog } from './about.js';
import { button, badge, icon, hostOf } from './widgets.js';

export function renderHeader(snap) {
  const active = snap.profiles?.find((p) => p.id === snap.activeProfileId) ?? null;
  return [
    h('div', { class: 'brand' },
      h('img', { class: 'brand-logo', src: 'assets/logo.svg', alt: '', width: '24', height: '24' }),
      h('span', { class: 'brand-name', text: t('app.name') })),
    snap.demo ? badge(t('demo.badge'), 'demo', 'flask', { testid: 'demo-badge', title: t('demo.badgeTitle') }) : null,
    h('div', { class: 'appbar-spacer' }),
    snap.storage?.backend === 'file'
      ? badge(t('storage.notEncrypted'), 'warning', 'unlock', { testid: 'storage-file-warning', title: t('storage.fileTooltip') })
      : null,
    snap.activeProfileId ? profileSwitcher(snap, active) : null,
    languageSelect(snap),
    themeSwitch(snap),
    button({ label: t('about.button'), icon: 'info', variant: 'ghost', iconOnly: true, testid: 'btn-about', onClick: () => openAboutDialog() }),
  ];
}

function profileSwitcher(snap, active) {
  const open = store.ui.profileMenu;
  const trigger = h(
    'button',
    {
      type: 'button',
      class: 'profile-trigger',
      testid: 'profile-switcher',
      // A disclosure: it shows and hides the list below (no menu roles, so no aria-haspopup).
      'aria-expanded': String(open),
      'aria-controls': 'profile-menu',
      'aria-label': t('profiles.switcherLabel', { name: active?.name ?? '' }),
      onClick: () => setUi({ profileMenu: !store.ui.profileMenu, focusAfterRender: store.ui.profileMenu ? 't:profile-switcher:' : 'menu-first' }),
    },
    icon('server'),
    h('span', { class: 'profile-trigger-text' },
      h('span', { class: 'profile-trigger-name', text: active?.name ?? t('profiles.none') })),
    icon('chevronDown', { cls: 'chev' }),
  );
  return h('div', {
    class: 'profile-menu-wrap',
    // Tabbing out closes the menu (relatedTarget is null when a re-render moved focus: ignore that).
    onFocusout: (e) => {
      if (store.ui.profileMenu && e.relatedTarget && !e.currentTarget.contains(e.relatedTarget)) setUi({ profileMenu: false });
    },
  }, trigger, open ? profileMenu(snap) : null);
}

function closeMenu(focusTrigger = true) {
  setUi({ profileMenu: false, focusAfterRender: focusTrigger ? 't:profile-switcher:' : null });
}

function profileMenu(snap) {
  const rows = (snap.profiles ?? []).map((p) => {
    const isActive = p.id === snap.activeProfileId;
    return h('li', { class: ['menu-row', isActive && 'is-active'] },
      h('button', {
        type: 'button',
        class: 'menu-item',
        testid: 'profile-item',
        'data-uid': p.id,
        'aria-current': isActive ? 'true' : null,
        onClick: async () => {
          closeMenu();
          if (!isActive) await run('switch_profile', { id: p.id });
        },
      },
      h('span', { class: 'menu-check' }, isActive ? icon('check') : null),
      h('span', { class: 'menu-text' },
        h('span', { class: 'menu-title', text: p.name }),
        h('span', { class: 'menu-sub', text: `${hostOf(p.server)} · ${p.appCode}` }))),
      button({ label: t('profiles.editNamed', { name: p.name }), icon: 'edit', variant: 'ghost', size: 'sm', iconOnly: true, testid: 'btn-edit-profile', extra: { 'data-uid': p.id },
        onClick: () => { closeMenu(false); openProfileDialog(p); } }),
      button({ label: t('profiles.deleteNamed', { name: p.name }), icon: 'trash', variant: 'ghost', size: 'sm', iconOnly: true, testid: 'btn-delete-profile', extra: { 'data-uid': p.id, class: 'btn btn-ghost btn-sm btn-icon btn-danger-ghost' },
        onClick: () => { closeMenu(false); confirmDeleteProfile(p); } }));
  });
  return h('div', {
    class: 'menu', id: 'profile-menu', role: 'group', 'aria-label': t('profiles.menuLabel'),
    onKeydown: (e) => {
      if (e.key === 'Escape') { e.preventDefault(); closeMenu(); }
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        const items = [...e.currentTarget.querySelectorAll('.menu-item, .menu-add')];
        const i = items.indexOf(document.activeElement);
        if (i === -1) return;
        e.preventDefault();
        items[(i + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length].focus();
      }
    },
  },
  h('div', { class: 'menu-heading', text: t('profiles.heading') }),
  h('ul', { class: 'menu-list' }, rows),
  h('div', { class: 'menu-sep' }),
  h('button', { type: 'button', class: 'menu-add', testid: 'btn-add-profile', key: 'menu-add',
    onClick: () => { closeMenu(false); openProfileDialog(null); } }, icon('plus'), h('span', { text: t('profiles.add') })));
}

export function confirmDeleteProfile(p) {
  confirmDialog({
    title: t('profiles.deleteTitle', { name: p.name }),
    body: [t('profiles.deleteBody')],
    confirmLabel: t('profiles.deleteConfirm'),
    confirmTestid: 'btn-confirm-delete',
    icon: 'trash',
    testid: 'dialog-delete-profile',
    onConfirm: () => run('delete_profile', { id: p.id }),
  });
}

function languageSelect(snap) {
  const sel = h('select', {
    class: 'select-input', testid: 'lang-switch', 'aria-label': t('prefs.language'), title: t('prefs.language'),
    value: snap.localePreference ?? 'system',
    onChange: (e) => run('set_preferences', { prefs: { locale: e.target.value } }, { busy: 'prefs' }),
  },
  h('option', { value: 'system', text: t('prefs.langSystem') }),
  h('option', { value: 'zh-CN', lang: 'zh-CN', text: '中文' }),
  h('option', { value: 'en', lang: 'en', text: 'English' }));
  return h('div', { class: 'select select-compact' }, icon('globe', { cls: 'select-icon' }), sel, icon('chevronDown', { cls: 'select-chev' }));
}

function themeSwitch(snap) {
  const current = snap.theme ?? 'system';
  const opt = (value, ic) => h('button', {
    type: 'button', class: 'seg-btn', testid: `theme-${value}`,
    'aria-pressed': String(current === value),
    'aria-label': t(`prefs.theme.${value}`), title: t(`prefs.theme.${value}`),
    onClick: () => current !== value && run('set_preferences', { prefs: { theme: value } }, { busy: 'prefs' }),
  }, icon(ic));
  return h('div', { class: 'seg', role: 'group', 'aria-label': t('prefs.theme'), testid: 'theme-switch' },
    opt('system', 'monitor'), opt('light', 'sun'), opt('dark', 'moon'));
}
