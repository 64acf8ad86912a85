"""The constrained-sampling regex admits exactly well-formed computer_use replies that parse to valid actions."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from halo_cli.core.actions import ACTION_KINDS, LeftClick, Terminate, Type, parse_action
from halo_cli.core.policy.constrained import grid_range_regex, matches, tool_call_regex

FULL = tool_call_regex()


def test_canonical_renderings_match() -> None:
    for action in (
        LeftClick(x=0, y=999, description="Click the OK button"),
        Type(text="hello world", description="Type a greeting"),
        Terminate(status="success", description="Done"),
    ):
        assert matches(FULL, action.to_tool_call()), action.to_tool_call()


@pytest.mark.parametrize(
    "reply",
    [
        'Action: Click\n<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [1000, 5]}}\n</tool_call>',
        'Action: Click\n<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [05, 5]}}\n</tool_call>',
        'Action: Click\n<tool_call>\n{"name": "computer_use", "arguments": {"action": "fly", "coordinate": [5, 5]}}\n</tool_call>',
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [5, 5]}}\n</tool_call>',
        'Action: Click\n<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "maybe"}}\n</tool_call>',
    ],
)
def test_malformed_replies_do_not_match(reply: str) -> None:
    assert not matches(FULL, reply)


def test_restricting_actions() -> None:
    only = tool_call_regex(["left_click"])
    assert matches(only, LeftClick(x=1, y=2, description="Click").to_tool_call())
    assert not matches(only, Terminate(status="success", description="Done").to_tool_call())
    with pytest.raises(ValueError, match="unknown action kinds"):
        tool_call_regex(["teleport"])


def _sample_from_regex(kinds: list[str]) -> st.SearchStrategy[str]:
    return st.from_regex(re.compile(tool_call_regex(kinds, max_description=8, max_text=8)), fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ACTION_KINDS).flatmap(lambda k: _sample_from_regex([k])))
def test_every_string_the_regex_admits_parses(reply: str) -> None:
    action = parse_action(reply)
    assert action.kind in ACTION_KINDS
    assert not action.clamped


@pytest.mark.parametrize(("lo", "hi"), [(0, 999), (0, 0), (999, 999), (5, 5), (0, 9), (9, 10), (95, 105), (100, 199),
                                        (240, 760), (7, 993), (10, 99), (101, 109)])
def test_grid_range_admits_exactly_its_integers(lo: int, hi: int) -> None:
    regex = re.compile(grid_range_regex(lo, hi))
    admitted = [n for n in range(1000) if regex.fullmatch(str(n))]
    assert admitted == list(range(lo, hi + 1))
    # written as the grid writes numbers: never with a leading zero
    assert not any(regex.fullmatch(f"0{n}") for n in range(1000))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 999), st.integers(0, 999), st.integers(0, 999))
def test_grid_range_on_any_bounds(a: int, b: int, n: int) -> None:
    lo, hi = min(a, b), max(a, b)
    assert (re.fullmatch(grid_range_regex(lo, hi), str(n)) is not None) == (lo <= n <= hi)


def test_grid_range_rejects_bounds_off_the_grid() -> None:
    for lo, hi in ((-1, 5), (5, 4), (0, 1000)):
        with pytest.raises(ValueError, match="grid range"):
            grid_range_regex(lo, hi)


REGION = (120, 300, 480, 650)


def test_a_region_keeps_clicks_inside_its_box() -> None:
    boxed = tool_call_regex(["left_click", "terminate"], region=REGION)
    assert matches(boxed, LeftClick(x=120, y=650, description="Click").to_tool_call())
    assert matches(boxed, LeftClick(x=480, y=300, description="Click").to_tool_call())
    assert matches(boxed, Terminate(status="success", description="Done").to_tool_call())
    for x, y in ((119, 400), (481, 400), (300, 299), (300, 651), (0, 0), (999, 999)):
        assert not matches(boxed, LeftClick(x=x, y=y, description="Click").to_tool_call()), (x, y)
    with pytest.raises(ValueError, match="region"):
        tool_call_regex(["left_click"], region=(0, 0, 10))


@settings(max_examples=200, deadline=None)
@given(st.from_regex(re.compile(tool_call_regex(["left_click", "double_click", "mouse_move"], max_description=8,
                                                region=REGION)), fullmatch=True))
def test_every_boxed_click_the_regex_admits_lands_in_the_box(reply: str) -> None:
    action = parse_action(reply)
    assert REGION[0] <= action.x <= REGION[2] and REGION[1] <= action.y <= REGION[3]
