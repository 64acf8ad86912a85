"""The report's metric curves as inline SVG, drawn by pygal (a plotting library whose output is plain SVG: no
script, no font or stylesheet to fetch, so the file stays self-contained and renders anywhere)."""

from __future__ import annotations

import math
import re

import pygal
from pygal.style import Style

_STYLE = Style(
    background="transparent", plot_background="transparent", foreground="#4b5563", foreground_strong="#111827",
    foreground_subtle="#e5e7eb", colors=("#2563eb",), font_family="system-ui, -apple-system, Segoe UI, sans-serif",
    label_font_size=11, major_label_font_size=11, title_font_size=13, value_font_size=11, tooltip_font_size=11,
    stroke_opacity="1", stroke_opacity_hover="1", guide_stroke_color="#e5e7eb", major_guide_stroke_color="#e5e7eb",
    guide_stroke_dasharray="0", major_guide_stroke_dasharray="0",
)


def metric_svg(title: str, points: list[tuple[int, float]], *, width: int = 380, height: int = 210) -> str:
    """One metric over iterations: an `<svg>` element (no XML declaration) to put inline in HTML."""
    ys = [float(y) for _, y in points]
    magnitude = max((abs(y) for y in ys), default=0.0) or 1.0
    # pygal lays its y ticks by stepping from min to max in steps of 10**order, lowering the order until the range
    # holds a few steps; for a range at float precision (an IS weight of 1.0 and 0.9999999999999998) the step
    # vanishes beside the values and its loop never ends. Six orders below the values' magnitude is the finest scale.
    order_min = math.floor(math.log10(magnitude)) - 6
    lo, hi = min(ys, default=0.0), max(ys, default=0.0)
    flat = hi - lo < 10.0**order_min
    pad = 0.05 * magnitude
    chart = pygal.XY(
        range=(lo - pad, hi + pad) if flat else None, order_min=order_min,
        style=_STYLE, js=[], width=width, height=height, show_legend=False, dots_size=2.5 if len(points) < 40 else 0,
        stroke_style={"width": 2}, x_title="iteration", show_x_guides=False, show_y_guides=True, title=title,
        margin=8, explicit_size=False, print_values=False, truncate_label=-1, disable_xml_declaration=True,
        x_labels_major_count=6, show_minor_x_labels=False, y_labels_major_count=5, show_minor_y_labels=False,
    )
    chart.add(title, [(float(x), float(y)) for x, y in points])
    svg = chart.render(is_unicode=True)
    # Out go pygal's comments (links to its home page) and its config script (for its tooltip script, which js=[]
    # leaves out anyway): the report is static SVG.
    return re.sub(r"<!--.*?-->|<script\b.*?</script>", "", svg, flags=re.S)
