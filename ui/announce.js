// One live region for the whole window, created once with the shell and never re-rendered:
// screen readers hear transitions (signed in, offline, expired, a sign-in that timed out, a
// failure, a revocation run that finished), not every re-render of a banner.

import { h } from './dom.js';
import { t } from './i18n.js';

let region = null;

/** Creates the region (visually hidden, polite) inside `root`; once. */
export function mountAnnouncer(root) {
  if (!region) {
    region = h('div', { class: 'sr-only', 'aria-live': 'polite', 'aria-atomic': 'true', testid: 'announcer' });
  }
  if (region.parentNode !== root) root.append(region);
  return region;
}

let pending = 0;

/**
 * Says `text` through the region. The text is emptied first and set a moment later, so that
 * the same words said twice are heard twice; it stays there until the next announcement.
 */
export function announce(text) {
  if (!text) return;
  const el = region ?? mountAnnouncer(document.body);
  const mine = ++pending;
  el.textContent = '';
  setTimeout(() => {
    if (mine === pending) el.textContent = text;
  }, 60);
}

/** Errors a state has said already: "Offline" a failure to reach the server, "Session
 * expired" the server's refusal of the token. */
const EXPLAINED_BY = {
  offline: new Set(['timeout', 'connect', 'tls', 'network']),
  expired: new Set(['token_invalid']),
};

/** What the last snapshot looked like, to tell a transition from a re-render. */
let last = null;

/**
 * Compares `snap` (and `err`, the error the page shows) with the ones before and announces what
 * changed: the session's state first, else a new error (a sign-in that timed out has words of
 * its own). The first snapshot says nothing; a switch of profile is not a transition.
 */
export function noteSnapshot(snap, err) {
  const state = snap?.session?.state ?? 'signed-out';
  const profile = snap?.activeProfileId ?? null;
  const errorKey = err ? `${err.code}|${err.at ?? ''}` : null;
  const prev = last;
  last = { state, profile, errorKey };
  if (!prev) return;
  if (state !== prev.state && profile === prev.profile) {
    if (state === 'signed-in') {
      announce(prev.state === 'offline' ? t('announce.backOnline') : t('announce.signedIn', { name: snap.session?.user?.name ?? '' }));
      return;
    }
    if (state === 'offline') { announce(t('announce.offline')); return; }
    if (state === 'expired') { announce(t('announce.expired')); return; }
  }
  if (errorKey && errorKey !== prev.errorKey && !EXPLAINED_BY[state]?.has(err.code)) {
    announce(err.code === 'sign_in_timeout' ? t('announce.signInTimedOut') : t('announce.error', { message: err.message || t('error.generic') }));
  }
}

/** The end of a revocation run (ui/render/support.js calls it when `running` turns false). */
export function announceRevocation(p) {
  const vars = { revoked: p.revoked ?? 0, already: p.alreadyInvalid ?? 0, failed: p.failed ?? 0, cancelled: p.cancelled ?? 0 };
  announce(t(p.cancelled ? 'announce.revocationCancelled' : 'announce.revocationDone', vars));
}
