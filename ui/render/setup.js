// First run (no active profile): welcome, "Try the demo", and the profile form.

import { h } from '../dom.js';
import { t, getLocale } from '../i18n.js';
import { run, store } from '../store.js';
import { newFormState, profileForm } from './profile-form.js';
import { button, icon, hostOf } from './widgets.js';

export function renderSetup(snap) {
  const ui = store.ui;
  ui.setupForm ??= newFormState(null);
  const form = ui.setupForm.node && ui.setupForm.locale === getLocale()
    ? ui.setupForm.node
    : profileForm(ui.setupForm, { idPrefix: 'setup', submitLabel: t('setup.save') });

  return h('div', { class: 'setup', testid: 'setup' },
    h('div', { class: 'setup-intro' },
      h('img', { class: 'setup-logo', src: 'assets/logo.svg', alt: '', width: '56', height: '56' }),
      h('h1', { tabindex: '-1', text: t('setup.welcome') }),
      h('p', { class: 'lead', text: t('setup.intro') }),
      h('section', { class: 'card demo-cta', 'aria-labelledby': 'demo-cta-title' },
        h('h2', { id: 'demo-cta-title', class: 'card-title', text: t('setup.demoTitle') }),
        h('p', { class: 'muted', text: t('setup.demoBody') }),
        button({ label: t('setup.demoBtn'), icon: 'play', variant: 'primary', size: 'lg', busy: 'demo', testid: 'btn-demo',
          extra: { class: 'btn btn-primary btn-lg btn-block' }, onClick: () => run('start_demo') })),
      snap.profiles?.length ? existingProfiles(snap) : null),
    h('section', { class: 'card setup-form-card', 'aria-labelledby': 'setup-form-title' },
      h('header', { class: 'card-head' },
        h('span', { class: 'card-head-icon' }, icon('server')),
        h('div', {},
          h('h2', { id: 'setup-form-title', class: 'card-title', text: t('setup.formTitle') }),
          h('p', { class: 'card-sub', text: t('setup.formSub') }))),
      form));
}

function existingProfiles(snap) {
  return h('section', { class: 'card existing', 'aria-labelledby': 'existing-title' },
    h('h2', { id: 'existing-title', class: 'card-title small-title', text: t('setup.existing') }),
    h('ul', { class: 'existing-list' },
      snap.profiles.map((p) => h('li', {},
        button({ label: `${p.name} · ${hostOf(p.server)}`, icon: 'arrowRight', variant: 'ghost', size: 'sm', busy: 'profile', testid: 'profile-item', extra: { 'data-uid': p.id },
          onClick: () => run('switch_profile', { id: p.id }) })))));
}
