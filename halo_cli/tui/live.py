"""`halo train grpo --tui`: the trainer and its dashboard in one process.

Textual needs the main thread (it installs signal handlers), so the trainer runs in a worker thread with its own
event loop and writes to its own store connection; the dashboard reads on another one and shows what the trainer
prints, posted to it as messages. Neither waits for the other.

Quitting the dashboard while the trainer runs stops the run as Ctrl-C would: a KeyboardInterrupt is raised in the
trainer's thread (CPython's `PyThreadState_SetAsyncExc`, the one way to interrupt another thread), which unwinds
through the trainer's own cleanup (browser, vLLM server, the run marked aborted). A second Ctrl-C while it unwinds
leaves at once; the run then stays `running`, as after a crash, and `--resume` continues it.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from halo_cli.tui.screenshot import GraphicsMode
from halo_cli.tui.trainer_log import MessageFile
from halo_cli.tui.watch import RunStarted, TrainingEnded, WatchApp

# The trainer's work: given the console to print on and the callback to announce its run id, it trains.
Work = Callable[[Console, Callable[[str], None]], None]


def interrupt(thread: threading.Thread) -> bool:
    """Raises KeyboardInterrupt in `thread` at its next Python instruction; False when it already ended."""
    if thread.ident is None or not thread.is_alive():
        return False
    done = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                                      ctypes.py_object(KeyboardInterrupt))
    return done == 1


def with_dashboard(store_path: Path, work: Work, *, graphics: GraphicsMode = "auto", interval: float = 1.0,
                   run_app: Callable[[WatchApp], object] | None = None) -> None:
    """Runs `work` in a thread under the live dashboard; returns when both have ended, raising the work's error
    (KeyboardInterrupt when quitting the dashboard stopped it).

    `run_app` runs the app (default: `app.run()` on the terminal; tests run it headless with an auto-pilot)."""
    failure: list[BaseException] = []

    def run() -> None:
        console = Console(file=MessageFile(app), force_terminal=False, width=150, soft_wrap=True)
        try:
            work(console, lambda run_id: app.post_message(RunStarted(run_id)))
        except BaseException as e:  # noqa: BLE001 - re-raised in the main thread below
            failure.append(e)
            app.post_message(TrainingEnded(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__))
        else:
            app.post_message(TrainingEnded(None))

    thread = threading.Thread(target=run, name="halo-trainer", daemon=True)
    app = WatchApp(store_path, None, interval=interval, graphics=graphics, trainer_log=True, on_ready=thread.start)
    (run_app or WatchApp.run)(app)
    if thread.is_alive():
        print("halo: stopping the run (the trainer finishes its current call; Ctrl-C again to leave now)",
              file=sys.stderr)
        interrupt(thread)
        thread.join()
    if failure:  # an error, or KeyboardInterrupt when q stopped the run: the command ends as after Ctrl-C
        raise failure[0]
