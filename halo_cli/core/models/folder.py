"""What a Hugging Face model folder holds (`halo models info`), read from its JSON and safetensors headers only.

No torch and no weights are loaded, so describing an 8B checkpoint costs what reading a few headers costs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from halo_cli.core.errors import HaloError, NotFoundError
from halo_cli.core.models.tiny import read_manifest


class ModelFolderError(HaloError):
    """A model folder exists but cannot be read: malformed config.json, unreadable weights."""


@dataclass(frozen=True)
class ModelFolderInfo:
    """What a model folder holds, read from its JSON and safetensors headers only (no torch, no weights)."""

    path: Path
    architecture: str | None
    model_type: str | None
    num_parameters: int
    size_bytes: int
    dtype: str | None
    text: dict[str, Any]
    vision: dict[str, Any]
    vocab_size: int | None
    tokenizer_tokens: int | None
    has_chat_template: bool
    tiny_manifest: dict[str, Any] | None


def _safetensors_parameters(path: Path) -> int:
    """Sums tensor sizes from a safetensors header (8-byte length + JSON), so huge checkpoints cost nothing."""
    with path.open("rb") as f:
        length = int.from_bytes(f.read(8), "little")
        if not 0 < length < 100_000_000:
            raise ValueError(f"{path.name} is not a safetensors file")
        header = json.loads(f.read(length))
    total = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        count = 1
        for dim in entry["shape"]:
            count *= int(dim)
        total += count
    return total


def inspect_model_folder(path: Path) -> ModelFolderInfo:
    """Describes a Hugging Face model folder (ours or a downloaded one); NotFoundError if it is not one."""
    path = Path(path).expanduser().absolute()
    if not path.is_dir():
        raise NotFoundError(f"model folder not found: {path}")
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(f"{path} has no config.json: not a model folder") from None
    except ValueError as e:
        raise ModelFolderError(f"{path / 'config.json'} is not valid JSON: {e}") from None
    params = 0
    try:
        for weights in sorted(path.glob("*.safetensors")):
            params += _safetensors_parameters(weights)
    except (OSError, ValueError, KeyError) as e:
        raise ModelFolderError(f"cannot read the weights in {path}: {e}") from None
    tokens: int | None = None
    try:
        tok = json.loads((path / "tokenizer.json").read_text(encoding="utf-8"))
        ids = set(tok.get("model", {}).get("vocab", {}).values()) | {t["id"] for t in tok.get("added_tokens", [])}
        tokens = len(ids)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    text = config.get("text_config") or {k: config[k] for k in ("hidden_size", "num_hidden_layers") if k in config}
    architectures = config.get("architectures") or [None]
    return ModelFolderInfo(
        path=path,
        architecture=architectures[0],
        model_type=config.get("model_type"),
        num_parameters=params,
        size_bytes=sum(p.stat().st_size for p in path.iterdir() if p.is_file()),
        dtype=config.get("dtype") or config.get("torch_dtype") or text.get("dtype"),
        text=text,
        vision=config.get("vision_config") or {},
        vocab_size=text.get("vocab_size", config.get("vocab_size")),
        tokenizer_tokens=tokens,
        has_chat_template=(path / "chat_template.jinja").is_file() or (path / "chat_template.json").is_file(),
        tiny_manifest=read_manifest(path),
    )
