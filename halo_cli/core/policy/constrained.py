"""Constrained sampling: a regular expression that only admits well-formed `computer_use` replies.

vLLM's structured outputs (`structured_outputs: {"regex": ...}`) then make every sample a valid action. The tiny
random model needs this, or it never emits a parseable action and RL has nothing to learn from; the real model
does not (it was trained on the format) and samples unconstrained by default.

The regex follows the canonical rendering of `Action.to_tool_call()`, so a constrained reply is also exactly what
the learner re-tokenises. Free-text fields are length-capped, which bounds the reply length.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from halo_cli.core.actions import ACTION_KINDS, GRID_MAX, TOOL_NAME

_POINTER = ("mouse_move", "left_click", "right_click", "middle_click", "double_click", "triple_click",
            "left_click_drag")
# 0..999 without leading zeros
_GRID_NUM = r"(?:0|[1-9][0-9]{0,2})"
_COORD = rf"\[{_GRID_NUM}, {_GRID_NUM}\]"
_KEY = r'"[A-Za-z0-9]{1,9}"'


def _text(max_chars: int) -> str:
    # printable ASCII without the characters JSON would escape
    return rf'"[ !#-\[\]-~]{{0,{max_chars}}}"'


def _arguments(kind: str, max_text: int) -> str:
    head = rf'\{{"action": "{kind}"'
    if kind in _POINTER:
        return rf"{head}, \"coordinate\": {_COORD}\}}"
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
    actions: Sequence[str] | None = None, *, max_description: int = 32, max_text: int = 32
) -> str:
    """The regex of a whole reply: `Action: <short text>` then one `<tool_call>` with a valid call.

    `actions` restricts the action kinds (all of them by default): a task that only needs clicks can say so.
    """
    kinds = list(actions) if actions else list(ACTION_KINDS)
    unknown = [k for k in kinds if k not in ACTION_KINDS]
    if unknown:
        raise ValueError(f"unknown action kinds {unknown} (known: {', '.join(ACTION_KINDS)})")
    args = "|".join(_arguments(k, max_text) for k in kinds)
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
