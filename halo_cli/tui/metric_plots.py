"""The training curves: one small line plot per metric over iterations, in a grid, metrics that exist only.

Plots are `textual-plotext` widgets (Textualize's wrapper of plotext): axes with ticks in a few terminal cells,
which sparklines lack, and the plot's colours follow the app's theme.
"""

from __future__ import annotations

from textual.containers import Grid
from textual.widgets import Static
from textual_plotext import PlotextPlot

from halo_cli.tui.format import num

# What the dashboard shows, in order, when the run logged it: the learning signal first, then the optimiser's.
CURVES: tuple[tuple[str, str], ...] = (
    ("mean_reward", "mean reward"),
    ("success_rate", "success rate"),
    ("reward_std", "reward std"),
    ("frac_reward_zero_std", "zero-std groups"),
    ("episode_length", "episode length"),
    ("loss", "loss"),
    ("is_weight_mean", "IS weight"),
    ("sample_success_rate", "sample success"),
    ("kl", "KL"),
    ("logprob_gap", "log-prob gap"),
    ("grad_norm", "grad norm"),
)
TITLES = dict(CURVES)


def chosen(curves: dict[str, list[tuple[int, float]]], slots: int) -> list[str]:
    """The metrics to plot: those of CURVES the run has, in CURVES' order, at most `slots`."""
    return [name for name, _ in CURVES if curves.get(name)][:slots]


class MetricPlot(PlotextPlot):
    """One metric's curve, its latest value in the title."""

    DEFAULT_CSS = """
    MetricPlot { border: round $primary-darken-1; height: 1fr; width: 1fr; padding: 0; }
    """

    def plot(self, name: str, points: list[tuple[int, float]]) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        last = num(ys[-1]) if ys else "-"
        self.border_title = f"{TITLES.get(name, name)}  [b]{last}[/b]"
        if xs:
            plt.plot(xs, ys, marker="braille", color="cyan")
            if len(xs) == 1:
                plt.scatter(xs, ys, marker="dot", color="cyan")
            step = max(1, (xs[-1] - xs[0]) // 4 or 1)
            plt.xticks(list(range(xs[0], xs[-1] + 1, step)))
            lo, hi = min(ys), max(ys)
            if hi - lo < 1e-9:
                pad = abs(hi) * 0.1 or 1.0
                plt.ylim(lo - pad, hi + pad)
        plt.xlabel("")
        self.refresh()


class MetricPlots(Grid):
    """A grid of `slots` plots; `show` plots the metrics the run has and says which ones it has not."""

    DEFAULT_CSS = """
    MetricPlots { grid-size: 4 2; grid-gutter: 0 1; height: 22; }
    MetricPlots > .none { column-span: 4; row-span: 2; content-align: center middle; color: $text-muted; }
    """

    def __init__(self, slots: int = 8, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.slots = slots
        self.shown: list[str] = []

    def on_mount(self) -> None:
        self.mount(Static("no metrics logged yet: they appear after the first iteration", classes="none"))

    def show(self, curves: dict[str, list[tuple[int, float]]]) -> None:
        names = chosen(curves, self.slots)
        if names != self.shown:
            self.remove_children()
            self.mount_all([MetricPlot(id=f"plot-{n}") for n in names]
                           or [Static("no metrics logged yet: they appear after the first iteration",
                                      classes="none")])
            self.shown = names
            self.call_after_refresh(self._plot_all, curves)
        else:
            self._plot_all(curves)

    def _plot_all(self, curves: dict[str, list[tuple[int, float]]]) -> None:
        for name in self.shown:
            self.query_one(f"#plot-{name}", MetricPlot).plot(name, curves.get(name, []))
