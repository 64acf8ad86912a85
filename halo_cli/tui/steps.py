"""An episode's steps: the action taken at each, its reward, and whether it ended the episode or failed."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from halo_cli.core.store import Step
from halo_cli.tui.format import action_text, num


class StepTable(DataTable[Text | str]):
    DEFAULT_CSS = """
    StepTable { height: 1fr; border: round $primary-darken-1; }
    StepTable:focus { border: round $accent; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.steps: list[Step] = []

    def on_mount(self) -> None:
        self.border_title = "steps"
        self.add_column("#", key="index")
        self.add_column("action", key="action")
        self.add_column("reward", key="reward")

    def show(self, steps: list[Step]) -> None:
        self.clear()
        self.steps = steps
        for s in steps:
            action = Text(action_text(s.action), style="red" if s.action is None else "")
            if s.error:
                action.append(" !", style="bold red")
            if s.done:
                action.append(" ■", style="bold")
            self.add_row(str(s.index), action, num(s.reward), key=str(s.id))
        self.border_subtitle = f"{len(steps)} step{'s' if len(steps) != 1 else ''}"

    def current(self) -> Step | None:
        if not self.steps or self.cursor_row < 0 or self.cursor_row >= len(self.steps):
            return None
        return self.steps[self.cursor_row]
