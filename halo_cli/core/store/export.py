"""Export of a run's trajectories as JSON Lines that `datasets.load_dataset("json", ...)` reads.

`datasets` fixes the column types from the first 10 MB of the file and then casts every later block to them,
so a column that is null throughout that first block and set further down fails the whole load. Every row
therefore has the same keys with the same non-null types:

* free-form values (actions, reward components, timings) are JSON-encoded strings (``"null"`` when absent),
  so rows with differently shaped actions still share one string column;
* a missing number is NaN (floats) or -1 (integers), a missing text is ``""``, a missing flag is false.

NaN is not strict JSON but Python's json, pyarrow, pandas and datasets all read it, and it is the usual
"missing" for numeric data. One case stays open: a list empty in every row of the first 10 MB (say, no step
with samples) and filled later; halo's trainers record samples from the first step, so it does not arise.

A run with no episodes is not exported: `datasets` (5.2) cannot load a split of zero rows from any file (an
empty file stops its JSON reader; an empty array "corresponds to no data"), so an empty export would only fail
later, in the user's training script. The export says so at once instead.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from halo_cli.core.errors import HaloError
from halo_cli.core.store.records import Run
from halo_cli.core.store.store import Episode, RunStore, Sample, Step

TRAJECTORIES_FILE = "trajectories.jsonl"
RUN_FILE = "run.json"
SCREENSHOT_DIR = "screenshots"
FORMATS = ("jsonl", "dpo")  # dpo: preference pairs from search trees (dpo.py)


class ExportError(HaloError):
    """A run cannot be exported: it has nothing to export, or the output folder cannot be written."""


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path  # the .jsonl file
    trajectories: int
    screenshots: int


def _f(v: float | None) -> float:
    return math.nan if v is None else float(v)


def _i(v: int | None) -> int:
    return -1 if v is None else int(v)


def _s(v: str | None) -> str:
    return "" if v is None else str(v)


def _j(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)


def _sample_row(s: Sample) -> dict[str, Any]:
    return {
        "index": s.index,
        "text": s.text,
        "action": _j(s.action),
        "parse_error": _s(s.parse_error),
        "token_count": _i(s.token_count),
        "logprob_sum": _f(s.logprob_sum),
        "reward": _f(s.reward),
        "advantage": _f(s.advantage),
        "finish_reason": _s(s.finish_reason),
    }


def _step_row(step: Step, screenshot: str, samples: list[Sample]) -> dict[str, Any]:
    return {
        "index": step.index,
        "url": _s(step.url),
        "screenshot": screenshot,
        "action": _j(step.action),
        "reward": _f(step.reward),
        "reward_components": _j(step.reward_components),
        "done": step.done,
        "timings": _j(step.timings),
        "error": _s(step.error),
        "samples": [_sample_row(s) for s in samples],
    }


def _episode_row(ep: Episode, steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "run_id": ep.run_id,
        "episode_id": ep.id,
        "iteration": ep.iteration,
        "task_id": ep.task_id,
        "domain": _s(ep.domain),
        "seed": _i(ep.seed),
        "status": ep.status,
        "reason": _s(ep.reason),
        "return": _f(ep.episode_return),
        "success": bool(ep.success),
        "length": ep.length if ep.length is not None else len(steps),
        "started": ep.started,
        "ended": _s(ep.ended),
        "policy": _s(ep.policy),
        "steps": steps,
    }


def export_jsonl(store: RunStore, run_id: str, out_dir: str | Path) -> ExportResult:
    """Writes `trajectories.jsonl` (one episode per line), `run.json` and `screenshots/<sha256>.png`.

    Screenshot paths in the rows are relative to the .jsonl, so the folder can be moved or uploaded whole.
    The .jsonl appears under its final name only when complete: a half-written export is never mistaken
    for a full one.
    """
    run = store.get_run(run_id)
    episodes = store.list_episodes(run.id)
    if not episodes:
        raise ExportError(f"run {run.id} has no episodes: nothing to export (a dataset of zero rows does not load)")
    out = Path(out_dir)
    try:
        return _export(store, run, episodes, out)
    except OSError as e:
        where = e.filename or out
        raise ExportError(f"cannot write the export to {where}: {e.strerror or e} (choose another folder with --out)"
                          ) from None


def _export(store: RunStore, run: Run, episodes: list[Episode], out: Path) -> ExportResult:
    shots = out / SCREENSHOT_DIR
    shots.mkdir(parents=True, exist_ok=True)
    written: set[str] = set()
    count = 0
    target = out / TRAJECTORIES_FILE
    tmp = out / (TRAJECTORIES_FILE + ".partial")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            for ep in episodes:
                steps = []
                for step in store.list_steps(ep.id):
                    rel = ""
                    if step.screenshot is not None:
                        rel = f"{SCREENSHOT_DIR}/{step.screenshot}.png"
                        if step.screenshot not in written:
                            (out / rel).write_bytes(store.get_screenshot(step.screenshot))
                            written.add(step.screenshot)
                    steps.append(_step_row(step, rel, store.list_samples(step.id)))
                f.write(json.dumps(_episode_row(ep, steps), ensure_ascii=False) + "\n")
                count += 1
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    meta = asdict(run)
    meta["last_metrics"] = {name: m.value for name, m in store.last_metrics(run.id).items()}
    meta["adapters"] = [asdict(a) for a in store.list_adapters(run.id)]
    meta["trajectories"] = count
    (out / RUN_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return ExportResult(path=target, trajectories=count, screenshots=len(written))
