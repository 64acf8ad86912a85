/**
 * The two diffs REAL's /finish carries.
 *
 * `initialfinaldiff` is deep-object-diff's `detailedDiff(initial, final)` = `{added, deleted, updated}`:
 * arrays are diffed like objects keyed by index ("0", "1"), `added` holds new keys with their whole value,
 * `updated` only changed leaves, `deleted` removed keys (their value is undefined, so JSON drops it).
 *
 * `differences` compares one collection (emails, events, orders, tours) by id: `{added, deleted, updated}`,
 * as a list (GoMail's `emails`) or as a dict keyed by id (GoCalendar's `events`, Zilloft's `requestTours`).
 */
export { detailedDiff } from './vendor/deep-object-diff.js';

/**
 * `before`/`after` are arrays (or dicts) of objects with a `key` field. Options:
 * - `layout`: 'dict' (entries keyed by the id) or 'list';
 * - `updated`: 'full' (the whole final object) or 'changed' (`{<key>: id, ...top-level fields that changed}`).
 * Deleted entries are the whole initial object.
 */
export function collectionDiff(before, after, { key = 'id', layout = 'dict', updated = 'full' } = {}) {
  const was = byKey(before, key);
  const now = byKey(after, key);
  const out = { added: [], deleted: [], updated: [] };
  for (const [id, item] of now) {
    if (!was.has(id)) out.added.push([id, item]);
    else if (JSON.stringify(was.get(id)) !== JSON.stringify(item)) {
      out.updated.push([id, updated === 'changed' ? changedFields(was.get(id), item, key) : item]);
    }
  }
  for (const [id, item] of was) if (!now.has(id)) out.deleted.push([id, item]);
  const shape = (pairs) => (layout === 'list' ? pairs.map(([, v]) => v) : Object.fromEntries(pairs));
  return { added: shape(out.added), deleted: shape(out.deleted), updated: shape(out.updated) };
}

function byKey(items, key) {
  const list = Array.isArray(items) ? items : Object.values(items || {});
  return new Map(list.filter((x) => x && typeof x === 'object').map((x) => [String(x[key]), x]));
}

function changedFields(a, b, key) {
  const out = { [key]: b[key] };
  for (const k of Object.keys(b)) if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) out[k] = b[k];
  return out;
}
