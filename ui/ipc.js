// The only place that touches window.__TAURI__ (docs/ipc.md). Everything else goes through here.

function tauri() {
  const t = window.__TAURI__;
  if (!t || !t.core || typeof t.core.invoke !== 'function') {
    throw { code: 'internal', message: 'The Tauri API is not available (is withGlobalTauri on?).' };
  }
  return t;
}

export function available() {
  return Boolean(window.__TAURI__?.core?.invoke);
}

/** invoke(cmd, args) → Promise; rejections are normalised to {code, message, ...}. */
export async function invoke(cmd, args) {
  try {
    return await tauri().core.invoke(cmd, args);
  } catch (e) {
    throw normalizeError(e);
  }
}

/** listen('state', handler) → Promise<unlisten>. */
export function onState(handler) {
  return tauri().event.listen('state', (e) => handler(e.payload));
}

/** listen(name, handler) for the other events (`support`) → Promise<unlisten>. */
export function onEvent(name, handler) {
  return tauri().event.listen(name, (e) => handler(e.payload));
}

export function normalizeError(e) {
  if (e && typeof e === 'object' && typeof e.code === 'string') {
    return { ...e, message: String(e.message ?? e.code) };
  }
  if (typeof e === 'string') {
    // Tauri reports a missing command or bad arguments as a bare string.
    return { code: 'internal', message: e };
  }
  return { code: 'internal', message: String(e?.message ?? e) };
}

export function isSnapshot(v) {
  return v && typeof v === 'object' && 'profiles' in v && 'busy' in v;
}
