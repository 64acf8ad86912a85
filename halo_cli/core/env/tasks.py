"""One task interface over three sources (REAL through agisdk, local REAL-compatible sites, MiniWoB++).

BrowserEnv only talks to a `TaskSource`; a source knows how to set a page up for a task, whether the page
itself ended the episode (MiniWoB), and how to grade the final state (agisdk's evaluators for REAL).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from halo_cli.core.errors import HaloError, NotFoundError

if TYPE_CHECKING:  # playwright is imported lazily by the env; the protocol only names the type
    from playwright.async_api import Page

OutcomeStatus = Literal["success", "failure", "unjudged", "aborted"]


@dataclass(frozen=True)
class Task:
    """A task as the trainer sees it. `id` is unique across sources: `v2.gomail-1`, `miniwob.click-test-2`."""

    id: str
    source: str
    site: str
    goal: str | None  # None where the page makes the goal at reset (MiniWoB utterances depend on the seed)
    difficulty: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


class SiteError(HaloError):
    """A task's site failed on a healthy browser: refused, unreachable, an error page, too slow. Worth trying again
    later (hosted sites have outages); the browser is not to blame. Sources raise it (or a subclass) for that."""


@dataclass(frozen=True)
class Outcome:
    """How an episode ended, as graded by the task's own judge."""

    reward: float
    success: bool
    status: OutcomeStatus
    details: Mapping[str, Any] = field(default_factory=dict)
    # The final state the grade was read from (REAL's /finish JSON): the dense reward's `finish` milestones read it.
    # Kept apart from `details`, which the run store keeps: a hosted site's state can run to megabytes.
    finish_state: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def aborted(cls, reason: str) -> "Outcome":
        return cls(reward=0.0, success=False, status="aborted", details={"reason": reason})


@dataclass(frozen=True)
class Viewport:
    """The page's size in CSS pixels and the device scale factor of its screenshots.

    The screenshot is `width*scale` x `height*scale` pixels. A tiny page (MiniWoB's 160x210 task area) stays
    legible with scale 3 instead of CSS zoom, which page scripts that read mouse coordinates would not expect.
    """

    width: int
    height: int
    scale: float = 1.0


@runtime_checkable
class TaskSource(Protocol):
    """A family of tasks that run in a browser page.

    Optional hooks, looked up with getattr so sources need not define them: `viewport(task) -> Viewport | None`
    (None, or no hook: the browser settings' viewport at scale 1); `resolve(task_id) -> Task | None`, a task the
    source offers without listing it (a drill instance pinned to a seed, `drill.confirm@7`).
    """

    name: str

    def list_tasks(self) -> list[Task]:
        """Every task this source offers, in a stable order."""
        ...

    def start_url(self, task: Task) -> str:
        """Where the episode's page starts."""
        ...

    def allowed_origins(self, task: Task) -> frozenset[str]:
        """Scheme://host[:port] origins the agent may reach; everything else is blocked."""
        ...

    async def setup(self, page: "Page", task: Task, seed: int) -> str:
        """Resets the site's state for `task` with `seed`, navigates to the start page, returns the goal."""
        ...

    async def poll(self, page: "Page", task: Task) -> Outcome | None:
        """An Outcome when the page itself ended the episode (MiniWoB's done flag), else None."""
        ...

    async def grade(self, page: "Page", task: Task, answer: str | None) -> Outcome:
        """Grades the final state at the end of an episode; `answer` is the agent's final message, if any."""
        ...


def select_tasks(spec: str, sources: Iterable[TaskSource], *, version: str | None = None) -> list[Task]:
    """Resolves a user's task selection to tasks, in a stable order without duplicates.

    `spec` is a comma-separated list of: `all`; a source name (`miniwob`, `real`); a domain (`gomail`,
    optionally restricted to REAL task `version` v1/v2); `source:name` (`miniwob:click-test-2`); or a task id
    (`v2.gomail-1`, `miniwob.click-test-2`), listed or resolved by its source's `resolve` hook (`drill.confirm@7`).
    """
    sources = list(sources)
    tasks = [t for s in sources for t in s.list_tasks()]
    by_id = {t.id: t for t in tasks}
    chosen: dict[str, Task] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        matched = _match(part, tasks, by_id, version) or _resolve(part, sources)
        if not matched:
            raise NotFoundError(f"no task matches {part!r} (try a domain such as gomail, an id such as "
                                f"v2.gomail-1, miniwob:click-test-2, or all)")
        for t in matched:
            chosen.setdefault(t.id, t)
    if not chosen:
        raise NotFoundError("empty task selection")
    return list(chosen.values())


def _resolve(part: str, sources: list[TaskSource]) -> list[Task]:
    """An unlisted task a source's `resolve` hook knows, by id or as `source:name`."""
    source_name, colon, name = part.partition(":")
    for s in sources:
        hook = getattr(s, "resolve", None)
        if hook is None or (colon and s.name != source_name):
            continue
        task = hook(f"{source_name}.{name}" if colon else part)
        if task is not None:
            return [task]
    return []


def _match(part: str, tasks: list[Task], by_id: Mapping[str, Task], version: str | None) -> list[Task]:
    if part == "all":
        return tasks
    if part in by_id:
        return [by_id[part]]
    if ":" in part:
        source, _, name = part.partition(":")
        # MiniWoB ids carry their source (`miniwob.click-test-2`); REAL ids carry a version (`v2.gomail-1`).
        for tid in (f"{source}.{name}", name):
            if tid in by_id and by_id[tid].source == source:
                return [by_id[tid]]
        return []
    by_source = [t for t in tasks if t.source == part]
    if by_source:
        return by_source
    by_site = [t for t in tasks if t.site == part]
    if version is not None:
        versioned = [t for t in by_site if t.meta.get("version") in (None, version)]
        by_site = versioned or by_site
    return by_site
