/**
 * The /finish page: the state JSON REAL's graders read, in one `<pre>` inside `#__next`.
 *
 * Key order matters: `currentDate` comes first because zilloft-14 takes "today" from the first date-like key
 * of the document. Then `actionhistory`, `initialstate`, `finalstate`, `initialfinaldiff` (detailedDiff of
 * the two states) and `differences` (per-collection diffs by id). Nothing here dispatches: the recorded
 * route stays the last app page. The JSON is compact, and holds no static catalog (only the store's slices).
 */
import { SITE_NOW_ISO } from './store.js';
import { collectionDiff, detailedDiff } from './diff.js';

/**
 * `record` is the store's `{initial, state, history}`; `collections` maps a `differences` name to
 * `{get: state => items, key, layout, updated}` (see diff.js).
 */
export function finishState(record, collections = {}) {
  const differences = {};
  for (const [name, spec] of Object.entries(collections)) {
    differences[name] = collectionDiff(spec.get(record.initial), spec.get(record.state), spec);
  }
  return {
    currentDate: SITE_NOW_ISO,
    actionhistory: record.history,
    initialstate: record.initial,
    finalstate: record.state,
    initialfinaldiff: detailedDiff(record.initial, record.state),
    differences,
  };
}

export function renderFinish(root, state) {
  const pre = document.createElement('pre');
  pre.textContent = JSON.stringify(state);
  root.replaceChildren(pre);
}
