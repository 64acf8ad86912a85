/**
 * GoCalendar: a local replica of REAL's Google Calendar clone. One page, `/calendar` ("/" leads there), with
 * the Day, Week (the start) and Month views, "Today" and the previous/next arrows, a mini calendar, the
 * calendars' checkboxes, the "Create" dialog (event or task), event details with "Delete event", and a
 * snackbar ("Event created", "Event deleted", "Task created"). Labels follow the real site and the
 * dense-reward milestones: a "Create event" dialog with "Add title", "Start date", "Start time", "End time",
 * "Save".
 */
import { html, useState } from '/_kit/vendor/preact-htm.js';
import { bootSite } from '/_kit/boot.js';
import { useSite } from '/_kit/context.js';
import { normalizePath } from '/_kit/router.js';
import { EventDetails, EventDialog, TaskDetails, formOf, newForm } from './dialogs.js';
import { MonthPicker, Select } from './fields.js';
import { CreatePlus, Icon, Logo } from './icons.js';
import { VIEWS, initialState, slices } from './state.js';
import { TODAY, addDays, addMonths, longDate, monthGrid, parseYmd, rangeTitle, weekDays, zoned } from './time.js';
import { MonthView, TimeGrid, selectedIso } from './views.js';

const ACCOUNT = 'fede.lopez@gmail.com';

/** The days the current view shows, and how far its arrows move. */
function shown(cal) {
  const day = zoned(Date.parse(cal.selectedDate)).ymd;
  if (cal.view === 'day') return { day, days: [day], title: longDate(day, { weekday: false, year: true }), unit: 'day' };
  if (cal.view === 'month') {
    const grid = monthGrid(day);
    const [y, m] = parseYmd(day);
    return { day, days: grid, month: m, title: rangeTitle(`${y}-${String(m).padStart(2, '0')}-01`, `${y}-${String(m).padStart(2, '0')}-01`), unit: 'month' };
  }
  const days = weekDays(day);
  return { day, days, title: rangeTitle(days[0], days[6]), unit: 'week' };
}

function step(view, day, n) {
  if (view.unit === 'month') return addMonths(day, n);
  return addDays(day, view.unit === 'week' ? 7 * n : n);
}

function Header({ view }) {
  const { state, dispatch } = useSite();
  const go = (day) => dispatch({ type: 'calendar/setSelectedDate', payload: selectedIso(day) });
  const unit = view.unit;
  return html`<header class="header">
    <button type="button" class="icon-btn" aria-label="Main menu" aria-expanded=${state.calendar.openSidebar ? 'true' : 'false'}
      onClick=${() => dispatch({ type: 'calendar/toggleSidebar' })}><${Icon} name="menu" size=${24} /></button>
    <div class="brand"><${Logo} day=${parseYmd(TODAY)[2]} /><span class="brand-name">GoCalendar</span></div>
    <button type="button" class="today-btn" onClick=${() => go(TODAY)}>Today</button>
    <button type="button" class="icon-btn" aria-label=${`Previous ${unit}`} onClick=${() => go(step(view, view.day, -1))}><${Icon} name="left" size=${24} /></button>
    <button type="button" class="icon-btn" aria-label=${`Next ${unit}`} onClick=${() => go(step(view, view.day, 1))}><${Icon} name="right" size=${24} /></button>
    <h1 class="range-title">${view.title}</h1>
    <div class="spacer"></div>
    <${Select} label="View" value=${state.calendar.view} plain=${true} cls="view-select"
      options=${VIEWS} onChange=${(v) => dispatch({ type: 'calendar/setView', payload: v })} />
    <span class="avatar" role="img" aria-label=${`Account: ${ACCOUNT}`} title=${ACCOUNT}>F</span>
  </header>`;
}

function MiniCalendar({ day }) {
  const { dispatch } = useSite();
  const [month, setMonth] = useState({ for: day, value: day });
  const current = month.for === day ? month.value : day;
  return html`<${MonthPicker} month=${current} selected=${day} label="Mini calendar"
    onMonth=${(m) => setMonth({ for: day, value: m })}
    onPick=${(d) => dispatch({ type: 'calendar/setSelectedDate', payload: selectedIso(d) })} />`;
}

function Sidebar({ view, ui }) {
  const { state, dispatch } = useSite();
  const hidden = new Set(state.calendar.hiddenCalendars);
  const toggle = (id) => dispatch({ type: 'calendar/toggleCalendar', payload: { id } });
  return html`<aside class="sidebar" aria-label="Calendars">
    <button type="button" class="create-btn" onClick=${() => ui.create(view.day, 600, 660)}><${CreatePlus} /><span>Create</span></button>
    <${MiniCalendar} day=${view.day} />
    <section class="my-calendars"><h2 class="side-heading">My calendars</h2>
      <ul>${[...state.calendar.myCalendars.map((c) => ({ id: c.id, name: c.name, color: c.color })),
             { id: 'tasks', name: 'Tasks', color: '#1a73e8' }].map((c) => html`<li>
        <label class="cal-check"><input type="checkbox" checked=${!hidden.has(c.id)} onChange=${() => toggle(c.id)}
          style=${`accent-color:${c.color}`} />${c.name}</label></li>`)}</ul>
    </section>
  </aside>`;
}

function Snackbar() {
  const { state, dispatch } = useSite();
  const bar = state.ui.snackbar;
  if (!bar.open) return null;
  return html`<div class="snackbar" role="status"><span class="snackbar-text">${bar.message}</span>
    <button type="button" class="icon-btn small light" aria-label="Dismiss" onClick=${() => dispatch({ type: 'ui/closeSnackbar' })}><${Icon} name="close" size=${18} /></button></div>`;
}

function CalendarPage() {
  const { state } = useSite();
  const [dialog, setDialog] = useState(null);
  const view = shown(state.calendar);
  const close = () => setDialog(null);
  const ui = {
    create: (day, startMin, endMin, extra = {}) => setDialog({ kind: 'form', init: { ...newForm(day, startMin, endMin), ...extra } }),
    details: (occurrence) => setDialog({ kind: 'details', occurrence }),
    task: (task) => setDialog({ kind: 'task', task }),
  };
  let box = null;
  if (dialog && dialog.kind === 'form') box = html`<${EventDialog} init=${dialog.init} onClose=${close} />`;
  if (dialog && dialog.kind === 'details') {
    box = html`<${EventDetails} occurrence=${dialog.occurrence} onClose=${close}
      onEdit=${(ev) => setDialog({ kind: 'form', init: formOf(ev) })} />`;
  }
  if (dialog && dialog.kind === 'task') box = html`<${TaskDetails} task=${dialog.task} onClose=${close} />`;
  const body = view.unit === 'month'
    ? html`<${MonthView} days=${view.days} month=${view.month} ui=${ui} />`
    : html`<${TimeGrid} key=${view.unit} days=${view.days} ui=${ui} />`;
  return html`<div class="app" inert=${box ? true : undefined} aria-hidden=${box ? 'true' : undefined}>
      <${Header} view=${view} />
      <div class="app-body">
        ${state.calendar.openSidebar && html`<${Sidebar} view=${view} ui=${ui} />`}
        <main class="main" aria-label=${view.title}>${body}</main>
      </div>
    </div>
    ${box}
    <${Snackbar} />`;
}

function NotFound() {
  const { navigate } = useSite();
  return html`<main class="not-found"><h1>This page isn't available</h1>
    <p><a href="/calendar" onClick=${(e) => { e.preventDefault(); navigate('/calendar'); }}>Go to GoCalendar</a></p></main>`;
}

function App() {
  const { state } = useSite();
  const path = state.router.location.pathname;
  const view = shown(state.calendar);
  document.title = `GoCalendar - ${view.title}`;
  return path === '/calendar' ? html`<${CalendarPage} />` : html`<${NotFound} />`;
}

// The real app lives at /calendar; "/" (where halo and agisdk open a task) leads there.
if (normalizePath(window.location.pathname) === '/') {
  window.history.replaceState(null, '', `/calendar${window.location.search}${window.location.hash}`);
}

bootSite({
  app: 'gocalendar',
  title: 'GoCalendar',
  slices,
  initialState,
  collections: {
    events: { get: (s) => s.calendar.myEvents, key: 'id', layout: 'dict', updated: 'full' },
    calendars: { get: (s) => s.calendar.myCalendars, key: 'id', layout: 'dict', updated: 'full' },
    joinedEvents: { get: (s) => s.calendar.joinedEvents, key: 'id', layout: 'dict', updated: 'full' },
  },
  App,
});
