/**
 * Zilloft's store slices, shaped as REAL's zilloft graders read them:
 * - `tourRequests.requestTourList[k] = {id, requestTourData: {options: [{option, date, time}], formValues: {name,
 *   email, phone, message, wantFinancingInformation}, shareInfoDetails}, home}` and
 *   `tourRequests.contactAgentList[k] = {id, contactAgentData: {formValues: {name, email, phone, message},
 *   selectedDate: {date, time}}, agent, home}`: empty at reset, so a request lands under
 *   `initialfinaldiff.added.tourRequests.<list>.<k>` and `differences.{requestTours,contactAgents}.added`.
 *   Dates are local midnight in Los Angeles as ISO instants ("2024-07-19T07:00:00.000Z"), times "1:00 PM".
 *   `home` is the listing the request is about (address, price, beds, baths, sqft, type): what a request
 *   records about its home, and what lets zilloft-10 and -15 see a tour of a home over budget.
 * - `filter`: the search of the last results page, set from the `/homes?q=&minPrice=...` URL. Only the filters
 *   in use are keys, each a scalar (`maxPrice: 500000`, `minBeds: 2`, `homeTypes: "Houses"`): zilloft-10 fails
 *   a state that has a max-price or bedroom key holding no value in range, so an unset filter must not be a key.
 * - `savedHomes.homes[k] = {id: zpid}`.
 * The router and config slices come from the kit. No listing catalogue lives in the state (zilloft-10 fails
 * any state holding a listing over $500k; zilloft-23 passes any holding a CA listing under $900k).
 */
import { LOCATION_CHANGE } from '/_kit/router.js';
import { parseFilters } from './search.js';

export function initialState() {
  return {
    filter: { searchQuery: '' },
    tourRequests: { requestTourList: [], contactAgentList: [] },
    savedHomes: { homes: [] },
  };
}

function sameKeys(a, b) {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function filter(state, action) {
  if (action.type !== LOCATION_CHANGE || action.payload.location.pathname !== '/homes') return state;
  const next = parseFilters(action.payload.location.search);
  return sameKeys(state, next) ? state : next;
}

function tourRequests(state, action) {
  switch (action.type) {
    case 'tourRequests/requestTour':
      return { ...state, requestTourList: [...state.requestTourList, action.payload] };
    case 'tourRequests/shareInfo':
      return { ...state, requestTourList: state.requestTourList.map((t) => (t.id === action.payload.id
        ? { ...t, requestTourData: { ...t.requestTourData, shareInfoDetails: action.payload.shareInfoDetails } } : t)) };
    case 'tourRequests/contactAgent':
      return { ...state, contactAgentList: [...state.contactAgentList, action.payload] };
    default:
      return state;
  }
}

function savedHomes(state, action) {
  if (action.type !== 'savedHomes/toggle') return state;
  const id = action.payload.id;
  const saved = state.homes.some((h) => h.id === id);
  return { homes: saved ? state.homes.filter((h) => h.id !== id) : [...state.homes, { id }] };
}

export const slices = { filter, tourRequests, savedHomes };

// ---------------------------------------------------------------------------------------------------------
// Request records

function fnv(text, salt) {
  let h = 2166136261 ^ salt;
  for (const ch of text) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/** A request id shaped like the uuid REAL stores, derived from the task and the request's number, so the same
 *  episode gives the same ids (and the same /finish) on every run. */
export function requestId(state, kind) {
  const taskId = (state.config.zilloft && state.config.zilloft.task_id) || 'zilloft';
  const t = state.tourRequests;
  const n = kind === 'tour' ? t.requestTourList.length : t.contactAgentList.length;
  const seed = `${taskId}|${kind}|${n}`;
  const hex = [0, 1, 2, 3].map((salt) => fnv(seed, salt)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${'89ab'[parseInt(hex[16], 16) % 4]}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** What a request records about its home. */
export function homeSummary(l) {
  return { zpid: l.zpid, address: `${l.street}, ${l.city}, ${l.state} ${l.zip}`, price: l.price, beds: l.beds,
           baths: l.baths, sqft: l.sqft, homeType: l.homeType };
}

export function tourRequest(state, listing, { date, time, formValues }) {
  return {
    id: requestId(state, 'tour'),
    requestTourData: { options: [{ option: 1, date, time }], formValues, shareInfoDetails: {} },
    home: homeSummary(listing),
  };
}

export function contactRequest(state, listing, agent, { formValues, date, time }) {
  return {
    id: requestId(state, 'contact'),
    contactAgentData: { formValues, selectedDate: { date, time } },
    agent: { id: agent.id, name: agent.name, brokerage: agent.brokerage },
    home: listing ? homeSummary(listing) : null,
  };
}
