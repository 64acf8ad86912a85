"""The learner's resumable state: LoRA weights, AdamW moments, RNG streams and counters, written atomically.

The adapter alone would restart AdamW from zero moments (a visible jolt in the curves) and lose the shuffling and
learning-rate position; this is everything a resume needs beyond the settings.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from halo_cli.core.errors import NotFoundError
from halo_cli.core.fsutil import atomic_dir
from halo_cli.core.rl.groups import LearnerError

if TYPE_CHECKING:
    from halo_cli.core.rl.learner import LoRALearner

STATE_VERSION = 2


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


def _trainable_state(learner: "LoRALearner") -> dict[str, torch.Tensor]:
    return {n: p.detach().contiguous().cpu() for n, p in learner.model.named_parameters() if p.requires_grad}


def save_learner_state(learner: "LoRALearner", path: str | Path) -> Path:
    """Writes the learner's state into ``path`` atomically (a reader sees the old folder or the new one)."""
    from safetensors.torch import save_file

    path = Path(path).expanduser().absolute()
    with atomic_dir(path) as tmp:
        save_file(_trainable_state(learner), str(tmp / "trainable.safetensors"))
        torch.save(learner.optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save({**_rng_state(), "shuffle": learner.shuffle_rng.getstate()}, tmp / "rng.pt")
        meta = {
            "version": STATE_VERSION, "optimizer_steps": learner.optimizer_steps, "updates": learner.updates,
            "model": learner.model_settings.name, "lora": learner.lora_settings.model_dump(mode="json"),
        }
        (tmp / "learner.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return path


def load_learner_state(learner: "LoRALearner", path: str | Path) -> None:
    """Restores what ``save_learner_state`` wrote; refuses state from another LoRA layout or state version."""
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
    if meta.get("version") != STATE_VERSION:
        raise LearnerError(f"learner state in {path} has version {meta.get('version')}, expected {STATE_VERSION}")
    params = dict(learner.model.named_parameters())
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
        learner.optimizer.load_state_dict(optimizer)
    except (ValueError, KeyError) as e:
        raise LearnerError(f"optimizer state in {path} does not fit: {e}") from None
    _set_rng_state(rng)
    learner.shuffle_rng.setstate(_tuple_state(rng["shuffle"]))
    learner.optimizer_steps = int(meta.get("optimizer_steps", 0))
    learner.updates = int(meta.get("updates", 0))


def load_adapter_weights(learner: "LoRALearner", path: str | Path, updates: int) -> None:
    """Puts the LoRA weights of a saved adapter folder (``save_adapter``'s) into the learner, with fresh AdamW
    moments: a resume from an adapter when no full state was saved. ``updates`` is how many updates made it (the
    learning-rate schedule's position)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    path = Path(path).expanduser().absolute()
    try:
        weights = load_file(str(path / "adapter_model.safetensors"))
    except (OSError, ValueError, RuntimeError) as e:
        raise LearnerError(f"cannot read the adapter in {path}: {e}") from None
    result = set_peft_model_state_dict(learner.model, weights)
    lora_missing = [k for k in result.missing_keys if "lora_" in k]
    if result.unexpected_keys or lora_missing:
        raise LearnerError(f"the adapter in {path} does not fit this LoRA layout "
                           f"({len(result.unexpected_keys)} unexpected, {len(lora_missing)} missing tensors)")
    learner.optimizer.state.clear()
    learner.updates = int(updates)


def _tuple_state(state: Any) -> tuple[Any, ...]:
    """random.Random's state after a torch.save round trip (lists may come back where tuples went in)."""
    version, internal, gauss = state
    return (version, tuple(internal), gauss)
