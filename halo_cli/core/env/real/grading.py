"""Grading a REAL `/finish` state with agisdk's own evaluator, criterion by criterion, and reading `/finish`.

Page-free and blocking (eval scripts run as subprocesses, the judge over HTTP): async code calls it from a
worker thread. As in agisdk, every criterion must pass; unlike agisdk, each criterion's result is kept in
`Outcome.details`, and a rubric nobody could judge is `unjudged`, not a failure or a guess.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from halo_cli.core.env.real.catalog import SOURCE_NAME, evaluator_for, task_config
from halo_cli.core.env.real.judge import MAX_DETAIL_CHARS, Judge, grading_scope
from halo_cli.core.env.tasks import Outcome, Task
from halo_cli.core.errors import HaloError

if TYPE_CHECKING:
    from agisdk.REAL.browsergym.webclones.evaluate import WebCloneEvaluator


class FinishStateError(HaloError):
    """`/finish` gave no usable state: unreachable, no `<pre>`, or a `<pre>` that is not a JSON object."""


def _compact(value: Any, limit: int = MAX_DETAIL_CHARS) -> Any:
    """JSON-able, bounded copy of a value for Outcome.details (a jmespath query can return a whole list)."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
        return text[:limit]
    if len(text) <= limit:
        return json.loads(text)
    return text[:limit] + "…"


def _clip(text: Any) -> Any:
    if isinstance(text, str) and len(text) > MAX_DETAIL_CHARS:
        return text[:MAX_DETAIL_CHARS] + "…"
    return text


# A replay shows what `/finish` said; real-build dumps reach megabytes, so what is kept is bounded.
MAX_FINISH_CHARS = 20_000
# The keys of a `/finish` state that hold what the episode changed (v1 builds: `differences`; newer builds add
# `initialfinaldiff`); the rest (`config`, static data) decides nothing.
_DIFF_KEYS = ("differences", "initialfinaldiff")


def _pruned(value: Any) -> Any:
    """The value without empty objects and lists (`"deleted": {}` under every collection says nothing)."""
    if isinstance(value, dict):
        kept = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in ({}, [])}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def finish_differences(state: Mapping[str, Any], limit: int = MAX_FINISH_CHARS) -> Any:
    """What the `/finish` state says the episode changed, for `Outcome.details`: its difference keys (the whole
    state when it has none) without empty collections; past `limit` characters of JSON, the clipped JSON text."""
    diff = {k: state[k] for k in _DIFF_KEYS if k in state} or dict(state)
    return _compact(_pruned(diff), limit)


def _grade_criterion(evaluator: "WebCloneEvaluator", index: int, ev: Any, state: dict[str, Any],
                     answer: str | None, judge: Judge | None) -> dict[str, Any]:
    """One criterion through the evaluator's own per-type method, exactly as `WebCloneEvaluator.evaluate` does,
    but keeping the result (which agisdk drops) and never raising for a missing or failing judge."""
    crit: dict[str, Any] = {"index": index, "type": ev.type}
    if ev.description:
        crit["description"] = ev.description
    if ev.type == "script":
        passed, info = evaluator.execute_eval_script_subprocess(ev.script, state, answer)
        crit.update(script=ev.script, passed=bool(passed))
        for key in ("output", "stderr", "return_code", "error"):
            if info.get(key) is not None:
                crit[key] = _clip(info[key])
    elif ev.type == "jmespath":
        crit.update(query=ev.query, expected=_compact(ev.expected_value))
        actual, error = evaluator.jmespath_verify(state, ev.query)
        if error:
            crit.update(passed=False, error=error)
        else:
            passed, _ = evaluator.exact_match(actual, ev.expected_value)
            crit.update(passed=bool(passed), actual=_compact(actual))
    elif ev.type == "llm_boolean":
        crit["rubric"] = ev.rubric
        if answer is None or not answer.strip():
            # No final message can satisfy "does the answer state ...": a definite fail, no judge needed.
            crit.update(passed=False, error="no answer to judge")
        elif judge is None:
            crit.update(passed=None, unjudged="no judge endpoint configured")
        else:
            crit["judge"] = judge.model
            try:
                passed, info = evaluator.evaluate_with_llm(answer, ev.rubric)
            except Exception as e:  # unreachable judge, HTTP error, a reply that is not a number
                crit.update(passed=None, unjudged=f"judge failed: {type(e).__name__}: {_clip(str(e))}")
            else:
                crit.update(passed=bool(passed), similarity=info.get("similarity"))
    else:
        crit.update(passed=None, unjudged=f"unknown evaluation type {ev.type!r}")
    return crit


def grade_state(task: Task, finish_state: Mapping[str, Any], answer: str | None,
                judge: Judge | None = None) -> Outcome:
    """Grades a `/finish` state with agisdk's evaluator for `task`, criterion by criterion.

    As in agisdk, every criterion must pass; reward is the task's points (1) on success. A criterion that
    definitely fails decides `failure` even when a rubric could not be judged; otherwise an unjudged rubric
    (no judge, or the judge failed) gives `unjudged` with reward 0, never a guess. Blocking (eval scripts run
    as subprocesses, the judge over HTTP): call it from a worker thread in async code.
    """
    if task.source != SOURCE_NAME:
        raise ValueError(f"task {task.id} is from source {task.source!r}, not {SOURCE_NAME!r}")
    if not isinstance(finish_state, Mapping):
        raise FinishStateError(f"the /finish state of {task.id} is a {type(finish_state).__name__}, not an object")
    tc = task_config(task.id)
    state = dict(finish_state)
    with grading_scope(judge):
        evaluator = evaluator_for(task.id)
        criteria = [_grade_criterion(evaluator, i, ev, state, answer, judge)
                    for i, ev in enumerate(tc.get_evals())]
    results = [c["passed"] for c in criteria]
    points = float(tc.task.points or 1.0)
    details: dict[str, Any] = {
        "task_id": task.id,
        "criteria": criteria,
        "passed": sum(r is True for r in results),
        "failed": sum(r is False for r in results),
        "unjudged": sum(r is None for r in results),
        "answer": answer,
        "judge": judge.model if judge is not None else None,
        "finish": finish_differences(state),
    }
    if not criteria:
        return Outcome(reward=0.0, success=False, status="unjudged",
                       details={**details, "reason": "the task has no evaluation criteria"})
    if any(r is False for r in results):
        return Outcome(reward=0.0, success=False, status="failure", details=details)
    if any(r is None for r in results):
        return Outcome(reward=0.0, success=False, status="unjudged", details=details)
    return Outcome(reward=points, success=True, status="success", details=details)


def parse_finish_text(text: str) -> dict[str, Any]:
    """The `<pre>` text of `/finish` as a JSON object, or a FinishStateError that says what was there."""
    if text is None or not text.strip():
        raise FinishStateError("the /finish <pre> is empty")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise FinishStateError(f"the /finish <pre> is not valid JSON ({e.msg} at char {e.pos}): "
                               f"{text.strip()[:120]!r}") from None
    if not isinstance(value, dict):
        raise FinishStateError(f"the /finish <pre> holds a JSON {type(value).__name__}, not an object")
    return value
