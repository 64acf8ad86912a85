"""Drills: small multi-step pages of our own with large targets, offline, for learning tests and benchmarks.

Why they exist: the untrained tiny model's clicks rarely land on MiniWoB's small targets (0 successes in 16-24
episodes of click-button-sequence or click-option), so RL has nothing to learn there. A drill's targets fill a
half or a third of the task area, so the untrained policy succeeds now and then, yet success still needs two or
three right clicks in the right order:

* `drill.confirm`  Open fills one half of the area; clicking it shows Confirm in the other half. Nothing fails: a
                   click beside the buttons only spends a step.
* `drill.sequence` buttons 1, 2, 3 in three columns, pressed in that order. Pressing 1 removes it and 2, 3 share
                   the area in halves; pressing 2 removes it and 3 stays put. 1 sits at one edge and 2 in the opposite
                   half, so no one place is right twice running (edge, other side, back). A button pressed out of
                   turn fails at once.
* `drill.menu`     Menu fills one of three columns; clicking it shows two items in the other two; picking one shows
                   Submit where Menu was. Submitting the wrong item fails.

The pages (`pages/`, package data) are served over loopback like MiniWoB's, in MiniWoB's 160x210 area shot at
scale 3: the task area on top, the goal below it (the untrained model's clicks fall on the upper part of the page
far more often than on the lower; measured, see bench/learning.py). `drillStart(seed)` lays the task out from the
seed (which half, column or edge, which item), so a seed is one fixed instance and the same seed gives a byte-identical
screenshot. The page's JS decides success or failure and the episode ends when it does. The reward is MiniWoB's
convention: 1 on success, else 0.

A task id may pin its instance: `drill.confirm@7` always lays out seed 7, whatever seed the episode is started
with. `halo eval` runs episode k with seed `grpo.seed + k` and the trainer with `grpo.task_seed` (or a new seed per
episode), so pinning is how training and evaluation see the same instance.
"""

from __future__ import annotations

import threading
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from halo_cli.core.env.miniwob import StaticServer
from halo_cli.core.env.tasks import Outcome, Task, Viewport
from halo_cli.core.errors import NotFoundError

if TYPE_CHECKING:
    from playwright.async_api import Page

SOURCE = "drill"
# MiniWoB's task-area size and scale: the screenshot is 480x630, about 250 vision tokens at the local profile.
DRILL_VIEWPORT = Viewport(width=160, height=210, scale=3.0)

_START_JS = "(seed) => drillStart(seed)"
_POLL_JS = "() => ({done: DRILL.done, success: DRILL.success, reason: DRILL.reason})"


def pages_dir() -> Path:
    """The folder of the drill pages (one HTML file per task, `drills.js` and `drills.css` beside them)."""
    return Path(str(files(__name__) / "pages"))


def task_id(name: str, seed: int | None = None) -> str:
    """`drill.<name>`, or `drill.<name>@<seed>` for the instance pinned to `seed`."""
    return f"{SOURCE}.{name}" if seed is None else f"{SOURCE}.{name}@{seed}"


class DrillSource:
    """The drill tasks (`drill.<name>`, site `drill`), graded by the page's own JS."""

    name = SOURCE

    def __init__(self, directory: Path | None = None, *, viewport: Viewport = DRILL_VIEWPORT) -> None:
        self._dir = directory or pages_dir()
        self._viewport = viewport
        self._server: StaticServer | None = None
        self._lock = threading.Lock()
        self._names = sorted(p.stem for p in self._dir.glob("*.html"))
        if not self._names:
            raise NotFoundError(f"no drill pages under {self._dir}")
        self._tasks = [self._task(n, None) for n in self._names]

    def _task(self, name: str, seed: int | None) -> Task:
        return Task(id=task_id(name, seed), source=self.name, site=SOURCE, goal=None,
                    meta={"name": name, "seed": seed})

    # -- serving ---------------------------------------------------------------------------------------
    @property
    def origin(self) -> str:
        """The loopback origin serving the pages; starts the server on first use."""
        with self._lock:
            if self._server is None:
                self._server = StaticServer(self._dir)
            return self._server.origin

    def close(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.close()
                self._server = None

    def __enter__(self) -> "DrillSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- TaskSource ------------------------------------------------------------------------------------
    def list_tasks(self) -> list[Task]:
        """One task per drill, its instance chosen by the episode's seed (pinned instances are not listed)."""
        return list(self._tasks)

    def resolve(self, tid: str) -> Task | None:
        """A pinned instance `drill.<name>@<seed>` (not listed, so `--domain drill` stays three tasks), else None."""
        base, sep, seed = tid.partition("@")
        name = base.removeprefix(f"{SOURCE}.")
        if not sep or not base.startswith(f"{SOURCE}.") or name not in self._names:
            return None
        try:
            return self._task(name, int(seed))
        except ValueError:
            return None

    def task(self, name: str, seed: int | None = None) -> Task:
        """A task by short name (`confirm`) or id (`drill.confirm`), pinned to `seed` when one is given."""
        short = name.removeprefix(f"{SOURCE}.")
        if short not in self._names:
            raise NotFoundError(f"no drill {name!r} (known: {', '.join(self._names)})")
        return self._task(short, seed)

    def start_url(self, task: Task) -> str:
        return f"{self.origin}/{_name(task)}.html"

    def allowed_origins(self, task: Task) -> frozenset[str]:
        return frozenset({self.origin})

    def viewport(self, task: Task) -> Viewport:
        return self._viewport

    def instance_seed(self, task: Task, seed: int) -> int:
        """The seed that lays the page out: the pinned one, else the episode's."""
        pinned = task.meta.get("seed")
        return int(pinned) if pinned is not None else int(seed)

    async def setup(self, page: "Page", task: Task, seed: int) -> str:
        await page.goto(self.start_url(task), wait_until="load")
        # The page's PRNG works on 32 bits; the trainer's derived seeds can be larger.
        return str(await page.evaluate(_START_JS, self.instance_seed(task, seed) % 2**32))

    async def poll(self, page: "Page", task: Task) -> Outcome | None:
        state = await page.evaluate(_POLL_JS)
        return _outcome(state) if state["done"] else None

    async def grade(self, page: "Page", task: Task, answer: str | None) -> Outcome:
        state = await page.evaluate(_POLL_JS)
        if state["done"]:
            return _outcome(state)
        return Outcome(reward=0.0, success=False, status="failure",
                       details={"reason": "the episode ended before the drill was completed", "answer": answer})


def _name(task: Task) -> str:
    return str(task.meta.get("name") or task.id.removeprefix(f"{SOURCE}.").partition("@")[0])


def _outcome(state: dict[str, Any]) -> Outcome:
    success = bool(state["success"])
    return Outcome(reward=1.0 if success else 0.0, success=success, status="success" if success else "failure",
                   details={"reason": state["reason"]})
