"""Where an action happened on its screenshot, and the screenshot with that place marked.

The marker is kept as fractions of the screenshot (0..1), so one marker serves every rendering: the terminal's
few dozen block characters, a graphics-protocol image at full size, and the SVG overlay of the HTML report.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

from halo_cli.core.actions import LeftClickDrag
from halo_cli.tui.format import stored_action

MARK = (255, 45, 85)  # the marker's colour: a red that stands out on white pages and on dark ones
HALO = (255, 255, 255)


@dataclass(frozen=True, slots=True)
class Marker:
    """Where an action points, as fractions of the screenshot's width and height; `start` for a drag's origin."""

    x: float
    y: float
    start: tuple[float, float] | None = None
    label: str = ""


def marker_of(action: Any) -> Marker | None:
    """The marker of a stored action (`Action.to_dict()`), or None for actions without a point (type, key, ...)."""
    typed = stored_action(action)
    if typed is None:
        return None
    px = typed.to_pixels()
    if px is None:
        return None
    w, h = max(1, typed.width), max(1, typed.height)
    start = None
    if isinstance(typed, LeftClickDrag):
        sp = typed.start_px()
        start = (sp[0] / w, sp[1] / h) if sp is not None else None
    return Marker(px[0] / w, px[1] / h, start, typed.describe())


def fit(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The largest size with the aspect ratio of `size` inside `box` (never larger than `size`)."""
    w, h = size
    scale = min(box[0] / w, box[1] / h, 1.0)
    return max(1, round(w * scale)), max(1, round(h * scale))


def marked(png: bytes, marker: Marker | None, box: tuple[int, int] | None = None) -> Image.Image:
    """The screenshot, shrunk to fit `box` pixels when given, with the marker drawn at that resolution.

    Drawn after shrinking, so that lines stay one pixel wide where a terminal shows two pixels per character
    cell: a crosshair through the whole picture (visible at any size), a ring and a dot at the point, and for a
    drag a line from its start.
    """
    img = Image.open(io.BytesIO(png)).convert("RGB")
    if box is not None:
        img = img.resize(fit(img.size, box), Image.Resampling.LANCZOS)
    if marker is None:
        return img
    w, h = img.size
    x, y = marker.x * (w - 1), marker.y * (h - 1)
    thin = max(1, round(min(w, h) / 360))
    r = max(2.0, min(w, h) * 0.035)
    overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.line([(0, y), (w, y)], fill=(*MARK, 110), width=thin)
    draw.line([(x, 0), (x, h)], fill=(*MARK, 110), width=thin)
    if marker.start is not None:
        sx, sy = marker.start[0] * (w - 1), marker.start[1] * (h - 1)
        draw.line([(sx, sy), (x, y)], fill=(*MARK, 255), width=thin * 2)
        draw.ellipse([sx - r / 2, sy - r / 2, sx + r / 2, sy + r / 2], outline=(*MARK, 255), width=thin)
    draw.ellipse([x - r - thin, y - r - thin, x + r + thin, y + r + thin], outline=(*HALO, 200), width=thin)
    draw.ellipse([x - r, y - r, x + r, y + r], outline=(*MARK, 255), width=thin * 2)
    dot = max(1.0, r / 4)
    draw.ellipse([x - dot, y - dot, x + dot, y + dot], fill=(*MARK, 255))
    return Image.alpha_composite(img.convert("RGBA"), overlay).convert("RGB")


def encoded(img: Image.Image, fmt: str = "PNG", quality: int = 80) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **({"quality": quality} if fmt == "JPEG" else {"optimize": True}))
    return buf.getvalue()
