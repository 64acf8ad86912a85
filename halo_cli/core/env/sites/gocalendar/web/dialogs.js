/**
 * GoCalendar's dialogs:
 * - `EventDialog`, "Create event" / "Create task" / "Edit event": title ("Add title"), Event and Task tabs,
 *   start date and time, end time and date, All day, Repeat, location, description, calendar (or task list),
 *   Save (or Enter in the title, as in Google Calendar's quick-create dialog). Saving dispatches `calendar/addEvent`,
 *   `calendar/updateEvent` or `calendar/addTask`.
 * - `EventDetails`: an event's details with "Edit event", "Delete event" (`calendar/deleteEvent`) and "Close".
 * - `TaskDetails`: a task's details with "Mark completed" and "Delete task".
 * The form is the dialog's own state until Save: a draft never enters the store, so /finish holds only what
 * was saved.
 */
import { html, useLayoutEffect, useRef, useState } from '/_kit/vendor/preact-htm.js';
import { useSite } from '/_kit/context.js';
import { repeatOptions, repeatRule } from './events.js';
import { DateField, Select, TimeField } from './fields.js';
import { Icon } from './icons.js';
import { buildEvent, buildTask, editedEvent } from './state.js';
import { addDays, daysBetween, formatTime, formatTimeRange, instant, iso, longDate, zoned } from './time.js';

/** The form of a new event on `day` from `startMin` to `endMin` (minutes; past 1440 runs into the next day). */
export function newForm(day, startMin = 600, endMin = startMin + 60, tab = 'event') {
  const over = Math.floor(endMin / 1440);
  return { tab, title: '', startDate: day, startMin, endDate: addDays(day, over), endMin: endMin - over * 1440,
           allDay: false, repeat: 'none', location: '', description: '', calendarId: '1', list: 'Work' };
}

/** The form of an existing event, for editing. */
export function formOf(ev) {
  const s = zoned(Date.parse(ev.start));
  const e = zoned(Date.parse(ev.end));
  const endDate = ev.allDay ? (e.ymd < s.ymd ? s.ymd : e.ymd) : e.ymd;
  return { tab: 'event', title: ev.title, startDate: s.ymd, startMin: ev.allDay ? 600 : s.minutes, endDate,
           endMin: ev.allDay ? 660 : e.minutes, allDay: ev.allDay, repeat: repeatRule(ev.repeats),
           location: ev.location || '', description: ev.description || '', calendarId: ev.calendarOptions.calendar.id,
           list: 'Work', editing: ev.id };
}

const minutesOf = (f, which) => daysBetween(f.startDate, which === 'start' ? f.startDate : f.endDate) * 1440
  + (which === 'start' ? f.startMin : f.endMin);

function withStart(f, startDate, startMin) {
  const length = minutesOf(f, 'end') - minutesOf(f, 'start');
  const end = startMin + length;
  const over = Math.floor(end / 1440);
  return { ...f, startDate, startMin, endDate: addDays(startDate, over), endMin: end - over * 1440 };
}

function problem(f) {
  if (f.tab === 'task') return null;
  if (f.allDay ? f.endDate < f.startDate : minutesOf(f, 'end') <= minutesOf(f, 'start')) {
    return 'The event must end after it starts.';
  }
  return null;
}

function Dialog({ label, cls, onClose, closeOnOutside, children }) {
  const box = useRef(null);
  useLayoutEffect(() => {
    const first = box.current && box.current.querySelector('[data-autofocus]');
    if (first) first.focus();
  }, []);
  return html`<div class="scrim" onMouseDown=${() => closeOnOutside && onClose()}></div>
    <div class=${`dialog ${cls}`} role="dialog" aria-modal="true" aria-label=${label} ref=${box}
      onKeyDown=${(e) => { if (e.key === 'Escape') { e.preventDefault(); onClose(); } }}>${children}</div>`;
}

export function EventDialog({ init, onClose }) {
  const { state, dispatch } = useSite();
  const [f, setF] = useState(init);
  const [error, setError] = useState(null);
  const set = (change) => { setError(null); setF({ ...f, ...change }); };
  const editing = f.editing ? state.calendar.myEvents.find((e) => e.id === f.editing) : null;
  const isTask = f.tab === 'task';
  const label = editing ? 'Edit event' : (isTask ? 'Create task' : 'Create event');
  const repeats = repeatOptions(f.startDate);
  const calendars = state.calendar.myCalendars.map((c) => ({ id: c.id, label: c.name, color: c.color }));
  const lists = state.calendar.myTaskLists.map((l) => ({ id: l.name, label: l.name, color: l.color }));
  const calendar = calendars.find((c) => c.id === f.calendarId) || calendars[0];

  const save = () => {
    const bad = problem(f);
    if (bad) { setError(bad); return; }
    const title = f.title.trim();
    if (isTask) {
      const due = iso(instant(f.startDate, f.allDay ? 0 : f.startMin));
      dispatch({ type: 'calendar/addTask', payload: buildTask(state, { title, due, allDay: f.allDay,
                                                                         description: f.description, list: f.list }) });
    } else {
      const values = {
        title, allDay: f.allDay, location: f.location.trim(), description: f.description,
        start: iso(instant(f.startDate, f.allDay ? 0 : f.startMin)),
        end: iso(instant(f.endDate, f.allDay ? 0 : f.endMin)),
        repeats: (repeats.find((r) => r.id === f.repeat) || repeats[0]).label, calendarId: f.calendarId,
      };
      if (editing) dispatch({ type: 'calendar/updateEvent', payload: editedEvent(state, editing, values) });
      else dispatch({ type: 'calendar/addEvent', payload: buildEvent(state, values) });
    }
    onClose();
  };

  const sameDay = f.startDate === f.endDate;
  return html`<${Dialog} label=${label} cls="event-dialog" onClose=${onClose} closeOnOutside=${false}>
    <div class="dialog-top"><span class="dialog-heading">${label}</span>
      <button type="button" class="icon-btn" aria-label="Close" onClick=${onClose}><${Icon} name="close" /></button></div>
    <div class="dialog-body">
      <input type="text" class="title-input" aria-label="Add title" placeholder="Add title" autocomplete="off"
        value=${f.title} data-autofocus onInput=${(e) => set({ title: e.currentTarget.value })}
        onKeyDown=${(e) => { if (e.key === 'Enter') { e.preventDefault(); save(); } }} />
      ${!editing && html`<div class="tabs" role="tablist" aria-label="Entry type">
        ${[['event', 'Event'], ['task', 'Task']].map(([id, text]) => html`<button type="button" role="tab"
          class=${`tab ${f.tab === id ? 'active' : ''}`} aria-selected=${f.tab === id ? 'true' : 'false'}
          onClick=${() => set({ tab: id })}>${text}</button>`)}</div>`}
      <div class="row"><${Icon} name="clock" cls="row-icon" />
        <div class="when">
          <${DateField} label="Start date" value=${f.startDate} onChange=${(d) => set(withStart(f, d, f.startMin))} />
          ${!f.allDay && html`<${TimeField} label="Start time" value=${f.startMin}
            onChange=${(t) => set(withStart(f, f.startDate, t))} />`}
          ${!isTask && html`<span class="dash">–</span>`}
          ${!isTask && !f.allDay && html`<${TimeField} label="End time" value=${f.endMin} from=${sameDay ? f.startMin : null}
            onChange=${(t) => set({ endMin: t })} />`}
          ${!isTask && html`<${DateField} label="End date" value=${f.endDate} onChange=${(d) => set({ endDate: d })} />`}
        </div></div>
      <div class="row indent">
        <label class="check"><input type="checkbox" checked=${f.allDay} onChange=${(e) => set({ allDay: e.currentTarget.checked })} /> All day</label>
        ${!isTask && html`<${Select} label="Repeat" value=${f.repeat} options=${repeats} onChange=${(id) => set({ repeat: id })} />`}
      </div>
      ${!isTask && html`<div class="row"><${Icon} name="location" cls="row-icon" />
        <input type="text" class="line-input" aria-label="Add location" placeholder="Add location" autocomplete="off"
          value=${f.location} onInput=${(e) => set({ location: e.currentTarget.value })} /></div>`}
      <div class="row"><${Icon} name="notes" cls="row-icon" />
        <textarea class="line-input" rows="2" aria-label="Add description" placeholder="Add description"
          value=${f.description} onInput=${(e) => set({ description: e.currentTarget.value })}></textarea></div>
      <div class="row"><${Icon} name=${isTask ? 'list' : 'calendar'} cls="row-icon" />
        ${isTask ? html`<${Select} label="List" value=${f.list} options=${lists} onChange=${(id) => set({ list: id })}
            swatch=${(lists.find((l) => l.id === f.list) || lists[0]).color} />`
          : html`<${Select} label="Calendar" value=${calendar.id} options=${calendars} swatch=${calendar.color}
            onChange=${(id) => set({ calendarId: id })} />`}
      </div>
    </div>
    <div class="dialog-foot">
      ${error && html`<p class="form-error" role="alert">${error}</p>`}
      <button type="button" class="btn-primary" onClick=${save}>Save</button>
    </div>
  <//>`;
}

/** "Wednesday, July 17 ⋅ 6:30 – 8:00pm", "Sunday, July 21 – Saturday, July 27", ... for an occurrence. */
export function whenText(o) {
  const ev = o.event;
  if (ev.allDay) return o.lastDay > o.day ? `${longDate(o.day)} – ${longDate(o.lastDay)}` : longDate(o.day);
  const s = zoned(o.start);
  const e = zoned(o.end);
  if (o.lastDay > o.day) {
    return `${longDate(o.day, { weekday: false })}, ${formatTime(s.minutes)} – ${longDate(o.lastDay, { weekday: false })}, ${formatTime(e.minutes)}`;
  }
  return `${longDate(o.day)} ⋅ ${formatTimeRange(s.minutes, e.minutes === 0 && o.end > o.start ? 1440 : e.minutes)}`;
}

const initials = (name) => name.split(/\s+/).map((w) => w[0]).join('').slice(0, 2).toUpperCase();

export function EventDetails({ occurrence, onClose, onEdit }) {
  const { dispatch } = useSite();
  const ev = occurrence.event;
  const color = ev.calendarOptions.color || ev.calendarOptions.calendar.color;
  const guests = ev.guests || [];
  return html`<${Dialog} label=${ev.title || '(No title)'} cls="details" onClose=${onClose} closeOnOutside=${true}>
    <div class="details-actions">
      <button type="button" class="icon-btn" aria-label="Edit event" onClick=${() => onEdit(ev)}><${Icon} name="edit" /></button>
      <button type="button" class="icon-btn" aria-label="Delete event"
        onClick=${() => { dispatch({ type: 'calendar/deleteEvent', payload: { id: ev.id } }); onClose(); }}><${Icon} name="delete" /></button>
      <button type="button" class="icon-btn" aria-label="Close" data-autofocus onClick=${onClose}><${Icon} name="close" /></button>
    </div>
    <div class="details-body">
      <div class="d-row"><span class="swatch big" style=${`background:${color}`} aria-hidden="true"></span>
        <div><h2 class="d-title">${ev.title || '(No title)'}</h2><p class="d-when">${whenText(occurrence)}</p>
          ${ev.repeats && ev.repeats !== 'Does not repeat' && html`<p class="d-sub">${ev.repeats}</p>`}</div></div>
      ${ev.hasMeeting && html`<div class="d-row"><${Icon} name="video" cls="row-icon blue" /><div>
        <span class="meet-button">Join with Google Meet</span><p class="d-sub">${ev.meetingId}</p></div></div>`}
      ${ev.location && html`<div class="d-row"><${Icon} name="location" cls="row-icon" /><p>${ev.location}</p></div>`}
      ${guests.length > 0 && html`<div class="d-row"><${Icon} name="people" cls="row-icon" /><div>
        <p>${guests.length} ${guests.length === 1 ? 'guest' : 'guests'}</p>
        <ul class="guests">${guests.map((g) => html`<li><span class="avatar small" aria-hidden="true">${initials(g.name)}</span>${g.name}</li>`)}</ul></div></div>`}
      ${ev.description && html`<div class="d-row"><${Icon} name="notes" cls="row-icon" /><p class="d-desc">${ev.description}</p></div>`}
      <div class="d-row"><${Icon} name="bell" cls="row-icon" /><p>${ev.calendarOptions.notification}</p></div>
      <div class="d-row"><${Icon} name="calendar" cls="row-icon" /><p>${ev.calendarOptions.calendar.name}</p></div>
    </div>
  <//>`;
}

export function TaskDetails({ task, onClose }) {
  const { dispatch } = useSite();
  const due = zoned(Date.parse(task.dueDate));
  const when = task.isAllDay ? longDate(due.ymd, { year: true }) : `${longDate(due.ymd, { year: true })} ⋅ ${formatTime(due.minutes)}`;
  return html`<${Dialog} label=${task.title || '(No title)'} cls="details" onClose=${onClose} closeOnOutside=${true}>
    <div class="details-actions">
      <button type="button" class="icon-btn" aria-label="Delete task"
        onClick=${() => { dispatch({ type: 'calendar/deleteTask', payload: { id: task.id } }); onClose(); }}><${Icon} name="delete" /></button>
      <button type="button" class="icon-btn" aria-label="Close" data-autofocus onClick=${onClose}><${Icon} name="close" /></button>
    </div>
    <div class="details-body">
      <div class="d-row"><${Icon} name="task" cls="row-icon blue" />
        <div><h2 class=${`d-title ${task.isCompleted ? 'done' : ''}`}>${task.title || '(No title)'}</h2><p class="d-when">${when}</p></div></div>
      ${task.description && html`<div class="d-row"><${Icon} name="notes" cls="row-icon" /><p class="d-desc">${task.description}</p></div>`}
      <div class="d-row"><${Icon} name="list" cls="row-icon" /><p>${task.list}</p></div>
    </div>
    <div class="dialog-foot">
      <button type="button" class="btn-text" onClick=${() => { dispatch({ type: 'calendar/toggleTaskCompleted', payload: { id: task.id } }); onClose(); }}>
        ${task.isCompleted ? 'Mark uncompleted' : 'Mark completed'}</button>
    </div>
  <//>`;
}
