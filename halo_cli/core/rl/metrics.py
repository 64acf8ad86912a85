"""What one iteration of online GRPO logs, computed from its records, groups and update.

Each name means the same in every grouping mode:

* ``mean_reward``: the mean immediate reward of the sampled actions that were tried (all G branches of a state in
  ``step`` mode, every step of every episode otherwise); ``mean_return``: the mean return of the episodes as run.
* ``success_rate``: the share of episodes that succeeded on their own path (in ``step`` mode the path of the branch
  the episode went on with); ``best_of_g_success`` (``step`` only): some branch at some state succeeded.
* ``reward_std``: the mean over groups of the (Bessel) std of the values the group compared; ``frac_reward_zero_std``:
  the share of groups whose values were all equal (they teach nothing).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from halo_cli.core.rl.advantages import frac_reward_zero_std
from halo_cli.core.rl.grouping import GroupScore
from halo_cli.core.rl.rollout import EpisodeRecord
from halo_cli.core.rl.stats import mean, std
from halo_cli.core.rl.update_stats import UpdateStats


def _tried(records: Sequence[EpisodeRecord]) -> list[tuple[float, dict[str, float], bool]]:
    """(reward, components, success) of every sampled action that was tried."""
    out = []
    for e in records:
        for s in e.steps:
            for i, r in enumerate(s.rewards):
                if r is not None:
                    out.append((float(r), s.components[i], bool(s.successes[i]) if i < len(s.successes) else False))
    return out


def iteration_metrics(mode: str, records: Sequence[EpisodeRecord], scores: Sequence[GroupScore],
                      stats: UpdateStats | None, extra: Mapping[str, float]) -> dict[str, float]:
    kept = [e for e in records if not e.dropped]
    tried = _tried(records)
    groups = [g.values for g in scores if g.values]
    samples = [smp for e in records for s in e.steps for smp in s.batch.samples]
    advantages = [a for g in scores for sc in g.scored for a in sc.advantages]
    m: dict[str, Any] = {
        "mean_reward": mean([r for r, _, _ in tried]),
        "mean_return": mean([e.episode_return for e in kept]),
        "reward_std": mean([std(g) for g in groups if len(g) > 1]),
        "frac_reward_zero_std": frac_reward_zero_std(groups) if groups else 1.0,
        "episode_length": mean([float(e.length) for e in records]),
        "success_rate": sum(e.success for e in kept) / len(kept) if kept else 0.0,
        "success_at_budget": sum("success" in e.settled for e in kept) / len(kept) if kept else 0.0,
        "invalid_action_rate": sum(smp.action is None for smp in samples) / len(samples) if samples else 0.0,
        "completion_length": mean([float(smp.num_tokens) for smp in samples]),
        "max_tokens_rate": sum(smp.finish_reason == "length" for smp in samples) / len(samples) if samples else 0.0,
        "aborted_episodes": float(sum(e.status == "aborted" for e in records)),
        "dropped_samples": float(sum(g.dropped for g in scores)),
        "restore_failures": float(sum(e.restore_failures for e in records)),
        "groups": float(len(scores)),
        "trained_groups": float(sum(1 for g in scores if g.scored)),
        "advantage_abs_mean": mean([abs(a) for a in advantages]),
        "advantage_std": std(advantages),
        **extra,
    }
    components: dict[str, list[float]] = defaultdict(list)
    for _, comps, _ in tried:
        for name, value in comps.items():
            components[name].append(value)
    for name, values in components.items():
        m[f"reward/{name}"] = sum(values) / len(tried)  # a milestone absent from a step counts as 0 there
    if mode == "step":
        m["best_of_g_success"] = sum(e.best_of_g_success for e in kept) / len(kept) if kept else 0.0
        m["sample_success_rate"] = mean([float(ok) for _, _, ok in tried])
        m["lookahead_steps"] = float(sum(e.lookahead_steps for e in records))
    sizes = [n for g in scores for n in (g.anchor_sizes or [])]
    if sizes:
        m["anchor_group_size"] = mean([float(n) for n in sizes])
        m["anchor_share"] = sum(n for n in sizes if n > 1) / sum(sizes)
    if stats is not None:
        m.update({
            "loss": stats.loss, "grad_norm": stats.grad_norm, "clip_frac": stats.clip_frac,
            "dual_clip_frac": stats.dual_clip_frac, "ratio_mean": stats.ratio_mean, "entropy": stats.entropy,
            "optimizer_steps": float(stats.optimizer_steps), "skipped_steps": float(stats.skipped_steps),
            "lr": stats.lr, "tokens_per_s": stats.tokens_per_s, "train_tokens": float(stats.tokens),
        })
        for name in ("kl", "logprob_gap", "is_weight_mean", "is_truncated_frac"):
            value = getattr(stats, name)
            if value is not None:
                m[name] = value
    return {k: float(v) for k, v in m.items() if v is not None and math.isfinite(float(v))}
