"""Finding the main Chromium process of a BrowserEnv, and killing it, by a marker switch on its command line.

Playwright does not expose the browser's pid. A hung Chromium ignores `browser.close()`, so the env launches
each browser with a unique `--halo-browser=<uuid>` switch and finds its process in Linux's `/proc` to kill it.
"""

from __future__ import annotations

import os
import signal


def pid_has(pid: int, marker: str) -> bool:
    """Whether `pid` is a browser main process with `marker` on its command line (not a renderer or helper)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return False
    return marker.encode() in args and not any(a.startswith(b"--type=") for a in args)


def find_pid(marker: str) -> int | None:
    """The browser process is the one with our marker switch and no `--type=` (renderers, GPU, utility)."""
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    for pid in pids:
        if pid_has(pid, marker):
            return pid
    return None


def kill_marked(marker: str) -> None:
    """SIGKILLs the browser carrying `marker`, if it still runs."""
    pid = find_pid(marker) if marker else None
    if pid is not None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
