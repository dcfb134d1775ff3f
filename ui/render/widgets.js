// Small building blocks shared by the views.

import { h, svgIcon } from '../dom.js';
import { I } from '../icons.js';
import { isBusy } from '../store.js';
import { t, fmtCountdown } from '../i18n.js';

export const icon = (name, opts) => svgIcon(I[name], opts);

export function spinner() {
  return h('span', { class: 'spinner', 'aria-hidden': 'true' });
}

/**
 * A button. `busy` names an entry of snapshot.busy (or a UI-only busy key): while it is in
 * flight the button is disabled and shows a spinner in place of its icon.
 */
export function button({ label, icon: ic, variant = 'secondary', size, testid, key, busy, disabled, onClick, title, iconOnly, type = 'button', extra = {} }) {
  const working = busy ? isBusy(busy) : false;
  const el = h(
    'button',
    {
      type,
      class: ['btn', `btn-${variant}`, size && `btn-${size}`, iconOnly && 'btn-icon', working && 'is-busy'],
      testid,
      key,
      title: title ?? (iconOnly ? label : null),
      'aria-label': iconOnly ? label : null,
      'aria-busy': working ? 'true' : null,
      disabled: working || disabled,
      ...extra,
    },
    working ? spinner() : ic ? icon(ic) : null,
    iconOnly ? null : h('span', { class: 'btn-label', text: label }),
  );
  if (onClick) {
    el.addEventListener('click', (e) => {
      if (el.disabled) return;
      onClick(e);
    });
  }
  return el;
}

/** Toggle the busy look of a button that is not redrawn from the store (dialogs, forms). */
export function setButtonBusy(btn, on) {
  if (!btn) return;
  btn.disabled = on;
  btn.classList.toggle('is-busy', on);
  if (on) btn.setAttribute('aria-busy', 'true'); else btn.removeAttribute('aria-busy');
  const sp = btn.querySelector('.spinner');
  if (on && !sp) {
    btn.querySelector('.icon')?.setAttribute('hidden', '');
    btn.prepend(spinner());
  } else if (!on && sp) {
    sp.remove();
    btn.querySelector('.icon')?.removeAttribute('hidden');
  }
}

export function badge(text, tone = 'neutral', ic, extra = {}) {
  return h('span', { class: ['badge', `badge-${tone}`], ...extra }, ic ? icon(ic) : null, h('span', { text }));
}

/** Stable colour from an id, as a class (no inline styles under the CSP). */
function colourClass(seed) {
  const s = String(seed ?? '');
  let n = 0;
  for (const ch of s) n = (n * 31 + ch.codePointAt(0)) >>> 0;
  return `avatar-c${n % 8}`;
}

function initialsOf(user) {
  if (user?.initials) return user.initials;
  const name = (user?.name ?? '').trim();
  if (!name) return '?';
  const parts = name.split(/\s+/);
  if (parts.length > 1) return (parts[0][0] + parts[parts.length - 1][0]).toUpperCase();
  return [...name][0].toUpperCase();
}

/** Avatar: the data-URL image, or initials in a coloured circle (also if the image fails). */
const decodedAvatars = new Map();

export function avatar(user, { size = 'md', testid } = {}) {
  const box = h('span', { class: ['avatar', `avatar-${size}`, colourClass(user?.userId ?? user?.id ?? user?.name)], testid });
  const initials = () => {
    box.dataset.kind = 'initials';
    box.replaceChildren(h('span', { class: 'avatar-initials', 'aria-hidden': 'true', text: initialsOf(user) }));
  };
  const src = user?.avatar;
  if (typeof src === 'string' && src.startsWith('data:image/')) {
    box.dataset.kind = 'image';
    // Re-renders reuse the decoded image: a fresh <img> per render would blink while it decodes.
    let img = decodedAvatars.get(src);
    if (!img) {
      img = h('img', { src, alt: '' });
      decodedAvatars.set(src, img);
      if (decodedAvatars.size > 16) decodedAvatars.delete(decodedAvatars.keys().next().value);
    }
    if (img.dataset.broken) {
      initials();
      return box;
    }
    img.onerror = () => {
      img.dataset.broken = 'yes';
      initials();
    };
    box.append(img); // moved out of the previous render's tree
  } else {
    initials();
  }
  return box;
}

/** A live countdown to `at` (ms); clock.js updates it every second. */
export function countdown(at, { testid, cls, doneKey } = {}) {
  const left = at - Date.now();
  return h('span', {
    class: ['countdown', cls, left <= 0 && 'is-done'],
    role: 'timer',
    'data-countdown': String(at),
    'data-done-key': doneKey,
    testid,
    text: left > 0 ? fmtCountdown(left) : t(doneKey || 'time.expired'),
  });
}

/** Label + field + hint + inline error, wired with for= / aria-describedby. */
export function field({ id, label, control, hint, error, counter, optional }) {
  const hintId = hint ? `${id}-hint` : null;
  const errId = `${id}-error`;
  const target = control.matches('input, select, textarea') ? control : control.querySelector('input, select, textarea');
  target.id = id;
  const described = [hintId, errId, counter ? `${id}-counter` : null].filter(Boolean).join(' ');
  target.setAttribute('aria-describedby', described);
  if (error) target.setAttribute('aria-invalid', 'true');
  return h(
    'div',
    { class: 'field' },
    h('div', { class: 'field-head' },
      h('label', { for: id, class: 'field-label' }, label, optional ? h('span', { class: 'field-optional', text: t('common.optional') }) : null),
      counter ?? null),
    control,
    hint ? h('p', { class: 'field-hint', id: hintId, text: hint }) : null,
    h('p', { class: 'field-error', id: errId, role: 'status', hidden: !error }, icon('alertCircle'), h('span', { text: error ?? '' })),
  );
}

/** Show or clear the inline error of a field() in place (no re-render while typing). */
export function setFieldError(control, message) {
  const err = document.getElementById(`${control.id}-error`);
  if (message) control.setAttribute('aria-invalid', 'true');
  else control.removeAttribute('aria-invalid');
  if (!err) return;
  err.hidden = !message;
  err.lastElementChild.textContent = message ?? '';
}

/** Payload length in Unicode code points, as the server counts it. */
export const cpLength = (s) => [...(s ?? '')].length;
export const PAYLOAD_MAX = 32;

export function payloadCounter(id, value, testid) {
  const n = cpLength(value);
  return h('span', {
    class: ['counter', n > PAYLOAD_MAX && 'is-over'],
    id: `${id}-counter`,
    testid,
    'aria-live': 'polite',
    text: `${n}/${PAYLOAD_MAX}`,
  });
}

export function updateCounter(el, value) {
  const n = cpLength(value);
  el.textContent = `${n}/${PAYLOAD_MAX}`;
  el.classList.toggle('is-over', n > PAYLOAD_MAX);
}

export function visuallyHidden(text, extra = {}) {
  return h('span', { class: 'sr-only', text, ...extra });
}

export function hostOf(url) {
  try { return new URL(url).host; } catch { return url ?? ''; }
}
