/**
 * Dates as GoMail shows and stores them. Emails carry a local `date` ("2024-07-18") and `time` ("08:12 AM")
 * in the mailbox's time zone (Pacific); "now" is REAL's frozen Thursday 2024-07-18 09:00 (the kit's
 * SITE_NOW_ISO), never the browser clock, so every page and state is the same on every run.
 */
import { SITE_NOW_ISO, SITE_TIME_ZONE } from '/_kit/store.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
export const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September',
                            'October', 'November', 'December'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
export const DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

function localParts(iso) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: SITE_TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(iso));
  const get = (t) => parts.find((p) => p.type === t).value;
  return { date: `${get('year')}-${get('month')}-${get('day')}`, minutes: Number(get('hour')) * 60 + Number(get('minute')) };
}

const NOW = localParts(SITE_NOW_ISO);
/** Today's local date, "2024-07-18". */
export const TODAY = NOW.date;
/** Now as GoMail stores a time, "09:00 AM". */
export const NOW_TIME = formatTime(NOW.minutes, true);

const split = (ymd) => ymd.split('-').map(Number);
const utcDay = (ymd) => { const [y, m, d] = split(ymd); return new Date(Date.UTC(y, m - 1, d)); };
const iso = (date) => date.toISOString().slice(0, 10);

export function weekday(ymd) {
  return utcDay(ymd).getUTCDay();
}

/** `ymd` moved by whole days, months or years (a month end clamps: May 31 - 3 months is Feb 29). */
export function addToDate(ymd, { days = 0, months = 0, years = 0 }) {
  const [y, m, d] = split(ymd);
  const firstOfTarget = new Date(Date.UTC(y + years, m - 1 + months, 1));
  const last = new Date(Date.UTC(firstOfTarget.getUTCFullYear(), firstOfTarget.getUTCMonth() + 1, 0)).getUTCDate();
  firstOfTarget.setUTCDate(Math.min(d, last) + days);
  return iso(firstOfTarget);
}

function formatTime(minutes, pad = false) {
  const h24 = Math.floor(minutes / 60);
  const h = h24 % 12 || 12;
  return `${pad ? String(h).padStart(2, '0') : h}:${String(minutes % 60).padStart(2, '0')} ${h24 < 12 ? 'AM' : 'PM'}`;
}

/** Minutes after midnight of "08:12 AM" / "8:12 am" / "20:12" / "8 PM"; null when it is not a time. */
export function parseTime(text) {
  const m = /^\s*(\d{1,2})(?::(\d{2}))?\s*([ap]\.?m\.?)?\s*$/i.exec(String(text || ''));
  if (!m) return null;
  let h = Number(m[1]);
  const min = m[2] === undefined ? 0 : Number(m[2]);
  if (min > 59) return null;
  if (m[3]) {
    if (h < 1 || h > 12) return null;
    h = (h % 12) + (m[3][0].toLowerCase() === 'p' ? 12 : 0);
  } else if (h > 23 || m[2] === undefined) {
    return null;
  }
  return h * 60 + min;
}

export const displayTime = (stored) => { const t = parseTime(stored); return t === null ? stored : formatTime(t); };

/** "2024-07-25" from "Jul 25, 2024", "July 25 2024", "7/25/2024" or "2024-07-25"; null otherwise. */
export function parseDate(text) {
  const s = String(text || '').trim();
  let y; let m; let d;
  let g = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(s);
  if (g) [y, m, d] = [Number(g[1]), Number(g[2]), Number(g[3])];
  else if ((g = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(s))) [m, d, y] = [Number(g[1]), Number(g[2]), Number(g[3])];
  else if ((g = /^([a-z]{3,9})\.?\s+(\d{1,2}),?\s+(\d{4})$/i.exec(s))) {
    const k = MONTHS.findIndex((name) => g[1].slice(0, 3).toLowerCase() === name.toLowerCase());
    if (k < 0) return null;
    [y, m, d] = [Number(g[3]), k + 1, Number(g[2])];
  } else return null;
  const out = `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
  return m >= 1 && m <= 12 && d >= 1 && addToDate(out, {}) === out ? out : null;
}

/** "Jul 25, 2024". */
export function formatDate(ymd) {
  const [y, m, d] = split(ymd);
  return `${MONTHS[m - 1]} ${d}, ${y}`;
}

/** The UTC instant of a Pacific wall-clock time (PDT from the second Sunday of March to the first of November). */
export function localToIso(ymd, minutes) {
  const [y, m, d] = split(ymd);
  const nthSunday = (month, n) => { const first = new Date(Date.UTC(y, month, 1)).getUTCDay(); return 1 + ((7 - first) % 7) + 7 * (n - 1); };
  const dstStart = `${y}-03-${String(nthSunday(2, 2)).padStart(2, '0')}`;
  const dstEnd = `${y}-11-${String(nthSunday(10, 1)).padStart(2, '0')}`;
  const offset = ymd >= dstStart && ymd < dstEnd ? 7 : 8;
  return new Date(Date.UTC(y, m - 1, d, Math.floor(minutes / 60) + offset, minutes % 60)).toISOString();
}

/** How the list shows an email's date: the time for today's, "Jul 17" for this year's, "2/14/23" before. */
export function listDate(e) {
  if (e.date === TODAY) return displayTime(e.time);
  const [y, m, d] = split(e.date);
  return y === split(TODAY)[0] ? `${MONTHS[m - 1]} ${d}` : `${m}/${d}/${String(y).slice(2)}`;
}

function ago(e) {
  const days = Math.round((utcDay(TODAY) - utcDay(e.date)) / 86400000);
  const minutes = days * 1440 + NOW.minutes - (parseTime(e.time) ?? 0);
  const unit = (n, word) => `${n} ${word}${n === 1 ? '' : 's'} ago`;
  if (minutes < 1) return 'now';
  if (minutes < 60) return unit(minutes, 'minute');
  if (minutes < 1440) return unit(Math.floor(minutes / 60), 'hour');
  if (days < 31) return unit(Math.max(1, Math.floor(minutes / 1440)), 'day');
  return unit(Math.floor(days / 30.4), 'month');
}

/** "Thu, Jul 18, 8:12 AM (48 minutes ago)", as the opened email shows its date. */
export function fullDate(e) {
  const [, m, d] = split(e.date);
  return `${DAYS[weekday(e.date)]}, ${MONTHS[m - 1]} ${d}, ${displayTime(e.time)} (${ago(e)})`;
}

/** "Jul 25, 8:00 AM" of a stored snooze instant. */
export function snoozeLabel(isoString) {
  const { date, minutes } = localParts(isoString);
  const [, m, d] = split(date);
  return `${MONTHS[m - 1]} ${d}, ${formatTime(minutes)}`;
}

/** The snooze menu's presets, as Gmail offers them on a Thursday morning. */
export function snoozePresets() {
  const nextWeekday = (target) => addToDate(TODAY, { days: ((target - weekday(TODAY) + 7) % 7) || 7 });
  const preset = (label, ymd, minutes) => ({
    label, detail: `${DAYS[weekday(ymd)]}, ${formatTime(minutes)}`, until: localToIso(ymd, minutes),
  });
  const weekendDay = weekday(TODAY) === 6 ? addToDate(TODAY, { days: 7 }) : nextWeekday(6);
  return [
    preset('Later today', TODAY, 18 * 60),
    preset('Tomorrow', addToDate(TODAY, { days: 1 }), 8 * 60),
    preset('This weekend', weekendDay, 8 * 60),
    preset('Next week', nextWeekday(1), 8 * 60),
  ];
}

/** The weeks (Sunday first) of a month's calendar: `null` for the padding days. */
export function monthWeeks(year, month) {
  const first = new Date(Date.UTC(year, month - 1, 1)).getUTCDay();
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const cells = [...Array(first).fill(null), ...Array.from({ length: days }, (_, k) => k + 1)];
  while (cells.length % 7) cells.push(null);
  return Array.from({ length: cells.length / 7 }, (_, w) => cells.slice(w * 7, w * 7 + 7));
}

