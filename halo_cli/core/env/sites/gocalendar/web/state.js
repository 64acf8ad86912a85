/**
 * GoCalendar's store slices, shaped as REAL's gocalendar graders read them:
 * - `calendar.myEvents`: the events, in REAL's shape (`{id, meetingId, start, end, title, description, guests,
 *   hasMeeting, location, allDay, calendarOptions}`, UTC ISO times). /finish's `differences.events` compares
 *   them by id, so a created event is `differences.events.added.<id>` and a deleted one
 *   `differences.events.deleted.<id>` (the whole event).
 * - `calendar.deletedEvents`: every deleted event, appended, so it is `initialfinaldiff.added.calendar.
 *   deletedEvents.<k>`; `calendar.myTasks` likewise: a created task is `initialfinaldiff.added.calendar.myTasks.<k>`
 *   (`{id, title, description, dueDate, isAllDay, list, isCompleted, order, createdAt, updatedAt}`).
 * - `calendar.selectedDate` / `calendar.view`: the day and view shown (`day`, `week`, `month`), so the page is
 *   the same after a reload.
 * - `ui.snackbar`: the message after a change ("Event created"), until the next change.
 *
 * The seeded data (`seed.json`: REAL's initial GoCalendar state, 305 events from 2024-06-28 to 2025-01-01,
 * 13 tasks, 4 task lists, 3 calendars) is the same for every task. New ids are derived from the task id and a
 * count of what the episode created, so a replay creates the same ids.
 */
import { SITE_NOW_ISO } from '/_kit/store.js';
import seed from './seed.json' with { type: 'json' };
import { instant, TODAY } from './time.js';

export const VIEWS = [
  { id: 'day', label: 'Day' },
  { id: 'week', label: 'Week' },
  { id: 'month', label: 'Month' },
];

export function initialState() {
  return {
    calendar: {
      selectedDate: new Date(instant(TODAY, 0)).toISOString(),
      view: 'week',
      openSidebar: true,
      myCalendars: seed.calendars,
      hiddenCalendars: [],
      myEvents: seed.events,
      myTasks: seed.tasks,
      myTaskLists: seed.taskLists,
      joinedEvents: [],
      deletedEvents: [],
      deletedTasks: [],
    },
    ui: { snackbar: { open: false, message: '' } },
    // The app's page, as in REAL's initial state: the route a task starts on is no change.
    router: { location: { pathname: '/calendar', search: '', hash: '' }, action: 'POP' },
  };
}

function calendar(state, action) {
  const p = action.payload;
  switch (action.type) {
    case 'calendar/setSelectedDate':
      return state.selectedDate === p ? state : { ...state, selectedDate: p };
    case 'calendar/setView':
      return state.view === p ? state : { ...state, view: p };
    case 'calendar/toggleSidebar':
      return { ...state, openSidebar: !state.openSidebar };
    case 'calendar/toggleCalendar': {
      const hidden = state.hiddenCalendars.includes(p.id)
        ? state.hiddenCalendars.filter((id) => id !== p.id) : [...state.hiddenCalendars, p.id];
      return { ...state, hiddenCalendars: hidden };
    }
    case 'calendar/addEvent':
      return { ...state, myEvents: [...state.myEvents, p] };
    case 'calendar/updateEvent':
      return { ...state, myEvents: state.myEvents.map((e) => (e.id === p.id ? p : e)) };
    case 'calendar/deleteEvent': {
      const gone = state.myEvents.find((e) => e.id === p.id);
      if (!gone) return state;
      return { ...state, myEvents: state.myEvents.filter((e) => e.id !== p.id),
               deletedEvents: [...state.deletedEvents, gone] };
    }
    case 'calendar/addTask':
      return { ...state, myTasks: [...state.myTasks, p] };
    case 'calendar/toggleTaskCompleted':
      return { ...state, myTasks: state.myTasks.map((t) => (t.id === p.id
        ? { ...t, isCompleted: !t.isCompleted, updatedAt: SITE_NOW_ISO } : t)) };
    case 'calendar/deleteTask': {
      const gone = state.myTasks.find((t) => t.id === p.id);
      if (!gone) return state;
      return { ...state, myTasks: state.myTasks.filter((t) => t.id !== p.id),
               deletedTasks: [...state.deletedTasks, gone] };
    }
    default:
      return state;
  }
}

const MESSAGES = {
  'calendar/addEvent': 'Event created',
  'calendar/updateEvent': 'Event updated',
  'calendar/deleteEvent': 'Event deleted',
  'calendar/addTask': 'Task created',
  'calendar/deleteTask': 'Task deleted',
};

function ui(state, action) {
  const message = MESSAGES[action.type];
  if (message) return { ...state, snackbar: { open: true, message } };
  if (state.snackbar.open && (action.type === 'ui/closeSnackbar' || action.type.startsWith('calendar/'))) {
    return { ...state, snackbar: { open: false, message: '' } };
  }
  return state;
}

export const slices = { calendar, ui };

// ---------------------------------------------------------------------------------------------------------
// New events and tasks

function hash32(text, seed = 2166136261) {
  let h = seed >>> 0;
  for (const ch of text) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return h;
}

const hex = (n, len) => (n >>> 0).toString(16).padStart(8, '0').slice(-len);
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const letters = (n, len) => Array.from({ length: len }, (_, i) => LETTERS[Math.floor(n / 26 ** i) % 26]).join('');

/** A uuid-shaped id and a Meet code for the `n`-th thing created in this episode of `taskId`. */
export function newIds(taskId, n) {
  const key = `${taskId}#${n}`;
  const h = [1, 2, 3, 4, 5].map((k) => hash32(key, 2166136261 + k * 7919));
  const id = `${hex(h[0], 8)}-${hex(h[1], 4)}-4${hex(h[1] >>> 16, 3)}-${'89ab'[h[2] % 4]}${hex(h[2] >>> 8, 3)}-${hex(h[3], 8)}${hex(h[4], 4)}`;
  // eval_gocalendar_6 skips one known "mislabeled" event by the tail of its Meet code: never produce that tail.
  let meet = `${letters(h[3], 3)}-${letters(h[4], 4)}-${letters((h[0] ^ h[2]) >>> 0, 3)}`;
  if (meet.endsWith('gcx-svpg-dny')) meet = `${letters(h[1], 3)}-${letters(h[2], 4)}-${letters(h[3], 3)}`;
  return { id, meetingId: `meet.google.com/${meet}` };
}

/** How many events and tasks this episode has created so far (deleting one does not lower it). */
export function createdCount(cal) {
  return cal.myEvents.length + cal.deletedEvents.length + cal.myTasks.length + cal.deletedTasks.length;
}

export function taskIdOf(state) {
  return (state.config.gocalendar && state.config.gocalendar.task_id) || 'gocalendar';
}

/** The event `calendar/addEvent` records, from the dialog's values (times already UTC ISO). */
export function buildEvent(state, { title, start, end, allDay, location, description, repeats, calendarId }) {
  const cal = state.calendar;
  const { id, meetingId } = newIds(taskIdOf(state), createdCount(cal));
  const c = cal.myCalendars.find((x) => x.id === calendarId) || cal.myCalendars[0];
  return {
    id, meetingId, start, end, title, description, guests: [], hasMeeting: false, location, allDay, repeats,
    guestPermissions: { canModifyEvent: false, canInviteOthers: false, canSeeGuestList: false },
    calendarOptions: { calendar: { id: c.id, name: c.name, color: c.color }, color: c.color, availability: 'Busy',
                       visibility: 'Default visibility', notification: '30 minutes before' },
  };
}

/** An existing event with the dialog's values. */
export function editedEvent(state, ev, { title, start, end, allDay, location, description, repeats, calendarId }) {
  const c = state.calendar.myCalendars.find((x) => x.id === calendarId) || ev.calendarOptions.calendar;
  const calendarOptions = c.id === ev.calendarOptions.calendar.id ? ev.calendarOptions
    : { ...ev.calendarOptions, calendar: { id: c.id, name: c.name, color: c.color }, color: c.color };
  return { ...ev, title, start, end, allDay, location, description, repeats, calendarOptions };
}

/** The task `calendar/addTask` records; its id continues the seeded `task-001` ... */
export function buildTask(state, { title, due, allDay, description, list }) {
  const cal = state.calendar;
  const n = createdCount(cal) - cal.myEvents.length - cal.deletedEvents.length + 1;
  let id = `task-${String(n).padStart(3, '0')}`;
  while (cal.myTasks.some((t) => t.id === id) || cal.deletedTasks.some((t) => t.id === id)) id = `${id}-1`;
  return {
    id, title, description, dueDate: due, isAllDay: allDay, list, isCompleted: false,
    order: cal.myTasks.length, createdAt: SITE_NOW_ISO, updatedAt: SITE_NOW_ISO,
  };
}
