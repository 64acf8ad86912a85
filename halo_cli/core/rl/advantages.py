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


Baseline = Literal["episode", "step"]


def episode_group_advantages(
    returns: Sequence[float],
    lengths: Sequence[int],
    *,
    baseline: Baseline = "step",
    mode: Normalization = "mean_norm",
    eps: float = 1e-6,
) -> list[float]:
    """One advantage per episode of a group (the G episodes of one task and seed).

    ``baseline="episode"``: the mean of the G returns. ``"step"``: the mean over all steps of the group, each step
    carrying its episode's return (verl-agent's GiGPO default, ``compute_mean_std_cross_all_data``): with the
    advantage copied onto every step, ``sum_i |tau_i| * (R_i - b) = 0`` only for this ``b``, so a group whose failures
    run longer than its successes does not push a net-negative mass onto the policy.
    """
    if len(returns) != len(lengths):
        raise ValueError(f"{len(returns)} returns but {len(lengths)} lengths")
    if any(n < 0 for n in lengths):
        raise ValueError(f"episode lengths must be >= 0, got {list(lengths)}")
    if baseline == "episode":
        return _relative(returns, mode, eps)
    if baseline != "step":
        raise ValueError(f"unknown baseline {baseline!r} (episode or step)")
    per_step = [r for r, n in zip(returns, lengths) for _ in range(n)]
    if not per_step:
        return [0.0] * len(returns)
    m = mean(per_step)
    if mode == "mean_norm":
        return [r - m for r in returns]
    return [(r - m) / (std(per_step) + eps) for r in returns]


def episode_advantages(
    returns: Sequence[float],
    lengths: Sequence[int],
    *,
    baseline: Baseline = "episode",
    mode: Normalization = "mean_norm",
    eps: float = 1e-6,
) -> list[list[float]]:
    """Advantages for the ``episode`` grouping: one per step, per episode.

    ``returns[i]`` is episode i's return and ``lengths[i]`` its number of steps. All N episodes ran the same task,
    so their returns share a baseline (``episode_group_advantages``). A step earns the advantage of the whole episode
    it belongs to: without a value function, the episode outcome is the only credit a step can get.
    """
    per_episode = episode_group_advantages(returns, lengths, baseline=baseline, mode=mode, eps=eps)
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
    baseline: Baseline = "episode",
    anchor_rewards: Sequence[Sequence[float]] | None = None,
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
    also divides by the std + ``eps``, at both levels. ``baseline`` is the episode term's (see
    ``episode_group_advantages``). ``anchor_rewards[i][t]``, when given, are the rewards the anchor groups compare by
    (default: the rewards): the trainer leaves the living reward (+0.1 per valid action) out of them, since a step
    taken early collects more discounted living reward than the same choice taken late, a bias by timing only. The key must be exact (a URL + AX-tree digest, a screenshot
    hash): near-identical states form no group, which is GiGPO's known weakness on open web pages.
    """
    if not episodes:
        return []
    returns = [sum(r for _, r in ep) for ep in episodes]
    episode_adv = episode_group_advantages(returns, [len(ep) for ep in episodes], baseline=baseline, mode=mode,
                                           eps=eps)
    if anchor_rewards is not None and [len(a) for a in anchor_rewards] != [len(ep) for ep in episodes]:
        raise ValueError("anchor_rewards must have one reward per step of every episode")
    step_rewards = anchor_rewards if anchor_rewards is not None else [[r for _, r in ep] for ep in episodes]
    step_returns = [discounted_returns(list(rs), gamma) for rs in step_rewards]
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


def anchor_group_sizes(episodes: Sequence[Sequence[Hashable]]) -> list[int]:
    """The sizes of GiGPO's anchor groups (steps sharing a state key across a group's episodes); 1 = no sibling."""
    counts: dict[Hashable, int] = defaultdict(int)
    for ep in episodes:
        for key in ep:
            counts[key] += 1
    return list(counts.values())


def step_weights(length: int, step_norm: str) -> list[float]:
    """How much each of an episode's ``length`` steps weighs in the loss: 1 each (``"step"``: AsyncWebRL's constant
    per-step normaliser), or ``1/length`` each (``"episode"``: every episode weighs 1 in total)."""
    if step_norm == "step":
        return [1.0] * length
    if step_norm == "episode":
        return [1.0 / length] * length if length else []
    raise ValueError(f"unknown step_norm {step_norm!r} (step or episode)")


def scale_by_batch_std(advantages: Sequence[Sequence[float]], rewards: Sequence[float],
                       eps: float = 1e-6) -> list[list[float]]:
    """Divides every advantage by the (Bessel) std of the batch's rewards, once for the whole batch.

    Group-mean baselines, batch-level scale (Liu et al. 2025, "Tricks or Traps", Lite PPO): the size of one batch's
    update no longer depends on whether it held a success bonus, without GRPO's per-group std, which favours groups
    that are nearly solved or nearly hopeless. A batch whose rewards are all equal has nothing to scale.
    """
    s = std(rewards)
    if s <= eps:
        return [list(a) for a in advantages]
    return [[a / s for a in group] for group in advantages]


def denoise(advantages: Sequence[float], eps: float) -> list[float]:
    """Advantages smaller than ``eps`` in size are the rounding left by subtracting equal means: exactly 0."""
    return [0.0 if abs(a) < eps else a for a in advantages]
