"""Every action sampled at a step: its parsed form, reward and the reward's components, advantage, log-prob and
tokens; the one the episode went on with is marked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from halo_cli.core.store import Sample
from halo_cli.tui.format import action_text, num, signed


def components_text(components: Mapping[str, Any] | None) -> str:
    """`valid +0.1 new_state +0.2`: the non-zero terms of a reward, by name."""
    if not components:
        return "-"
    parts = [f"{k} {signed(float(v))}" for k, v in components.items()
             if isinstance(v, (int, float)) and float(v) != 0.0]
    return "  ".join(parts) or "all zero"


def chosen_index(samples: list[Sample], executed: Any) -> int | None:
    """Which sample the episode went on with: the first whose action is the step's executed action."""
    for s in samples:
        if executed is not None and s.action == executed:
            return s.index
    return None


class SamplesTable(DataTable[Any]):
    DEFAULT_CSS = """
    SamplesTable { height: 1fr; border: round $primary-darken-1; }
    """

    def __init__(self, *, title: str = "sampled actions", id: str | None = None) -> None:
        super().__init__(id=id, zebra_stripes=True)
        self.title = title

    def on_mount(self) -> None:
        self.border_title = self.title
        self.cursor_type = "row"
        self.add_column("", key="mark")
        self.add_column("#", key="index")
        self.add_column("action", key="action")
        self.add_column("reward", key="reward")
        self.add_column("adv", key="advantage")
        self.add_column("logp", key="logprob")
        self.add_column("tok", key="tokens")
        self.add_column("components", key="components")

    def show(self, samples: list[Sample], executed: Any = None,
             step_components: Mapping[str, Any] | None = None) -> None:
        """`executed` is the step's action (to mark the chosen sample); `step_components` are the step's reward
        terms, which are the chosen sample's when samples carry none of their own."""
        self.clear()
        chosen = chosen_index(samples, executed)
        for s in samples:
            comps = s.reward_components if s.reward_components is not None else (
                step_components if s.index == chosen else None)
            a = s.advantage or 0.0
            adv = Text(signed(s.advantage), style="green" if a > 1e-9 else "red" if a < -1e-9 else "")
            self.add_row(
                Text("▶", style="bold yellow") if s.index == chosen else "",
                str(s.index),
                Text(action_text(s.action, s.parse_error), style="" if s.action is not None else "red"),
                num(s.reward),
                adv,
                num(s.logprob_sum),
                num(s.token_count),
                components_text(comps),
                key=str(s.id),
            )
        self.border_subtitle = f"{len(samples)} sampled" if samples else "no samples"
