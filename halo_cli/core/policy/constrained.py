"""Constrained sampling: a regular expression that only admits well-formed `computer_use` replies.

vLLM's structured outputs (`structured_outputs: {"regex": ...}`) then make every sample a valid action. The tiny
random model needs this, or it never emits a parseable action and RL has nothing to learn from; the real model
does not (it was trained on the format) and samples unconstrained by default.

The regex follows the canonical rendering of `Action.to_tool_call()`, so a constrained reply is also exactly what
the learner re-tokenises. Free-text fields are length-capped, which bounds the reply length.

A region (`grpo.constrained_region`, a box on the 0..999 grid) further keeps every pointer coordinate inside the box:
on a page whose targets are small, the untrained model's clicks can then land on them often enough for RL or tree
search to have something to compare. The box is written as integer-range regexes (`grid_range_regex`), so the
grammar, not a post-hoc clamp, decides: the learner rebuilds the very same masks from the same regex.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from halo_cli.core.actions import ACTION_KINDS, GRID_MAX, TOOL_NAME, Region, check_region

_POINTER = ("mouse_move", "left_click", "right_click", "middle_click", "double_click", "triple_click",
            "left_click_drag")
# 0..999 without leading zeros
_GRID_NUM = r"(?:0|[1-9][0-9]{0,2})"
_COORD = rf"\[{_GRID_NUM}, {_GRID_NUM}\]"
_KEY = r'"[A-Za-z0-9]{1,9}"'


def _text(max_chars: int) -> str:
    # printable ASCII without the characters JSON would escape
    return rf'"[ !#-\[\]-~]{{0,{max_chars}}}"'


def _digits_range(lo: str, hi: str) -> str:
    """A regex of the digit strings from `lo` to `hi`, both of the same length (leading zeros allowed)."""
    if lo == hi:
        return lo
    if len(lo) == 1:
        return f"[{lo}-{hi}]"
    rest = len(lo) - 1
    if lo[1:] == "0" * rest and hi[1:] == "9" * rest:
        return f"[{lo[0]}-{hi[0]}][0-9]{{{rest}}}"
    if lo[0] == hi[0]:
        return lo[0] + _digits_range(lo[1:], hi[1:])
    parts = [lo[0] + _digits_range(lo[1:], "9" * rest)]
    if int(hi[0]) - int(lo[0]) > 1:
        parts.append(f"[{int(lo[0]) + 1}-{int(hi[0]) - 1}][0-9]{{{rest}}}")
    parts.append(hi[0] + _digits_range("0" * rest, hi[1:]))
    return "(?:" + "|".join(parts) + ")"


def grid_range_regex(lo: int, hi: int) -> str:
    """A regex of exactly the integers `lo..hi` (inclusive) written without leading zeros, as `_GRID_NUM` writes
    them. Split by number of digits, then digit by digit: 240..760 becomes 24x-29x, 3xx-6xx, 70x-75x and 760.
    """
    if not 0 <= lo <= hi <= GRID_MAX:
        raise ValueError(f"a grid range needs 0 <= lo <= hi <= {GRID_MAX}, got {lo}..{hi}")
    parts = []
    for digits in range(1, len(str(GRID_MAX)) + 1):
        first, last = (0 if digits == 1 else 10 ** (digits - 1)), 10**digits - 1
        a, b = max(lo, first), min(hi, last)
        if a <= b:
            parts.append(_digits_range(str(a), str(b)))
    return "(?:" + "|".join(parts) + ")"


def _coordinate(region: Region | None) -> str:
    if region is None:
        return _COORD
    x0, y0, x1, y1 = region
    return rf"\[{grid_range_regex(x0, x1)}, {grid_range_regex(y0, y1)}\]"


def _arguments(kind: str, max_text: int, region: Region | None = None) -> str:
    head = rf'\{{"action": "{kind}"'
    if kind in _POINTER:
        return rf"{head}, \"coordinate\": {_coordinate(region)}\}}"
    if kind == "key":
        return rf"{head}, \"keys\": \[{_KEY}(?:, {_KEY}){{0,2}}\]\}}"
    if kind in ("type", "answer"):
        return rf"{head}, \"text\": {_text(max_text)}\}}"
    if kind in ("scroll", "hscroll"):
        return rf"{head}, \"pixels\": -?[1-9][0-9]{{0,3}}\}}"
    if kind == "wait":
        return rf"{head}, \"time\": [1-9]\}}"
    if kind == "terminate":
        return rf'{head}, "status": "(?:success|failure)"\}}'
    raise ValueError(f"unknown action kind {kind!r}")


def tool_call_regex(
    actions: Sequence[str] | None = None, *, max_description: int = 32, max_text: int = 32,
    region: Sequence[int] | None = None,
) -> str:
    """The regex of a whole reply: `Action: <short text>` then one `<tool_call>` with a valid call.

    `actions` restricts the action kinds (all of them by default): a task that only needs clicks can say so.
    `region` (x0, y0, x1, y1 on the 0..999 grid) keeps every pointer coordinate inside that box.
    """
    box = check_region(region) if region is not None else None
    kinds = list(actions) if actions else list(ACTION_KINDS)
    unknown = [k for k in kinds if k not in ACTION_KINDS]
    if unknown:
        raise ValueError(f"unknown action kinds {unknown} (known: {', '.join(ACTION_KINDS)})")
    args = "|".join(_arguments(k, max_text, box) for k in kinds)
    description = rf"[A-Za-z0-9 ,.'-]{{1,{max_description}}}"
    return (
        rf"Action: {description}\n<tool_call>\n"
        rf'\{{"name": "{TOOL_NAME}", "arguments": (?:{args})\}}'
        r"\n</tool_call>"
    )


def matches(regex: str, reply: str) -> bool:
    """Whether a reply is one the constrained sampler could have produced (tests and sanity checks)."""
    return re.fullmatch(regex, reply) is not None


assert GRID_MAX == 999, "_GRID_NUM assumes a 0..999 grid"
