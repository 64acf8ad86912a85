"""The action space: Qwen3-VL's ``computer_use`` actions as typed values, and the 0..999 grid they live on.

Qwen3-VL was trained on GUI tasks with one tool, ``computer_use``, whose coordinates sit on a relative 0..999
grid (``x_px = x/999*W``). Each action kind is a frozen dataclass that knows its ``arguments`` object, its pixel
point for a given viewport, the reply the model would have written for it (``to_tool_call``) and a one-line
description for histories and views. Config, the browser env, the policy and the trainer all import this
package; it imports nothing of halo's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

GRID_MAX = 999
TOOL_NAME = "computer_use"
DEFAULT_WIDTH = 1280
DEFAULT_HEIGHT = 720
# Sanity bounds, so a sampled 1e300 never reaches Playwright.
MAX_SCROLL_PIXELS = 10_000
MAX_WAIT_S = 60.0
_DESCRIBE_TEXT_CHARS = 120

ACTION_KINDS: tuple[str, ...] = (
    "key", "type", "mouse_move", "left_click", "left_click_drag", "right_click", "middle_click",
    "double_click", "triple_click", "scroll", "hscroll", "wait", "terminate", "answer",
)

# ---------------------------------------------------------------------------------------------------
# Grid <-> pixels


def grid_to_px(v: float, size: int) -> int:
    """0..999 grid -> pixel. The result is kept inside the viewport, because 999 maps to ``size``, one past the
    last pixel.
    """
    return min(size - 1, max(0, round(v / GRID_MAX * size)))


def px_to_grid(px: float, size: int) -> int:
    """Pixel -> nearest grid cell, so that ``grid_to_px`` lands within a pixel of where it started."""
    return min(GRID_MAX, max(0, round(px * GRID_MAX / size)))


# ---------------------------------------------------------------------------------------------------
# Typed actions


@dataclass(frozen=True, kw_only=True)
class Action:
    """One ``computer_use`` call, for a viewport of ``width`` x ``height`` pixels.

    ``description`` is the model's own ``Action: ...`` text. Episode history shows it back to the model.
    ``clamped`` and ``warnings`` record what the parser repaired. They are not part of equality, so a
    repaired action equals its clean re-parse.
    """

    kind: ClassVar[str] = ""
    description: str = ""
    width: int = DEFAULT_WIDTH
    height: int = DEFAULT_HEIGHT
    clamped: bool = field(default=False, compare=False)
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def _args(self) -> dict[str, Any]:
        return {}

    def arguments(self) -> dict[str, Any]:
        """The canonical ``arguments`` object (integers on the grid). It validates against ``ARGUMENTS_SCHEMA``."""
        return {"action": self.kind, **self._args()}

    def to_pixels(self) -> tuple[int, int] | None:
        """Where in the viewport the action happens, or None when it has no point."""
        return None

    def to_tool_call(self) -> str:
        """The reply the model would have written for this action. ``parse_action`` inverts it."""
        call = json.dumps({"name": TOOL_NAME, "arguments": self.arguments()}, ensure_ascii=False)
        block = f"<tool_call>\n{call}\n</tool_call>"
        text = one_line(self.description)
        return f"Action: {text}\n{block}" if text else block

    def describe(self) -> str:
        """One line for the history shown to the model and for the replay TUI. Coordinates stay on the grid, as the
        model wrote them.
        """
        return self.kind

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able record for the run store. ``action_from_dict`` reads it back."""
        px = self.to_pixels()
        return {
            "kind": self.kind,
            "arguments": self.arguments(),
            "description": self.description,
            "viewport": [self.width, self.height],
            "pixels": list(px) if px is not None else None,
            "clamped": self.clamped,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, kw_only=True)
class PointerAction(Action):
    """An action at one grid point (x, y in 0..999)."""

    x: int
    y: int

    def __post_init__(self) -> None:
        _check_grid(self.x, self.y)

    @property
    def x_px(self) -> int:
        return grid_to_px(self.x, self.width)

    @property
    def y_px(self) -> int:
        return grid_to_px(self.y, self.height)

    def to_pixels(self) -> tuple[int, int]:
        return (self.x_px, self.y_px)

    def _args(self) -> dict[str, Any]:
        return {"coordinate": [self.x, self.y]}

    def describe(self) -> str:
        return f"{self.kind} at ({self.x}, {self.y})"


@dataclass(frozen=True, kw_only=True)
class MouseMove(PointerAction):
    kind: ClassVar[str] = "mouse_move"


@dataclass(frozen=True, kw_only=True)
class LeftClick(PointerAction):
    kind: ClassVar[str] = "left_click"


@dataclass(frozen=True, kw_only=True)
class RightClick(PointerAction):
    kind: ClassVar[str] = "right_click"


@dataclass(frozen=True, kw_only=True)
class MiddleClick(PointerAction):
    kind: ClassVar[str] = "middle_click"


@dataclass(frozen=True, kw_only=True)
class DoubleClick(PointerAction):
    kind: ClassVar[str] = "double_click"


@dataclass(frozen=True, kw_only=True)
class TripleClick(PointerAction):
    kind: ClassVar[str] = "triple_click"


@dataclass(frozen=True, kw_only=True)
class LeftClickDrag(PointerAction):
    """Drag to (x, y).

    In the cookbook the drag starts where the cursor is, so ``start`` is None. Replies that name a start
    (``coordinate`` + ``coordinate2`` as in the mobile ``swipe``, or ``start_coordinate``) set it.
    """

    kind: ClassVar[str] = "left_click_drag"
    start: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.start is not None:
            _check_grid(*self.start)

    def start_px(self) -> tuple[int, int] | None:
        if self.start is None:
            return None
        return (grid_to_px(self.start[0], self.width), grid_to_px(self.start[1], self.height))

    def _args(self) -> dict[str, Any]:
        if self.start is None:
            return {"coordinate": [self.x, self.y]}
        return {"coordinate": list(self.start), "coordinate2": [self.x, self.y]}

    def describe(self) -> str:
        origin = f" from ({self.start[0]}, {self.start[1]})" if self.start is not None else ""
        return f"{self.kind}{origin} to ({self.x}, {self.y})"


@dataclass(frozen=True, kw_only=True)
class Key(Action):
    """Presses ``keys`` together, in order, then releases them in reverse (e.g. ``("ctrl", "a")``)."""

    kind: ClassVar[str] = "key"
    keys: tuple[str, ...]

    def _args(self) -> dict[str, Any]:
        return {"keys": list(self.keys)}

    def describe(self) -> str:
        return f"key {'+'.join(self.keys)}"


@dataclass(frozen=True, kw_only=True)
class Type(Action):
    kind: ClassVar[str] = "type"
    text: str

    def _args(self) -> dict[str, Any]:
        return {"text": self.text}

    def describe(self) -> str:
        return f"type {_quote(self.text)}"


@dataclass(frozen=True, kw_only=True)
class Answer(Action):
    """The reply to an information-seeking task. Retrieval tasks are graded on it."""

    kind: ClassVar[str] = "answer"
    text: str

    def _args(self) -> dict[str, Any]:
        return {"text": self.text}

    def describe(self) -> str:
        return f"answer {_quote(self.text)}"


@dataclass(frozen=True, kw_only=True)
class Scroll(Action):
    """Vertical wheel scroll. Positive ``pixels`` scroll up, as the tool description says. The optional ``point``
    is where the wheel turns.
    """

    kind: ClassVar[str] = "scroll"
    pixels: float
    point: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.point is not None:
            _check_grid(*self.point)

    def to_pixels(self) -> tuple[int, int] | None:
        if self.point is None:
            return None
        return (grid_to_px(self.point[0], self.width), grid_to_px(self.point[1], self.height))

    def _args(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pixels": self.pixels}
        if self.point is not None:
            out["coordinate"] = list(self.point)
        return out

    def describe(self) -> str:
        where = f" at ({self.point[0]}, {self.point[1]})" if self.point is not None else ""
        return f"{self.kind} {_num(self.pixels)}{where}"


@dataclass(frozen=True, kw_only=True)
class HScroll(Scroll):
    """Horizontal scroll. Positive ``pixels`` scroll right (pyautogui's ``hscroll``). The tool description does not
    say.
    """

    kind: ClassVar[str] = "hscroll"


@dataclass(frozen=True, kw_only=True)
class Wait(Action):
    kind: ClassVar[str] = "wait"
    time: float

    def _args(self) -> dict[str, Any]:
        return {"time": self.time}

    def describe(self) -> str:
        return f"wait {_num(self.time)}s"


@dataclass(frozen=True, kw_only=True)
class Terminate(Action):
    kind: ClassVar[str] = "terminate"
    status: Literal["success", "failure"]

    def _args(self) -> dict[str, Any]:
        return {"status": self.status}

    def describe(self) -> str:
        return f"terminate {self.status}"


ACTION_TYPES: dict[str, type[Action]] = {
    cls.kind: cls
    for cls in (Key, Type, MouseMove, LeftClick, LeftClickDrag, RightClick, MiddleClick, DoubleClick,
                TripleClick, Scroll, HScroll, Wait, Terminate, Answer)
}


def _check_grid(x: int, y: int) -> None:
    """Direct construction (tests, tree search) gets the same invariant that the parser guarantees."""
    for v in (x, y):
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= GRID_MAX:
            raise ValueError(f"grid coordinates are integers in 0..{GRID_MAX}, got ({x!r}, {y!r})")


def one_line(text: str) -> str:
    return " ".join(text.split())


def _quote(text: str) -> str:
    short = text if len(text) <= _DESCRIBE_TEXT_CHARS else text[:_DESCRIBE_TEXT_CHARS] + "…"
    return json.dumps(short, ensure_ascii=False)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(v)


Region = tuple[int, int, int, int]  # x0, y0, x1, y1 on the grid, both ends included


def check_region(region: Sequence[int]) -> Region:
    """`region` as an (x0, y0, x1, y1) box, or ValueError saying what is wrong with it."""
    if len(region) != 4:
        raise ValueError(f"a region is 4 numbers x0, y0, x1, y1 on the 0..{GRID_MAX} grid, got {list(region)}")
    x0, y0, x1, y1 = (int(v) for v in region)
    if not (0 <= x0 <= x1 <= GRID_MAX and 0 <= y0 <= y1 <= GRID_MAX):
        raise ValueError(f"a region needs 0 <= x0 <= x1 <= {GRID_MAX} and 0 <= y0 <= y1 <= {GRID_MAX}, "
                         f"got {list(region)}")
    return x0, y0, x1, y1
