"""The ``computer_use`` action space, owned by no one feature: config, the browser env, the policy and the trainer
all import it downward, and it imports nothing of halo's.

``space`` holds the typed actions and the 0..999 grid, ``schema`` the tool as the model was shown it and the JSON
Schema of a valid call, ``parse`` the parser from model replies and stored records.
"""

from halo_cli.core.actions.parse import (
    MAX_REPLY_CHARS,
    ActionParseError,
    ParseFailure,
    action_from_dict,
    parse_action,
    parse_arguments,
)
from halo_cli.core.actions.schema import (
    ARGUMENTS_SCHEMA,
    COMPUTER_USE_TOOL,
    POINTER_KINDS,
    TOOL_CALL_SCHEMA,
)
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
    Region,
    RightClick,
    Scroll,
    Terminate,
    TripleClick,
    Type,
    Wait,
    check_region,
    grid_to_px,
    px_to_grid,
)

__all__ = [
    "ACTION_KINDS", "ACTION_TYPES", "ARGUMENTS_SCHEMA", "COMPUTER_USE_TOOL", "DEFAULT_HEIGHT", "DEFAULT_WIDTH",
    "GRID_MAX", "MAX_REPLY_CHARS", "MAX_SCROLL_PIXELS", "MAX_WAIT_S", "POINTER_KINDS", "TOOL_CALL_SCHEMA",
    "TOOL_NAME", "Action", "ActionParseError", "Answer", "DoubleClick", "HScroll", "Key", "LeftClick",
    "LeftClickDrag", "MiddleClick", "MouseMove", "ParseFailure", "PointerAction", "Region", "RightClick", "Scroll",
    "Terminate", "TripleClick", "Type", "Wait", "action_from_dict", "check_region", "grid_to_px", "parse_action",
    "parse_arguments", "px_to_grid",
]
