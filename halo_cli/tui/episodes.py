"""A run's episodes, one page at a time (a DataTable builds every row it holds, so a run of ten thousand episodes
is shown in pages of PAGE rows): iteration, task, verdict, return, length and the adapter that sampled it."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from halo_cli.core.store import Episode
from halo_cli.tui.format import VERDICT_MARK, VERDICT_STYLE, adapter_label, num, verdict

PAGE = 500


class EpisodeTable(DataTable[Text | str]):
    DEFAULT_CSS = """
    EpisodeTable { height: 1fr; border: round $primary-darken-1; }
    EpisodeTable:focus { border: round $accent; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.episodes: list[Episode] = []

    def on_mount(self) -> None:
        self.border_title = "episodes"
        self.add_column("id", key="id")
        self.add_column("it", key="iteration")
        self.add_column("task", key="task")
        self.add_column("", key="verdict")
        self.add_column("return", key="return")
        self.add_column("len", key="length")
        self.add_column("by", key="policy")

    def show(self, episodes: list[Episode], run_id: str, *, page: int, pages: int, total: int,
             select: int | None = None) -> None:
        """One page of episodes; the cursor on episode `select` when it is on the page, else on the first row."""
        self.clear()
        self.episodes = episodes
        for e in episodes:
            word = verdict(e)
            self.add_row(
                str(e.id), str(e.iteration), e.task_id,
                Text(VERDICT_MARK.get(word, "?"), style=f"bold {VERDICT_STYLE.get(word, '')}"),
                num(e.episode_return), num(e.length), adapter_label(e.policy, run_id), key=str(e.id),
            )
        where = f"  page {page + 1}/{pages}" if pages > 1 else ""
        self.border_subtitle = f"{total} episode{'s' if total != 1 else ''}{where}"
        if select is not None:
            for row, e in enumerate(episodes):
                if e.id == select:
                    self.move_cursor(row=row, animate=False)
                    break

    def current(self) -> Episode | None:
        if not self.episodes or self.cursor_row < 0 or self.cursor_row >= len(self.episodes):
            return None
        return self.episodes[self.cursor_row]
