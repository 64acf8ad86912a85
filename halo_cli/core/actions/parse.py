"""The single gate between sampled text and the browser: a model reply (or a stored record) -> an ``Action``.

``parse_action`` raises ``ActionParseError`` and nothing else, whatever the input, because a sampled reply is
untrusted: an exception of any other type would kill a rollout instead of being counted as an invalid action.
It accepts the model's own ``Action: ...`` + ``<tool_call>{...}</tool_call>`` reply and the looser forms models
drift into (a bare arguments object, legacy pixel ``x``/``y``, code fences, a truncated brace, trailing commas),
and records what it repaired in ``Action.warnings``.

The module is one concept, the parser (text -> JSON object -> validated arguments -> Action), and is kept
whole so its repair rules read in order.
"""

from __future__ import annotations

import json
import math
import re
import reprlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from halo_cli.core.actions.schema import POINTER_KINDS
from halo_cli.core.actions.space import (
    ACTION_KINDS,
    ACTION_TYPES,
    DEFAULT_HEIGHT,
    DEFAULT_WIDTH,
    GRID_MAX,
    MAX_SCROLL_PIXELS,
    MAX_WAIT_S,
    TOOL_NAME,
    Action,
    Answer,
    DoubleClick,
    HScroll,
    Key,
    LeftClick,
    LeftClickDrag,
    MiddleClick,
    MouseMove,
    PointerAction,
    RightClick,
    Scroll,
    Terminate,
    TripleClick,
    Type,
    Wait,
    one_line,
    px_to_grid,
)

# Replies are at most a few hundred tokens. The cap bounds the work done on garbage.
MAX_REPLY_CHARS = 64_000
_MAX_JSON_STARTS = 16

ParseFailure = Literal[
    "not_text", "bad_viewport", "empty", "too_long", "no_json", "invalid_json", "no_tool_call", "wrong_tool",
    "invalid_arguments", "missing_action", "unknown_action", "missing_argument", "wrong_type",
    "not_finite", "bad_value",
]


class ActionParseError(ValueError):
    """A reply is not one valid ``computer_use`` call.

    ``reason`` is a stable code that metrics and the run store can count. ``detail`` says what was wrong,
    in words.
    """

    def __init__(self, reason: ParseFailure, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason: ParseFailure = reason
        self.detail = detail

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors travel between rollout worker processes. The default reduce would call __init__ with one argument.
        return (type(self), (self.reason, self.detail))



_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60


def _show(v: Any) -> str:
    """repr for error messages. It never raises: a 5000-digit int or a cyclic structure comes from the model too.
    """
    try:
        return _REPR.repr(v)
    except Exception:  # noqa: BLE001 - the message is best effort and must never mask the parse error
        return f"<{type(v).__name__}>"



def action_from_dict(data: Mapping[str, Any]) -> Action:
    """Rebuilds an action stored by ``to_dict``. A malformed record raises ActionParseError."""
    if not isinstance(data, Mapping):
        raise ActionParseError("wrong_type", f"a stored action must be an object, got {_show(data)}")
    viewport = data.get("viewport") or [DEFAULT_WIDTH, DEFAULT_HEIGHT]
    if not isinstance(viewport, (list, tuple)) or len(viewport) != 2:
        raise ActionParseError("bad_viewport", f"viewport must be [width, height], got {_show(viewport)}")
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise ActionParseError("wrong_type", f"description must be a string, got {_show(description)}")
    return parse_arguments(data.get("arguments"), viewport[0], viewport[1], description=description)


# ---------------------------------------------------------------------------------------------------
# Text -> JSON object


def parse_action(text: str, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT) -> Action:
    """Reads one action from a model reply (or from any of the looser forms listed below).

    Accepted: the model's own ``Action: ...`` + ``<tool_call>{...}</tool_call>`` reply, a bare
    ``{"name": "computer_use", "arguments": {...}}``, the arguments object alone, and the legacy pixel form
    ``{"action": "click", "x": px, "y": px}``. Also tolerated: code fences, prose around the JSON, a missing
    ``</tool_call>``, a truncated closing brace, and trailing commas. Raises ActionParseError and nothing else.
    """
    if not isinstance(text, str):
        raise ActionParseError("not_text", f"expected the reply as str, got {type(text).__name__}")
    _check_viewport(width, height)
    if len(text) > MAX_REPLY_CHARS:
        raise ActionParseError("too_long", f"reply has {len(text)} characters (limit {MAX_REPLY_CHARS})")
    if not text.strip():
        raise ActionParseError("empty", "the reply is empty")
    body, notes = _clean_reply(text)
    prefix, region = _split_call(body)
    obj, json_start, repair = _first_object(region)
    if repair:
        notes.append(f"repaired JSON ({repair})")
    if prefix is None:  # no <tool_call> tag: the description can only sit before the JSON
        prefix = region[:json_start]
    args = _call_arguments(obj)
    return parse_arguments(args, width, height, description=_description(prefix), notes=tuple(notes))


def _check_viewport(width: Any, height: Any) -> None:
    for v in (width, height):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            shown = _show((width, height))
            raise ActionParseError("bad_viewport", f"viewport must be positive integers, got {shown}")


_TOOL_OPEN = re.compile(r"<tool_call>", re.IGNORECASE)
_TOOL_CLOSE = re.compile(r"</tool_call>", re.IGNORECASE)
_FENCE = "```"
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_THINK_END = "</think>"


def _clean_reply(text: str) -> tuple[str, list[str]]:
    """Drops a leading reasoning block and notes extra calls.

    Code fences need no handling: decoding starts at the first ``{`` and stops at the end of the object.
    """
    notes: list[str] = []
    end = text.find(_THINK_END)
    if end >= 0 and end < _call_start(text):
        text = text[end + len(_THINK_END):]
    calls = len(_TOOL_OPEN.findall(text))
    if calls > 1:
        notes.append(f"used the first of {calls} tool calls")
    return text, notes


def _call_start(text: str) -> int:
    """Where the call begins: the <tool_call> tag, else the first brace. A ``</think>`` inside the call's JSON is
    text, not the end of reasoning.
    """
    opened = _TOOL_OPEN.search(text)
    if opened is not None:
        return opened.start()
    brace = text.find("{")
    return brace if brace >= 0 else len(text)


def _split_call(body: str) -> tuple[str | None, str]:
    """(text before <tool_call>, text after it). Returns (None, body) when there is no tag.

    The region is not cut at ``</tool_call>``: a typed text may contain that string, and the JSON decoder
    finds the end of the object by itself.
    """
    opened = _TOOL_OPEN.search(body)
    if opened is None:
        return None, body
    return body[: opened.start()], body[opened.end():]


def _first_object(region: str) -> tuple[dict[str, Any], int, str]:
    """The first JSON object in ``region`` that looks like a call, with its start and the repair used, if any."""
    decoded_any = False
    start = region.find("{")
    for _ in range(_MAX_JSON_STARTS):
        if start < 0:
            break
        for repair, candidate in _repairs(region[start:]):
            obj = _decode(candidate)
            if isinstance(obj, dict):
                decoded_any = True
                if _looks_like_call(obj):
                    return obj, start, repair
                break
        start = region.find("{", start + 1)
    if decoded_any:
        raise ActionParseError("no_tool_call", "found JSON, but no object with 'name'/'arguments' or 'action'")
    if region.find("{") >= 0:
        raise ActionParseError("invalid_json", "the reply has a '{' but no JSON object decodes from it")
    raise ActionParseError("no_json", "found no JSON object in the reply")


def _repairs(candidate: str) -> Iterator[tuple[str, str]]:
    """Cheap fixes for the two ways sampled JSON usually breaks: trailing commas, and truncation at the end.

    Repairs work on the text up to the closing tag or code fence, since a brace appended after those could never
    close the object.
    """
    yield "", candidate
    cut = _cut_at_close(candidate)
    uncommaed = _TRAILING_COMMA.sub(r"\1", cut)
    if uncommaed != cut:
        yield "trailing comma", uncommaed
    yield "closing brace", uncommaed.rstrip() + "}"
    yield "closing braces", uncommaed.rstrip() + "}}"


def _cut_at_close(candidate: str) -> str:
    closed = _TOOL_CLOSE.search(candidate)
    end = closed.start() if closed else len(candidate)
    fence = candidate.find(_FENCE, 0, end)
    return candidate[: fence if fence >= 0 else end]


# strict=False: sampled strings sometimes hold raw newlines, which JSON forbids but the meaning is plain.
_DECODER = json.JSONDecoder(strict=False)


def _decode(candidate: str) -> Any:
    """The first JSON value at the start of ``candidate``. Trailing text is allowed. Returns None when nothing
    decodes.
    """
    try:
        return _DECODER.raw_decode(candidate)[0]
    # ValueError also covers ints over Python's digit limit. RecursionError comes from deeply nested junk.
    except (ValueError, RecursionError):
        return None


def _looks_like_call(obj: dict[str, Any]) -> bool:
    return any(k in obj for k in ("name", "arguments", "action", "function"))


def _description(prefix: str) -> str:
    """The ``Action: ...`` text before the call, if the reply has one."""
    for line in prefix.splitlines():
        head = line.strip().lstrip("0123456789).*#>-_ \t")
        if head[:6].lower() != "action":
            continue
        rest = head[6:].lstrip("*_ \t")
        if rest.startswith(":"):
            return one_line(rest[1:].strip("*_ \t"))
    return ""


def _call_arguments(obj: dict[str, Any]) -> Any:
    """Unwraps ``{"name", "arguments"}`` (and the OpenAI ``function`` wrapper). The arguments object alone passes
    through.
    """
    if isinstance(obj.get("function"), dict) and "action" not in obj:
        obj = obj["function"]
    if "action" in obj and "arguments" not in obj:
        return obj
    name = obj.get("name")
    if name != TOOL_NAME:
        raise ActionParseError("wrong_tool", f"the only tool is {TOOL_NAME!r}, got name {_show(name)}")
    args = obj.get("arguments", obj.get("parameters"))
    if isinstance(args, str):  # OpenAI tool_calls carry arguments as a JSON string
        decoded = _decode(args.strip())
        if not isinstance(decoded, dict):
            raise ActionParseError("invalid_arguments", f"arguments string is not a JSON object: {_show(args)}")
        args = decoded
    return args


# ---------------------------------------------------------------------------------------------------
# Arguments object -> Action

_LEGACY_ALIASES = {
    "click": "left_click", "dblclick": "double_click", "doubleclick": "double_click", "rightclick": "right_click",
    "hover": "mouse_move", "move": "mouse_move", "press": "key", "keypress": "key", "hotkey": "key",
    "done": "terminate", "finish": "terminate", "stop": "terminate", "sleep": "wait", "drag": "left_click_drag",
}
_ALLOWED_KEYS: dict[str, frozenset[str]] = {
    **{k: frozenset({"coordinate"}) for k in POINTER_KINDS},
    "left_click_drag": frozenset({"coordinate", "coordinate2", "start_coordinate"}),
    "key": frozenset({"keys"}),
    "type": frozenset({"text"}),
    "answer": frozenset({"text"}),
    "scroll": frozenset({"pixels", "coordinate"}),
    "hscroll": frozenset({"pixels", "coordinate"}),
    "wait": frozenset({"time"}),
    "terminate": frozenset({"status"}),
}


@dataclass
class _Notes:
    """What the parser repaired on the way. It ends up as ``Action.warnings`` / ``Action.clamped``."""

    warnings: list[str] = field(default_factory=list)
    clamped: bool = False

    def clamp(self, what: str, raw: Any, kept: Any) -> None:
        self.clamped = True
        self.warnings.append(f"clamped {what} {_show(raw)} to {_show(kept)}")


def parse_arguments(
    args: Any,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    *,
    description: str = "",
    notes: tuple[str, ...] = (),
) -> Action:
    """Validates one ``arguments`` object (e.g. from an OpenAI ``tool_calls`` entry) into an Action."""
    _check_viewport(width, height)
    if not isinstance(args, dict):
        raise ActionParseError("invalid_arguments", f"arguments must be a JSON object, got {_show(args)}")
    log = _Notes(warnings=list(notes))
    args = _normalize_legacy(args, width, height, log)
    kind = args["action"]
    unknown = sorted(str(k) for k in args if k != "action" and k not in _ALLOWED_KEYS[kind])
    if unknown:
        log.warnings.append(f"ignored arguments {unknown}")
    common = {"description": description, "width": width, "height": height}
    action = _BUILDERS[kind](args, log, common)
    return _with_notes(action, log)


def _with_notes(action: Action, log: _Notes) -> Action:
    # object.__setattr__ on a fresh frozen instance is the dataclass-sanctioned way to fill derived fields.
    object.__setattr__(action, "clamped", log.clamped)
    object.__setattr__(action, "warnings", tuple(log.warnings))
    return action


def _action_name(args: dict[str, Any], log: _Notes) -> str:
    if "action" not in args:
        raise ActionParseError("missing_action", "arguments have no 'action'")
    name = args["action"]
    if not isinstance(name, str):
        raise ActionParseError("wrong_type", f"'action' must be a string, got {_show(name)}")
    if name in ACTION_TYPES:
        return name
    folded = name.strip().lower()
    canonical = _LEGACY_ALIASES.get(folded, folded)
    if canonical not in ACTION_TYPES:
        raise ActionParseError("unknown_action", f"{_show(name)} is not one of {', '.join(ACTION_KINDS)}")
    log.warnings.append(f"read action {_show(name)} as {canonical!r}")
    return canonical


def _normalize_legacy(args: dict[str, Any], width: int, height: int, log: _Notes) -> dict[str, Any]:
    """Rewrites the older plain-JSON dialect (pixel ``x``/``y``, ``key``, ``done`` ...) into canonical arguments.
    """
    kind = _action_name(args, log)
    legacy_done = str(args["action"]).strip().lower() in ("done", "finish", "stop")
    out = dict(args)
    out["action"] = kind
    if "coordinate" not in out and ("x" in out or "y" in out):
        out["coordinate"] = _pixel_point_to_grid(out.pop("x", None), out.pop("y", None), width, height, log)
    if kind == "key" and "keys" not in out and "key" in out:
        out["keys"] = out.pop("key")
    if legacy_done and "status" not in out:
        out["status"] = "success"
    if kind == "wait" and "time" not in out and "seconds" in out:
        out["time"] = out.pop("seconds")
    if kind == "answer" and "text" not in out and "answer" in out:
        out["text"] = out.pop("answer")
    if kind == "scroll" and "pixels" not in out and "direction" in out:
        _legacy_scroll(out, log)
    return out


_LEGACY_SCROLL_PIXELS = 300
_DIRECTIONS = {"up": ("scroll", 1), "down": ("scroll", -1), "left": ("hscroll", -1), "right": ("hscroll", 1)}


def _legacy_scroll(out: dict[str, Any], log: _Notes) -> None:
    """``{"action": "scroll", "direction": "down", "amount": 300}`` -> scroll/hscroll with signed pixels."""
    direction = out.pop("direction")
    if not isinstance(direction, str) or direction.lower() not in _DIRECTIONS:
        raise ActionParseError("bad_value", f"scroll direction must be up/down/left/right, got {_show(direction)}")
    amount = _finite(out.pop("amount", _LEGACY_SCROLL_PIXELS), "amount")
    out["action"], sign = _DIRECTIONS[direction.lower()]
    out["pixels"] = sign * abs(amount)
    log.warnings.append(f"read scroll direction {direction!r} as pixels {_show(out['pixels'])}")


def _pixel_point_to_grid(x: Any, y: Any, width: int, height: int, log: _Notes) -> list[int]:
    """Legacy x/y are viewport pixels. They are clamped to the viewport before any arithmetic, so a huge int never
    overflows a float.
    """
    if x is None or y is None:
        raise ActionParseError("missing_argument", "pixel coordinates need both 'x' and 'y'")
    point = []
    for name, v, size in (("x", x, width), ("y", y, height)):
        v = _finite(v, name)
        kept = min(max(v, 0), size)
        if kept != v:
            log.clamp(f"pixel {name}", v, kept)
        point.append(px_to_grid(kept, size))
    log.warnings.append("read pixel x/y as grid coordinate")
    return point


def _finite(v: Any, name: str) -> int | float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ActionParseError("wrong_type", f"{name!r} must be a number, got {_show(v)}")
    if isinstance(v, float) and not math.isfinite(v):
        raise ActionParseError("not_finite", f"{name!r} must be finite, got {v!r}")
    return v


def _required(args: dict[str, Any], key: str, kind: str) -> Any:
    if key not in args:
        raise ActionParseError("missing_argument", f"action {kind!r} needs {key!r}")
    return args[key]


def _grid_value(v: Any, name: str, log: _Notes) -> int:
    r = round(_finite(v, name))
    kept = min(max(r, 0), GRID_MAX)
    if kept != r:
        log.clamp(f"{name} (grid 0..{GRID_MAX})", v, kept)
    return kept


def _grid_point(v: Any, name: str, log: _Notes) -> tuple[int, int]:
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise ActionParseError("wrong_type", f"{name!r} must be [x, y] on the 0..{GRID_MAX} grid, got {_show(v)}")
    return (_grid_value(v[0], f"{name}.x", log), _grid_value(v[1], f"{name}.y", log))


def _bounded(v: Any, name: str, low: float, high: float, log: _Notes) -> int | float:
    n = _finite(v, name)
    kept = min(max(n, low), high)
    if kept != n:
        log.clamp(name, n, kept)
        return kept
    return n


def _string(args: dict[str, Any], key: str, kind: str) -> str:
    v = _required(args, key, kind)
    if not isinstance(v, str):
        raise ActionParseError("wrong_type", f"{key!r} of {kind!r} must be a string, got {_show(v)}")
    return v


def _keys(v: Any, log: _Notes) -> tuple[str, ...]:
    if isinstance(v, str):  # "ctrl+a": a common slip for ["ctrl", "a"]
        log.warnings.append(f"split key string {_show(v)}")
        v = [v] if v.strip() == "+" else v.split("+")
    if not isinstance(v, (list, tuple)):
        raise ActionParseError("wrong_type", f"'keys' must be a list of key names, got {_show(v)}")
    keys = tuple(k.strip() if isinstance(k, str) else k for k in v)
    if not keys or not all(isinstance(k, str) and k for k in keys):
        raise ActionParseError("bad_value", f"'keys' must be non-empty key names, got {_show(v)}")
    return keys


_POINTER_TYPES: dict[str, type[PointerAction]] = {
    c.kind: c for c in (MouseMove, LeftClick, RightClick, MiddleClick, DoubleClick, TripleClick)
}
_TEXT_TYPES: dict[str, type[Type] | type[Answer]] = {"type": Type, "answer": Answer}
_SCROLL_TYPES: dict[str, type[Scroll]] = {"scroll": Scroll, "hscroll": HScroll}
_Builder = Callable[[dict[str, Any], "_Notes", dict[str, Any]], Action]


def _build_pointer(args: dict[str, Any], log: _Notes, common: dict[str, Any]) -> Action:
    kind = args["action"]
    x, y = _grid_point(_required(args, "coordinate", kind), "coordinate", log)
    return _POINTER_TYPES[kind](x=x, y=y, **common)


def _build_drag(args: dict[str, Any], log: _Notes, common: dict[str, Any]) -> Action:
    if "coordinate2" in args:
        start = _grid_point(_required(args, "coordinate", "left_click_drag"), "coordinate", log)
        end = _grid_point(args["coordinate2"], "coordinate2", log)
    else:
        end = _grid_point(_required(args, "coordinate", "left_click_drag"), "coordinate", log)
        start = None
        if "start_coordinate" in args:
            start = _grid_point(args["start_coordinate"], "start_coordinate", log)
    return LeftClickDrag(x=end[0], y=end[1], start=start, **common)


def _build_key(args: dict[str, Any], log: _Notes, common: dict[str, Any]) -> Action:
    return Key(keys=_keys(_required(args, "keys", "key"), log), **common)


def _build_text(args: dict[str, Any], log: _Notes, common: dict[str, Any]) -> Action:
    kind = args["action"]
    return _TEXT_TYPES[kind](text=_string(args, "text", kind), **common)


def _build_scroll(args: dict[str, Any], log: _Notes, common: dict[str, Any]) -> Action:
    kind = args["action"]
    pixels = _bounded(_required(args, "pixels", kind), "pixels", -MAX_SCROLL_PIXELS, MAX_SCROLL_PIXELS, log)
    point = _grid_point(args["coordinate"], "coordinate", log) if args.get("coordinate") is not None else None
    return _SCROLL_TYPES[kind](pixels=pixels, point=point, **common)


def _build_wait(args: dict[str, Any], log: _Notes, common: dict[str, Any]) -> Action:
    return Wait(time=_bounded(_required(args, "time", "wait"), "time", 0, MAX_WAIT_S, log), **common)


def _build_terminate(args: dict[str, Any], log: _Notes, common: dict[str, Any]) -> Action:
    status = _string(args, "status", "terminate")
    if status not in ("success", "failure"):
        raise ActionParseError("bad_value", f"terminate status must be success or failure, got {_show(status)}")
    return Terminate(status=status, **common)  # type: ignore[arg-type]  # narrowed by the check above


_BUILDERS: dict[str, _Builder] = {
    **{k: _build_pointer for k in POINTER_KINDS},
    "left_click_drag": _build_drag,
    "key": _build_key,
    "type": _build_text,
    "answer": _build_text,
    "scroll": _build_scroll,
    "hscroll": _build_scroll,
    "wait": _build_wait,
    "terminate": _build_terminate,
}

