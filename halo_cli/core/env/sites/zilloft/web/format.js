/**
 * How Zilloft writes prices, sizes, addresses and the tour calendar. Dates come from the site's frozen "now"
 * (the kit's SITE_NOW_ISO, Thursday 2024-07-18 in Los Angeles), never from the browser clock, so the same task
 * shows the same calendar on every run.
 */
import { SITE_NOW_ISO, SITE_TIME_ZONE } from '/_kit/store.js';

const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 0 });
const count = new Intl.NumberFormat('en-US');

export const fmtPrice = (n) => money.format(n);
export const fmtNumber = (n) => count.format(n);

/** "$689K", "$1.05M": the map pins' short prices. */
export function shortPrice(n) {
  if (n >= 1e6) return `$${(n / 1e6).toFixed(n >= 1e7 ? 1 : 2).replace(/\.?0+$/, '')}M`;
  return `$${Math.round(n / 1000)}K`;
}

export const fullAddress = (l) => `${l.street}, ${l.city}, ${l.state} ${l.zip}`;
export const homeUrl = (l) => `/homedetails/${l.slug}/${l.zpid}_zpid`;
export const bathsText = (b) => String(b);

/** "House", "Condo", ... as a card says it: "House for sale". */
export const typeForSale = (l) => `${l.homeType === 'Multi-family' ? 'Multi-family home' : l.homeType} for sale`;

/** A 30-year loan at 6.8% with 20% down, plus property tax (1.1%/year) and insurance: Zilloft's "Est." line. */
export function monthlyPayment(l) {
  const principal = l.price * 0.8;
  const r = 0.068 / 12;
  const n = 360;
  const loan = principal * (r * (1 + r) ** n) / ((1 + r) ** n - 1);
  return Math.round(loan + (l.price * 0.011) / 12 + 110 + (l.hoa || 0));
}

// ---------------------------------------------------------------------------------------------------------
// The tour calendar

/** Days a tour can be booked: today and the 13 days after it, as YYYY-MM-DD. */
export const TOUR_DAYS = Array.from({ length: 14 }, (_, k) => {
  const d = new Date(SITE_NOW_ISO);
  d.setUTCDate(d.getUTCDate() + k);
  return d.toISOString().slice(0, 10);
});

/** Tour times: every half hour from 9:00 AM to 6:00 PM, written "h:mm AM/PM" as REAL's Zilloft stores them. */
export const TOUR_TIMES = Array.from({ length: 19 }, (_, k) => {
  const minutes = 9 * 60 + k * 30;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return `${((h + 11) % 12) + 1}:${String(m).padStart(2, '0')} ${h < 12 ? 'AM' : 'PM'}`;
});

function dayDate(ymd) {
  return new Date(`${ymd}T19:00:00Z`); // noon in Los Angeles: the same calendar day whatever the offset
}

/** `{weekday: "Fri", day: "19", month: "Jul", long: "Friday, July 19"}` of a YYYY-MM-DD. */
export function dayParts(ymd) {
  const d = dayDate(ymd);
  const part = (opts) => d.toLocaleDateString('en-US', { ...opts, timeZone: SITE_TIME_ZONE });
  return { weekday: part({ weekday: 'short' }), day: part({ day: 'numeric' }), month: part({ month: 'short' }),
           long: part({ weekday: 'long', month: 'long', day: 'numeric' }) };
}

/** The stored form of a tour day: local midnight in Los Angeles as an ISO instant ("2024-07-19T07:00:00.000Z"),
 *  the way REAL's Zilloft stores `options[].date` and `selectedDate.date`. */
export function storedDate(ymd) {
  const noon = dayDate(ymd);
  const offset = -new Date(noon.toLocaleString('en-US', { timeZone: SITE_TIME_ZONE })).getTime()
    + new Date(noon.toLocaleString('en-US', { timeZone: 'UTC' })).getTime();
  return new Date(Date.parse(`${ymd}T00:00:00Z`) + offset).toISOString();
}

/** "Fri, Jul 19 at 1:00 PM". */
export function slotText(ymd, time) {
  const p = dayParts(ymd);
  return `${p.weekday}, ${p.month} ${p.day} at ${time}`;
}
