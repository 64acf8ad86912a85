"""Group-relative advantages for the three grouping modes (step, episode, gigpo), checked against numbers worked
out by hand in the comments."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from halo_cli.core.rl.advantages import (
    discounted_returns,
    dr_grpo_advantages,
    episode_advantages,
    frac_reward_zero_std,
    gigpo_advantages,
    grpo_advantages,
)


def approx(values: list[float] | list[list[float]]) -> object:
    """pytest.approx for flat or nested (per episode, per step) lists."""
    if values and isinstance(values[0], list):
        return _Nested(values)  # type: ignore[arg-type]
    return pytest.approx(values, abs=1e-9)


class _Nested:
    def __init__(self, rows: list[list[float]]):
        self.rows = rows

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, list) and len(other) == len(self.rows)
                and all(o == pytest.approx(r, abs=1e-9) for o, r in zip(other, self.rows)))

    def __repr__(self) -> str:
        return repr(self.rows)


# ----------------------------------------------------------------------------------------------- step grouping


def test_dr_grpo_subtracts_the_mean_only() -> None:
    # mean(1, 0, 0, 1) = 0.5 -> (0.5, -0.5, -0.5, 0.5); no division by the std (0.577)
    assert dr_grpo_advantages([1.0, 0.0, 0.0, 1.0]) == approx([0.5, -0.5, -0.5, 0.5])
    # mean(3, 1) = 2 -> (1, -1)
    assert dr_grpo_advantages([3.0, 1.0]) == approx([1.0, -1.0])


def test_grpo_divides_by_sample_std_plus_eps() -> None:
    # r = (1, 0, 0, 1): mean 0.5, sample std sqrt((4 * 0.25) / 3) = sqrt(1/3) = 0.57735
    # A = +-0.5 / (0.57735 + 1e-4) = +-0.865876
    s = math.sqrt(1 / 3)
    expected = [0.5 / (s + 1e-4), -0.5 / (s + 1e-4), -0.5 / (s + 1e-4), 0.5 / (s + 1e-4)]
    assert grpo_advantages([1.0, 0.0, 0.0, 1.0]) == approx(expected)
    assert grpo_advantages([1.0, 0.0, 0.0, 1.0])[0] == pytest.approx(0.865876, abs=1e-6)


def test_zero_std_group_gets_zero_advantages() -> None:
    assert dr_grpo_advantages([2.0, 2.0, 2.0]) == approx([0.0, 0.0, 0.0])
    assert grpo_advantages([2.0, 2.0, 2.0]) == approx([0.0, 0.0, 0.0])  # 0 / (0 + eps), not 0/0


def test_empty_group_is_refused() -> None:
    with pytest.raises(ValueError):
        dr_grpo_advantages([])


@given(st.lists(st.floats(-100, 100), min_size=1, max_size=16))
def test_dr_grpo_advantages_sum_to_zero(rewards: list[float]) -> None:
    assert sum(dr_grpo_advantages(rewards)) == pytest.approx(0.0, abs=1e-6)


# -------------------------------------------------------------------------------------------- episode grouping


def test_episode_advantage_applies_to_every_step() -> None:
    # returns (10, 4, 1): mean 5 -> (5, -1, -4); lengths 2, 3, 1
    assert episode_advantages([10.0, 4.0, 1.0], [2, 3, 1]) == approx([[5.0, 5.0], [-1.0, -1.0, -1.0], [-4.0]])


def test_episode_advantages_mean_std_norm() -> None:
    # returns (2, 0): mean 1, sample std sqrt(2) = 1.41421 -> +-1 / (1.41421 + 1e-6)
    out = episode_advantages([2.0, 0.0], [1, 2], mode="mean_std_norm")
    a = 1 / (math.sqrt(2) + 1e-6)
    assert out == approx([[a], [-a, -a]])


def test_episode_advantages_checks_lengths() -> None:
    with pytest.raises(ValueError):
        episode_advantages([1.0, 2.0], [1])


def test_discounted_returns() -> None:
    # rewards (1, 0, 2), gamma 0.5: G2 = 2, G1 = 0 + 0.5 * 2 = 1, G0 = 1 + 0.5 * 1 = 1.5
    assert discounted_returns([1.0, 0.0, 2.0], 0.5) == approx([1.5, 1.0, 2.0])
    assert discounted_returns([1.0, 1.0, 1.0], 1.0) == approx([3.0, 2.0, 1.0])
    assert discounted_returns([], 0.9) == []


# ----------------------------------------------------------------------------------------------- gigpo grouping


def test_gigpo_combines_episode_and_anchor_step_advantages() -> None:
    # Two episodes of one task, gamma 0.5, step_weight 1.
    #   episode 0: s0 (r=0) -> s1 (r=1)          return 1, step returns G = (0 + 0.5*1, 1) = (0.5, 1)
    #   episode 1: s0 (r=0) -> s2 (r=0) -> s3 (r=3)  return 3, step returns G = (0.75, 1.5, 3)
    #     (G2 = 3, G1 = 0 + 0.5*3 = 1.5, G0 = 0 + 0.5*1.5 = 0.75)
    # episode advantages: mean return 2 -> (-1, +1)
    # anchor groups: s0 = {(0,0): 0.5, (1,0): 0.75}, mean 0.625 -> (-0.125, +0.125); s1, s2, s3 singletons -> 0
    episodes = [[("s0", 0.0), ("s1", 1.0)], [("s0", 0.0), ("s2", 0.0), ("s3", 3.0)]]
    out = gigpo_advantages(episodes, gamma=0.5)
    assert out == approx([[-1.0 - 0.125, -1.0], [1.0 + 0.125, 1.0, 1.0]])


def test_gigpo_step_weight_and_repeated_state_within_an_episode() -> None:
    # One episode revisits state "a"; another passes it once. gamma 1, step_weight 2.
    #   episode 0: a (r=0) -> a (r=1)   return 1, G = (1, 1)
    #   episode 1: a (r=0) -> b (r=0)   return 0, G = (0, 0)
    # episode advantages: mean 0.5 -> (+0.5, -0.5)
    # anchor "a" = {(0,0): 1, (0,1): 1, (1,0): 0}: mean 2/3 -> (1/3, 1/3, -2/3); "b" singleton -> 0
    episodes = [[("a", 0.0), ("a", 1.0)], [("a", 0.0), ("b", 0.0)]]
    out = gigpo_advantages(episodes, gamma=1.0, step_weight=2.0)
    assert out == approx([[0.5 + 2 / 3, 0.5 + 2 / 3], [-0.5 - 4 / 3, -0.5]])


def test_gigpo_without_shared_states_is_episode_grouping() -> None:
    episodes = [[("x", 1.0), ("y", 1.0)], [("z", 0.0)]]
    assert gigpo_advantages(episodes, gamma=0.95) == episode_advantages([2.0, 0.0], [2, 1])


def test_gigpo_mean_std_norm() -> None:
    # returns (1, 0): mean 0.5, std sqrt(0.5) -> +-0.5/(0.70711+1e-6) = +-0.707106
    # anchor "s" G = (1, 0): same numbers -> +-0.707106; combined (1.414212, -1.414212)
    out = gigpo_advantages([[("s", 1.0)], [("s", 0.0)]], gamma=0.9, mode="mean_std_norm")
    a = 0.5 / (math.sqrt(0.5) + 1e-6)
    assert out == approx([[2 * a], [-2 * a]])


def test_gigpo_empty() -> None:
    assert gigpo_advantages([], gamma=0.9) == []


# ----------------------------------------------------------------------------------------------- metrics


def test_frac_reward_zero_std() -> None:
    # groups: (1,1,1) zero std, (0,1) not, (2,) a singleton counts as zero std, (0.5,0.5) zero std -> 3/4
    assert frac_reward_zero_std([[1.0, 1.0, 1.0], [0.0, 1.0], [2.0], [0.5, 0.5]]) == pytest.approx(0.75)
    assert frac_reward_zero_std([]) == 0.0
