"""The computer_use action space: every kind, every accepted form, every failure reason, and fuzzing that
shows a sampled reply can only ever yield an Action or an ActionParseError."""

from __future__ import annotations

import functools
import json
import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from halo_cli.core.actions import (
    ACTION_KINDS,
    ACTION_TYPES,
    ARGUMENTS_SCHEMA,
    COMPUTER_USE_TOOL,
    GRID_MAX,
    MAX_REPLY_CHARS,
    MAX_SCROLL_PIXELS,
    MAX_WAIT_S,
    TOOL_CALL_SCHEMA,
    Action,
    ActionParseError,
    Answer,
    DoubleClick,
    HScroll,
    Key,
    LeftClick,
    LeftClickDrag,
    MiddleClick,
    MouseMove,
    RightClick,
    Scroll,
    Terminate,
    TripleClick,
    Type,
    Wait,
    action_from_dict,
    grid_to_px,
    parse_action,
    parse_arguments,
    px_to_grid,
)

FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROPERTY = settings(max_examples=400, deadline=None)


def reply(args: dict, description: str = "Do it.") -> str:
    """A reply in the exact shape Qwen3-VL writes."""
    call = json.dumps({"name": "computer_use", "arguments": args})
    return f"Action: {description}\n<tool_call>\n{call}\n</tool_call>"


# One example per kind: (arguments, expected action at 1280x720).
CASES: list[tuple[dict, Action]] = [
    ({"action": "key", "keys": ["ctrl", "a"]}, Key(keys=("ctrl", "a"))),
    ({"action": "type", "text": "hello"}, Type(text="hello")),
    ({"action": "mouse_move", "coordinate": [10, 20]}, MouseMove(x=10, y=20)),
    ({"action": "left_click", "coordinate": [512, 300]}, LeftClick(x=512, y=300)),
    ({"action": "left_click_drag", "coordinate": [700, 800]}, LeftClickDrag(x=700, y=800)),
    ({"action": "right_click", "coordinate": [1, 2]}, RightClick(x=1, y=2)),
    ({"action": "middle_click", "coordinate": [3, 4]}, MiddleClick(x=3, y=4)),
    ({"action": "double_click", "coordinate": [5, 6]}, DoubleClick(x=5, y=6)),
    ({"action": "triple_click", "coordinate": [7, 8]}, TripleClick(x=7, y=8)),
    ({"action": "scroll", "pixels": -500}, Scroll(pixels=-500)),
    ({"action": "hscroll", "pixels": 200, "coordinate": [500, 500]}, HScroll(pixels=200, point=(500, 500))),
    ({"action": "wait", "time": 2}, Wait(time=2)),
    ({"action": "terminate", "status": "success"}, Terminate(status="success")),
    ({"action": "answer", "text": "42"}, Answer(text="42")),
]


def test_cases_cover_every_kind() -> None:
    assert sorted(a.kind for _, a in CASES) == sorted(ACTION_KINDS) == sorted(ACTION_TYPES)


# --- the three accepted shapes, for every kind -------------------------------------------------------


@pytest.mark.parametrize(("args", "expected"), CASES, ids=[a.kind for _, a in CASES])
def test_model_reply_form(args: dict, expected: Action) -> None:
    action = parse_action(reply(args, "Click the search box."))
    assert type(action) is type(expected)
    assert action.arguments() == expected.arguments()
    assert action.description == "Click the search box."
    assert not action.clamped and action.warnings == ()


@pytest.mark.parametrize(("args", "expected"), CASES, ids=[a.kind for _, a in CASES])
def test_bare_tool_call_form(args: dict, expected: Action) -> None:
    assert parse_action(json.dumps({"name": "computer_use", "arguments": args})) == expected


@pytest.mark.parametrize(("args", "expected"), CASES, ids=[a.kind for _, a in CASES])
def test_arguments_only_form(args: dict, expected: Action) -> None:
    assert parse_action(json.dumps(args)) == expected


@pytest.mark.parametrize(("args", "expected"), CASES, ids=[a.kind for _, a in CASES])
def test_to_tool_call_round_trip(args: dict, expected: Action) -> None:
    action = parse_action(reply(args, "Step."))
    text = action.to_tool_call()
    assert text.startswith("Action: Step.\n<tool_call>\n") and text.endswith("\n</tool_call>")
    assert parse_action(text) == action


@pytest.mark.parametrize(("args", "expected"), CASES, ids=[a.kind for _, a in CASES])
def test_to_dict_is_json_and_reads_back(args: dict, expected: Action) -> None:
    action = parse_action(reply(args))
    record = json.loads(json.dumps(action.to_dict(), allow_nan=False))
    assert record["kind"] == action.kind and record["viewport"] == [1280, 720]
    assert action_from_dict(record) == action


@pytest.mark.parametrize(("args", "expected"), CASES, ids=[a.kind for _, a in CASES])
def test_arguments_match_the_strict_schema(args: dict, expected: Action) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(expected.arguments(), ARGUMENTS_SCHEMA)
    jsonschema.validate({"name": "computer_use", "arguments": expected.arguments()}, TOOL_CALL_SCHEMA)


def test_strict_schema_rejects_off_grid_and_missing_arguments() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    for bad in (
        {"action": "left_click", "coordinate": [1000, 5]},
        {"action": "left_click"},
        {"action": "type"},
        {"action": "terminate", "status": "done"},
        {"action": "fly"},
        {"action": "key", "keys": []},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, ARGUMENTS_SCHEMA)


# --- pixels ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grid", "width", "height", "px"),
    [
        ((0, 0), 1280, 720, (0, 0)),
        ((500, 500), 1280, 720, (641, 360)),
        ((512, 300), 1280, 720, (656, 216)),
        ((999, 999), 1280, 720, (1279, 719)),  # 999 maps to W, one past the last pixel: kept inside
        ((500, 500), 1920, 1080, (961, 541)),
        ((250, 750), 800, 600, (200, 450)),
    ],
)
def test_grid_to_pixels(grid: tuple[int, int], width: int, height: int, px: tuple[int, int]) -> None:
    action = parse_action(json.dumps({"action": "left_click", "coordinate": list(grid)}), width, height)
    assert action.to_pixels() == (action.x_px, action.y_px) == px
    assert action.x_px == min(width - 1, round(grid[0] / 999 * width))


def test_pixels_to_grid_and_back() -> None:
    assert px_to_grid(640, 1280) == 500
    assert px_to_grid(0, 1280) == 0 and px_to_grid(1280, 1280) == 999
    for px in range(0, 1280):
        assert abs(grid_to_px(px_to_grid(px, 1280), 1280) - px) <= 1


def test_legacy_pixel_click() -> None:
    action = parse_action('{"action": "click", "x": 640, "y": 360}')
    assert action == LeftClick(x=500, y=500)
    assert action.to_pixels() == (641, 360)
    assert any("click" in w for w in action.warnings)
    other = parse_action('{"action": "click", "x": 400, "y": 300}', 800, 600)
    assert other.to_pixels() == (400, 300)


@pytest.mark.parametrize(
    ("legacy", "expected"),
    [
        ({"action": "type", "text": "hi"}, Type(text="hi")),
        ({"action": "double_click", "x": 0, "y": 0}, DoubleClick(x=0, y=0)),
        ({"action": "dblclick", "x": 0, "y": 0}, DoubleClick(x=0, y=0)),
        ({"action": "hover", "x": 1280, "y": 720}, MouseMove(x=999, y=999)),
        ({"action": "press", "key": "Enter"}, Key(keys=("Enter",))),
        ({"action": "hotkey", "keys": "ctrl+c"}, Key(keys=("ctrl", "c"))),
        ({"action": "done"}, Terminate(status="success")),
        ({"action": "stop", "status": "failure"}, Terminate(status="failure")),
        ({"action": "sleep", "seconds": 1.5}, Wait(time=1.5)),
        ({"action": "scroll", "direction": "down", "amount": 400}, Scroll(pixels=-400)),
        ({"action": "scroll", "direction": "up"}, Scroll(pixels=300)),
        ({"action": "scroll", "direction": "right", "amount": 100}, HScroll(pixels=100)),
        ({"action": "answer", "answer": "yes"}, Answer(text="yes")),
        ({"action": "Left_Click", "coordinate": [3, 4]}, LeftClick(x=3, y=4)),
        ({"action": "click", "coordinate": [512, 288]}, LeftClick(x=512, y=288)),  # coordinate arrays are grid
    ],
)
def test_legacy_forms(legacy: dict, expected: Action) -> None:
    assert parse_action(json.dumps(legacy)) == expected


# --- drag variants -----------------------------------------------------------------------------------


def test_drag_forms() -> None:
    to_only = parse_action(reply({"action": "left_click_drag", "coordinate": [10, 20]}))
    assert to_only.start is None and to_only.start_px() is None and to_only.to_pixels() == (13, 14)
    swipe = parse_action(json.dumps({"action": "left_click_drag", "coordinate": [10, 20], "coordinate2": [30,
    40]}))
    assert swipe == LeftClickDrag(start=(10, 20), x=30, y=40)
    assert swipe.start_px() == (13, 14)
    anthropic = parse_action(
        json.dumps({"action": "left_click_drag", "start_coordinate": [10, 20], "coordinate": [30, 40]})
    )
    assert anthropic == swipe
    assert parse_action(swipe.to_tool_call()) == swipe
    assert swipe.describe() == "left_click_drag from (10, 20) to (30, 40)"


# --- describe ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "line"),
    [
        (LeftClick(x=512, y=300), "left_click at (512, 300)"),
        (TripleClick(x=1, y=2), "triple_click at (1, 2)"),
        (LeftClickDrag(x=5, y=6), "left_click_drag to (5, 6)"),
        (Type(text="hello"), 'type "hello"'),
        (Type(text='two\nlines "q"'), 'type "two\\nlines \\"q\\""'),
        (Key(keys=("ctrl", "a")), "key ctrl+a"),
        (Scroll(pixels=-500), "scroll -500"),
        (HScroll(pixels=2.5, point=(1, 2)), "hscroll 2.5 at (1, 2)"),
        (Wait(time=2), "wait 2s"),
        (Terminate(status="failure"), "terminate failure"),
        (Answer(text="42"), 'answer "42"'),
    ],
)
def test_describe(action: Action, line: str) -> None:
    assert action.describe() == line
    assert "\n" not in action.describe()


def test_describe_truncates_long_text() -> None:
    line = Type(text="x" * 1000).describe()
    assert len(line) < 140 and line.endswith('…"')


# --- tolerance ---------------------------------------------------------------------------------------

GOOD = {"action": "left_click", "coordinate": [100, 200]}
GOOD_CALL = json.dumps({"name": "computer_use", "arguments": GOOD})


@pytest.mark.parametrize(
    "text",
    [
        f"  \n\n Action: Click.  \n\n <tool_call>\n  {GOOD_CALL}  \n</tool_call>\n\n",
        f"```json\n{GOOD_CALL}\n```",
        f"Action: Click.\n```json\n<tool_call>\n{GOOD_CALL}\n</tool_call>\n```",
        f"Action: Click.\n<tool_call>\n{GOOD_CALL}\n</tool_call>\nI hope this works {{ not json",
        f"Action: Click.\n<tool_call>\n{GOOD_CALL}",
        f"Action: Click.\n<tool_call>\n{GOOD_CALL[:-1]}\n</tool_call>",  # truncated closing brace
        f"<tool_call>\n{GOOD_CALL[:-2]}",
        '<tool_call>{"name": "computer_use", "arguments": '
        '{"action": "left_click", "coordinate": [100, 200],},}</tool_call>',
        f"<think>the button is at {{x}}</think>\nAction: Click.\n<tool_call>{GOOD_CALL}</tool_call>",
        f"**Action:** Click.\n<TOOL_CALL>{GOOD_CALL}</TOOL_CALL>",
        f"Sure! Here is my move: {json.dumps(GOOD)} -- done.",
        json.dumps({"name": "computer_use", "arguments": json.dumps(GOOD)}),  # OpenAI tool_calls: args as string
        json.dumps({"type": "function", "function": {"name": "computer_use", "arguments": GOOD}}),
    ],
)
def test_tolerated_noise(text: str) -> None:
    assert parse_action(text) == LeftClick(x=100, y=200, description=parse_action(text).description)
    assert parse_action(text).to_pixels() == (128, 144)


def test_description_kept() -> None:
    inbox = parse_action(f"Action: Open the inbox.\n<tool_call>{GOOD_CALL}</tool_call>")
    assert inbox.description == "Open the inbox."
    assert parse_action(f"1) Action: Open it\n<tool_call>{GOOD_CALL}</tool_call>").description == "Open it"
    assert parse_action(GOOD_CALL).description == ""


def test_repairs_and_extras_are_reported() -> None:
    assert any("repaired" in w for w in parse_action(f"<tool_call>{GOOD_CALL[:-1]}").warnings)
    wait_call = json.dumps({"name": "computer_use", "arguments": {"action": "wait", "time": 1}})
    two = parse_action(f"<tool_call>{GOOD_CALL}</tool_call><tool_call>{wait_call}</tool_call>")
    assert isinstance(two, LeftClick) and any("first of 2" in w for w in two.warnings)
    extra = parse_action(reply({**GOOD, "button": "left"}))
    assert extra == LeftClick(x=100, y=200, description="Do it.") and any("button" in w for w in extra.warnings)


def test_typed_text_may_contain_the_tags() -> None:
    tricky = Type(text="</tool_call> ``` </think> <tool_call> {")
    assert parse_action(tricky.to_tool_call()) == tricky


# --- clamping ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"action": "left_click", "coordinate": [1200, -5]}, LeftClick(x=999, y=0)),
        ({"action": "left_click", "coordinate": [10**400, 3]}, LeftClick(x=999, y=3)),
        ({"action": "left_click", "coordinate": [1e308, -1e308]}, LeftClick(x=999, y=0)),
        ({"action": "click", "x": 5000, "y": -3}, LeftClick(x=999, y=0)),
        ({"action": "scroll", "pixels": -(10**50)}, Scroll(pixels=-MAX_SCROLL_PIXELS)),
        ({"action": "wait", "time": 1e9}, Wait(time=MAX_WAIT_S)),
        ({"action": "wait", "time": -1}, Wait(time=0)),
    ],
)
def test_out_of_range_values_are_clamped_and_reported(args: dict, expected: Action) -> None:
    action = parse_action(json.dumps(args))
    assert action == expected
    assert action.clamped and any(w.startswith("clamped") for w in action.warnings)
    assert action.to_dict()["clamped"] is True


def test_in_range_float_coordinates_round_without_clamping() -> None:
    action = parse_action('{"action": "left_click", "coordinate": [512.4, 999.4]}')
    assert action == LeftClick(x=512, y=999) and not action.clamped


# --- every failure reason ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   \n\t", "empty"),
        ("x" * (MAX_REPLY_CHARS + 1), "too_long"),
        ("I will click the button.", "no_json"),
        ("Action: click\n<tool_call>\n</tool_call>", "no_json"),
        ("<tool_call>{'name': 'computer_use'}</tool_call>", "invalid_json"),
        ('{"action": "left_click", "coordinate": [' + "9" * 5000 + ", 1]}", "invalid_json"),
        ("[" * 50_000, "no_json"),
        ("{" * 50_000, "invalid_json"),
        ('{"foo": 1} and {"bar": 2}', "no_tool_call"),
        ('{"name": "browser", "arguments": {"action": "left_click", "coordinate": [1, 2]}}', "wrong_tool"),
        ('{"arguments": {"action": "left_click", "coordinate": [1, 2]}}', "wrong_tool"),
        ('{"name": "computer_use", "arguments": [1, 2]}', "invalid_arguments"),
        ('{"name": "computer_use", "arguments": "not json"}', "invalid_arguments"),
        ('{"name": "computer_use"}', "invalid_arguments"),
        ('{"name": "computer_use", "arguments": {"coordinate": [1, 2]}}', "missing_action"),
        ('{"action": "fly", "coordinate": [1, 2]}', "unknown_action"),
        ('{"action": 7}', "wrong_type"),
        ('{"action": "left_click"}', "missing_argument"),
        ('{"action": "left_click_drag"}', "missing_argument"),
        ('{"action": "click", "x": 5}', "missing_argument"),
        ('{"action": "type"}', "missing_argument"),
        ('{"action": "answer"}', "missing_argument"),
        ('{"action": "key"}', "missing_argument"),
        ('{"action": "scroll"}', "missing_argument"),
        ('{"action": "hscroll", "coordinate": [1, 2]}', "missing_argument"),
        ('{"action": "wait"}', "missing_argument"),
        ('{"action": "terminate"}', "missing_argument"),
        ('{"action": "left_click", "coordinate": "512, 300"}', "wrong_type"),
        ('{"action": "left_click", "coordinate": [1, 2, 3, 4]}', "wrong_type"),
        ('{"action": "left_click", "coordinate": ["1", 2]}', "wrong_type"),
        ('{"action": "left_click", "coordinate": [true, 2]}', "wrong_type"),
        ('{"action": "left_click", "coordinate": [null, 2]}', "wrong_type"),
        ('{"action": "left_click_drag", "coordinate": [1, 2], "coordinate2": 5}', "wrong_type"),
        ('{"action": "type", "text": 5}', "wrong_type"),
        ('{"action": "answer", "text": ["a"]}', "wrong_type"),
        ('{"action": "key", "keys": 5}', "wrong_type"),
        ('{"action": "scroll", "pixels": "-5"}', "wrong_type"),
        ('{"action": "wait", "time": "2s"}', "wrong_type"),
        ('{"action": "terminate", "status": true}', "wrong_type"),
        ('{"action": "left_click", "coordinate": [NaN, 2]}', "not_finite"),
        ('{"action": "left_click", "coordinate": [Infinity, 2]}', "not_finite"),
        ('{"action": "scroll", "pixels": -Infinity}', "not_finite"),
        ('{"action": "wait", "time": NaN}', "not_finite"),
        ('{"action": "terminate", "status": "done"}', "bad_value"),
        ('{"action": "key", "keys": []}', "bad_value"),
        ('{"action": "key", "keys": ["ctrl", ""]}', "bad_value"),
        ('{"action": "key", "keys": ["ctrl", 3]}', "bad_value"),
        ('{"action": "scroll", "direction": "sideways"}', "bad_value"),
    ],
)
def test_failure_reasons(text: str, reason: str) -> None:
    with pytest.raises(ActionParseError) as info:
        parse_action(text)
    assert info.value.reason == reason
    assert str(info.value).startswith(reason + ": ") and info.value.detail
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("value", [None, b'{"action": "wait", "time": 1}', 5, ["x"]])
def test_non_text_input(value: object) -> None:
    with pytest.raises(ActionParseError) as info:
        parse_action(value)  # type: ignore[arg-type]
    assert info.value.reason == "not_text"


@pytest.mark.parametrize(("width", "height"), [(0, 720), (1280, -1), (1280.0, 720), (True, 720)])
def test_bad_viewport(width: object, height: object) -> None:
    with pytest.raises(ActionParseError) as info:
        parse_action(GOOD_CALL, width, height)  # type: ignore[arg-type]
    assert info.value.reason == "bad_viewport"


def test_error_message_survives_unprintable_values() -> None:
    with pytest.raises(ActionParseError) as info:
        parse_action('{"action": "terminate", "status": ' + "7" * 4000 + "}")
    assert info.value.reason == "wrong_type" and len(str(info.value)) < 300


def test_error_pickles() -> None:
    err = ActionParseError("wrong_type", "bad")
    back = pickle.loads(pickle.dumps(err))
    assert (back.reason, back.detail, str(back)) == ("wrong_type", "bad", "wrong_type: bad")


def test_from_dict_rejects_junk() -> None:
    for junk in ([], {"arguments": 5}, {"arguments": {"action": "wait", "time": 1}, "viewport": "x"},
                 {"arguments": {"action": "wait", "time": 1}, "description": 5}):
        with pytest.raises(ActionParseError):
            action_from_dict(junk)  # type: ignore[arg-type]


def test_parse_arguments_directly() -> None:
    assert parse_arguments({"action": "left_click", "coordinate": [1, 2]}, 800, 600) == LeftClick(
        x=1, y=2, width=800, height=600
    )


def test_direct_construction_checks_the_grid() -> None:
    with pytest.raises(ValueError):
        LeftClick(x=1000, y=0)
    with pytest.raises(ValueError):
        LeftClickDrag(x=1, y=1, start=(-1, 0))


def test_tool_schema_is_the_cookbook_one() -> None:
    fn = COMPUTER_USE_TOOL["function"]
    assert COMPUTER_USE_TOOL["type"] == "function" and fn["name"] == "computer_use"
    assert "The screen's resolution is 1000x1000." in fn["description"]
    assert fn["parameters"]["properties"]["action"]["enum"] == list(ACTION_KINDS)
    params = {"action", "keys", "text", "coordinate", "pixels", "time", "status"}
    assert set(fn["parameters"]["properties"]) == params
    assert fn["parameters"]["required"] == ["action"]
    json.dumps(COMPUTER_USE_TOOL)


# --- properties --------------------------------------------------------------------------------------

grid = st.integers(0, GRID_MAX)
points = st.tuples(grid, grid)
viewports = st.sampled_from([(1280, 720), (1920, 1080), (800, 600), (1024, 768), (390, 844), (1, 1)])
# Descriptions as the parser can read them back: one line, stripped, without tags, fences or markdown marks.
descriptions = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp", "Zs"),
    exclude_characters="<`*_"),
    max_size=40,
).map(lambda s: s.strip())
any_text = st.text(max_size=60)
key_names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=12
).filter(lambda s: s.strip() == s and s != "")
numbers = st.one_of(st.integers(-MAX_SCROLL_PIXELS, MAX_SCROLL_PIXELS),
                    st.floats(-MAX_SCROLL_PIXELS, MAX_SCROLL_PIXELS, allow_nan=False))


def _pointer(cls: type[Action]) -> st.SearchStrategy[Action]:
    return st.builds(lambda p: cls(x=p[0], y=p[1]), points)


valid_actions: st.SearchStrategy[Action] = st.one_of(
    *(_pointer(c) for c in (MouseMove, LeftClick, RightClick, MiddleClick, DoubleClick, TripleClick)),
    st.builds(lambda p, s: LeftClickDrag(x=p[0], y=p[1], start=s), points, st.none() | points),
    st.builds(lambda ks: Key(keys=tuple(ks)), st.lists(key_names, min_size=1, max_size=4)),
    st.builds(lambda t: Type(text=t), any_text),
    st.builds(lambda t: Answer(text=t), any_text),
    st.builds(lambda n, p: Scroll(pixels=n, point=p), numbers, st.none() | points),
    st.builds(lambda n, p: HScroll(pixels=n, point=p), numbers, st.none() | points),
    st.builds(lambda t: Wait(time=t), st.integers(0, 60) | st.floats(0, MAX_WAIT_S)),
    st.builds(lambda s: Terminate(status=s), st.sampled_from(["success", "failure"])),
)


def _placed(action: Action, description: str, viewport: tuple[int, int]) -> Action:
    """The same action with a description and viewport. Rebuilding it through from_dict keeps this test independent
    of dataclass internals.
    """
    record = action.to_dict() | {"description": description, "viewport": list(viewport)}
    return action_from_dict(record)


@PROPERTY
@given(valid_actions, descriptions, viewports)
def test_round_trip_through_the_model_form(action: Action, description: str, viewport: tuple[int, int]) -> None:
    action = _placed(action, description, viewport)
    back = parse_action(action.to_tool_call(), *viewport)
    assert back == action
    assert back.to_pixels() == action.to_pixels()
    assert not back.clamped and back.warnings == ()


@PROPERTY
@given(valid_actions, viewports)
def test_round_trip_through_store_and_arguments(action: Action, viewport: tuple[int, int]) -> None:
    action = _placed(action, "", viewport)
    assert action_from_dict(json.loads(json.dumps(action.to_dict(), allow_nan=False))) == action
    assert parse_action(json.dumps(action.arguments()), *viewport) == action


@settings(max_examples=200, deadline=None)
@given(valid_actions)
def test_canonical_arguments_satisfy_the_strict_schema(action: Action) -> None:
    _arguments_validator().validate(action.arguments())


@functools.cache
def _arguments_validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    return jsonschema.Draft202012Validator(ARGUMENTS_SCHEMA)


@PROPERTY
@given(points, viewports)
def test_pixels_stay_in_the_viewport_and_invert(point: tuple[int, int], viewport: tuple[int, int]) -> None:
    w, h = viewport
    action = LeftClick(x=point[0], y=point[1], width=w, height=h)
    x_px, y_px = action.to_pixels()
    assert 0 <= x_px < w and 0 <= y_px < h
    assert x_px == min(w - 1, round(point[0] / 999 * w))
    # pixel -> grid -> pixel moves by at most one grid cell's width
    assert abs(grid_to_px(px_to_grid(x_px, w), w) - x_px) <= max(1, w / 999)


coordinate_values = st.one_of(
    st.integers(-(10**30), 10**30), st.integers(-2000, 2000), st.floats(allow_nan=False, allow_infinity=False),
    st.just(10**500),
)


@settings(max_examples=800, deadline=None)
@given(coordinate_values, coordinate_values, st.sampled_from(["mouse_move", "left_click", "double_click"]))
def test_any_finite_coordinate_is_clamped_onto_the_grid(x: float, y: float, kind: str) -> None:
    text = '{"action": "%s", "coordinate": [%s, %s]}' % (kind, _json_number(x), _json_number(y))
    action = parse_action(text)
    assert 0 <= action.x <= GRID_MAX and 0 <= action.y <= GRID_MAX
    expected_clamp = not (0 <= round(x) <= GRID_MAX and 0 <= round(y) <= GRID_MAX)
    assert action.clamped == expected_clamp
    if not expected_clamp:
        assert (action.x, action.y) == (round(x), round(y))


def _json_number(v: float) -> str:
    return str(v) if isinstance(v, int) else repr(v)


# --- fuzz: nothing but ActionParseError escapes ------------------------------------------------------


def _parse_or_reject(text: str, viewport: tuple[int, int] = (1280, 720)) -> None:
    """Either a valid action that survives its own canonical round trip, or an ActionParseError. Any other
    exception fails the test.
    """
    try:
        action = parse_action(text, *viewport)
    except ActionParseError as e:
        assert e.reason and isinstance(e.detail, str)
        return
    assert isinstance(action, Action) and action.kind in ACTION_TYPES
    json.dumps(action.to_dict(), allow_nan=False)
    assert parse_action(action.to_tool_call(), *viewport) == action
    px = action.to_pixels()
    if px is not None:
        assert 0 <= px[0] < viewport[0] and 0 <= px[1] < viewport[1]
    action.describe()


json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-(10**40), 10**40), st.floats(),
    st.text(max_size=20), st.sampled_from(["success", "failure", "ctrl", "left_click", "computer_use"]),
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)
arg_keys = st.sampled_from(
    ["coordinate", "coordinate2", "start_coordinate", "keys", "key", "text", "pixels", "time", "status", "x", "y",
     "direction", "amount", "seconds", "answer", "button"]
)
coordinates_ish = st.one_of(
    st.lists(json_leaves, min_size=0, max_size=3), st.tuples(st.floats(), st.floats()).map(list),
    st.tuples(st.integers(), st.integers()).map(list), json_values,
)
random_arguments = st.builds(
    lambda action, extra, coord: {"action": action, **extra, **({"coordinate": coord} if coord is not None else
    {})},
    st.one_of(st.sampled_from(ACTION_KINDS + ("click", "done", "press", "scroll", "hover", "drag")), json_values),
    st.dictionaries(arg_keys, json_values, max_size=4),
    st.none() | coordinates_ish,
)


def _wrap(args: object, form: int, description: str) -> str:
    body = json.dumps(args)  # NaN/Infinity come out as JavaScript literals, which the parser must handle
    if form == 0:
        call = json.dumps({"name": "computer_use", "arguments": args})
        return f"Action: {description}\n<tool_call>\n{call}\n</tool_call>"
    if form == 1:
        return json.dumps({"name": "computer_use", "arguments": args})
    if form == 2:
        return body
    if form == 3:
        return f"```json\n{body}\n```"
    return json.dumps({"name": "computer_use", "arguments": body})


@FUZZ
@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=300), viewports)
def test_fuzz_random_text(text: str, viewport: tuple[int, int]) -> None:
    _parse_or_reject(text, viewport)


@FUZZ
@given(random_arguments, st.integers(0, 4), any_text)
def test_fuzz_random_json_of_wrong_types(args: dict, form: int, description: str) -> None:
    _parse_or_reject(_wrap(args, form, description))


@FUZZ
@given(json_values, st.integers(0, 4))
def test_fuzz_nested_junk(junk: object, form: int) -> None:
    _parse_or_reject(_wrap(junk, form, "x"))


@st.composite
def mutated_replies(draw: st.DrawFn) -> str:
    """A valid reply, then truncated, byte-flipped, spliced and duplicated at random."""
    action = draw(valid_actions)
    text = action.to_tool_call() if draw(st.booleans()) else _wrap(action.arguments(), draw(st.integers(0, 4)),
    "go")
    raw = bytearray(text.encode("utf-8"))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.integers(0, 4))
        i = draw(st.integers(0, max(0, len(raw) - 1)))
        if op == 0 and raw:
            raw[i] ^= 1 << draw(st.integers(0, 7))
        elif op == 1:
            raw = raw[:i]
        elif op == 2:
            raw[i:i] = draw(st.sampled_from([b"{", b"}", b"[", b"]", b",", b'"', b":", b"\\", b"NaN", b"-Infinity",
                                             b"1e999", b"9" * 5000, b"</tool_call>", b"<tool_call>", b"```",
                                             b"\x00", "é漢🙂".encode()]))
        elif op == 3 and raw:
            del raw[i: i + draw(st.integers(1, 8))]
        else:
            raw = raw + raw[: draw(st.integers(0, len(raw)))]
    return raw.decode("utf-8", errors=draw(st.sampled_from(["replace", "surrogateescape", "ignore"])))


@FUZZ
@given(mutated_replies(), viewports)
def test_fuzz_mutated_replies(text: str, viewport: tuple[int, int]) -> None:
    _parse_or_reject(text, viewport)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["[", "{", '{"a":', '{"action": [', "[{"]), st.integers(1_000, 30_000), st.booleans())
def test_fuzz_deep_nesting(unit: str, depth: int, tagged: bool) -> None:
    text = unit * (depth // len(unit))
    _parse_or_reject(("<tool_call>" + text) if tagged else text[:MAX_REPLY_CHARS])


@settings(max_examples=200, deadline=None)
@given(st.integers(4_000, 20_000), st.sampled_from(["coordinate", "pixels", "time", "status", "action"]))
def test_fuzz_huge_numbers(digits: int, key: str) -> None:
    number = "9" * digits
    value = f"[{number}, 1]" if key == "coordinate" else number
    _parse_or_reject('{"action": "left_click", "%s": %s}' % (key, value))
    _parse_or_reject('{"action": "scroll", "pixels": -%s.5e99999}' % number[:50])
