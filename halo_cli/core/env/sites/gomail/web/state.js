/**
 * GoMail's store slices, shaped as REAL's gomail graders read them:
 * - `email.emails`: every email keyed by its id ("1".."56" seeded, new ones from "57"), so the keys of
 *   `initialfinaldiff.{added,updated}.email.emails.<key>` are email ids. Moving to Trash sets `trash: true`
 *   (the email stays), archiving `archived`, reporting spam `spam`, snoozing adds `snoozeUntil` (an ISO
 *   instant: a key absent at reset, so it lands under `initialfinaldiff.added`); sending adds an email with
 *   `sent: true` (a reply also `isReply: true`), closing the compose window keeps a `draft: true` one;
 *   only "Delete forever" (Trash, Spam, a discarded draft) removes an email.
 * - `ui.snackbar.{open,message}` ("54 conversations moved to Trash.", "Message sent"; closing it, or going
 *   to another page, keeps the message), `ui.searchInputValue`: both present at reset, so changes land under
 *   `initialfinaldiff.updated`.
 * - `filter.searchData` (the parsed search, `hasWords` the free words) and `filter.searchResults`
 *   (`[{id, from, subject, date, snoozed, snoozeUntil}]` of the current search, kept in step with snoozing
 *   and trashing); both reset when the agent leaves the search for a mailbox.
 * - `settings.customLabels`: `[{label, parent}]`.
 * The seeded mailbox comes from `mailbox.json`; the contacts the To field suggests never enter the state.
 */
import { LOCATION_CHANGE } from '/_kit/router.js';
import { clone } from '/_kit/store.js';
import mailbox from './mailbox.json' with { type: 'json' };
import { snoozeLabel } from './dates.js';
import { emptySearch, parseQuery, searchMail } from './search.js';

export const ACCOUNT = mailbox.account;
export const PAGE_SIZE = 50;

export function initialState() {
  return {
    email: { emails: Object.fromEntries(mailbox.emails.map((e) => [e.id, clone(e)])) },
    ui: { snackbar: { open: false, message: '' }, searchInputValue: '' },
    filter: { searchData: emptySearch(), searchResults: [] },
    settings: { customLabels: [] },
  };
}

/** The id the next new email gets: one more than the largest id ever seeded or added. */
export function nextEmailId(state) {
  return String(Math.max(56, ...Object.keys(state.email.emails).map(Number).filter(Number.isFinite)) + 1);
}

// ---------------------------------------------------------------------------------------------------------
// email

/** Sets `fields` on the emails `ids`; the same state when nothing changes (no-op actions are not recorded). */
function patch(state, ids, fields) {
  let emails = null;
  for (const id of ids || []) {
    const e = (emails || state.emails)[id];
    if (!e || Object.entries(fields).every(([k, v]) => e[k] === v)) continue;
    emails = emails || { ...state.emails };
    emails[id] = { ...e, ...fields };
  }
  return emails ? { ...state, emails } : state;
}

function without(state, ids, test = () => true) {
  const gone = (ids || []).filter((id) => state.emails[id] && test(state.emails[id]));
  if (!gone.length) return state;
  const emails = { ...state.emails };
  for (const id of gone) delete emails[id];
  return { ...state, emails };
}

function unsnooze(state, ids) {
  const snoozed = (ids || []).filter((id) => state.emails[id] && 'snoozeUntil' in state.emails[id]);
  if (!snoozed.length) return state;
  const emails = { ...state.emails };
  for (const id of snoozed) {
    const { snoozeUntil, ...rest } = emails[id];
    emails[id] = rest;
  }
  return { ...state, emails };
}

function setLabel(state, { ids, label, on }) {
  let emails = null;
  for (const id of ids || []) {
    const e = state.emails[id];
    if (!e || (e.labels || []).includes(label) === on) continue;
    emails = emails || { ...state.emails };
    emails[id] = { ...e, labels: on ? [...(e.labels || []), label] : e.labels.filter((l) => l !== label) };
  }
  return emails ? { ...state, emails } : state;
}

function email(state, action) {
  const p = action.payload || {};
  switch (action.type) {
    case 'emails/setRead': return patch(state, p.ids, { isRead: p.isRead });
    case 'emails/setStarred': return patch(state, p.ids, { starred: p.starred });
    case 'emails/moveToTrash': return patch(state, p.ids, { trash: true });
    case 'emails/archive': return patch(state, p.ids, { archived: true });
    case 'emails/reportSpam': return patch(state, p.ids, { spam: true });
    case 'emails/moveToInbox': return patch(state, p.ids, { trash: false, spam: false, archived: false });
    case 'emails/snooze': return patch(state, p.ids, { snoozeUntil: p.until });
    case 'emails/unsnooze': return unsnooze(state, p.ids);
    case 'emails/deleteForever': return without(state, p.ids, (e) => e.trash || e.spam);
    case 'emails/discardDraft': return without(state, p.ids, (e) => e.draft);
    case 'emails/setLabel': return setLabel(state, p);
    case 'emails/send':
    case 'emails/saveDraft':
      return { ...state, emails: { ...state.emails, [p.email.id]: p.email } };
    default: return state;
  }
}

// ---------------------------------------------------------------------------------------------------------
// ui: the snackbar and the search box

const conversations = (n, what) => (n === 1 ? `Conversation ${what}.` : `${n} conversations ${what}.`);

/** The snackbar message an action shows (null: it shows none). */
function snackbarMessage(action) {
  const p = action.payload || {};
  const n = (p.ids || []).length;
  if (Array.isArray(p.ids) && !n) return null; // nothing was acted on: no "0 conversations ..."
  switch (action.type) {
    case 'emails/moveToTrash': return conversations(n, 'moved to Trash');
    case 'emails/archive': return conversations(n, 'archived');
    case 'emails/reportSpam': return conversations(n, 'marked as spam');
    case 'emails/moveToInbox': return conversations(n, 'moved to Inbox');
    case 'emails/deleteForever': return conversations(n, 'deleted forever');
    case 'emails/snooze': return conversations(n, `snoozed until ${snoozeLabel(p.until)}`);
    case 'emails/unsnooze': return conversations(n, 'unsnoozed');
    case 'emails/setRead': return p.quiet ? null : conversations(n, p.isRead ? 'marked as read' : 'marked as unread');
    case 'emails/setLabel': return p.on ? conversations(n, `added to "${p.label}"`) : conversations(n, `removed from "${p.label}"`);
    case 'emails/send': return 'Message sent';
    case 'emails/discardDraft': return 'Draft discarded.';
    case 'settings/createLabel': return `Label "${p.label}" created.`;
    default: return null;
  }
}

function isSearchPage(location) {
  return location.pathname === '/search';
}

function ui(state, action) {
  if (action.type === 'ui/setSearchInputValue') {
    return state.searchInputValue === action.payload.value ? state : { ...state, searchInputValue: action.payload.value };
  }
  if (action.type === 'ui/closeSnackbar') {
    return state.snackbar.open ? { ...state, snackbar: { ...state.snackbar, open: false } } : state;
  }
  if (action.type === LOCATION_CHANGE) {
    // A new page hides the snackbar (its message stays, as REAL's state keeps it); an opened email keeps
    // the search box of the search it came from.
    const { location } = action.payload;
    const value = location.pathname.startsWith('/email/') ? state.searchInputValue
      : isSearchPage(location) ? new URLSearchParams(location.search).get('q') || '' : '';
    if (value === state.searchInputValue && !state.snackbar.open) return state;
    return { ...state, searchInputValue: value, snackbar: { ...state.snackbar, open: false } };
  }
  const message = snackbarMessage(action);
  return message === null ? state : { ...state, snackbar: { open: true, message } };
}

// ---------------------------------------------------------------------------------------------------------
// filter: the current search and its results

const resultOf = (e) => ({ id: e.id, from: e.from, subject: e.subject, date: e.date, snoozed: !!e.snoozeUntil,
                           snoozeUntil: e.snoozeUntil || null });

function filter(state, action, whole) {
  const p = action.payload || {};
  switch (action.type) {
    case LOCATION_CHANGE: {
      const { location } = p;
      if (location.pathname.startsWith('/email/')) return state;
      if (!isSearchPage(location)) {
        return state.searchResults.length || Object.values(state.searchData).some(Boolean)
          ? { searchData: emptySearch(), searchResults: [] } : state;
      }
      const searchData = parseQuery(new URLSearchParams(location.search).get('q') || '');
      const searchResults = searchMail(whole.email.emails, searchData).map(resultOf);
      return JSON.stringify({ searchData, searchResults }) === JSON.stringify(state) ? state : { searchData, searchResults };
    }
    case 'emails/snooze':
    case 'emails/unsnooze': {
      const ids = new Set(p.ids);
      if (!state.searchResults.some((r) => ids.has(r.id))) return state;
      const snoozed = action.type === 'emails/snooze';
      return { ...state, searchResults: state.searchResults.map((r) => (ids.has(r.id)
        ? { ...r, snoozed, snoozeUntil: snoozed ? p.until : null } : r)) };
    }
    case 'emails/moveToTrash':
    case 'emails/reportSpam':
    case 'emails/deleteForever':
    case 'emails/discardDraft': {
      const ids = new Set(p.ids);
      const kept = state.searchResults.filter((r) => !ids.has(r.id));
      return kept.length === state.searchResults.length ? state : { ...state, searchResults: kept };
    }
    default: return state;
  }
}

// ---------------------------------------------------------------------------------------------------------
// settings

function settings(state, action) {
  if (action.type !== 'settings/createLabel') return state;
  const { label, parent = null } = action.payload;
  if (state.customLabels.some((l) => l.label.toLowerCase() === label.toLowerCase())) return state;
  return { ...state, customLabels: [...state.customLabels, { label, parent }] };
}

export const slices = { email, ui, filter, settings };

/** The emails REAL's `differences.emails` compares: all but the snoozed ones (a snoozed email has left the
 *  mailbox until it returns, and eval_gomail_21 reads the snoozed emails from `differences.emails.deleted`). */
export function mailboxEmails(state) {
  return Object.values(state.email.emails).filter((e) => !e.snoozeUntil);
}
