/**
 * The site's state: one Redux-style store of plain-JSON slices, kept in the origin's localStorage together
 * with the snapshot taken at reset and the history of the actions that changed it.
 *
 * Why in the browser: REAL's sites are client-side Redux apps, and keeping the state there means two
 * episodes (two browser contexts, so two separate storages) can never see each other's carts or emails,
 * whatever the server does. Why localStorage: it survives the full page loads of /config, /finish and the
 * app, it is per origin (each site has its own port), and it is synchronous, so a page renders its final
 * state before its `load` event.
 */

/** REAL's frozen "now": Thursday 2024-07-18, 09:00 in Los Angeles. Every date the sites store or show is
 *  derived from it, never from the browser clock, so pages and states are the same on every run. */
export const SITE_NOW_ISO = '2024-07-18T16:00:00.000Z';
export const SITE_TIME_ZONE = 'America/Los_Angeles';
const FORMAT_VERSION = 1;

/**
 * `reducer(state, action)` returns the next state (the same object when nothing changed). `coalesce` lists
 * action types (typing into a field) of which consecutive occurrences for the same `payload.field` keep one
 * history entry, the latest, so that typing a word does not add one entry per letter to /finish.
 */
export function createStore({ app, reducer, coalesce = [] }) {
  const key = `halo-site:${app}`;
  const listeners = new Set();
  const merged = new Set(coalesce);
  let record = load(key);

  function persist() {
    localStorage.setItem(key, JSON.stringify(record));
  }

  return {
    app,
    /** True when a reset (/config) or an earlier visit stored a state for this origin. */
    get loaded() { return record !== null; },
    getState() { return record.state; },
    /** `{initial, state, history}`: what /finish reports. */
    snapshot() { return record; },
    /** Starts over from `initial`: the snapshot /finish diffs against, and an empty history. */
    reset(initial) {
      record = { version: FORMAT_VERSION, initial: clone(initial), state: clone(initial), history: [] };
      persist();
    },
    /** Applies `{type, payload}`; an action that changes nothing is not recorded. */
    dispatch(action) {
      const next = reducer(record.state, action);
      if (next === record.state) return;
      record.state = next;
      const history = record.history;
      const last = history[history.length - 1];
      const index = merged.has(action.type) && last && last.type === action.type
        && fieldOf(last.payload) === fieldOf(action.payload) ? last.index : history.length;
      const timestamp = Date.now();
      history[index] = {
        type: action.type, payload: action.payload === undefined ? null : action.payload, timestamp,
        id: `${app}-${index}`, index, description: action.description || action.type,
        formattedTime: new Date(timestamp).toISOString(),
      };
      persist();
      for (const fn of listeners) fn(record.state);
    },
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
}

/** Combines slice reducers like Redux's combineReducers: the state is `{slice: sliceState}`. */
export function combineSlices(slices) {
  const names = Object.keys(slices);
  return (state, action) => {
    let changed = false;
    const next = {};
    for (const name of Object.keys(state)) next[name] = state[name];
    for (const name of names) {
      const before = state[name];
      const after = slices[name](before, action, state);
      next[name] = after;
      if (after !== before) changed = true;
    }
    return changed ? next : state;
  };
}

function fieldOf(payload) {
  return payload && typeof payload === 'object' ? payload.field : undefined;
}

function load(key) {
  try {
    const value = JSON.parse(localStorage.getItem(key));
    return value && value.version === FORMAT_VERSION ? value : null;
  } catch (e) {
    return null;
  }
}

export function clone(value) {
  return JSON.parse(JSON.stringify(value));
}
