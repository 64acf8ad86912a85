"""The grouping modes of online GRPO as small strategies: how a group's rollouts are collected and how their
advantages are computed.

A group is always one task and one seed: the G branches of one state (``step``), or the G episodes of one task
instance (``episode``, ``gigpo``). Baselines and GiGPO's anchor states never cross groups, so an easy task's
successes never become a hard task's baseline. Episodes or branches cut short by a fault are left out of their group
before anything is computed; a group left with fewer than two members trains nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from halo_cli.core.config import GRPOSettings
from halo_cli.core.env.tasks import Task
from halo_cli.core.rl.advantages import (
    anchor_group_sizes,
    dr_grpo_advantages,
    episode_group_advantages,
    gigpo_advantages,
    grpo_advantages,
    step_weights,
)
from halo_cli.core.rl.rollout import EpisodeRecord, StepRecord

# The reward component paid for every valid action: GiGPO's anchor groups compare returns without it.
LIVING_REWARD = "valid_action"


@dataclass
class Scored:
    """Samples of one step with their advantages and loss weights, ready for the learner and the store."""

    step: StepRecord
    indices: list[int]
    advantages: list[float]
    weights: list[float]


@dataclass
class GroupScore:
    """What one group contributes: its scored steps, the values its baseline was taken over (for the batch scale and
    the metrics), how many of its members were dropped, and GiGPO's anchor-group sizes."""

    scored: list[Scored]
    values: list[float]
    dropped: int = 0
    anchor_sizes: list[int] | None = None


Collect = Callable[[Task, int, int, int], Awaitable[list[EpisodeRecord]]]


class Grouping(Protocol):
    name: str

    def score(self, records: Sequence[EpisodeRecord], g: GRPOSettings) -> list[GroupScore]:
        """The records of ONE group (one task and seed), scored."""
        ...


def _relative(values: Sequence[float], loss_type: str) -> list[float]:
    return grpo_advantages(values) if loss_type == "grpo" else dr_grpo_advantages(values)


class StepGrouping:
    """``step``: every state of the (single) episode is a group of G branches."""

    name = "step"

    def score(self, records: Sequence[EpisodeRecord], g: GRPOSettings) -> list[GroupScore]:
        out = []
        for record in records:
            for step in record.steps:
                values = step.group_values
                idx = [i for i, v in enumerate(values) if v is not None]
                dropped = len(values) - len(idx)
                if len(idx) < 2:
                    out.append(GroupScore([], [float(values[i]) for i in idx], dropped))  # type: ignore[arg-type]
                    continue
                vals = [float(values[i]) for i in idx]  # type: ignore[arg-type]
                advs = _relative(vals, g.loss_type)
                out.append(GroupScore([Scored(step, idx, advs, [1.0] * len(idx))], vals, dropped))
        return out


class EpisodeGrouping:
    """``episode``: the G episodes of one task and seed; the episode's advantage goes to every one of its steps."""

    name = "episode"

    def _members(self, records: Sequence[EpisodeRecord]) -> tuple[list[EpisodeRecord], int]:
        kept = [r for r in records if not r.dropped and r.steps]
        return kept, len(records) - len(kept)

    def _episode_advantages(self, kept: list[EpisodeRecord], g: GRPOSettings) -> list[list[float]]:
        mode = "mean_std_norm" if g.loss_type == "grpo" else "mean_norm"
        per_episode = episode_group_advantages([r.episode_return for r in kept], [r.length for r in kept],
                                               baseline=g.episode_baseline, mode=mode)
        return [[a] * r.length for a, r in zip(per_episode, kept)]

    def score(self, records: Sequence[EpisodeRecord], g: GRPOSettings) -> list[GroupScore]:
        kept, dropped = self._members(records)
        values = [r.episode_return for r in kept]
        if len(kept) < 2:
            return [GroupScore([], values, dropped)]
        return [GroupScore(self._scored(kept, self._episode_advantages(kept, g), g), values, dropped)]

    @staticmethod
    def _scored(kept: list[EpisodeRecord], advantages: list[list[float]], g: GRPOSettings) -> list[Scored]:
        out = []
        for record, advs in zip(kept, advantages):
            for step, a, w in zip(record.steps, advs, step_weights(record.length, g.step_norm)):
                out.append(Scored(step, [0], [a], [w]))
        return out


class GiGPOGrouping(EpisodeGrouping):
    """``gigpo``: ``episode`` plus step advantages from anchor states the group's episodes share (GiGPO)."""

    name = "gigpo"

    def score(self, records: Sequence[EpisodeRecord], g: GRPOSettings) -> list[GroupScore]:
        kept, dropped = self._members(records)
        values = [r.episode_return for r in kept]
        if len(kept) < 2:
            return [GroupScore([], values, dropped)]
        mode = "mean_std_norm" if g.loss_type == "grpo" else "mean_norm"
        episodes = [[(s.state_key, s.reward) for s in r.steps] for r in kept]
        anchor = [[s.reward - s.components[s.chosen].get(LIVING_REWARD, 0.0) if s.chosen is not None else 0.0
                   for s in r.steps] for r in kept]
        advantages = gigpo_advantages(episodes, g.gamma, g.gigpo_step_weight, mode=mode, baseline=g.episode_baseline,
                                      anchor_rewards=anchor)
        sizes = anchor_group_sizes([[k for k, _ in ep] for ep in episodes])
        return [GroupScore(self._scored(kept, advantages, g), values, dropped, sizes)]


GROUPINGS: dict[str, type[StepGrouping] | type[EpisodeGrouping] | type[GiGPOGrouping]] = {
    "step": StepGrouping, "episode": EpisodeGrouping, "gigpo": GiGPOGrouping,
}
