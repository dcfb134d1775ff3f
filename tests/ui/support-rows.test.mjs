// The Support table's row logic (ui/state/support-rows.js), run by `node --test tests/ui`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compareRows, countFacets, eventAction, filterAndSort, isRevocable, matchesFilters, ownerFilterHolds,
  refreshRowsByRecord, sortValue,
} from '../../ui/state/support-rows.js';

const row = (id, extra = {}) => ({
  id, kind: 'refresh', state: 'ready', expired: false, signature: 'ok', masked: `eyJ…${id}`, ...extra,
});
const owners = new Map([
  ['7', { found: true, name: 'Zhang Wei', groups: ['研发', 'ops'] }],
  ['8', { found: true, name: 'Ann Lee', groups: [] }],
  ['9', { found: false }],
]);
const ids = (rows) => rows.map((r) => r.id);

test('only live, checked refresh tokens that are not done or in flight are revocable', () => {
  assert.equal(isRevocable(row(1)), true);
  assert.equal(isRevocable(row(1, { kind: 'access' })), false);
  assert.equal(isRevocable(row(1, { expired: true })), false);
  assert.equal(isRevocable(row(1, { signature: 'failed' })), false);
  for (const state of ['revoked', 'already_invalid', 'queued', 'running']) {
    assert.equal(isRevocable(row(1, { state })), false, state);
  }
  // A failed revocation may be tried again.
  assert.equal(isRevocable(row(1, { state: 'error' })), true);
});

test('filters: app, owner (a user, or none), state and the kind shortcuts', () => {
  const a = row(1, { appCode: 'wiki', userId: 7 });
  const b = row(2, { appCode: 'mail', userId: 8, state: 'revoked' });
  const c = row(3, { kind: 'access' });
  const d = row(4, { kind: 'other', expired: true });
  const all = [a, b, c, d];
  const pass = (f) => ids(all.filter((r) => matchesFilters(r, f, owners)));
  assert.deepEqual(pass({}), [1, 2, 3, 4]);
  assert.deepEqual(pass({ app: 'wiki' }), [1]);
  assert.deepEqual(pass({ owner: '8' }), [2]);
  assert.deepEqual(pass({ owner: 'none' }), [3, 4]);
  assert.deepEqual(pass({ state: 'revoked' }), [2]);
  assert.deepEqual(pass({ state: 'revocable' }), [1]);
  assert.deepEqual(pass({ state: 'expired' }), [4]);
  assert.deepEqual(pass({ state: 'access' }), [3]);
  assert.deepEqual(pass({ state: 'other' }), [4]);
  assert.deepEqual(pass({ app: 'wiki', owner: '8' }), []);
});

test('search: every word must appear in the owner, groups, ids, app, record, token or payload', () => {
  const a = row(1, { appCode: 'wiki', userId: 7, recordId: 42, payload: 'laptop' });
  const b = row(2, { appCode: 'mail', userId: 8 });
  const pass = (q) => ids([a, b].filter((r) => matchesFilters(r, { q }, owners)));
  assert.deepEqual(pass('  '), [1, 2]);
  assert.deepEqual(pass('zhang'), [1]);
  assert.deepEqual(pass('ANN'), [2]);
  assert.deepEqual(pass('研发'), [1]);
  assert.deepEqual(pass('#42'), [1]);
  assert.deepEqual(pass('wiki laptop'), [1]);
  assert.deepEqual(pass('wiki mail'), []);
  assert.deepEqual(pass('…2'), [2]);
});

test('owner sort: known names alphabetically, unknown users after them by id, ties by input order', () => {
  const rows = [row(1, { userId: 9 }), row(2, { userId: 7 }), row(3, { userId: 8 }), row(4), row(5, { userId: 7 })];
  const sorted = (dir) => ids([...rows].sort((x, y) => compareRows(x, y, { key: 'owner', dir }, owners)));
  assert.deepEqual(sorted(1), [3, 2, 5, 1, 4]);
  // Descending reverses the order of owners but not of a tie: input order stays.
  assert.deepEqual(sorted(-1), [4, 1, 2, 5, 3]);
});

test('date sorts put rows without a date last when ascending; the state sort follows the run', () => {
  const rows = [row(1, { expiresAt: 300 }), row(2), row(3, { expiresAt: 100 })];
  assert.deepEqual(ids(filterAndSort([1, 2, 3], new Map(rows.map((r) => [r.id, r])), {}, { key: 'expires', dir: 1 }, owners)), [3, 1, 2]);
  const states = ['revoked', 'ready', 'running', 'error'].map((state, i) => row(i + 1, { state }));
  assert.deepEqual(ids(states.sort((x, y) => compareRows(x, y, { key: 'state', dir: 1 }, owners))), [3, 4, 2, 1]);
  assert.equal(sortValue(row(1, { state: 'running' }), { key: 'state' }), 'running');
  assert.equal(sortValue(row(1, { state: 'running' }), { key: 'expires' }), '');
});

test('filterAndSort keeps input order without a sort and skips ids it does not hold', () => {
  const rows = new Map([[5, row(5)], [2, row(2, { state: 'revoked' })], [9, row(9)]]);
  assert.deepEqual(ids(filterAndSort([9, 5, 1, 2], rows, {}, { key: '', dir: 1 }, owners)), [9, 5, 2]);
  assert.deepEqual(ids(filterAndSort([9, 5, 1, 2], rows, { state: 'ready' }, { key: '', dir: 1 }, owners)), [9, 5]);
});

test('an access token finds the first refresh token of its login record', () => {
  const rows = new Map([
    [1, row(1, { kind: 'access', recordId: 3 })],
    [2, row(2, { recordId: 3 })],
    [3, row(3, { recordId: 3 })],
    [4, row(4, { recordId: 5 })],
    [5, row(5)],
  ]);
  assert.deepEqual([...refreshRowsByRecord([1, 2, 3, 4, 5], rows)], [[3, 2], [5, 4]]);
});

test('facets: apps sorted once each, tokens per owner, rows without an owner', () => {
  const rows = new Map([
    [1, row(1, { appCode: 'wiki', userId: 7 })],
    [2, row(2, { appCode: 'mail', userId: 7 })],
    [3, row(3, { appCode: 'wiki' })],
  ]);
  const f = countFacets([1, 2, 3, 4], rows);
  assert.deepEqual(f.apps, ['mail', 'wiki']);
  assert.deepEqual([...f.perOwner], [[7, 2]]);
  assert.equal(f.noOwner, 1);
});

test('events: stale and malformed ones are ignored, a new epoch reloads, a fetch queues', () => {
  const held = { fetching: false, version: 10, epoch: 2 };
  assert.equal(eventAction(held, null), 'ignore');
  assert.equal(eventAction(held, { version: '11' }), 'ignore');
  assert.equal(eventAction(held, { version: 10, rowsEpoch: 2 }), 'ignore');
  assert.equal(eventAction(held, { version: 11, rowsEpoch: 2 }), 'patch');
  assert.equal(eventAction(held, { version: 11, rowsEpoch: 3 }), 'reload');
  // While the full list is fetched even an old event is kept: it is sorted out after the fetch.
  assert.equal(eventAction({ ...held, fetching: true }, { version: 1, rowsEpoch: 2 }), 'queue');
});

test('an owner filter is dropped when the new list has none of their tokens', () => {
  const rows = [row(1, { userId: 7 }), row(2)];
  assert.equal(ownerFilterHolds('', []), true);
  assert.equal(ownerFilterHolds('7', rows), true);
  assert.equal(ownerFilterHolds('none', rows), true);
  assert.equal(ownerFilterHolds('8', rows), false);
  assert.equal(ownerFilterHolds('none', [row(1, { userId: 7 })]), false);
});
