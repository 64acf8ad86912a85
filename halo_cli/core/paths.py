"""Where halo keeps things on disk by default."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The repository root when halo runs from a checkout (editable install); install.sh puts both venvs here.
REPO_ROOT = Path(__file__).resolve().parents[2]


def cache_dir() -> Path:
    """Built artefacts that can be regenerated (the tiny model): HALO_CACHE_DIR, else XDG's cache folder."""
    if os.environ.get("HALO_CACHE_DIR"):
        return Path(os.environ["HALO_CACHE_DIR"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "halo"


def default_tiny_model_dir() -> Path:
    return cache_dir() / "models" / "tiny-qwen3vl"


def default_vllm_python() -> str:
    """The vLLM environment's python (install.sh makes .venv-vllm); else this interpreter, for a single-env setup."""
    candidate = Path(os.environ.get("HALO_VLLM_VENV", REPO_ROOT / ".venv-vllm")) / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable
