// One timer for every live countdown on the page: the UI computes remaining time itself.

import { fmtCountdown, t } from './i18n.js';

function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll('[data-countdown]')) {
    const left = Number(el.dataset.countdown) - now;
    const text = left > 0 ? fmtCountdown(left) : t(el.dataset.doneKey || 'time.expired');
    if (el.textContent !== text) el.textContent = text;
    el.classList.toggle('is-done', left <= 0);
  }
  for (const el of document.querySelectorAll('progress[data-from]')) {
    const from = Number(el.dataset.from);
    const to = Number(el.dataset.to);
    const frac = to > from ? Math.max(0, Math.min(1, (to - now) / (to - from))) : 0;
    el.value = Math.round(frac * 1000);
  }
}

export function startClock() {
  tick();
  // Align to the second boundary so every countdown flips together.
  setTimeout(() => {
    tick();
    setInterval(tick, 1000);
  }, 1000 - (Date.now() % 1000));
}

export { tick };
