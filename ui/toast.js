// Short, polite notifications ("Copied").

import { h } from './dom.js';
import { icon } from './render/widgets.js';

let region;

export function mountToasts() {
  region = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'false', testid: 'toasts' });
  document.body.append(region);
}

export function toast(text, { tone = 'success', ms = 2400 } = {}) {
  if (!region) mountToasts();
  const el = h('div', { class: ['toast', `toast-${tone}`], testid: 'toast' },
    icon(tone === 'success' ? 'checkCircle' : 'info'), h('span', { text }));
  region.append(el);
  setTimeout(() => {
    el.classList.add('is-leaving');
    setTimeout(() => el.remove(), 200);
  }, ms);
}
