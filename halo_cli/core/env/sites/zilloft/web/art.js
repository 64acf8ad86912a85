/**
 * Zilloft's pictures, drawn as inline SVG from a listing's `art` colours and type: the home's front (a ranch, a
 * two-storey, a bungalow, a modern box, townhomes, a condo building, a duplex, a manufactured home), four rooms
 * for the gallery, the results map with its price pins, agent avatars and the home page's hero.
 *
 * Inline, not image files: an <img> loads after the step that showed it, so a screenshot could catch it half
 * drawn; inline SVG is part of the render, so every screenshot is complete and the same on every run. No
 * gradients or other `id`s in the repeated pictures, so a page never holds two elements with one id.
 */
import { html } from '/_kit/vendor/preact-htm.js';
import { shortPrice } from './format.js';

export function shade(hex, amount) {
  const n = parseInt(hex.slice(1), 16);
  const ch = [n >> 16, (n >> 8) & 255, n & 255].map((v) => {
    const t = amount < 0 ? 0 : 255;
    return Math.round(v + (t - v) * Math.abs(amount));
  });
  return '#' + ch.map((v) => v.toString(16).padStart(2, '0')).join('');
}

const GLASS = '#9cc3de';

function tree(x, y, s = 1, c = '#4f8a4b') {
  return html`<g transform=${`translate(${x} ${y}) scale(${s})`}><rect x="-4" y="0" width="8" height="34" fill="#6b4f3a" />
    <circle cx="0" cy="-8" r="24" fill=${c} /><circle cx="-14" cy="4" r="16" fill=${shade(c, -0.12)} /><circle cx="14" cy="2" r="17" fill=${shade(c, 0.08)} /></g>`;
}

function win(x, y, w, h, trim) {
  return html`<rect x=${x} y=${y} width=${w} height=${h} fill=${GLASS} stroke=${trim} stroke-width="3" />
    <path d=${`M${x + w / 2} ${y}v${h}M${x} ${y + h / 2}h${w}`} stroke=${trim} stroke-width="1.5" />`;
}

function door(x, y, c, trim) {
  return html`<rect x=${x} y=${y} width="20" height="36" fill=${c} stroke=${trim} stroke-width="2" /><circle cx=${x + 15} cy=${y + 19} r="1.8" fill="#e7c66b" />`;
}

const FRONTS = {
  // single-storey ranch with an attached garage
  ranch: ({ body, roof, trim, door: d }) => html`
    <polygon points="52,104 150,62 268,104" fill=${roof} /><rect x="66" y="102" width="188" height="58" fill=${body} />
    <rect x="186" y="116" width="58" height="44" fill=${shade(body, -0.1)} stroke=${trim} stroke-width="2" />
    <path d="M186 127h58M186 138h58M186 149h58" stroke=${shade(body, -0.25)} stroke-width="1" />
    ${win(80, 116, 36, 26, trim)}${win(128, 116, 24, 26, trim)}${door(158, 124, d, trim)}`,
  // two storeys under a gable
  twostory: ({ body, roof, trim, door: d }) => html`
    <rect x="92" y="74" width="136" height="86" fill=${body} /><polygon points="82,78 160,30 238,78" fill=${roof} />
    ${win(104, 86, 30, 24, trim)}${win(186, 86, 30, 24, trim)}${win(145, 86, 30, 24, trim)}
    ${win(104, 124, 30, 24, trim)}${win(186, 124, 30, 24, trim)}${door(150, 124, d, trim)}
    <rect x="140" y="118" width="40" height="6" fill=${roof} />`,
  // craftsman bungalow with a porch
  bungalow: ({ body, roof, trim, door: d }) => html`
    <rect x="70" y="96" width="180" height="64" fill=${body} /><polygon points="58,100 160,58 262,100" fill=${roof} />
    <polygon points="118,100 160,80 202,100" fill=${shade(roof, 0.15)} /><rect x="112" y="100" width="96" height="8" fill=${shade(roof, -0.1)} />
    <rect x="116" y="108" width="6" height="52" fill=${trim} /><rect x="198" y="108" width="6" height="52" fill=${trim} />
    ${win(82, 114, 28, 28, trim)}${win(212, 114, 28, 28, trim)}${door(150, 124, d, trim)}
    <rect x="112" y="156" width="96" height="6" fill=${shade(body, -0.3)} />`,
  // modern flat-roofed boxes
  modern: ({ body, roof, trim, door: d }) => html`
    <rect x="70" y="84" width="110" height="76" fill=${body} /><rect x="170" y="62" width="86" height="98" fill=${shade(body, -0.12)} />
    <rect x="64" y="78" width="122" height="8" fill=${roof} /><rect x="164" y="56" width="98" height="8" fill=${roof} />
    <rect x="180" y="76" width="66" height="40" fill=${GLASS} stroke=${trim} stroke-width="2" />
    <rect x="82" y="98" width="60" height="34" fill=${GLASS} stroke=${trim} stroke-width="2" />
    ${door(150, 124, d, trim)}<rect x="186" y="126" width="52" height="34" fill=${shade(body, -0.3)} />`,
  townhomes: ({ body, roof, trim, door: d }) => html`${[0, 1, 2].map((k) => {
    const x = 54 + k * 72;
    const c = k === 1 ? shade(body, -0.1) : body;
    return html`<rect x=${x} y="76" width="72" height="84" fill=${c} stroke=${shade(body, -0.3)} stroke-width="1" />
      <polygon points=${`${x - 4},80 ${x + 36},44 ${x + 76},80`} fill=${roof} />
      ${win(x + 12, 88, 22, 20, trim)}${win(x + 40, 88, 22, 20, trim)}${door(x + 26, 124, d, trim)}`;
  })}`,
  condo: ({ body, roof, trim }) => html`<rect x="78" y="28" width="164" height="132" fill=${body} />
    <rect x="72" y="22" width="176" height="8" fill=${roof} />
    ${[0, 1, 2, 3].map((r) => [0, 1, 2, 3].map((c) => html`<rect x=${90 + c * 38} y=${38 + r * 28} width="26" height="18" fill=${GLASS} stroke=${trim} stroke-width="2" />
      <rect x=${86 + c * 38} y=${56 + r * 28} width="34" height="4" fill=${shade(body, -0.35)} />`))}
    <rect x="140" y="140" width="40" height="20" fill=${shade(roof, 0.2)} />`,
  duplex: ({ body, roof, trim, door: d }) => html`<rect x="74" y="72" width="172" height="88" fill=${body} />
    <polygon points="64,76 160,36 256,76" fill=${roof} />
    ${win(88, 84, 28, 24, trim)}${win(204, 84, 28, 24, trim)}${win(146, 84, 28, 24, trim)}
    ${door(108, 124, d, trim)}${door(192, 124, d, trim)}${win(140, 124, 40, 24, trim)}`,
  manufactured: ({ body, roof, trim, door: d }) => html`<rect x="46" y="106" width="210" height="46" fill=${body} />
    <polygon points="40,108 150,88 262,108" fill=${roof} /><rect x="46" y="150" width="210" height="10" fill=${shade(body, -0.3)} />
    ${win(62, 116, 30, 20, trim)}${win(104, 116, 30, 20, trim)}${win(210, 116, 30, 20, trim)}${door(160, 112, d, trim)}
    <path d="M256 112l44 6v42" stroke="#8a8f94" stroke-width="3" fill="none" /><rect x="256" y="112" width="44" height="5" fill="#b0b6bb" />`,
};

function frontKind(l) {
  switch (l.homeType) {
    case 'Townhouse': return 'townhomes';
    case 'Condo': return 'condo';
    case 'Multi-family': return 'duplex';
    case 'Manufactured': return 'manufactured';
    default: return ['ranch', 'twostory', 'bungalow', 'modern'][l.art.variant];
  }
}

function front(l) {
  const a = l.art;
  const trees = [[28, 120, 1], [292, 118, 0.9], [18, 128, 0.7]].slice(0, a.trees + 1);
  return html`<rect width="320" height="200" fill="#cfe6f7" /><ellipse cx="62" cy="34" rx="26" ry="9" fill="#fff" opacity=".85" />
    <ellipse cx="238" cy="24" rx="34" ry="10" fill="#fff" opacity=".8" />
    <path d="M0 126c60-26 120-30 180-16s100 6 140-8V200H0z" fill="#b7d3a8" />
    ${FRONTS[frontKind(l)](a)}
    <rect y="160" width="320" height="40" fill="#7fb069" /><rect y="172" width="320" height="8" fill="#d9d6cf" />
    <polygon points="150,160 170,160 182,200 138,200" fill="#cfcac0" />${trees.map(([x, y, s]) => tree(x, y, s))}`;
}

const ROOMS = {
  living: (l) => {
    const wall = shade(l.art.body, 0.45);
    return html`<rect width="320" height="200" fill=${wall} /><rect y="150" width="320" height="50" fill="#b48a5e" />
      <path d="M0 160h320M0 176h320M0 190h320" stroke="#9c7650" stroke-width="1" />
      <rect x="196" y="36" width="86" height="78" fill="#cfe6f7" stroke="#fff" stroke-width="6" /><path d="M239 36v78" stroke="#fff" stroke-width="4" />
      <rect x="38" y="44" width="70" height="46" fill=${l.art.door} stroke="#3b3b3b" stroke-width="3" /><path d="M48 80l18-20 14 12 10-8 12 16z" fill="#f2d16b" />
      <ellipse cx="140" cy="178" rx="108" ry="14" fill=${shade(l.art.roof, 0.5)} />
      <rect x="40" y="112" width="160" height="44" rx="10" fill=${shade(l.art.roof, 0.2)} /><rect x="50" y="100" width="140" height="24" rx="8" fill=${shade(l.art.roof, 0.35)} />
      <rect x="238" y="120" width="6" height="36" fill="#333" /><polygon points="226,96 256,96 250,120 232,120" fill="#f4e3b5" />`;
  },
  kitchen: (l) => {
    const wall = shade(l.art.body, 0.5);
    const cab = l.art.trim === '#2d3640' ? '#2d3640' : '#f4f4f1';
    return html`<rect width="320" height="200" fill=${wall} /><rect y="168" width="320" height="32" fill="#d8d2c6" />
      <rect x="20" y="24" width="120" height="44" fill=${cab} stroke="#c9c9c9" /><path d="M60 24v44M100 24v44" stroke="#c9c9c9" />
      <rect x="172" y="30" width="72" height="56" fill="#cfe6f7" stroke="#fff" stroke-width="5" />
      <rect x="12" y="104" width="296" height="10" fill="#e9e6df" /><rect x="12" y="114" width="296" height="54" fill=${cab} stroke="#c9c9c9" />
      <path d="M86 114v54M160 114v54M234 114v54" stroke="#c9c9c9" />
      <rect x="96" y="138" width="128" height="8" fill="#efece6" /><rect x="100" y="146" width="120" height="30" fill=${shade(l.art.door, 0.1)} />
      <path d="M120 0v22M200 0v22" stroke="#555" stroke-width="2" /><polygon points="110,22 130,22 126,32 114,32" fill="#333" />
      <polygon points="190,22 210,22 206,32 194,32" fill="#333" />`;
  },
  bedroom: (l) => {
    const wall = shade(l.art.body, 0.35);
    return html`<rect width="320" height="200" fill=${wall} /><rect y="156" width="320" height="44" fill="#c9b49a" />
      <rect x="214" y="30" width="70" height="70" fill="#cfe6f7" stroke="#fff" stroke-width="6" />
      <rect x="70" y="84" width="150" height="30" rx="6" fill=${shade(l.art.roof, 0.1)} />
      <rect x="62" y="112" width="166" height="50" rx="6" fill="#f7f7f7" /><rect x="62" y="130" width="166" height="32" rx="4" fill=${shade(l.art.door, 0.35)} />
      <rect x="80" y="100" width="46" height="18" rx="8" fill="#fff" /><rect x="162" y="100" width="46" height="18" rx="8" fill="#fff" />
      <rect x="22" y="124" width="32" height="36" fill="#8a6a4a" /><rect x="236" y="124" width="32" height="36" fill="#8a6a4a" />
      <polygon points="28,108 48,108 44,124 32,124" fill="#f4e3b5" />`;
  },
  yard: (l) => html`<rect width="320" height="200" fill="#cfe6f7" /><rect y="60" width="320" height="70" fill=${l.art.body} />
    <rect y="54" width="320" height="8" fill=${l.art.roof} />${win(40, 74, 50, 36, l.art.trim)}${win(230, 74, 50, 36, l.art.trim)}
    <rect x="130" y="76" width="60" height="54" fill=${GLASS} stroke=${l.art.trim} stroke-width="3" />
    <rect y="130" width="320" height="70" fill="#86b86e" /><rect x="96" y="130" width="128" height="34" fill="#d6cfc2" />
    <rect x="150" y="120" width="4" height="40" fill="#555" /><path d="M118 124q34-24 68 0z" fill=${l.art.door} />
    <ellipse cx="152" cy="156" rx="22" ry="6" fill="#fff" />${tree(290, 150, 0.8)}${tree(24, 148, 0.7)}`,
};

export const GALLERY = ['front', 'living', 'kitchen', 'bedroom', 'yard'];

/** A listing's picture: its front, or one of its rooms (`living`, `kitchen`, `bedroom`, `yard`). */
export function HomeArt({ listing, view = 'front', label = '' }) {
  const body = view === 'front' ? front(listing) : ROOMS[view](listing);
  return html`<svg class="home-art" viewBox="0 0 320 200" preserveAspectRatio="xMidYMid slice" role=${label ? 'img' : null}
    aria-label=${label || null} aria-hidden=${label ? null : 'true'} focusable="false">${body}</svg>`;
}

export function Avatar({ agent, size = 48 }) {
  const initials = agent.name.split(/\s+/).map((w) => w[0]).join('').slice(0, 2);
  return html`<svg class="avatar" width=${size} height=${size} viewBox="0 0 48 48" aria-hidden="true" focusable="false">
    <circle cx="24" cy="24" r="24" fill=${agent.color} /><text x="24" y="30" text-anchor="middle" font-size="17" font-weight="700"
    fill="#fff" font-family="Arial, 'Liberation Sans', sans-serif">${initials}</text></svg>`;
}

export function Logo() {
  return html`<span class="logo"><svg width="34" height="30" viewBox="0 0 34 30" aria-hidden="true" focusable="false">
    <path d="M17 2L2 14h5v14h20V14h5z" fill="#006aff" /><path d="M11 13h12l-10 10h11" stroke="#fff" stroke-width="3" fill="none" stroke-linejoin="round" />
    </svg><span class="logo-word">Zilloft</span></span>`;
}

/**
 * The results map: streets, parks and water around the homes found, with a price pin per home. The map is a
 * projection of the homes' coordinates onto the panel, so the pins keep their relative places.
 */
export function ResultsMap({ homes, coastal }) {
  const W = 640;
  const H = 660;
  const pad = 60;
  const lats = homes.map((h) => h.lat);
  const lngs = homes.map((h) => h.lng);
  const [minLat, maxLat] = [Math.min(...lats), Math.max(...lats)];
  const [minLng, maxLng] = [Math.min(...lngs), Math.max(...lngs)];
  const span = Math.max(maxLat - minLat, (maxLng - minLng) * 0.8, 0.02);
  const cx = (minLng + maxLng) / 2;
  const cy = (minLat + maxLat) / 2;
  const left = coastal ? 210 : pad; // the coast is drawn along the left edge: pins stay on land
  const x = (lng) => (left + W - pad) / 2 + ((lng - cx) * 0.8 / span) * (W - pad - left);
  const y = (lat) => H / 2 - ((lat - cy) / span) * (H - 2 * pad);
  const streets = [];
  for (let k = 0; k < 12; k++) streets.push(html`<path d=${`M${k * 58 + 14} 0V${H}`} />`, html`<path d=${`M0 ${k * 60 + 22}H${W}`} />`);
  return html`<svg class="results-map" viewBox=${`0 0 ${W} ${H}`} preserveAspectRatio="xMidYMid slice" aria-hidden="true" focusable="false">
    <rect width=${W} height=${H} fill="#f3f1ec" />
    ${coastal && html`<path d=${`M0 0h120c-30 120 40 230 0 360s20 220 -10 300H0z`} fill="#aad3f2" />`}
    <rect x="300" y="120" width="110" height="80" rx="10" fill="#cfe8c6" /><rect x="150" y="430" width="90" height="120" rx="10" fill="#cfe8c6" />
    <rect x="480" y="360" width="120" height="70" rx="10" fill="#cfe8c6" />
    <g stroke="#ffffff" stroke-width="5">${streets}</g>
    <path d=${`M${W} 90L160 ${H}`} stroke="#f8d88a" stroke-width="10" /><path d=${`M40 240H${W}`} stroke="#f8d88a" stroke-width="9" />
    ${homes.map((h) => {
      const px = x(h.lng);
      const py = y(h.lat);
      const label = shortPrice(h.price);
      const w = label.length * 8 + 14;
      return html`<g class="pin"><rect x=${px - w / 2} y=${py - 22} width=${w} height="20" rx="10" fill="#d1001c" stroke="#fff" stroke-width="1.5" />
        <text x=${px} y=${py - 8} text-anchor="middle" font-size="12" font-weight="700" fill="#fff"
          font-family="Arial, 'Liberation Sans', sans-serif">${label}</text></g>`;
    })}
  </svg>`;
}

/** The home page's hero: a street of homes at dusk behind the search box. */
export function HeroArt({ homes }) {
  return html`<svg class="hero-art" viewBox="0 0 1280 420" preserveAspectRatio="xMidYMid slice" aria-hidden="true" focusable="false">
    <defs><linearGradient id="hero-sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#2b5a8a" />
      <stop offset=".6" stop-color="#e79b6d" /><stop offset="1" stop-color="#f6c98b" /></linearGradient></defs>
    <rect width="1280" height="420" fill="url(#hero-sky)" />
    <path d="M0 300c160-60 340-70 520-30s380 20 560-30 200 10 200 10V420H0z" fill="#47623f" />
    ${homes.map((l, k) => html`<g transform=${`translate(${k * 330 - 60} ${170}) scale(1.15)`}>${FRONTS[frontKind(l)](l.art)}</g>`)}
    <rect y="352" width="1280" height="68" fill="#3d5a36" /><rect width="1280" height="420" fill="#0b1b2b" opacity=".38" />
  </svg>`;
}
