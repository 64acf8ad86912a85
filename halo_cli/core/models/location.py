"""Where a model comes from: a local folder or a hub id, decided by one rule for the server, learner and processor.

Hub ids are `org/name`. A name that exists as a folder is local (the loaders then never ask the hub). A name that
starts like a path (`/`, `.`, `~`) or has more than one slash is meant as a folder: when it is not there, that is
"model folder not found", not a confusing hub lookup of a path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from halo_cli.core.errors import NotFoundError


@dataclass(frozen=True)
class ModelLocation:
    """`source` is what a loader is given: an absolute folder path when `local`, else the hub id."""

    name: str
    local: bool
    source: str


def looks_like_path(name: str) -> bool:
    return name.startswith(("/", ".", "~")) or name.count("/") > 1


def locate_model(name: str | Path) -> ModelLocation:
    """Resolves a model name; NotFoundError for a folder that was meant but is not there.

    A `Path` object always means a folder.
    """
    text = str(name)
    folder = Path(text).expanduser()
    if folder.is_dir():
        return ModelLocation(text, True, str(folder.absolute()))
    if isinstance(name, Path) or looks_like_path(text) or folder.exists():
        raise NotFoundError(f"model folder not found: {text}")
    return ModelLocation(text, False, text)
