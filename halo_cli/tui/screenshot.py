"""The screenshot of a step with its action marked: terminal graphics (Sixel, Kitty's protocol) where the terminal
answers for them, coloured half blocks (two pixels per character cell) everywhere else.

Graphics come from `textual-image`, a maintained library that asks the terminal what it supports (once, before
Textual takes the terminal over, hence the import at module load) and renders Sixel, Kitty's Terminal Graphics
Protocol or half blocks behind one Textual widget. In half-block mode the picture is shrunk to the widget's cells
before the marker is drawn, so the marker keeps one-pixel lines instead of being blurred away.
"""

from __future__ import annotations

from typing import Literal

from PIL import Image
from textual.app import ComposeResult
from textual.containers import Center, Vertical
from textual.widgets import Static
from textual_image.renderable import Image as DetectedRenderable
from textual_image.renderable.halfcell import Image as HalfcellRenderable
from textual_image.renderable.unicode import Image as UnicodeRenderable
from textual_image.widget import HalfcellImage
from textual_image.widget import Image as GraphicsImage

from halo_cli.tui.shots import Marker, marked

GraphicsMode = Literal["auto", "blocks"]


def uses_graphics(mode: GraphicsMode) -> bool:
    """Whether screenshots go out as terminal graphics: asked for, and the terminal said it has them."""
    return mode == "auto" and DetectedRenderable not in (HalfcellRenderable, UnicodeRenderable)


class Screenshot(Vertical):
    """A caption line over the marked screenshot; `show` replaces both."""

    DEFAULT_CSS = """
    Screenshot { height: 1fr; width: 1fr; }
    Screenshot > .caption { height: 2; width: 1fr; color: $text-muted; }
    Screenshot > Center { height: 1fr; width: 1fr; }
    Screenshot .picture { width: auto; height: auto; }
    Screenshot > .empty { height: 1fr; content-align: center middle; color: $text-muted; }
    """

    def __init__(self, graphics: GraphicsMode = "auto", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.graphics = uses_graphics(graphics)
        self._png: bytes | None = None
        self._marker: Marker | None = None
        self._fitted_to: tuple[int, int] | None = None

    def compose(self) -> ComposeResult:
        yield Static("", classes="caption", markup=False)
        with Center():
            yield (GraphicsImage if self.graphics else HalfcellImage)(classes="picture")

    def show(self, png: bytes | None, marker: Marker | None, caption: str = "") -> None:
        self.query_one(".caption", Static).update(caption)
        if png == self._png and marker == self._marker:
            return
        self._png, self._marker, self._fitted_to = png, marker, None
        self._render_picture()

    def on_resize(self) -> None:
        self._render_picture()

    def _render_picture(self) -> None:
        box = self._box()
        if box == self._fitted_to and self._png is not None:
            return
        picture = self.query_one(".picture")
        if self._png is None or box is None:
            picture.image = None  # type: ignore[attr-defined]
            return
        self._fitted_to = box
        img: Image.Image = marked(self._png, self._marker, None if self.graphics else box)
        picture.image = img  # type: ignore[attr-defined]

    def _box(self) -> tuple[int, int] | None:
        """The picture's room in pixels as half blocks count them: a cell is one pixel wide and two high."""
        center = self.query_one(Center)
        w, h = center.size.width, center.size.height
        if w <= 0 or h <= 0:
            return None
        return w, h * 2
