/**
 * An opened email (`/email/<id>`), laid out as REAL's GoMail shows it: the subject as a heading, then
 * "From:", "Date:" and "Subject:" lines and the body; below it the replies sent in this thread and the
 * Reply / Forward buttons, which open the inline composer. Opening an unread email marks it read.
 *
 * The toolbar acts on this email and goes back to the list it was opened from (Back to inbox, Archive,
 * Report spam, Delete, Mark as unread, Snooze, Labels; Delete forever / Move to Inbox in Trash and Spam).
 */
import { html, useEffect, useState } from '/_kit/vendor/preact-htm.js';
import { useSite } from '/_kit/context.js';
import { Composer, newDraft } from './compose.js';
import { fullDate } from './dates.js';
import { Icon } from './icons.js';
import { LabelMenu, SnoozeMenu, SnoozePicker } from './menus.js';

let lastList = '/';

/** Remembers the list an email is opened from, for "Back to inbox". */
export function rememberList(url) {
  lastList = url;
}

function ToolButton({ label, icon, onClick }) {
  return html`<button type="button" class="icon-button tool" aria-label=${label} title=${label} onClick=${onClick}><${Icon} name=${icon} /></button>`;
}

function Header({ e }) {
  return html`<p class="meta"><strong>From:</strong> ${e.fromName && e.fromName !== e.from ? `${e.fromName} <${e.from}>` : e.from}</p>
    ${e.sent || e.to.length > 1 || e.cc.length ? html`<p class="meta"><strong>To:</strong> ${e.to.join(', ')}</p>` : ''}
    ${e.cc.length > 0 && html`<p class="meta"><strong>Cc:</strong> ${e.cc.join(', ')}</p>`}
    <p class="meta"><strong>Date:</strong> ${fullDate(e)}</p>`;
}

export function MessagePage({ id, onCreateLabel }) {
  const { state, dispatch, navigate } = useSite();
  const e = state.email.emails[id];
  const [popup, setPopup] = useState(null);
  const [draft, setDraft] = useState(null);
  useEffect(() => {
    if (e && !e.isRead) dispatch({ type: 'emails/setRead', payload: { ids: [id], isRead: true, quiet: true }, description: 'open email' });
  }, [id]);
  if (!e) {
    return html`<section class="list-card message-card" aria-label="Email list"><p class="empty">This message could not be found. It may have been deleted.</p>
      <p class="empty"><button type="button" class="link-like" onClick=${() => navigate(lastList)}>Back to inbox</button></p></section>`;
  }
  // Leave first, then act: the snackbar belongs to the list the email goes back to.
  const act = (type, extra = {}, description = type) => {
    setPopup(null);
    navigate(lastList);
    dispatch({ type, payload: { ids: [id], ...extra }, description });
  };
  const replies = Object.values(state.email.emails).filter((r) => r.inReplyTo === id && r.sent && !r.trash);
  const inTrash = e.trash || e.spam;
  return html`<section class="list-card message-card" aria-label="Email list">
    <div class="toolbar">
      <${ToolButton} label="Back to inbox" icon="back" onClick=${() => navigate(lastList)} />
      ${inTrash ? html`
        <${ToolButton} label="Delete forever" icon="trash" onClick=${() => act('emails/deleteForever', {}, 'delete forever')} />
        <${ToolButton} label="Move to Inbox" icon="moveInbox" onClick=${() => act('emails/moveToInbox', {}, 'move to inbox')} />` : html`
        ${e.archived ? html`<${ToolButton} label="Move to Inbox" icon="moveInbox" onClick=${() => act('emails/moveToInbox', {}, 'move to inbox')} />`
          : html`<${ToolButton} label="Archive" icon="archive" onClick=${() => act('emails/archive', {}, 'archive')} />`}
        <${ToolButton} label="Report spam" icon="spam" onClick=${() => act('emails/reportSpam', {}, 'report spam')} />
        <${ToolButton} label="Delete" icon="trash" onClick=${() => act('emails/moveToTrash', {}, 'move to trash')} />
        <span class="tool-gap"></span>
        <${ToolButton} label="Mark as unread" icon="markUnread" onClick=${() => act('emails/setRead', { isRead: false }, 'mark as unread')} />
        <span class="anchor"><${ToolButton} label="Snooze" icon="clock" onClick=${() => setPopup('snooze')} />
          ${popup === 'snooze' && html`<${SnoozeMenu} onSnooze=${(until) => act('emails/snooze', { until }, 'snooze')}
            onPick=${() => setPopup('pick')} onClose=${() => setPopup(null)} />`}</span>
        <span class="tool-gap"></span>
        <span class="anchor"><${ToolButton} label="Labels" icon="label" onClick=${() => setPopup('labels')} />
          ${popup === 'labels' && html`<${LabelMenu} labels=${state.settings.customLabels} emails=${[e]}
            onToggle=${(label, on) => { setPopup(null); dispatch({ type: 'emails/setLabel', payload: { ids: [id], label, on }, description: on ? 'add label' : 'remove label' }); }}
            onCreate=${() => { setPopup(null); onCreateLabel(); }} onClose=${() => setPopup(null)} />`}</span>`}
    </div>
    ${popup === 'pick' && html`<${SnoozePicker} onSnooze=${(until) => act('emails/snooze', { until }, 'snooze')} onCancel=${() => setPopup(null)} />`}
    <article class="message">
      <div class="subject-line"><h1 class="message-subject">${e.subject || '(no subject)'}</h1>${(e.labels || []).map((l) => html`<span class="row-label big">${l}</span>`)}</div>
      <${Header} e=${e} />
      <p class="meta"><strong>Subject:</strong> ${e.subject || '(no subject)'}</p>
      <div class="message-body" dangerouslySetInnerHTML=${{ __html: e.content }}></div>
      ${replies.map((r) => html`<div class="reply-card"><${Header} e=${r} /><div class="message-body" dangerouslySetInnerHTML=${{ __html: r.content }}></div></div>`)}
      ${draft ? html`<${Composer} value=${draft} setValue=${setDraft} source=${e} onDone=${() => setDraft(null)} />`
        : !inTrash && html`<div class="reply-actions">
          <button type="button" class="pill-button" onClick=${() => setDraft(newDraft('reply', e))}><${Icon} name="reply" size=${18} />Reply</button>
          <button type="button" class="pill-button" onClick=${() => setDraft(newDraft('forward', e))}><${Icon} name="forward" size=${18} />Forward</button></div>`}
    </article>
  </section>`;
}
