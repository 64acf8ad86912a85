/**
 * Product pictures drawn as inline SVG from the catalogue's `art` kind and `color`.
 *
 * Inline, not image files: an <img> loads after the click that showed it, so a screenshot taken right after a
 * step could catch it half loaded; inline SVG is part of the render, so every screenshot is complete and the
 * same on every run. Flat illustrations in the product's colour, on the light tile a store shows photos on.
 */
import { html } from '/_kit/vendor/preact-htm.js';

function shade(hex, amount) {
  const n = parseInt(hex.slice(1), 16);
  const ch = [n >> 16, (n >> 8) & 255, n & 255].map((v) => {
    const t = amount < 0 ? 0 : 255;
    return Math.round(v + (t - v) * Math.abs(amount));
  });
  return '#' + ch.map((v) => v.toString(16).padStart(2, '0')).join('');
}

const shadow = (rx = 62) => html`<ellipse cx="100" cy="178" rx=${rx} ry="7" fill="#000" opacity=".10" />`;

const BALL = {
  basketball: (c, d) => html`<circle cx="100" cy="100" r="62" fill=${c} /><g stroke=${d} stroke-width="4" fill="none">
    <path d="M38 100h124M100 38v124" /><path d="M58 52c22 24 22 72 0 96M142 52c-22 24-22 72 0 96" /></g>`,
  soccer: (c) => html`<circle cx="100" cy="100" r="62" fill=${c} stroke="#d1d5db" stroke-width="2" />
    <path d="M100 78l21 15-8 25h-26l-8-25z" fill="#111827" /><g stroke="#111827" stroke-width="3">
    <path d="M100 78V40M121 93l34-12M113 118l22 30M87 118l-22 30M79 93l-34-12" /></g>
    <path d="M86 40l14-4 14 4-14 6zM150 70l9 13-3 14-8-13zM50 70l-9 13 3 14 8-13z" fill="#111827" />`,
  football: (c, d) => html`<ellipse cx="100" cy="100" rx="72" ry="44" transform="rotate(-25 100 100)" fill=${c} />
    <path d="M62 78c-8 10-10 22-6 34M138 122c8-10 10-22 6-34" stroke="#fff" stroke-width="4" fill="none" />
    <g stroke="#fff" stroke-width="4"><path d="M78 112l44-24" /><path d="M88 92l6 12M98 87l6 12M108 82l6 12" /></g>`,
  volleyball: (c) => html`<circle cx="100" cy="100" r="62" fill="#f9fafb" stroke="#d1d5db" stroke-width="2" />
    <path d="M100 38c-20 30-20 70 8 96M44 78c34-6 70 6 96 34M70 152c4-34 30-62 86-74" stroke=${c} stroke-width="12" fill="none" />`,
};

const KINDS = {
  controller: (c, d, l) => html`${shadow(70)}
    <path d="M52 70h96c22 0 34 18 38 44l6 34c3 18-14 26-26 14l-22-24H56l-22 24c-12 12-29 4-26-14l6-34c4-26 16-44 38-44z" fill=${c} />
    <circle cx="76" cy="112" r="13" fill=${d} /><circle cx="124" cy="112" r="13" fill=${d} />
    <path d="M52 84h8v-8h8v8h8v8h-8v8h-8v-8h-8z" fill=${l} />
    <g fill=${l}><circle cx="148" cy="80" r="5" /><circle cx="158" cy="90" r="5" /><circle cx="138" cy="90" r="5" /><circle cx="148" cy="100" r="5" /></g>
    <rect x="84" y="74" width="32" height="18" rx="4" fill=${d} />`,
  console: (c, d, l) => html`${shadow(52)}
    <rect x="78" y="26" width="44" height="148" rx="10" fill=${c} stroke=${d} stroke-width="2" />
    <path d="M62 30c12-4 16 4 16 14v120c0 10-4 14-16 10z" fill=${d} /><path d="M138 30c-12-4-16 4-16 14v120c0 10 4 14 16 10z" fill=${d} />
    <rect x="90" y="150" width="20" height="4" rx="2" fill=${l} />`,
  headphones: (c, d, l) => html`${shadow(56)}
    <path d="M48 112V92c0-34 24-58 52-58s52 24 52 58v20" stroke=${c} stroke-width="12" fill="none" stroke-linecap="round" />
    <rect x="34" y="100" width="34" height="58" rx="14" fill=${c} /><rect x="132" y="100" width="34" height="58" rx="14" fill=${c} />
    <rect x="52" y="108" width="14" height="42" rx="6" fill=${d} /><rect x="134" y="108" width="14" height="42" rx="6" fill=${d} />
    <path d="M66 44c10-8 22-12 34-12" stroke=${l} stroke-width="4" fill="none" stroke-linecap="round" />`,
  earbuds: (c, d) => html`${shadow(50)}
    <rect x="58" y="92" width="84" height="68" rx="30" fill=${c} stroke="#d1d5db" stroke-width="2" />
    <path d="M58 118h84" stroke=${d} stroke-width="2" /><circle cx="100" cy="140" r="4" fill="#22c55e" />
    <g fill=${c} stroke="#d1d5db" stroke-width="2"><circle cx="76" cy="58" r="16" /><rect x="70" y="60" width="10" height="32" rx="5" />
    <circle cx="124" cy="58" r="16" /><rect x="120" y="60" width="10" height="32" rx="5" /></g>`,
  speaker: (c, d, l) => html`${shadow(54)}
    <rect x="52" y="40" width="96" height="130" rx="26" fill=${c} />
    <circle cx="100" cy="88" r="30" fill=${d} /><circle cx="100" cy="88" r="12" fill=${l} />
    <circle cx="100" cy="142" r="12" fill=${d} /><rect x="88" y="48" width="24" height="4" rx="2" fill=${l} />`,
  phone: (c, d) => html`${shadow(40)}
    <rect x="62" y="22" width="76" height="152" rx="14" fill=${c} /><rect x="68" y="30" width="64" height="136" rx="9" fill="#0b1220" />
    <path d="M68 100c20-26 44-10 64-30v87c0 5-4 9-9 9H77c-5 0-9-4-9-9z" fill="#6366f1" opacity=".85" />
    <rect x="90" y="36" width="20" height="6" rx="3" fill=${d} />`,
  tablet: (c) => html`${shadow(66)}
    <rect x="34" y="36" width="132" height="130" rx="12" fill=${c} /><rect x="42" y="44" width="116" height="114" rx="6" fill="#e0f2fe" />
    <path d="M42 130l34-30 24 20 22-16 36 28v20H42z" fill="#38bdf8" /><circle cx="128" cy="74" r="10" fill="#fde68a" />`,
  laptop: (c, d) => html`${shadow(76)}
    <rect x="44" y="40" width="112" height="80" rx="6" fill=${c} /><rect x="50" y="46" width="100" height="68" rx="3" fill="#1e293b" />
    <path d="M54 106l26-22 18 14 18-16 30 24z" fill="#334155" /><path d="M28 126h144l-10 16H38z" fill=${d} />
    <rect x="86" y="126" width="28" height="4" rx="2" fill=${shade(c, 0.3)} />`,
  monitor: (c, d) => html`${shadow(56)}
    <rect x="26" y="34" width="148" height="96" rx="6" fill=${c} /><rect x="32" y="40" width="136" height="82" rx="2" fill="#0f172a" />
    <path d="M32 122V92c30-18 60 14 84-6s40-8 52 0v36z" fill="#1d4ed8" opacity=".8" />
    <rect x="92" y="130" width="16" height="30" fill=${d} /><rect x="66" y="158" width="68" height="8" rx="4" fill=${d} />`,
  tv: (c, d) => html`${shadow(80)}
    <rect x="14" y="40" width="172" height="106" rx="4" fill=${c} /><rect x="19" y="45" width="162" height="96" fill="#0f172a" />
    <path d="M19 141V104c40-26 70 10 100-10s46-6 62 0v47z" fill="#0ea5e9" opacity=".7" />
    <path d="M44 146l-8 20M156 146l8 20" stroke=${d} stroke-width="5" stroke-linecap="round" />`,
  watch: (c, d) => html`${shadow(36)}
    <rect x="80" y="18" width="40" height="164" rx="14" fill=${d} />
    <rect x="64" y="62" width="72" height="76" rx="20" fill=${c} stroke=${shade(c, 0.35)} stroke-width="4" />
    <circle cx="100" cy="100" r="24" fill="#0f172a" /><path d="M100 100V84M100 100l10 8" stroke="#f9fafb" stroke-width="3" stroke-linecap="round" />`,
  camera: (c, d) => html`${shadow(70)}
    <rect x="30" y="62" width="140" height="92" rx="12" fill=${c} /><rect x="70" y="46" width="48" height="20" rx="4" fill=${c} />
    <circle cx="100" cy="108" r="34" fill=${d} /><circle cx="100" cy="108" r="22" fill="#1e3a8a" /><circle cx="92" cy="100" r="6" fill="#93c5fd" />
    <rect x="138" y="72" width="20" height="10" rx="3" fill="#f59e0b" />`,
  mouse: (c, d, l) => html`${shadow(40)}
    <path d="M100 30c30 0 44 26 44 62v28c0 30-20 52-44 52s-44-22-44-52V92c0-36 14-62 44-62z" fill=${c} />
    <path d="M100 30v54M56 84h88" stroke=${d} stroke-width="3" /><rect x="95" y="50" width="10" height="20" rx="5" fill=${l} />`,
  keyboard: (c, d, l) => html`${shadow(80)}
    <rect x="16" y="74" width="168" height="66" rx="8" fill=${c} />
    ${[0, 1, 2].map((r) => html`<g>${Array.from({ length: 10 }, (_, k) => html`<rect x=${24 + k * 16} y=${82 + r * 16} width="12" height="12" rx="2" fill=${l} />`)}</g>`)}
    <rect x="56" y="130" width="88" height="6" rx="2" fill=${d} />`,
  pot: (c, d, l) => html`${shadow(66)}
    <path d="M42 78h116v70c0 14-10 22-24 22H66c-14 0-24-8-24-22z" fill=${c} />
    <rect x="20" y="86" width="26" height="12" rx="6" fill=${d} /><rect x="154" y="86" width="26" height="12" rx="6" fill=${d} />
    <path d="M36 76c0-14 28-22 64-22s64 8 64 22z" fill=${shade(c, 0.2)} /><rect x="90" y="40" width="20" height="14" rx="6" fill=${d} />
    <path d="M54 96v44" stroke=${l} stroke-width="6" stroke-linecap="round" opacity=".6" />`,
  pan: (c, d) => html`${shadow(74)}
    <ellipse cx="82" cy="112" rx="62" ry="38" fill=${d} /><ellipse cx="82" cy="106" rx="58" ry="32" fill=${c} />
    <ellipse cx="82" cy="106" rx="44" ry="22" fill=${shade(c, 0.12)} /><rect x="136" y="98" width="58" height="14" rx="7" fill="#111827" transform="rotate(-12 136 98)" />`,
  sheetpan: (c, d) => html`${shadow(76)}
    <path d="M24 92l96-30 62 44-98 34z" fill=${d} /><path d="M32 92l88-26 52 38-88 30z" fill=${c} />`,
  kettle: (c, d) => html`${shadow(56)}
    <path d="M56 72h88l10 86c1 10-6 16-16 16H62c-10 0-17-6-16-16z" fill=${c} />
    <path d="M144 96c20 0 28 16 30 32" stroke=${d} stroke-width="10" fill="none" stroke-linecap="round" />
    <path d="M58 98l-26-26" stroke=${c} stroke-width="12" stroke-linecap="round" />
    <path d="M70 72c0-20 14-34 30-34s30 14 30 34" stroke="#111827" stroke-width="9" fill="none" /><rect x="54" y="150" width="92" height="8" fill=${d} />`,
  coffee: (c, d) => html`${shadow(64)}
    <rect x="46" y="28" width="108" height="36" rx="8" fill=${c} /><rect x="46" y="60" width="28" height="100" fill=${c} />
    <rect x="40" y="156" width="120" height="16" rx="4" fill=${d} />
    <path d="M92 94h52v46c0 10-8 16-18 16h-16c-10 0-18-6-18-16z" fill="#e0f2fe" opacity=".9" stroke="#94a3b8" stroke-width="3" />
    <path d="M96 120h44v20c0 8-6 12-14 12h-16c-8 0-14-4-14-12z" fill="#78350f" /><rect x="104" y="64" width="32" height="10" fill=${d} />`,
  blender: (c, d) => html`${shadow(48)}
    <path d="M66 30h68l-8 96H74z" fill="#e0f2fe" stroke="#94a3b8" stroke-width="3" /><path d="M72 80h56l-4 46H76z" fill="#f472b6" opacity=".8" />
    <rect x="60" y="24" width="80" height="12" rx="4" fill=${d} /><path d="M62 126h76l8 44H54z" fill=${c} /><circle cx="100" cy="150" r="8" fill=${shade(c, 0.4)} />`,
  appliance: (c, d) => html`${shadow(58)}
    <rect x="50" y="34" width="100" height="136" rx="22" fill=${c} stroke=${d} stroke-width="2" />
    <rect x="64" y="54" width="72" height="24" rx="6" fill="#0f172a" /><text x="100" y="71" font-size="13" fill="#22d3ee" text-anchor="middle" font-family="Arial">400°</text>
    <rect x="60" y="96" width="80" height="60" rx="10" fill=${d} /><rect x="84" y="120" width="32" height="8" rx="4" fill=${shade(c, 0.4)} />`,
  knife: (c) => html`${shadow(56)}
    <path d="M52 84l80-30 18 110H68z" fill="#a16207" /><path d="M52 84l80-30 6 18-80 30z" fill="#ca8a04" />
    ${[0, 1, 2, 3].map((k) => html`<rect x=${66 + k * 15} y=${48 - k * 6} width="11" height="34" rx="3" fill=${c} transform=${`rotate(-20 ${70 + k * 15} 60)`} />`)}`,
  flatware: (c, d) => html`${shadow(58)}
    <g fill=${c} stroke=${d} stroke-width="2">
    <path d="M56 30v34c0 8 4 12 8 14v90c0 4 6 4 6 0V78c4-2 8-6 8-14V30h-4v30h-4V30h-4v30h-2V30z" />
    <ellipse cx="100" cy="52" rx="14" ry="22" /><rect x="96" y="70" width="8" height="100" rx="4" />
    <path d="M134 30c14 10 14 60 0 74v64c0 4 6 4 6 0V30z" /></g>`,
  plates: (c) => html`${shadow(70)}
    <ellipse cx="100" cy="142" rx="76" ry="22" fill="#d6d3d1" /><ellipse cx="100" cy="132" rx="76" ry="22" fill=${c} stroke="#a8a29e" stroke-width="2" />
    <ellipse cx="100" cy="122" rx="76" ry="22" fill=${c} stroke="#a8a29e" stroke-width="2" /><ellipse cx="100" cy="120" rx="46" ry="12" fill="#e7e5e4" />
    <path d="M56 88c0-22 88-22 88 0l-8 20H64z" fill=${c} stroke="#a8a29e" stroke-width="2" />`,
  glass: (c) => html`${shadow(64)}
    ${[52, 100, 148].map((x) => html`<path d=${`M${x - 22} 50h44l-6 114H${x - 16}z`} fill=${c} opacity=".55" stroke="#7dd3fc" stroke-width="3" />`)}`,
  mug: (c, d) => html`${shadow(56)}
    <rect x="50" y="60" width="80" height="104" rx="12" fill=${c} stroke="#d6d3d1" stroke-width="2" />
    <path d="M130 84c30 0 30 50 0 50" stroke=${c} stroke-width="12" fill="none" /><ellipse cx="90" cy="62" rx="40" ry="8" fill=${d} />`,
  bowl: (c) => html`${shadow(72)}
    <path d="M24 86h152c0 44-34 76-76 76S24 130 24 86z" fill=${c} opacity=".6" stroke="#60a5fa" stroke-width="3" />
    <path d="M46 70h108c0 32-24 56-54 56S46 102 46 70z" fill=${c} opacity=".6" stroke="#60a5fa" stroke-width="3" />`,
  apron: (c, d, l) => html`${shadow(52)}
    <path d="M76 26c0 20 10 30 24 30s24-10 24-30" stroke=${d} stroke-width="6" fill="none" />
    <path d="M72 40h56l4 30c18 0 30 4 36 6l-8 92c-2 8-8 12-16 12H60c-8 0-14-4-16-12l-8-92c6-2 18-6 36-6z" fill=${c} />
    <path d="M40 84L14 98M160 84l26 14" stroke=${d} stroke-width="5" stroke-linecap="round" />
    <rect x="62" y="112" width="32" height="30" rx="4" fill=${d} /><rect x="106" y="112" width="32" height="30" rx="4" fill=${d} />
    <path d="M70 60h60" stroke=${l} stroke-width="3" opacity=".5" />`,
  mitt: (c, d) => html`${shadow(50)}
    <path d="M62 170V90c0-30 16-56 44-56s42 24 42 52v84z" fill=${c} /><path d="M62 110c-26-10-34-36-20-48 10-8 22 2 22 18" fill=${c} />
    <rect x="58" y="150" width="94" height="22" rx="6" fill=${d} />`,
  utensil: (c) => html`${shadow(50)}
    ${[0, 1, 2].map((k) => html`<g transform=${`rotate(${-18 + k * 18} 100 170)`}><rect x="96" y="90" width="8" height="82" rx="4" fill="#111827" />
    <rect x="84" y="30" width="32" height="62" rx="12" fill=${c} opacity=${1 - k * 0.2} /></g>`)}`,
  board: (c, d) => html`${shadow(72)}
    <rect x="30" y="50" width="132" height="96" rx="14" fill=${d} /><rect x="40" y="62" width="132" height="96" rx="14" fill=${c} />
    <circle cx="156" cy="82" r="7" fill="#fff" />`,
  textile: (c, d) => html`${shadow(72)}
    ${[0, 1, 2].map((k) => html`<rect x="30" y=${118 - k * 36} width="140" height="36" rx="10" fill=${k % 2 ? shade(c, 0.15) : c} stroke=${d} stroke-width="2" />`)}
    <path d="M40 62h120M40 98h120M40 134h120" stroke=${d} stroke-width="2" stroke-dasharray="4 4" opacity=".6" />`,
  pillow: (c, d) => html`${shadow(74)}
    <path d="M30 64c30-16 110-16 140 0 10 30 10 60 0 90-30 16-110 16-140 0-10-30-10-60 0-90z" fill=${c} stroke=${shade(c, -0.2)} stroke-width="3" />
    <path d="M50 84c30 10 70 10 100 0" stroke=${d} stroke-width="2" fill="none" opacity=".4" />`,
  neckpillow: (c, d, l) => html`${shadow(60)}
    <path d="M100 36c-40 0-66 28-66 62 0 36 20 66 44 66 14 0 18-12 14-22-8-20-10-30-10-44 0-14 8-22 18-22s18 8 18 22c0 14-2 24-10 44-4 10 0 22 14 22 24 0 44-30 44-66 0-34-26-62-66-62z" fill=${c} />
    <path d="M58 80c10-20 26-28 42-28" stroke=${l} stroke-width="6" fill="none" stroke-linecap="round" opacity=".5" />
    <path d="M60 140c6 8 12 12 18 12" stroke=${d} stroke-width="4" fill="none" stroke-linecap="round" />`,
  mattress: (c, d) => html`${shadow(80)}
    <path d="M20 100l60-30h100l-60 30z" fill=${c} stroke="#d6d3d1" stroke-width="2" /><path d="M20 100h100v44H20z" fill=${shade(c, -0.05)} />
    <path d="M120 100l60-30v44l-60 30z" fill=${shade(c, -0.12)} /><path d="M20 112h100" stroke="#3b82f6" stroke-width="4" />`,
  lamp: (c, d) => html`${shadow(40)}
    <rect x="97" y="40" width="6" height="126" fill=${c} /><ellipse cx="100" cy="168" rx="30" ry="7" fill=${d} />
    <path d="M70 24h60l-10 26H80z" fill="#fde68a" stroke=${c} stroke-width="3" />`,
  desklamp: (c, d) => html`${shadow(44)}
    <ellipse cx="76" cy="166" rx="36" ry="8" fill=${d} /><path d="M76 164L96 96l48-30" stroke=${c} stroke-width="9" fill="none" stroke-linecap="round" stroke-linejoin="round" />
    <path d="M132 54l40 22-14 20-40-20z" fill=${c} stroke=${d} stroke-width="2" /><path d="M124 78l34 18" stroke="#fde68a" stroke-width="5" />`,
  mirror: (c) => html`${shadow(56)}<circle cx="100" cy="96" r="70" fill=${c} /><circle cx="100" cy="96" r="62" fill="#e0f2fe" />
    <path d="M60 70l34-22M58 96l52-40" stroke="#fff" stroke-width="8" stroke-linecap="round" opacity=".8" />`,
  bedframe: (c, d, l) => html`${shadow(84)}
    <rect x="20" y="46" width="92" height="86" rx="6" fill=${c} /><rect x="28" y="56" width="76" height="66" rx="4" fill=${shade(c, 0.18)} />
    <path d="M40 56v66M56 56v66M72 56v66M88 56v66" stroke=${c} stroke-width="3" opacity=".6" />
    <path d="M60 120h120l-20 26H20z" fill=${d} /><path d="M60 118h120" stroke=${l} stroke-width="3" />
    <path d="M28 146v18M156 146v18M180 124v22" stroke=${d} stroke-width="7" stroke-linecap="round" />`,
  desk: (c, d) => html`${shadow(84)}
    <rect x="16" y="76" width="168" height="12" rx="3" fill=${c} />
    <path d="M26 88v78M174 88v78M26 150h148" stroke=${d} stroke-width="7" stroke-linecap="round" />
    <rect x="60" y="46" width="56" height="30" rx="3" fill="#1f2937" /><rect x="82" y="76" width="12" height="2" fill="#1f2937" />`,
  chair: (c, d) => html`${shadow(54)}
    <rect x="60" y="20" width="80" height="80" rx="18" fill=${c} /><path d="M68 30h64M68 44h64M68 58h64M68 72h64" stroke=${d} stroke-width="2" opacity=".5" />
    <rect x="52" y="104" width="96" height="22" rx="10" fill=${c} /><rect x="96" y="126" width="8" height="28" fill=${d} />
    <path d="M100 154L60 170M100 154l40 16M100 154v18" stroke=${d} stroke-width="6" stroke-linecap="round" />
    <path d="M52 100h-6v18M148 100h6v18" stroke=${d} stroke-width="6" stroke-linecap="round" fill="none" />`,
  gamingchair: (c) => html`${shadow(54)}
    <path d="M66 18h68l6 94H60z" fill="#111827" /><path d="M86 18h28l4 94H82z" fill=${c} />
    <rect x="52" y="108" width="96" height="22" rx="10" fill="#111827" /><rect x="96" y="130" width="8" height="24" fill="#374151" />
    <path d="M100 154L60 170M100 154l40 16M100 154v18" stroke="#374151" stroke-width="6" stroke-linecap="round" />`,
  shelf: (c, d) => html`${shadow(50)}
    <rect x="52" y="20" width="96" height="154" fill=${c} /><rect x="60" y="26" width="80" height="142" fill=${d} />
    ${[0, 1, 2, 3].map((k) => html`<rect x="60" y=${54 + k * 30} width="80" height="6" fill=${c} />`)}
    <g>${[0, 1, 2].map((k) => html`<rect x=${66 + k * 12} y="32" width="9" height="22" fill=${['#2563eb', '#dc2626', '#16a34a'][k]} />`)}</g>`,
  table: (c, d) => html`${shadow(84)}
    <path d="M20 84l40-22h120l-40 22z" fill=${c} /><rect x="20" y="84" width="120" height="10" fill=${d} />
    <path d="M26 94v66M134 94v66M174 66v74" stroke="#111827" stroke-width="6" /><path d="M26 134h108" stroke="#111827" stroke-width="5" />`,
  ballpack: () => html`${shadow(80)}
    <g transform="translate(-34 -8) scale(.62)">${BALL.basketball('#ea580c', '#7c2d12')}</g>
    <g transform="translate(42 -8) scale(.62)">${BALL.soccer('#f9fafb')}</g>
    <g transform="translate(-34 62) scale(.62)">${BALL.football('#92400e')}</g>
    <g transform="translate(42 62) scale(.62)">${BALL.volleyball('#facc15')}</g>
    <path d="M30 40c40-20 100-20 140 0" stroke="#111827" stroke-width="2" fill="none" stroke-dasharray="5 4" />`,
  dumbbell: (c, d) => html`${shadow(70)}
    ${[60, 120].map((y) => html`<g><rect x="40" y=${y - 16} width="120" height="12" rx="4" fill="#6b7280" />
    <rect x="26" y=${y - 28} width="28" height="36" rx="8" fill=${c} /><rect x="146" y=${y - 28} width="28" height="36" rx="8" fill=${c} /></g>`)}`,
  yogamat: (c, d) => html`${shadow(70)}
    <rect x="38" y="96" width="140" height="60" rx="6" fill=${c} transform="skewX(-10)" />
    <circle cx="56" cy="112" r="32" fill=${d} /><circle cx="56" cy="112" r="20" fill=${c} /><circle cx="56" cy="112" r="8" fill=${d} />`,
  bottle: (c, d) => html`${shadow(36)}
    <rect x="72" y="44" width="56" height="130" rx="16" fill=${c} /><rect x="80" y="22" width="40" height="26" rx="6" fill="#111827" />
    <path d="M84 70v80" stroke="#fff" stroke-width="6" stroke-linecap="round" opacity=".35" />`,
  bands: (c) => html`${shadow(70)}
    ${['#f97316', '#facc15', '#22c55e', '#3b82f6', '#a855f7'].map((col, k) => html`<ellipse cx=${60 + k * 20} cy=${100 + (k % 2) * 10} rx="34" ry="48" fill="none" stroke=${col} stroke-width="10" />`)}`,
  tent: (c, d) => html`${shadow(84)}
    <path d="M100 36l80 128H20z" fill=${c} /><path d="M100 36l24 128H76z" fill=${d} /><path d="M100 96l14 68H86z" fill="#111827" opacity=".6" />`,
  backpack: (c, d) => html`${shadow(50)}
    <path d="M60 60c0-24 18-38 40-38s40 14 40 38v100c0 8-6 14-14 14H74c-8 0-14-6-14-14z" fill=${c} />
    <rect x="72" y="104" width="56" height="46" rx="8" fill=${d} /><path d="M84 34c0-10 32-10 32 0" stroke=${d} stroke-width="6" fill="none" />
    <path d="M92 120h16" stroke="#f9fafb" stroke-width="4" />`,
  jacket: (c, d) => html`${shadow(70)}
    <path d="M78 26h44l38 22 20 74-24 6-10-40v88H54V88l-10 40-24-6 20-74z" fill=${c} />
    <path d="M100 40v130" stroke=${d} stroke-width="3" /><path d="M78 26c6 14 38 14 44 0" fill=${d} />
    <rect x="62" y="110" width="24" height="4" fill=${d} /><rect x="114" y="110" width="24" height="4" fill=${d} />`,
  shoe: (c, d) => html`${shadow(80)}
    <path d="M22 138c0-20 10-40 30-46 20-6 34-30 50-30 10 24 36 34 66 44 10 4 14 14 12 32z" fill=${c} />
    <path d="M20 138h162v14c0 6-4 10-10 10H30c-6 0-10-4-10-10z" fill="#f9fafb" stroke="#d1d5db" stroke-width="2" />
    <path d="M78 86l16 12M88 78l16 12M98 72l14 12" stroke="#f9fafb" stroke-width="4" stroke-linecap="round" />`,
  tshirt: (c) => html`${shadow(66)}
    <path d="M74 28l-46 24 16 36 18-8v90h76V80l18 8 16-36-46-24c-4 12-14 18-26 18s-22-6-26-18z" fill=${c} stroke="#d1d5db" stroke-width="3" />`,
  jeans: (c, d) => html`${shadow(50)}
    <path d="M64 24h72l12 150h-38l-10-100-10 100H52z" fill=${c} /><path d="M64 40h72" stroke=${d} stroke-width="4" />
    <path d="M100 40v34" stroke=${d} stroke-width="3" /><path d="M72 52c10 8 18 8 22 0M128 52c-10 8-18 8-22 0" stroke="#f59e0b" stroke-width="2" fill="none" />`,
  beanie: (c, d) => html`${shadow(60)}
    <path d="M42 122c0-52 26-84 58-84s58 32 58 84z" fill=${c} /><rect x="38" y="116" width="124" height="34" rx="8" fill=${d} />
    ${[0, 1, 2, 3, 4, 5].map((k) => html`<path d=${`M${58 + k * 17} 56v60`} stroke=${d} stroke-width="3" opacity=".4" />`)}`,
  sunglasses: (c) => html`${shadow(74)}
    <path d="M24 78h152" stroke=${c} stroke-width="8" stroke-linecap="round" />
    <path d="M30 78h58c0 30-8 46-30 46S30 108 30 78zM112 78h58c0 30-8 46-30 46s-28-16-28-46z" fill=${c} />
    <path d="M44 88l14-6" stroke="#f9fafb" stroke-width="4" opacity=".6" />`,
  notebook: (c, d) => html`${shadow(60)}
    <rect x="50" y="26" width="104" height="144" rx="6" fill=${c} /><rect x="60" y="26" width="4" height="144" fill=${d} />
    ${Array.from({ length: 9 }, (_, k) => html`<circle cx="50" cy=${38 + k * 15} r="5" fill="none" stroke="#9ca3af" stroke-width="3" />`)}
    <rect x="84" y="56" width="50" height="22" rx="3" fill="#f9fafb" />`,
  printer: (c, d) => html`${shadow(72)}
    <rect x="40" y="40" width="120" height="30" fill="#f9fafb" stroke="#d1d5db" stroke-width="2" transform="skewX(-8)" />
    <rect x="26" y="66" width="148" height="80" rx="10" fill=${c} stroke="#9ca3af" stroke-width="2" />
    <rect x="50" y="120" width="100" height="10" rx="2" fill="#374151" /><rect x="140" y="80" width="20" height="8" rx="2" fill="#0ea5e9" />`,
  gadget: (c, d) => html`${shadow(54)}
    <rect x="50" y="56" width="100" height="100" rx="16" fill=${c} /><rect x="62" y="70" width="76" height="10" rx="5" fill=${d} />
    <circle cx="100" cy="118" r="16" fill=${d} /><circle cx="100" cy="118" r="6" fill=${shade(c, 0.5)} />`,
  router: (c, d) => html`${shadow(74)}
    <path d="M58 120V40M100 116V28M142 120V40" stroke=${c} stroke-width="9" stroke-linecap="round" />
    <rect x="24" y="112" width="152" height="44" rx="10" fill=${c} />
    ${[0, 1, 2, 3, 4].map((k) => html`<circle cx=${60 + k * 20} cy="134" r="4" fill="#22c55e" />`)}`,
};
Object.assign(KINDS, Object.fromEntries(Object.entries(BALL).map(([k, f]) => [k, (c, d) => html`${shadow(58)}${f(c, d)}`])));

/** The product's picture; `size` is its CSS size in pixels. Decorative for assistive tech: the product's
 *  title is always next to it. */
export function ProductArt({ product, size = 200 }) {
  const draw = KINDS[product.art] || KINDS.gadget;
  const c = product.color;
  return html`<svg class="art" viewBox="0 0 200 200" width=${size} height=${size} aria-hidden="true" focusable="false">
    ${draw(c, shade(c, -0.35), shade(c, 0.45))}</svg>`;
}
