"""The episodes a run has going right now, with their step counts: whether rollouts are moving."""

from __future__ import annotations

from datetime import datetime

from textual.widgets import DataTable

from halo_cli.core.store import InFlight
from halo_cli.tui.format import adapter_label, ago


class InFlightTable(DataTable[str]):
    DEFAULT_CSS = """
    InFlightTable { height: 1fr; border: round $primary-darken-1; }
    """

    def on_mount(self) -> None:
        self.border_title = "episodes in flight"
        self.cursor_type = "row"
        self.add_columns("episode", "iter", "task", "steps", "policy", "running for")

    def show(self, episodes: list[InFlight], run_id: str, now: datetime) -> None:
        self.clear()
        for f in episodes:
            e = f.episode
            self.add_row(str(e.id), str(e.iteration), e.task_id, str(f.steps), adapter_label(e.policy, run_id),
                         ago(e.started, now), key=str(e.id))
        self.border_subtitle = f"{len(episodes)} running" if episodes else "none running"
