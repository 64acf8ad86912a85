"""A watchdog that takes a vLLM server's whole process group down when the process that started it dies.

    python -I watchdog.py FD PGID

A server started by `halo train grpo` (or `halo eval`, `halo serve`) must not outlive it: vLLM holds gigabytes
and its port, and the next run would fail with "port in use". A signal handler covers SIGTERM and Ctrl-C, but
nothing runs in a process killed with SIGKILL (or by the OOM killer). So the starting process keeps the write end
of a pipe whose read end only this watchdog holds; the kernel closes that write end whatever way the starter
dies, the watchdog reads end-of-file, and it sends SIGTERM to the server's process group, then SIGKILL to what
is left after a grace period.

The watchdog is a member of the server's process group, which holds every process of the server (the API
server and the engine-core and worker processes it spawns, which inherit the group). Stopping the server
(SIGTERM to the group) stops the watchdog with it; when the server's processes end by themselves, the watchdog
leaves too. It uses the standard library only and runs isolated (`-I`), so it starts in milliseconds and loads
nothing of the learner's environment.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time

GRACE_S = 10.0  # vLLM shuts down cleanly within a few seconds of SIGTERM
POLL_S = 1.0


def group_members(pgid: int, exclude: int) -> list[int]:
    """Live (non-zombie) processes of a process group other than `exclude`, from Linux's /proc."""
    members = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return members
    for name in entries:
        if not name.isdigit() or int(name) == exclude:
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="utf-8", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # state ppid pgrp ...; the name may hold spaces and ')'
        if len(fields) >= 3 and int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(name))
    return members


def take_down(pgid: int) -> None:
    """SIGTERM to every other member of the group, then SIGKILL to those still there after GRACE_S."""
    me = os.getpid()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the group signal below reaches this process too
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + GRACE_S
    while group_members(pgid, me) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in group_members(pgid, me):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def watch(fd: int, pgid: int) -> int:
    me = os.getpid()
    while True:
        ready, _, _ = select.select([fd], [], [], POLL_S)
        if ready and not os.read(fd, 64):  # end of file: every holder of the write end is gone
            take_down(pgid)
            return 0
        if not group_members(pgid, me) and os.path.isdir("/proc"):
            return 0  # the server ended by itself: nothing left to guard


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: watchdog.py FD PGID", file=sys.stderr)
        return 2
    return watch(int(argv[1]), int(argv[2]))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
