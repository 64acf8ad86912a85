/**
 * The calendar views: `TimeGrid` (the Day and Week views: an all-day row, then 24 hours in a scrolling grid,
 * 48px an hour, opened at 7 AM) and `MonthView` (6 weeks, up to 3 entries a day and "N more").
 * Clicking an empty slot opens the create dialog at that time (Day/Week: the half hour clicked; Month: the
 * day, 10 AM); clicking an event opens its details; a day's number opens that day.
 */
import { html, useLayoutEffect, useRef } from '/_kit/vendor/preact-htm.js';
import { useSite } from '/_kit/context.js';
import { isAllDayRow, layoutDay, occurrences } from './events.js';
import { Icon } from './icons.js';
import {
  MONTHS, NOW, TODAY, WEEKDAYS, dayOfWeek, daysBetween, formatHour, formatTime, formatTimeRange, instant, iso, longDate,
  parseYmd, zoned,
} from './time.js';

export const HOUR_PX = 48;
const OPEN_AT_HOUR = 7;

/** The events and tasks the calendars' checkboxes leave visible. */
export function visible(state) {
  const hidden = new Set(state.calendar.hiddenCalendars);
  return {
    events: state.calendar.myEvents.filter((e) => !hidden.has(e.calendarOptions.calendar.id)),
    tasks: hidden.has('tasks') ? [] : state.calendar.myTasks,
  };
}

function tasksOn(tasks, first, last) {
  return tasks.map((t) => ({ task: t, day: zoned(Date.parse(t.dueDate)).ymd })).filter((x) => x.day >= first && x.day <= last);
}

const colorOf = (ev) => ev.calendarOptions.color || ev.calendarOptions.calendar.color;

function spoken(o) {
  const ev = o.event;
  const title = ev.title || '(No title)';
  const where = ev.location ? `, ${ev.location}` : '';
  if (ev.allDay || o.lastDay > o.day) return `${title}, all day, ${longDate(o.day)}${where}`;
  const s = zoned(o.start);
  const e = zoned(o.end);
  return `${title}, ${formatTime(s.minutes, { compact: true })} to ${formatTime(e.minutes, { compact: true })}${where}, ${longDate(o.day)}`;
}

/** Lanes for bars spanning columns `from`..`to`: each item gets the first lane free over its span. */
function lanes(items) {
  const taken = [];
  return items.map((it) => {
    let lane = 0;
    while ((taken[lane] || []).some(([a, b]) => it.from <= b && a <= it.to)) lane += 1;
    (taken[lane] = taken[lane] || []).push([it.from, it.to]);
    return { ...it, lane };
  });
}

function AllDayRow({ days, occ, tasks, ui }) {
  const n = days.length;
  const bars = lanes([
    ...occ.map((o) => ({ o, from: Math.max(0, daysBetween(days[0], o.day)), to: Math.min(n - 1, daysBetween(days[0], o.lastDay)) })),
    ...tasks.map((t) => ({ t, from: daysBetween(days[0], t.day), to: daysBetween(days[0], t.day) })),
  ]);
  const rows = Math.max(1, ...bars.map((b) => b.lane + 1));
  return html`<div class="allday-row"><div class="gutter allday-gutter"></div>
    <div class="allday-cells" style=${`height:${rows * 24 + 6}px`}>
      ${days.map((d, i) => html`<div class="allday-cell" style=${`left:${(i / n) * 100}%;width:${100 / n}%`}
        onClick=${() => ui.create(d, 0, 60, { allDay: true })}></div>`)}
      ${bars.map((b) => {
        const style = `left:calc(${(b.from / n) * 100}% + 2px);width:calc(${((b.to - b.from + 1) / n) * 100}% - 6px);top:${b.lane * 24 + 2}px`;
        if (b.t) {
          return html`<button type="button" class=${`bar task ${b.t.task.isCompleted ? 'done' : ''}`} style=${style}
            aria-label=${`Task: ${b.t.task.title}, ${longDate(b.t.day)}`}
            onClick=${(e) => { e.stopPropagation(); ui.task(b.t.task); }}><${Icon} name="task" size=${14} />${b.t.task.title}</button>`;
        }
        return html`<button type="button" class="bar" style=${`${style};background:${colorOf(b.o.event)}`} aria-label=${spoken(b.o)}
          onClick=${(e) => { e.stopPropagation(); ui.details(b.o); }}>${b.o.event.title || '(No title)'}</button>`;
      })}
    </div></div>`;
}

function EventBlock({ p, ui }) {
  const ev = p.event;
  const height = Math.max(((p.bottom - p.startMin) / 60) * HOUR_PX - 2, 18);
  const style = `top:${(p.startMin / 60) * HOUR_PX}px;height:${height}px;left:calc(${(p.col / p.cols) * 100}% + 1px);`
    + `width:calc(${100 / p.cols}% - 6px);background:${colorOf(ev)}`;
  const short = p.endMin - p.startMin <= 45;
  const range = formatTimeRange(p.startMin, Math.min(p.endMin, 1440));
  return html`<button type="button" class=${`ev ${short ? 'short' : ''}`} style=${style} aria-label=${spoken(p)}
    onClick=${(e) => { e.stopPropagation(); ui.details(p); }}>
    ${short ? html`<span class="ev-line"><b>${ev.title || '(No title)'}</b>, ${formatTime(p.startMin, { compact: true })}</span>`
      : html`<span class="ev-title">${ev.title || '(No title)'}</span><span class="ev-time">${range}</span>
        ${ev.location && p.endMin - p.startMin >= 90 && html`<span class="ev-where">${ev.location}</span>`}`}
  </button>`;
}

export function TimeGrid({ days, ui }) {
  const { state, dispatch } = useSite();
  const scroller = useRef(null);
  const root = useRef(null);
  useLayoutEffect(() => {
    const el = scroller.current;
    el.scrollTop = OPEN_AT_HOUR * HOUR_PX - 10;  // the hour's label sits just above its line: keep it in view
    // The header rows leave room for the grid's scrollbar, whatever width the browser gives it.
    root.current.style.setProperty('--scrollbar', `${el.offsetWidth - el.clientWidth}px`);
  }, []);
  const { events, tasks } = visible(state);
  const first = days[0];
  const last = days[days.length - 1];
  const occ = occurrences(events, first, last);
  const allDay = occ.filter(isAllDayRow);
  const timed = occ.filter((o) => !isAllDayRow(o));
  const now = zoned(NOW);
  const openDay = (d) => { dispatch({ type: 'calendar/setSelectedDate', payload: selectedIso(d) }); dispatch({ type: 'calendar/setView', payload: 'day' }); };
  const slot = (d) => (e) => {
    const rect = e.currentTarget.getBoundingClientRect();
    const min = Math.min(1410, Math.max(0, Math.floor(((e.clientY - rect.top) / HOUR_PX) * 2) * 30));
    ui.create(d, min, min + 60);
  };
  return html`<div class=${`timegrid ${days.length === 1 ? 'one-day' : ''}`} ref=${root}>
    <div class="days-head"><div class="gutter tz">GMT-07</div>
      ${days.map((d) => {
        const [, , dd] = parseYmd(d);
        return html`<div class=${`day-head ${d === TODAY ? 'today' : ''} ${d < TODAY ? 'past' : ''}`}>
          <span class="dh-dow">${WEEKDAYS[dayOfWeek(d)].slice(0, 3).toUpperCase()}</span>
          <button type="button" class="dh-num" aria-label=${longDate(d)} onClick=${() => openDay(d)}>${dd}</button></div>`;
      })}</div>
    <${AllDayRow} days=${days} occ=${allDay} tasks=${tasksOn(tasks, first, last)} ui=${ui} />
    <div class="grid-scroll" ref=${scroller}>
      <div class="grid" style=${`height:${24 * HOUR_PX}px`}>
        <div class="hours" aria-hidden="true">${Array.from({ length: 24 }, (_, h) => html`<div class="hour" style=${`top:${h * HOUR_PX}px`}><span>${formatHour(h)}</span></div>`)}</div>
        <div class="cols">
          ${days.map((d) => html`<div class=${`col ${d === TODAY ? 'today' : ''}`} onClick=${slot(d)}>
            ${layoutDay(timed.filter((o) => o.day === d).map((o) => {
              const s = zoned(o.start);
              return { ...o, startMin: s.minutes, endMin: s.minutes + Math.round((o.end - o.start) / 60000) };
            })).map((p) => html`<${EventBlock} key=${p.key} p=${p} ui=${ui} />`)}
            ${d === now.ymd && html`<div class="now-line" style=${`top:${(now.minutes / 60) * HOUR_PX}px`} aria-hidden="true"></div>`}
          </div>`)}
        </div>
      </div>
    </div>
  </div>`;
}

/** The ISO instant `calendar.selectedDate` holds for a day: its local midnight. */
export const selectedIso = (ymd) => iso(instant(ymd, 0));

const MAX_CHIPS = 3;

export function MonthView({ days, month, ui }) {
  const { state, dispatch } = useSite();
  const { events, tasks } = visible(state);
  const occ = occurrences(events, days[0], days[days.length - 1]);
  const due = tasksOn(tasks, days[0], days[days.length - 1]);
  const openDay = (d) => { dispatch({ type: 'calendar/setSelectedDate', payload: selectedIso(d) }); dispatch({ type: 'calendar/setView', payload: 'day' }); };
  return html`<div class="month">
    <div class="month-head">${WEEKDAYS.map((w) => html`<div class="mh-dow">${w.slice(0, 3).toUpperCase()}</div>`)}</div>
    <div class="month-body">
      ${days.map((d, i) => {
        const [, m, dd] = parseYmd(d);
        const entries = [
          ...occ.filter((o) => o.day <= d && o.lastDay >= d).map((o) => ({ o, key: o.key })),
          ...due.filter((t) => t.day === d).map((t) => ({ t, key: t.task.id })),
        ];
        const shown = entries.length > MAX_CHIPS ? entries.slice(0, MAX_CHIPS - 1) : entries;
        const more = entries.length - shown.length;
        const label = dd === 1 ? `${MONTHS[m - 1].slice(0, 3)} ${dd}` : String(dd);
        return html`<div class=${`cell ${m !== month ? 'other' : ''} ${i % 7 === 6 ? 'last-col' : ''}`} onClick=${() => ui.create(d, 600, 660)}>
          <button type="button" class=${`cell-date ${d === TODAY ? 'today' : ''}`} aria-label=${longDate(d)}
            onClick=${(e) => { e.stopPropagation(); openDay(d); }}>${label}</button>
          ${shown.map((x) => {
            if (x.t) {
              return html`<button type="button" class=${`chip task ${x.t.task.isCompleted ? 'done' : ''}`}
                aria-label=${`Task: ${x.t.task.title}, ${longDate(d)}`}
                onClick=${(e) => { e.stopPropagation(); ui.task(x.t.task); }}><${Icon} name="task" size=${14} />${x.t.task.title}</button>`;
            }
            const { o } = x;
            if (isAllDayRow(o)) {
              return html`<button type="button" class="chip filled" style=${`background:${colorOf(o.event)}`} aria-label=${spoken(o)}
                onClick=${(e) => { e.stopPropagation(); ui.details(o); }}><span class="chip-title">${o.event.title || '(No title)'}</span></button>`;
            }
            return html`<button type="button" class="chip" aria-label=${spoken(o)} onClick=${(e) => { e.stopPropagation(); ui.details(o); }}>
              <span class="dot" style=${`background:${colorOf(o.event)}`} aria-hidden="true"></span>
              <span class="chip-time">${formatTime(zoned(o.start).minutes, { compact: true })}</span> <span class="chip-title">${o.event.title || '(No title)'}</span></button>`;
          })}
          ${more > 0 && html`<button type="button" class="more" onClick=${(e) => { e.stopPropagation(); openDay(d); }}>${more} more</button>`}
        </div>`;
      })}
    </div></div>`;
}
