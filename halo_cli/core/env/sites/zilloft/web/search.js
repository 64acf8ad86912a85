/**
 * Zilloft's home search: a location (city, "City, ST", ZIP, county, region such as "Bay Area" or "Southern
 * California", state name or code, or a street address) and the filters of the results page, all carried in
 * the `/homes?q=&minPrice=&maxPrice=&minBeds=&minBaths=&homeTypes=&minSqft=&maxSqft=&sort=&page=` URL.
 * Pure functions: same URL, same results, same order.
 */

export const HOME_TYPES = [
  { id: 'Houses', label: 'Houses', types: ['House'] },
  { id: 'Townhomes', label: 'Townhomes', types: ['Townhouse'] },
  { id: 'MultiFamily', label: 'Multi-family', types: ['Multi-family'] },
  { id: 'Condos', label: 'Condos/Co-ops', types: ['Condo'] },
  { id: 'Manufactured', label: 'Manufactured', types: ['Manufactured'] },
];

export const SORTS = [
  { id: 'homes-for-you', label: 'Homes for You' },
  { id: 'price-desc', label: 'Price (High to Low)' },
  { id: 'price-asc', label: 'Price (Low to High)' },
  { id: 'newest', label: 'Newest' },
  { id: 'beds', label: 'Bedrooms' },
  { id: 'baths', label: 'Bathrooms' },
  { id: 'sqft', label: 'Square Feet' },
];

export const BED_CHOICES = [null, 1, 2, 3, 4, 5];
export const BATH_CHOICES = [null, 1, 1.5, 2, 3, 4];
export const PAGE_SIZE = 20;

const NUMERIC = ['minPrice', 'maxPrice', 'minBeds', 'minBaths', 'minSqft', 'maxSqft', 'page'];

/** The `filter` slice for a results URL's query string: `searchQuery` always, every other key only when set. */
export function parseFilters(search) {
  const params = new URLSearchParams(search);
  const out = { searchQuery: (params.get('q') || '').trim() };
  for (const key of NUMERIC) {
    const raw = params.get(key);
    const n = raw === null || raw.trim() === '' ? NaN : Number(raw);
    if (Number.isFinite(n) && n > 0 && !(key === 'page' && n === 1)) out[key] = n;
  }
  const types = (params.get('homeTypes') || '').split(',').filter((t) => HOME_TYPES.some((h) => h.id === t));
  if (types.length) out.homeTypes = HOME_TYPES.filter((h) => types.includes(h.id)).map((h) => h.id).join(',');
  const sort = params.get('sort');
  if (sort && sort !== SORTS[0].id && SORTS.some((s) => s.id === sort)) out.sort = sort;
  return out;
}

/** The results URL of a `filter` slice (keys with no value are left out). */
export function resultsUrl(filter) {
  const qs = new URLSearchParams();
  const order = ['searchQuery', 'minPrice', 'maxPrice', 'minBeds', 'minBaths', 'homeTypes', 'minSqft', 'maxSqft', 'sort', 'page'];
  for (const key of order) {
    const v = filter[key];
    if (v === null || v === undefined || v === '') continue;
    qs.set(key === 'searchQuery' ? 'q' : key, String(v));
  }
  const s = qs.toString();
  return s ? `/homes?${s}` : '/homes';
}

/** "$500k", "500,000", "1.1M", "850000" -> a number of dollars; null for nothing or nonsense. */
export function parseMoney(text) {
  const s = String(text || '').trim().toLowerCase().replace(/[$,\s]/g, '');
  const m = s.match(/^(\d+(?:\.\d+)?)(k|m|million)?$/);
  if (!m) return null;
  const n = Number(m[1]) * (m[2] === 'k' ? 1e3 : m[2] ? 1e6 : 1);
  return n > 0 ? Math.round(n) : null;
}

// ---------------------------------------------------------------------------------------------------------
// Location

const FILLER = new Set(['in', 'near', 'the', 'of', 'homes', 'home', 'houses', 'house', 'for', 'sale', 'real',
  'estate', 'area', 'around', 'city', 'usa', 'us', 'me', 'find', 'show', 'buy']);
const ALIASES = { sf: ['san', 'francisco'], la: ['los', 'angeles'], socal: ['southern', 'california'],
  norcal: ['northern', 'california'], sj: ['san', 'jose'], sac: ['sacramento'] };

function words(text) {
  return String(text).toLowerCase().replace(/[’']/g, '').split(/[^a-z0-9]+/).filter(Boolean);
}

/** The words a location query asks for ("Los Angeles area" -> los, angeles); "bay area" keeps its "area". */
export function locationWords(q) {
  const raw = words(q);
  const out = [];
  raw.forEach((w, i) => {
    if (w === 'area' && raw[i - 1] === 'bay') out.push(w);
    else if (ALIASES[w]) out.push(...ALIASES[w]);
    else if (!FILLER.has(w)) out.push(w);
  });
  return out;
}

const PLACE_WORDS = new WeakMap();

/** A listing's place words: `near` (street, neighborhood, city, ZIP, state) and `wide` (plus county and regions). */
function placeWords(l) {
  let sets = PLACE_WORDS.get(l);
  if (!sets) {
    const near = words([l.street, l.neighborhood, l.city, l.zip, l.state, l.stateName].join(' '));
    sets = { near: new Set(near), wide: new Set([...near, ...words([l.county, ...l.regions].join(' '))]) };
    PLACE_WORDS.set(l, sets);
  }
  return sets;
}

/** The listings a location names: those whose own address matches every word ("Boston, MA" is the city of
 *  Boston, not its suburbs); only when none does, those whose county or region does ("Bay Area", "SoCal"). */
export function locate(listings, q) {
  const qWords = locationWords(q);
  const near = listings.filter((l) => qWords.every((w) => placeWords(l).near.has(w)));
  return near.length ? near : listings.filter((l) => qWords.every((w) => placeWords(l).wide.has(w)));
}

// ---------------------------------------------------------------------------------------------------------
// Results

export function matchesFilters(l, f) {
  if (f.minPrice && l.price < f.minPrice) return false;
  if (f.maxPrice && l.price > f.maxPrice) return false;
  if (f.minBeds && l.beds < f.minBeds) return false;
  if (f.minBaths && l.baths < f.minBaths) return false;
  if (f.minSqft && l.sqft < f.minSqft) return false;
  if (f.maxSqft && l.sqft > f.maxSqft) return false;
  if (f.homeTypes) {
    const allowed = HOME_TYPES.filter((h) => f.homeTypes.split(',').includes(h.id)).flatMap((h) => h.types);
    if (!allowed.includes(l.homeType)) return false;
  }
  return true;
}

const CMP = {
  'homes-for-you': (a, b) => a.daysOnZilloft - b.daysOnZilloft || b.saves - a.saves,
  'price-desc': (a, b) => b.price - a.price,
  'price-asc': (a, b) => a.price - b.price,
  'newest': (a, b) => a.daysOnZilloft - b.daysOnZilloft,
  'beds': (a, b) => b.beds - a.beds || b.price - a.price,
  'baths': (a, b) => b.baths - a.baths || b.price - a.price,
  'sqft': (a, b) => b.sqft - a.sqft,
};

/** `{items, total, page, pages, located}`: `located` is false when the location matched no home at all. */
export function searchHomes(listings, f) {
  const here = locate(listings, f.searchQuery || '');
  const all = here.filter((l) => matchesFilters(l, f));
  const cmp = CMP[f.sort || 'homes-for-you'] || CMP['homes-for-you'];
  const sorted = all.map((l, i) => [l, i]).sort(([a, i], [b, j]) => cmp(a, b) || i - j).map(([l]) => l);
  const pages = Math.max(1, Math.ceil(sorted.length / PAGE_SIZE));
  const page = Math.min(Math.max(1, f.page || 1), pages);
  return { items: sorted.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE), all: sorted, total: sorted.length, page,
           pages, located: here.length > 0 };
}

/** "Long Beach CA", the place a results heading names ("Long Beach CA Real Estate & Homes For Sale"). */
export function placeTitle(q) {
  return String(q || '').replace(/,/g, ' ').replace(/\s+/g, ' ').trim();
}

// ---------------------------------------------------------------------------------------------------------
// Filter button labels, as the results page shows the filters in use

const short = (n) => (n >= 1e6 ? `$${+(n / 1e6).toFixed(2)}M` : `$${Math.round(n / 1e3)}K`);

export function priceLabel(f) {
  if (f.minPrice && f.maxPrice) return `${short(f.minPrice)} - ${short(f.maxPrice)}`;
  if (f.maxPrice) return `Under ${short(f.maxPrice)}`;
  if (f.minPrice) return `${short(f.minPrice)}+`;
  return 'Price';
}

export function bedsBathsLabel(f) {
  const parts = [];
  if (f.minBeds) parts.push(`${f.minBeds}+ bd`);
  if (f.minBaths) parts.push(`${f.minBaths}+ ba`);
  return parts.length ? parts.join(', ') : 'Beds & Baths';
}

export function homeTypeLabel(f) {
  if (!f.homeTypes) return 'Home Type';
  const ids = f.homeTypes.split(',');
  return ids.length === 1 ? HOME_TYPES.find((h) => h.id === ids[0]).label : `Home Type (${ids.length})`;
}

export function moreLabel(f) {
  const n = (f.minSqft ? 1 : 0) + (f.maxSqft ? 1 : 0);
  return n ? `More (${n})` : 'More';
}
