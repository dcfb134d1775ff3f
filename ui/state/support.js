// The Support view's state: the token list as Rust holds it, and the view's filters and selection.
// Rust owns the list (docs/ipc.md, "Support"): rows carry an id and a masked token, never the
// token itself. The `support` event brings full or partial snapshots, ordered by `version`.
// The row logic itself is pure (./support-rows.js); this module keeps it cached and in sync.

import { onEvent } from '../ipc.js';
import { changed, run } from '../store.js';
import { announceRevocation } from '../announce.js';
import {
  countFacets, eventAction, filterAndSort, matchesFilters, ownerFilterHolds, ownerOf as ownerIn,
  refreshRowsByRecord, sortValue,
} from './support-rows.js';

/** The Rust side's support state, as the UI has applied it. */
export const sup = {
  loaded: false,
  version: -1,
  epoch: -1, // rowsEpoch of the rows held: an event of another epoch means "fetch the list"
  status: null, // the snapshot without rows/owners
  rows: new Map(), // id → row
  order: [], // ids in input order
  owners: new Map(), // "uid" → owner
  /** Bumped when the visible rows must be filtered and sorted again (see `visibleRows`). */
  setVersion: 0,
  /** Bumped when an owner changed (the owner filter's options). */
  ownerVersion: 0,
  /** Events that arrived while the full list is being fetched; null when not fetching. */
  queued: null,
};

/** The view's own state: filters, sort, selection. */
export const filters = {
  q: '',
  app: '',
  owner: '', // '' all, 'none' tokens without an owner, or a user id
  state: '',
  sort: { key: '', dir: 1 },
  selected: new Set(),
  append: false,
};

/** The filtered, sorted rows, and where each row is in them. */
let view = { key: '', rows: [], pos: new Map() };

export const supportStatus = () => sup.status;
export const ownerOf = (row) => ownerIn(row, sup.owners);

/** Subscribes to `support` events and loads the current state, once. */
export function ensureSupport() {
  if (sup.loaded) return;
  sup.loaded = true;
  onEvent('support', applySupport).catch(() => {});
  reload(null);
}

/**
 * Applies an event or a command's reply (docs/ipc.md, "Support"). Both are partial: the rows
 * and owners that changed. A new `rowsEpoch` means the list itself changed and comes with no
 * rows: the whole list is fetched (`support_state`), and what arrives meanwhile is queued and
 * applied on top if it is newer.
 */
function applySupport(s) {
  switch (eventAction({ fetching: Boolean(sup.queued), version: sup.version, epoch: sup.epoch }, s)) {
    case 'queue': sup.queued.push(s); break;
    case 'reload': reload(s); break;
    case 'patch': applyPartial(s); break;
    default: break;
  }
}

async function reload(trigger) {
  sup.queued = trigger ? [trigger] : [];
  const res = await run('support_state', undefined, { busy: null, silent: true });
  const queued = sup.queued;
  sup.queued = null;
  if (res.ok && res.value && res.value.full) {
    applyFull(res.value);
  } else if (trigger) {
    // Not expected; take what the event says without rows rather than asking again and again.
    sup.epoch = trigger.rowsEpoch;
  }
  for (const s of queued) applySupport(s);
  changed();
}

function applyFull(s) {
  const { rows, owners, ...status } = s;
  sup.version = s.version;
  sup.epoch = s.rowsEpoch;
  setStatus(status);
  sup.rows = new Map(rows.map((r) => [r.id, r]));
  sup.order = rows.map((r) => r.id);
  sup.owners = new Map(Object.entries(owners ?? {}));
  sup.ownerVersion++;
  for (const id of [...filters.selected]) if (!sup.rows.has(id)) filters.selected.delete(id);
  // A filter on an owner no longer in the list would hide every row.
  if (!ownerFilterHolds(filters.owner, rows)) filters.owner = '';
  sup.setVersion++;
}

/**
 * Takes the new status. A run that ended since the last one is announced (ui/announce.js), once,
 * even when its end arrives in the same event as its start; one that ended before the view
 * loaded is not.
 */
function setStatus(status) {
  const before = sup.status;
  sup.status = status;
  const p = status?.progress;
  if (!before || !p || p.running || !p.finishedAt) return;
  const was = before.progress;
  if (was && !was.running && was.finishedAt === p.finishedAt) return;
  announceRevocation(p);
}

/** Patches changed rows into the current view where they stay put; otherwise asks for a new one. */
function applyPartial(s) {
  const { rows, owners, ...status } = s;
  sup.version = s.version;
  setStatus(status);
  for (const r of rows ?? []) {
    const old = sup.rows.get(r.id);
    sup.rows.set(r.id, r);
    if (!old) {
      sup.order.push(r.id);
      sup.setVersion++;
    } else if (!patchView(old, r)) {
      sup.setVersion++;
    }
  }
  const entries = Object.entries(owners ?? {});
  if (entries.length) {
    for (const [k, o] of entries) sup.owners.set(k, o);
    // Owners change what the filter and the owner sort see, nothing else.
    if (filters.q.trim() || filters.owner || filters.sort.key === 'owner') sup.setVersion++;
    sup.ownerVersion++;
  }
  changed();
}

/**
 * Puts `row` where `old` was in the view when that is where it belongs: it passes the same
 * filters and sorts the same. During a run that is nearly always the case, so a progress event
 * costs a few rows, not a filter and sort of the whole list. False: the view must be rebuilt.
 */
function patchView(old, row) {
  if (view.key !== viewKey()) return true; // rebuilt at the next render anyway
  const at = view.pos.get(row.id);
  const was = at !== undefined;
  if (was !== matchesFilters(row, filters, sup.owners) || (was && sortValue(old, filters.sort) !== sortValue(row, filters.sort))) return false;
  if (was) view.rows[at] = row;
  return true;
}

/** Runs a support command, applies its reply (a snapshot without rows) and reports failures as usual. */
export async function command(cmd, args, busy) {
  const res = await run(cmd, args, { busy });
  if (res.ok && res.value && typeof res.value === 'object') applySupport(res.value);
  return res;
}

/** The refresh-token row of an access-token row's login record, if the list holds it. */
let refreshIndex = { epoch: -1, size: -1, byRecord: new Map() };
export function refreshRowOf(row) {
  if (row.kind !== 'access') return null;
  if (row.result?.refreshRowId != null) return sup.rows.get(row.result.refreshRowId) ?? null;
  if (row.recordId == null) return null;
  if (refreshIndex.epoch !== sup.epoch || refreshIndex.size !== sup.order.length) {
    refreshIndex = { epoch: sup.epoch, size: sup.order.length, byRecord: refreshRowsByRecord(sup.order, sup.rows) };
  }
  const id = refreshIndex.byRecord.get(row.recordId);
  return id != null ? sup.rows.get(id) ?? null : null;
}

const viewKey = () =>
  `${sup.setVersion}|${filters.q}|${filters.app}|${filters.owner}|${filters.state}|${filters.sort.key}|${filters.sort.dir}`;

/** The rows to show, filtered and sorted; recomputed only when the filters, the sort or the list changed. */
export function visibleRows() {
  const key = viewKey();
  if (view.key === key) return view.rows;
  const rows = filterAndSort(sup.order, sup.rows, filters, filters.sort, sup.owners);
  view = { key, rows, pos: new Map(rows.map((r, i) => [r.id, i])) };
  return rows;
}

/**
 * Apps and owners of the list, for the filters, with a `key` that changes when they do: the
 * owners come sorted by name (unknown users last, by id), each with its token count.
 */
let facets = { key: '', apps: [], owners: [], ownerCount: 0, noOwner: 0 };
export function listFacets() {
  const key = `${sup.epoch}|${sup.order.length}|${sup.ownerVersion}`;
  if (facets.key === key) return facets;
  const { apps, perOwner, noOwner } = countFacets(sup.order, sup.rows);
  const owners = [...perOwner].map(([uid, n]) => {
    const o = sup.owners.get(String(uid));
    return { uid: String(uid), n, name: o?.found ? o.name : '' };
  }).sort((a, b) => (a.name === '') - (b.name === '') || a.name.localeCompare(b.name) || Number(a.uid) - Number(b.uid));
  facets = { key, apps, owners, ownerCount: perOwner.size, noOwner };
  return facets;
}
