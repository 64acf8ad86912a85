/**
 * GoMail's pop-ups: the snooze menu and its "Pick date & time" dialog, the "Label as" menu, the "New label"
 * dialog, and a small generic menu. A menu closes on a choice or on a click outside it (a transparent
 * backdrop), as Gmail's do.
 */
import { html, useEffect, useRef, useState } from '/_kit/vendor/preact-htm.js';
import {
  DAY_NAMES, MONTH_NAMES, TODAY, formatDate, localToIso, monthWeeks, parseDate, parseTime, snoozePresets,
} from './dates.js';
import { Icon } from './icons.js';

/** A menu of `items` ({label, detail?, onSelect, checked?}); `checked` makes them menuitemcheckboxes. */
export function Menu({ label, heading = null, items, onClose, cls = '' }) {
  return html`<div class="menu-backdrop" onClick=${onClose}></div>
    <div class=${`menu ${cls}`} role="menu" aria-label=${label}>
      ${heading && html`<div class="menu-heading">${heading}</div>`}
      ${items.map((it) => (it.separator ? html`<div class="menu-separator" role="separator"></div>`
        : html`<div class="menu-item" role=${it.checked === undefined ? 'menuitem' : 'menuitemcheckbox'}
          aria-checked=${it.checked === undefined ? undefined : it.checked ? 'true' : 'false'} tabindex="-1"
          onClick=${() => { onClose(); it.onSelect(); }}>
          ${it.checked !== undefined && html`<span class=${`menu-check ${it.checked ? 'on' : ''}`} aria-hidden="true"></span>`}
          <span class="menu-label">${it.label}</span>${it.detail && html`<span class="menu-detail">${it.detail}</span>`}</div>`))}
    </div>`;
}

/** The snooze menu: Gmail's presets, then "Pick date & time". `onSnooze(isoInstant)`. */
export function SnoozeMenu({ onSnooze, onPick, onClose }) {
  const items = snoozePresets().map((p) => ({ label: p.label, detail: p.detail, onSelect: () => onSnooze(p.until) }));
  items.push({ separator: true }, { label: 'Pick date & time', onSelect: onPick });
  return html`<${Menu} label="Snooze until" heading="Snooze until…" items=${items} onClose=${onClose} cls="snooze-menu" />`;
}

/** "Pick date & time": a month calendar (today and later), a Date and a Time field, Save. */
export function SnoozePicker({ onSnooze, onCancel }) {
  const tomorrow = new Date(`${TODAY}T12:00:00Z`);
  tomorrow.setUTCDate(tomorrow.getUTCDate() + 1);
  const start = tomorrow.toISOString().slice(0, 10);
  const [dateText, setDateText] = useState(formatDate(start));
  const [timeText, setTimeText] = useState('8:00 AM');
  const [month, setMonth] = useState(() => start.slice(0, 7));
  const [error, setError] = useState('');
  const [y, m] = month.split('-').map(Number);
  const picked = parseDate(dateText);
  const shift = (delta) => {
    const d = new Date(Date.UTC(y, m - 1 + delta, 1));
    setMonth(d.toISOString().slice(0, 7));
  };
  const save = () => {
    const date = parseDate(dateText);
    const minutes = parseTime(timeText);
    if (!date) { setError('Enter a valid date, like Jul 25, 2024.'); return; }
    if (minutes === null) { setError('Enter a valid time, like 8:00 AM.'); return; }
    const until = localToIso(date, minutes);
    if (until <= localToIso(TODAY, 9 * 60)) { setError('Pick a date and time in the future.'); return; }
    onSnooze(until);
  };
  return html`<div class="modal-backdrop"><div class="modal picker" role="dialog" aria-label="Pick date & time" aria-modal="true">
    <h2 class="modal-title">Pick date & time</h2>
    <div class="picker-body">
      <div class="calendar">
        <div class="cal-head"><button type="button" class="icon-button" aria-label="Previous month" onClick=${() => shift(-1)}><${Icon} name="left" /></button>
          <span class="cal-month">${MONTH_NAMES[m - 1]} ${y}</span>
          <button type="button" class="icon-button" aria-label="Next month" onClick=${() => shift(1)}><${Icon} name="right" /></button></div>
        <table class="cal-grid" role="presentation"><thead><tr>${DAY_NAMES.map((d) => html`<th aria-hidden="true">${d[0]}</th>`)}</tr></thead>
          <tbody>${monthWeeks(y, m).map((week) => html`<tr>${week.map((day) => {
            if (!day) return html`<td></td>`;
            const ymd = `${month}-${String(day).padStart(2, '0')}`;
            const wd = DAY_NAMES[new Date(`${ymd}T12:00:00Z`).getUTCDay()];
            return html`<td><button type="button" class=${`cal-day ${ymd === picked ? 'picked' : ''} ${ymd === TODAY ? 'today' : ''}`}
              aria-label=${`${wd}, ${formatDate(ymd)}`} aria-pressed=${ymd === picked ? 'true' : 'false'} disabled=${ymd < TODAY}
              onClick=${() => { setDateText(formatDate(ymd)); setError(''); }}>${day}</button></td>`;
          })}</tr>`)}</tbody></table>
      </div>
      <div class="picker-fields">
        <label class="outlined"><span>Date</span><input type="text" aria-label="Date" value=${dateText}
          onInput=${(e) => { setDateText(e.currentTarget.value); setError(''); }} /></label>
        <label class="outlined"><span>Time</span><input type="text" aria-label="Time" value=${timeText}
          onInput=${(e) => { setTimeText(e.currentTarget.value); setError(''); }} /></label>
        ${error && html`<p class="field-error" role="alert">${error}</p>`}
      </div>
    </div>
    <div class="modal-actions"><button type="button" class="text-button" onClick=${onCancel}>Cancel</button>
      <button type="button" class="filled-button" onClick=${save}>Save</button></div>
  </div></div>`;
}

/** "Label as": one checkbox per label (checked when every selected email has it), then "Create new". */
export function LabelMenu({ labels, emails, onToggle, onCreate, onClose }) {
  const items = labels.map(({ label }) => {
    const all = emails.length > 0 && emails.every((e) => (e.labels || []).includes(label));
    return { label, checked: all, onSelect: () => onToggle(label, !all) };
  });
  if (items.length) items.push({ separator: true });
  items.push({ label: 'Create new', onSelect: onCreate });
  return html`<${Menu} label="Label as" heading="Label as:" items=${items} onClose=${onClose} cls="label-menu" />`;
}

/** Gmail's "New label" dialog. `onCreate(label, parent)`. */
export function LabelDialog({ labels, onCreate, onCancel }) {
  const [name, setName] = useState('');
  const [nest, setNest] = useState(false);
  const [parent, setParent] = useState(labels.length ? labels[0].label : '');
  const [error, setError] = useState('');
  const input = useRef(null);
  useEffect(() => { if (input.current) input.current.focus(); }, []);
  const create = () => {
    const label = name.trim();
    if (!label) return;
    if (labels.some((l) => l.label.toLowerCase() === label.toLowerCase())) {
      setError('The label name you have chosen already exists. Please try another name.');
      return;
    }
    onCreate(label, nest && parent ? parent : null);
  };
  return html`<div class="modal-backdrop"><div class="modal label-dialog" role="dialog" aria-label="New label" aria-modal="true">
    <h2 class="modal-title">New label</h2>
    <label class="plain-label">Please enter a new label name:
      <input type="text" aria-label="Please enter a new label name:" value=${name} autocomplete="off"
        onInput=${(e) => { setName(e.currentTarget.value); setError(''); }}
        onKeyDown=${(e) => { if (e.key === 'Enter') { e.preventDefault(); create(); } }} ref=${input} /></label>
    ${error && html`<p class="field-error" role="alert">${error}</p>`}
    <label class="nest"><input type="checkbox" checked=${nest} disabled=${!labels.length} onChange=${(e) => setNest(e.currentTarget.checked)} />
      Nest label under:</label>
    <select aria-label="Parent label" disabled=${!nest} value=${parent} onChange=${(e) => setParent(e.currentTarget.value)}>
      ${labels.length ? labels.map((l) => html`<option value=${l.label}>${l.label}</option>`) : html`<option value="">Please select a parent...</option>`}
    </select>
    <div class="modal-actions"><button type="button" class="text-button" onClick=${onCancel}>Cancel</button>
      <button type="button" class="filled-button" disabled=${!name.trim()} onClick=${create}>Create</button></div>
  </div></div>`;
}

