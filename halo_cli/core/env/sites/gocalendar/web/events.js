/**
 * Events as the views need them: the occurrences of each event on the days shown (a repeating event has one
 * per matching day), the columns of overlapping events in a day, and the repeat choices for a start day.
 *
 * An event is stored as REAL's GoCalendar stores it: `start`/`end` UTC ISO strings, `allDay`. A timed event
 * shows on the local day it starts; an all-day event covers the local days from its start to its end, both
 * included (the seeded ones end at 23:59 of their last day, the ones created here at 00:00 of it).
 * A repeating event also carries `repeats`, the label the dialog offered ("Every weekday (Monday to Friday)").
 */
import { MONTHS, WEEKDAYS, addDays, daysBetween, dayOfWeek, instant, parseYmd, zoned } from './time.js';

const ORDINALS = ['first', 'second', 'third', 'fourth', 'fifth'];

/** The repeat choices offered for an event starting on `ymd`, as the real dialog lists them. */
export function repeatOptions(ymd) {
  const [, m, d] = parseYmd(ymd);
  const day = WEEKDAYS[dayOfWeek(ymd)];
  return [
    { id: 'none', label: 'Does not repeat' },
    { id: 'daily', label: 'Daily' },
    { id: 'weekly', label: `Weekly on ${day}` },
    { id: 'monthly', label: `Monthly on the ${ORDINALS[Math.floor((d - 1) / 7)]} ${day}` },
    { id: 'annually', label: `Annually on ${MONTHS[m - 1]} ${d}` },
    { id: 'weekdays', label: 'Every weekday (Monday to Friday)' },
  ];
}

/** The rule id of a stored `repeats` label. */
export function repeatRule(label) {
  if (!label || label === 'Does not repeat') return 'none';
  if (label === 'Daily') return 'daily';
  if (label.startsWith('Weekly on')) return 'weekly';
  if (label.startsWith('Monthly on')) return 'monthly';
  if (label.startsWith('Annually on')) return 'annually';
  if (label.startsWith('Every weekday')) return 'weekdays';
  return 'none';
}

function repeatsOn(rule, first, day) {
  if (day < first) return false;
  if (day === first) return true;
  const [, m0, d0] = parseYmd(first);
  const [, m, d] = parseYmd(day);
  switch (rule) {
    case 'daily': return true;
    case 'weekly': return dayOfWeek(day) === dayOfWeek(first);
    case 'weekdays': return dayOfWeek(day) >= 1 && dayOfWeek(day) <= 5;
    case 'monthly': return dayOfWeek(day) === dayOfWeek(first) && Math.floor((d - 1) / 7) === Math.floor((d0 - 1) / 7);
    case 'annually': return m === m0 && d === d0;
    default: return false;
  }
}

/**
 * An event's local extent: `{firstDay, lastDay, startMin, endMin}`. A timed event ending at midnight ends on the
 * day before; its end minutes run past 1440 when it crosses midnight.
 */
export function extent(ev) {
  const startMs = Date.parse(ev.start);
  const endMs = Math.max(Date.parse(ev.end), startMs);
  const s = zoned(startMs);
  const lastDay = zoned(ev.allDay || endMs === startMs ? endMs : endMs - 1).ymd;
  return { firstDay: s.ymd, lastDay: lastDay < s.ymd ? s.ymd : lastDay, startMin: s.minutes,
           endMin: s.minutes + Math.round((endMs - startMs) / 60000) };
}

/**
 * Every occurrence of `events` touching the days `first`..`last`: `{event, day, lastDay, start, end, key}` with
 * `start`/`end` in ms; `day` is the occurrence's first local day.
 */
export function occurrences(events, first, last) {
  const out = [];
  for (const ev of events) {
    const x = extent(ev);
    const rule = repeatRule(ev.repeats);
    const span = daysBetween(x.firstDay, x.lastDay);
    const duration = Date.parse(ev.end) - Date.parse(ev.start);
    if (rule === 'none') {
      if (x.firstDay <= last && x.lastDay >= first) {
        out.push({ event: ev, day: x.firstDay, lastDay: x.lastDay, start: Date.parse(ev.start),
                   end: Date.parse(ev.end), key: ev.id });
      }
      continue;
    }
    for (let day = addDays(first, -span); day <= last; day = addDays(day, 1)) {
      if (!repeatsOn(rule, x.firstDay, day)) continue;
      const start = ev.allDay ? instant(day, 0) : instant(day, x.startMin);
      out.push({ event: ev, day, lastDay: addDays(day, span), start, end: start + duration, key: `${ev.id}@${day}` });
    }
  }
  return out.sort((a, b) => a.start - b.start || b.end - a.end || a.key.localeCompare(b.key));
}

/** Whether an occurrence belongs in the all-day row (all-day, or timed across several days like a trip). */
export const isAllDayRow = (o) => o.event.allDay || o.lastDay > o.day;

/**
 * Side-by-side columns for the timed occurrences of one day: each gets `{col, cols}` so that overlapping ones
 * share the width, as the real week view draws them.
 */
export function layoutDay(items) {
  const placed = [];
  let cluster = [];
  let clusterEnd = -1;
  const flush = () => {
    const cols = Math.max(1, ...cluster.map((p) => p.col + 1));
    for (const p of cluster) p.cols = cols;
    cluster = [];
  };
  for (const item of items) {
    const top = item.startMin;
    const bottom = Math.max(item.endMin, top + 20);
    if (top >= clusterEnd && cluster.length) flush();
    const used = new Set(cluster.filter((p) => p.bottom > top).map((p) => p.col));
    let col = 0;
    while (used.has(col)) col += 1;
    const p = { ...item, col, bottom };
    cluster.push(p);
    placed.push(p);
    clusterEnd = Math.max(clusterEnd, bottom);
  }
  if (cluster.length) flush();
  return placed;
}
