"""The tree search's math on hand-built trees (UCB1, backpropagation, best path, value blending, sibling groups,
preference pairs) and the self-critique parser. Pure functions: no browser, no server."""

from __future__ import annotations

import math

import pytest

from halo_cli.core.actions import LeftClick
from halo_cli.core.policy.vllm_client import Sample, SampleBatch
from halo_cli.core.rl.critique import parse_critique
from halo_cli.core.rl.mcts import (
    MCTSNode,
    action_key,
    backpropagate,
    best_path,
    blend_value,
    dense_to_unit,
    sibling_values,
    ucb1,
    ucb1_select,
)


def click(x: int, y: int = 500) -> LeftClick:
    return LeftClick(x=x, y=y, width=480, height=630)


def tree(*stats: tuple[int, float], parent_visits: int | None = None) -> MCTSNode:
    """A root whose children have the given (visits, value_sum), in proposal order."""
    root = MCTSNode(index=0, depth=0)
    for i, (n, w) in enumerate(stats):
        a = click(100 * i + 1)
        root.children[action_key(a)] = MCTSNode(index=i + 1, depth=1, parent=root, action=a, sample_indices=[i],
                                                visits=n, value_sum=w)
    root.visits = parent_visits if parent_visits is not None else sum(n for n, _ in stats)
    return root


def kids(root: MCTSNode) -> list[MCTSNode]:
    return list(root.children.values())


def test_ucb1_is_q_plus_the_exploration_term() -> None:
    assert ucb1(0.5, 2, 10, 1.414) == pytest.approx(0.5 + 1.414 * math.sqrt(math.log(10) / 2))
    assert ucb1(0.5, 2, 10, 0.0) == 0.5
    assert ucb1(0.0, 0, 10, 1.414) == math.inf


def test_unvisited_children_are_selected_first_in_proposal_order() -> None:
    root = tree((5, 4.5), (0, 0.0), (0, 0.0))
    assert ucb1_select(root, 1.414) is kids(root)[1]


def test_ties_go_to_the_earlier_proposal() -> None:
    root = tree((2, 1.0), (2, 1.0), (2, 1.0))
    assert ucb1_select(root, 1.414) is kids(root)[0]


def test_the_exploration_term_can_outweigh_a_higher_q() -> None:
    # Child 0: Q 0.9 from 20 visits; child 1: Q 0.6 from 1 visit. Greedy picks 0; C = 1.414 picks the rarely tried 1.
    root = tree((20, 18.0), (1, 0.6))
    assert ucb1_select(root, 0.0) is kids(root)[0]
    assert ucb1_select(root, 1.414) is kids(root)[1]


def test_visited_leaves_are_passed_over_while_another_child_is_open() -> None:
    root = tree((1, 1.0), (1, 0.9), (4, 0.8))
    a, b, c = kids(root)
    a.terminal, b.same_as = True, 0  # an ending and a click that changed nothing: their values are exact
    assert ucb1_select(root, 1.414) is c  # by UCB1 alone a (Q 1.0, 1 visit) would win
    c.terminal = True
    assert ucb1_select(root, 1.414) is a  # nothing open: all compete again


def test_selecting_from_a_leaf_is_an_error() -> None:
    with pytest.raises(ValueError):
        ucb1_select(MCTSNode(index=0, depth=0), 1.0)


def test_backpropagation_updates_every_node_on_the_path_as_a_running_mean() -> None:
    root = tree((1, 0.5))
    child = kids(root)[0]
    grandchild = MCTSNode(index=9, depth=2, parent=child, action=click(7))
    child.children["g"] = grandchild
    backpropagate([root, child, grandchild], 1.0)
    assert (root.visits, child.visits, grandchild.visits) == (2, 2, 1)
    assert child.q == pytest.approx((0.5 + 1.0) / 2)  # Agent Q eq. 4: (Q n + v) / (n + 1)
    assert grandchild.q == 1.0
    assert grandchild.path == [root, child, grandchild]
    assert grandchild.actions == [child.action, grandchild.action]


def test_best_path_follows_the_most_visited_child_ties_to_higher_q() -> None:
    root = tree((3, 0.9), (5, 1.0), (5, 2.0))
    a, b, c = kids(root)
    deep = MCTSNode(index=7, depth=2, parent=c, action=click(3), visits=2, value_sum=1.0)
    c.children["d"] = deep
    c.children["u"] = MCTSNode(index=8, depth=2, parent=c, action=click(4))  # never visited: not on the path
    assert best_path(root) == [root, c, deep]


def test_a_success_anywhere_wins_the_best_path_shallowest_first() -> None:
    root = tree((9, 8.0), (1, 0.2))
    a, b = kids(root)
    win_deep = MCTSNode(index=5, depth=2, parent=a, action=click(9), visits=1, value_sum=1.0, success=True)
    a.children["w"] = win_deep
    assert best_path(root) == [root, a, win_deep]
    b.success = True
    assert best_path(root) == [root, b]


def test_best_path_of_an_unexpanded_root_is_the_root() -> None:
    root = MCTSNode(index=0, depth=0)
    assert best_path(root) == [root]


def test_blend_value() -> None:
    assert blend_value(0.0, -5.0, success=True, terminal=True, alpha=0.5, reward_scale=0.5) == 1.0
    assert blend_value(1.0, 5.0, success=False, terminal=True, alpha=0.5, reward_scale=0.5) == 0.0
    assert blend_value(0.8, 0.0, success=False, terminal=False, alpha=1.0, reward_scale=0.5) == 0.8
    assert blend_value(0.8, 0.0, success=False, terminal=False, alpha=0.0, reward_scale=0.5) == 0.5
    v = blend_value(0.2, 0.3, success=False, terminal=False, alpha=0.5, reward_scale=0.5)
    assert v == pytest.approx(0.5 * 0.2 + 0.5 * (0.5 + 0.5 * math.tanh(0.6)))
    assert dense_to_unit(-1.0, 0.5) < 0.05 < dense_to_unit(0.1, 0.5) < dense_to_unit(0.3, 0.5) < 1.0
    assert blend_value(7.0, 0.0, success=False, terminal=False, alpha=1.0, reward_scale=0.5) == 1.0  # clipped


def batch_of(actions: list[LeftClick | None]) -> SampleBatch:
    samples = [Sample(text=f"reply {i}", action=a, parse_error=None if a else "bad", token_ids=(1, 2),
                      logprobs=(-0.1, -0.2), finish_reason="stop") for i, a in enumerate(actions)]
    return SampleBatch(samples=samples, messages=[], model="m", prompt_token_ids=None, latency_s=0.0)


def test_sibling_values_share_a_child_q_among_duplicates_and_value_invalid_replies_zero() -> None:
    root = tree((2, 1.6), (1, 0.3), (0, 0.0))
    a, b, c = kids(root)
    a.sample_indices = [0, 3]  # samples 0 and 3 parsed to the same click
    b.sample_indices, c.sample_indices = [1], [4]
    root.expansions = [batch_of([a.action, b.action, None, a.action, c.action])]  # type: ignore[list-item]
    assert sibling_values(root) == [(0, 0.8), (1, 0.3), (2, 0.0), (3, 0.8)]  # c never visited: no Q
    b.error = "restore failed"  # a child the browser could not reach honestly trains nothing
    assert sibling_values(root) == [(0, 0.8), (2, 0.0), (3, 0.8)]
    root.expansions.append(batch_of([None, c.action]))  # type: ignore[list-item]
    assert sibling_values(root, 1) == []  # one invalid reply and an unvisited child: no group
    assert sibling_values(root, 2) == []


def test_a_node_whose_tried_children_all_ended_or_changed_nothing_is_a_dead_end() -> None:
    root = tree((1, 0.0), (1, 0.3))
    a, b = kids(root)
    for child in (a, b):
        child.observation = object()  # type: ignore[assignment]
    a.terminal, b.same_as = True, 0
    assert a.leaf and b.leaf and root.dead_end
    b.same_as = None  # b leads somewhere new: there is more to explore below it
    assert not root.dead_end
    b.same_as, a.success = 0, True  # a success below: nothing to widen for
    assert not root.dead_end
    assert not MCTSNode(index=0, depth=0).dead_end  # never expanded


@pytest.mark.parametrize("text, score, how", [
    ("Score: 0.7", 0.7, "score"),
    ("The compose window is open.\nScore: 0.35", 0.35, "score"),
    ("progress = 80%", 0.8, "score"),
    ("Score: 7/10", 0.7, "score"),
    ("score is 3 out of 4", 0.75, "score"),
    ("Score: 0.2 at first, but now Score: 0.9", 0.9, "score"),  # the conclusion, not the reasoning
    ("About 45% of the task is done.", 0.45, "percent"),
    ("I'd rate it 6 out of 10", 0.6, "fraction"),
    ("0.25", 0.25, "number"),
    ("8", 0.8, "number"),
    ("The agent is halfway there.", 0.5, "word"),
    ("The task is complete.", 1.0, "word"),
    ("The task is not complete.", 0.0, "word"),
    ("No progress was made.", 0.0, "word"),
])
def test_critique_parsing(text: str, score: float, how: str) -> None:
    got, got_how = parse_critique(text)
    assert got == pytest.approx(score)
    assert got_how == how


@pytest.mark.parametrize("text", ["", "zxq blorp", "Score: high", "Score: 150", "12345 items", "<tool_call>{}</tool_call>"])
def test_garbage_critique_is_the_fallback(text: str) -> None:
    assert parse_critique(text) == (None, "fallback")
