"""The milestone language of the dense reward: conditions over a step's URL, AX text, action and `/finish` state.

A `Milestone` is paid once per episode when any of its `Condition`s holds; a condition's clauses (`url`, `ax`,
`ax_absent`, `ax_before`, `ax_changed`, `action`, `finish`) must all hold. AX patterns are regular expressions
(case-insensitive, ``^``/``$`` per line) over the canonical AX text (`env.axtree.canonical_axtree`): one node per
line, ``role "name"`` then `` value="..."`` when the node has one, then its other properties. The canonical form
is the same whichever renderer produced the text (browsergym, ``role "name"`` lines, Playwright's aria snapshot),
so the tables do not depend on it. The tables themselves are data (`milestones.toml`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from halo_cli.core.actions import Action
from halo_cli.core.env.axtree import LINE_HEAD, canonical_axtree


@runtime_checkable
class ObservationLike(Protocol):
    """What the reward reads from an observation (BrowserEnv's `Observation` has it)."""

    url: str
    title: str
    axtree: str


_FLAGS = re.IGNORECASE | re.MULTILINE


@lru_cache(maxsize=1024)
def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, _FLAGS)


def _check_regex(v: str) -> str:
    try:
        _rx(v)
    except re.error as e:
        raise ValueError(f"bad regular expression {v!r}: {e}") from None
    return v


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActionPattern(_Spec):
    """Matches the step's action: ``kind`` against its kind (``left_click``, ``type``, ...), and each ``fields``
    regex against that argument's value (strings as is, anything else as JSON)."""

    kind: str | None = Field(None, description="regex, full match, against the action kind")
    fields: dict[str, str] = Field(default_factory=dict, description="argument name -> regex (search)")

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str | None) -> str | None:
        return None if v is None else _check_regex(v)

    @field_validator("fields")
    @classmethod
    def _fields(cls, v: dict[str, str]) -> dict[str, str]:
        for rx in v.values():
            _check_regex(rx)
        return v


class FinishCheck(_Spec):
    """A dotted path into the ``/finish`` state JSON (``*`` fans out over dict values and list items, a number
    indexes a list or names a dict key). It holds when any value found equals ``equals`` (when given), else
    matches ``matches`` (when given), else is present (not null, false, empty)."""

    path: str = Field(min_length=1)
    equals: Any = None
    matches: str | None = None

    @field_validator("matches")
    @classmethod
    def _matches(cls, v: str | None) -> str | None:
        return None if v is None else _check_regex(v)


class Condition(_Spec):
    """One way a milestone can fire. Every clause given must hold (AND); a milestone fires when any of its
    conditions holds (OR). ``ax*`` clauses are regexes over the canonical AX text (see the module docstring)."""

    url: str | None = Field(None, description="regex searched in the next observation's URL")
    ax: tuple[str, ...] = Field((), description="each must match the next observation's AX text")
    ax_absent: tuple[str, ...] = Field((), description="none may match the next observation's AX text")
    ax_before: tuple[str, ...] = Field((), description="each must match the previous observation's AX text")
    ax_changed: tuple[str, ...] = Field(
        (), description="each must match a line in the next AX text, and the matching lines (role, name, value) "
        "must differ from those in the previous one"
    )
    action: ActionPattern | None = None
    finish: tuple[FinishCheck, ...] = Field((), description="each must hold on the /finish state JSON")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else _check_regex(v)

    @field_validator("ax", "ax_absent", "ax_before", "ax_changed")
    @classmethod
    def _ax(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for rx in v:
            _check_regex(rx)
        return v

    @model_validator(mode="after")
    def _not_empty(self) -> "Condition":
        if not (self.url or self.ax or self.ax_absent or self.ax_before or self.ax_changed or self.action
                or self.finish):
            raise ValueError("a condition needs at least one clause (url, ax, ax_absent, ax_before, ax_changed, "
                             "action, finish)")
        return self

    @property
    def needs_transition(self) -> bool:
        """Conditions about the step itself cannot hold for a lone observation (the episode's first one)."""
        return bool(self.action or self.ax_before or self.ax_changed)


class Milestone(_Spec):
    """A step of progress on a site, paid ``weight`` once per episode.

    ``goal`` (a regex over the task goal) restricts it to the tasks it helps: the compose milestones would
    otherwise pull an agent asked to delete emails into the compose dialog.
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    weight: float
    description: str = ""
    goal: str | None = None
    any_of: tuple[Condition, ...] = Field(min_length=1)

    @field_validator("goal")
    @classmethod
    def _goal(cls, v: str | None) -> str | None:
        return None if v is None else _check_regex(v)


class MilestoneTable(_Spec):
    """The milestones of one domain, in the order a task usually reaches them."""

    domain: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    milestones: tuple[Milestone, ...]

    @model_validator(mode="after")
    def _unique(self) -> "MilestoneTable":
        names = [m.name for m in self.milestones]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"{self.domain}: duplicate milestone names {dupes}")
        return self

    def get(self, name: str) -> Milestone | None:
        return next((m for m in self.milestones if m.name == name), None)


def resolve_path(data: Any, path: str) -> list[Any]:
    """Every value at a dotted path; ``*`` fans out, a number indexes a list or names a dict key."""
    current: list[Any] = [data]
    for part in path.split("."):
        nxt: list[Any] = []
        for node in current:
            if part == "*":
                if isinstance(node, Mapping):
                    nxt.extend(node.values())
                elif isinstance(node, list):
                    nxt.extend(node)
            elif isinstance(node, Mapping):
                if part in node:
                    nxt.append(node[part])
            elif isinstance(node, list) and re.fullmatch(r"-?\d+", part):
                i = int(part)
                if -len(node) <= i < len(node):
                    nxt.append(node[i])
        current = nxt
        if not current:
            break
    return current


def _present(v: Any) -> bool:
    return v is not None and v is not False and v != "" and v != [] and v != {}


def _finish_holds(check: FinishCheck, finish: Mapping[str, Any]) -> bool:
    values = resolve_path(finish, check.path)
    if "equals" in check.model_fields_set:
        return any(v == check.equals for v in values)
    if check.matches is not None:
        rx = _rx(check.matches)
        return any(isinstance(v, str) and rx.search(v) for v in values)
    return any(_present(v) for v in values)


def _action_matches(pattern: ActionPattern, action: Action | None) -> bool:
    if action is None:
        return False
    if pattern.kind is not None and _rx(pattern.kind).fullmatch(action.kind) is None:
        return False
    args = action.arguments()
    for key, rx in pattern.fields.items():
        if key not in args:
            return False
        v = args[key]
        text = v if isinstance(v, str) else json.dumps(v, default=str)
        if _rx(rx).search(text) is None:
            return False
    return True


def _matching_heads(pattern: str, text: str) -> set[str]:
    heads: set[str] = set()
    for m in _rx(pattern).finditer(text):
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.start())
        line = text[start : end if end >= 0 else len(text)]
        hm = LINE_HEAD.match(line)
        heads.add(hm.group() if hm else line)
    return heads


def _condition_holds(c: Condition, before: str | None, after: str, url: str, action: Action | None,
                     finish: Mapping[str, Any] | None) -> bool:
    if c.needs_transition and before is None:
        return False
    if c.url is not None and _rx(c.url).search(url) is None:
        return False
    if any(_rx(p).search(after) is None for p in c.ax):
        return False
    if any(_rx(p).search(after) is not None for p in c.ax_absent):
        return False
    if before is not None and any(_rx(p).search(before) is None for p in c.ax_before):
        return False
    for p in c.ax_changed:
        now = _matching_heads(p, after)
        if not now or now == _matching_heads(p, before or ""):
            return False
    if c.action is not None and not _action_matches(c.action, action):
        return False
    if c.finish and (finish is None or not all(_finish_holds(f, finish) for f in c.finish)):
        return False
    return True


def detect_finish(c: Condition, finish: Mapping[str, Any]) -> bool:
    """Whether a condition made only of `finish` checks (no page or action clause) holds on a /finish state."""
    if c.url is not None or c.ax or c.ax_absent or c.ax_before or c.ax_changed or c.action is not None:
        return False
    return bool(c.finish) and all(_finish_holds(f, finish) for f in c.finish)


def detect(milestone: Milestone, obs: ObservationLike | None, action: Action | None, next_obs: ObservationLike,
           finish: Mapping[str, Any] | None = None) -> bool:
    """Whether the step ``obs --action--> next_obs`` reaches ``milestone`` (any of its conditions holds).

    ``obs`` is None for the episode's first observation: then only conditions about a single state can hold.
    ``finish`` is the ``/finish`` state JSON, when the episode has read it.
    """
    before = canonical_axtree(obs.axtree) if obs is not None else None
    after = canonical_axtree(next_obs.axtree)
    return any(_condition_holds(c, before, after, next_obs.url, action, finish) for c in milestone.any_of)


def presatisfied(table: MilestoneTable, obs: ObservationLike) -> set[str]:
    """Milestones the episode's first observation already shows; they are never paid, since the agent did not
    reach them (a site that opens with a search URL must not pay "search" for nothing)."""
    return {m.name for m in table.milestones if detect(m, None, None, obs)}


def milestone_applies(milestone: Milestone, goal: str | None) -> bool:
    """A milestone with a ``goal`` regex applies only to matching goals; with an unknown goal it applies."""
    return milestone.goal is None or goal is None or _rx(milestone.goal).search(goal) is not None
