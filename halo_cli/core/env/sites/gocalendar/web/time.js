/**
 * GoCalendar's calendar arithmetic, all of it in REAL's time zone (America/Los_Angeles), never the browser's:
 * the graders compare UTC instants (Sep 20 7:45pm is `2024-09-21T02:45Z`), so a local wall time must become the
 * same instant whatever zone the browser runs in.
 *
 * Days are `ymd` strings ("2024-07-22"); times of day are minutes after local midnight; instants are epoch
 * milliseconds or ISO strings with `Z`. Weeks start on Sunday, as in the real site.
 */
import { SITE_NOW_ISO, SITE_TIME_ZONE } from '/_kit/store.js';

export const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September',
  'October', 'November', 'December'];
export const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MINUTE = 60000;
const DAY = 86400000;

const PARTS = new Intl.DateTimeFormat('en-US', {
  timeZone: SITE_TIME_ZONE, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric',
  minute: 'numeric', second: 'numeric',
});

/** `{y, m (1-12), d, minutes, dow (0 = Sunday), ymd}` of an instant in the site's zone. */
export function zoned(ms) {
  const p = {};
  for (const { type, value } of PARTS.formatToParts(new Date(ms))) p[type] = Number(value);
  const ymd = toYmd(p.year, p.month, p.day);
  return { y: p.year, m: p.month, d: p.day, minutes: (p.hour % 24) * 60 + p.minute, dow: dayOfWeek(ymd), ymd };
}

/** The zone's offset from UTC at an instant, in minutes (PDT: -420). */
function offsetAt(ms) {
  const whole = Math.floor(ms / 1000) * 1000;
  const p = {};
  for (const { type, value } of PARTS.formatToParts(new Date(whole))) p[type] = Number(value);
  return (Date.UTC(p.year, p.month - 1, p.day, p.hour % 24, p.minute, p.second) - whole) / MINUTE;
}

/** The instant of local wall time `minutes` on day `ymd` in the site's zone. */
export function instant(ymd, minutes = 0) {
  const [y, m, d] = parseYmd(ymd);
  const guess = Date.UTC(y, m - 1, d) + minutes * MINUTE;
  const first = guess - offsetAt(guess) * MINUTE;
  const second = guess - offsetAt(first) * MINUTE;
  return second;
}

export const iso = (ms) => new Date(ms).toISOString();
export const NOW = Date.parse(SITE_NOW_ISO);
export const TODAY = zoned(NOW).ymd;

// ---------------------------------------------------------------------------------------------------------
// Days

export function toYmd(y, m, d) {
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

export function parseYmd(ymd) {
  return ymd.split('-').map(Number);
}

export function addDays(ymd, n) {
  const [y, m, d] = parseYmd(ymd);
  const t = new Date(Date.UTC(y, m - 1, d + n));
  return toYmd(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate());
}

/** Whole days from `a` to `b`. */
export function daysBetween(a, b) {
  const [y1, m1, d1] = parseYmd(a);
  const [y2, m2, d2] = parseYmd(b);
  return Math.round((Date.UTC(y2, m2 - 1, d2) - Date.UTC(y1, m1 - 1, d1)) / DAY);
}

export function dayOfWeek(ymd) {
  const [y, m, d] = parseYmd(ymd);
  return new Date(Date.UTC(y, m - 1, d)).getUTCDay();
}

export function daysInMonth(y, m) {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** Same day of the month `n` months later, clamped to the month's length. */
export function addMonths(ymd, n) {
  const [y, m, d] = parseYmd(ymd);
  const idx = y * 12 + (m - 1) + n;
  const ny = Math.floor(idx / 12);
  const nm = (idx % 12) + 1;
  return toYmd(ny, nm, Math.min(d, daysInMonth(ny, nm)));
}

export const startOfWeek = (ymd) => addDays(ymd, -dayOfWeek(ymd));
export const weekDays = (ymd) => Array.from({ length: 7 }, (_, i) => addDays(startOfWeek(ymd), i));

/** The 42 days (6 weeks from a Sunday) of the month view holding `ymd`. */
export function monthGrid(ymd) {
  const [y, m] = parseYmd(ymd);
  const first = startOfWeek(toYmd(y, m, 1));
  return Array.from({ length: 42 }, (_, i) => addDays(first, i));
}

// ---------------------------------------------------------------------------------------------------------
// Formatting (Google Calendar's style: "9am", "9:30am", "Thursday, July 18")

export function formatTime(minutes, { compact = false } = {}) {
  const h = Math.floor(minutes / 60) % 24;
  const mm = minutes % 60;
  const suffix = h < 12 ? 'am' : 'pm';
  const h12 = h % 12 === 0 ? 12 : h % 12;
  if (compact && mm === 0) return `${h12}${suffix}`;
  return `${h12}:${String(mm).padStart(2, '0')}${suffix}`;
}

/** "9 – 10am", "9:30 – 11am", "11am – 12:30pm". */
export function formatTimeRange(a, b) {
  const sameHalf = (Math.floor(a / 60) < 12) === (Math.floor(b / 60) % 24 < 12);
  const left = formatTime(a, { compact: true });
  return `${sameHalf ? left.replace(/(am|pm)$/, '') : left} – ${formatTime(b, { compact: true })}`;
}

export function formatHour(h) {
  if (h === 0) return '';
  return `${h % 12 === 0 ? 12 : h % 12} ${h < 12 ? 'AM' : 'PM'}`;
}

export function longDate(ymd, { year = false, weekday = true } = {}) {
  const [y, m, d] = parseYmd(ymd);
  const text = `${MONTHS[m - 1]} ${d}${year ? `, ${y}` : ''}`;
  return weekday ? `${WEEKDAYS[dayOfWeek(ymd)]}, ${text}` : text;
}

/** "Thu, Jul 18, 2024": what the date fields show. */
export function fieldDate(ymd) {
  const [y, m, d] = parseYmd(ymd);
  return `${WEEKDAYS[dayOfWeek(ymd)].slice(0, 3)}, ${MONTHS[m - 1].slice(0, 3)} ${d}, ${y}`;
}

/** The header's title for the days shown: "July 2024", "Jul – Aug 2024", "Dec 2024 – Jan 2025". */
export function rangeTitle(first, last) {
  const [y1, m1] = parseYmd(first);
  const [y2, m2] = parseYmd(last);
  if (y1 === y2 && m1 === m2) return `${MONTHS[m1 - 1]} ${y1}`;
  if (y1 === y2) return `${MONTHS[m1 - 1].slice(0, 3)} – ${MONTHS[m2 - 1].slice(0, 3)} ${y1}`;
  return `${MONTHS[m1 - 1].slice(0, 3)} ${y1} – ${MONTHS[m2 - 1].slice(0, 3)} ${y2}`;
}

// ---------------------------------------------------------------------------------------------------------
// Parsing what a person types into the date and time fields

/** Minutes after midnight for "7:45pm", "7:45 PM", "7pm", "19:45", "noon", "midnight"; null if unreadable. */
export function parseTime(text) {
  const t = String(text).trim().toLowerCase().replace(/\s+/g, ' ');
  if (t === 'noon') return 720;
  if (t === 'midnight') return 0;
  const m = t.match(/^(\d{1,2})(?:[:.](\d{2}))?\s*(a|p|am|pm|a\.m\.|p\.m\.)?$/);
  if (!m) return null;
  let h = Number(m[1]);
  const mm = m[2] ? Number(m[2]) : 0;
  if (mm > 59) return null;
  if (m[3]) {
    if (h < 1 || h > 12) return null;
    h = (h % 12) + (m[3].startsWith('p') ? 12 : 0);
  } else if (h > 23) return null;
  return h * 60 + mm;
}

const MONTH_INDEX = new Map(MONTHS.flatMap((name, i) => [[name.toLowerCase(), i + 1],
  [name.slice(0, 3).toLowerCase(), i + 1], ...(name.length > 4 ? [[name.slice(0, 4).toLowerCase(), i + 1]] : [])]));

function valid(y, m, d) {
  return y >= 1900 && y <= 2100 && m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m) ? toYmd(y, m, d) : null;
}

/**
 * The day for "2024-07-22", "7/22/2024", "7/22", "Jul 22", "July 22, 2024", "Monday, July 22", "22 July 2024"
 * (a leading weekday is ignored); `year` fills a missing year. Null if unreadable.
 */
export function parseDate(text, year) {
  const t = String(text).trim().toLowerCase().replace(/(\d)(st|nd|rd|th)\b/g, '$1').replace(/\s+/g, ' ');
  let m = t.match(/^(\d{4})-(\d{1,2})-(\d{1,2})$/);
  if (m) return valid(Number(m[1]), Number(m[2]), Number(m[3]));
  m = t.match(/^(\d{1,2})\/(\d{1,2})(?:\/(\d{2}|\d{4}))?$/);
  if (m) {
    const y = m[3] ? (m[3].length === 2 ? 2000 + Number(m[3]) : Number(m[3])) : year;
    return valid(y, Number(m[1]), Number(m[2]));
  }
  const words = t.replace(/,/g, ' ').split(' ').filter(Boolean);
  if (words.length && WEEKDAYS.some((w) => w.toLowerCase().startsWith(words[0].replace(/\.$/, '')) && words[0].length >= 3)) {
    words.shift();
  }
  const monthOf = (w) => MONTH_INDEX.get(w.replace(/\.$/, ''));
  if (words.length >= 2 && monthOf(words[0]) && /^\d{1,2}$/.test(words[1])) {
    const y = words[2] && /^\d{4}$/.test(words[2]) ? Number(words[2]) : year;
    return words.length <= 3 ? valid(y, monthOf(words[0]), Number(words[1])) : null;
  }
  if (words.length >= 2 && /^\d{1,2}$/.test(words[0]) && monthOf(words[1])) {
    const y = words[2] && /^\d{4}$/.test(words[2]) ? Number(words[2]) : year;
    return words.length <= 3 ? valid(y, monthOf(words[1]), Number(words[0])) : null;
  }
  return null;
}
