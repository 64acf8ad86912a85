"""The grouping strategies, branch choice, the end-of-episode settlement and the new advantage terms, on records built
by hand (the numbers are the point; the real-parts runs are in test_trainer_modes.py and test_trainer_faults.py)."""

from __future__ import annotations

import random

import pytest

from halo_cli.core.actions import LeftClick, Type
from halo_cli.core.config import GRPOSettings, RewardSettings, load_settings
from halo_cli.core.env.episode import Observation
from halo_cli.core.env.tasks import Outcome, Task
from halo_cli.core.errors import ConfigError
from halo_cli.core.policy.vllm_client import Sample, SampleBatch
from halo_cli.core.rl.advantages import (
    episode_group_advantages,
    gigpo_advantages,
    scale_by_batch_std,
    step_weights,
)
from halo_cli.core.rl.branches import choose_branch, faulted
from halo_cli.core.rl.grouping import EpisodeGrouping, GiGPOGrouping, StepGrouping
from halo_cli.core.rl.progress import DenseRewardCalculator, TaskInfo
from halo_cli.core.rl.rollout import EpisodeRecord, StepRecord

EASY = Task(id="drill.easy", source="drill", site="drill", goal="easy")
HARD = Task(id="drill.hard", source="drill", site="drill", goal="hard")


def obs(key: str) -> Observation:
    return Observation(screenshot=b"", url="http://x/", title="", axtree=f'button "{key}"', goal="", width=10,
                       height=10)


def batch(n: int = 1) -> SampleBatch:
    s = Sample(text="t", action=None, parse_error=None, token_ids=(1, 2), logprobs=(-0.1, -0.2), finish_reason="stop")
    return SampleBatch(samples=[s] * n, messages=[], model="m", prompt_token_ids=None, latency_s=0.0)


def episode(task: Task, rewards: list[float], *, group: int, status: str = "failure",
            keys: list[str] | None = None, living: float = 0.1) -> EpisodeRecord:
    keys = keys or [f"s{t}" for t in range(len(rewards))]
    steps = [StepRecord(index=t, observation=obs(k), batch=batch(), rewards=[r],
                        components=[{"valid_action": living, "other": r - living}], chosen=0)
             for t, (r, k) in enumerate(zip(rewards, keys))]
    outcome = Outcome(reward=0.0, success=status == "success", status=status)  # type: ignore[arg-type]
    return EpisodeRecord(task=task, seed=0, goal="", steps=steps, outcome=outcome, group=group)


# ------------------------------------------------------------------------------------------- groups never mix


def test_each_group_is_baselined_on_its_own_episodes() -> None:
    """An easy and a hard task in one batch: the hard task's better episode gets a positive advantage (+0.1), which a
    baseline pooled over both tasks would have turned into about -4.9."""
    g = GRPOSettings(group="episode", episode_baseline="episode")
    easy = [episode(EASY, [10.0], group=0), episode(EASY, [10.0], group=0)]
    hard = [episode(HARD, [0.1], group=1), episode(HARD, [0.3], group=1)]
    scores = [s for grp in (easy, hard) for s in EpisodeGrouping().score(grp, g)]
    advantages = {id(sc.step): sc.advantages[0] for s in scores for sc in s.scored}
    better = hard[1].steps[0]
    assert advantages[id(better)] == pytest.approx(0.1)
    pooled = episode_group_advantages([10.0, 10.0, 0.1, 0.3], [1, 1, 1, 1], baseline="episode")
    assert pooled[3] == pytest.approx(0.3 - 5.1)  # what mixing the groups did


def test_cross_step_baseline_makes_a_groups_step_advantages_sum_to_zero() -> None:
    """A success in 2 steps and a failure in 6: with the plain mean the failure's 6 steps carry more negative mass
    than the success's 2 positive ones; over steps the group sums to zero."""
    returns, lengths = [10.0, 0.0], [2, 6]
    plain = episode_group_advantages(returns, lengths, baseline="episode")
    assert plain == pytest.approx([5.0, -5.0]) and 2 * 5.0 - 6 * 5.0 < 0
    cross = episode_group_advantages(returns, lengths, baseline="step")
    assert cross == pytest.approx([7.5, -2.5]) and 2 * cross[0] + 6 * cross[1] == pytest.approx(0.0)


def test_step_norm_weights() -> None:
    assert step_weights(4, "step") == [1.0] * 4
    assert step_weights(4, "episode") == [0.25] * 4
    with pytest.raises(ValueError):
        step_weights(4, "token")


def test_gigpo_anchor_groups_leave_the_living_reward_out() -> None:
    """Two failed episodes meet state B: one with three steps left in its budget, one with one. Neither made
    progress, yet with the living reward (+0.1 per valid action) in the anchor returns the first looks better at B,
    for having had more steps left to collect it."""
    early = [("B", 0.1), ("X", 0.1), ("Y", 0.1)]
    late = [("A", 0.1), ("B", 0.1)]
    no_progress = [[0.0, 0.0, 0.0], [0.0, 0.0]]
    with_living = gigpo_advantages([early, late], 0.9, step_weight=1.0)
    without = gigpo_advantages([early, late], 0.9, step_weight=1.0, anchor_rewards=no_progress)
    episode_term = episode_group_advantages([0.3, 0.2], [3, 2], baseline="episode")
    assert without[0][0] - episode_term[0] == pytest.approx(0.0)  # B: no anchor advantage without progress
    # with it: G_B = 0.1 + 0.09 + 0.081 = 0.271 against 0.1, half the difference each way
    assert with_living[0][0] - episode_term[0] == pytest.approx((0.271 - 0.1) / 2)


def test_gigpo_grouping_reports_anchor_sizes_and_keeps_groups_apart() -> None:
    g = GRPOSettings(group="gigpo")
    one = [episode(EASY, [0.1, 0.3], group=0, keys=["a", "b"]), episode(EASY, [0.1, 0.1], group=0, keys=["a", "c"])]
    (score,) = GiGPOGrouping().score(one, g)
    assert sorted(score.anchor_sizes or []) == [1, 1, 2]
    assert len(score.scored) == 4 and score.values == pytest.approx([0.4, 0.2])


# ------------------------------------------------------------------------------------------- faults are dropped


def test_dropped_episodes_leave_their_group_and_a_lone_survivor_trains_nothing() -> None:
    g = GRPOSettings(group="episode")
    group = [episode(EASY, [0.3], group=0), episode(EASY, [9.0], group=0, status="aborted"),
             episode(EASY, [0.1], group=0)]
    (score,) = EpisodeGrouping().score(group, g)
    assert score.dropped == 1 and score.values == pytest.approx([0.3, 0.1])  # the aborted 9.0 is not in the baseline
    assert [sc.advantages[0] for sc in score.scored] == pytest.approx([0.1, -0.1])
    lone = [episode(EASY, [0.3], group=0), episode(EASY, [9.0], group=0, status="aborted")]
    (score,) = EpisodeGrouping().score(lone, g)
    assert score.scored == [] and score.dropped == 1


def test_step_groups_drop_branches_without_an_honest_reward() -> None:
    g = GRPOSettings(group="step")
    step = StepRecord(index=0, observation=obs("a"), batch=batch(4), rewards=[0.1, None, 0.3, None],
                      components=[{}, {}, {}, {}], chosen=0)
    rec = EpisodeRecord(task=EASY, seed=0, goal="", steps=[step])
    (score,) = StepGrouping().score([rec], g)
    assert score.dropped == 2 and score.scored[0].indices == [0, 2]
    assert score.scored[0].advantages == pytest.approx([-0.1, 0.1])
    assert faulted("aborted", obs("a")) and faulted(None, None) and not faulted("failure", obs("a"))


def test_step_groups_compare_lookahead_values_when_given() -> None:
    g = GRPOSettings(group="step")
    step = StepRecord(index=0, observation=obs("a"), batch=batch(2), rewards=[0.1, 0.1], components=[{}, {}],
                      chosen=0, values=[0.1 + 0.9 * 10.0, 0.1])
    (score,) = StepGrouping().score([EpisodeRecord(task=EASY, seed=0, goal="", steps=[step])], g)
    assert score.scored[0].advantages == pytest.approx([4.5, -4.5])  # equal immediate rewards, unequal futures


def test_batch_scale() -> None:
    advs = scale_by_batch_std([[1.0, -1.0], [0.5, -0.5]], [2.0, 0.0, 1.0, 0.0])
    s = (sum((x - 0.75) ** 2 for x in [2.0, 0.0, 1.0, 0.0]) / 3) ** 0.5
    assert advs[0] == pytest.approx([1 / s, -1 / s]) and advs[1] == pytest.approx([0.5 / s, -0.5 / s])
    assert scale_by_batch_std([[0.0, 0.0]], [1.0, 1.0]) == [[0.0, 0.0]]


# ------------------------------------------------------------------------------------------- branch choice


def test_choice_samples_a_valid_branch_or_takes_the_best_preferring_open_ones() -> None:
    rng = random.Random(0)
    picks = {choose_branch([1.0, None, 0.5], [False] * 3, "sample", rng) for _ in range(50)}
    assert picks == {0, 2}  # never the branch without a value
    assert choose_branch([None, None], [False, False], "sample", rng) is None
    # best: ties between a terminal branch (a failed terminate, say) and an open one go to the open one
    assert {choose_branch([1.0, 1.0, 0.2], [True, False, False], "best", rng) for _ in range(20)} == {1}
    # ties among open branches are broken at random, not always to the first
    assert {choose_branch([1.0, 1.0, 1.0], [False] * 3, "best", rng) for _ in range(40)} == {0, 1, 2}


# ------------------------------------------------------------------------------------------- rewards


def page(axtree: str) -> Observation:
    return Observation(screenshot=b"", url="http://x/", title="", axtree=axtree, goal="", width=10, height=10)


def test_novelty_cannot_be_farmed_by_typing_other_texts() -> None:
    calc = DenseRewardCalculator(RewardSettings())
    info = TaskInfo(site="drill")
    before = page('- textbox "Name"')
    paid = []
    for text in ("a", "bb", "ccc"):
        calc.compute_reward(before, Type(text=text), page(f'- textbox "Name": {text}'), info, False, False)
        paid.append(calc.last_components["novelty"])
    assert paid == [0.0, 0.0, 0.0]
    calc.compute_reward(before, LeftClick(x=1, y=1), page('- dialog "Confirm"\n  - button "OK"'), info, False, False)
    assert calc.last_components["novelty"] == pytest.approx(0.2)  # a new screen still pays


def test_settle_pays_a_success_found_at_the_budget_end_once_and_finish_milestones() -> None:
    calc = DenseRewardCalculator(RewardSettings())
    info = TaskInfo(site="omnizon", goal="Buy me a pot", task_id="v2.omnizon-13")
    calc.compute_reward(page("a"), LeftClick(x=1, y=1), page("b"), info, False, False)
    finish = {"initialfinaldiff": {"added": {"order": {"orders": {"0": {"items": [{"id": "212"}]}}}}}}
    end = calc.settle(TaskInfo(site="omnizon", goal="Buy me a pot", finish_state=finish), success=True)
    assert end["success"] == 10.0 and end["milestone:checkout"] == pytest.approx(0.5)
    assert calc.settle(TaskInfo(site="omnizon", goal="Buy me a pot", finish_state=finish), success=True) == {}
    terminated = DenseRewardCalculator(RewardSettings())
    terminated.compute_reward(page("a"), LeftClick(x=1, y=1), page("b"), info, True, True)  # paid on its step
    assert "success" not in terminated.settle(info, success=True)


# ------------------------------------------------------------------------------------------- settings


def test_defaults_and_refusals() -> None:
    g = GRPOSettings()
    assert (g.lr, g.scale_rewards, g.episode_baseline, g.step_norm, g.step_continue, g.minibatch_size,
            g.ppo_epochs, g.is_truncation, g.dual_clip) == (1e-5, "batch", "step", "step", "sample", None, 1, 2.0, 3.0)
    assert load_settings().lora.dropout == 0.0
    with pytest.raises(ConfigError, match="needs the AX tree"):
        load_settings(overrides={"grpo": {"group": "step"}, "browser": {"axtree": "off"}})
    with pytest.raises(ConfigError, match="grpo.dual_clip"):
        load_settings(overrides={"grpo": {"dual_clip": 0.5}})
