// The Support table's row logic as pure functions: no DOM, no IPC, no translations, so that
// `node --test tests/ui` runs them as they are (the view and the store in ./support.js call them).

/** Where each state sorts when the table is sorted by state. */
export const STATE_ORDER = ['running', 'queued', 'error', 'cancelled', 'ready', 'not_revocable', 'already_invalid', 'revoked'];

export const isDone = (row) => row.state === 'revoked' || row.state === 'already_invalid';
export const isBusyRow = (row) => row.state === 'queued' || row.state === 'running';
/** A refresh token worth revoking: what "select all" takes. */
export const isRevocable = (row) =>
  row.kind === 'refresh' && !row.expired && row.signature !== 'failed' && !isDone(row) && !isBusyRow(row);

/** The owner record of a row (`owners`: "uid" → owner), or null. */
export const ownerOf = (row, owners) => (row.userId != null ? owners.get(String(row.userId)) ?? null : null);
/** The owner's name when the server knows the user, else ''. */
export const ownerName = (row, owners) => {
  const o = ownerOf(row, owners);
  return o?.found ? o.name : '';
};

/**
 * Whether a row passes the filters: `app` (app code or ''), `owner` ('' all, 'none' without an
 * owner, or a user id), `state` ('' all, 'revocable', 'expired', 'other', 'access' or a row state)
 * and `q` (words that must all appear in the owner's name and groups, user id, app, record, masked
 * token or payload; case-insensitive).
 */
export function matchesFilters(row, filters, owners) {
  const { app = '', owner = '', state = '', q = '' } = filters;
  if (app && (row.appCode ?? '') !== app) return false;
  if (owner && (owner === 'none' ? row.userId != null : String(row.userId) !== owner)) return false;
  switch (state) {
    case '': break;
    case 'revocable': if (!isRevocable(row)) return false; break;
    case 'expired': if (!row.expired) return false; break;
    case 'other': if (row.kind !== 'other') return false; break;
    case 'access': if (row.kind !== 'access') return false; break;
    default: if (row.state !== state) return false;
  }
  const words = q.trim().toLowerCase();
  if (!words) return true;
  const o = ownerOf(row, owners);
  const hay = [
    o?.name, row.userId, row.appCode, row.recordId != null ? `#${row.recordId}` : '', row.masked, row.payload,
    ...(o?.groups ?? []),
  ].filter((x) => x != null && x !== '').join(' ').toLowerCase();
  return words.split(/\s+/).every((w) => hay.includes(w));
}

/** What the sort compares that a row's own update can change (the rest never does). */
export const sortValue = (row, sort) => (sort.key === 'state' ? row.state : '');

/**
 * Orders two rows by `sort` ({key: '' | 'owner' | 'app' | 'issued' | 'expires' | 'state', dir: 1 | -1}).
 * Rows without the sorted value go last when ascending (first when descending); ties keep input
 * order (by id) whatever the direction.
 */
export function compareRows(a, b, sort, owners) {
  const { key, dir } = sort;
  let c = 0;
  if (key === 'owner') {
    const na = ownerName(a, owners);
    const nb = ownerName(b, owners);
    c = (na === '') - (nb === '') || na.localeCompare(nb) || (a.userId ?? Infinity) - (b.userId ?? Infinity);
  } else if (key === 'app') {
    c = (a.appCode ?? '~').localeCompare(b.appCode ?? '~') || (a.recordId ?? 0) - (b.recordId ?? 0);
  } else if (key === 'issued') {
    c = (a.issuedAt ?? Infinity) - (b.issuedAt ?? Infinity);
  } else if (key === 'expires') {
    c = (a.expiresAt ?? Infinity) - (b.expiresAt ?? Infinity);
  } else if (key === 'state') {
    c = STATE_ORDER.indexOf(a.state) - STATE_ORDER.indexOf(b.state);
  }
  return c * dir || a.id - b.id;
}

/** The rows of `order` (ids into `rows`) that pass `filters`, sorted by `sort`. */
export function filterAndSort(order, rows, filters, sort, owners) {
  let out = order.map((id) => rows.get(id)).filter(Boolean).filter((r) => matchesFilters(r, filters, owners));
  if (sort.key) out = out.sort((a, b) => compareRows(a, b, sort, owners));
  return out;
}

/** Refresh-token row ids by login record (the first one of each record, in input order). */
export function refreshRowsByRecord(order, rows) {
  const byRecord = new Map();
  for (const id of order) {
    const r = rows.get(id);
    if (r?.kind === 'refresh' && r.recordId != null && !byRecord.has(r.recordId)) byRecord.set(r.recordId, id);
  }
  return byRecord;
}

/**
 * What the filters offer: the apps (sorted), the token count per owner id, and how many rows
 * have no owner.
 */
export function countFacets(order, rows) {
  const apps = new Set();
  const perOwner = new Map();
  let noOwner = 0;
  for (const id of order) {
    const r = rows.get(id);
    if (!r) continue;
    if (r.appCode) apps.add(r.appCode);
    if (r.userId != null) perOwner.set(r.userId, (perOwner.get(r.userId) ?? 0) + 1);
    else noOwner++;
  }
  return { apps: [...apps].sort(), perOwner, noOwner };
}

/**
 * What to do with a `support` event or reply (docs/ipc.md, "Support"), given the list held:
 * 'ignore' (malformed, or not newer than what is applied), 'queue' (the full list is being
 * fetched), 'reload' (another `rowsEpoch`: the list itself changed) or 'patch'.
 */
export function eventAction(held, event) {
  if (!event || typeof event !== 'object' || typeof event.version !== 'number') return 'ignore';
  if (held.fetching) return 'queue';
  if (event.version <= held.version) return 'ignore';
  if (event.rowsEpoch !== held.epoch) return 'reload';
  return 'patch';
}

/** Whether a filter on `owner` still shows something in `rows` (else the filter is dropped). */
export const ownerFilterHolds = (owner, rows) =>
  !owner || rows.some((r) => (owner === 'none' ? r.userId == null : String(r.userId) === owner));
