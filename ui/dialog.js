// Modal dialogs: <dialog> + showModal, with our own focus trap (Tab wraps inside), Esc to
// close (unless an action is running) and focus returned to whatever opened the dialog.

import { h, append, focusables, keyOf, findByKey, uid } from './dom.js';
import { t } from './i18n.js';
import { icon, button, setButtonBusy } from './render/widgets.js';

let current = null;

export function isDialogOpen() {
  return current !== null;
}

/**
 * openModal({title, testid, tone, icon, build}) — build(ctx) returns {body: [nodes], actions: [nodes],
 * describedBy?: [ids]}: the ids of what explains the dialog (its aria-describedby).
 * ctx: {close(), setBusy(bool), setError(msg|null), dialog}
 */
export function openModal({ title, testid, tone, icon: ic, build, wide, backdropClose = true }) {
  if (current) current.close();
  const openerKey = keyOf(document.activeElement);
  const titleId = uid('dlg-title');
  const errId = uid('dlg-error');
  const dlg = h('dialog', { class: ['modal', wide && 'modal-wide', tone && `modal-${tone}`], 'aria-labelledby': titleId, testid });
  let busy = false;

  const errorBox = h('div', { class: 'modal-error', id: errId, role: 'alert', hidden: true });
  const ctx = {
    dialog: dlg,
    close,
    setBusy(v) {
      busy = v;
      dlg.classList.toggle('is-busy', v);
      for (const b of dlg.querySelectorAll('.modal-actions button, .modal-close')) b.disabled = v;
      setButtonBusy(dlg.querySelector('.modal-actions [data-primary]'), v);
    },
    setError(msg) {
      errorBox.hidden = !msg;
      errorBox.replaceChildren(...(msg ? [icon('alertCircle'), h('span', { text: msg })] : []));
    },
  };
  const { body = [], actions = [], describedBy = [] } = build(ctx);
  if (describedBy.length) dlg.setAttribute('aria-describedby', describedBy.join(' '));

  append(dlg, [
    h('div', { class: 'modal-head' },
      ic ? h('span', { class: ['modal-icon', tone && `modal-icon-${tone}`] }, icon(ic)) : null,
      h('h2', { class: 'modal-title', id: titleId, text: title }),
      button({ label: t('common.close'), icon: 'x', variant: 'ghost', iconOnly: true, size: 'sm', extra: { class: 'btn btn-ghost btn-sm btn-icon modal-close' }, onClick: () => close() })),
    h('div', { class: 'modal-body' }, body, errorBox),
    actions.length ? h('div', { class: 'modal-actions' }, actions) : null,
  ]);

  dlg.addEventListener('keydown', (e) => {
    if (e.key === 'Tab') {
      const items = focusables(dlg);
      if (!items.length) { e.preventDefault(); return; }
      const first = items[0];
      const last = items[items.length - 1];
      if (e.shiftKey && (document.activeElement === first || !dlg.contains(document.activeElement))) {
        e.preventDefault(); last.focus();
      } else if (!e.shiftKey && (document.activeElement === last || !dlg.contains(document.activeElement))) {
        e.preventDefault(); first.focus();
      }
    } else if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      if (!busy) close();
    }
  });
  // Native Esc handling fires `cancel`; route it through close() so cleanup always runs.
  dlg.addEventListener('cancel', (e) => {
    e.preventDefault();
    if (!busy) close();
  });
  dlg.addEventListener('click', (e) => {
    // A click on the backdrop (outside the dialog box) closes it, like Esc.
    if (e.target !== dlg || busy || !backdropClose) return;
    const r = dlg.getBoundingClientRect();
    const inside = e.clientX >= r.left && e.clientX <= r.right && e.clientY >= r.top && e.clientY <= r.bottom;
    if (!inside) close();
  });

  document.body.append(dlg);
  if (typeof dlg.showModal === 'function') dlg.showModal();
  else dlg.setAttribute('open', '');
  document.documentElement.classList.add('has-modal');

  const autofocus = dlg.querySelector('[data-autofocus]') ?? focusables(dlg.querySelector('.modal-body'))[0] ?? dlg.querySelector('.modal-actions button');
  autofocus?.focus();

  let closed = false;
  function close() {
    if (closed) return;
    closed = true;
    if (typeof dlg.close === 'function' && dlg.open) dlg.close();
    dlg.remove();
    document.documentElement.classList.remove('has-modal');
    if (current === handle) current = null;
    const back = findByKey(document, openerKey);
    if (back && !back.disabled) back.focus();
    else document.querySelector('#main h1')?.focus();
  }
  const handle = { close, ctx };
  current = handle;
  return handle;
}

/**
 * A confirmation: explanatory paragraphs, Cancel (focused first, the safe choice) and the
 * action. onConfirm() resolves {ok, error}; on failure the dialog stays open with the message.
 */
export function confirmDialog({ title, body, confirmLabel, confirmTestid, tone = 'danger', icon: ic = 'alert', onConfirm, testid }) {
  return openModal({
    title, tone, icon: ic, testid,
    build(ctx) {
      const confirm = button({
        label: confirmLabel, variant: tone === 'danger' ? 'danger' : 'primary', testid: confirmTestid,
        extra: { 'data-primary': '' },
        onClick: async () => {
          ctx.setError(null);
          ctx.setBusy(true);
          const res = await onConfirm();
          ctx.setBusy(false);
          if (res?.ok === false) {
            ctx.setError(res.error?.message ?? t('error.generic'));
            confirm.focus();
          } else ctx.close();
        },
      });
      const cancel = button({ label: t('common.cancel'), variant: 'secondary', testid: 'btn-dialog-cancel', extra: { 'data-autofocus': '' }, onClick: () => ctx.close() });
      // The explanatory paragraphs describe the dialog: a screen reader reads them with the title.
      const described = [];
      const nodes = body.map((p) => {
        if (p instanceof Node) return p;
        const id = uid('dlg-desc');
        described.push(id);
        return h('p', { id, text: p });
      });
      return { body: nodes, actions: [cancel, confirm], describedBy: described };
    },
  });
}
