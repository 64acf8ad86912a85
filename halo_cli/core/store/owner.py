"""Which process a run belongs to, so that `halo runs` can tell a run still going from one whose process is gone.

A run killed with SIGKILL (or lost with its machine) never gets to record its end and stays `running` in the
store. Each run records its host, pid and a start token when it starts; a reader on the same host checks whether
that process still exists. A pid alone is not enough: pids are reused, and a reboot starts them over. Linux's
boot id and the process's start time (clock ticks since boot) name one process for good. Where /proc is missing
the token is None and the pid alone is checked; a run of another host cannot be checked and is taken at its word.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name: [state, ppid, pgrp, ...]; the name may hold spaces and ')'."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2:].split()


def process_token(pid: int) -> str | None:
    """`<boot id>:<start time>` of a live process, or None (no such process, a zombie, or no /proc)."""
    fields = _stat_fields(pid)
    boot = _boot_id()
    if fields is None or boot is None or len(fields) < 20 or fields[0] == "Z":
        return None
    return f"{boot}:{fields[19]}"  # field 22 of stat, counted from the state (field 3)


def current_owner() -> tuple[str, int, str | None]:
    """Host, pid and start token of this process, as a run records them."""
    pid = os.getpid()
    return socket.gethostname(), pid, process_token(pid)


def owner_gone(host: str | None, pid: int | None, token: str | None) -> bool:
    """True when the recorded process is certainly gone: it ran on this host and no live process is it."""
    if pid is None or host != socket.gethostname():
        return False
    if token is not None:
        if not Path("/proc").is_dir():
            return False  # recorded where /proc exists, read where it does not: cannot tell
        return process_token(pid) != token
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, as another user's process
        return False
    return False
