/**
 * The two requests a listing page makes, as modal dialogs:
 * - "Request a tour": a date (today and the next 13 days) and a time (9:00 AM to 6:00 PM), then name, email,
 *   phone and a message prefilled "I am interested in <street>, <City>, <ST> <zip>." with "I want financing
 *   information", sent with "Send tour request"; then the share-info step (when to buy, an exclusive agreement
 *   with an agent), which adds `shareInfoDetails` to the request, or Skip.
 * - "Contact agent": name, phone, email, the same prefilled message and an optional tour date and time,
 *   sent with "Send message".
 * While a dialog is open the page behind it is inert and aria-hidden (unclickable, and out of the accessibility
 * tree the agent reads).
 */
import { html, useState } from '/_kit/vendor/preact-htm.js';
import { useSite } from '/_kit/context.js';
import { Avatar } from './art.js';
import { TOUR_DAYS, TOUR_TIMES, dayParts, fullAddress, slotText, storedDate } from './format.js';
import { USER } from './parts.js';
import { contactRequest, tourRequest } from './state.js';

const WHEN_TO_BUY = ['ASAP', '1-3 months', '3-6 months', '6+ months', 'Just browsing'];
const AGREEMENT = ['Yes, I have.', 'No, I haven’t signed with an agent.'];
const DAYS_SHOWN = 7;

function Dialog({ title, onClose, children, footer, wide = false }) {
  return html`<div class="overlay" onKeyDown=${(e) => { if (e.key === 'Escape') onClose(); }}>
    <div class=${`dialog ${wide ? 'wide' : ''}`} role="dialog" aria-modal="true" aria-label=${title}>
      <div class="dialog-head"><h2>${title}</h2>
        <button type="button" class="close" aria-label="Close" onClick=${onClose}><svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
          <path d="M2 2l12 12M14 2L2 14" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" /></svg></button></div>
      <div class="dialog-body">${children}</div>
      ${footer && html`<div class="dialog-foot">${footer}</div>`}
    </div></div>`;
}

export function DatePicker({ value, onPick }) {
  const [start, setStart] = useState(0);
  return html`<div class="date-picker" role="group" aria-label="Select a date">
    <button type="button" class="arrow" aria-label="Previous dates" disabled=${start === 0} onClick=${() => setStart(0)}>‹</button>
    <div class="dates">${TOUR_DAYS.slice(start, start + DAYS_SHOWN).map((d) => {
      const p = dayParts(d);
      return html`<button type="button" class=${`date-card ${d === value ? 'on' : ''}`} aria-pressed=${d === value ? 'true' : 'false'}
        aria-label=${p.long} data-date=${d} onClick=${() => onPick(d)}><span class="dc-weekday">${p.weekday}</span>
        <span class="dc-day">${p.day}</span><span class="dc-month">${p.month}</span></button>`;
    })}</div>
    <button type="button" class="arrow" aria-label="Next dates" disabled=${start > 0} onClick=${() => setStart(DAYS_SHOWN)}>›</button>
  </div>`;
}

export function TimePicker({ value, onPick }) {
  return html`<div class="time-grid" role="group" aria-label="Select a time">${TOUR_TIMES.map((t) => html`<button type="button"
    class=${`time-chip ${t === value ? 'on' : ''}`} aria-pressed=${t === value ? 'true' : 'false'} onClick=${() => onPick(t)}>${t}</button>`)}</div>`;
}

function Field({ label, value, onInput, type = 'text', multiline = false }) {
  return html`<label class=${`field ${multiline ? 'multiline' : ''}`}><span>${label}</span>
    ${multiline ? html`<textarea rows="3" value=${value} onInput=${(e) => onInput(e.currentTarget.value)}></textarea>`
      : html`<input type=${type} value=${value} autocomplete="off" onInput=${(e) => onInput(e.currentTarget.value)} />`}</label>`;
}

function contactProblems(form) {
  const out = [];
  if (!form.name.trim()) out.push('Enter your name.');
  if (!/^\S+@\S+\.\S+$/.test(form.email.trim())) out.push('Enter a valid email address.');
  if ((form.phone.match(/\d/g) || []).length < 10) out.push('Enter a 10-digit phone number.');
  return out;
}

const Problems = ({ list }) => (list.length ? html`<div class="form-error" role="alert"><ul>${list.map((p) => html`<li>${p}</li>`)}</ul></div>` : null);

export function TourDialog({ listing, agent, onClose }) {
  const { state, dispatch } = useSite();
  const [step, setStep] = useState('when');
  const [date, setDate] = useState(null);
  const [time, setTime] = useState(null);
  const [form, setForm] = useState({ ...USER, message: `I am interested in ${fullAddress(listing)}.`, wantFinancingInformation: false });
  const [share, setShare] = useState({ whenToBuy: null, exclusiveAgencyAgreement: null });
  const [problems, setProblems] = useState([]);
  const [tourId, setTourId] = useState(null);
  const set = (k) => (v) => setForm({ ...form, [k]: v });
  const title = 'Request a tour';

  if (step === 'when') {
    const next = () => {
      const missing = [!date && 'Choose a date for your tour.', !time && 'Choose a time for your tour.'].filter(Boolean);
      setProblems(missing);
      if (!missing.length) setStep('info');
    };
    return html`<${Dialog} title=${title} onClose=${onClose} footer=${html`<button type="button" class="btn btn-primary wide" onClick=${next}>Next</button>`}>
      <p class="dialog-address">${fullAddress(listing)}</p>
      <h3 class="dialog-sub">Select a date</h3><${DatePicker} value=${date} onPick=${setDate} />
      <h3 class="dialog-sub">Select a time</h3><${TimePicker} value=${time} onPick=${setTime} />
      <${Problems} list=${problems} />
    <//>`;
  }
  if (step === 'info') {
    const send = () => {
      const list = contactProblems(form);
      setProblems(list);
      if (list.length) return;
      const values = { name: form.name.trim(), email: form.email.trim(), phone: form.phone.trim(), message: form.message,
                       wantFinancingInformation: form.wantFinancingInformation };
      const request = tourRequest(state, listing, { date: storedDate(date), time, formValues: values });
      dispatch({ type: 'tourRequests/requestTour', payload: request, description: 'Request a tour' });
      setTourId(request.id);
      setStep('share');
    };
    return html`<${Dialog} title=${title} onClose=${onClose}
      footer=${html`<button type="button" class="btn btn-primary wide" onClick=${send}>Send tour request</button>`}>
      <div class="slot-line"><span><b>${slotText(date, time)}</b> · In person</span>
        <button type="button" class="link-button" onClick=${() => { setProblems([]); setStep('when'); }}>Change</button></div>
      <div class="field-row"><${Field} label="Name" value=${form.name} onInput=${set('name')} /><${Field} label="Phone" type="tel" value=${form.phone} onInput=${set('phone')} /></div>
      <${Field} label="Email" type="email" value=${form.email} onInput=${set('email')} />
      <${Field} label="Message" multiline value=${form.message} onInput=${set('message')} />
      <label class="check"><input type="checkbox" checked=${form.wantFinancingInformation}
        onChange=${() => set('wantFinancingInformation')(!form.wantFinancingInformation)} /><span>I want financing information</span></label>
      <${Problems} list=${problems} />
      <p class="fine">By pressing Send tour request, you agree that Zilloft and real estate professionals may contact you about your inquiry.</p>
    <//>`;
  }
  if (step === 'share') {
    const submit = () => {
      const missing = [!share.whenToBuy && 'Choose when you are hoping to buy.',
        !share.exclusiveAgencyAgreement && 'Say whether you have signed an agreement with an agent.'].filter(Boolean);
      setProblems(missing);
      if (missing.length) return;
      dispatch({ type: 'tourRequests/shareInfo', payload: { id: tourId, shareInfoDetails: share }, description: 'Share info with agent' });
      setStep('done');
    };
    const group = (legend, key, options) => html`<fieldset class="radio-group"><legend>${legend}</legend>
      ${options.map((o) => html`<label class="radio"><input type="radio" name=${key} checked=${share[key] === o}
        onChange=${() => setShare({ ...share, [key]: o })} /><span>${o}</span></label>`)}</fieldset>`;
    return html`<${Dialog} title="Tour request sent" onClose=${onClose} footer=${html`
      <button type="button" class="btn btn-secondary" onClick=${() => setStep('done')}>Skip</button>
      <button type="button" class="btn btn-primary" onClick=${submit}>Submit</button>`}>
      <p class="sent-line" role="status">Your tour request was sent to ${agent.name}.</p>
      <p>Help ${agent.name.split(' ')[0]} prepare for your tour of ${listing.street}.</p>
      ${group('When are you hoping to buy?', 'whenToBuy', WHEN_TO_BUY)}
      ${group('Have you signed an exclusive agreement with a buyer’s agent?', 'exclusiveAgencyAgreement', AGREEMENT)}
      <${Problems} list=${problems} />
    <//>`;
  }
  return html`<${Dialog} title="Tour request sent" onClose=${onClose}
    footer=${html`<button type="button" class="btn btn-primary wide" onClick=${onClose}>Done</button>`}>
    <div class="done"><svg width="56" height="56" viewBox="0 0 56 56" aria-hidden="true" focusable="false"><circle cx="28" cy="28" r="28" fill="#e6f4ea" />
      <path d="M16 29l8 8 16-17" stroke="#1a7f37" stroke-width="4" fill="none" stroke-linecap="round" /></svg>
      <h3>You're all set, ${form.name.trim().split(' ')[0]}!</h3>
      <p>${agent.name} will confirm your tour of ${listing.street} on ${slotText(date, time)}.</p></div>
  <//>`;
}

/** `listing` is null when the agent is contacted from the agent directory (then there is no tour to pick). */
export function ContactDialog({ listing, agent, message, onClose }) {
  const { state, dispatch } = useSite();
  const [form, setForm] = useState({ name: USER.name, phone: USER.phone, email: USER.email, message });
  const [date, setDate] = useState(null);
  const [time, setTime] = useState(null);
  const [problems, setProblems] = useState([]);
  const [sent, setSent] = useState(false);
  const set = (k) => (v) => setForm({ ...form, [k]: v });
  if (sent) {
    return html`<${Dialog} title="Message sent" onClose=${onClose}
      footer=${html`<button type="button" class="btn btn-primary wide" onClick=${onClose}>Done</button>`}>
      <div class="done" role="status"><h3>Your message was sent to ${agent.name}.</h3>
        <p>${agent.name.split(' ')[0]} usually replies within a few hours${date ? `, and will confirm your tour on ${slotText(date, time)}` : ''}.</p></div>
    <//>`;
  }
  const send = () => {
    const list = contactProblems(form);
    if (!form.message.trim()) list.push('Enter a message.');
    if (!!date !== !!time) list.push('Choose both a date and a time for the tour, or neither.');
    setProblems(list);
    if (list.length) return;
    const values = { name: form.name.trim(), email: form.email.trim(), phone: form.phone.trim(), message: form.message };
    const request = contactRequest(state, listing, agent, { formValues: values, date: date ? storedDate(date) : null, time: time || null });
    dispatch({ type: 'tourRequests/contactAgent', payload: request, description: 'Contact agent' });
    setSent(true);
  };
  return html`<${Dialog} title="Contact agent" onClose=${onClose} wide=${!!listing}
    footer=${html`<button type="button" class="btn btn-primary wide" onClick=${send}>Send message</button>`}>
    <div class="agent-row"><${Avatar} agent=${agent} size=${44} /><div><b>${agent.name}</b><br /><span class="muted">${agent.brokerage}</span></div>
      <span class="agent-stars"><span aria-hidden="true">★</span> ${agent.rating.toFixed(1)} (${agent.reviews} reviews)</span></div>
    <div class=${listing ? 'contact-cols' : ''}>
      <div class="contact-form">
        <${Field} label="Name" value=${form.name} onInput=${set('name')} />
        <div class="field-row"><${Field} label="Phone" type="tel" value=${form.phone} onInput=${set('phone')} />
          <${Field} label="Email" type="email" value=${form.email} onInput=${set('email')} /></div>
        <${Field} label="Message" multiline value=${form.message} onInput=${set('message')} />
      </div>
      ${listing && html`<div class="contact-tour"><h3 class="dialog-sub">Schedule a tour (optional)</h3>
        <${DatePicker} value=${date} onPick=${setDate} /><${TimePicker} value=${time} onPick=${setTime} /></div>`}
    </div>
    <${Problems} list=${problems} />
  <//>`;
}
