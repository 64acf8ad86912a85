/**
 * GoMail: a local replica of REAL's Gmail clone. Routes: `/` (Inbox), `/starred`, `/snoozed`, `/sent`,
 * `/drafts`, `/all`, `/spam`, `/trash`, `/label/<name>`, `/search?q=` (each with `?page=2`), and
 * `/email/<id>` (an opened email). Labels and roles follow the captured real GoMail (the "Mailbox
 * navigation" with "Inbox menu item, 17 unread", the "Email list" of "Email from <sender>, <subject>" rows,
 * "Select email from ..." checkboxes, "Search mail") and the dense-reward milestones (the "New Message"
 * window with "To recipients", "Subject", "Send"; the "Message sent" and "N conversations moved to Trash."
 * snackbars). "Compose" is a plain clickable text in the navigation, as on the real site.
 */
import { html, useState } from '/_kit/vendor/preact-htm.js';
import { bootSite } from '/_kit/boot.js';
import { useSite } from '/_kit/context.js';
import { Link } from '/_kit/router.js';
import { Composer, newDraft } from './compose.js';
import { AppsGrid, Icon, Logo } from './icons.js';
import { FOLDERS, ListPage, viewEmails } from './list.js';
import { LabelDialog } from './menus.js';
import { MessagePage, rememberList } from './message.js';
import { composeQuery } from './search.js';
import { ACCOUNT, initialState, mailboxEmails, slices } from './state.js';

const BY_PATH = new Map(FOLDERS.map((f) => [f.path, f]));

function Banner() {
  const [shown, setShown] = useState(true);
  if (!shown) return null;
  return html`<div class="banner" role="alert">
    <span class="banner-icon"><${Icon} name="info" size=${22} /></span>
    <p class="banner-title">Version 2.0 launches soon! Stay tuned.</p>
    <p>This website is a non-commercial clone created solely for educational and testing purposes and is not affiliated with, endorsed by, or associated with any companies it may resemble.</p>
    <p>All trademarks, logos, and content are the property of their respective owners and are used here for academic purposes only, with no intent to infringe on intellectual property rights.</p>
    <button type="button" class="banner-close icon-button light" aria-label="close" onClick=${() => setShown(false)}><${Icon} name="close" /></button>
  </div>`;
}

const ADVANCED_FIELDS = [
  ['from', 'From', 'Search by sender'], ['to', 'To', 'Search by recipient'], ['subject', 'Subject', 'Search by subject'],
  ['hasWords', 'Has the words', 'Search for words'], ['doesntHave', "Doesn't have", 'Exclude words'],
];

function SearchBar() {
  const { state, dispatch, navigate } = useSite();
  const [advanced, setAdvanced] = useState(null);
  const value = state.ui.searchInputValue;
  const go = (q) => { setAdvanced(null); if (q.trim()) navigate(`/search?q=${encodeURIComponent(q.trim())}`); };
  return html`<div class="search-wrap">
    <form class="search" role="search" aria-label="Search mail" onSubmit=${(e) => { e.preventDefault(); go(value); }}>
      <button type="submit" class="icon-button" aria-label="Search"><${Icon} name="search" /></button>
      <input type="text" class="search-input" aria-label="Search mail" placeholder="Search mail" autocomplete="off" value=${value}
        onInput=${(e) => dispatch({ type: 'ui/setSearchInputValue', payload: { value: e.currentTarget.value }, description: 'type in search' })} />
      ${value && html`<button type="button" class="icon-button" aria-label="Clear search" onClick=${() => (window.location.pathname === '/search'
        ? navigate('/') : dispatch({ type: 'ui/setSearchInputValue', payload: { value: '' }, description: 'clear search' }))}><${Icon} name="close" /></button>`}
      <button type="button" class="icon-button" aria-label="Advanced search options"
        onClick=${() => setAdvanced(advanced ? null : { from: '', to: '', subject: '', hasWords: value, doesntHave: '' })}><${Icon} name="tune" /></button>
    </form>
    ${advanced && html`<div class="menu-backdrop" onClick=${() => setAdvanced(null)}></div>
      <form class="advanced" aria-label="Advanced search" onSubmit=${(e) => { e.preventDefault(); go(composeQuery(advanced)); }}>
        ${ADVANCED_FIELDS.map(([key, label, aria]) => html`<label class="adv-row"><span>${label}</span>
          <input type="text" aria-label=${aria} value=${advanced[key]} autocomplete="off"
            onInput=${(e) => setAdvanced({ ...advanced, [key]: e.currentTarget.value })} /></label>`)}
        <div class="adv-actions"><button type="submit" class="filled-button">Search</button></div>
      </form>`}
  </div>`;
}

function Header() {
  return html`<header class="top">
    <div class="brand"><span class="icon-spacer" aria-hidden="true"></span>
      <${Link} href="/" class="brand-link" aria-label="GoMail"><${Logo} /><h1 class="brand-name">GoMail</h1><//></div>
    <${SearchBar} />
    <div class="top-icons" aria-hidden="true"><span class="round"><${Icon} name="help" size=${24} /></span>
      <span class="round"><${Icon} name="settings" size=${24} /></span><span class="round"><${AppsGrid} /></span>
      <span class="avatar">${ACCOUNT.name[0]}</span></div>
  </header>`;
}

function NavItem({ href, icon, name, count = 0, counted = 'unread', active, bold = false }) {
  return html`<${Link} href=${href} role="menuitem" class=${`nav-item ${active ? 'active' : ''} ${bold ? 'bold' : ''}`}
    aria-label=${`${name} menu item${count ? `, ${count} ${counted}` : ''}`}>
    <${Icon} name=${icon} /><span class="nav-name">${name}</span>${count > 0 && html`<span class="nav-count">${count}</span>`}<//>`;
}

function Sidebar({ path, onCompose, onCreateLabel }) {
  const { state } = useSite();
  const [more, setMore] = useState(false);
  const unread = (id) => viewEmails(state, { kind: 'folder', folder: FOLDERS.find((f) => f.id === id) }).filter((e) => !e.isRead).length;
  const drafts = viewEmails(state, { kind: 'folder', folder: FOLDERS.find((f) => f.id === 'drafts') }).length;
  const shown = FOLDERS.filter((f) => !f.more || more || f.path === path);
  return html`<nav class="sidebar" aria-label="Mailbox navigation">
    <div class="compose" onClick=${onCompose}><${Icon} name="pencil" size=${22} /><span>Compose</span></div>
    ${shown.map((f) => html`<${NavItem} href=${f.path} icon=${f.icon} name=${f.name} active=${f.path === path}
      count=${f.id === 'inbox' ? unread('inbox') : f.id === 'drafts' ? drafts : f.id === 'spam' ? unread('spam') : 0}
      counted=${f.id === 'drafts' ? (drafts === 1 ? 'draft' : 'drafts') : 'unread'}
      bold=${f.id === 'inbox' && unread('inbox') > 0} />`)}
    <div class="nav-item more-toggle" role="menuitem" aria-label=${more ? 'Less menu item' : 'More menu item'} aria-expanded=${more ? 'true' : 'false'}
      onClick=${() => setMore(!more)}><${Icon} name=${more ? 'collapse' : 'expand'} /><span class="nav-name">${more ? 'Less' : 'More'}</span></div>
    <div class="labels-head"><span>Labels</span>
      <button type="button" class="icon-button" aria-label="Create new label" onClick=${onCreateLabel}><${Icon} name="plus" /></button></div>
    ${state.settings.customLabels.map(({ label }) => html`<${NavItem} href=${`/label/${encodeURIComponent(label)}`} icon="label"
      name=${label} active=${path === `/label/${encodeURIComponent(label)}`} />`)}
  </nav>`;
}

function Snackbar() {
  const { state, dispatch } = useSite();
  const { open, message } = state.ui.snackbar;
  if (!open) return null;
  return html`<div class="snackbar" role="status"><span class="snackbar-text">${message}</span>
    <button type="button" class="icon-button light" aria-label="Close" onClick=${() => dispatch({ type: 'ui/closeSnackbar', description: 'close snackbar' })}><${Icon} name="close" size=${18} /></button></div>`;
}

function route(location) {
  const { pathname, search } = location;
  const page = Number(new URLSearchParams(search).get('page')) || 1;
  const m = pathname.match(/^\/email\/([^/]+)$/);
  if (m) return { kind: 'email', id: decodeURIComponent(m[1]) };
  if (BY_PATH.has(pathname)) return { kind: 'folder', folder: BY_PATH.get(pathname), page };
  const l = pathname.match(/^\/label\/([^/]+)$/);
  if (l) return { kind: 'label', label: decodeURIComponent(l[1]), page };
  if (pathname === '/search') return { kind: 'search', page };
  return { kind: 'missing' };
}

function App() {
  const { state, dispatch, navigate } = useSite();
  const [composer, setComposer] = useState(null);
  const [labelDialog, setLabelDialog] = useState(false);
  const location = state.router.location;
  const view = route(location);
  const inboxUnread = viewEmails(state, { kind: 'folder', folder: FOLDERS[0] }).filter((e) => !e.isRead).length;
  const account = ACCOUNT.email;
  let page;
  if (view.kind === 'email') {
    const e = state.email.emails[view.id];
    document.title = `${e ? e.subject || '(no subject)' : 'Message not found'} - ${account}`;
    page = html`<${MessagePage} key=${view.id} id=${view.id} onCreateLabel=${() => setLabelDialog(true)} />`;
  } else if (view.kind === 'missing') {
    document.title = `GoMail - ${account}`;
    page = html`<section class="list-card" aria-label="Email list"><p class="empty">This page does not exist.
      <button type="button" class="link-like" onClick=${() => navigate('/')}>Go to Inbox</button></p></section>`;
  } else {
    rememberList(`${location.pathname}${location.search}`);
    const name = view.kind === 'folder' ? view.folder.name : view.kind === 'label' ? view.label : 'Search results';
    document.title = view.kind === 'folder' && view.folder.id === 'inbox' && inboxUnread
      ? `Inbox (${inboxUnread}) - ${account}` : `${name} - ${account}`;
    page = html`<${ListPage} key=${`${location.pathname}${location.search}`} view=${view} page=${view.page}
      onOpenDraft=${(e) => setComposer(newDraft('new', null, e))} onCreateLabel=${() => setLabelDialog(true)} />`;
  }
  const path = view.kind === 'email' || view.kind === 'search' ? null : location.pathname;
  return html`<${Banner} />
    <div class="shell">
      <${Header} />
      <div class="body">
        <${Sidebar} path=${path} onCompose=${() => setComposer(composer || newDraft())} onCreateLabel=${() => setLabelDialog(true)} />
        <main class="content" aria-label="Main content">${page}
          <p class="footer-note" aria-hidden="true">0.42 GB of 15 GB used · Terms · Privacy · Program Policies</p></main>
        <aside class="side-tools" aria-hidden="true"><span class="tool-dot cal"></span><span class="tool-dot keep"></span>
          <span class="tool-dot tasks"></span><span class="tool-dot contacts"></span></aside>
      </div>
    </div>
    ${composer && html`<${Composer} value=${composer} setValue=${setComposer} onDone=${() => setComposer(null)} />`}
    ${labelDialog && html`<${LabelDialog} labels=${state.settings.customLabels} onCancel=${() => setLabelDialog(false)}
      onCreate=${(label, parent) => { setLabelDialog(false); dispatch({ type: 'settings/createLabel', payload: { label, parent }, description: 'create label' }); }} />`}
    <${Snackbar} />`;
}

bootSite({
  app: 'gomail',
  title: 'GoMail',
  slices,
  initialState,
  collections: { emails: { get: mailboxEmails, key: 'id', layout: 'list', updated: 'changed' } },
  coalesce: ['ui/setSearchInputValue'],
  App,
});
