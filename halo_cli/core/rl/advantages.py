"""Group-relative advantages: how good one sample was compared with its siblings.

GRPO needs no value network: it samples several answers for the same situation and uses their mean reward as the
baseline. What counts as "the same situation" depends on the grouping mode (``grpo.group``):

* ``step``:    G samples drawn from one state (one screenshot, one prompt). Each sample's reward is compared
               with its G-1 siblings: ``dr_grpo_advantages`` / ``grpo_advantages``.
* ``episode``: N whole episodes of the same task. Each episode's return is compared with the others', and that
               advantage is given to every step of the episode: ``episode_advantages``.
* ``gigpo``:   ``episode`` plus a finer, per-step term from steps that met the very same state in different
               episodes (anchor states, GiGPO): ``gigpo_advantages``.

All functions are pure, plain Python (a group has a handful of numbers), and return new lists.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import Literal

from halo_cli.core.rl.stats import mean, std

Normalization = Literal["mean_norm", "mean_std_norm"]


def _check_group(rewards: Sequence[float]) -> None:
    if len(rewards) == 0:
        raise ValueError("a group needs at least one reward")


def dr_grpo_advantages(rewards: Sequence[float]) -> list[float]:
    """``A_i = r_i - mean(r)``.

    Dr.GRPO (Liu et al. 2025) drops GRPO's division by the group's std: dividing by a small std blows up the
    advantages of groups that are nearly solved or nearly hopeless, which biases learning towards them.
    """
    _check_group(rewards)
    m = mean(rewards)
    return [r - m for r in rewards]


def grpo_advantages(rewards: Sequence[float], eps: float = 1e-4) -> list[float]:
    """``A_i = (r_i - mean(r)) / (std(r) + eps)``: the original GRPO scaling, kept for ``loss_type="grpo"``.

    ``eps`` keeps a zero-std group (every sibling got the same reward) at advantage 0 instead of 0/0; TRL uses 1e-4.
    """
    _check_group(rewards)
    m, s = mean(rewards), std(rewards)
    return [(r - m) / (s + eps) for r in rewards]


def _relative(values: Sequence[float], mode: Normalization, eps: float) -> list[float]:
    if mode == "mean_norm":
        return dr_grpo_advantages(values)
    if mode == "mean_std_norm":
        return grpo_advantages(values, eps)
    raise ValueError(f"unknown normalization {mode!r} (mean_norm or mean_std_norm)")


def episode_advantages(
    returns: Sequence[float],
    lengths: Sequence[int],
    *,
    mode: Normalization = "mean_norm",
    eps: float = 1e-6,
) -> list[list[float]]:
    """Advantages for the ``episode`` grouping: one per step, per episode.

    ``returns[i]`` is episode i's return and ``lengths[i]`` its number of steps. All N episodes ran the same task,
    so their mean return is the baseline. A step earns the advantage of the whole episode it belongs to: without a
    value function, the episode outcome is the only credit a step can get.
    """
    if len(returns) != len(lengths):
        raise ValueError(f"{len(returns)} returns but {len(lengths)} lengths")
    if any(n < 0 for n in lengths):
        raise ValueError(f"episode lengths must be >= 0, got {list(lengths)}")
    per_episode = _relative(returns, mode, eps)
    return [[a] * n for a, n in zip(per_episode, lengths)]


def discounted_returns(rewards: Sequence[float], gamma: float) -> list[float]:
    """``G_t = r_t + gamma * G_{t+1}``: what a step led to from there on, later rewards counting less.

    GiGPO compares steps taken from the same state by this number: the step's own reward alone would ignore
    that a click may only pay off a few steps later.
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    out = [0.0] * len(rewards)
    running = 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


def gigpo_advantages(
    episodes: Sequence[Sequence[tuple[Hashable, float]]],
    gamma: float,
    step_weight: float = 1.0,
    *,
    mode: Normalization = "mean_norm",
    eps: float = 1e-6,
) -> list[list[float]]:
    """GiGPO (Feng et al. 2025, verl-agent): episode-level plus anchor-state step-level advantages.

    ``episodes[i]`` lists episode i's steps as ``(state_key, reward)``; all episodes ran the same task from the same
    start. Returns ``A[i][t] = A_episode[i] + step_weight * A_step[i][t]``:

    * ``A_episode[i]``: the episode's return (sum of its rewards) relative to the group's returns, as in
      ``episode_advantages``.
    * ``A_step[i][t]``: steps whose ``state_key`` is identical, across all episodes (and repeats within one),
      form an anchor group: they faced the same state and chose differently. Within it, a step's discounted
      return ``G_t`` minus the group's mean ``G`` says whether that choice did better than the others from there.
      A step whose state no other step met has nothing to be compared with and gets 0.

    ``mode="mean_norm"`` (verl-agent's shipped default, Dr.GRPO-like) only subtracts means; ``"mean_std_norm"``
    also divides by the std + ``eps``, at both levels. The key must be exact (a URL + AX-tree digest, a screenshot
    hash): near-identical states form no group, which is GiGPO's known weakness on open web pages.
    """
    if not episodes:
        return []
    returns = [sum(r for _, r in ep) for ep in episodes]
    episode_adv = _relative(returns, mode, eps)

    step_returns = [discounted_returns([r for _, r in ep], gamma) for ep in episodes]
    anchors: dict[Hashable, list[tuple[int, int]]] = defaultdict(list)
    for i, ep in enumerate(episodes):
        for t, (key, _) in enumerate(ep):
            anchors[key].append((i, t))

    step_adv = [[0.0] * len(ep) for ep in episodes]
    for members in anchors.values():
        if len(members) < 2:
            continue
        relative = _relative([step_returns[i][t] for i, t in members], mode, eps)
        for (i, t), a in zip(members, relative):
            step_adv[i][t] = a

    return [
        [episode_adv[i] + step_weight * step_adv[i][t] for t in range(len(ep))]
        for i, ep in enumerate(episodes)
    ]


def frac_reward_zero_std(groups: Sequence[Sequence[float]], atol: float = 1e-8) -> float:
    """Share of groups whose rewards are all the same (std 0), as TRL logs it.

    Such a group has all-zero advantages and teaches nothing: a high value means the tasks are too easy or too
    hard for the current policy, or G is too small. A one-sample group counts as zero-std (no sibling to learn
    from). No groups: 0.0.
    """
    if not groups:
        return 0.0
    zero = sum(1 for g in groups if len(g) < 2 or std(g) <= atol)
    return zero / len(groups)
