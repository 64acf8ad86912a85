"""Log-probabilities of sampled tokens under the distribution vLLM actually sampled from.

vLLM samples token t from ``softmax(filter(mask(logits) / T))``: the grammar's mask (structured outputs), then the
temperature, then top-k/top-p (vLLM's sampler, in that order); with ``--logprobs-mode processed_logprobs`` the
log-probs it returns are those of this final distribution. The learner must score the same distribution, or the PPO
ratio compares two different policies: ``sampling_logprobs`` applies the same transforms to the learner's logits.
The mask and the top-k/top-p sets are constants of the sampled step (what the sampler allowed), not differentiated.
"""

from __future__ import annotations

import torch

from halo_cli.core.policy.grammar_mask import unpack_bitmask


def sampling_transform(logits: torch.Tensor, *, temperature: float = 1.0, top_k: int | None = None,
                       top_p: float = 1.0, allowed: torch.Tensor | None = None) -> torch.Tensor:
    """Logits (..., V) -> the logits of the sampling distribution, in fp32; disallowed tokens get -inf.

    ``allowed`` is the grammar's mask: (..., V) bool, or xgrammar's packed (..., ceil(V/32)) int32 bitmask
    (``policy.grammar_mask``). Top-k keeps the k largest; top-p keeps the smallest set of
    tokens whose probability reaches ``top_p`` (ties and order as vLLM: sort ascending, drop while the cumulative
    probability of what is dropped stays <= 1 - top_p, always keep the most likely token).
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 to score samples, got {temperature}")
    x = logits.float()
    if allowed is not None:
        if allowed.dtype != torch.bool:
            allowed = unpack_bitmask(allowed.to(x.device), x.shape[-1])
        x = x.masked_fill(~allowed, float("-inf"))
    x = x / temperature
    if top_k is not None and 0 < top_k < x.shape[-1]:
        kth = torch.topk(x, top_k, dim=-1).values[..., -1:]
        x = x.masked_fill(x < kth, float("-inf"))
    if top_p < 1.0:
        sorted_x, order = torch.sort(x, dim=-1, descending=False)
        dropped = torch.cumsum(torch.softmax(sorted_x, dim=-1), dim=-1) <= 1.0 - top_p
        dropped[..., -1] = False
        x = x.masked_fill(torch.zeros_like(dropped).scatter(-1, order, dropped), float("-inf"))
    return x


def sampling_logprobs(logits: torch.Tensor, ids: torch.Tensor, *, temperature: float = 1.0, top_k: int | None = None,
                      top_p: float = 1.0, allowed: torch.Tensor | None = None,
                      with_entropy: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """log p(ids) (G, T) under the sampling distribution of logits (G, T, V), and its entropy (G, T) if asked.

    One sequence at a time in fp32, so a 150k vocabulary never needs a full (G, T, V) fp32 copy.
    """
    rows, entropies = [], []
    for i in range(logits.shape[0]):
        x = sampling_transform(logits[i], temperature=temperature, top_k=top_k, top_p=top_p,
                               allowed=None if allowed is None else allowed[i])
        norm = torch.logsumexp(x, dim=-1)
        rows.append(x.gather(-1, ids[i][:, None]).squeeze(-1) - norm)
        if with_entropy:
            with torch.no_grad():
                logp = x - norm[:, None]
                p = logp.exp()
                entropies.append(-(p * logp.masked_fill(p == 0, 0.0)).sum(-1))
    return torch.stack(rows), torch.stack(entropies) if with_entropy else None


def truncated_is_weights(learner_logps: torch.Tensor, sampler_logps: torch.Tensor, cap: float) -> torch.Tensor:
    """``min(p_learner / p_sampler, C)`` per token: truncated importance sampling (Yao et al. 2025, "Your efficient
    RL framework secretly brings you off-policy RL training", eq. 3).

    vLLM and the learner compute the same policy with different kernels and precision; the sampled tokens are a sample
    of vLLM's distribution, so the learner's gradient is re-weighted to its own, and the cap bounds the variance a
    token vLLM found unlikely would otherwise bring.
    """
    return torch.exp(learner_logps - sampler_logps).clamp(max=cap)
