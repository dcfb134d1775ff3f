// The Rust snapshot (read-only here) plus the little state that belongs to the UI alone:
// drafts in text fields, which editor or menu is open, and invokes still in flight.

import { invoke, isSnapshot } from './ipc.js';

const listeners = new Set();

export const store = {
  snap: null,
  /** UI-only state; kept across snapshots. */
  ui: {
    pasteToken: '',
    signinPayload: '',
    editing: null, // {value, newAccess} while the payload editor is open
    profileMenu: false,
    setupForm: null, // profile-form state for the setup screen
  },
  localBusy: new Map(), // busy key → count of invokes in flight
  localError: null, // last rejected invoke, until dismissed or superseded
};

export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

let scheduled = false;
export function changed() {
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    for (const fn of listeners) fn(store);
  });
}

export function setSnapshot(snap) {
  if (!isSnapshot(snap)) return;
  // Events and command replies travel separately: a reply can arrive after a newer event.
  if (store.snap && Number(snap.revision) < Number(store.snap.revision)) return;
  store.snap = snap;
  changed();
}

export function setUi(patch) {
  Object.assign(store.ui, patch);
  changed();
}

export function isBusy(key) {
  return Boolean(store.snap?.busy?.includes(key) || store.localBusy.get(key));
}

/** The error to show: the newer of the snapshot's last failure and our last rejected invoke. */
export function currentError() {
  const a = store.snap?.error ?? null;
  const b = store.localError;
  if (!a) return b;
  if (!b) return a;
  return (b.at ?? 0) > (a.at ?? 0) + 1000 ? b : a;
}

// Which `busy` entry each command shows as (docs/ipc.md lists the Rust ones; the rest are UI-only).
const BUSY = {
  sign_in_browser: 'signin', sign_in_paste: 'signin', demo_sign_in: 'signin',
  refresh_access: 'refresh', verify_access: 'verify', reload_user: 'reload',
  edit_payload: 'payload', revoke_session: 'revoke', forget_session: 'forget',
  start_demo: 'demo', save_profile: 'profile', delete_profile: 'profile', switch_profile: 'profile',
  use_file_store: 'storage', fix_secrets_file_permissions: 'storage', cancel_sign_in: 'cancel', copy_access_token: 'copy',
};

/**
 * Run a command: marks it busy, applies the returned snapshot, records a rejection as the
 * current error. Resolves {ok, value} or {ok:false, error}; never throws.
 */
export async function run(cmd, args, { busy = BUSY[cmd], silent = false } = {}) {
  // A new action supersedes the last failure, as on the Rust side (a background read does not).
  if (!silent && cmd !== 'get_state') store.localError = null;
  if (busy) {
    store.localBusy.set(busy, (store.localBusy.get(busy) ?? 0) + 1);
  }
  changed();
  try {
    const value = await invoke(cmd, args);
    // Through the revision check: the reply may be older than an event that overtook it.
    if (isSnapshot(value)) setSnapshot(value);
    return { ok: true, value };
  } catch (error) {
    if (!silent) store.localError = { ...error, at: error.at ?? Date.now(), cmd };
    return { ok: false, error };
  } finally {
    if (busy) {
      const n = (store.localBusy.get(busy) ?? 1) - 1;
      if (n > 0) store.localBusy.set(busy, n); else store.localBusy.delete(busy);
    }
    changed();
  }
}

export async function dismissError() {
  store.localError = null;
  changed();
  if (store.snap?.error) await run('dismiss_error', undefined, { silent: true });
}
