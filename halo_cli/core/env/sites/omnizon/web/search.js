/**
 * Omnizon's product search over the catalogue: the query's words, stemmed, must all occur in a product's
 * title, brand, department or keywords; when no product has them all, the products matching the most words
 * are shown (as a store's search does). Filters (department, price range, rating) and sort orders are the
 * ones the results page offers. Pure functions: same query, same results, same order.
 */

const STOP_WORDS = new Set(['a', 'an', 'and', 'the', 'for', 'with', 'of', 'in', 'to', 'me', 'my', 'i', 'some',
  'any', 'or', 'on', 'by']);

/** Plural to singular, enough for shop queries: pillows, balls, glasses, batteries, frames. */
export function stem(word) {
  if (word.length > 4 && word.endsWith('ies')) return word.slice(0, -3) + 'y';
  if (word.length > 4 && /(sses|shes|ches|xes)$/.test(word)) return word.slice(0, -2);
  if (word.length > 3 && word.endsWith('s') && !word.endsWith('ss')) return word.slice(0, -1);
  return word;
}

export function words(text) {
  return String(text).toLowerCase().replace(/[’']/g, '').split(/[^a-z0-9]+/)
    .filter((w) => w && !STOP_WORDS.has(w)).map(stem);
}

const INDEX = new WeakMap();

function productWords(product, departments) {
  let set = INDEX.get(product);
  if (!set) {
    const dept = departments.find((d) => d.id === product.department);
    set = new Set(words([product.title, product.brand, dept ? dept.name : '', product.keywords.join(' ')].join(' ')));
    INDEX.set(product, set);
  }
  return set;
}

function hits(queryWord, set) {
  if (set.has(queryWord)) return true;
  if (queryWord.length < 4) return false;
  for (const w of set) if (w.startsWith(queryWord)) return true;
  return false;
}

export const SORTS = [
  { id: 'featured', label: 'Featured' },
  { id: 'price-asc', label: 'Price: Low to High' },
  { id: 'price-desc', label: 'Price: High to Low' },
  { id: 'review', label: 'Avg. Customer Review' },
];

export const PRICE_RANGES = [
  { label: 'Under $25', min: null, max: 25 },
  { label: '$25 to $50', min: 25, max: 50 },
  { label: '$50 to $100', min: 50, max: 100 },
  { label: '$100 to $200', min: 100, max: 200 },
  { label: '$200 & Above', min: 200, max: null },
];

/**
 * `query`: `{q, category, minPrice, maxPrice, minRating, sortBy}` (all optional). Returns
 * `{items, exact}`: `exact` is false when no product matched every word and the closest ones are shown.
 */
export function searchProducts(catalog, query) {
  const { products, departments } = catalog;
  const qWords = words(query.q || '');
  let pool = products.filter((p) => !query.category || query.category === 'all' || p.department === query.category);
  pool = pool.filter((p) => (query.minPrice == null || p.price >= query.minPrice)
    && (query.maxPrice == null || p.price < query.maxPrice)
    && (query.minRating == null || p.rating >= query.minRating));
  let exact = true;
  let scored = pool.map((p, order) => {
    const set = productWords(p, departments);
    const titleSet = new Set(words(p.title));
    const matched = qWords.filter((w) => hits(w, set)).length;
    const inTitle = qWords.filter((w) => hits(w, titleSet)).length;
    return { p, order, matched, score: matched * 2 + inTitle };
  });
  if (qWords.length) {
    const all = scored.filter((s) => s.matched === qWords.length);
    if (all.length) scored = all;
    else {
      exact = false;
      const best = Math.max(0, ...scored.map((s) => s.matched));
      scored = best > 0 ? scored.filter((s) => s.matched === best) : [];
    }
  }
  const sortBy = query.sortBy || 'featured';
  const cmp = {
    'featured': (a, b) => b.score - a.score || b.p.reviews - a.p.reviews || a.order - b.order,
    'price-asc': (a, b) => a.p.price - b.p.price || a.order - b.order,
    'price-desc': (a, b) => b.p.price - a.p.price || a.order - b.order,
    'review': (a, b) => b.p.rating - a.p.rating || b.p.reviews - a.p.reviews || a.order - b.order,
  }[sortBy] || ((a, b) => a.order - b.order);
  return { items: scored.sort(cmp).map((s) => s.p), exact };
}
