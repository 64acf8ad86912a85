"""The runs of a store, newest first: where `halo replay` starts when no run is named."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from halo_cli.core.store import RunSummary
from halo_cli.tui.format import STATUS_STYLE, pct


class RunTable(DataTable[Text | str]):
    DEFAULT_CSS = """
    RunTable { height: 1fr; border: round $primary-darken-1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.runs: list[RunSummary] = []

    def on_mount(self) -> None:
        self.border_title = "runs"
        for label, key in (("run", "id"), ("command", "command"), ("domain", "domain"), ("status", "status"),
                           ("iterations", "iterations"), ("episodes", "episodes"), ("best success", "best"),
                           ("started", "started")):
            self.add_column(label, key=key)

    def show(self, runs: list[RunSummary]) -> None:
        self.clear()
        self.runs = runs
        for r in runs:
            self.add_row(r.id, r.command, r.domain or "-", Text(r.status_now, style=STATUS_STYLE.get(r.status_now, "")),
                         "-" if r.iterations is None else str(r.iterations), str(r.episodes),
                         pct(r.best_success_rate), r.started[:19].replace("T", " "), key=r.id)
        self.border_subtitle = f"{len(runs)} run{'s' if len(runs) != 1 else ''}"

    def current(self) -> RunSummary | None:
        if not self.runs or self.cursor_row < 0 or self.cursor_row >= len(self.runs):
            return None
        return self.runs[self.cursor_row]
