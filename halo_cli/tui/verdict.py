"""How the task's grader judged an episode: for REAL tasks every criterion with its verdict (what a jmespath query
expected and found, what an eval script printed, the judge's answer) and the `/finish` differences it read; for
MiniWoB the page's own reward and reason."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.json import JSON
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from halo_cli.core.store import Episode
from halo_cli.tui.format import VERDICT_STYLE, num, one_line, plural, verdict

# Keys of Outcome.details shown by their own part of the panel, not in the list of other facts.
_OWN = {"criteria", "finish", "passed", "failed", "unjudged", "task_id", "reason"}


def criterion_mark(passed: Any) -> Text:
    if passed is True:
        return Text("✓", style="bold green")
    if passed is False:
        return Text("✗", style="bold red")
    return Text("?", style="bold magenta")


def criterion_text(c: Mapping[str, Any]) -> tuple[str, str]:
    """What a criterion checks, and what the grader found: one line each."""
    what = c.get("description") or c.get("query") or c.get("rubric") or c.get("script") or c.get("type", "")
    if c.get("type") == "jmespath" and "expected" in c:
        found = f"expected {json.dumps(c.get('expected'), ensure_ascii=False)}"
        found += f", found {json.dumps(c.get('actual'), ensure_ascii=False)}" if "actual" in c else ""
    else:
        found = str(c.get("error") or c.get("unjudged") or c.get("output") or c.get("stderr") or "")
        if c.get("similarity") is not None:
            found = f"judge similarity {num(c['similarity'])}"
    if c.get("error") and c.get("type") == "jmespath":
        found = str(c["error"])
    return one_line(str(what), 70), one_line(found, 90)


def verdict_renderable(ep: Episode) -> RenderableType:
    word = verdict(ep)
    outcome: Mapping[str, Any] = ep.outcome or {}
    head = Text()
    head.append(word.upper(), style=f"bold {VERDICT_STYLE.get(word, '')}")
    head.append(f"   return {num(ep.episode_return)}   {plural(ep.length, 'step')}")
    reason = ep.reason or outcome.get("reason")
    if reason:
        head.append(f"\n{one_line(str(reason), 200)}", style="italic")
    parts: list[RenderableType] = [head]
    criteria = outcome.get("criteria") or []
    if criteria:
        summary = (f"{outcome.get('passed', 0)} passed, {outcome.get('failed', 0)} failed, "
                   f"{outcome.get('unjudged', 0)} unjudged")
        lines = Text(f"\ngrader: {summary}", style="bold")
        for c in criteria:
            what, found = criterion_text(c)
            lines.append("\n")
            lines.append_text(criterion_mark(c.get("passed")))
            lines.append(f" {what}")
            if found:
                lines.append(f"\n  {found}", style="dim")
        parts.append(lines)
    others = {k: v for k, v in outcome.items() if k not in _OWN and v not in (None, "", [], {})}
    if others:
        facts = Table.grid(padding=(0, 2))
        facts.add_column(style="dim")
        facts.add_column()
        for k, v in others.items():
            facts.add_row(k, one_line(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False), 160))
        parts += [Text(""), facts]
    finish = outcome.get("finish")
    if finish not in (None, {}, ""):
        parts.append(Text("\n/finish differences", style="bold"))
        parts.append(JSON.from_data(finish, indent=1) if not isinstance(finish, str) else Text(finish))
    if not outcome and word != "running":
        parts.append(Text("\nno grader details recorded for this episode", style="dim"))
    return Group(*parts)


class Verdict(VerticalScroll):
    DEFAULT_CSS = """
    Verdict { border: round $primary-darken-1; padding: 0 1; height: 1fr; }
    """

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static("", id="verdict-body")

    def on_mount(self) -> None:
        self.border_title = "outcome"

    def show(self, ep: Episode | None) -> None:
        self.query_one("#verdict-body", Static).update(verdict_renderable(ep) if ep is not None else "")
        self.scroll_home(animate=False)
