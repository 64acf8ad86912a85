"""The clipped policy-gradient loss of GRPO and its Dr.GRPO / DAPO normalisations (TRL's ``_compute_loss`` math).

Per completion token, with ``ratio = exp(logp - old_logp)`` (new policy over the policy that sampled it):

    objective = min(ratio * A, clip(ratio, 1 - epsilon, 1 + epsilon_high) * A)

Maximising it raises the probability of tokens of better-than-average samples (A > 0) and lowers the others, while
the clip stops a token's ratio from being pushed further once it has moved by more than epsilon: the sampler's
tokens stop being a fair sample of the learner's policy the further the two drift apart. The loss is
``-objective`` (+ ``beta`` * KL to a reference policy), reduced over tokens in one of three ways:

* ``dr_grpo``: ``sum / (G * max_completion_length)``. A constant normaliser, so a token weighs the same whatever
  its sequence's length. GRPO's per-sequence mean gives short wrong answers larger per-token penalties than long
  wrong ones, which teaches the model to ramble when it is wrong (Liu et al. 2025, "Understanding R1-Zero-like
  training").
* ``grpo``:    mean over each sequence's tokens, then mean over sequences (the original GRPO).
* ``dapo``:    ``sum / (number of active tokens)`` (DAPO's token-level mean; TRL's default).

Beyond PPO's clip, two safeguards of the sampled-from-another-engine setting: dual-clip (Ye et al. 2020, "Mastering
Complex Control in MOBA Games with Deep RL", eq. 5) bounds the objective of a negative-advantage token at
``c * A`` whatever its ratio, and a per-token importance weight (``logprobs.truncated_is_weights``) corrects for the
difference between vLLM's and the learner's probabilities. Completions may carry weights (how much their step
counts, e.g. ``1/|episode|``); the normaliser is then their weighted count, computed over the whole mini-batch so
that a mini-batch processed group by group sums to one loss (``loss_normaliser``).
"""

from __future__ import annotations

from typing import Literal

import torch

LossType = Literal["dr_grpo", "grpo", "dapo"]
LOSS_TYPES: tuple[str, ...] = ("dr_grpo", "grpo", "dapo")


def k3_kl(logps: torch.Tensor, ref_logps: torch.Tensor) -> torch.Tensor:
    """Per-token ``KL(policy || ref)`` estimate ``exp(ref - logp) - (ref - logp) - 1`` (Schulman's k3, as TRL).

    Unbiased from samples of the policy, never negative, and exact in the limit of small differences; it needs only
    the sampled token's log-probs, not the full distributions.
    """
    delta = ref_logps - logps
    return torch.exp(delta) - delta - 1.0


def clipped_objective(ratio: torch.Tensor, adv: torch.Tensor, epsilon: float, epsilon_high: float,
                      dual_clip: float | None) -> torch.Tensor:
    """Per token: ``min(r A, clip(r, 1 - eps, 1 + eps_high) A)`` (PPO, Schulman et al. 2017, eq. 7), and for A < 0
    ``max(that, c A)`` (dual-clip, Ye et al. 2020, eq. 5)."""
    clipped = torch.clamp(ratio, 1.0 - epsilon, 1.0 + epsilon_high)
    objective = torch.min(ratio * adv, clipped * adv)
    if dual_clip is not None:
        objective = torch.where(adv < 0, torch.max(objective, dual_clip * adv), objective)
    return objective


def loss_normaliser(weights: torch.Tensor, lengths: torch.Tensor, loss_type: LossType,
                    max_completion_length: int) -> float:
    """The denominator of a mini-batch's loss: ``sum(w) * L_max`` (dr_grpo), ``sum(w)`` (grpo, whose completions are
    already averaged over their own tokens) or ``sum(w * |c|)`` (dapo's token mean). Unweighted, ``sum(w)`` is the
    number of completions: Dr.GRPO's ``G * max_completion_length`` for one group."""
    if loss_type == "dr_grpo":
        return float(weights.sum()) * max_completion_length
    if loss_type == "grpo":
        return float(weights.sum())
    return float((weights * lengths).sum())


def dr_grpo_loss(
    logps: torch.Tensor,
    old_logps: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    epsilon: float,
    epsilon_high: float | None = None,
    max_completion_length: int,
    ref_logps: torch.Tensor | None = None,
    beta: float = 0.0,
    loss_type: LossType = "dr_grpo",
    dual_clip: float | None = None,
    is_weights: torch.Tensor | None = None,
    weights: torch.Tensor | None = None,
    normaliser: float | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The clipped surrogate loss of a batch of G completions, and what to log about it.

    Shapes: ``logps``, ``old_logps``, ``mask``, ``ref_logps``, ``is_weights``: (G, T), padded on the right;
    ``advantages``: (G,) for one advantage per completion, or (G, T); ``weights``: (G,). Only ``logps`` carries
    gradient; ``old_logps`` are the policy's log-probs before the update (the PPO ratio's denominator), ``ref_logps``
    the reference model's (needed only when ``beta > 0``). ``normaliser`` (default: this batch's own, see
    ``loss_normaliser``) lets a mini-batch split into groups add up to one loss.

    Stats (floats, over active tokens): ``clip_frac`` (tokens whose clipped branch is the active one, so they give
    no gradient: low ratio with A < 0, or high ratio with A > 0, as TRL's ``clip_ratio/region_mean``),
    ``clip_frac_low``, ``clip_frac_high``, ``ratio_mean``, ``kl`` (0 without a reference), ``tokens``.
    """
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"unknown loss_type {loss_type!r} (one of {', '.join(LOSS_TYPES)})")
    if epsilon <= 0 or (epsilon_high is not None and epsilon_high <= 0):
        raise ValueError(f"clip ranges must be positive (epsilon={epsilon}, epsilon_high={epsilon_high})")
    if max_completion_length < 1:
        raise ValueError(f"max_completion_length must be >= 1, got {max_completion_length}")
    if logps.shape != old_logps.shape or logps.shape != mask.shape:
        raise ValueError(f"shape mismatch: logps {tuple(logps.shape)}, old_logps {tuple(old_logps.shape)}, "
                         f"mask {tuple(mask.shape)}")
    if beta > 0 and ref_logps is None:
        raise ValueError("beta > 0 needs ref_logps")
    if dual_clip is not None and dual_clip <= 1.0:
        raise ValueError(f"dual_clip must be > 1, got {dual_clip}")
    eps_high = epsilon if epsilon_high is None else epsilon_high
    mask = mask.to(logps.dtype)
    adv = advantages.to(logps.dtype)
    if adv.dim() == 1:
        adv = adv[:, None]
    group_size = logps.shape[0]
    w = torch.ones(group_size, dtype=logps.dtype, device=logps.device) if weights is None else weights.to(logps)

    # Padding may hold anything (-inf, garbage): zero its log-ratio so that no inf * 0 turns the sums into NaN.
    active_tok = mask > 0
    zeros = torch.zeros_like(logps)
    ratio = torch.exp(torch.where(active_tok, logps - old_logps.detach(), zeros))
    per_token = -clipped_objective(ratio, adv, epsilon, eps_high, dual_clip)
    if is_weights is not None:
        per_token = per_token * torch.where(active_tok, is_weights.detach().to(logps), zeros)
    kl = None
    if ref_logps is not None:
        kl = k3_kl(logps, torch.where(active_tok, ref_logps.detach(), logps.detach()))
        if beta > 0:
            per_token = per_token + beta * kl

    norm = normaliser if normaliser is not None else loss_normaliser(w.detach(), mask.sum(-1), loss_type,
                                                                     max_completion_length)
    per_seq = (per_token * mask).sum(-1)
    if loss_type == "grpo":
        per_seq = per_seq / mask.sum(-1).clamp(min=1.0)
    loss = (w * per_seq).sum() / max(norm, 1e-12)

    with torch.no_grad():
        active = mask.sum().clamp(min=1.0)
        adv_full = adv.expand_as(ratio)
        low = ((ratio < 1.0 - epsilon) & (adv_full < 0)).to(mask.dtype) * mask
        high = ((ratio > 1.0 + eps_high) & (adv_full > 0)).to(mask.dtype) * mask
        # Dual-clip holds a negative-advantage token at c * A once its ratio exceeds c.
        dual = ((ratio > dual_clip) & (adv_full < 0)).to(mask.dtype) * mask if dual_clip is not None else zeros
        stats = {
            "clip_frac": float(((low + high).sum() / active).item()),
            "clip_frac_low": float((low.sum() / active).item()),
            "clip_frac_high": float((high.sum() / active).item()),
            "ratio_mean": float(((ratio * mask).sum() / active).item()),
            "kl": float(((kl * mask).sum() / active).item()) if kl is not None else 0.0,
            "dual_clip_frac": float((dual.sum() / active).item()),
            "tokens": float(mask.sum().item()),
        }
    return loss, stats
