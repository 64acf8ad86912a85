/**
 * GoMail's search language, as Gmail's: free words (every one must occur in the sender, recipients, subject
 * or body, case-insensitively), `-word` (must not occur), and operators `from:`, `to:`, `subject:`, `is:`
 * (read, unread, starred, snoozed), `in:` (inbox, starred, snoozed, sent, drafts, trash, spam, anywhere),
 * `label:`, `older_than:`/`newer_than:` (`2d`, `3w`, `2m`, `1y`), `before:`/`after:` (`2024/05/18`).
 * A value with spaces goes in parentheses or quotes: `subject:(team dinner)`.
 *
 * `parseQuery` gives the `filter.searchData` REAL's graders read (`hasWords` holds the free words exactly as
 * typed, so a plain search for "alerts" records `hasWords: "alerts"`); `searchMail` runs it over the emails.
 */
import { TODAY, addToDate } from './dates.js';

const OPERATORS = ['from', 'to', 'subject', 'is', 'in', 'label', 'older_than', 'newer_than', 'before', 'after'];
const KEY = { older_than: 'olderThan', newer_than: 'newerThan' };

export function emptySearch() {
  return { from: '', to: '', subject: '', hasWords: '', doesntHave: '', is: '', in: '', label: '', olderThan: '',
           newerThan: '', before: '', after: '' };
}

const TOKEN = /(-?)([a-z_]+):(\([^)]*\)|"[^"]*"|\S+)|(-?)("[^"]*"|\S+)/gi;
const unwrap = (v) => v.replace(/^[("](.*)[)"]$/, '$1').trim();

/** `filter.searchData` of a query string. */
export function parseQuery(query) {
  const data = emptySearch();
  const words = [];
  const excluded = [];
  for (const m of String(query || '').matchAll(TOKEN)) {
    if (m[2] && OPERATORS.includes(m[2].toLowerCase()) && !m[1]) {
      const key = KEY[m[2].toLowerCase()] || m[2].toLowerCase();
      data[key] = data[key] ? `${data[key]} ${unwrap(m[3])}` : unwrap(m[3]);
    } else {
      const negated = m[2] ? m[1] : m[4];
      const word = m[2] ? `${m[2]}:${m[3]}` : m[5];
      (negated ? excluded : words).push(word);
    }
  }
  data.hasWords = words.join(' ');
  data.doesntHave = excluded.join(' ');
  return data;
}

/** The query the advanced-search form's fields stand for (Gmail writes it into the search box). */
export function composeQuery({ from = '', to = '', subject = '', hasWords = '', doesntHave = '' }) {
  const wrap = (v) => (/\s/.test(v.trim()) ? `(${v.trim()})` : v.trim());
  const parts = [];
  if (from.trim()) parts.push(`from:${wrap(from)}`);
  if (to.trim()) parts.push(`to:${wrap(to)}`);
  if (subject.trim()) parts.push(`subject:${wrap(subject)}`);
  if (hasWords.trim()) parts.push(hasWords.trim());
  for (const w of doesntHave.trim().split(/\s+/).filter(Boolean)) parts.push(`-${w}`);
  return parts.join(' ');
}

/** An email's body as plain text (its HTML without tags). */
export function plainText(html) {
  return String(html || '').replace(/<br\s*\/?>/gi, ' ').replace(/<[^>]+>/g, ' ').replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'").replace(/\s+/g, ' ').trim();
}

const terms = (text) => (String(text).match(/"[^"]*"|\S+/g) || []).map((t) => unwrap(t).toLowerCase()).filter(Boolean);

function ageCutoff(spec) {
  const m = /^(\d+)([dwmy])$/i.exec(spec.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = m[2].toLowerCase();
  return unit === 'w' ? addToDate(TODAY, { days: -7 * n }) : addToDate(TODAY, { [{ d: 'days', m: 'months', y: 'years' }[unit]]: -n });
}

const ymd = (spec) => (/^\d{4}[/-]\d{1,2}[/-]\d{1,2}$/.test(spec.trim())
  ? spec.trim().split(/[/-]/).map((x, i) => (i ? x.padStart(2, '0') : x)).join('-') : null);

export function inScope(e, where) {
  switch (where) {
    case 'inbox': return !e.trash && !e.spam && !e.archived && !e.snoozeUntil && !e.sent && !e.draft;
    case 'starred': return e.starred && !e.trash && !e.spam;
    case 'snoozed': return !!e.snoozeUntil && !e.trash;
    case 'sent': return e.sent && !e.trash;
    case 'drafts': return e.draft && !e.trash;
    case 'trash': return e.trash;
    case 'spam': return e.spam && !e.trash;
    case 'anywhere': return true;
    default: return !e.trash && !e.spam && !e.draft;
  }
}

/** Whether `e` matches `data` (a parsed query). */
function matches(e, data) {
  if (!inScope(e, data.in.toLowerCase())) return false;
  const sender = `${e.fromName || ''} ${e.from}`.toLowerCase();
  const recipients = [...e.to, ...(e.cc || []), ...(e.bcc || [])].join(' ').toLowerCase();
  const subject = (e.subject || '').toLowerCase();
  const haystack = `${sender} ${recipients} ${subject} ${plainText(e.content).toLowerCase()}`;
  if (data.from && !terms(data.from).every((t) => sender.includes(t))) return false;
  if (data.to && !terms(data.to).every((t) => recipients.includes(t))) return false;
  if (data.subject && !terms(data.subject).every((t) => subject.includes(t))) return false;
  if (data.hasWords && !terms(data.hasWords).every((t) => haystack.includes(t))) return false;
  if (data.doesntHave && terms(data.doesntHave).some((t) => haystack.includes(t))) return false;
  for (const flag of terms(data.is)) {
    const ok = { read: e.isRead, unread: !e.isRead, starred: e.starred, snoozed: !!e.snoozeUntil }[flag];
    if (!ok) return false;
  }
  if (data.label && !terms(data.label).every((t) => (e.labels || []).some((l) => l.toLowerCase() === t))) return false;
  const older = data.olderThan && ageCutoff(data.olderThan);
  if (data.olderThan && !(older && e.date < older)) return false;
  const newer = data.newerThan && ageCutoff(data.newerThan);
  if (data.newerThan && !(newer && e.date > newer)) return false;
  const before = data.before && ymd(data.before);
  if (data.before && !(before && e.date < before)) return false;
  const after = data.after && ymd(data.after);
  if (data.after && !(after && e.date >= after)) return false;
  return true;
}

/** Whether a parsed query asks for anything at all. */
function isEmptySearch(data) {
  return Object.values(data).every((v) => !v);
}

/** The emails matching `data`, newest first. */
export function searchMail(emails, data) {
  if (isEmptySearch(data)) return [];
  return Object.values(emails).filter((e) => matches(e, data)).sort(newestFirst);
}

const sortKey = (e) => `${e.date}T${to24h(e.time)}#${String(e.id).padStart(6, '0')}`;
export const newestFirst = (a, b) => (sortKey(a) < sortKey(b) ? 1 : sortKey(a) > sortKey(b) ? -1 : 0);

function to24h(time) {
  const m = /^(\d{1,2}):(\d{2})\s*([AP]M)$/i.exec(String(time || '').trim());
  if (!m) return '00:00';
  const h = (Number(m[1]) % 12) + (m[3].toUpperCase() === 'PM' ? 12 : 0);
  return `${String(h).padStart(2, '0')}:${m[2]}`;
}
