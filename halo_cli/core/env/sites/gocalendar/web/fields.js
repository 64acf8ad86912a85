/**
 * The form controls of GoCalendar's dialogs, made for both ways an agent works a page:
 * - `DateField`: a text field ("Thu, Jul 18, 2024") that takes a typed date on Enter or when it loses focus
 *   ("Jul 22", "7/22/2024", "Monday, July 22", ...), and shows a month picker while focused;
 * - `TimeField`: a combobox ("7:45pm") that takes a typed time the same way, with a list of 15-minute steps;
 * - `Select`: a button that opens a listbox of choices (repeat, calendar, task list, view).
 * Focusing a date or time field selects its text, so typing replaces it. Popups open and close with focus and
 * clicks only (no timers or animations), so every screenshot of a state is the same.
 */
import { html, useLayoutEffect, useRef, useState } from '/_kit/vendor/preact-htm.js';
import { Icon } from './icons.js';
import {
  MONTHS, TODAY, addMonths, fieldDate, formatTime, longDate, monthGrid, parseDate, parseTime, parseYmd,
} from './time.js';

/** Focus selects the whole text, and the mouseup of the click that focused does not undo it. */
function useSelectOnFocus() {
  const justFocused = useRef(false);
  return {
    onFocus: (e) => { e.currentTarget.select(); justFocused.current = true; },
    onMouseUp: (e) => { if (justFocused.current) { e.preventDefault(); justFocused.current = false; } },
  };
}

/** A month of day buttons; `selected` is highlighted, `onPick(ymd)` is called on a click. */
export function MonthPicker({ month, selected, onPick, onMonth, label, compact = false }) {
  const [y, m] = parseYmd(month);
  const days = monthGrid(month);
  return html`<div class=${`month-picker ${compact ? 'compact' : ''}`} role="group" aria-label=${label}>
    <div class="mp-head"><span class="mp-title">${MONTHS[m - 1]} ${y}</span>
      <button type="button" class="icon-btn small" aria-label="Previous month" onClick=${() => onMonth(addMonths(month, -1))}><${Icon} name="left" /></button>
      <button type="button" class="icon-btn small" aria-label="Next month" onClick=${() => onMonth(addMonths(month, 1))}><${Icon} name="right" /></button></div>
    <div class="mp-grid">
      ${['S', 'M', 'T', 'W', 'T', 'F', 'S'].map((d) => html`<span class="mp-dow" aria-hidden="true">${d}</span>`)}
      ${days.map((d) => {
        const [, dm, dd] = parseYmd(d);
        const cls = ['mp-day', dm !== m && 'other', d === TODAY && 'today', d === selected && 'selected'].filter(Boolean).join(' ');
        return html`<button type="button" class=${cls} aria-label=${longDate(d, { year: true })}
          aria-pressed=${d === selected ? 'true' : 'false'} onClick=${() => onPick(d)}>${dd}</button>`;
      })}
    </div></div>`;
}

export function DateField({ label, value, onChange, cls = '' }) {
  const [draft, setDraft] = useState(null);
  const [open, setOpen] = useState(false);
  const [month, setMonth] = useState(value);
  const select = useSelectOnFocus();
  const commit = () => {
    if (draft !== null) {
      const day = parseDate(draft, parseYmd(value)[0]);
      if (day) onChange(day);
      setDraft(null);
    }
  };
  const show = () => { setMonth(value); setOpen(true); };
  return html`<div class=${`field date-field ${cls}`}>
    <input type="text" class="field-input" aria-label=${label} autocomplete="off" value=${draft ?? fieldDate(value)}
      onFocus=${(e) => { select.onFocus(e); show(); }} onMouseUp=${select.onMouseUp} onClick=${() => !open && show()}
      onInput=${(e) => setDraft(e.currentTarget.value)}
      onKeyDown=${(e) => {
        if (e.key === 'Enter') { e.preventDefault(); commit(); setOpen(false); }
        if (e.key === 'Escape' && open) { e.stopPropagation(); setDraft(null); setOpen(false); }
      }}
      onBlur=${() => { commit(); setOpen(false); }} />
    ${open && html`<div class="popup" onMouseDown=${(e) => e.preventDefault()}>
      <${MonthPicker} month=${month} selected=${value} label=${`${label} picker`} onMonth=${setMonth} compact=${true}
        onPick=${(d) => { setDraft(null); setOpen(false); onChange(d); }} /></div>`}
  </div>`;
}

const STEP = 15;
const ROW_PX = 32;

function durationLabel(minutes) {
  if (minutes < 60) return `${minutes} mins`;
  const h = minutes / 60;
  return `${Number.isInteger(h) ? h : h.toFixed(2).replace(/0$/, '')} ${h === 1 ? 'hr' : 'hrs'}`;
}

/** `from`: the start time, for an end field on the start's day: its list begins there and shows durations. */
export function TimeField({ label, value, onChange, from = null }) {
  const [draft, setDraft] = useState(null);
  const [open, setOpen] = useState(false);
  const list = useRef(null);
  const select = useSelectOnFocus();
  const first = from === null ? 0 : from;
  const options = [];
  for (let t = first; t < 1440; t += STEP) {
    options.push({ t, text: formatTime(t), detail: from === null ? '' : ` (${durationLabel(t - from)})` });
  }
  useLayoutEffect(() => {
    if (!open || !list.current) return;
    const i = Math.max(0, options.findIndex((o) => o.t >= value));
    list.current.scrollTop = Math.max(0, (i - 2) * ROW_PX);
  }, [open]);
  const commit = () => {
    if (draft !== null) {
      const t = parseTime(draft);
      if (t !== null) onChange(t);
      setDraft(null);
    }
  };
  return html`<div class="field time-field">
    <input type="text" class="field-input" role="combobox" aria-label=${label} aria-expanded=${open ? 'true' : 'false'}
      aria-autocomplete="list" autocomplete="off" value=${draft ?? formatTime(value)}
      onFocus=${(e) => { select.onFocus(e); setOpen(true); }} onMouseUp=${select.onMouseUp} onClick=${() => setOpen(true)}
      onInput=${(e) => setDraft(e.currentTarget.value)}
      onKeyDown=${(e) => {
        if (e.key === 'Enter') { e.preventDefault(); commit(); setOpen(false); }
        if (e.key === 'Escape' && open) { e.stopPropagation(); setDraft(null); setOpen(false); }
      }}
      onBlur=${() => { commit(); setOpen(false); }} />
    ${open && html`<div class="popup time-list" role="listbox" aria-label=${`${label} options`} ref=${list}
      onMouseDown=${(e) => e.preventDefault()}>
      ${options.map((o) => html`<div role="option" class=${`time-option ${o.t === value ? 'selected' : ''}`}
        aria-selected=${o.t === value ? 'true' : 'false'}
        onClick=${() => { setDraft(null); setOpen(false); onChange(o.t); }}>${o.text}${o.detail && html`<span class="muted">${o.detail}</span>`}</div>`)}
    </div>`}
  </div>`;
}

/** A button showing the current choice; its listbox opens below it. `label` names the button for
 *  assistive tech as "<label>: <choice>". */
export function Select({ label, value, options, onChange, cls = '', plain = false, swatch = null }) {
  const [open, setOpen] = useState(false);
  const current = options.find((o) => o.id === value) || options[0];
  return html`<div class=${`select ${cls}`}>
    <button type="button" class=${`select-button ${plain ? 'plain' : ''}`} aria-haspopup="listbox"
      aria-expanded=${open ? 'true' : 'false'} aria-label=${plain ? undefined : `${label}: ${current.label}`}
      onClick=${() => setOpen(!open)}>
      ${swatch && html`<span class="swatch" style=${`background:${swatch}`} aria-hidden="true"></span>`}
      <span class="select-text">${current.label}</span><${Icon} name="dropdown" size=${18} /></button>
    ${open && html`<div class="catcher" onMouseDown=${() => setOpen(false)}></div>
      <div class="popup select-list" role="listbox" aria-label=${label}>
      ${options.map((o) => html`<div role="option" class=${`select-option ${o.id === value ? 'selected' : ''}`}
        aria-selected=${o.id === value ? 'true' : 'false'} onClick=${() => { setOpen(false); onChange(o.id); }}>
        ${o.color && html`<span class="swatch" style=${`background:${o.color}`} aria-hidden="true"></span>`}
        <span>${o.label}</span>${o.key && html`<span class="muted key">${o.key}</span>`}</div>`)}
    </div>`}
  </div>`;
}
