/**
 * Starts a site page: every path loads the same HTML, and this module decides what it is.
 *
 * - `/config?run_id=&task_id=&latency=`: resets the store to the task's seeded initial state, snapshots it
 *   as `initialstate`, THEN records the config under `config.<app>`, so the config is part of the diff
 *   (zilloft-3 reads `initialfinaldiff.added.config.zilloft.run_id`) and the diff is never empty. Its history
 *   entry is then renamed "/", so the agent's Back button cannot re-run the reset.
 * - `/finish`: renders the finish state (finish.js) without dispatching anything.
 * - any other path: the app, rendered with Preact; the route it was loaded at is recorded.
 *
 * A site calls `bootSite({app, title, slices, initialState, collections, coalesce, App})`.
 */
import { html, render } from './vendor/preact-htm.js';
import { SiteContext } from './context.js';
import { finishState, renderFinish } from './finish.js';
import { createRouter, normalizePath, routerInitial, routerReducer } from './router.js';
import { combineSlices, createStore } from './store.js';

export const CONFIG_SET = 'config/set';

function configReducer(app) {
  return (state = {}, action) => (action.type === CONFIG_SET ? { ...state, [app]: action.payload } : state);
}

/**
 * `slices`: `{name: reducer(sliceState, action, wholeState)}` of the site's own state (router and config
 * are added here). `initialState(taskId)`: those slices' seeded values for a task (taskId is null when the
 * app is opened without /config). `collections`: the `differences` of /finish (see finish.js).
 */
export function bootSite({ app, title, slices, initialState, collections = {}, coalesce = [], App,
                           root = document.getElementById('__next') }) {
  const reducer = combineSlices({ config: configReducer(app), router: routerReducer, ...slices });
  const store = createStore({ app, reducer, coalesce });
  const fresh = (taskId) => ({ config: {}, router: routerInitial(), ...initialState(taskId) });
  const path = normalizePath(window.location.pathname);

  if (path === '/config') {
    const params = Object.fromEntries(new URLSearchParams(window.location.search));
    store.reset(fresh(params.task_id ?? null));
    store.dispatch({ type: CONFIG_SET, payload: params });
    // halo opens /config in the agent's own tab. Its history entry becomes "/", so Back can never reach (and
    // re-run) the reset; any navigation to /config still resets.
    window.history.replaceState(null, '', '/');
    document.title = `${title}: configured`;
    const p = document.createElement('p');
    p.id = 'config-done';
    p.textContent = `${title} is reset for task ${params.task_id ?? '(none)'}, run ${params.run_id ?? '(none)'}.`;
    root.replaceChildren(p);
    return store;
  }
  if (!store.loaded) store.reset(fresh(null));
  if (path === '/finish') {
    document.title = `${title}: finish`;
    renderFinish(root, finishState(store.snapshot(), collections));
    return store;
  }

  const router = createRouter(store);
  router.sync();
  const draw = () => {
    const value = { state: store.getState(), dispatch: store.dispatch, navigate: router.navigate };
    render(html`<${SiteContext.Provider} value=${value}><${App} /><//>`, root);
  };
  store.subscribe(draw);
  draw();
  return store;
}
