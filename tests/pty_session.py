"""Runs a command in a pseudo-terminal, as a person at a terminal would: Textual apps need one to draw.

`PtySession` reads what the program draws (so it never blocks on a full pipe), types keys, and waits for it to
exit. Used by the views tests to drive `halo train grpo --tui` end to end.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time
from collections.abc import Callable, Sequence


class PtySession:
    def __init__(self, argv: Sequence[str], *, env: dict[str, str], cwd: str, size: tuple[int, int] = (160, 48)):
        self.output = bytearray()
        pid, fd = pty.fork()
        if pid == 0:  # the child: the command, on the terminal's slave side
            os.chdir(cwd)
            os.execvpe(argv[0], list(argv), env)
        self.pid, self.fd = pid, fd
        cols, rows = size
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.status: int | None = None

    def pump(self, seconds: float) -> None:
        """Reads what the program drew during `seconds`."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([self.fd], [], [], max(0.0, min(0.2, end - time.monotonic())))
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # the program exited and closed the terminal
                    return
                if not chunk:
                    return
                self.output += chunk

    def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return True
            if self.poll() is not None:
                return condition()
            self.pump(0.5)
        return False

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def poll(self) -> int | None:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
        return self.status

    def wait(self, timeout: float) -> int | None:
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.poll() is None:
            self.pump(0.3)
        return self.poll()

    def kill(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.wait(10)
        os.close(self.fd)
