"""Writing folders so that a crash or a concurrent reader never sees half of one."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yields a temp folder beside `path`; on success it replaces `path` by renames, on failure it is removed.

    A reader (vLLM loading an adapter, a resume after `kill -9`) sees the old folder or the new one, never a
    half-written one; the only window is between the two renames, when `path` briefly does not exist. Files are
    fsynced and made world-readable first: the vLLM server may run as another user.
    """
    path = Path(path).expanduser().absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    old: Path | None = None
    try:
        yield tmp
        for f in tmp.rglob("*"):
            if f.is_file():
                with f.open("rb") as fh:
                    os.fsync(fh.fileno())
                os.chmod(f, 0o644)
            elif f.is_dir():
                os.chmod(f, 0o755)
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0700
        if path.exists():
            old = path.parent / f".{path.name}.old-{os.getpid()}-{time.time_ns()}"
            path.rename(old)
        tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not path.exists():
            old.rename(path)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
