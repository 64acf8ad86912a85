"""The ``computer_use`` tool as the model was shown it, and the JSON Schema of a valid call.

``COMPUTER_USE_TOOL`` goes into the system prompt with the wording Qwen3-VL saw in training: a private dialect
would spend the RL signal on re-teaching the format. ``ARGUMENTS_SCHEMA`` / ``TOOL_CALL_SCHEMA`` are stricter
than what the model was shown (integers on the grid, bounded scrolls and waits) and drive constrained decoding.
"""

from __future__ import annotations

from typing import Any

from halo_cli.core.actions.space import (
    ACTION_KINDS,
    GRID_MAX,
    MAX_SCROLL_PIXELS,
    MAX_WAIT_S,
    TOOL_NAME,
)

_TOOL_DESCRIPTION = "\n".join([
    "Use a mouse and keyboard to interact with a computer, and take screenshots.",
    "* This is an interface to a desktop GUI. You do not have access to a terminal or applications menu. "
    "You must click on desktop icons to start applications.",
    "* Some applications may take time to start or process actions, so you may need to wait and take "
    "successive screenshots to see the results of your actions. E.g. if you click on Firefox and a window "
    "doesn't open, try wait and taking another screenshot.",
    "* The screen's resolution is 1000x1000.",
    "* Whenever you intend to move the cursor to click on an element like an icon, you should consult a "
    "screenshot to determine the coordinates of the element before moving the cursor.",
    "* If you tried clicking on a program or link but it failed to load even after waiting, try adjusting "
    "your cursor position so that the tip of the cursor visually falls on the element that you want to click.",
    "* Make sure to click any buttons, links, icons, etc with the cursor tip in the center of the element. "
    "Don't click boxes on their edges unless asked.",
])

_ACTION_PARAM_DESCRIPTION = "\n".join([
    "The action to perform. The available actions are:",
    "* `key`: Performs key down presses on the arguments passed in order, then performs key releases in reverse order.",
    "* `type`: Type a string of text on the keyboard.",
    "* `mouse_move`: Move the cursor to a specified (x, y) pixel coordinate on the screen.",
    "* `left_click`: Click the left mouse button at a specified (x, y) pixel coordinate on the screen.",
    "* `left_click_drag`: Click and drag the cursor to a specified (x, y) pixel coordinate on the screen.",
    "* `right_click`: Click the right mouse button at a specified (x, y) pixel coordinate on the screen.",
    "* `middle_click`: Click the middle mouse button at a specified (x, y) pixel coordinate on the screen.",
    "* `double_click`: Double-click the left mouse button at a specified (x, y) pixel coordinate on the screen.",
    "* `triple_click`: Triple-click the left mouse button at a specified (x, y) pixel coordinate on the screen "
    "(simulated as double-click since it's the closest action).",
    "* `scroll`: Performs a scroll of the mouse scroll wheel.",
    "* `hscroll`: Performs a horizontal scroll (mapped to regular scroll).",
    "* `wait`: Wait specified seconds for the change to happen.",
    "* `terminate`: Terminate the current task and report its completion status.",
    "* `answer`: Answer a question.",
])

# The OpenAI tool form, with the wording the model saw in training. The description and action list come
# from OSWorld's relative-coordinate Qwen3-VL agent; the parameter texts come from Qwen's cookbook ComputerUse.
COMPUTER_USE_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": _TOOL_DESCRIPTION,
        "parameters": {
            "properties": {
                "action": {"description": _ACTION_PARAM_DESCRIPTION, "enum": list(ACTION_KINDS), "type": "string"},
                "keys": {"description": "Required only by `action=key`.", "type": "array"},
                "text": {"description": "Required only by `action=type` and `action=answer`.", "type": "string"},
                "coordinate": {
                    "description": "(x, y): The x (pixels from the left edge) and y (pixels from the top edge) "
                    "coordinates to move the mouse to.",
                    "type": "array",
                },
                "pixels": {
                    "description": "The amount of scrolling to perform. Positive values scroll up, negative values "
                    "scroll down. Required only by `action=scroll` and `action=hscroll`.",
                    "type": "number",
                },
                "time": {"description": "The seconds to wait. Required only by `action=wait`.", "type": "number"},
                "status": {
                    "description": "The status of the task. Required only by `action=terminate`.",
                    "type": "string",
                    "enum": ["success", "failure"],
                },
            },
            "required": ["action"],
            "type": "object",
        },
    },
}


def _schema_branch(kind: str, props: dict[str, Any], required: tuple[str, ...]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"action": {"const": kind}, **props},
        "required": ["action", *required],
        "additionalProperties": False,
    }


_COORD_SCHEMA = {
    "type": "array", "items": {"type": "integer", "minimum": 0, "maximum": GRID_MAX}, "minItems": 2, "maxItems": 2,
}
_SCROLL_PROPS = {
    "pixels": {"type": "number", "minimum": -MAX_SCROLL_PIXELS, "maximum": MAX_SCROLL_PIXELS},
    "coordinate": _COORD_SCHEMA,
}
POINTER_KINDS = ("mouse_move", "left_click", "right_click", "middle_click", "double_click", "triple_click")

# What a *valid* ``arguments`` object is. This is stricter than what the model was shown, and it can drive
# constrained decoding (vLLM structured outputs) of the JSON inside <tool_call>.
ARGUMENTS_SCHEMA: dict[str, Any] = {
    "anyOf": [
        *(_schema_branch(k, {"coordinate": _COORD_SCHEMA}, ("coordinate",)) for k in POINTER_KINDS),
        _schema_branch(
            "left_click_drag", {"coordinate": _COORD_SCHEMA, "coordinate2": _COORD_SCHEMA}, ("coordinate",)
        ),
        _schema_branch(
            "key", {"keys": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}}, ("keys",)
        ),
        _schema_branch("type", {"text": {"type": "string"}}, ("text",)),
        _schema_branch("answer", {"text": {"type": "string"}}, ("text",)),
        _schema_branch("scroll", _SCROLL_PROPS, ("pixels",)),
        _schema_branch("hscroll", _SCROLL_PROPS, ("pixels",)),
        _schema_branch("wait", {"time": {"type": "number", "minimum": 0, "maximum": MAX_WAIT_S}}, ("time",)),
        _schema_branch("terminate", {"status": {"enum": ["success", "failure"]}}, ("status",)),
    ]
}

TOOL_CALL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"const": TOOL_NAME}, "arguments": ARGUMENTS_SCHEMA},
    "required": ["name", "arguments"],
    "additionalProperties": False,
}

