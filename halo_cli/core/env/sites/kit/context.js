/**
 * The Preact context through which a site's components reach the store and the router:
 * `const { state, dispatch, navigate } = useSite()`.
 */
import { createContext, useContext } from './vendor/preact-htm.js';

export const SiteContext = createContext(null);

export function useSite() {
  return useContext(SiteContext);
}
