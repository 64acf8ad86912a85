/**
 * A listing's page, `/homedetails/<address-slug>/<zpid>_zpid`: the photo gallery, price, beds/baths/sqft and
 * address, the monthly estimate, highlights, "What's special", facts and features, the listing agent, and the
 * side box with "Request a tour" and "Contact agent" (dialogs.js).
 */
import { html, useState } from '/_kit/vendor/preact-htm.js';
import { useSite } from '/_kit/context.js';
import { Link } from '/_kit/router.js';
import { Avatar, GALLERY, HomeArt } from './art.js';
import { ContactDialog, TourDialog } from './dialogs.js';
import { fmtNumber, fmtPrice, fullAddress, monthlyPayment } from './format.js';
import { AGENTS, BY_ZPID, Footer, Header, NotFound, SaveButton } from './parts.js';
import { resultsUrl } from './search.js';

const ROOM_NAMES = { front: 'Front of the home', living: 'Living room', kitchen: 'Kitchen', bedroom: 'Primary bedroom', yard: 'Backyard' };

function facts(l) {
  const rows = [
    ['Bedrooms & bathrooms', [['Bedrooms', l.beds], ['Bathrooms', l.baths]]],
    ['Interior area', [['Total interior livable area', `${fmtNumber(l.sqft)} sqft`]]],
    ['Property', [['Home type', l.residence], ['Year built', l.yearBuilt],
      ['Lot size', l.lotSqft ? `${fmtNumber(l.lotSqft)} sqft` : 'No lot (shared grounds)'], ['Neighborhood', l.neighborhood],
      ['County', l.county]]],
    ['Financial & listing details', [['Price per square foot', `$${fmtNumber(Math.round(l.price / l.sqft))}/sqft`],
      ['HOA fee', l.hoa ? `$${l.hoa} monthly` : 'None'], ['MLS #', l.mlsId], ['Date on market', `${l.daysOnZilloft} days on Zilloft`]]],
  ];
  return rows;
}

export function ListingPage({ zpid }) {
  const { state } = useSite();
  const [dialog, setDialog] = useState(null);
  const l = BY_ZPID.get(zpid);
  if (!l) return html`<${Header} /><${NotFound} what="home" /><${Footer} />`;
  const agent = AGENTS.get(l.agentId);
  const back = state.filter.searchQuery || Object.keys(state.filter).length > 1 ? resultsUrl(state.filter) : '/homes';
  const chips = [
    l.residence, `Built in ${l.yearBuilt}`, l.lotSqft ? `${fmtNumber(l.lotSqft)} Square Feet Lot` : 'Shared grounds',
    `$${fmtNumber(Math.round(l.price / l.sqft))}/sqft`, l.hoa ? `$${l.hoa}/mo HOA` : 'No HOA',
  ];
  return html`<div inert=${dialog ? true : null} aria-hidden=${dialog ? 'true' : null}><${Header} /><main class="listing-page">
      <div class="listing-topbar"><${Link} href=${back} class="back-link">‹ Back to search<//><${SaveButton} listing=${l} big /></div>
      <div class="gallery">${GALLERY.map((view, k) => html`<div class=${`shot shot-${k}`}><${HomeArt} listing=${l} view=${view}
        label=${`${ROOM_NAMES[view]} of ${l.street}`} /></div>`)}</div>
      <div class="listing-cols">
        <div class="listing-main">
          <div class="price-row"><span class="listing-price">${fmtPrice(l.price)}</span>
            <ul class="bbs"><li><b>${l.beds}</b> beds</li><li><b>${l.baths}</b> baths</li><li><b>${fmtNumber(l.sqft)}</b> sqft</li></ul></div>
          <h1 class="listing-address">${fullAddress(l)}</h1>
          <p class="est">Est.: ${fmtPrice(monthlyPayment(l))}/mo</p>
          <p class="status"><span class="dot" aria-hidden="true"></span>For sale</p>
          <ul class="chips">${chips.map((c) => html`<li>${c}</li>`)}</ul>
          <h2>What's special</h2>
          <p class="description">${l.description}</p>
          <p class="muted stats">${l.daysOnZilloft} days on Zilloft | ${fmtNumber(l.views)} views | ${l.saves} saves</p>
          <h2>Facts & features</h2>
          <div class="facts">${facts(l).map(([head, items]) => html`<section><h3>${head}</h3><ul>
            ${items.map(([k, v]) => html`<li>${k}: <b>${v}</b></li>`)}</ul></section>`)}</div>
          <h2>Listed by</h2>
          <div class="listed-by"><${Avatar} agent=${agent} size=${48} /><div><b>${agent.name}</b> ${agent.phone}<br />
            <span class="muted">${agent.brokerage}</span></div></div>
        </div>
        <aside class="listing-side"><div class="tour-box">
          <button type="button" class="btn btn-primary wide" onClick=${() => setDialog('tour')}>Request a tour</button>
          <p class="muted small">as early as today at 9:00 AM</p>
          <button type="button" class="btn btn-secondary wide" onClick=${() => setDialog('contact')}>Contact agent</button>
        </div></aside>
      </div>
    </main><${Footer} /></div>
    ${dialog === 'tour' && html`<${TourDialog} listing=${l} agent=${agent} onClose=${() => setDialog(null)} />`}
    ${dialog === 'contact' && html`<${ContactDialog} listing=${l} agent=${agent} message=${`I am interested in ${fullAddress(l)}.`}
      onClose=${() => setDialog(null)} />`}`;
}
