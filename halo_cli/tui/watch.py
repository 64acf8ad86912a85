"""`halo watch` and `halo train grpo --tui`: the live dashboard of a run, read from the run store.

It polls on its own connection every `interval` seconds and runs its queries only when the file changed
(`PRAGMA data_version`): a reader of a WAL file never blocks the writer, so the trainer never waits for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import Footer, Header, Static

from halo_cli.core.store import Adapter, LatestStep, PolicyUse, RunCounts, RunStore, RunViews
from halo_cli.core.store.records import Run
from halo_cli.tui.adapters import AdapterStatus
from halo_cli.tui.format import STATUS_STYLE, action_text, ago, num, pct
from halo_cli.tui.in_flight import InFlightTable
from halo_cli.tui.metric_plots import CURVES, MetricPlots
from halo_cli.tui.samples import SamplesTable
from halo_cli.tui.screenshot import GraphicsMode, Screenshot
from halo_cli.tui.shots import marker_of
from halo_cli.tui.trainer_log import TrainerLog, TrainerOutput

# Iterations a dashboard curve shows at most: more than a plot a quarter of a terminal wide can draw.
PLOT_POINTS = 240
def planned_iterations(run: Run) -> int | None:
    """How many iterations a `train grpo` run was started for (its episodes over its concurrent episodes)."""
    grpo = run.config.get("grpo") if isinstance(run.config, dict) else None
    if run.command != "train grpo" or not isinstance(grpo, dict):
        return None
    try:
        episodes, per = int(grpo["episodes"]), max(1, int(grpo.get("concurrent_episodes", 1)))
    except (KeyError, TypeError, ValueError):
        return None
    return -(-episodes // per)


class RunStarted(Message):
    """The run the dashboard follows, once the trainer beside it has started it."""

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id


class TrainingEnded(Message):
    """The trainer beside the dashboard returned (`error` None) or failed."""

    def __init__(self, error: str | None) -> None:
        super().__init__()
        self.error = error


class WatchApp(App[None]):
    """The dashboard of `run_ref` (an id or a unique prefix); with None it waits for a RunStarted message."""

    TITLE = "halo watch"
    CSS = """
    #status { height: 1; padding: 0 1; background: $boost; }
    #bottom { height: 1fr; }
    #left { width: 1fr; }
    #latest { width: 1fr; border: round $primary-darken-1; }
    #latest-samples { width: 1fr; }
    """
    BINDINGS = [Binding("r", "reload", "refresh now"), Binding("q", "quit", "quit")]

    def __init__(self, store_path: Path, run_ref: str | None = None, *, interval: float = 1.0,
                 graphics: GraphicsMode = "auto", trainer_log: bool = False,
                 now: Callable[[], datetime] | None = None, on_ready: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.store = RunStore(store_path, create=False)  # its own connection: the trainer's is never shared
        self.views = RunViews(self.store)
        self.run_id = self.store.resolve_run_id(run_ref) if run_ref else None
        self.interval = interval
        self.graphics: GraphicsMode = graphics
        self.trainer_log = trainer_log
        self.now = now or (lambda: datetime.now(timezone.utc))
        self._seen_version: int | None = None
        self._latest: LatestStep | None = None
        self._run: Run | None = None
        self._counts: RunCounts | None = None
        self._adapters: list[Adapter] = []
        self._policies: list[PolicyUse] = []
        self.refreshes = 0  # how many times the store was read (not skipped): for tests and the curious
        self.on_ready = on_ready

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield Static("waiting for the run to start…", id="status")
        yield MetricPlots(id="curves")
        with Horizontal(id="bottom"):
            with Vertical(id="left"):
                yield InFlightTable(id="in-flight")
                yield AdapterStatus(id="adapters")
            yield Screenshot(self.graphics, id="latest")
            yield SamplesTable(title="latest sampled actions", id="latest-samples")
        if self.trainer_log:
            yield TrainerLog(id="trainer-log")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#latest", Screenshot).border_title = "latest step"
        self.poll()
        self.set_interval(self.interval, self.poll)
        if self.on_ready is not None:
            self.on_ready()

    def on_unmount(self) -> None:
        self.store.close()

    def on_run_started(self, message: RunStarted) -> None:
        self.run_id = message.run_id
        self._seen_version = None
        self.poll()

    def on_trainer_output(self, message: TrainerOutput) -> None:
        if self.trainer_log:
            self.query_one(TrainerLog).write(message.text)

    def on_training_ended(self, message: TrainingEnded) -> None:
        if message.error is None:
            self.notify("training finished: press q to leave", timeout=30)
        else:
            self.notify(f"training stopped: {message.error}", severity="error", timeout=60)
        self.action_reload()

    def action_reload(self) -> None:
        self._seen_version = None
        self.poll()

    def poll(self) -> None:
        """Reads the store when it changed; otherwise only the ages on screen move on."""
        if self.run_id is None:
            return
        try:
            version = self.store.data_version()
            if version != self._seen_version:
                self._seen_version = version
                self.read_store()
            self.show_status()
        except NoMatches:  # a timer tick while the app shuts down: its widgets are already gone
            return

    def read_store(self) -> None:
        run_id = self.run_id
        assert run_id is not None
        views, now = self.views, self.now()
        self.refreshes += 1
        self._run = views.run(run_id)
        self.title = f"halo watch · {run_id}"
        self.sub_title = f"{self._run.command} · {self._run.domain or '-'}"
        self.query_one(MetricPlots).show(views.curves(run_id, [name for name, _ in CURVES], points=PLOT_POINTS))
        self.query_one(InFlightTable).show(views.in_flight(run_id), run_id, now)
        self._latest = views.latest_step(run_id)
        self.show_latest(self._latest)
        self._counts = views.counts(run_id)
        self._adapters = self.store.list_adapters(run_id)
        self._policies = views.policies(run_id, 6)

    def show_latest(self, latest: LatestStep | None) -> None:
        shot = self.query_one("#latest", Screenshot)
        table = self.query_one("#latest-samples", SamplesTable)
        if latest is None:
            shot.show(None, None, "no step recorded yet")
            table.show([])
            return
        e, s = latest.episode, latest.step
        png = self.views.screenshot(s.screenshot) if s.screenshot else None
        shot.show(png, marker_of(s.action),
                  f"episode {e.id} · step {s.index} · {e.task_id} · {action_text(s.action)} · reward {num(s.reward)}")
        table.show(latest.samples, s.action, s.reward_components)

    def show_status(self) -> None:
        run, run_id, c = self._run, self.run_id, self._counts
        if run is None or run_id is None or c is None:
            return
        now = self.now()
        planned = planned_iterations(run)
        status = Text()
        now_status = run.status_now
        status.append("● ", style=STATUS_STYLE.get(now_status, ""))
        status.append(now_status, style=f"bold {STATUS_STYLE.get(now_status, '')}")
        status.append(f"   iteration {c.iterations}" + (f" of {planned}" if planned else ""))
        status.append(f"   {c.episodes} episodes ({c.running} running, {c.successes} successful, "
                      f"{pct(c.success_rate)})   {c.steps} steps")
        last = self._latest.step.created if self._latest is not None else None
        status.append(f"   last step {ago(last, now)} ago" if last else "   no step yet", style="bold")
        self.query_one("#status", Static).update(status)
        self.query_one(AdapterStatus).show(run_id, self._adapters, self._policies, last, now_status, now)
