"""SIGTERM and SIGHUP end a command the way Ctrl-C does.

SIGTERM is what `timeout`, CI runners, schedulers and container stops send; SIGHUP comes when the terminal goes
away. Python's default for both is to die on the spot: no `finally` runs, so a run would stay `running` and the
vLLM server it started would be left to its watchdog. Ctrl-C, on the other hand, is clean: outside an event loop
it raises KeyboardInterrupt; inside `asyncio.run` it cancels the main task, whose clean-up (closing the browser)
runs, and then raises KeyboardInterrupt. So while `interrupt_on_termination()` is active these signals call
whatever SIGINT's handler is at that moment, and the command ends through the same code path, recorded as
aborted. A second signal acts like a second Ctrl-C and interrupts the clean-up itself.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGHUP)

_received: list[signal.Signals] = []


def received() -> signal.Signals | None:
    """The termination signal that interrupted this process, or None (no signal, or Ctrl-C)."""
    return _received[-1] if _received else None


def _as_interrupt(signum: int, frame: FrameType | None) -> None:
    _received.append(signal.Signals(signum))
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)  # asyncio.Runner's cancels the main task; Python's default raises
    else:
        raise KeyboardInterrupt


@contextmanager
def interrupt_on_termination() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP interrupt like Ctrl-C (main thread only, as all signal handling).

    A process started with SIGINT ignored (`nohup`, `&` in a script) gets Python's default SIGINT handler for the
    block, so that `asyncio.run` installs its own and a termination cancels the event loop's main task cleanly.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # a command run in a worker thread (under the dashboard): the main thread owns the signals
        return
    previous = {s: signal.signal(s, _as_interrupt) for s in SIGNALS}
    sigint = signal.getsignal(signal.SIGINT)
    if sigint == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if sigint == signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
