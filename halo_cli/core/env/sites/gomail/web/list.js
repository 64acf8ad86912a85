/**
 * The conversation list of a mailbox, a label or a search: rows with a checkbox, a star, sender, subject and
 * snippet, and the date (the time for today's mail); 50 to a page ("1-50 of 54", Newer/Older).
 *
 * Selecting rows shows the bulk actions (Archive, Report spam, Delete, Mark as read/unread, Snooze, Labels;
 * Trash and Spam have their own). The header checkbox selects the page; then "Select all 54 conversations
 * in Inbox" selects every page, as Gmail's does. Selection is the page's own (not REAL state): it resets when
 * the list changes.
 */
import { html, useEffect, useRef, useState } from '/_kit/vendor/preact-htm.js';
import { useSite } from '/_kit/context.js';
import { listDate, snoozeLabel } from './dates.js';
import { Icon } from './icons.js';
import { LabelMenu, Menu, SnoozeMenu, SnoozePicker } from './menus.js';
import { inScope, newestFirst, plainText } from './search.js';
import { PAGE_SIZE } from './state.js';

/** The mailboxes of the navigation, in its order; `more` ones hide under "More". */
export const FOLDERS = [
  { id: 'inbox', path: '/', name: 'Inbox', icon: 'inbox' },
  { id: 'starred', path: '/starred', name: 'Starred', icon: 'star' },
  { id: 'snoozed', path: '/snoozed', name: 'Snoozed', icon: 'clock' },
  { id: 'sent', path: '/sent', name: 'Sent', icon: 'send' },
  { id: 'drafts', path: '/drafts', name: 'Drafts', icon: 'draft' },
  { id: 'all', path: '/all', name: 'All Mail', icon: 'allMail', more: true, scope: '' },
  { id: 'spam', path: '/spam', name: 'Spam', icon: 'spam', more: true },
  { id: 'trash', path: '/trash', name: 'Trash', icon: 'trash', more: true },
];

/** The emails a view lists, newest first: a folder's, a label's, or the current search's results. */
export function viewEmails(state, view) {
  const all = state.email.emails;
  if (view.kind === 'search') {
    return state.filter.searchResults.map((r) => all[r.id]).filter((e) => e && !e.trash && !e.spam);
  }
  if (view.kind === 'label') {
    return Object.values(all).filter((e) => (e.labels || []).includes(view.label) && !e.trash && !e.spam).sort(newestFirst);
  }
  const scope = view.folder.scope ?? view.folder.id;
  return Object.values(all).filter((e) => inScope(e, scope)).sort(newestFirst);
}

const viewName = (view) => (view.kind === 'search' ? 'this search' : view.kind === 'label' ? view.label : view.folder.name);

const senderOf = (e, view) => {
  if (view.kind === 'folder' && ['sent', 'drafts'].includes(view.folder.id)) return `To: ${e.to.join(', ') || '(no recipients)'}`;
  return e.fromName || e.from;
};

function Checkbox({ label, checked, mixed = false, onChange, cls = '' }) {
  const ref = useRef(null);
  useEffect(() => { if (ref.current) ref.current.indeterminate = mixed; });
  return html`<input ref=${ref} type="checkbox" class=${`check ${cls}`} aria-label=${label} checked=${checked}
    onClick=${(e) => e.stopPropagation()} onChange=${(e) => onChange(e.currentTarget.checked)} />`;
}

function ToolButton({ label, icon, onClick, disabled = false }) {
  return html`<button type="button" class="icon-button tool" aria-label=${label} title=${label} disabled=${disabled}
    onClick=${(e) => { e.stopPropagation(); onClick(e); }}><${Icon} name=${icon} /></button>`;
}

function Row({ e, view, selected, onSelect, onOpen }) {
  const { dispatch } = useSite();
  const name = senderOf(e, view);
  const subject = e.subject || '(no subject)';
  const snippet = plainText(e.content);
  const date = view.kind === 'folder' && view.folder.id === 'snoozed' && e.snoozeUntil ? snoozeLabel(e.snoozeUntil).split(',')[0] : listDate(e);
  const star = () => dispatch({ type: 'emails/setStarred', payload: { ids: [e.id], starred: !e.starred },
                                description: e.starred ? 'unstar email' : 'star email' });
  return html`<li class=${`row ${e.isRead ? 'read' : 'unread'} ${selected ? 'selected' : ''}`} data-email-id=${e.id}
      aria-label=${`Email from ${e.fromName || e.from}, ${subject}`} onClick=${() => onOpen(e)}>
    <${Checkbox} label=${`Select email from ${e.fromName || e.from}`} checked=${selected} onChange=${onSelect} cls="row-check" />
    <button type="button" class=${`star ${e.starred ? 'on' : ''}`} aria-pressed=${e.starred ? 'true' : 'false'}
      aria-label=${`${e.starred ? 'Remove star from' : 'Add star to'} email from ${e.fromName || e.from}`}
      onClick=${(ev) => { ev.stopPropagation(); star(); }}><${Icon} name=${e.starred ? 'star' : 'starOutline'} /></button>
    <p class="row-from">${e.draft ? html`<span class="draft-mark">Draft</span> ` : ''}${name}</p>
    <p class="row-text">${(e.labels || []).map((l) => html`<span class="row-label">${l}</span>`)}${e.snoozeUntil ? html`<span class="row-label snoozed">Snoozed</span>` : ''}<span class="row-subject">${subject}</span><span class="row-snippet">${snippet ? ` - ${snippet}` : ''}</span></p>
    <p class="row-date">${date}</p>
  </li>`;
}

const NONE = { ids: [], all: false };

/** The list page of `view` (a folder, label or search), page `page` (1-based). */
export function ListPage({ view, page, onOpenDraft, onCreateLabel }) {
  const { state, dispatch, navigate } = useSite();
  const [sel, setSel] = useState(NONE);
  const [popup, setPopup] = useState(null); // 'snooze' | 'pick' | 'labels' | 'more'
  const emails = viewEmails(state, view);
  const total = emails.length;
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const current = Math.min(Math.max(1, page), pages);
  const first = (current - 1) * PAGE_SIZE;
  const rows = emails.slice(first, first + PAGE_SIZE);
  const chosen = new Set(sel.all ? emails.map((e) => e.id) : sel.ids);
  const targets = emails.filter((e) => chosen.has(e.id));
  const allOnPage = rows.length > 0 && rows.every((e) => chosen.has(e.id));
  const folder = view.kind === 'folder' ? view.folder.id : null;

  const run = (type, extra = {}, description = type) => {
    const ids = targets.map((e) => e.id);
    setSel(NONE);
    setPopup(null);
    dispatch({ type, payload: { ids, ...extra }, description });
  };
  const pageUrl = (n) => {
    const base = window.location.pathname;
    const params = new URLSearchParams(window.location.search);
    if (n > 1) params.set('page', String(n)); else params.delete('page');
    const qs = params.toString();
    return qs ? `${base}?${qs}` : base;
  };
  const toggleRow = (id, on) => setSel({ all: false, ids: on ? [...chosen, id] : [...chosen].filter((x) => x !== id) });
  const open = (e) => (e.draft ? onOpenDraft(e) : navigate(`/email/${e.id}`));
  const anyUnread = targets.some((e) => !e.isRead);

  let actions;
  if (folder === 'trash') {
    actions = html`<${ToolButton} label="Delete forever" icon="trash" onClick=${() => run('emails/deleteForever', {}, 'delete forever')} />
      <${ToolButton} label="Move to Inbox" icon="moveInbox" onClick=${() => run('emails/moveToInbox', {}, 'move to inbox')} />`;
  } else if (folder === 'spam') {
    actions = html`<${ToolButton} label="Not spam" icon="moveInbox" onClick=${() => run('emails/moveToInbox', {}, 'not spam')} />
      <${ToolButton} label="Delete forever" icon="trash" onClick=${() => run('emails/deleteForever', {}, 'delete forever')} />`;
  } else if (folder === 'drafts') {
    actions = html`<${ToolButton} label="Discard drafts" icon="trash" onClick=${() => run('emails/discardDraft', {}, 'discard drafts')} />`;
  } else {
    actions = html`
      ${folder !== 'snoozed' && html`<${ToolButton} label="Archive" icon="archive" onClick=${() => run('emails/archive', {}, 'archive')} />`}
      ${folder !== 'snoozed' && html`<${ToolButton} label="Report spam" icon="spam" onClick=${() => run('emails/reportSpam', {}, 'report spam')} />`}
      <${ToolButton} label="Delete" icon="trash" onClick=${() => run('emails/moveToTrash', {}, 'move to trash')} />
      <span class="tool-gap"></span>
      <${ToolButton} label=${anyUnread ? 'Mark as read' : 'Mark as unread'} icon=${anyUnread ? 'markRead' : 'markUnread'}
        onClick=${() => run('emails/setRead', { isRead: anyUnread }, anyUnread ? 'mark as read' : 'mark as unread')} />
      ${folder === 'snoozed'
        ? html`<${ToolButton} label="Unsnooze" icon="inbox" onClick=${() => run('emails/unsnooze', {}, 'unsnooze')} />`
        : html`<span class="anchor"><${ToolButton} label="Snooze" icon="clock" onClick=${() => setPopup('snooze')} />
          ${popup === 'snooze' && html`<${SnoozeMenu} onSnooze=${(until) => run('emails/snooze', { until }, 'snooze')}
            onPick=${() => setPopup('pick')} onClose=${() => setPopup(null)} />`}</span>`}
      <span class="tool-gap"></span>
      <span class="anchor"><${ToolButton} label="Labels" icon="label" onClick=${() => setPopup('labels')} />
        ${popup === 'labels' && html`<${LabelMenu} labels=${state.settings.customLabels} emails=${targets}
          onToggle=${(label, on) => run('emails/setLabel', { label, on }, on ? 'add label' : 'remove label')}
          onCreate=${() => { setPopup(null); onCreateLabel(); }} onClose=${() => setPopup(null)} />`}</span>`;
  }

  const unread = emails.filter((e) => !e.isRead).map((e) => e.id);
  const where = view.kind === 'search' ? 'that match this search' : `in ${viewName(view)}`;
  const empty = view.kind === 'search' ? 'No messages matched your search. Try using search options such as sender, date, size and more.'
    : folder === 'inbox' ? 'Your Inbox is empty.' : `No conversations in ${viewName(view)}.`;

  return html`<section class="list-card" aria-label="Email list">
    <div class="toolbar">
      <span class="select-all"><${Checkbox} label="Select all" checked=${allOnPage} mixed=${chosen.size > 0 && !allOnPage}
        onChange=${() => setSel(chosen.size ? NONE : { all: false, ids: rows.map((e) => e.id) })} /></span>
      ${chosen.size > 0 ? actions : html`
        <${ToolButton} label="Refresh" icon="refresh" onClick=${() => setSel(NONE)} />
        <span class="anchor"><${ToolButton} label="More" icon="more" onClick=${() => setPopup('more')} />
          ${popup === 'more' && html`<${Menu} label="More" onClose=${() => setPopup(null)} items=${[{
            label: 'Mark all as read',
            onSelect: () => dispatch({ type: 'emails/setRead', payload: { ids: unread, isRead: true }, description: 'mark all as read' }),
          }]} />`}</span>`}
      <span class="spacer"></span>
      ${total > 0 && html`<p class="page-info">${first + 1}-${first + rows.length} of ${total}</p>`}
      <${ToolButton} label="Newer" icon="left" disabled=${current <= 1} onClick=${() => navigate(pageUrl(current - 1))} />
      <${ToolButton} label="Older" icon="right" disabled=${current >= pages} onClick=${() => navigate(pageUrl(current + 1))} />
    </div>
    ${allOnPage && total > rows.length && html`<div class="select-banner">${sel.all
      ? html`All <b>${total}</b> conversations ${where} are selected. <button type="button" class="link-like" onClick=${() => setSel(NONE)}>Clear selection</button>`
      : html`All <b>${rows.length}</b> conversations on this page are selected. <button type="button" class="link-like"
          onClick=${() => setSel({ all: true, ids: [] })}>Select all ${total} conversations ${where}</button>`}</div>`}
    ${popup === 'pick' && html`<${SnoozePicker} onSnooze=${(until) => run('emails/snooze', { until }, 'snooze')} onCancel=${() => setPopup(null)} />`}
    ${total === 0 ? html`<p class="empty">${empty}</p>`
      : html`<ul class="rows" aria-label="Email list">${rows.map((e) => html`<${Row} key=${e.id} e=${e} view=${view}
          selected=${chosen.has(e.id)} onSelect=${(on) => toggleRow(e.id, on)} onOpen=${open} />`)}</ul>`}
  </section>`;
}
