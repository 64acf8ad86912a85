/**
 * Writing email: the "New Message" window (To with contact suggestions, Cc/Bcc, Subject, Message Body, Send)
 * and the inline Reply/Forward box of an opened email, which is the same composer without a Subject.
 *
 * The To field works as Gmail's: typing a name suggests contacts ("Alexa" -> Alexa Richardson
 * <alexa.richardson@example.com>); Enter, Tab or a click picks the highlighted one; a comma, Enter without
 * suggestions, or leaving the field turns the typed text into a recipient (a contact's exact name becomes
 * that contact's address). Send refuses malformed addresses with Gmail's error. Closing the window with
 * anything written keeps it as a draft. The body is stored as HTML paragraphs (`<p>line</p>`).
 */
import { html, useEffect, useRef, useState } from '/_kit/vendor/preact-htm.js';
import { useSite } from '/_kit/context.js';
import contactsData from './contacts.json' with { type: 'json' };
import { NOW_TIME, TODAY } from './dates.js';
import { Icon } from './icons.js';
import { plainText } from './search.js';
import { ACCOUNT, nextEmailId } from './state.js';

const CONTACTS = contactsData.contacts;
const BY_EMAIL = new Map(CONTACTS.map((c) => [c.email, c]));
const ADDRESS = /^[^\s@<>,;]+@[^\s@<>,;]+\.[^\s@<>,;]+$/;
const FIELD_NAMES = { to: 'To', cc: 'Cc', bcc: 'Bcc' };

function escapeHtml(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The stored HTML of a typed body: one `<p>` per line, trailing blank lines dropped. */
function bodyToHtml(text) {
  const lines = String(text).replace(/\r/g, '').split('\n');
  while (lines.length && !lines[lines.length - 1].trim()) lines.pop();
  return lines.map((l) => `<p>${l.trim() ? escapeHtml(l) : '<br>'}</p>`).join('');
}

/** What typed text stands for: a contact's address for its exact name, an address from "Name <a@b.c>". */
function resolveRecipient(text) {
  const t = text.trim().replace(/[,;]+$/, '').trim();
  const angle = /<([^>]+)>\s*$/.exec(t);
  if (angle) return angle[1].trim().toLowerCase();
  const contact = CONTACTS.find((c) => c.name.toLowerCase() === t.toLowerCase());
  return contact ? contact.email : ADDRESS.test(t) ? t.toLowerCase() : t;
}

function suggest(text, chosen) {
  const t = text.trim().toLowerCase();
  if (!t) return [];
  return CONTACTS.filter((c) => !chosen.includes(c.email) && (c.name.toLowerCase().startsWith(t)
    || c.name.toLowerCase().split(' ').some((w) => w.startsWith(t)) || c.email.startsWith(t))).slice(0, 6);
}

const chipName = (addr) => (BY_EMAIL.get(addr) ? BY_EMAIL.get(addr).name : addr);

/** One recipients field: chips, a combobox, and the contact suggestions below it. */
function RecipientField({ kind, value, onChange, autoFocus = false, extra = null }) {
  const { list, text } = value;
  const [active, setActive] = useState(0);
  const [focused, setFocused] = useState(false);
  const input = useRef(null);
  useEffect(() => { if (autoFocus && input.current) input.current.focus(); }, []);
  const options = focused ? suggest(text, list) : [];
  const label = `${FIELD_NAMES[kind]} recipients`;
  const add = (addr) => onChange({ list: list.includes(addr) ? list : [...list, addr], text: '' });
  const commit = () => { if (text.trim()) add(resolveRecipient(text)); };
  const onKeyDown = (e) => {
    if (e.key === 'ArrowDown' && options.length) { e.preventDefault(); setActive((active + 1) % options.length); }
    else if (e.key === 'ArrowUp' && options.length) { e.preventDefault(); setActive((active + options.length - 1) % options.length); }
    else if ((e.key === 'Enter' || e.key === 'Tab') && options.length) {
      if (e.key === 'Enter') e.preventDefault();
      add(options[Math.min(active, options.length - 1)].email);
      setActive(0);
    } else if (e.key === 'Enter' || e.key === ',' || e.key === ';') {
      if (text.trim()) { e.preventDefault(); commit(); }
    } else if (e.key === 'Backspace' && !text && list.length) {
      onChange({ list: list.slice(0, -1), text: '' });
    }
  };
  const listId = `suggestions-${kind}`;
  return html`<div class="recipient-row" onClick=${() => input.current && input.current.focus()}>
    <span class="field-label" aria-hidden="true">${FIELD_NAMES[kind]}</span>
    <span class="chips" role="list" aria-label=${`Selected ${FIELD_NAMES[kind]} recipients`}>
      ${list.map((addr) => html`<span class=${`chip ${ADDRESS.test(addr) ? '' : 'invalid'}`} role="listitem"
        aria-label=${BY_EMAIL.get(addr) ? `${chipName(addr)} <${addr}>` : addr} title=${addr}>
        <span class="chip-avatar" aria-hidden="true">${chipName(addr)[0].toUpperCase()}</span>${chipName(addr)}
        <button type="button" class="chip-remove" aria-label=${`Remove ${addr}`}
          onClick=${(e) => { e.stopPropagation(); onChange({ list: list.filter((a) => a !== addr), text }); }}><${Icon} name="close" size=${14} /></button></span>`)}
      <input ref=${input} class="recipient-input" type="text" role="combobox" aria-label=${label} autocomplete="off"
        aria-autocomplete="list" aria-expanded=${options.length ? 'true' : 'false'} aria-controls=${listId} value=${text}
        onInput=${(e) => { setActive(0); onChange({ list, text: e.currentTarget.value }); }}
        onKeyDown=${onKeyDown} onFocus=${() => setFocused(true)}
        onBlur=${() => { setFocused(false); commit(); }} />
    </span>
    ${extra}
    ${options.length > 0 && html`<ul class="suggestions" role="listbox" id=${listId} aria-label="Suggestions">
      ${options.map((c, k) => html`<li role="option" aria-selected=${k === active ? 'true' : 'false'}
        aria-label=${`${c.name}, ${c.email}`} class=${k === active ? 'active' : ''}
        onMouseDown=${(e) => { e.preventDefault(); add(c.email); setActive(0); }}>
        <span class="chip-avatar big" aria-hidden="true">${c.name[0]}</span>
        <span class="sugg-text"><span class="sugg-name">${c.name}</span><span class="sugg-mail">${c.email}</span></span></li>`)}
    </ul>`}
  </div>`;
}

const emptyField = (list = []) => ({ list, text: '' });

/** A fresh composer state: `mode` new, reply or forward; `source` the email replied to or forwarded. */
export function newDraft(mode = 'new', source = null, draft = null) {
  if (draft) {
    return { mode: 'new', draftId: draft.id, to: emptyField(draft.to), cc: emptyField(draft.cc), bcc: emptyField(draft.bcc),
             showCc: draft.cc.length > 0, showBcc: draft.bcc.length > 0, subject: draft.subject,
             body: draft.content.split(/<\/p>/i).filter((seg, k, all) => k < all.length - 1 || plainText(seg))
               .map(plainText).join('\n') };
  }
  const replyTo = source && (source.from === ACCOUNT.email ? source.to : [source.from]);
  return { mode, draftId: null, sourceId: source ? source.id : null, to: emptyField(mode === 'reply' ? replyTo : []),
           cc: emptyField(), bcc: emptyField(), showCc: false, showBcc: false, subject: '', body: '' };
}

function subjectFor(c, source) {
  if (c.mode === 'new') return c.subject;
  const prefix = c.mode === 'reply' ? 'Re: ' : 'Fwd: ';
  return source.subject.toLowerCase().startsWith(prefix.toLowerCase()) ? source.subject : prefix + source.subject;
}

function contentFor(c, source) {
  const own = bodyToHtml(c.body);
  if (c.mode !== 'forward') return own;
  return `${own}<p>---------- Forwarded message ---------</p><p>From: ${escapeHtml(source.fromName)} &lt;${source.from}&gt;</p>`
    + `<p>Subject: ${escapeHtml(source.subject)}</p>${source.content}`;
}

/** The email a composer state becomes (sent, or kept as a draft). */
function buildEmail(state, c, source, sent) {
  const pending = (f) => (f.text.trim() ? [...f.list, resolveRecipient(f.text)] : f.list);
  return {
    id: c.draftId || nextEmailId(state), from: ACCOUNT.email, fromName: ACCOUNT.name, to: pending(c.to),
    cc: pending(c.cc), bcc: pending(c.bcc), subject: subjectFor(c, source), content: contentFor(c, source),
    date: TODAY, time: NOW_TIME, isRead: true, starred: false, trash: false, archived: false, spam: false, sent,
    draft: !sent, isReply: sent && c.mode === 'reply', labels: [],
    ...(c.mode === 'reply' ? { inReplyTo: source.id } : {}),
  };
}

/** Gmail's objection to sending `email`, or null. */
function sendProblem(email) {
  if (!email.to.length && !email.cc.length && !email.bcc.length) return 'Please specify at least one recipient.';
  for (const kind of ['to', 'cc', 'bcc']) {
    const bad = email[kind].find((a) => !ADDRESS.test(a));
    if (bad) {
      return `The address "${bad}" in the "${FIELD_NAMES[kind]}" field was not recognized. Please make sure that all addresses are properly formed.`;
    }
  }
  return null;
}

/** A modal message with OK (and Cancel when `onCancel` is given). */
function MessageDialog({ title, text, onOk, onCancel = null, role = 'alertdialog' }) {
  return html`<div class="modal-backdrop"><div class="modal small" role=${role} aria-label=${title} aria-modal="true">
    <h2 class="modal-title">${title}</h2><p class="modal-text">${text}</p>
    <div class="modal-actions">${onCancel && html`<button type="button" class="text-button" onClick=${onCancel}>Cancel</button>`}
      <button type="button" class="filled-button" onClick=${onOk}>OK</button></div></div></div>`;
}

/**
 * The composer. `value`/`setValue` hold its state (the App keeps the New Message window's, an opened
 * email keeps its reply box's); `onDone` closes it.
 */
export function Composer({ value: c, setValue, source = null, onDone }) {
  const { state, dispatch } = useSite();
  const [problem, setProblem] = useState(null);
  const [confirmEmpty, setConfirmEmpty] = useState(false);
  const body = useRef(null);
  const set = (fields) => setValue({ ...c, ...fields });
  const inline = c.mode !== 'new';
  // A reply starts in its body (the recipient is already there), as Gmail's does.
  useEffect(() => { if (c.mode === 'reply' && body.current) body.current.focus(); }, []);

  const reallySend = () => {
    const email = buildEmail(state, c, source, true);
    dispatch({ type: 'emails/send', payload: { email }, description: inline ? `send ${c.mode}` : 'send email' });
    onDone();
  };
  const send = () => {
    const email = buildEmail(state, c, source, true);
    const p = sendProblem(email);
    if (p) { setProblem(p); return; }
    if (!inline && !c.subject.trim() && !c.body.trim()) { setConfirmEmpty(true); return; }
    reallySend();
  };
  const close = () => {
    const written = c.to.list.length || c.to.text.trim() || c.cc.list.length || c.bcc.list.length || c.subject.trim() || c.body.trim();
    if (!inline && (written || c.draftId)) {
      dispatch({ type: 'emails/saveDraft', payload: { email: buildEmail(state, c, source, false) }, description: 'save draft' });
    }
    onDone();
  };
  const discard = () => {
    if (c.draftId) dispatch({ type: 'emails/discardDraft', payload: { ids: [c.draftId] }, description: 'discard draft' });
    onDone();
  };
  const onKeyDown = (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); send(); } };
  const ccBcc = html`<span class="cc-links">
    ${!c.showCc && html`<button type="button" class="link-like" aria-label="Add Cc recipients" onClick=${(e) => { e.stopPropagation(); set({ showCc: true }); }}>Cc</button>`}
    ${!c.showBcc && html`<button type="button" class="link-like" aria-label="Add Bcc recipients" onClick=${(e) => { e.stopPropagation(); set({ showBcc: true }); }}>Bcc</button>`}
  </span>`;

  const fields = html`
    <${RecipientField} kind="to" value=${c.to} onChange=${(v) => set({ to: v })} autoFocus=${c.mode !== 'reply'} extra=${ccBcc} />
    ${c.showCc && html`<${RecipientField} kind="cc" value=${c.cc} onChange=${(v) => set({ cc: v })} />`}
    ${c.showBcc && html`<${RecipientField} kind="bcc" value=${c.bcc} onChange=${(v) => set({ bcc: v })} />`}
    ${!inline && html`<div class="subject-row"><input type="text" class="subject-input" aria-label="Subject" placeholder="Subject"
      autocomplete="off" value=${c.subject} onInput=${(e) => set({ subject: e.currentTarget.value })} /></div>`}
    <textarea ref=${body} class="body-input" aria-label="Message Body" value=${c.body}
      onInput=${(e) => set({ body: e.currentTarget.value })}></textarea>
    <div class="compose-footer">
      <button type="button" class="send-button" onClick=${send}>Send</button>
      <span class="format-tools" aria-hidden="true"><${Icon} name="format" /><${Icon} name="attach" /></span>
      <button type="button" class="icon-button discard" aria-label="Discard draft" onClick=${discard}><${Icon} name="trash" /></button>
    </div>
    ${problem && html`<${MessageDialog} title="Error" text=${problem} onOk=${() => setProblem(null)} />`}
    ${confirmEmpty && html`<${MessageDialog} title="Send without subject" role="dialog"
      text="Send this message without a subject or text in the body?" onOk=${() => { setConfirmEmpty(false); reallySend(); }}
      onCancel=${() => setConfirmEmpty(false)} />`}`;

  if (inline) {
    return html`<section class="inline-composer" aria-label=${c.mode === 'reply' ? 'Reply' : 'Forward'} onKeyDown=${onKeyDown}>
      <div class="inline-head"><${Icon} name=${c.mode === 'reply' ? 'reply' : 'forward'} size=${18} />
        <span>${c.mode === 'reply' ? 'Reply' : 'Forward'}</span></div>${fields}</section>`;
  }
  return html`<div class="compose-window" role="dialog" aria-label="New Message" onKeyDown=${onKeyDown}>
    <div class="compose-head"><span class="compose-title">${c.subject.trim() || 'New Message'}</span>
      <button type="button" class="icon-button light" aria-label="Save & close" onClick=${close}><${Icon} name="close" size=${18} /></button></div>
    ${fields}
  </div>`;
}
