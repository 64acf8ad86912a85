"""Where LoRA goes on a Qwen3-VL and how the peft model is built: language-model projections only.

vLLM applies adapters to the language model and ignores them on the vision tower, so a vision-tower LoRA would make
the served policy differ from the trained one; a target that resolves only there is refused.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import torch

from halo_cli.core.config import LoraSettings
from halo_cli.core.rl.groups import LearnerError

if TYPE_CHECKING:
    from peft import PeftModel
    from transformers import PreTrainedModel

# Path components that put a module inside a vision tower (Qwen-VL: `model.visual`; LLaVA-style: the others).
VISION_TOWER_PARTS: frozenset[str] = frozenset({"visual", "vision_tower", "vision_model"})


def default_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def resolve_dtype(setting: str, device: torch.device) -> torch.dtype:
    """``auto``: bf16 on CUDA (what vLLM serves in), fp32 on CPU (bf16 matmuls there are slow to train and lossy)."""
    if setting == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    table = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
    if setting not in table:
        raise LearnerError(f"unknown model dtype {setting!r} (auto, bfloat16, float16 or float32)")
    return table[setting]


def in_vision_tower(name: str) -> bool:
    return any(part in VISION_TOWER_PARTS for part in name.split("."))


def _matches(name: str, target: str) -> bool:
    """peft's rule for a list of target names: the full module name, or its dotted suffix."""
    return name == target or name.endswith("." + target)


def split_lora_targets(module_names: Iterable[str], targets: Sequence[str]) -> tuple[list[str], list[str]]:
    """(language-model modules the targets resolve to, vision-tower modules to exclude from them).

    A target that resolves only inside the vision tower (``qkv``, ``attn.proj``, ``linear_fc1`` on Qwen3-VL) is
    refused: vLLM would ignore it. A name shared by both towers keeps its language-model modules; the vision ones
    go to peft's ``exclude_modules``.
    """
    names = list(module_names)
    language: set[str] = set()
    vision: set[str] = set()
    for target in targets:
        hits = [n for n in names if _matches(n, target)]
        if not hits:
            raise LearnerError(f"LoRA target {target!r} matches no module of the model")
        lm_hits = [n for n in hits if not in_vision_tower(n)]
        vis_hits = [n for n in hits if in_vision_tower(n)]
        if not lm_hits:
            raise LearnerError(
                f"LoRA target {target!r} is inside the vision tower ({vis_hits[0]}"
                f"{f' and {len(vis_hits) - 1} more' if len(vis_hits) > 1 else ''}): vLLM ignores LoRA there, so the "
                "served policy would differ from the trained one; target language-model projections only"
            )
        language.update(lm_hits)
        vision.update(vis_hits)
    return sorted(language), sorted(vision)


def attach_lora(base: "PreTrainedModel", lora: LoraSettings, seed: int, device: torch.device) -> "PeftModel":
    """The base model wrapped by peft with a fresh LoRA adapter on the language-model projections.

    LoRA A matrices are random: they are seeded from the run's seed without disturbing the caller's RNG streams.
    """
    from peft import LoraConfig, get_peft_model

    _, exclude = split_lora_targets((n for n, _ in base.named_modules()), lora.target_modules)
    config = LoraConfig(
        r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=list(lora.target_modules),
        exclude_modules=exclude or None, bias="none", task_type="CAUSAL_LM",
    )
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), warnings.catch_warnings():
        # peft calls transformers' deprecated is_gradient_checkpointing; not ours to fix, not the user's to see
        warnings.simplefilter("ignore", FutureWarning)
        torch.manual_seed(seed)
        model = get_peft_model(base, config)
    wrapped_vision = [n for n, _ in model.named_modules() if n.endswith(".lora_A") and in_vision_tower(n)]
    if wrapped_vision:  # split_lora_targets should make this impossible; vLLM would silently ignore them
        raise LearnerError(f"LoRA ended up in the vision tower: {wrapped_vision[:3]}")
    return model
