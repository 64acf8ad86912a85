"""`halo replay`: a run's episodes and their steps, step by step, with the screenshot, every sampled action and the
grader's verdict.

Runs -> episodes -> steps. Every move is one or two indexed queries of `core/store/views.py` run on the UI thread
(a millisecond or so at 100 000 steps: `bench/views.py`), which keeps the app simple and its tests deterministic.
"""

from __future__ import annotations

import math
from dataclasses import replace

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from halo_cli.core.store import Episode, EpisodeFilter, RunStore, RunViews, Sample, Step
from halo_cli.tui.episodes import PAGE, EpisodeTable
from halo_cli.tui.format import adapter_label, duration, num, one_line, plural, verdict
from halo_cli.tui.run_table import RunTable
from halo_cli.tui.samples import SamplesTable, components_text
from halo_cli.tui.screenshot import GraphicsMode, Screenshot
from halo_cli.tui.shots import marker_of
from halo_cli.tui.steps import StepTable
from halo_cli.tui.verdict import Verdict


def filter_text(flt: EpisodeFilter) -> str:
    parts = []
    if flt.failed:
        parts.append("failed only")
    for label, value in (("domain", flt.domain), ("task", flt.task), ("iteration", flt.iteration)):
        if value is not None and value != "":
            parts.append(f"{label} {value}")
    if flt.text:
        parts.append(f"search “{flt.text}”")
    return "filters: " + (" · ".join(parts) if parts else "none")


class RunsScreen(Screen[None]):
    """Every run of the store; Enter opens one."""

    BINDINGS = [Binding("enter", "open", "open run"), Binding("q", "app.quit", "quit")]

    def __init__(self, views: RunViews) -> None:
        super().__init__()
        self.views = views

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield RunTable(id="runs")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = str(self.views.store.path)
        self.query_one(RunTable).show(self.views.store.list_runs())

    @on(DataTable.RowSelected, "#runs")
    def action_open(self) -> None:
        run = self.query_one(RunTable).current()
        if run is not None:
            self.app.push_screen(RunScreen(self.views, run.id, EpisodeFilter(), self.app.graphics))  # type: ignore[attr-defined]


class RunScreen(Screen[None]):
    """One run: its episodes on the left, the chosen episode's steps, screenshot, samples and verdict on the right."""

    DEFAULT_CSS = """
    RunScreen #filters { height: 1; padding: 0 1; background: $boost; color: $text-muted; }
    RunScreen #search { display: none; height: 3; }
    RunScreen #search.visible { display: block; }
    RunScreen #body { height: 1fr; }
    RunScreen #episodes { width: 54; }
    RunScreen #episode-head { height: 2; padding: 0 1; background: $boost; }
    RunScreen #step-row { height: 1fr; }
    RunScreen #steps { width: 44; }
    RunScreen #detail { height: 15; }
    RunScreen #verdict { width: 56; }
    """

    BINDINGS = [
        Binding("right,l,]", "step(1)", "next step"),
        Binding("left,h,[", "step(-1)", "prev step"),
        Binding("n", "episode(1)", "next episode"),
        Binding("p", "episode(-1)", "prev episode"),
        Binding("f", "toggle_failed", "failed only"),
        Binding("d", "toggle('domain')", "this domain"),
        Binding("t", "toggle('task')", "this task"),
        Binding("i", "toggle('iteration')", "this iteration"),
        Binding("slash", "search", "search"),
        Binding("c", "clear", "clear filters"),
        Binding("s", "search_tree", "search tree"),
        Binding(">", "page(1)", "next page", show=False),
        Binding("<", "page(-1)", "prev page", show=False),
        Binding("tab", "app.focus_next", "switch table", show=False),
        Binding("escape", "back", "runs"),
        Binding("q", "app.quit", "quit"),
    ]

    def __init__(self, views: RunViews, run_id: str, flt: EpisodeFilter, graphics: GraphicsMode) -> None:
        super().__init__()
        self.views = views
        self.run = views.run(run_id)
        self.flt = flt
        self.graphics = graphics
        self.page = 0
        self.pages = 1
        self.total = 0
        self.episode: Episode | None = None
        self.steps: list[Step] = []
        self.samples: dict[int, list[Sample]] = {}

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield Static("", id="filters", markup=False)
        yield Input(placeholder="search task ids, URLs, actions, errors; Enter applies, Escape cancels", id="search")
        with Horizontal(id="body"):
            yield EpisodeTable(id="episodes")
            with Vertical(id="episode"):
                yield Static("", id="episode-head")
                with Horizontal(id="step-row"):
                    yield StepTable(id="steps")
                    yield Screenshot(self.graphics, id="shot")
                with Horizontal(id="detail"):
                    yield SamplesTable(id="samples")
                    yield Verdict(id="verdict")
        yield Footer()

    def on_mount(self) -> None:
        r = self.run
        self.title = f"halo replay · {r.id}"
        self.sub_title = f"{r.command} · {r.domain or '-'} · {r.status_now}"
        self.load_page(0)
        self.query_one(EpisodeTable).focus()

    # -- loading ------------------------------------------------------------------------------------

    def load_page(self, page: int, select: int | None = None) -> None:
        self.total = self.views.count_episodes(self.run.id, self.flt)
        self.pages = max(1, math.ceil(self.total / PAGE))
        self.page = min(max(0, page), self.pages - 1)
        eps = self.views.episodes(self.run.id, self.flt, limit=PAGE, offset=self.page * PAGE)
        self.query_one("#filters", Static).update(filter_text(self.flt))
        table = self.query_one(EpisodeTable)
        table.show(eps, self.run.id, page=self.page, pages=self.pages, total=self.total, select=select)
        if not eps:
            self.open_episode(None)
        else:
            self.open_episode(table.current())

    def open_episode(self, ep: Episode | None) -> None:
        if ep is not None and self.episode is not None and ep.id == self.episode.id:
            return
        self.episode = self.views.episode(ep.id) if ep is not None else None
        self.steps = self.views.steps(ep.id) if ep is not None else []
        self.samples = self.views.samples(ep.id) if ep is not None else {}
        self.query_one("#episode-head", Static).update(self._episode_head())
        self.query_one(StepTable).show(self.steps)
        self.query_one(Verdict).show(self.episode)
        self.show_step(0)

    def show_step(self, row: int) -> None:
        shot = self.query_one(Screenshot)
        table = self.query_one(SamplesTable)
        if not self.steps:
            shot.show(None, None, "no steps recorded" if self.episode is not None else "no episode matches")
            table.show([])
            return
        row = min(max(0, row), len(self.steps) - 1)
        step = self.steps[row]
        png = self.views.screenshot(step.screenshot) if step.screenshot else None
        caption = (f"step {step.index}  ·  reward {num(step.reward)}  ·  {components_text(step.reward_components)}"
                   f"  ·  {one_line(step.url or '', 60)}")
        if step.error:
            caption += f"  ·  error: {one_line(step.error, 60)}"
        shot.show(png, marker_of(step.action), caption)
        table.title = f"sampled actions at step {step.index}"
        table.border_title = table.title
        table.show(self.samples.get(step.id, []), step.action, step.reward_components)

    def _episode_head(self) -> str:
        e = self.episode
        if e is None:
            return "no episode matches the filters" if self.flt.active else "this run has no episodes yet"
        word = verdict(e)
        return (f"[b]episode {e.id}[/b] · {e.task_id} · iteration {e.iteration} · seed {num(e.seed)} · "
                f"[b]{word}[/b] · return {num(e.episode_return)} · {plural(len(self.steps), 'step')} · "
                f"{duration(e.started, e.ended)}\nsampled by [b]{adapter_label(e.policy, self.run.id)}[/b] "
                f"({e.policy or '-'})")

    # -- events and keys ----------------------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#episodes")
    def _episode_highlighted(self) -> None:
        self.open_episode(self.query_one(EpisodeTable).current())

    @on(DataTable.RowHighlighted, "#steps")
    def _step_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_step(event.cursor_row)

    def action_step(self, delta: int) -> None:
        steps = self.query_one(StepTable)
        if self.steps:
            steps.move_cursor(row=min(max(0, steps.cursor_row + delta), len(self.steps) - 1), animate=False)

    def action_episode(self, delta: int) -> None:
        table = self.query_one(EpisodeTable)
        row = table.cursor_row + delta
        if row >= len(table.episodes) and self.page + 1 < self.pages:
            self.load_page(self.page + 1)
        elif row < 0 and self.page > 0:
            self.load_page(self.page - 1)
            table.move_cursor(row=len(table.episodes) - 1, animate=False)
        elif 0 <= row < len(table.episodes):
            table.move_cursor(row=row, animate=False)

    def action_page(self, delta: int) -> None:
        self.load_page(self.page + delta)

    def set_filter(self, flt: EpisodeFilter) -> None:
        keep = self.episode.id if self.episode is not None else None
        self.flt = flt
        self.episode = None
        self.load_page(0, select=keep)

    def action_toggle_failed(self) -> None:
        self.set_filter(replace(self.flt, failed=not self.flt.failed))

    def action_toggle(self, facet: str) -> None:
        """Filters on the current episode's domain, task or iteration; again, drops that filter."""
        current = getattr(self.flt, facet)
        if current is not None:
            self.set_filter(replace(self.flt, **{facet: None}))
        elif self.episode is not None:
            value = {"domain": self.episode.domain, "task": self.episode.task_id,
                     "iteration": self.episode.iteration}[facet]
            self.set_filter(replace(self.flt, **{facet: value}))

    def action_search_tree(self) -> None:
        """The search tree behind the episode (a `train mcts` best path), when it has one."""
        from halo_cli.tui.search_tree import SearchTreeScreen, episode_tree

        tree = episode_tree(self.views.store, self.episode.id) if self.episode is not None else None
        if tree is None:
            self.notify("this episode has no search tree (only `halo train mcts` episodes do)")
            return
        self.app.push_screen(SearchTreeScreen(self.views.store, tree))

    def action_clear(self) -> None:
        self.set_filter(EpisodeFilter())

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.add_class("visible")
        box.value = self.flt.text or ""
        box.focus()

    @on(Input.Submitted, "#search")
    def _search(self, event: Input.Submitted) -> None:
        box = self.query_one("#search", Input)
        box.remove_class("visible")
        self.query_one(EpisodeTable).focus()
        self.set_filter(replace(self.flt, text=event.value.strip() or None))

    def action_back(self) -> None:
        box = self.query_one("#search", Input)
        if box.has_class("visible"):
            box.remove_class("visible")
            self.query_one(EpisodeTable).focus()
        elif len(self.app.screen_stack) > 2:
            self.app.pop_screen()
        else:
            self.app.switch_screen(RunsScreen(self.views))


class ReplayApp(App[None]):
    """Opens `run_ref` (an id or a unique prefix) with `flt` applied, or the list of runs when none is given."""

    TITLE = "halo replay"

    def __init__(self, store: RunStore, run_ref: str | None = None, *, flt: EpisodeFilter | None = None,
                 graphics: GraphicsMode = "auto") -> None:
        super().__init__()
        self.views = RunViews(store)
        self.run_id = store.resolve_run_id(run_ref) if run_ref else None
        self.flt = flt or EpisodeFilter()
        self.graphics: GraphicsMode = graphics

    def on_mount(self) -> None:
        if self.run_id is None:
            self.push_screen(RunsScreen(self.views))
        else:
            self.push_screen(RunScreen(self.views, self.run_id, self.flt, self.graphics))
