// Tiny DOM helpers. Server-provided strings only ever reach the page through textContent,
// attribute values or form values — never through innerHTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * h('button', {class, text, testid, key, onClick, ...attrs}, ...children)
 * - `class` may be a string or an array (falsy entries skipped)
 * - `text` sets textContent; `testid` → data-testid; `key` → data-key (focus restoration)
 * - on* functions become event listeners; boolean props (disabled, checked, hidden, readOnly)
 *   are set as properties; `value` is applied last (so <select> options exist first)
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  let value;
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
      else if (k === 'text') el.textContent = String(v);
      else if (k === 'testid') el.dataset.testid = v;
      else if (k === 'key') el.dataset.key = v;
      else if (k === 'value') value = v;
      else if (k === 'style') throw new Error('inline styles are not allowed (CSP)');
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
      else if (k === 'disabled' || k === 'checked' || k === 'hidden' || k === 'readOnly' || k === 'required') el[k] = true;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  if (value !== undefined) el.value = value;
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false || c === '') continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A 24×24 stroke icon from ./icons.js path data; decorative unless `label` is given. */
export function svgIcon(paths, { label, cls } = {}) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', cls ? `icon ${cls}` : 'icon');
  svg.setAttribute('fill', 'none');
  svg.setAttribute('stroke', 'currentColor');
  svg.setAttribute('stroke-width', '2');
  svg.setAttribute('stroke-linecap', 'round');
  svg.setAttribute('stroke-linejoin', 'round');
  if (label) {
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', label);
  } else {
    svg.setAttribute('aria-hidden', 'true');
  }
  svg.setAttribute('focusable', 'false');
  for (const d of paths) {
    const p = document.createElementNS(SVG_NS, 'path');
    p.setAttribute('d', d);
    svg.append(p);
  }
  return svg;
}

/** A stable identity for an element, used to restore focus across re-renders. */
export function keyOf(el) {
  if (!el || el === document.body || !el.dataset) return null;
  if (el.dataset.key) return `k:${el.dataset.key}`;
  if (el.dataset.testid) return `t:${el.dataset.testid}:${el.dataset.uid ?? ''}`;
  if (el.id) return `i:${el.id}`;
  return null;
}

export function findByKey(root, key) {
  if (!key) return null;
  const [kind, a, b] = key.split(':');
  const esc = (s) => CSS.escape(s);
  if (kind === 'k') return root.querySelector(`[data-key="${esc(key.slice(2))}"]`);
  if (kind === 't') {
    const sel = b ? `[data-testid="${esc(a)}"][data-uid="${esc(b)}"]` : `[data-testid="${esc(a)}"]`;
    return root.querySelector(sel);
  }
  if (kind === 'i') return document.getElementById(key.slice(2));
  return null;
}

// A focused button that became disabled (busy) loses focus; we give it back once it is enabled.
let pendingKey = null;
document.addEventListener('focusin', () => { pendingKey = null; });

/** Replace a container's children while keeping keyboard focus and text selection. */
export function patch(container, nodes) {
  const active = document.activeElement;
  const inside = active && container.contains(active);
  const key = inside ? keyOf(active) : null;
  let sel = null;
  if (inside && 'selectionStart' in active) {
    try { sel = [active.selectionStart, active.selectionEnd, active.selectionDirection]; } catch { sel = null; }
  }
  container.replaceChildren(...[nodes].flat(Infinity).filter(Boolean));
  if (key) {
    if (!restoreFocus(container, key, sel) && findByKey(container, key)?.disabled) pendingKey = key;
  } else if (pendingKey && (!document.activeElement || document.activeElement === document.body)) {
    const el = findByKey(container, pendingKey);
    if (el && !el.disabled) el.focus({ preventScroll: true });
  }
}

export function restoreFocus(root, key, sel) {
  const el = findByKey(root, key);
  if (!el || el.disabled) return false;
  el.focus({ preventScroll: true });
  if (sel && sel[0] != null && typeof el.setSelectionRange === 'function') {
    try { el.setSelectionRange(sel[0], sel[1], sel[2] || 'none'); } catch { /* not a text field */ }
  }
  return true;
}

export const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

export function focusables(root) {
  return [...root.querySelectorAll(FOCUSABLE)].filter((el) => !el.closest('[hidden]') && el.getClientRects().length > 0);
}

/** Unique id for label/aria wiring. */
let seq = 0;
export const uid = (prefix = 'id') => `${prefix}-${++seq}`;
