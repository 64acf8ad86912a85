"""LoRALearner: the trainable side of online GRPO. It scores vLLM's samples under the LoRA policy and updates it.

The sampler (vLLM) and the learner (transformers + peft) must agree on every token, or the log-probs, ratios and
gradients are those of some other sequence. So the learner:

* rebuilds each prompt from the very messages vLLM received (``to_processor_messages`` + the model's own chat
  template, same image bounds as the server's ``--mm-processor-kwargs``) and refuses, with ``PromptMismatchError``,
  to train on a prompt whose tokens differ from the ``prompt_token_ids`` vLLM reported;
* scores exactly the completion token ids vLLM returned (never a re-tokenisation of the text), under the
  distribution vLLM sampled from: logits divided by the sampling temperature, top-p as vLLM applies it
  (``logprobs.sampling_logprobs``), and under ``grpo.constrained_sampling`` the grammar's allowed-token mask at every
  position, rebuilt with xgrammar exactly as vLLM built it (``policy.grammar_mask``); vLLM runs with
  ``--logprobs-mode processed_logprobs`` so its log-probs are of that same distribution. A token the grammar forced
  has probability 1 on both sides whatever the weights: it gets no gradient and no place in the loss;
* takes the PPO ratio's denominator from its own pre-pass over the rollout (eval mode, no gradient) before the
  first optimizer step, and weighs each token by the truncated importance weight ``min(p_learner / p_vllm, C)``:
  the two engines' probabilities differ by precision and kernels, and the tokens are a sample of vLLM's.

One update takes the iteration's whole rollout: every group, one AdamW step per mini-batch
(``grpo.minibatch_size`` completions, shuffled; default: all of them) for ``grpo.ppo_epochs`` passes. All groups
are prepared and checked before the first step, so a malformed one fails the update before the adapter changed.

A group's G completions share one prompt: a screenshot of 250-900 vision tokens plus a ~1-2k-token system prompt,
against a completion of a few dozen tokens. ``_completion_logps`` therefore runs the vision tower and the prompt
once (batch 1, keeping the KV cache), repeats the cache for the completions and runs only them as a batch.
Gradients flow back through the shared cache into the single prompt pass, so training pays for one prompt per
group rather than G. With ``lora.gradient_checkpointing`` (the 8B beside vLLM on one GPU) each completion runs
with its prompt as one sequence instead, under activation checkpointing, which cannot keep a KV cache.
"""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from halo_cli.core.config import GRPOSettings, LoraSettings, ModelSettings
from halo_cli.core.fsutil import atomic_dir
from halo_cli.core.policy.constrained import tool_call_regex
from halo_cli.core.policy.grammar_mask import GrammarMasker
from halo_cli.core.policy.prompts import to_processor_messages
from halo_cli.core.rl.groups import Group, LearnerError, PromptMismatchError
from halo_cli.core.rl.learner_state import load_learner_state, save_learner_state
from halo_cli.core.rl.logprobs import sampling_logprobs, truncated_is_weights
from halo_cli.core.rl.lora import attach_lora, default_device, resolve_dtype
from halo_cli.core.rl.loss import dr_grpo_loss, loss_normaliser
from halo_cli.core.rl.optim import lr_factor, minibatches
from halo_cli.core.rl.prepared import PreparedGroup, prepare_group
from halo_cli.core.rl.update_stats import UpdateStats

if TYPE_CHECKING:
    from transformers import BatchFeature, PreTrainedModel, ProcessorMixin

    from halo_cli.core.config import Settings

ADAPTER_FILES: tuple[str, ...] = ("adapter_config.json", "adapter_model.safetensors")


# --------------------------------------------------------------------------------------------------- learner


class LoRALearner:
    """A LoRA adapter on the base VLM, trained with the clipped Dr.GRPO loss on groups sampled by vLLM."""

    def __init__(
        self,
        model: ModelSettings,
        lora: LoraSettings,
        grpo: GRPOSettings,
        *,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        base_model: "PreTrainedModel | None" = None,
        processor: "ProcessorMixin | None" = None,
    ) -> None:
        """Loads ``model.name`` (and its processor) unless ``base_model``/``processor`` are given: an architecture
        built in memory (bench/learner.py's 8B shape with random weights) trains the same way."""
        from halo_cli.core.models.load import load_base_model, load_processor

        self.model_settings = model
        self.lora_settings = lora
        self.grpo = grpo
        self.device = torch.device(device) if device is not None else default_device()
        self.dtype = dtype or resolve_dtype(model.dtype, self.device)
        self.processor: ProcessorMixin = processor if processor is not None else load_processor(model.name)
        base = base_model if base_model is not None else load_base_model(
            model.name, self.dtype, self.device, trust_remote_code=model.trust_remote_code)
        self.model = attach_lora(base, lora, grpo.seed, self.device)
        self.model.eval()
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=grpo.lr, weight_decay=grpo.weight_decay)
        self.optimizer_steps = 0
        self.updates = 0
        self.total_updates: int | None = None  # the run's last update, for a decaying lr schedule
        self.shuffle_rng = random.Random(grpo.seed)  # mini-batch order: saved with the state, so a resume repeats it
        if lora.gradient_checkpointing:
            self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            self.model.enable_input_require_grads()
        tok = self.processor.tokenizer
        self.pad_id = int(tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
        self.vocab_size = int(self.model.get_input_embeddings().weight.shape[0])
        # The regex the client sends (vllm_client): the same settings give the same grammar on both sides.
        self.regex = (tool_call_regex(grpo.constrained_actions, region=grpo.constrained_region)
                      if grpo.constrained_sampling else None)
        self._masker: GrammarMasker | None = None

    @property
    def masker(self) -> GrammarMasker:
        """xgrammar set up as vLLM sets it up for this model (built on first use: compiling takes a moment)."""
        if self._masker is None:
            self._masker = GrammarMasker.for_model(self.processor.tokenizer, self.vocab_size,
                                                   getattr(self.model, "generation_config", None))
        return self._masker

    @classmethod
    def from_settings(cls, settings: "Settings", **kwargs: Any) -> "LoRALearner":
        return cls(settings.model, settings.lora, settings.grpo, **kwargs)

    # -------------------------------------------------------------------------------------------- prompts

    def encode_prompt(self, messages: Sequence[Mapping[str, Any]]) -> "BatchFeature":
        """The prompt vLLM sampled from, as model inputs: same messages, same chat template, same image bounds."""
        size = {"shortest_edge": self.model_settings.min_pixels, "longest_edge": self.model_settings.max_pixels}
        try:
            return self.processor.apply_chat_template(
                to_processor_messages(list(messages)), add_generation_prompt=True, tokenize=True, return_dict=True,
                return_tensors="pt", processor_kwargs={"images_kwargs": {"size": size}},
            )
        except ValueError as e:
            raise LearnerError(f"cannot build the prompt: {e}") from None

    def check_prompt(self, input_ids: Sequence[int], expected: Sequence[int] | None) -> None:
        """Raises ``PromptMismatchError`` unless the learner's prompt tokens are vLLM's (when vLLM reported them)."""
        if expected is None:
            return
        ours, theirs = list(input_ids), [int(t) for t in expected]
        if ours == theirs:
            return
        at = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
        decode = self.processor.tokenizer.decode
        lo = max(0, at - 8)
        raise PromptMismatchError(
            f"prompt tokens differ from vLLM's at position {at} (learner {len(ours)} tokens, vLLM {len(theirs)}): "
            f"learner {decode(ours[lo:at + 8])!r} vs vLLM {decode(theirs[lo:at + 8])!r}; check that the server and "
            "the learner use the same chat template and image size bounds (model.min_pixels/max_pixels)"
        )

    def _prepare(self, group: Group, grammar: bool = True) -> PreparedGroup:
        """The group as tensors, its prompt checked against vLLM's tokens and, under constrained sampling, every
        completion's allowed-token masks rebuilt (``grammar=False``: scored without them)."""
        prompt = self.encode_prompt(group.messages)
        self.check_prompt(prompt["input_ids"][0].tolist(), group.prompt_token_ids)
        masks = self.masker if self.regex is not None and grammar else None
        return prepare_group(group, prompt, pad_id=self.pad_id, vocab_size=self.vocab_size, masker=masks,
                             regex=self.regex)

    # -------------------------------------------------------------------------------------------- scoring

    def _inner_vlm(self) -> Any:
        """The ``Qwen3VLModel`` inside peft's wrapper (it knows the M-RoPE layout of a prompt)."""
        return getattr(self.model.get_base_model(), "model", None)

    def _completion_positions(self, prompt: "BatchFeature", start: int, length: int, batch: int) -> torch.Tensor | None:
        """Position ids of completion tokens ``start..start+length-1`` after the prompt, shape (4, batch, length).

        Qwen3-VL gives an image grid positions that advance by its largest side, not by its token count, so text
        after an image sits at ``index + delta``. Computed here from the prompt, rather than left to the model's
        ``rope_deltas`` attribute, which a previous call may have left behind.
        """
        inner = self._inner_vlm()
        if inner is None or not hasattr(inner, "get_rope_index"):
            return None  # a text-only model: positions follow the cache length by default
        delta = 0
        if prompt.get("image_grid_thw") is not None:
            _, deltas = inner.get_rope_index(
                prompt["input_ids"], prompt["mm_token_type_ids"], image_grid_thw=prompt["image_grid_thw"],
                attention_mask=prompt.get("attention_mask"),
            )
            delta = int(deltas.reshape(-1)[0])
        text = torch.arange(start, start + length, device=self.device)
        rows = torch.stack([text, text + delta, text + delta, text + delta])  # text row, then M-RoPE t/h/w
        return rows[:, None, :].expand(4, batch, length)

    def _model_inputs(self, prompt: "BatchFeature") -> dict[str, torch.Tensor]:
        inputs = {k: v.to(self.device) for k, v in prompt.items() if isinstance(v, torch.Tensor)}
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        return inputs

    def _score(self, logits: torch.Tensor, ids: torch.Tensor, with_entropy: bool = False,
               temperature: float | None = None,
               allowed: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        t = self.grpo.temperature if temperature is None else temperature
        return sampling_logprobs(logits, ids, temperature=t, top_p=self.grpo.top_p, allowed=allowed,
                                 with_entropy=with_entropy)

    def _completion_logps(self, prompt: "BatchFeature", completions: torch.Tensor, *, with_entropy: bool = False,
                          temperature: float | None = None,
                          allowed: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Per-token log-probs (G, T) of right-padded completions that all follow one prompt (and their entropy),
        under the grammar's packed masks ``allowed`` (G, T, W) when given.

        One batch-1 forward over the prompt (the vision tower runs once here) keeps its KV cache and the logits of
        its last position, which predict every completion's first token. The cache is repeated G times and the
        completions run as one batch on top of it. Right padding needs no attention mask: a real token never
        attends to the pads after it, and the pads' own log-probs are masked out by the caller.
        """
        if self.lora_settings.gradient_checkpointing and self.model.training:
            return self._checkpointed_logps(prompt, completions, with_entropy, temperature, allowed)
        n, width = completions.shape
        completions = completions.to(self.device)
        prefill = self.model(**self._model_inputs(prompt), use_cache=True, logits_to_keep=1)
        first, first_h = self._score(prefill.logits[:, -1:, :].expand(n, 1, -1), completions[:, :1], with_entropy,
                                     temperature, None if allowed is None else allowed[:, :1])
        if width == 1:
            return first, first_h
        cache = prefill.cache
        if n > 1:
            cache.batch_repeat_interleave(n)
        positions = self._completion_positions(prompt, int(prompt["input_ids"].shape[1]), width - 1, n)
        out = self.model(input_ids=completions[:, :-1], cache=cache, position_ids=positions, use_cache=True)
        rest, rest_h = self._score(out.logits, completions[:, 1:], with_entropy, temperature,
                                   None if allowed is None else allowed[:, 1:])
        entropy = torch.cat([first_h, rest_h], dim=1) if first_h is not None and rest_h is not None else None
        return torch.cat([first, rest], dim=1), entropy

    def _checkpointed_logps(self, prompt: "BatchFeature", completions: torch.Tensor, with_entropy: bool,
                            temperature: float | None,
                            allowed: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The same log-probs, one completion at a time as prompt + completion, under activation checkpointing."""
        inputs = self._model_inputs(prompt)
        rows, entropies = [], []
        for i, row in enumerate(completions.to(self.device)):
            seq = dict(inputs)
            seq["input_ids"] = torch.cat([inputs["input_ids"], row[None, :-1]], dim=1)
            extra = row.shape[0] - 1
            if "attention_mask" in seq:
                seq["attention_mask"] = torch.cat([inputs["attention_mask"], inputs["attention_mask"].new_ones(1, extra)],
                                                  dim=1)
            if "mm_token_type_ids" in seq:
                seq["mm_token_type_ids"] = torch.cat(
                    [inputs["mm_token_type_ids"], inputs["mm_token_type_ids"].new_zeros(1, extra)], dim=1)
            out = self.model(**seq, use_cache=False, logits_to_keep=row.shape[0])
            logps, h = self._score(out.logits[:, -row.shape[0]:, :], row[None, :], with_entropy, temperature,
                                   None if allowed is None else allowed[i][None])
            rows.append(logps[0])
            if h is not None:
                entropies.append(h[0])
        return torch.stack(rows), torch.stack(entropies) if with_entropy else None

    @torch.no_grad()
    def logprobs(self, group: Group, temperature: float | None = None, grammar: bool = True) -> list[torch.Tensor]:
        """The learner's per-token log-probs of each sample's tokens under the sampling distribution (eval mode), on
        the CPU in fp32. ``temperature`` defaults to the sampling temperature; 1.0 and ``grammar=False`` give the raw
        model's (what vLLM's prompt log-probs are)."""
        prepared = self._prepare(group, grammar=grammar)
        was_training = self.model.training
        self.model.eval()
        try:
            logps, _ = self._completion_logps(prepared.prompt, prepared.completions, temperature=temperature,
                                              allowed=prepared.allowed)
        finally:
            self.model.train(was_training)
        logps = logps.float().cpu()
        return [logps[i, : int(prepared.mask[i].sum())] for i in range(logps.shape[0])]

    @torch.no_grad()
    def _reference_logps(self, prepared: PreparedGroup, rows: list[int]) -> torch.Tensor:
        """The base model's log-probs (adapter off) for the KL term, under the same grammar."""
        allowed = None if prepared.allowed is None else prepared.allowed[rows]
        with self.model.disable_adapter():
            return self._completion_logps(prepared.prompt, prepared.completions[rows], allowed=allowed)[0]

    # -------------------------------------------------------------------------------------------- training

    @torch.no_grad()
    def _prepass(self, p: PreparedGroup) -> dict[str, float]:
        """The policy before the update as the learner computes it (eval mode, no gradient): the PPO ratio's
        denominator, the importance weights against vLLM's log-probs, and what the two sides' gap and the
        distribution's entropy were."""
        logps, entropy = self._completion_logps(p.prompt, p.completions, with_entropy=True, allowed=p.allowed)
        logps = logps.float().cpu()
        p.old_logps = logps
        w = truncated_is_weights(logps, p.sampler_logps, self.grpo.is_truncation)
        use = p.has_sampler[:, None].expand_as(w)
        p.is_weights = torch.where(use, w, torch.ones_like(w))
        sampler_mask = p.trained * p.has_sampler[:, None]
        weighted = p.trained * use
        gap = (logps - p.sampler_logps).abs() * sampler_mask
        truncated = torch.exp(logps - p.sampler_logps) > self.grpo.is_truncation
        assert entropy is not None
        return {
            "gap_sum": float(gap.sum()), "gap_max": float(gap.max()) if bool(sampler_mask.any()) else 0.0,
            "sampler_tokens": float(sampler_mask.sum()), "is_sum": float((p.is_weights * p.trained).sum()),
            "is_truncated": float((truncated.float() * weighted).sum()),
            "entropy_sum": float((entropy.float().cpu() * p.trained).sum()), "tokens": float(p.trained.sum()),
        }

    def _set_lr(self) -> float:
        g = self.grpo
        lr = g.lr * lr_factor(self.updates + 1, g.lr_warmup_updates, self.total_updates, g.lr_schedule)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def update(self, groups: Sequence[Group]) -> UpdateStats:
        """One update on an iteration's rollout: ``grpo.ppo_epochs`` passes, one AdamW step per mini-batch.

        Every group is prepared (prompt tokens checked against vLLM's, shapes, finite advantages) and scored in the
        pre-pass before the first step. A mini-batch's loss is one loss over its completions, whatever groups they
        come from (``loss_normaliser``); samples with a zero advantage run no forward pass (their gradient is 0) but
        count in it. A step whose gradient is not finite is dropped (``skipped_steps``) rather than written into the
        adapter.
        """
        if not groups:
            raise LearnerError("update needs at least one group")
        g = self.grpo
        t0 = time.perf_counter()
        prepared = [self._prepare(group) for group in groups]
        self.model.eval()
        pre = defaultdict(float)
        for p in prepared:
            if g.beta == 0 and not bool(p.advantages.any()):
                continue  # nothing of it trains (A = 0 everywhere): no pre-pass either
            for k, v in self._prepass(p).items():
                pre[k] = max(pre[k], v) if k == "gap_max" else pre[k] + v
        items = [(gi, si) for gi, p in enumerate(prepared) for si in range(p.completions.shape[0])
                 if bool(p.trained[si].any())]
        lr = self._set_lr()
        totals = defaultdict(float)
        steps = skipped = zero_samples = 0
        self.model.train()
        try:
            for _ in range(g.ppo_epochs):
                for chunk in minibatches(items, g.minibatch_size, self.shuffle_rng):
                    rows_of: dict[int, list[int]] = defaultdict(list)
                    for gi, si in chunk:
                        rows_of[gi].append(si)
                    norm = loss_normaliser(
                        torch.cat([prepared[gi].weights[rows] for gi, rows in rows_of.items()]),
                        torch.cat([prepared[gi].trained[rows].sum(-1) for gi, rows in rows_of.items()]),
                        g.loss_type, g.max_completion_length,
                    )
                    self.optimizer.zero_grad(set_to_none=True)
                    chunk_loss = 0.0
                    for gi, rows in rows_of.items():
                        p = prepared[gi]
                        active = [r for r in rows if g.beta > 0 or float(p.advantages[r]) != 0.0]
                        zero_samples += len(rows) - len(active)
                        if not active:
                            continue
                        logps, _ = self._completion_logps(
                            p.prompt, p.completions[active], allowed=None if p.allowed is None else p.allowed[active])
                        ref = self._reference_logps(p, active).float() if g.beta > 0 else None
                        assert p.old_logps is not None and p.is_weights is not None
                        loss, st = dr_grpo_loss(
                            logps.float(), p.old_logps[active].to(self.device), p.advantages[active].to(self.device),
                            p.trained[active].to(self.device), epsilon=g.epsilon, epsilon_high=g.epsilon_high,
                            max_completion_length=g.max_completion_length, ref_logps=ref, beta=g.beta,
                            loss_type=g.loss_type, dual_clip=g.dual_clip,
                            is_weights=p.is_weights[active].to(self.device),
                            weights=p.weights[active].to(self.device), normaliser=norm,
                        )
                        loss.backward()
                        chunk_loss += float(loss.detach())
                        tokens = st["tokens"]
                        for key in ("clip_frac", "clip_frac_low", "clip_frac_high", "dual_clip_frac", "ratio_mean",
                                    "kl"):
                            totals[key] += st[key] * tokens
                        totals["tokens"] += tokens
                    if all(param.grad is None for param in self.params):
                        continue  # every sample of the mini-batch had a zero advantage: nothing to step on
                    grad_norm = float(torch.nn.utils.clip_grad_norm_(self.params, g.max_grad_norm))
                    if math.isfinite(grad_norm):
                        self.optimizer.step()
                        self.optimizer_steps += 1
                        totals["loss"] += chunk_loss
                        totals["grad_norm"] += grad_norm
                        steps += 1
                    else:  # a NaN/inf step would corrupt the adapter for good: drop it and say so in the stats
                        skipped += 1
                    self.optimizer.zero_grad(set_to_none=True)
        finally:
            self.model.eval()
        self.updates += 1
        seconds = time.perf_counter() - t0
        tok = max(totals["tokens"], 1.0)
        sampler_tok = pre["sampler_tokens"]
        n_seq = sum(p.completions.shape[0] for p in prepared)
        return UpdateStats(
            loss=totals["loss"] / max(steps, 1),
            grad_norm=totals["grad_norm"] / max(steps, 1),
            clip_frac=totals["clip_frac"] / tok,
            clip_frac_low=totals["clip_frac_low"] / tok,
            clip_frac_high=totals["clip_frac_high"] / tok,
            dual_clip_frac=totals["dual_clip_frac"] / tok,
            ratio_mean=totals["ratio_mean"] / tok if totals["tokens"] else 1.0,
            kl=totals["kl"] / tok if g.beta > 0 else None,
            logprob_gap=pre["gap_sum"] / sampler_tok if sampler_tok else None,
            logprob_gap_max=pre["gap_max"] if sampler_tok else None,
            is_weight_mean=pre["is_sum"] / pre["tokens"] if pre["tokens"] else None,
            is_truncated_frac=pre["is_truncated"] / pre["tokens"] if pre["tokens"] else None,
            entropy=pre["entropy_sum"] / max(pre["tokens"], 1.0),
            completion_length=sum(float(p.mask.sum()) for p in prepared) / max(n_seq, 1),
            groups=len(groups),
            sequences=n_seq,
            zero_advantage_samples=zero_samples // g.ppo_epochs,
            tokens=int(totals["tokens"] / g.ppo_epochs),
            prompt_tokens=sum(p.prompt_len for p in prepared),
            optimizer_steps=steps,
            skipped_steps=skipped,
            lr=lr,
            seconds=seconds,
            tokens_per_s=totals["tokens"] / seconds if seconds > 0 else 0.0,
        )

    # -------------------------------------------------------------------------------------------- persistence

    def save_adapter(self, path: str | Path) -> Path:
        """Writes the adapter as peft saves it (``adapter_config.json`` + ``adapter_model.safetensors``, what vLLM's
        ``/v1/load_lora_adapter`` reads), atomically: vLLM never loads a half-written adapter."""
        path = Path(path).expanduser().absolute()
        with atomic_dir(path) as tmp:
            self.model.save_pretrained(str(tmp), safe_serialization=True)
            missing = [f for f in ADAPTER_FILES if not (tmp / f).is_file()]
            if missing:
                raise LearnerError(f"peft did not write {missing} into {tmp}")
        return path

    def save_state(self, path: str | Path) -> Path:
        """Everything a resume needs beyond the settings, atomically (see ``learner_state``)."""
        return save_learner_state(self, path)

    def load_state(self, path: str | Path) -> None:
        """Restores what ``save_state`` wrote; refuses state from another LoRA layout."""
        load_learner_state(self, path)
