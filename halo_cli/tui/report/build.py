"""Builds the HTML report from the run store: the page is a Jinja template, plots are inline SVG, screenshots are
inline JPEG data URLs (one per distinct screenshot, shared by CSS class: consecutive pages and fixed-seed resets are
often identical), click markers an SVG overlay placed in percent of the picture."""

from __future__ import annotations

import base64
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2

from halo_cli import __version__
from halo_cli.core.errors import HaloError
from halo_cli.core.store import Episode, EpisodeFilter, RunStore, RunViews, Sample, Step
from halo_cli.tui.format import (
    VERDICT_MARK,
    action_text,
    adapter_label,
    duration,
    num,
    one_line,
    pct,
    signed,
    verdict,
)
from halo_cli.tui.metric_plots import CURVES
from halo_cli.tui.report.plots import metric_svg
from halo_cli.tui.samples import chosen_index, components_text
from halo_cli.tui.shots import encoded, marked, marker_of
from halo_cli.tui.verdict import criterion_text

# Screenshots are shrunk to this width in the report: enough to read a page, small enough to mail the file.
SHOT_WIDTH = 640
JPEG_QUALITY = 72


class ReportError(HaloError):
    """The report cannot be written where asked."""


@dataclass(frozen=True, slots=True)
class ReportResult:
    path: Path
    episodes: int  # episodes written with their steps
    matching: int  # episodes that matched the filter
    steps: int
    size: int  # bytes


def check_writable(path: Path) -> None:
    """Fails with one line when `path` cannot be written (a folder, a missing or read-only parent)."""
    path = Path(path)
    if path.is_dir():
        raise ReportError(f"cannot write the report to {path}: it is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ReportError(f"cannot write the report to {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ReportError(f"cannot write the report to {path}: permission denied")


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("halo_cli.tui.report", "."),
                             autoescape=jinja2.select_autoescape(["html", "jinja"]), trim_blocks=True,
                             lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters.update(num=num, pct=pct, signed=signed, one_line=one_line)
    return env


class _Shots:
    """Each distinct screenshot once, as a CSS class with its JPEG as background."""

    def __init__(self, views: RunViews) -> None:
        self.views = views
        self.css: dict[str, str] = {}  # class -> data URL
        self.sizes: dict[str, tuple[int, int]] = {}

    def add(self, digest: str) -> tuple[str, tuple[int, int]]:
        cls = "s" + digest[:16]
        if cls not in self.css:
            img = marked(self.views.screenshot(digest), None, (SHOT_WIDTH, SHOT_WIDTH * 4))
            self.css[cls] = "data:image/jpeg;base64," + base64.b64encode(
                encoded(img, "JPEG", JPEG_QUALITY)).decode()
            self.sizes[cls] = img.size
        return cls, self.sizes[cls]


def _sample_row(s: Sample, chosen: int | None, step_components: Any) -> dict[str, Any]:
    comps = s.reward_components if s.reward_components is not None else (
        step_components if s.index == chosen else None)
    return {"index": s.index, "chosen": s.index == chosen, "action": action_text(s.action, s.parse_error),
            "parsed": s.action is not None, "reward": s.reward, "advantage": s.advantage, "logprob": s.logprob_sum,
            "tokens": s.token_count, "components": components_text(comps), "text": s.text}


def _step(step: Step, samples: list[Sample], shots: _Shots) -> dict[str, Any]:
    marker = marker_of(step.action)
    shot = None
    if step.screenshot:
        cls, (w, h) = shots.add(step.screenshot)
        shot = {"cls": cls, "w": w, "h": h}
    chosen = chosen_index(samples, step.action)
    return {
        "index": step.index, "action": action_text(step.action), "reward": step.reward,
        "components": components_text(step.reward_components), "url": step.url or "", "error": step.error,
        "done": step.done, "shot": shot,
        "marker": None if marker is None else {
            "x": marker.x * 100, "y": marker.y * 100,
            "sx": marker.start[0] * 100 if marker.start else None,
            "sy": marker.start[1] * 100 if marker.start else None},
        "samples": [_sample_row(s, chosen, step.reward_components) for s in samples],
    }


def _outcome(ep: Episode) -> dict[str, Any]:
    o = ep.outcome or {}
    criteria = [{"passed": c.get("passed"), "what": criterion_text(c)[0], "found": criterion_text(c)[1]}
                for c in o.get("criteria") or []]
    skip = {"criteria", "finish", "passed", "failed", "unjudged", "task_id"}
    facts = {k: (v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)) for k, v in o.items()
             if k not in skip and v not in (None, "", [], {})}
    finish = o.get("finish")
    return {"criteria": criteria, "facts": facts,
            "finish": None if finish in (None, "", {}) else (
                finish if isinstance(finish, str) else json.dumps(finish, indent=1, ensure_ascii=False))}


def _iteration_policies(views: RunViews, run_id: str) -> list[dict[str, Any]]:
    """Consecutive iterations sampled by the same served model, as ranges: `1-3 base, 4 v1, 5 v2`."""
    spans: list[dict[str, Any]] = []
    for use in views.policies(run_id):
        label = adapter_label(use.policy, run_id)
        if spans and spans[-1]["label"] == label and spans[-1]["last"] == use.iteration - 1:
            spans[-1]["last"] = use.iteration
            spans[-1]["episodes"] += use.episodes
        elif spans and spans[-1]["label"] == label and spans[-1]["last"] == use.iteration:
            spans[-1]["episodes"] += use.episodes
        else:
            spans.append({"first": use.iteration, "last": use.iteration, "label": label, "policy": use.policy,
                          "episodes": use.episodes})
    return spans


def render_report(store: RunStore, run_id: str, *, flt: EpisodeFilter | None = None, limit: int = 50,
                  now: datetime | None = None) -> tuple[str, ReportResult]:
    """The report's HTML and what it holds (`path` and `size` are filled by write_report)."""
    views = RunViews(store)
    run = views.run(run_id)
    flt = flt or EpisodeFilter()
    counts = views.counts(run.id)
    curves = views.curves(run.id)
    known = [n for n, _ in CURVES if n in curves]
    titles = dict(CURVES)
    plots = [{"name": n, "title": titles.get(n, n), "svg": metric_svg(titles.get(n, n), curves[n]),
              "main": n in known[:8]} for n in known + sorted(set(curves) - set(known)) if curves[n]]
    matching = views.count_episodes(run.id, flt)
    chosen = views.episodes(run.id, flt, limit=limit, offset=max(0, matching - limit))
    shots = _Shots(views)
    episodes = []
    n_steps = 0
    for row in chosen:
        ep = views.episode(row.id)
        steps = views.steps(ep.id)
        samples = views.samples(ep.id)
        n_steps += len(steps)
        word = verdict(ep)
        episodes.append({
            "id": ep.id, "task": ep.task_id, "domain": ep.domain, "iteration": ep.iteration, "seed": ep.seed,
            "verdict": word, "mark": VERDICT_MARK.get(word, "?"), "return": ep.episode_return, "length": len(steps),
            "adapter": adapter_label(ep.policy, run.id), "policy": ep.policy or "-",
            "duration": duration(ep.started, ep.ended), "reason": ep.reason, "outcome": _outcome(ep),
            "steps": [_step(s, samples.get(s.id, []), shots) for s in steps],
        })
    html = _env().get_template("page.html.jinja").render(
        run=run, counts=counts, plots=plots, tasks=views.tasks(run.id), policies=_iteration_policies(views, run.id),
        adapters=store.list_adapters(run.id), settings=json.dumps(run.config, indent=2, ensure_ascii=False),
        episodes=episodes, matching=matching, shots=shots.css, filter=flt, filtered=flt.active,
        generated=(now or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC"), version=__version__,
    )
    return html, ReportResult(Path(), len(episodes), matching, n_steps, len(html.encode()))


def write_report(store: RunStore, run_id: str, path: Path, *, flt: EpisodeFilter | None = None,
                 limit: int = 50) -> ReportResult:
    """Writes the report to `path`, complete or not at all (written beside it, then renamed into place)."""
    path = Path(path)
    check_writable(path)
    html, result = render_report(store, run_id, flt=flt, limit=limit)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent if str(path.parent) else ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(html)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return ReportResult(path, result.episodes, result.matching, result.steps, path.stat().st_size)
