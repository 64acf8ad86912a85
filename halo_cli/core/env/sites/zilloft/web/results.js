/**
 * The results page, `/homes?q=...`: the search box and filter bar (Price, Beds & Baths, Home Type, More), the
 * map with a price pin per home, the "<Place> Real Estate & Homes For Sale" heading with the "N results" count,
 * the sort menu, the listing cards and the pages. Every filter change is a new URL, which the `filter` slice
 * records (state.js); the page itself only reads the slice.
 */
import { html, useState } from '/_kit/vendor/preact-htm.js';
import { useSite } from '/_kit/context.js';
import { Link } from '/_kit/router.js';
import { ResultsMap } from './art.js';
import { Dropdown, LISTINGS, ListingCard, SearchIcon } from './parts.js';
import {
  BATH_CHOICES, BED_CHOICES, HOME_TYPES, SORTS, bedsBathsLabel, homeTypeLabel, moreLabel, parseMoney, placeTitle, priceLabel,
  resultsUrl, searchHomes,
} from './search.js';
import { fmtNumber } from './format.js';

const COASTAL = new Set(['Long Beach', 'Huntington Beach', 'Los Angeles', 'Torrance', 'San Diego', 'Chula Vista',
  'San Francisco', 'Oakland', 'Berkeley', 'Daly City', 'Boston', 'Quincy', 'Vallejo']);

const moneyText = (n) => (n ? `$${fmtNumber(n)}` : '');
const numText = (n) => (n ? fmtNumber(n) : '');

function RangePanel({ title, names, values, parse, error, onApply }) {
  const [min, setMin] = useState(values[0]);
  const [max, setMax] = useState(values[1]);
  const [problem, setProblem] = useState('');
  const apply = (e) => {
    e.preventDefault();
    const lo = min.trim() ? parse(min) : null;
    const hi = max.trim() ? parse(max) : null;
    if ((min.trim() && lo === null) || (max.trim() && hi === null)) return setProblem(error);
    if (lo !== null && hi !== null && lo > hi) return setProblem('The minimum is more than the maximum.');
    return onApply(lo, hi);
  };
  return html`<form class="popover" role="dialog" aria-label=${title} onSubmit=${apply}>
    <h3>${title}</h3>
    <div class="range-row">
      <label class="range-field"><span>Minimum</span><input type="text" aria-label=${names[0]} placeholder="No Min" value=${min}
        autocomplete="off" onInput=${(e) => setMin(e.currentTarget.value)} /></label>
      <span class="range-dash" aria-hidden="true">–</span>
      <label class="range-field"><span>Maximum</span><input type="text" aria-label=${names[1]} placeholder="No Max" value=${max}
        autocomplete="off" onInput=${(e) => setMax(e.currentTarget.value)} /></label>
    </div>
    ${problem && html`<p class="form-error" role="alert">${problem}</p>`}
    <button type="submit" class="btn btn-primary apply">Apply</button>
  </form>`;
}

function Choices({ label, choices, value, onPick, attr, suffix }) {
  return html`<div class="choices" role="radiogroup" aria-label=${label}>
    ${choices.map((c) => html`<button type="button" role="radio" aria-checked=${(c ?? null) === (value ?? null) ? 'true' : 'false'}
      aria-label=${c ? `${c}+ ${suffix}` : `Any number of ${suffix}`} class=${(c ?? null) === (value ?? null) ? 'on' : ''}
      data-choice=${`${attr}-${c ?? 'any'}`} onClick=${() => onPick(c)}>${c ? `${c}+` : 'Any'}</button>`)}
  </div>`;
}

function BedsBathsPanel({ f, onApply }) {
  const [beds, setBeds] = useState(f.minBeds ?? null);
  const [baths, setBaths] = useState(f.minBaths ?? null);
  return html`<div class="popover" role="dialog" aria-label="Beds & Baths">
    <h3>Bedrooms</h3><${Choices} label="Bedrooms" choices=${BED_CHOICES} value=${beds} onPick=${setBeds} attr="beds" suffix="bedrooms" />
    <h3>Bathrooms</h3><${Choices} label="Bathrooms" choices=${BATH_CHOICES} value=${baths} onPick=${setBaths} attr="baths" suffix="bathrooms" />
    <button type="button" class="btn btn-primary apply" onClick=${() => onApply({ minBeds: beds, minBaths: baths })}>Apply</button>
  </div>`;
}

function HomeTypePanel({ f, onApply }) {
  const [chosen, setChosen] = useState(f.homeTypes ? f.homeTypes.split(',') : HOME_TYPES.map((h) => h.id));
  const [problem, setProblem] = useState('');
  const all = chosen.length === HOME_TYPES.length;
  const toggle = (id) => setChosen(chosen.includes(id) ? chosen.filter((c) => c !== id) : [...chosen, id]);
  const apply = () => {
    if (!chosen.length) return setProblem('Select at least one home type.');
    return onApply({ homeTypes: all ? null : HOME_TYPES.filter((h) => chosen.includes(h.id)).map((h) => h.id).join(',') });
  };
  return html`<div class="popover" role="dialog" aria-label="Home Type">
    <div class="popover-head"><h3>Home Type</h3>
      <button type="button" class="link-button" onClick=${() => setChosen(all ? [] : HOME_TYPES.map((h) => h.id))}>${all ? 'Deselect All' : 'Select All'}</button></div>
    <div class="checks">${HOME_TYPES.map((h) => html`<label class="check"><input type="checkbox" checked=${chosen.includes(h.id)}
      onChange=${() => toggle(h.id)} /><span>${h.label}</span></label>`)}</div>
    ${problem && html`<p class="form-error" role="alert">${problem}</p>`}
    <button type="button" class="btn btn-primary apply" onClick=${apply}>Apply</button>
  </div>`;
}

function FilterBar({ f }) {
  const { navigate } = useSite();
  const [open, setOpen] = useState(null);
  const [query, setQuery] = useState({ for: f.searchQuery, text: f.searchQuery });
  const text = query.for === f.searchQuery ? query.text : f.searchQuery;
  const go = (change) => { setOpen(null); navigate(resultsUrl({ ...f, ...change, page: null })); };
  const button = (id, label, active) => html`<button type="button" id=${id} class=${`filter-btn ${active ? 'active' : ''} ${open === id ? 'open' : ''}`}
    aria-haspopup="dialog" aria-expanded=${open === id ? 'true' : 'false'} onClick=${() => setOpen(open === id ? null : id)}>${label}<span class="caret" aria-hidden="true"></span></button>`;
  const filtered = ['minPrice', 'maxPrice', 'minBeds', 'minBaths', 'homeTypes', 'minSqft', 'maxSqft'].some((k) => f[k]);
  const submit = (e) => { e.preventDefault(); setOpen(null); navigate(resultsUrl({ ...f, searchQuery: text.trim(), page: null })); };
  return html`<div class="filter-bar">
    <form class="sb-search" role="search" onSubmit=${submit}>
      <input type="text" aria-label="Search location" placeholder="Address, neighborhood, city, ZIP" value=${text} autocomplete="off"
        onInput=${(e) => setQuery({ for: f.searchQuery, text: e.currentTarget.value })} />
      <button type="submit" class="sb-go" aria-label="Search"><${SearchIcon} /></button>
    </form>
    <span class="filter-btn static">For Sale</span>
    <div class="filter-slot">${button('price-filter', priceLabel(f), f.minPrice || f.maxPrice)}
      ${open === 'price-filter' && html`<${RangePanel} title="Price" names=${['Minimum price', 'Maximum price']} values=${[moneyText(f.minPrice), moneyText(f.maxPrice)]}
        parse=${parseMoney} error="Enter a price such as 500000, $500k or 1.1M." onApply=${(lo, hi) => go({ minPrice: lo, maxPrice: hi })} />`}</div>
    <div class="filter-slot">${button('beds-filter', bedsBathsLabel(f), f.minBeds || f.minBaths)}
      ${open === 'beds-filter' && html`<${BedsBathsPanel} f=${f} onApply=${go} />`}</div>
    <div class="filter-slot">${button('type-filter', homeTypeLabel(f), f.homeTypes)}
      ${open === 'type-filter' && html`<${HomeTypePanel} f=${f} onApply=${go} />`}</div>
    <div class="filter-slot">${button('more-filter', moreLabel(f), f.minSqft || f.maxSqft)}
      ${open === 'more-filter' && html`<${RangePanel} title="Square Feet" names=${['Minimum square feet', 'Maximum square feet']}
        values=${[numText(f.minSqft), numText(f.maxSqft)]} parse=${(t) => parseMoney(t)} error="Enter a size in square feet, such as 1000."
        onApply=${(lo, hi) => go({ minSqft: lo, maxSqft: hi })} />`}</div>
    ${filtered && html`<button type="button" class="link-button reset" onClick=${() => go({ minPrice: null, maxPrice: null, minBeds: null,
      minBaths: null, homeTypes: null, minSqft: null, maxSqft: null })}>Reset all filters</button>`}
  </div>`;
}

function Pages({ f, page, pages }) {
  if (pages <= 1) return null;
  const to = (p) => resultsUrl({ ...f, page: p === 1 ? null : p });
  return html`<nav class="pages" aria-label="Pagination">
    ${page > 1 && html`<${Link} href=${to(page - 1)} aria-label="Previous page">‹<//>`}
    ${Array.from({ length: pages }, (_, k) => k + 1).map((p) => (p === page
      ? html`<span class="page current" aria-current="page">${p}</span>`
      : html`<${Link} href=${to(p)} class="page" aria-label=${`Page ${p}`}>${p}<//>`))}
    ${page < pages && html`<${Link} href=${to(page + 1)} aria-label="Next page">›<//>`}
  </nav>`;
}

export function ResultsPage() {
  const { state, navigate } = useSite();
  const f = state.filter;
  const r = searchHomes(LISTINGS, f);
  const place = placeTitle(f.searchQuery);
  const coastal = r.all.some((l) => COASTAL.has(l.city));
  const sort = SORTS.find((s) => s.id === (f.sort || SORTS[0].id)) || SORTS[0];
  let body;
  if (!r.located) {
    body = html`<div class="empty"><h2>No matching results</h2><p>We couldn't find “${f.searchQuery}”. Try a city and state
      (“Long Beach, CA”), a ZIP code or a neighborhood.</p></div>`;
  } else if (!r.total) {
    body = html`<div class="empty"><h2>No matching results</h2><p>Try changing your filters or <button type="button" class="link-button"
      onClick=${() => navigate(resultsUrl({ searchQuery: f.searchQuery }))}>reset all filters</button>.</p></div>`;
  } else {
    body = html`<div class="cards">${r.items.map((l) => html`<${ListingCard} listing=${l} />`)}</div><${Pages} f=${f} page=${r.page} pages=${r.pages} />`;
  }
  return html`<${FilterBar} f=${f} key=${`bar-${f.searchQuery}`} />
    <div class="results-layout">
      <div class="map-panel"><${ResultsMap} homes=${r.all} coastal=${coastal} /></div>
      <section class="list-panel" aria-label="Search results">
        <h1 class="results-title">${place ? `${place} Real Estate & Homes For Sale` : 'Real Estate & Homes For Sale'}</h1>
        <div class="list-meta"><span class="result-count">${r.total === 1 ? '1 result' : `${fmtNumber(r.total)} results`}</span>
          <${Dropdown} id="sort-button" label=${`Sort: ${sort.label}`} listLabel="Sort" options=${SORTS} value=${sort.id}
            onChange=${(id) => navigate(resultsUrl({ ...f, sort: id === SORTS[0].id ? null : id, page: null }))} /></div>
        ${body}
      </section>
    </div>`;
}
