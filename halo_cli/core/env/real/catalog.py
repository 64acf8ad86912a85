"""The REAL task catalogue: agisdk's own task JSONs (v1 and v2) as halo `Task`s, with what each is graded by.

agisdk's `TaskConfig` reads the JSONs shipped in the wheel; `agisdk.tasks.all` is broken in 0.3.5 (it globs a
missing folder), so the catalogue is built from `task_config.TASKS`. A task whose grader can never pass (agisdk
0.3.5 ships an empty `eval_gocalendar_11.py`) says so in `meta["known_issues"]`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from halo_cli.core.env.tasks import Task
from halo_cli.core.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from agisdk.REAL.browsergym.webclones.evaluate import WebCloneEvaluator
    from agisdk.REAL.browsergym.webclones.task_config import TaskConfig

SOURCE_NAME = "real"
REAL_VERSIONS: tuple[str, ...] = ("v1", "v2")


@functools.lru_cache(maxsize=None)
def task_config(task_id: str) -> "TaskConfig":
    # agisdk.tasks.all is broken in 0.3.5 (globs a missing folder); TaskConfig reads the shipped JSONs.
    from agisdk.REAL.browsergym.webclones.task_config import TaskConfig

    try:
        return TaskConfig(task_id)
    except (FileNotFoundError, ValueError) as e:
        raise NotFoundError(f"no REAL task {task_id!r} in agisdk: {e}") from None


@functools.lru_cache(maxsize=None)
def evaluator_for(task_id: str) -> "WebCloneEvaluator":
    from agisdk.REAL.browsergym.webclones.evaluate import WebCloneEvaluator

    return WebCloneEvaluator(task_config=task_config(task_id))


def _eval_summary(ev: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": ev.type}
    if ev.type == "jmespath":
        out.update(query=ev.query, expected_value=ev.expected_value)
    elif ev.type == "llm_boolean":
        out.update(rubric=ev.rubric, expected_value=ev.expected_value)
    elif ev.type == "script":
        out["script"] = ev.script
    if ev.description:
        out["description"] = ev.description
    return out


def _known_issues(tc: "TaskConfig") -> list[str]:
    """Facts that make a task ungradeable whatever the agent does (e.g. agisdk 0.3.5 ships an empty
    eval_gocalendar_11.py, which prints nothing and so always fails); trainers can skip such tasks."""
    issues = []
    for ev in tc.get_evals():
        if ev.type == "script":
            path = Path(tc.eval_scripts_dir) / ev.script
            if not path.is_file():
                issues.append(f"eval script {ev.script} is missing")
            elif not path.read_text(encoding="utf-8", errors="replace").strip():
                issues.append(f"eval script {ev.script} is empty: the task always fails")
    return issues


def _make_task(task_id: str) -> Task:
    tc = task_config(task_id)
    cj = tc.config_json
    website = cj.get("website") or {}
    evals = tc.get_evals()
    meta: dict[str, Any] = {
        "version": tc.version,
        "task_name": tc.task_name,
        "challengeType": cj.get("challengeType"),
        "possible": bool(cj.get("possible", True)),
        "points": float(cj.get("points") or 1.0),
        "url": tc.get_start_url(),
        "website": website.get("name"),
        "similarTo": website.get("similarTo"),
        "evals": [_eval_summary(e) for e in evals],
        "eval_types": sorted({e.type for e in evals}),
        "needs_judge": any(e.type == "llm_boolean" for e in evals),
    }
    if cj.get("description"):
        meta["description"] = cj["description"]
    issues = _known_issues(tc)
    if issues:
        meta["known_issues"] = issues
    return Task(
        id=tc.canonical_id,
        source=SOURCE_NAME,
        site=str(website.get("id") or tc.task_name.rsplit("-", 1)[0]),
        goal=tc.get_goal(),
        difficulty=cj.get("difficulty"),
        meta=meta,
    )


@functools.lru_cache(maxsize=None)
def _all_tasks() -> tuple[Task, ...]:
    from agisdk.REAL.browsergym.webclones.task_config import TASKS

    return tuple(_make_task(t) for t in TASKS)


def load_tasks(versions: Iterable[str] = REAL_VERSIONS) -> list[Task]:
    """Every agisdk task of the given versions, sorted by id (agisdk's own `TASKS` order)."""
    wanted = set(versions)
    unknown = wanted - set(REAL_VERSIONS)
    if unknown:
        raise ConfigError(f"unknown REAL task version(s) {sorted(unknown)} (known: {', '.join(REAL_VERSIONS)})")
    return [t for t in _all_tasks() if t.meta["version"] in wanted]


def known_sites() -> frozenset[str]:
    """Site ids as agisdk's task JSONs name them (`gomail`, `fly-unified`, ...)."""
    return frozenset(t.site for t in _all_tasks())
