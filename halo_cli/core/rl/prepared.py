"""A group of vLLM samples turned into the learner's tensors, checked before any of them trains.

Every check that can fail does so here, for every group of an update, before the first optimizer step: a malformed
group (no samples, a count mismatch, token ids outside the vocabulary, non-finite advantages or weights, a
completion the grammar forbids) fails the update while the adapter is still the one vLLM serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from halo_cli.core.policy.grammar_mask import GrammarMasker, GrammarMaskError, stack_masks
from halo_cli.core.rl.groups import Group, LearnerError

if TYPE_CHECKING:
    from transformers import BatchFeature


@dataclass
class PreparedGroup:
    """A group as tensors: the processed prompt, the right-padded completions, and what the pre-pass adds."""

    prompt: "BatchFeature"
    completions: torch.Tensor  # (G, T) long, right-padded
    mask: torch.Tensor  # (G, T) float: the completion tokens
    trained: torch.Tensor  # (G, T) float: the tokens the loss counts (``mask`` less grammar-forced tokens)
    allowed: torch.Tensor | None  # (G, T, W) int32: the grammar's packed allowed-token masks, None unconstrained
    sampler_logps: torch.Tensor  # (G, T) float: vLLM's log-probs, 0 where unknown
    has_sampler: torch.Tensor  # (G,) bool: vLLM reported log-probs for this sample
    advantages: torch.Tensor  # (G,) float
    weights: torch.Tensor  # (G,) float
    old_logps: torch.Tensor | None = None  # (G, T): the learner's own, from the pre-pass
    is_weights: torch.Tensor | None = None  # (G, T)

    @property
    def prompt_len(self) -> int:
        return int(self.prompt["input_ids"].shape[1])


def prepare_group(group: Group, prompt: "BatchFeature", *, pad_id: int, vocab_size: int,
                  masker: GrammarMasker | None = None, regex: str | None = None) -> PreparedGroup:
    """`group` after `prompt` (already checked against vLLM's prompt tokens) as tensors.

    With a `masker` and the `regex` the samples were drawn under, each completion's allowed-token masks are rebuilt:
    a token the grammar forced (one token allowed) has probability 1 under the sampling policy whatever the weights,
    so it is left out of ``trained``.
    """
    n = len(group.samples)
    if n == 0:
        raise LearnerError("a group needs at least one sample")
    if len(group.advantages) != n:
        raise LearnerError(f"{len(group.advantages)} advantages for {n} samples")
    weights = torch.tensor([float(w) for w in group.weights] if group.weights is not None else [1.0] * n)
    if len(weights) != n or not torch.isfinite(weights).all() or bool((weights < 0).any()):
        raise LearnerError(f"a group needs one finite, non-negative weight per sample, got {group.weights}")
    lengths = [len(s.token_ids) for s in group.samples]
    if min(lengths) == 0:
        raise LearnerError("a sample has no completion tokens")
    width = max(lengths)
    completions = torch.full((n, width), pad_id, dtype=torch.long)
    mask = torch.zeros(n, width)
    sampler = torch.zeros(n, width)
    has_sampler = torch.zeros(n, dtype=torch.bool)
    for i, s in enumerate(group.samples):
        ids = [int(t) for t in s.token_ids]
        if max(ids) >= vocab_size or min(ids) < 0:
            raise LearnerError(f"sample {i} has token ids outside the vocabulary (size {vocab_size})")
        completions[i, : len(ids)] = torch.tensor(ids)
        mask[i, : len(ids)] = 1.0
        if len(s.logprobs):
            if len(s.logprobs) != len(ids):
                raise LearnerError(f"sample {i}: {len(ids)} token ids but {len(s.logprobs)} log-probs")
            sampler[i, : len(ids)] = torch.tensor([float(x) for x in s.logprobs])
            has_sampler[i] = True
    advantages = torch.tensor([float(a) for a in group.advantages])
    if not torch.isfinite(advantages).all():
        raise LearnerError(f"advantages must be finite, got {list(group.advantages)}")
    allowed, trained = None, mask
    if masker is not None and regex is not None:
        masks = []
        for i, s in enumerate(group.samples):
            try:
                masks.append(masker.masks(regex, s.token_ids))
            except GrammarMaskError as e:
                raise LearnerError(f"sample {i}: {e}") from None
        allowed = stack_masks(masks, width)
        forced = torch.zeros(n, width, dtype=torch.bool)
        for i, m in enumerate(masks):
            forced[i, : len(m)] = m.forced()
        trained = mask * ~forced
    return PreparedGroup(prompt, completions, mask, trained, allowed, sampler, has_sampler, advantages, weights)
