"""The constrained-sampling regex admits exactly well-formed computer_use replies that parse to valid actions."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from halo_cli.core.actions import ACTION_KINDS, LeftClick, Terminate, Type, parse_action
from halo_cli.core.policy.constrained import matches, tool_call_regex

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
