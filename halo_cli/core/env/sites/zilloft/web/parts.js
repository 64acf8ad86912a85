/**
 * Pieces every Zilloft page shares: the seeded catalogue (listings and agents, imported, never in the state),
 * the header and footer, the listing card, the Save button and a small dropdown.
 */
import { html, useState } from '/_kit/vendor/preact-htm.js';
import { useSite } from '/_kit/context.js';
import { Link } from '/_kit/router.js';
import catalog from './listings.json' with { type: 'json' };
import { HomeArt, Logo } from './art.js';
import { fmtNumber, fmtPrice, fullAddress, homeUrl, typeForSale } from './format.js';

export const LISTINGS = catalog.listings;
export const BY_ZPID = new Map(LISTINGS.map((l) => [l.zpid, l]));
export const AGENTS = new Map(catalog.agents.map((a) => [a.id, a]));
export const ALL_AGENTS = catalog.agents;
/** The signed-in shopper, whose details the tour and contact forms start with. */
export const USER = { name: 'Alex Johnson', email: 'alex.johnson@example.com', phone: '(510) 555-0147' };

export function Header() {
  return html`<header class="site-header">
    <nav class="nav-left" aria-label="Main">
      <${Link} href="/homes">Buy<//><span class="nav-static">Rent</span><span class="nav-static">Sell</span>
      <span class="nav-static">Home Loans</span><${Link} href="/professionals/real-estate-agent-reviews">Find an Agent<//>
    </nav>
    <${Link} href="/" class="nav-logo" aria-label="Zilloft home"><${Logo} /><//>
    <nav class="nav-right" aria-label="Account">
      <span class="nav-static">Manage Rentals</span><span class="nav-static">Advertise</span><span class="nav-static">Help</span>
      <${Link} href="/myzilloft/favorites">Saved Homes<//><span class="user-badge" role="img" aria-label="Signed in as Alex Johnson">AJ</span>
    </nav>
  </header>`;
}

export function Footer() {
  return html`<footer class="site-footer">
    <ul class="footer-links">${['About', 'Zestimates', 'Research', 'Careers', 'Help', 'Advertise', 'Fair Housing Guide',
      'Terms of use', 'Privacy Portal', 'Cookie Preference', 'Learn', 'AI', 'Mobile Apps'].map((t) => html`<li>${t}</li>`)}</ul>
    <p class="footer-note">Zilloft Group is committed to ensuring digital accessibility for individuals with disabilities.
      A local replica of REAL's Zilloft for offline agent training; every listing and agent on it is made up.</p>
    <p class="footer-legal"><${Logo} /> <span>© 2006-2024 Zilloft</span> <span class="eho" aria-hidden="true">⌂</span> Equal Housing Opportunity</p>
  </footer>`;
}

export function SaveButton({ listing, big = false }) {
  const { state, dispatch } = useSite();
  const saved = state.savedHomes.homes.some((h) => h.id === listing.zpid);
  const label = big ? (saved ? 'Saved' : 'Save') : `${saved ? 'Saved' : 'Save'} ${listing.street}`;
  return html`<button type="button" class=${`save-btn ${big ? 'big' : ''} ${saved ? 'saved' : ''}`} aria-pressed=${saved ? 'true' : 'false'}
    aria-label=${label} onClick=${(e) => { e.preventDefault(); dispatch({ type: 'savedHomes/toggle', payload: { id: listing.zpid } }); }}>
    <svg width="22" height="20" viewBox="0 0 24 22" aria-hidden="true" focusable="false"><path d="M12 20.5l-1.4-1.3C5.4 14.6 2 11.5 2 7.6 2 4.5 4.4 2 7.5 2c1.7 0 3.4.8 4.5 2.1C13.1 2.8 14.8 2 16.5 2 19.6 2 22 4.5 22 7.6c0 3.9-3.4 7-8.6 11.6z"
      fill=${saved ? '#d1001c' : 'rgba(0,0,0,.35)'} stroke="#fff" stroke-width="2" /></svg>${big && html`<span>${saved ? 'Saved' : 'Save'}</span>`}</button>`;
}

export function ListingCard({ listing: l }) {
  const agent = AGENTS.get(l.agentId);
  return html`<article class="card" data-zpid=${l.zpid}>
    <div class="card-photo"><${Link} href=${homeUrl(l)} tabindex="-1" aria-hidden="true"><${HomeArt} listing=${l} /><//>
      <span class="card-badge">${l.daysOnZilloft === 1 ? '1 day' : `${l.daysOnZilloft} days`} on Zilloft</span>
      <${SaveButton} listing=${l} /></div>
    <div class="card-body">
      <div class="card-price">${fmtPrice(l.price)}</div>
      <ul class="card-facts"><li><b>${l.beds}</b> bds</li><li><b>${l.baths}</b> ba</li><li><b>${fmtNumber(l.sqft)}</b> sqft</li>
        <li class="card-type">- ${typeForSale(l)}</li></ul>
      <${Link} href=${homeUrl(l)} class="card-address">${fullAddress(l)}<//>
      <div class="card-broker">Listing by: ${agent ? agent.brokerage : l.brokerage}</div>
    </div>
  </article>`;
}

/** A button that opens a list of choices (a listbox), as Zilloft's sort menu does. */
export function Dropdown({ id, label, listLabel, options, value, onChange }) {
  const [open, setOpen] = useState(false);
  return html`<div class="dropdown">
    <button type="button" id=${id} class="dropdown-button" aria-haspopup="listbox" aria-expanded=${open ? 'true' : 'false'}
      onClick=${() => setOpen(!open)}>${label}<span class="caret" aria-hidden="true"></span></button>
    ${open && html`<ul class="dropdown-list" role="listbox" aria-label=${listLabel}>
      ${options.map((o) => html`<li role="option" aria-selected=${o.id === value ? 'true' : 'false'}
        class=${o.id === value ? 'selected' : ''} onClick=${() => { setOpen(false); onChange(o.id); }}>${o.label}</li>`)}
    </ul>`}
  </div>`;
}

export function NotFound({ what = 'page' }) {
  return html`<main class="not-found"><h1>Sorry, we couldn't find that ${what}.</h1>
    <p><${Link} href="/">Go to the Zilloft home page<//></p></main>`;
}

export function SearchIcon() {
  return html`<svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><circle cx="10" cy="10" r="7" stroke="currentColor" stroke-width="2.6" fill="none" />
    <path d="M15.5 15.5L22 22" stroke="currentColor" stroke-width="2.6" stroke-linecap="round" /></svg>`;
}
