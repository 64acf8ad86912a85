"""The learner's unit of work, a `Group` (completions sampled from one prompt, with their advantages), and what
can be wrong with one.

The trainer builds groups from its rollouts (step groups, episode groups, tree-search siblings) and the learner
turns them into tensors; neither needs the other's internals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from halo_cli.core.errors import HaloError

if TYPE_CHECKING:
    from halo_cli.core.policy.vllm_client import SampleBatch


class LearnerError(HaloError):
    """The learner cannot do what was asked: bad LoRA targets, malformed groups, unreadable state."""


class PromptMismatchError(LearnerError):
    """The learner's tokenisation of a prompt differs from the prompt vLLM sampled from.

    Training on it would compute log-probs and gradients for a sequence the policy never saw. It means the two
    sides build prompts differently (chat template, image size bounds, processor version), which no retry fixes.
    """


class SampleLike(Protocol):
    """What the learner needs from a sample (``vllm_client.Sample`` has it)."""

    @property
    def token_ids(self) -> Sequence[int]: ...

    @property
    def logprobs(self) -> Sequence[float]: ...


@dataclass(frozen=True)
class Group:
    """Completions sampled from one prompt, with their advantages: the learner's unit of work.

    ``messages`` are the OpenAI messages sent to vLLM (``build_messages``). ``samples[i].logprobs`` are vLLM's
    sampling log-probs of ``samples[i].token_ids`` (the distribution it sampled from, ``processed_logprobs``): the
    learner weighs each token by its truncated importance weight against them. ``weights[i]`` is how much sample i
    counts in the loss (1 by default; ``1/|episode|`` under ``grpo.step_norm = "episode"``).
    ``prompt_token_ids``, when vLLM reported them, are checked against the learner's.
    """

    messages: Sequence[Mapping[str, Any]]
    samples: Sequence[SampleLike]
    advantages: Sequence[float]
    prompt_token_ids: Sequence[int] | None = None
    weights: Sequence[float] | None = None

    @classmethod
    def from_batch(
        cls, batch: "SampleBatch", advantages: Sequence[float], indices: Sequence[int] | None = None,
        weights: Sequence[float] | None = None,
    ) -> "Group":
        """A group from one vLLM request; ``indices`` picks the samples to train on (default: all)."""
        picked = list(range(len(batch.samples))) if indices is None else list(indices)
        if len(advantages) != len(picked):
            raise LearnerError(f"{len(advantages)} advantages for {len(picked)} samples")
        if weights is not None and len(weights) != len(picked):
            raise LearnerError(f"{len(weights)} weights for {len(picked)} samples")
        return cls(
            messages=batch.messages, samples=[batch.samples[i] for i in picked], advantages=list(advantages),
            prompt_token_ids=batch.prompt_token_ids, weights=None if weights is None else list(weights),
        )
