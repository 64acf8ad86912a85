/**
 * Zilloft: a local replica of REAL's Zillow clone. Routes: `/` (home, with the location search), `/homes?q=
 * &minPrice=&maxPrice=&minBeds=&minBaths=&homeTypes=&minSqft=&maxSqft=&sort=&page=` (results, results.js),
 * `/homedetails/<slug>/<zpid>_zpid` (a listing, with "Request a tour" and "Contact agent": listing.js,
 * dialogs.js), `/professionals/real-estate-agent-reviews?location=` (agents, agents.js) and
 * `/myzilloft/favorites` (saved homes). Labels follow the real site and the dense-reward milestones: the
 * "<Place> Real Estate & Homes For Sale" heading, "N results", the "Request a tour" and "Contact agent" buttons.
 */
import { html, useState } from '/_kit/vendor/preact-htm.js';
import { bootSite } from '/_kit/boot.js';
import { useSite } from '/_kit/context.js';
import { Link } from '/_kit/router.js';
import { AgentsPage } from './agents.js';
import { Avatar, HeroArt, HomeArt } from './art.js';
import { fullAddress } from './format.js';
import { ListingPage } from './listing.js';
import { ResultsPage } from './results.js';
import { AGENTS, BY_ZPID, Footer, Header, ListingCard, NotFound, SearchIcon } from './parts.js';
import { placeTitle, resultsUrl } from './search.js';
import { initialState, slices } from './state.js';

const MARKETS = ['Los Angeles, CA', 'San Francisco, CA', 'San Diego, CA', 'San Jose, CA', 'Sacramento, CA', 'Long Beach, CA',
  'Fresno, CA', 'Oakland, CA', 'Irvine, CA', 'Boston, MA'];
const HERO_HOMES = ['3863 Utah St', '5012 Monte Vista St', '1147 N Holliston Ave', '2917 Dohr St'];

function Home() {
  const { navigate } = useSite();
  const [q, setQ] = useState('');
  const byStreet = (s) => [...BY_ZPID.values()].find((l) => l.street === s);
  const submit = (e) => {
    e.preventDefault();
    navigate(resultsUrl({ searchQuery: q.trim() }));
  };
  const cardHome = byStreet('2917 Dohr St');
  const cardRoom = byStreet('5608 Moddison Ave');
  return html`<main class="home">
    <section class="hero">
      <${HeroArt} homes=${HERO_HOMES.map(byStreet)} />
      <div class="hero-inner"><h1>Agents. Tours. Loans. Homes.</h1>
        <form class="hero-search" role="search" onSubmit=${submit}>
          <input type="text" aria-label="Enter an address, neighborhood, city, or ZIP code" autocomplete="off"
            placeholder="Enter an address, neighborhood, city, or ZIP code" value=${q} onInput=${(e) => setQ(e.currentTarget.value)} />
          <button type="submit" aria-label="Submit search"><${SearchIcon} /></button>
        </form></div>
    </section>
    <section class="home-cards">
      <article class="home-card"><div class="home-card-art"><${HomeArt} listing=${cardHome} /></div>
        <h2>Buy a home</h2><p>Find your place with an immersive photo experience and the most listings, including things you won’t find anywhere else.</p>
        <${Link} href="/homes" class="btn btn-outline">Browse homes<//></article>
      <article class="home-card"><div class="home-card-art agents-art">${['a12', 'a09', 'a19'].map((id) => html`<${Avatar} agent=${AGENTS.get(id)} size=${72} />`)}</div>
        <h2>Find an agent</h2><p>Work with a local agent who knows the market. Compare ratings and recent sales, then reach out in minutes.</p>
        <${Link} href="/professionals/real-estate-agent-reviews" class="btn btn-outline">Find agents<//></article>
      <article class="home-card"><div class="home-card-art"><${HomeArt} listing=${cardRoom} view="living" /></div>
        <h2>Save your favorites</h2><p>Tap the heart on any home to keep it in one place, and come back when you are ready to tour.</p>
        <${Link} href="/myzilloft/favorites" class="btn btn-outline">See saved homes<//></article>
    </section>
    <section class="markets"><h2>Explore popular markets</h2>
      <ul>${MARKETS.map((m) => html`<li><${Link} href=${resultsUrl({ searchQuery: m })}>${m}<//></li>`)}</ul></section>
  </main>`;
}

function SavedPage() {
  const { state } = useSite();
  const homes = state.savedHomes.homes.map((h) => BY_ZPID.get(h.id)).filter(Boolean);
  return html`<main class="saved-page"><h1>Saved homes</h1>
    ${homes.length ? html`<p class="muted">${homes.length === 1 ? '1 home' : `${homes.length} homes`} saved</p>
      <div class="cards wide">${homes.map((l) => html`<${ListingCard} listing=${l} />`)}</div>`
      : html`<div class="empty"><h2>No saved homes yet</h2><p>Tap the heart on a home you like to save it here.
        <${Link} href="/homes">Browse homes<//></p></div>`}
  </main>`;
}

function route(state) {
  const { pathname } = state.router.location;
  const m = pathname.match(/^\/homedetails\/[^/]+\/(\d+)_zpid$/);
  if (m) {
    const l = BY_ZPID.get(m[1]);
    return { title: l ? `${fullAddress(l)} | MLS #${l.mlsId} | Zilloft` : 'Page not found | Zilloft', own: html`<${ListingPage} zpid=${m[1]} />` };
  }
  switch (pathname) {
    case '/': return { title: 'Zilloft: Real Estate, Apartments, Mortgages & Home Values', page: html`<${Home} />` };
    case '/homes': {
      const place = placeTitle(state.filter.searchQuery);
      return { title: `${place ? `${place} ` : ''}Real Estate & Homes For Sale | Zilloft`, page: html`<${ResultsPage} />`, fullWidth: true };
    }
    case '/professionals/real-estate-agent-reviews': return { title: 'Real Estate Agents | Zilloft', own: html`<${AgentsPage} />` };
    case '/myzilloft/favorites': return { title: 'Saved Homes | Zilloft', page: html`<${SavedPage} />` };
    default: return { title: 'Page not found | Zilloft', page: html`<${NotFound} />` };
  }
}

function App() {
  const { state } = useSite();
  const { title, page, own, fullWidth } = route(state);
  document.title = title;
  if (own) return own; // pages with a dialog render their own header and footer, to make them inert under it
  return html`<${Header} />${page}${!fullWidth && html`<${Footer} />`}`;
}

bootSite({
  app: 'zilloft',
  title: 'Zilloft',
  slices,
  initialState,
  collections: {
    requestTours: { get: (s) => s.tourRequests.requestTourList, key: 'id', layout: 'dict', updated: 'full' },
    contactAgents: { get: (s) => s.tourRequests.contactAgentList, key: 'id', layout: 'dict', updated: 'full' },
    savedHomes: { get: (s) => s.savedHomes.homes, key: 'id', layout: 'dict', updated: 'full' },
  },
  App,
});
