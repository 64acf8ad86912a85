/**
 * The agent directory, `/professionals/real-estate-agent-reviews?location=San+Jose%2C+CA`: local agents with
 * their ratings and recent sales, each with a "Contact" button that opens the contact dialog (no tour: no home).
 */
import { html, useState } from '/_kit/vendor/preact-htm.js';
import { useSite } from '/_kit/context.js';
import { Avatar } from './art.js';
import { ContactDialog } from './dialogs.js';
import { ALL_AGENTS, Footer, Header, SearchIcon } from './parts.js';
import { locationWords } from './search.js';

const STATES = { CA: 'california', MA: 'massachusetts' };

function agentsIn(location) {
  const want = locationWords(location);
  return ALL_AGENTS.filter((a) => {
    const have = new Set(`${a.city} ${a.state} ${STATES[a.state]}`.toLowerCase().split(/[^a-z0-9]+/));
    return want.every((w) => have.has(w));
  }).sort((a, b) => b.sales - a.sales || a.name.localeCompare(b.name));
}

export function AgentsPage() {
  const { state, navigate } = useSite();
  const location = new URLSearchParams(state.router.location.search).get('location') || '';
  const [text, setText] = useState({ for: location, value: location });
  const [contact, setContact] = useState(null);
  const value = text.for === location ? text.value : location;
  const agents = agentsIn(location);
  const submit = (e) => {
    e.preventDefault();
    const q = value.trim();
    navigate(q ? `/professionals/real-estate-agent-reviews?${new URLSearchParams({ location: q })}` : '/professionals/real-estate-agent-reviews');
  };
  const place = location.trim() || 'your area';
  return html`<div inert=${contact ? true : null} aria-hidden=${contact ? 'true' : null}><${Header} />
    <main class="agents-page">
      <h1>Real estate agents in ${place}</h1>
      <p class="muted">Find a local agent who knows the market. Compare ratings and recent sales, then reach out.</p>
      <form class="agent-search" role="search" onSubmit=${submit}>
        <input type="text" aria-label="Agent location" placeholder="City, neighborhood, or ZIP" value=${value} autocomplete="off"
          onInput=${(e) => setText({ for: location, value: e.currentTarget.value })} />
        <button type="submit" class="btn btn-primary"><${SearchIcon} /> Find agents</button>
      </form>
      <p class="agent-count">${agents.length === 1 ? '1 agent' : `${agents.length} agents`} found</p>
      <ul class="agent-list">${agents.map((a) => html`<li class="agent-card">
        <${Avatar} agent=${a} size=${64} />
        <div class="agent-info"><h2>${a.name}</h2><p class="muted">${a.brokerage}</p>
          <p><span class="stars" aria-hidden="true">★</span> <b>${a.rating.toFixed(1)}</b> (${a.reviews} reviews) · ${a.sales} sales last 12 months</p>
          <p class="muted">${a.city}, ${a.state} · Licensed since ${a.licensedSince} · ${a.phone}</p></div>
        <button type="button" class="btn btn-secondary" aria-label=${`Contact ${a.name}`} onClick=${() => setContact(a)}>Contact</button>
      </li>`)}</ul>
      ${!agents.length && html`<div class="empty"><h2>No agents found</h2><p>Try a city and state, such as “San Jose, CA”.</p></div>`}
    </main><${Footer} /></div>
    ${contact && html`<${ContactDialog} listing=${null} agent=${contact} onClose=${() => setContact(null)}
      message=${`Hi ${contact.name.split(' ')[0]}, I'm looking for an agent to help me buy a home in ${contact.city}, ${contact.state}.`} />`}`;
}
