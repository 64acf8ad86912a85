"""Proving which adapter served a rollout: adapters named by their content, and a parity probe after every reload.

Stale-adapter bugs are silent: a server that still samples from last iteration's weights (or the base model) trains
on, and the curves only look slow. Two checks make it loud:

* An adapter is served as ``<run>-v<k>-<sha256[:8]>`` of its weights file: the name says which weights, so a resumed
  run that redoes version k with other weights gets another name, and vLLM never reuses prefix-cache blocks that were
  computed under the dead run's weights.
* After each hot reload, a fixed prompt and reply are scored by vLLM under the new adapter (prompt log-probs,
  temperature 1) and by the learner; their mean absolute log-prob gap must stay under ``grpo.parity_tolerance``,
  else the run stops with one line naming both numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from halo_cli.core.actions import LeftClick
from halo_cli.core.errors import HaloError
from halo_cli.core.policy.prompts import build_messages
from halo_cli.core.policy.vllm_client import Sample, VLLMPolicyClient
from halo_cli.core.rl.groups import Group
from halo_cli.core.rl.learner import LoRALearner

PROBE_GOAL = "Open the compose window and write to Alice about the meeting notes."
PROBE_REPLY = LeftClick(x=120, y=340, description="Click the Compose button").to_tool_call()


class AdapterParityError(HaloError):
    """vLLM's log-probs under a freshly loaded adapter disagree with the learner's: it does not serve the trained
    weights (or the two sides build the prompt differently)."""


@dataclass(frozen=True)
class Parity:
    gap: float  # mean |vLLM - learner| over the probe reply's tokens
    shift: float | None  # how far the learner's probe log-probs moved since the previous adapter
    tokens: int


class ParityProbe:
    """A fixed text-only prompt and reply, scored on both sides after every reload."""

    def __init__(self, learner: LoRALearner) -> None:
        self.learner = learner
        tok = learner.processor.tokenizer
        self.messages = build_messages(PROBE_GOAL, None, history_screenshots=0)
        self.prompt_ids = learner.encode_prompt(self.messages)["input_ids"][0].tolist()
        reply = tuple(tok(PROBE_REPLY + "<|im_end|>", add_special_tokens=False)["input_ids"])
        self.sample = Sample(text=PROBE_REPLY, action=None, parse_error=None, token_ids=reply, logprobs=(),
                             finish_reason="stop")
        self.previous: torch.Tensor | None = None

    def check(self, client: VLLMPolicyClient, name: str, tolerance: float) -> Parity:
        """Scores the probe under adapter `name` on both sides; AdapterParityError when they disagree."""
        ours = self.learner.logprobs(Group(self.messages, [self.sample], [0.0], prompt_token_ids=self.prompt_ids),
                                     temperature=1.0, grammar=False)[0]
        ids = [*self.prompt_ids, *self.sample.token_ids]
        theirs = torch.tensor(client.score(ids, len(self.prompt_ids), model=name))
        gap = float((ours - theirs).abs().mean())
        shift = float((ours - self.previous).abs().mean()) if self.previous is not None else None
        self.previous = ours
        if gap > tolerance:
            moved = f"; the update moved the learner's own by {shift:.4f}" if shift is not None else ""
            raise AdapterParityError(
                f"adapter {name} as served by vLLM disagrees with the learner on the parity probe: mean |log-prob "
                f"gap| {gap:.4f} > grpo.parity_tolerance {tolerance:g}{moved}; the server does not serve the "
                "trained weights")
        return Parity(gap=gap, shift=shift, tokens=len(self.sample.token_ids))
