/**
 * Omnizon's store slices, shaped as REAL's omnizon graders read them:
 * - `filter.searchQuery` / `filter.searchInputValue`: "" at reset, so a search lands under
 *   `initialfinaldiff.updated`; set from the search box and the /search URL, and left alone by product, cart
 *   and checkout pages, so they are still set at /confirmation.
 * - `order.orders[k] = {items: [{id: "16", price, quantity, title}], total, date, orderNumber, ...}`: ids are
 *   strings, amounts numbers; a placed order lands under `initialfinaldiff.added.order.orders.<k>`.
 * - `cart.items`, `checkout` (address, payment, delivery, a pending Buy Now item).
 * The router slice (pathname "/" at reset) comes from the kit. No catalogue data lives in the state.
 */
import { LOCATION_CHANGE } from '/_kit/router.js';
import { SITE_NOW_ISO } from '/_kit/store.js';

export const MAX_QUANTITY = 30;
export const TAX_RATE = 0.0725;
export const DELIVERY_OPTIONS = [
  { id: 'standard', label: 'FREE Standard Delivery', price: 0, days: 5 },
  { id: 'expedited', label: 'Expedited Delivery', price: 5.99, days: 2 },
  { id: 'one-day', label: 'One-Day Delivery', price: 9.99, days: 1 },
];
export const PAYMENT_METHODS = [
  { id: 'visa-4242', label: 'Visa ending in 4242', detail: 'Alex Johnson, expires 08/2027' },
  { id: 'mastercard-8812', label: 'Mastercard ending in 8812', detail: 'Alex Johnson, expires 11/2026' },
];
export const ADDRESS_FIELDS = [
  { id: 'fullName', label: 'Full name' },
  { id: 'phone', label: 'Phone number' },
  { id: 'street', label: 'Street address' },
  { id: 'city', label: 'City' },
  { id: 'state', label: 'State' },
  { id: 'zip', label: 'ZIP Code' },
];

export function initialState() {
  return {
    filter: { searchQuery: '', searchInputValue: '', category: '', minPrice: null, maxPrice: null,
              minRating: null, sortBy: 'featured' },
    cart: { items: [] },
    checkout: {
      buyNow: null,
      shippingAddress: { fullName: 'Alex Johnson', phone: '(510) 555-0147', street: '2150 Shattuck Ave, Apt 4B',
                         city: 'Berkeley', state: 'CA', zip: '94704' },
      paymentMethod: 'visa-4242',
      deliveryOption: 'standard',
    },
    order: { orders: [] },
  };
}

const num = (v) => (v === null || v === '' || Number.isNaN(Number(v)) ? null : Number(v));

function filter(state, action) {
  if (action.type === 'filter/setSearchInputValue') {
    return state.searchInputValue === action.payload.value ? state
      : { ...state, searchInputValue: action.payload.value };
  }
  if (action.type === LOCATION_CHANGE && action.payload.location.pathname === '/search') {
    const params = new URLSearchParams(action.payload.location.search);
    const q = params.get('q') || '';
    const next = {
      ...state, searchQuery: q, category: params.get('category') || '', minPrice: num(params.get('minPrice')),
      maxPrice: num(params.get('maxPrice')), minRating: num(params.get('minRating')),
      sortBy: params.get('sort') || 'featured',
    };
    if (q) next.searchInputValue = q;
    return Object.keys(next).every((k) => next[k] === state[k]) ? state : next;
  }
  return state;
}

function cart(state, action) {
  const items = state.items;
  switch (action.type) {
    case 'cart/addItem': {
      const { id, title, price, quantity } = action.payload;
      const found = items.find((i) => i.id === id);
      if (found) {
        return { items: items.map((i) => (i.id === id ? { ...i, quantity: Math.min(MAX_QUANTITY, i.quantity + quantity) } : i)) };
      }
      return { items: [...items, { id, title, price, quantity: Math.min(MAX_QUANTITY, quantity) }] };
    }
    case 'cart/setQuantity': {
      const { id, quantity } = action.payload;
      if (quantity <= 0) return { items: items.filter((i) => i.id !== id) };
      return { items: items.map((i) => (i.id === id ? { ...i, quantity: Math.min(MAX_QUANTITY, quantity) } : i)) };
    }
    case 'cart/removeItem':
      return { items: items.filter((i) => i.id !== action.payload.id) };
    case 'order/placeOrder':
      return action.payload.source === 'cart' ? { items: [] } : state;
    default:
      return state;
  }
}

function checkout(state, action) {
  switch (action.type) {
    case 'checkout/buyNow':
      return { ...state, buyNow: action.payload };
    case 'checkout/fromCart':
      return state.buyNow === null ? state : { ...state, buyNow: null };
    case 'checkout/setShippingField':
      return { ...state, shippingAddress: { ...state.shippingAddress, [action.payload.field]: action.payload.value } };
    case 'checkout/setPaymentMethod':
      return { ...state, paymentMethod: action.payload.method };
    case 'checkout/setDeliveryOption':
      return { ...state, deliveryOption: action.payload.option };
    case 'order/placeOrder':
      return { ...state, buyNow: null };
    default:
      return state;
  }
}

function order(state, action) {
  return action.type === 'order/placeOrder' ? { orders: [...state.orders, action.payload.order] } : state;
}

export const slices = { filter, cart, checkout, order };

/** The items checkout would order now: the pending Buy Now item, else the cart. */
export function checkoutItems(state) {
  return state.checkout.buyNow ? [state.checkout.buyNow] : state.cart.items;
}

const round2 = (x) => Math.round(x * 100) / 100;

export function totals(items, deliveryOption) {
  const option = DELIVERY_OPTIONS.find((o) => o.id === deliveryOption) || DELIVERY_OPTIONS[0];
  const subtotal = round2(items.reduce((s, i) => s + i.price * i.quantity, 0));
  const shipping = items.length ? option.price : 0;
  const tax = round2(subtotal * TAX_RATE);
  return { subtotal, shipping, tax, total: round2(subtotal + shipping + tax),
           count: items.reduce((s, i) => s + i.quantity, 0) };
}

/** YYYY-MM-DD of the site's today plus `days` (the site's clock is frozen, see the kit's store). */
export function dayAfter(days) {
  const d = new Date(SITE_NOW_ISO);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

function hash7(text) {
  let h = 2166136261;
  for (const ch of text) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return String(h % 10000000).padStart(7, '0');
}

/** The order `order/placeOrder` records. Order numbers grow with each order of an episode, as strings too
 *  (omnizon-29 ranks orders by date, then by order number). */
export function buildOrder(state) {
  const items = checkoutItems(state).map(({ id, title, price, quantity }) => ({ id, title, price, quantity }));
  const { deliveryOption, shippingAddress, paymentMethod } = state.checkout;
  const { subtotal, shipping, tax, total } = totals(items, deliveryOption);
  const option = DELIVERY_OPTIONS.find((o) => o.id === deliveryOption) || DELIVERY_OPTIONS[0];
  const taskId = (state.config.omnizon && state.config.omnizon.task_id) || 'omnizon';
  const seq = String(1000001 + state.order.orders.length).padStart(7, '0');
  return {
    orderNumber: `112-${hash7(taskId)}-${seq}`,
    date: SITE_NOW_ISO,
    items, subtotal, shipping, tax, total,
    deliveryOption, deliveryDate: dayAfter(option.days),
    shippingAddress: { ...shippingAddress },
    paymentMethod: (PAYMENT_METHODS.find((p) => p.id === paymentMethod) || PAYMENT_METHODS[0]).label,
  };
}
