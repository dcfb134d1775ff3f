// Clipboard writes. WebKit (the Linux webview) only allows them during the click that asked
// for it, so when the text comes from an async invoke we hand the clipboard a promise
// (ClipboardItem) synchronously, and fall back to writeText / execCommand otherwise.

function legacyCopy(text) {
  const active = document.activeElement;
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.setAttribute('aria-hidden', 'true');
  ta.className = 'clipboard-helper';
  document.body.append(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.value = '';
  ta.remove();
  if (active && typeof active.focus === 'function') active.focus({ preventScroll: true });
  return ok;
}

export async function copyText(text) {
  try {
    if (navigator.clipboard?.writeText) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* fall through to the legacy path */
  }
  return legacyCopy(text);
}

/**
 * Copy text that is still being fetched. Call this synchronously inside the click handler.
 * Resolves {ok, text} — text is null when the fetch itself failed (then nothing is copied).
 */
export async function copyLater(textPromise) {
  let text = null;
  const blob = textPromise.then((t) => {
    text = t;
    if (t == null) throw new Error('nothing to copy');
    return new Blob([t], { type: 'text/plain' });
  });
  if (typeof ClipboardItem === 'function' && navigator.clipboard?.write) {
    try {
      await navigator.clipboard.write([new ClipboardItem({ 'text/plain': blob })]);
      return { ok: true, text };
    } catch {
      /* not supported or not allowed: try the other ways below */
    }
  }
  try {
    await blob;
  } catch {
    return { ok: false, text: null };
  }
  return { ok: await copyText(text), text };
}
