/**
 * Omnizon: a local replica of REAL's Amazon clone. Routes: `/` (home), `/search?q=&category=&minPrice=&maxPrice=
 * &minRating=&sort=` (search and department browse), `/product/<id>` (quantity, Add to Cart, Buy Now),
 * `/cart`, `/checkout` ("Place your order"), `/confirmation`, `/orders`. Labels follow the real site and the
 * dense-reward milestones: "Add to Cart", "Buy Now", "Added to cart", a "Cart N" link, the "Shopping Cart"
 * heading, "Place your order".
 */
import { html, useState } from '/_kit/vendor/preact-htm.js';
import { bootSite } from '/_kit/boot.js';
import { useSite } from '/_kit/context.js';
import { Link } from '/_kit/router.js';
import { SITE_TIME_ZONE } from '/_kit/store.js';
import catalog from './catalog.json' with { type: 'json' };
import { ProductArt } from './art.js';
import { PRICE_RANGES, SORTS, searchProducts } from './search.js';
import {
  ADDRESS_FIELDS, DELIVERY_OPTIONS, PAYMENT_METHODS, buildOrder, checkoutItems, dayAfter, initialState, slices, totals,
} from './state.js';

const PRODUCTS = new Map(catalog.products.map((p) => [p.id, p]));
const DEPARTMENTS = catalog.departments;
const deptName = (id) => (DEPARTMENTS.find((d) => d.id === id) || { name: 'All Departments' }).name;
const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
const fmt = (x) => money.format(x);
const count = new Intl.NumberFormat('en-US');

function formatDay(ymd, style = 'long') {
  const opts = style === 'long' ? { weekday: 'long', month: 'long', day: 'numeric' }
    : { weekday: 'short', month: 'short', day: 'numeric' };
  return new Date(`${ymd}T19:00:00Z`).toLocaleDateString('en-US', { ...opts, timeZone: SITE_TIME_ZONE });
}
const STANDARD_DAY = dayAfter(DELIVERY_OPTIONS[0].days);
const FASTEST_DAY = dayAfter(DELIVERY_OPTIONS[2].days);

function searchUrl(params) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') qs.set(k, v);
  const s = qs.toString();
  return s ? `/search?${s}` : '/search';
}

// ---------------------------------------------------------------------------------------------------------
// Small parts

function Price({ value, size = '' }) {
  const [whole, frac] = value.toFixed(2).split('.');
  return html`<span class=${`price ${size}`}><span class="sr-only">${fmt(value)}</span><span class="price-visual" aria-hidden="true"><span class="price-sym">$</span><span class="price-whole">${count.format(Number(whole))}</span><span class="price-frac">${frac}</span></span></span>`;
}

function Stars({ rating, reviews }) {
  return html`<div class="rating">
    <span class="sr-only">${`${rating} out of 5 stars`}</span>
    <span class="stars" aria-hidden="true"><span class="stars-fill" style=${`width:${(rating / 5) * 100}%`}></span></span>
    <span class="rating-count">${count.format(reviews)}</span></div>`;
}

function Dropdown({ label, listLabel, options, value, onChange, id }) {
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

// ---------------------------------------------------------------------------------------------------------
// Header, navigation, footer

function Header() {
  const { state, dispatch, navigate } = useSite();
  const cartCount = state.cart.items.reduce((s, i) => s + i.quantity, 0);
  const onSubmit = (e) => {
    e.preventDefault();
    const q = state.filter.searchInputValue.trim();
    if (q) navigate(searchUrl({ q }));
  };
  return html`<header class="nav-top">
    <${Link} href="/" class="nav-logo" aria-label="Omnizon home"><span class="logo-word">omnizon</span><span class="logo-smile" aria-hidden="true"></span><//>
    <div class="nav-deliver"><span class="pin" aria-hidden="true"></span><span class="nav-line1">Deliver to Alex</span><span class="nav-line2">Berkeley 94704</span></div>
    <form class="nav-search" role="search" onSubmit=${onSubmit}>
      <span class="nav-search-dept" aria-hidden="true">All</span>
      <input type="text" class="nav-search-input" aria-label="Search Omnizon" placeholder="Search Omnizon" autocomplete="off"
        value=${state.filter.searchInputValue}
        onInput=${(e) => dispatch({ type: 'filter/setSearchInputValue', payload: { value: e.currentTarget.value } })} />
      <button type="submit" class="nav-search-go" aria-label="Go"><span class="magnifier" aria-hidden="true"></span></button>
    </form>
    <div class="nav-account"><span class="nav-line1">Hello, Alex</span><span class="nav-line2">Account & Lists</span></div>
    <${Link} href="/orders" class="nav-orders"><span class="nav-line1">Returns</span><span class="nav-line2">& Orders</span><//>
    <${Link} href="/cart" class="nav-cart"><svg class="cart-icon" viewBox="0 0 40 30" width="40" height="30" aria-hidden="true" focusable="false">
      <path d="M2 4h6l5 17h20l4-12H11" fill="none" stroke="#fff" stroke-width="2.6" stroke-linejoin="round" stroke-linecap="round" />
      <circle cx="15" cy="26" r="2.4" fill="#fff" /><circle cx="30" cy="26" r="2.4" fill="#fff" /></svg><span class="nav-cart-label">Cart</span>${' '}<span class="nav-cart-count">${cartCount}</span><//>
  </header>
  <nav class="nav-sub" aria-label="Departments">
    <${Link} href="/search" class="nav-sub-all"><span class="burger" aria-hidden="true"></span>All<//>
    ${DEPARTMENTS.map((d) => html`<${Link} href=${searchUrl({ category: d.id })}>${d.name}<//>`)}
  </nav>`;
}

function Footer() {
  const cols = [
    ['Get to Know Us', ['Careers', 'Blog', 'About Omnizon', 'Investor Relations']],
    ['Make Money with Us', ['Sell products on Omnizon', 'Become an Affiliate', 'Advertise Your Products']],
    ['Omnizon Payment Products', ['Omnizon Visa', 'Omnizon Store Card', 'Shop with Points', 'Reload Your Balance']],
    ['Let Us Help You', ['Your Account', 'Your Orders', 'Shipping Rates & Policies', 'Returns & Replacements', 'Help']],
  ];
  return html`<footer class="footer">
    <button type="button" class="back-to-top" onClick=${() => window.scrollTo(0, 0)}>Back to top</button>
    <div class="footer-cols">${cols.map(([h, items]) => html`<div><h3>${h}</h3><ul>${items.map((t) => html`<li>${t}</li>`)}</ul></div>`)}</div>
    <div class="footer-bottom"><span class="logo-word small">omnizon</span><span>© 2024 Omnizon. A local replica of REAL's Omnizon for offline agent training.</span></div>
  </footer>`;
}

// ---------------------------------------------------------------------------------------------------------
// Home

const HOME_CARDS = [
  { title: 'Gaming essentials', more: searchUrl({ category: 'gaming' }), tiles: [
    ['Controllers', '16', searchUrl({ q: 'controller' })], ['Consoles', '18', searchUrl({ q: 'console' })],
    ['Gaming mice', '192', searchUrl({ q: 'gaming mouse' })], ['Gaming laptops', '201', searchUrl({ q: 'gaming laptop' })]] },
  { title: 'Upgrade your kitchen', more: searchUrl({ category: 'kitchen' }), tiles: [
    ['Cooking pots', '212', searchUrl({ q: 'cooking pot' })], ['Pans', '211', searchUrl({ q: 'frying pan' })],
    ['Coffee makers', '176', searchUrl({ q: 'coffee maker' })], ['Flatware', '220', searchUrl({ q: 'flatware' })]] },
  { title: 'Work from home', more: searchUrl({ category: 'office' }), tiles: [
    ['Desks', '159', searchUrl({ q: 'desk' })], ['Office chairs', '122', searchUrl({ q: 'office chair' })],
    ['Monitors', '125', searchUrl({ q: 'monitor' })], ['Desk lamps', '74', searchUrl({ q: 'desk lamp' })]] },
  { title: 'Get game-day ready', more: searchUrl({ category: 'sports' }), tiles: [
    ['Balls', '110', searchUrl({ q: 'ball' })], ['Weights', '100', searchUrl({ q: 'dumbbell' })],
    ['Water bottles', '102', searchUrl({ q: 'water bottle' })], ['Camping', '104', searchUrl({ q: 'tent' })]] },
];

function discount(p) {
  return p.listPrice ? Math.round((1 - p.price / p.listPrice) * 100) : 0;
}

function ProductRow({ title, products }) {
  return html`<section class="home-row"><h2>${title}</h2><div class="row-items">
    ${products.map((p) => html`<${Link} href=${`/product/${p.id}`} class="row-item" aria-label=${p.title}>
      <div class="tile-art"><${ProductArt} product=${p} size=${150} /></div>
      ${discount(p) > 0 && html`<div class="deal-line"><span class="deal-badge">-${discount(p)}%</span><span class="deal-text">Limited time deal</span></div>`}
      <${Price} value=${p.price} />
      <div class="row-title">${p.title}</div><//>`)}
  </div></section>`;
}

function Home() {
  const deals = catalog.products.filter((p) => p.listPrice).sort((a, b) => discount(b) - discount(a) || a.price - b.price).slice(0, 7);
  const kitchen = ['212', '215', '220', '91', '176', '54', '50'].map((id) => PRODUCTS.get(id));
  return html`<main class="home">
    <section class="hero" aria-label="Summer Kitchen Event">
      <div class="hero-text"><p class="hero-kicker">Summer Kitchen Event</p><h1>Up to 30% off cookware and small appliances</h1>
        <${Link} href=${searchUrl({ category: 'kitchen' })} class="hero-cta">Shop Home & Kitchen<//></div>
      <div class="hero-art">${['215', '211', '176'].map((id) => html`<${ProductArt} product=${PRODUCTS.get(id)} size=${170} />`)}</div>
    </section>
    <div class="home-cards">${HOME_CARDS.map((card) => html`<section class="home-card"><h2>${card.title}</h2>
      <div class="quad">${card.tiles.map(([label, id, href]) => html`<${Link} href=${href} class="quad-tile">
        <div class="tile-art"><${ProductArt} product=${PRODUCTS.get(id)} size=${112} /></div><span>${label}</span><//>`)}</div>
      <${Link} href=${card.more} class="see-more">See more<//></section>`)}</div>
    <${ProductRow} title="Today's Deals" products=${deals} />
    <${ProductRow} title="Best Sellers in Home & Kitchen" products=${kitchen} />
  </main>`;
}

// ---------------------------------------------------------------------------------------------------------
// Search and department browse

function ResultCard({ p }) {
  return html`<div class="result" data-product-id=${p.id}>
    <${Link} href=${`/product/${p.id}`} class="result-art" tabindex="-1" aria-hidden="true"><${ProductArt} product=${p} size=${180} /><//>
    <h2 class="result-title"><${Link} href=${`/product/${p.id}`}>${p.title}<//></h2>
    <${Stars} rating=${p.rating} reviews=${p.reviews} />
    <div class="result-price"><${Price} value=${p.price} />${p.listPrice && html` <span class="list-price">List: <s>${fmt(p.listPrice)}</s></span>`}</div>
    <div class="delivery-line">FREE delivery <b>${formatDay(STANDARD_DAY, 'short')}</b></div>
  </div>`;
}

function SearchPage() {
  const { state, navigate } = useSite();
  const f = state.filter;
  const query = { q: f.searchQuery, category: f.category, minPrice: f.minPrice, maxPrice: f.maxPrice,
                  minRating: f.minRating, sort: f.sortBy === 'featured' ? '' : f.sortBy };
  const { items, exact } = searchProducts(catalog, { ...query, sortBy: f.sortBy });
  const go = (change) => navigate(searchUrl({ ...query, ...change }));
  const filtered = f.minPrice !== null || f.maxPrice !== null || f.minRating !== null;
  const sortLabel = (SORTS.find((s) => s.id === f.sortBy) || SORTS[0]).label;
  let summary;
  if (f.searchQuery && !items.length) summary = html`No results for <span class="query">“${f.searchQuery}”</span>`;
  else if (f.searchQuery) {
    summary = html`${items.length ? `1-${items.length} of ${items.length}` : '0'} results for <span class="query">“${f.searchQuery}”</span>`;
  } else summary = html`${items.length} results in <span class="query">${deptName(f.category)}</span>`;
  return html`<div class="results-bar"><div class="results-summary">${summary}</div>
      <${Dropdown} id="sort-button" label=${`Sort by: ${sortLabel}`} listLabel="Sort by" options=${SORTS} value=${f.sortBy}
        onChange=${(id) => go({ sort: id === 'featured' ? '' : id })} /></div>
    <div class="search-layout">
      <aside class="filters" aria-label="Filters">
        <h3>Department</h3><ul>
          ${DEPARTMENTS.map((d) => html`<li class=${f.category === d.id ? 'active' : ''}><${Link} href=${searchUrl({ ...query, category: d.id })}>${d.name}<//></li>`)}
        </ul>
        <h3>Customer Reviews</h3><ul><li class=${f.minRating === 4 ? 'active' : ''}>
          <${Link} href=${searchUrl({ ...query, minRating: 4 })}><span class="stars small" aria-hidden="true"><span class="stars-fill" style="width:80%"></span></span> 4 Stars & Up<//></li></ul>
        <h3>Price</h3><ul>
          ${PRICE_RANGES.map((r) => html`<li class=${f.minPrice === r.min && f.maxPrice === r.max ? 'active' : ''}>
            <${Link} href=${searchUrl({ ...query, minPrice: r.min, maxPrice: r.max })}>${r.label}<//></li>`)}
        </ul>
        ${filtered && html`<p><${Link} href=${searchUrl({ ...query, minPrice: null, maxPrice: null, minRating: null })} class="clear">Clear filters<//></p>`}
      </aside>
      <main class="results">
        ${!exact && items.length > 0 && html`<p class="no-exact">No results match every word of “${f.searchQuery}”. Showing related items.</p>`}
        ${items.length ? html`<h2 class="results-heading">Results</h2><div class="result-grid">${items.map((p) => html`<${ResultCard} p=${p} />`)}</div>`
          : html`<div class="empty"><h2>No results</h2><p>Try checking your spelling or use more general terms.</p></div>`}
      </main>
    </div>`;
}

// ---------------------------------------------------------------------------------------------------------
// Product

function ProductPage({ id }) {
  const { state, dispatch, navigate } = useSite();
  const p = PRODUCTS.get(id);
  const [qty, setQty] = useState({ id, value: 1 });
  const [added, setAdded] = useState(null);
  if (!p) return html`<${NotFound} what="product" />`;
  const quantity = qty.id === id ? qty.value : 1;
  const justAdded = added && added.id === id ? added : null;
  const item = { id: p.id, title: p.title, price: p.price, quantity };
  const t = totals(state.cart.items, 'standard');
  return html`<div class="product-page">
    ${justAdded && html`<div class="added-banner" role="status">
      <div class="added-left"><span class="check" aria-hidden="true"></span><h2 class="added-title">Added to cart</h2>
        <span class="added-detail">${justAdded.quantity} × ${p.title}</span></div>
      <div class="added-right"><span class="added-subtotal">Cart subtotal (${t.count} ${t.count === 1 ? 'item' : 'items'}): <b>${fmt(t.subtotal)}</b></span>
        <button type="button" class="btn btn-secondary" onClick=${() => navigate('/cart')}>Go to Cart</button>
        <button type="button" class="btn btn-cart" onClick=${() => { dispatch({ type: 'checkout/fromCart' }); navigate('/checkout'); }}>Proceed to checkout</button></div>
    </div>`}
    <nav class="breadcrumb" aria-label="Breadcrumb"><${Link} href=${searchUrl({ category: p.department })}>${deptName(p.department)}<//><span aria-hidden="true"> › </span><span>${p.brand}</span></nav>
    <div class="product">
      <div class="gallery"><div class="main-art"><${ProductArt} product=${p} size=${380} /></div></div>
      <div class="product-center">
        <h1 class="product-title">${p.title}</h1>
        <${Link} href=${searchUrl({ q: p.brand })} class="brand-link">Visit the ${p.brand} Store<//>
        <div class="product-rating"><span class="rating-num">${p.rating.toFixed(1)}</span><${Stars} rating=${p.rating} reviews=${p.reviews} /><span class="ratings-word">ratings</span></div>
        <hr />
        <div class="price-block">${discount(p) > 0 && html`<span class="discount">-${discount(p)}%</span>`}<${Price} value=${p.price} size="big" /></div>
        ${p.listPrice && html`<div class="list-price">List Price: <s>${fmt(p.listPrice)}</s></div>`}
        <div class="returns">FREE Returns</div>
        <hr />
        <h2 class="about-heading">About this item</h2>
        <ul class="about">${p.about.map((b) => html`<li>${b}</li>`)}</ul>
      </div>
      <div class="buybox">
        <${Price} value=${p.price} size="big" />
        <p class="bb-delivery">FREE delivery <b>${formatDay(STANDARD_DAY)}</b></p>
        <p class="bb-fast">Or fastest delivery <b>${formatDay(FASTEST_DAY)}</b></p>
        <p class="bb-loc"><span class="pin dark" aria-hidden="true"></span>Deliver to Alex - Berkeley 94704</p>
        <p class="in-stock">In Stock</p>
        <${Dropdown} id="quantity-button" label=${`Quantity: ${quantity}`} listLabel="Quantity"
          options=${Array.from({ length: 10 }, (_, k) => ({ id: k + 1, label: String(k + 1) }))} value=${quantity}
          onChange=${(n) => setQty({ id, value: n })} />
        <button type="button" class="btn btn-cart wide" onClick=${() => { dispatch({ type: 'cart/addItem', payload: item }); setAdded({ id, quantity }); }}>Add to Cart</button>
        <button type="button" class="btn btn-buy wide" onClick=${() => { dispatch({ type: 'checkout/buyNow', payload: item }); navigate('/checkout'); }}>Buy Now</button>
        <table class="bb-facts"><tbody>
          <tr><td>Ships from</td><td>Omnizon</td></tr><tr><td>Sold by</td><td>Omnizon</td></tr>
          <tr><td>Returns</td><td>30-day refund or replacement</td></tr><tr><td>Payment</td><td>Secure transaction</td></tr>
        </tbody></table>
      </div>
    </div>
  </div>`;
}

// ---------------------------------------------------------------------------------------------------------
// Cart

function CartPage() {
  const { state, dispatch, navigate } = useSite();
  const items = state.cart.items;
  const t = totals(items, 'standard');
  const subtotal = html`Subtotal (${t.count} ${t.count === 1 ? 'item' : 'items'}): <b>${fmt(t.subtotal)}</b>`;
  if (!items.length) {
    return html`<div class="cart-layout"><section class="cart-main"><h1>Your Omnizon Cart is empty</h1>
      <p><${Link} href="/">Shop today's deals<//></p></section></div>`;
  }
  return html`<div class="cart-layout">
    <section class="cart-main"><h1>Shopping Cart</h1><div class="price-col">Price</div>
      <ul class="cart-items" aria-label="Cart items">
        ${items.map((i) => {
          const p = PRODUCTS.get(i.id);
          return html`<li class="cart-item" data-product-id=${i.id}>
            <${Link} href=${`/product/${i.id}`} class="cart-art" tabindex="-1" aria-hidden="true">${p && html`<${ProductArt} product=${p} size=${150} />`}<//>
            <div class="cart-info"><h2 class="cart-title"><${Link} href=${`/product/${i.id}`}>${i.title}<//></h2>
              <p class="in-stock">In Stock</p><p class="delivery-line">FREE delivery <b>${formatDay(STANDARD_DAY, 'short')}</b></p>
              <div class="cart-actions">
                <div class="stepper" role="group" aria-label=${`Quantity of ${i.title}`}>
                  <button type="button" aria-label="Decrease quantity by one" onClick=${() => dispatch({ type: 'cart/setQuantity', payload: { id: i.id, quantity: i.quantity - 1 } })}>−</button>
                  <span class="stepper-value">${i.quantity}</span>
                  <button type="button" aria-label="Increase quantity by one" onClick=${() => dispatch({ type: 'cart/setQuantity', payload: { id: i.id, quantity: i.quantity + 1 } })}>+</button>
                </div>
                <button type="button" class="link-button" onClick=${() => dispatch({ type: 'cart/removeItem', payload: { id: i.id } })}>Delete</button>
              </div></div>
            <div class="cart-price"><${Price} value=${i.price} /></div>
          </li>`;
        })}
      </ul>
      <p class="cart-subtotal">${subtotal}</p>
    </section>
    <aside class="cart-side"><p class="cart-subtotal">${subtotal}</p>
      <button type="button" class="btn btn-cart wide" onClick=${() => { dispatch({ type: 'checkout/fromCart' }); navigate('/checkout'); }}>Proceed to checkout</button>
    </aside>
  </div>`;
}

// ---------------------------------------------------------------------------------------------------------
// Checkout, confirmation, orders

function CheckoutPage() {
  const { state, dispatch, navigate } = useSite();
  const [errors, setErrors] = useState([]);
  const items = checkoutItems(state);
  const co = state.checkout;
  const t = totals(items, co.deliveryOption);
  if (!items.length) {
    return html`<main class="checkout-empty"><h1>Your cart is empty</h1><p><${Link} href="/">Continue shopping<//></p></main>`;
  }
  const place = () => {
    const a = co.shippingAddress;
    const problems = ADDRESS_FIELDS.filter((f) => !String(a[f.id]).trim()).map((f) => `Enter a ${f.label.toLowerCase()}.`);
    if (String(a.zip).trim() && !/^\d{5}$/.test(String(a.zip).trim())) problems.push('Enter a 5-digit ZIP Code.');
    setErrors(problems);
    if (problems.length) return;
    dispatch({ type: 'order/placeOrder', payload: { order: buildOrder(state), source: co.buyNow ? 'buyNow' : 'cart' } });
    navigate('/confirmation');
  };
  return html`<main class="checkout">
    <div class="checkout-layout"><div class="checkout-main">
      ${errors.length > 0 && html`<div class="co-error" role="alert"><b>There was a problem</b><ul>${errors.map((e) => html`<li>${e}</li>`)}</ul></div>`}
      <section class="co-step"><h2><span class="step-num">1</span>Shipping address</h2>
        <div class="address-form" role="group" aria-label="Shipping address">
          ${ADDRESS_FIELDS.map((f) => html`<label class=${`field field-${f.id}`}><span>${f.label}</span>
            <input type="text" name=${f.id} value=${co.shippingAddress[f.id]} autocomplete="off"
              onInput=${(e) => dispatch({ type: 'checkout/setShippingField', payload: { field: f.id, value: e.currentTarget.value } })} /></label>`)}
        </div></section>
      <section class="co-step"><h2><span class="step-num">2</span>Payment method</h2>
        <div class="choice-list" role="radiogroup" aria-label="Payment method">
          ${PAYMENT_METHODS.map((m) => html`<label class=${`choice ${co.paymentMethod === m.id ? 'checked' : ''}`}>
            <input type="radio" name="payment" checked=${co.paymentMethod === m.id}
              onChange=${() => dispatch({ type: 'checkout/setPaymentMethod', payload: { method: m.id } })} />
            <span class=${`card-chip ${m.id.startsWith('visa') ? 'visa' : 'mc'}`} aria-hidden="true">${m.id.startsWith('visa') ? 'VISA' : 'MC'}</span>
            <span><b>${m.label}</b><br /><span class="muted">${m.detail}</span></span></label>`)}
        </div></section>
      <section class="co-step"><h2><span class="step-num">3</span>Review items and delivery</h2>
        <div class="review-box">
          <div class="review-items">${items.map((i) => {
            const p = PRODUCTS.get(i.id);
            return html`<div class="review-item">${p && html`<${ProductArt} product=${p} size=${88} />`}
              <div><div class="review-title">${i.title}</div><div class="review-price">${fmt(i.price)}</div><div class="muted">Quantity: ${i.quantity}</div></div></div>`;
          })}</div>
          <div class="choice-list delivery" role="radiogroup" aria-label="Delivery option"><b>Choose your delivery option:</b>
            ${DELIVERY_OPTIONS.map((o) => html`<label class=${`choice ${co.deliveryOption === o.id ? 'checked' : ''}`}>
              <input type="radio" name="delivery" checked=${co.deliveryOption === o.id}
                onChange=${() => dispatch({ type: 'checkout/setDeliveryOption', payload: { option: o.id } })} />
              <span><b class="green">${formatDay(dayAfter(o.days))}</b><br /><span class="muted">${o.price ? `${fmt(o.price)} - ${o.label}` : o.label}</span></span></label>`)}
          </div>
        </div></section>
    </div>
    <aside class="order-summary">
      <button type="button" class="btn btn-cart wide" onClick=${place}>Place your order</button>
      <p class="fine">By placing your order, you agree to Omnizon's privacy notice and conditions of use.</p>
      <h3>Order Summary</h3>
      <table><tbody>
        <tr><td>Items (${t.count}):</td><td>${fmt(t.subtotal)}</td></tr>
        <tr><td>Shipping & handling:</td><td>${fmt(t.shipping)}</td></tr>
        <tr><td>Total before tax:</td><td>${fmt(t.subtotal + t.shipping)}</td></tr>
        <tr><td>Estimated tax to be collected:</td><td>${fmt(t.tax)}</td></tr>
        <tr class="grand"><td>Order total:</td><td>${fmt(t.total)}</td></tr>
      </tbody></table>
    </aside></div>
  </main>`;
}

function ConfirmationPage() {
  const { state } = useSite();
  const order = state.order.orders[state.order.orders.length - 1];
  if (!order) return html`<main class="confirm"><h1>No recent order</h1><p><${Link} href="/">Continue shopping<//></p></main>`;
  const a = order.shippingAddress;
  return html`<main class="confirm"><div class="confirm-box">
    <h1 class="confirm-title"><span class="check" aria-hidden="true"></span>Order placed, thanks!</h1>
    <p>Confirmation will be sent to your email.</p>
    <p><b>Shipping to ${a.fullName}</b>, ${a.street}, ${a.city}, ${a.state} ${a.zip}</p>
    <div class="confirm-delivery"><h2>Arriving ${formatDay(order.deliveryDate)}</h2>
      <div class="confirm-items">${order.items.map((i) => {
        const p = PRODUCTS.get(i.id);
        return html`<div class="confirm-item">${p && html`<${ProductArt} product=${p} size=${90} />`}<span class="muted">Qty ${i.quantity}</span></div>`;
      })}</div></div>
    <p>Order number: <b>${order.orderNumber}</b> · Order total: <b>${fmt(order.total)}</b></p>
    <p><${Link} href="/orders">Review or edit your recent orders<//></p>
  </div><p><${Link} href="/" class="continue">Continue shopping<//></p></main>`;
}

function OrdersPage() {
  const { state } = useSite();
  const orders = [...state.order.orders].reverse();
  return html`<main class="orders"><h1>Your Orders</h1>
    ${!orders.length && html`<p>You have not placed any orders.</p>`}
    ${orders.map((o) => html`<section class="order-card" aria-label=${`Order ${o.orderNumber}`}>
      <div class="order-head"><div><span class="muted">ORDER PLACED</span><br />${formatDay(o.date.slice(0, 10))}</div>
        <div><span class="muted">TOTAL</span><br />${fmt(o.total)}</div><div><span class="muted">SHIP TO</span><br />${o.shippingAddress.fullName}</div>
        <div class="order-num"><span class="muted">ORDER #</span><br />${o.orderNumber}</div></div>
      <div class="order-body"><h2>Arriving ${formatDay(o.deliveryDate)}</h2>
        ${o.items.map((i) => html`<div class="order-line"><${Link} href=${`/product/${i.id}`}>${i.title}<//> <span class="muted">Qty ${i.quantity} · ${fmt(i.price)}</span></div>`)}</div>
    </section>`)}
  </main>`;
}

function NotFound({ what = 'page' }) {
  return html`<main class="not-found"><h1>Sorry, we couldn't find that ${what}</h1><p><${Link} href="/">Go to the Omnizon home page<//></p></main>`;
}

// ---------------------------------------------------------------------------------------------------------

function route(pathname) {
  const m = pathname.match(/^\/product\/([^/]+)$/);
  if (m) {
    const p = PRODUCTS.get(decodeURIComponent(m[1]));
    return { title: p ? `Omnizon.com: ${p.title}` : 'Omnizon.com: Page Not Found', page: html`<${ProductPage} id=${decodeURIComponent(m[1])} />` };
  }
  switch (pathname) {
    case '/': return { title: 'Omnizon.com. Spend less. Smile more.', page: html`<${Home} />` };
    case '/search': return { title: 'Omnizon.com: Search', page: html`<${SearchPage} />` };
    case '/cart': return { title: 'Omnizon.com Shopping Cart', page: html`<${CartPage} />` };
    case '/checkout': return { title: 'Omnizon.com Checkout', page: html`<${CheckoutPage} />`, checkout: true };
    case '/confirmation': return { title: 'Omnizon.com: Thank You', page: html`<${ConfirmationPage} />` };
    case '/orders': return { title: 'Your Orders', page: html`<${OrdersPage} />` };
    default: return { title: 'Omnizon.com: Page Not Found', page: html`<${NotFound} />` };
  }
}

function CheckoutHeader() {
  const { state } = useSite();
  const n = checkoutItems(state).reduce((s, i) => s + i.quantity, 0);
  return html`<header class="checkout-header"><${Link} href="/" class="nav-logo dark" aria-label="Omnizon home"><span class="logo-word">omnizon</span><span class="logo-smile" aria-hidden="true"></span><//>
    <div class="checkout-heading">Checkout (<${Link} href="/cart">${n} ${n === 1 ? 'item' : 'items'}<//>)</div><span class="lock" aria-hidden="true"></span></header>`;
}

function App() {
  const { state } = useSite();
  const { title, page, checkout } = route(state.router.location.pathname);
  document.title = title;
  if (checkout) return html`<${CheckoutHeader} />${page}`;
  return html`<${Header} />${page}<${Footer} />`;
}

bootSite({
  app: 'omnizon',
  title: 'Omnizon',
  slices,
  initialState,
  collections: { orders: { get: (s) => s.order.orders, key: 'orderNumber', layout: 'dict', updated: 'full' } },
  coalesce: ['filter/setSearchInputValue', 'checkout/setShippingField'],
  App,
});
