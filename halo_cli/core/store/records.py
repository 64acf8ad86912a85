"""What the run store returns: one frozen record per row kind, and the one mapping from a stored row to a record.

Each record field reads the column of its name (or the one `column()` names); JSON columns are decoded, and floats
and booleans are converted from SQLite's storage, by the field's declared type. Adding a column is adding a field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, TypedDict, TypeVar

from halo_cli.core.store.owner import owner_gone

R = TypeVar("R")


def column(name: str | None = None, *, json: bool = False, default: Any = MISSING) -> Any:
    """Field metadata: the column a field is read from (default: the field's name), and whether it holds JSON.

    `default` is for columns added by a later migration, whose fields follow fields that have defaults."""
    return field(default=default, metadata={"column": name, "json": json})


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


def opt_bool(v: Any) -> bool | None:
    return None if v is None else bool(v)


# By declared type (annotations are strings under `from __future__ import annotations`).
_CONVERT: dict[str, Callable[[Any], Any]] = {"float | None": opt_float, "bool | None": opt_bool, "bool": bool}


def from_row(cls: type[R], row: Mapping[str, Any]) -> R:
    """The record `cls` built from a row (a mapping of column names to stored values)."""
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        col = f.metadata.get("column") or f.name
        if col not in row:
            if f.default is MISSING and f.default_factory is MISSING:
                raise KeyError(f"{cls.__name__}.{f.name}: the row has no column {col!r}")
            continue
        value = row[col]
        if f.metadata.get("json"):
            value = loads(value)
        elif isinstance(f.type, str) and f.type in _CONVERT:
            value = _CONVERT[f.type](value)
        values[f.name] = value
    return cls(**values)


@dataclass(frozen=True, slots=True)
class Run:
    id: str
    command: str
    domain: str | None
    config: dict[str, Any] = column(json=True)
    git_rev: str | None
    status: str
    started: str
    ended: str | None
    host: str | None
    halo_version: str | None
    pid: int | None  # the process that runs it (schema 3), with `pid_start` to tell a reused pid apart
    pid_start: str | None

    @property
    def dead(self) -> bool:
        """Recorded as `running`, but its process on this host is gone: killed or crashed without a word."""
        return self.status == "running" and owner_gone(self.host, self.pid, self.pid_start)

    @property
    def status_now(self) -> str:
        """The recorded status, or `dead` for a run that can no longer end by itself."""
        return "dead" if self.dead else self.status


@dataclass(frozen=True, slots=True)
class RunSummary(Run):
    """A run with what a listing shows about its progress, computed from its metrics and episodes."""

    iterations: int | None  # the highest iteration with a metric; None before the first one
    best_success_rate: float | None  # max of the `success_rate` metric
    episodes: int = column("n_episodes")


@dataclass(frozen=True, slots=True)
class Episode:
    id: int
    run_id: str
    iteration: int
    task_id: str
    domain: str | None
    seed: int | None
    status: str
    reason: str | None
    episode_return: float | None
    success: bool | None
    length: int | None
    started: str
    ended: str | None
    policy: str | None = None  # the served model that sampled it (schema 2)
    # The grader's verdict, `Outcome.details` (schema 4): criteria, reason, the /finish differences read.
    outcome: dict[str, Any] | None = column(json=True, default=None)


@dataclass(frozen=True, slots=True)
class Step:
    id: int
    episode_id: int
    index: int = column("step_index")
    url: str | None
    screenshot: str | None  # sha256 of the PNG; bytes via RunStore.get_screenshot
    action: Any = column(json=True)  # the executed action (`Action.to_dict()`)
    reward: float | None
    reward_components: dict[str, Any] | None = column(json=True)
    done: bool
    timings: dict[str, Any] | None = column(json=True)
    error: str | None
    created: str


@dataclass(frozen=True, slots=True)
class Sample:
    id: int
    step_id: int
    index: int = column("sample_index")
    text: str
    action: Any = column(json=True)  # None when parsing failed (see parse_error)
    parse_error: str | None
    token_count: int | None
    logprob_sum: float | None
    reward: float | None
    advantage: float | None
    finish_reason: str | None
    policy: str | None = None  # the served model that sampled it (schema 3)
    reward_components: dict[str, Any] | None = column(json=True, default=None)  # this sample's own (schema 5)


@dataclass(frozen=True, slots=True)
class Metric:
    run_id: str
    iteration: int
    name: str
    value: float | None
    time: str


@dataclass(frozen=True, slots=True)
class Adapter:
    id: int
    run_id: str
    version: int
    path: str
    loaded: bool
    created: str
    name: str | None = None  # as vLLM serves it (schema 3)
    sha256: str | None = None  # of adapter_model.safetensors (schema 3)


class SampleInput(TypedDict, total=False):
    """One sampled completion as add_samples takes it; only `text` is required."""

    index: int  # defaults to the position in the list
    text: str
    action: Any
    parse_error: str | None
    token_count: int | None
    logprob_sum: float | None
    reward: float | None
    advantage: float | None
    finish_reason: str | None
    policy: str | None
    reward_components: Mapping[str, Any] | None  # this sample's own reward terms
