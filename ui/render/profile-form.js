// The profile form: on the setup screen and in the add/edit dialog.
// Validation mirrors crates/account/src/profile.rs so mistakes show inline before sending.

import { h, keyOf, restoreFocus } from '../dom.js';
import { t, getLocale } from '../i18n.js';
import { run, store } from '../store.js';
import { openModal } from '../dialog.js';
import { button, field, icon, setFieldError, hostOf, setButtonBusy } from './widgets.js';

export const PRESETS = [
  { id: 'production', server: 'https://v.ncuos.com' },
  { id: 'prerelease', server: 'https://v.ncuhome.club' },
  { id: 'emulator', server: 'http://127.0.0.1:4780' },
  { id: 'custom', server: '' },
];
// The dashboard registers plain-http callbacks on host localhost only; the app listens on
// 127.0.0.1 and ::1 for it (and on just that address for a 127.0.0.1 or [::1] callback).
export const DEFAULT_CALLBACK = 'http://localhost:47150/callback';
const CALLBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

const presetFor = (server) => PRESETS.find((p) => p.server && p.server === String(server ?? '').trim().replace(/\/+$/, ''))?.id ?? 'custom';
const presetName = (id) => (id === 'custom' ? '' : t(`preset.${id}.name`));

export function newFormState(profile) {
  const preset = profile ? presetFor(profile.server) : 'production';
  return {
    id: profile?.id ?? null,
    hasSecret: Boolean(profile?.hasSecret),
    preset,
    values: {
      name: profile?.name ?? presetName(preset),
      server: profile?.server ?? PRESETS[0].server,
      appCode: profile?.appCode ?? '',
      callback: profile?.callback ?? DEFAULT_CALLBACK,
      appSecret: '',
    },
    touched: {},
    submitted: false,
    serverErrors: {},
    formError: null,
  };
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export function validate(state) {
  const v = state.values;
  const e = {};
  const name = v.name.trim();
  if (!name) e.name = t('form.err.nameEmpty');
  else if ([...name].length > 64) e.name = t('form.err.nameLong');

  let u = null;
  try { u = new URL(v.server.trim()); } catch { /* invalid */ }
  if (!v.server.trim()) e.server = t('form.err.serverEmpty');
  else if (!u || !/^https?:$/.test(u.protocol) || !u.host) e.server = t('form.err.serverUrl');
  else if (u.protocol === 'http:' && !LOOPBACK.has(u.hostname)) e.server = t('form.err.serverHttps');

  if (!v.appCode.trim()) e.appCode = t('form.err.appCodeEmpty');
  else if (!/^[A-Za-z0-9]{8}$/.test(v.appCode.trim())) e.appCode = t('form.err.appCode');

  let c = null;
  try { c = new URL(v.callback.trim()); } catch { /* invalid */ }
  if (!c || c.protocol !== 'http:' || !CALLBACK_HOSTS.has(c.hostname) || !c.port) e.callback = t('form.err.callback');

  if (v.appSecret.length > 0 && !v.appSecret.trim()) e.appSecret = t('form.err.secretBlank');
  return e;
}

/**
 * The form element. `state` is a persistent object (survives re-renders); the form redraws
 * itself on discrete changes (preset, submit) and updates messages in place while typing.
 */
export function profileForm(state, { idPrefix, submitLabel, onCancel, onSaved }) {
  let el = build();
  state.node = el;
  state.locale = getLocale();

  function refresh() {
    const key = keyOf(document.activeElement);
    const next = build();
    el.replaceWith(next);
    el = next;
    state.node = el;
    if (key) restoreFocus(next, key);
  }

  function errorsToShow() {
    const all = validate(state);
    const shown = {};
    for (const [k, msg] of Object.entries(all)) if (state.submitted || state.touched[k]) shown[k] = msg;
    for (const [k, msg] of Object.entries(state.serverErrors)) shown[k] ??= msg;
    return shown;
  }

  function input(name, props = {}) {
    const control = h('input', {
      class: 'input', name, key: `${idPrefix}-${name}`, testid: props.testid, value: state.values[name],
      autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', ...props.attrs,
    });
    control.addEventListener('input', () => {
      state.values[name] = control.value;
      delete state.serverErrors[name];
      if (name === 'server') state.preset = presetFor(control.value);
      if (state.touched[name] || state.submitted) setFieldError(control, validate(state)[name]);
    });
    control.addEventListener('blur', () => {
      if (!control.value && !state.submitted && name !== 'appSecret') return; // don't scold an untouched empty field
      state.touched[name] = true;
      setFieldError(control, validate(state)[name] ?? state.serverErrors[name]);
    });
    return control;
  }

  function build() {
    const errs = errorsToShow();
    const isNew = !state.id;
    const pid = (n) => `${idPrefix}-${n}`;

    const presetOptions = PRESETS.map((p) => {
      const radio = h('input', {
        type: 'radio', name: `${idPrefix}-preset`, value: p.id, class: 'preset-radio', key: pid(`preset-${p.id}`),
        testid: `preset-${p.id}`, checked: state.preset === p.id,
      });
      radio.addEventListener('change', () => {
        const prevDefault = presetName(state.preset);
        state.preset = p.id;
        if (p.server) state.values.server = p.server;
        if (!state.values.name.trim() || state.values.name === prevDefault) state.values.name = presetName(p.id);
        delete state.serverErrors.server;
        refresh();
        if (p.id === 'custom') el.querySelector(`#${pid('server')}`)?.focus();
      });
      return h('label', { class: 'preset' }, radio,
        h('span', { class: 'preset-body' },
          h('span', { class: 'preset-title', text: t(`preset.${p.id}`) }),
          h('span', { class: ['preset-host', !p.server && 'preset-host-text'], text: p.server ? hostOf(p.server) : t('preset.customHint') })));
    });

    const serverInput = input('server', { testid: 'profile-server', attrs: { type: 'url', inputmode: 'url', placeholder: 'https://', readOnly: state.preset !== 'custom' } });
    const secretPlaceholder = !isNew && state.hasSecret ? t('form.secretKeep') : t('form.secretPlaceholder');

    const form = h('form', { class: 'form', novalidate: true, testid: 'profile-form' },
      state.formError ? h('div', { class: 'inline-alert', role: 'alert' }, icon('alertCircle'), h('span', { text: state.formError })) : null,
      h('fieldset', { class: 'presets-fieldset' },
        h('legend', { class: 'field-label', text: t('form.server') }),
        h('div', { class: 'presets' }, presetOptions)),
      field({ id: pid('server'), label: t('form.serverUrl'), control: serverInput, error: errs.server,
        hint: state.preset === 'custom' ? t('form.serverHint') : null }),
      field({ id: pid('name'), label: t('form.name'), control: input('name', { testid: 'profile-name', attrs: { maxlength: '64' } }), error: errs.name }),
      h('div', { class: 'form-row' },
        field({ id: pid('appCode'), label: t('form.appCode'), hint: t('form.appCodeHint'), error: errs.appCode,
          control: input('appCode', { testid: 'profile-appcode', attrs: { maxlength: '8', class: 'input mono', placeholder: 'Ab3dE6g8' } }) }),
        field({ id: pid('appSecret'), label: t('form.appSecret'), error: errs.appSecret,
          hint: !isNew && state.hasSecret ? t('form.secretKeepHint') : t('form.secretHint'),
          optional: isNew || !state.hasSecret ? false : true,
          control: input('appSecret', { testid: 'profile-secret', attrs: { type: 'password', autocomplete: 'new-password', placeholder: secretPlaceholder } }) })),
      field({ id: pid('callback'), label: t('form.callback'), hint: t('form.callbackHint'), error: errs.callback,
        control: input('callback', { testid: 'profile-callback', attrs: { type: 'url', class: 'input mono', placeholder: DEFAULT_CALLBACK } }) }),
      h('div', { class: 'form-actions' },
        onCancel ? button({ label: t('common.cancel'), variant: 'secondary', onClick: onCancel, testid: 'btn-profile-cancel' }) : null,
        button({ label: submitLabel, variant: 'primary', type: 'submit', busy: 'profile', testid: 'btn-save-profile', icon: isNew ? 'arrowRight' : 'check', extra: { 'data-primary': '' } })));

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      state.submitted = true;
      state.formError = null;
      const errors = validate(state);
      if (Object.keys(errors).length) {
        refresh();
        el.querySelector('[aria-invalid="true"]')?.focus();
        return;
      }
      const submit = form.querySelector('[type="submit"]');
      setButtonBusy(submit, true);
      await save(state, onSaved, refresh);
      setButtonBusy(submit, false);
    });
    return form;
  }

  return el;
}

async function save(state, onSaved, refresh) {
  const v = state.values;
  const profile = { name: v.name.trim(), server: v.server.trim().replace(/\/+$/, ''), appCode: v.appCode.trim(), callback: v.callback.trim() };
  if (state.id) profile.id = state.id;
  if (v.appSecret) profile.appSecret = v.appSecret; // absent = keep the stored secret
  const before = new Set((store.snap?.profiles ?? []).map((p) => p.id));
  const res = await run('save_profile', { profile });
  if (!res.ok) {
    const f = res.error.field;
    if (f && f in state.values) state.serverErrors[f] = res.error.message;
    else state.formError = res.error.message;
    refresh();
    return;
  }
  state.values.appSecret = '';
  // A new profile on first run: make it the active one if Rust did not already.
  const snap = store.snap;
  if (!state.id && snap && !snap.activeProfileId) {
    const added = snap.profiles.find((p) => !before.has(p.id));
    if (added) await run('switch_profile', { id: added.id });
  }
  onSaved?.();
}

export function openProfileDialog(profile) {
  const state = newFormState(profile);
  openModal({
    title: profile ? t('profiles.editTitle') : t('profiles.addTitle'),
    icon: profile ? 'edit' : 'plus',
    testid: 'dialog-profile',
    wide: true,
    backdropClose: false, // a stray click must not throw away what was typed
    build(ctx) {
      const form = profileForm(state, {
        idPrefix: 'dlg',
        submitLabel: profile ? t('form.save') : t('form.add'),
        onCancel: () => ctx.close(),
        onSaved: () => ctx.close(),
      });
      return { body: [form], actions: [] };
    },
  });
}
