// Long lists without long DOMs: only the rows in and near the viewport of the scrolling #main
// are built; the rest is stood in for by spacer blocks. Rows have one fixed height (CSS
// --vrow-h), and spacer heights are sums of power-of-two blocks (.vspace-N is 2^N rows), so
// nothing needs an inline style under the CSP.

import { h } from '../dom.js';

/** Rows rendered above and below the visible ones. */
const OVERSCAN = 12;
/** Fallback when CSS has not been applied yet. */
const DEFAULT_ROW_HEIGHT = 52;

function spacer(rows) {
  const blocks = [];
  for (let bit = 0; rows > 0; bit++, rows >>= 1) {
    if (rows & 1) blocks.push(h('div', { class: `vspace vspace-${bit}`, 'aria-hidden': 'true' }));
  }
  return blocks;
}

/** The rows last drawn by each keyed list: a re-render starts from there, not from the top. */
const lastDrawn = new Map();

/**
 * A virtual list body. `items` is the full (sorted, filtered) array, `renderRow(item, index)`
 * builds one row. Below `threshold` items every row is built. Returns the body element; it
 * redraws itself when #main scrolls. With a `key`, a re-render (ten a second during a support
 * run) first draws the rows the previous body showed, so a list scrolled far down neither
 * builds its top rows for nothing nor flickers.
 */
export function virtualBody({ items, renderRow, threshold = 150, cls = 'vbody', attrs = {}, key = null }) {
  const body = h('div', { class: cls, ...attrs });
  if (items.length <= threshold) {
    body.append(...items.map((item, i) => renderRow(item, i)));
    return body;
  }
  body.classList.add('is-virtual');
  const main = document.getElementById('main');
  let first = -1;
  let last = -1;
  const draw = () => {
    if (!body.isConnected || !main) return;
    const rowH = parseFloat(getComputedStyle(body).getPropertyValue('--vrow-h')) || DEFAULT_ROW_HEIGHT;
    const top = body.getBoundingClientRect().top - main.getBoundingClientRect().top;
    const from = Math.max(0, Math.floor(-top / rowH) - OVERSCAN);
    const to = Math.min(items.length, Math.ceil((main.clientHeight - top) / rowH) + OVERSCAN);
    if (from === first && to === last) return;
    first = from;
    last = to;
    if (key) lastDrawn.set(key, { from, to });
    const rows = [];
    for (let i = from; i < to; i++) rows.push(renderRow(items[i], i));
    body.replaceChildren(...spacer(from), ...rows, ...spacer(items.length - to));
  };
  // Before the first layout: the rows drawn last time (or the top of the list), so that the
  // right rows are there at once; the first draw() corrects the range if the view moved.
  const before = key ? lastDrawn.get(key) : null;
  first = Math.min(before?.from ?? 0, items.length);
  last = Math.min(before?.to ?? 40, items.length);
  const initial = [];
  for (let i = first; i < last; i++) initial.push(renderRow(items[i], i));
  body.append(...spacer(first), ...initial, ...spacer(items.length - last));
  let queued = false;
  const onScroll = () => {
    if (!body.isConnected) {
      main?.removeEventListener('scroll', onScroll);
      window.removeEventListener('resize', onScroll);
      return;
    }
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; draw(); });
  };
  main?.addEventListener('scroll', onScroll, { passive: true });
  window.addEventListener('resize', onScroll, { passive: true });
  requestAnimationFrame(draw);
  return body;
}
