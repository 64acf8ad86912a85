/**
 * Client-side routing recorded in the store, the way connected-react-router does it in REAL's apps: a
 * `router` slice `{location: {pathname, search, hash}, action}` changed by `@@router/LOCATION_CHANGE`.
 *
 * The graders read `router.location.pathname` of the last app page (omnizon wants "/confirmation"), so only
 * app pages dispatch location changes; /config and /finish never do (halo opens /finish in the episode's own
 * tab, after the last app page).
 */
import { html } from './vendor/preact-htm.js';
import { useSite } from './context.js';

export const LOCATION_CHANGE = '@@router/LOCATION_CHANGE';

export function routerInitial() {
  return { location: { pathname: '/', search: '', hash: '' }, action: 'POP' };
}

export function routerReducer(state = routerInitial(), action) {
  if (action.type !== LOCATION_CHANGE) return state;
  const { location, action: how } = action.payload;
  const same = state.location.pathname === location.pathname && state.location.search === location.search
    && state.location.hash === location.hash;
  return same ? state : { location: { ...location }, action: how };
}

/** `//config` (agisdk appends routes to a base URL ending in "/") is `/config`. */
export function normalizePath(pathname) {
  const p = pathname.replace(/\/{2,}/g, '/');
  return p.length > 1 ? p.replace(/\/$/, '') : p;
}

export function windowLocation() {
  return { pathname: normalizePath(window.location.pathname), search: window.location.search,
           hash: window.location.hash };
}

/** Navigation bound to a store: `navigate(to)` pushes a history entry and records the new location. */
export function createRouter(store) {
  function record(how) {
    store.dispatch({ type: LOCATION_CHANGE, payload: { location: windowLocation(), action: how } });
  }
  window.addEventListener('popstate', () => record('POP'));
  return {
    navigate(to, { replace = false } = {}) {
      if (replace) window.history.replaceState(null, '', to);
      else window.history.pushState(null, '', to);
      window.scrollTo(0, 0);
      record(replace ? 'REPLACE' : 'PUSH');
    },
    /** Records the page the app was loaded at (a reload, or the start page after a reset). */
    sync() {
      record('POP');
    },
  };
}

/** An `<a>` whose plain left click navigates in-app; modified clicks keep the browser's behaviour. */
export function Link({ href, children, ...rest }) {
  const { navigate } = useSite();
  const onClick = (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return html`<a href=${href} onClick=${onClick} ...${rest}>${children}</a>`;
}
