"""Which local REAL-compatible sites exist, and which REAL tasks they serve (and why the others are left out).

A site is a folder next to this module: `<site>/web/` is what its server hands out (the app's `index.html`,
scripts, styles and its seeded data), and `<site>/experts.json` holds the expert solutions and near misses
that prove each supported task can be solved and graded. A task is supported when its site is built, its
agisdk grader is usable, and it has an expert solution and a near miss; `task_manifest()` says so per task
(`halo sites list` prints it).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from halo_cli.core.errors import ConfigError, NotFoundError

PACKAGE_DIR = Path(__file__).resolve().parent
KIT_DIR = PACKAGE_DIR / "kit"
# REAL's frozen "now" (the graders' "today" is Thursday 2024-07-18, Pacific time). The sites' JS has the same
# instant (kit/store.js SITE_NOW_ISO); the local profile sets the browser clock to it too.
SITE_NOW = "2024-07-18T09:00:00-07:00"
SITE_TIME_ZONE = "America/Los_Angeles"


@dataclass(frozen=True)
class SiteSpec:
    """One REAL site. `port_offset` fixes its port relative to a base port, so URLs stay stable as sites are
    added; `built` is False for a site whose app does not exist yet (it is then never served)."""

    name: str
    port_offset: int
    built: bool
    title: str

    @property
    def folder(self) -> Path:
        return PACKAGE_DIR / self.name

    @property
    def web_dir(self) -> Path:
        return self.folder / "web"

    @property
    def experts_file(self) -> Path:
        return self.folder / "experts.json"


# The four REAL sites the local replicas cover, in port order. Adding a site: its folder, then built=True.
SITES: tuple[SiteSpec, ...] = (
    SiteSpec("gomail", 0, True, "GoMail"),
    SiteSpec("gocalendar", 1, True, "GoCalendar"),
    SiteSpec("omnizon", 2, True, "Omnizon"),
    SiteSpec("zilloft", 3, True, "Zilloft"),
)
_BY_NAME = {s.name: s for s in SITES}


def site(name: str) -> SiteSpec:
    """The spec of a site by name; a NotFoundError naming the known ones otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise NotFoundError(f"no local site {name!r} (known: {', '.join(_BY_NAME)})") from None


def built_sites() -> tuple[SiteSpec, ...]:
    return tuple(s for s in SITES if s.built)


@functools.lru_cache(maxsize=None)
def experts_data(name: str) -> dict[str, Any]:
    """The parsed `experts.json` of a built site (`{}` when it has none yet)."""
    spec = site(name)
    if not spec.built or not spec.experts_file.is_file():
        return {}
    try:
        data = json.loads(spec.experts_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ConfigError(f"{spec.experts_file}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("tasks", {}), dict):
        raise ConfigError(f"{spec.experts_file}: expected an object with a 'tasks' object")
    return data


@dataclass(frozen=True)
class TaskSupport:
    """Whether the local sites serve a REAL task; `reason` says why not, `notes` what to know about it."""

    task_id: str
    site: str
    supported: bool
    reason: str | None = None
    notes: str | None = None


def task_manifest(versions: tuple[str, ...] = ("v1", "v2")) -> list[TaskSupport]:
    """Every agisdk task of the four sites in `versions`, supported or not, in agisdk's order."""
    from halo_cli.core.env.real import load_tasks

    out: list[TaskSupport] = []
    for task in load_tasks(versions):
        spec = _BY_NAME.get(task.site)
        if spec is None:
            continue
        issues = task.meta.get("known_issues")
        entry = experts_data(spec.name).get("tasks", {}).get(task.id) if spec.built else None
        if task.meta.get("version") != "v2":
            reason = ("v1 builds use another /finish layout (orderDetailsDiff, eventsDiff, ...); "
                      "the local sites serve REAL's v2 layout")
        elif issues:
            reason = "; ".join(issues)
        elif not spec.built:
            reason = f"the local {spec.title} site is not built yet"
        elif not entry or not entry.get("expert") or not entry.get("near_misses"):
            reason = "no expert solution and near miss for it yet"
        else:
            reason = None
        out.append(TaskSupport(task.id, task.site, reason is None, reason, (entry or {}).get("notes")))
    return out


def supported_task_ids() -> list[str]:
    return [t.task_id for t in task_manifest(("v2",)) if t.supported]
