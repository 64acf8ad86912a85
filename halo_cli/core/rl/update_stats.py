"""What one learner update reports: the loss and its clipping, the sampler/learner agreement, the batch's size."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class UpdateStats:
    """What one ``update`` did. Token averages are over the completion tokens trained on (under constrained sampling,
    the tokens the grammar forced, where its mask left one token, are not).

    ``logprob_gap`` is the mean absolute difference between vLLM's log-probs of the sampled tokens and the learner's
    in the pre-pass (before any step): a large gap means the two sides disagree (precision, image pre-processing, an
    adapter not hot-reloaded, sampling settings applied on one side only). ``is_weight_mean`` and
    ``is_truncated_frac`` describe the importance weights it implies. ``zero_advantage_samples`` had nothing to learn
    from (their advantage is 0) and ran no forward pass, though they count in the loss normaliser. ``grad_norm`` is
    the mean pre-clipping norm over the optimizer steps.
    """

    loss: float
    grad_norm: float
    clip_frac: float
    clip_frac_low: float
    clip_frac_high: float
    dual_clip_frac: float
    ratio_mean: float
    kl: float | None
    logprob_gap: float | None
    logprob_gap_max: float | None
    is_weight_mean: float | None
    is_truncated_frac: float | None
    entropy: float
    completion_length: float
    groups: int
    sequences: int
    zero_advantage_samples: int
    tokens: int
    prompt_tokens: int
    optimizer_steps: int
    skipped_steps: int
    lr: float
    seconds: float
    tokens_per_s: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
