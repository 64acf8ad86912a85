"""An adapter's identity: the sha256 of its weights file, and the name vLLM serves it under.

A name that says which weights it serves (``<prefix>-v<k>-<sha256[:8]>``) keeps two different adapters from ever
sharing a served name: vLLM keys its prefix cache by the adapter, so a name reused for other weights (loaded in
place) could answer from blocks computed under the old ones.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

WEIGHTS_FILE = "adapter_model.safetensors"


def adapter_digest(path: str | Path) -> str:
    """sha256 of the adapter's weights file."""
    h = hashlib.sha256()
    with open(Path(path) / WEIGHTS_FILE, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def served_name(prefix: str, version: int | None, digest: str) -> str:
    return f"{prefix}-v{version}-{digest[:8]}" if version is not None else f"{prefix}-{digest[:8]}"


SERVED = re.compile(r"(?P<prefix>.+)-v(?P<version>\d+)-(?P<digest>[0-9a-f]{8})")


def parse_served_name(name: str) -> tuple[str, int] | None:
    """(prefix, version) of a name :func:`served_name` made with a version; None for any other name."""
    m = SERVED.fullmatch(name)
    return (m.group("prefix"), int(m.group("version"))) if m else None

