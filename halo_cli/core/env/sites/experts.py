"""Expert solutions and near misses for the local sites' REAL tasks, and the runner that plays them.

A script is data (`<site>/experts.json`): a list of steps, each a click on a target, typed text, or a key.
A target is what a person would look for, an ARIA role plus accessible name, or a CSS selector where names
repeat (the "Delete" of the second cart line). The runner turns every step into the `computer_use` action the
agent would send: it finds the target's centre on the live page, maps it to the 0..999 grid of the current
screenshot, and issues the click there through `Episode.step`; a target below the fold is first scrolled to
with a wheel `scroll` action, as an agent would. So an expert run is an ordinary episode: same actions, same
observations, same grading. Benchmarks, tree-search tests and the dense-reward tests reuse these scripts.

Format of `experts.json`::

    {"macros": {"search": [{"click": {"role": "textbox", "name": "Search Omnizon"}}, {"type": "{arg}"},
                           {"key": "Enter"}]},
     "tasks": {"v2.omnizon-3": {"notes": "...", "expert": {"why": "...", "steps": [...]},
                                "near_misses": [{"name": "...", "why": "...", "steps": [...]}]}}}

A step is `{"click": TARGET}`, `{"type": "text"}`, `{"key": "Enter"}` / `{"key": ["ctrl", "a"]}`, or
`{"<macro>": "arg"}`; TARGET is `{"role": ..., "name": ..., "nth": 0, "exact": true}` or `{"css": ...}`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

# The one import of the action names in the sites package (the module is about to move to core.actions).
from halo_cli.core.actions import Action, Key, LeftClick, Scroll, Terminate, Type, grid_to_px, px_to_grid
from halo_cli.core.env.sites.manifest import experts_data, site
from halo_cli.core.env.tasks import Outcome
from halo_cli.core.errors import ConfigError, HaloError

if TYPE_CHECKING:
    from playwright.async_api import Locator

    from halo_cli.core.env.episode import Episode, Observation, StepResult

__all__ = ["Action", "ExpertError", "Key", "LeftClick", "Script", "ScriptRun", "Scroll", "Step", "Target",
           "TaskScripts", "Terminate", "Type", "load_scripts", "parse_steps", "run_script", "scripts_for"]

# Where a scrolled-to target should land: the middle of the viewport, clear of the header.
_SCROLL_POINT = (500, 500)


class ExpertError(HaloError):
    """An expert step could not be carried out: its target is missing, hidden or covered, or the step failed."""


@dataclass(frozen=True)
class Target:
    """An element to act on: ARIA `role` + accessible `name` (exact unless `exact` is False), or `css`.
    `nth` picks among several matches, in document order."""

    role: str | None = None
    name: str | None = None
    css: str | None = None
    nth: int = 0
    exact: bool = True

    def __str__(self) -> str:
        what = f"css {self.css!r}" if self.css else f"{self.role} {self.name!r}"
        return what + (f" #{self.nth}" if self.nth else "")


@dataclass(frozen=True)
class Step:
    kind: Literal["click", "type", "key"]
    target: Target | None = None
    text: str = ""
    keys: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.kind == "click":
            return f"click {self.target}"
        return f"type {self.text!r}" if self.kind == "type" else f"key {'+'.join(self.keys)}"


@dataclass(frozen=True)
class Script:
    """A sequence of steps for one task; `expect` is the grade agisdk must give after it."""

    task_id: str
    name: str
    why: str
    steps: tuple[Step, ...]
    expect: Literal["success", "failure"]


@dataclass(frozen=True)
class TaskScripts:
    task_id: str
    notes: str | None
    expert: Script
    near_misses: tuple[Script, ...]


@dataclass
class ScriptRun:
    """What playing a script did: the actions sent, the observation before each and the step results."""

    script: Script
    actions: list[Action] = field(default_factory=list)
    results: list["StepResult"] = field(default_factory=list)
    outcome: Outcome | None = None


# --------------------------------------------------------------------------------------------------------
# Loading


def _target(raw: Any, where: str) -> Target:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: a click target must be an object, got {raw!r}")
    unknown = set(raw) - {"role", "name", "css", "nth", "exact"}
    if unknown or not (raw.get("css") or raw.get("role")):
        raise ConfigError(f"{where}: a target needs role (+ name) or css, and nothing else (got {dict(raw)})")
    return Target(role=raw.get("role"), name=raw.get("name"), css=raw.get("css"), nth=int(raw.get("nth", 0)),
                  exact=bool(raw.get("exact", True)))


def parse_steps(raw: Any, macros: Mapping[str, Any] | None = None, where: str = "steps", depth: int = 0) -> list[Step]:
    """Steps from their JSON form, macros expanded; a ConfigError naming the step for anything malformed."""
    macros = macros or {}
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: steps must be a list")
    out: list[Step] = []
    for i, item in enumerate(raw):
        here = f"{where} step {i + 1}"
        if not isinstance(item, Mapping) or len(item) != 1:
            raise ConfigError(f"{here}: a step is an object with one key (click, type, key or a macro), got {item!r}")
        (kind, arg), = item.items()
        if kind == "click":
            out.append(Step("click", target=_target(arg, here)))
        elif kind == "type":
            out.append(Step("type", text=str(arg)))
        elif kind == "key":
            keys = tuple(arg) if isinstance(arg, list) else (str(arg),)
            out.append(Step("key", keys=keys))
        elif kind in macros and depth < 3:
            expanded = _substitute(macros[kind], str(arg))
            out.extend(parse_steps(expanded, macros, f"{here} ({kind})", depth + 1))
        else:
            raise ConfigError(f"{here}: unknown step kind {kind!r} (click, type, key, {', '.join(macros)})")
    return out


def _substitute(value: Any, arg: str) -> Any:
    if isinstance(value, str):
        return value.replace("{arg}", arg)
    if isinstance(value, list):
        return [_substitute(v, arg) for v in value]
    if isinstance(value, Mapping):
        return {k: _substitute(v, arg) for k, v in value.items()}
    return value


def load_scripts(site_name: str) -> dict[str, TaskScripts]:
    """Every task's expert and near misses from the site's `experts.json`, keyed by task id."""
    site(site_name)
    data = experts_data(site_name)
    macros = data.get("macros", {})
    out: dict[str, TaskScripts] = {}
    for task_id, entry in data.get("tasks", {}).items():
        where = f"{site_name}/experts.json {task_id}"
        expert_raw = entry.get("expert") or {}
        expert = Script(task_id, "expert", str(expert_raw.get("why", "")),
                        tuple(parse_steps(expert_raw.get("steps"), macros, f"{where} expert")), "success")
        near = tuple(
            Script(task_id, str(n.get("name") or f"near miss {k + 1}"), str(n.get("why", "")),
                   tuple(parse_steps(n.get("steps"), macros, f"{where} near miss {k + 1}")), "failure")
            for k, n in enumerate(entry.get("near_misses") or []))
        out[task_id] = TaskScripts(task_id, entry.get("notes"), expert, near)
    return out


# --------------------------------------------------------------------------------------------------------
# Running

OnStep = Callable[["Observation", Action, "StepResult"], Awaitable[None] | None]


async def _locate(ep: "Episode", target: Target) -> "Locator":
    page = ep.page
    if target.css:
        loc = page.locator(target.css)
    else:
        loc = page.get_by_role(target.role, name=target.name, exact=target.exact)  # type: ignore[arg-type]
    n = await loc.count()
    if n <= target.nth:
        raise ExpertError(f"{target} not found on {page.url} ({n} match{'es' if n != 1 else ''})")
    return loc.nth(target.nth)


async def _centre(ep: "Episode", loc: "Locator", target: Target) -> tuple[float, float]:
    box = await loc.bounding_box()
    if box is None or box["width"] <= 0 or box["height"] <= 0:
        raise ExpertError(f"{target} is not visible on {ep.page.url}")
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


async def _plan_click(ep: "Episode", target: Target) -> list[Action]:
    """The actions an agent would take to click `target`: a wheel scroll if it is off screen, then the click.
    Only the first is returned when a scroll is needed; the caller plans again after it."""
    obs = ep.observation
    assert obs is not None
    vp = ep.viewport
    loc = await _locate(ep, target)
    x, y = await _centre(ep, loc, target)
    if not (0 <= y < vp.height and 0 <= x < vp.width):
        dy_css = y - vp.height / 2
        pixels = -round(dy_css * obs.height / vp.height)  # positive scrolls up (Qwen's convention)
        return [Scroll(pixels=pixels, point=_SCROLL_POINT, width=obs.width, height=obs.height)]
    gx, gy = px_to_grid(x * vp.scale, obs.width), px_to_grid(y * vp.scale, obs.height)
    # Where the click will really land once the grid is mapped back to CSS pixels.
    cx = grid_to_px(gx, obs.width) * vp.width / obs.width
    cy = grid_to_px(gy, obs.height) * vp.height / obs.height
    hit = await loc.evaluate("(el, [x, y]) => { const h = document.elementFromPoint(x, y);"
                             " return !!h && (h === el || el.contains(h) || (h.control === el)); }", [cx, cy])
    if not hit:
        raise ExpertError(f"{target} is covered at ({cx:.0f}, {cy:.0f}) on {ep.page.url}")
    return [LeftClick(x=gx, y=gy, width=obs.width, height=obs.height)]


async def _send(ep: "Episode", action: Action, run: ScriptRun, on_step: OnStep | None, what: str) -> None:
    before = ep.observation
    assert before is not None
    result = await ep.step(action)
    run.actions.append(action)
    run.results.append(result)
    if result.error is not None or result.observation is None or result.done:
        raise ExpertError(f"{run.script.task_id} {run.script.name}: {what} failed "
                          f"({result.error or (result.outcome and result.outcome.details.get('reason')) or 'ended'})")
    if on_step is not None:
        maybe = on_step(before, action, result)
        if maybe is not None:
            await maybe


async def run_script(ep: "Episode", script: Script, *, on_step: OnStep | None = None,
                     terminate: bool = True) -> ScriptRun:
    """Plays `script` on a freshly reset episode; with `terminate`, ends it with `terminate` (the source
    grades it: for REAL tasks agisdk's eval script on `/finish`) and sets `outcome`.

    `on_step(observation_before, action, result)` is called after every action (a dense-reward calculator,
    say). Raises ExpertError when a step cannot be carried out: a script that no longer fits its site fails
    loudly instead of being graded as a near miss.
    """
    run = ScriptRun(script)
    for step in script.steps:
        obs = ep.observation
        assert obs is not None
        if step.kind == "click":
            assert step.target is not None
            for _ in range(4):  # a few scrolls at most, then the click
                planned = await _plan_click(ep, step.target)
                await _send(ep, planned[0], run, on_step, str(step))
                if isinstance(planned[0], LeftClick):
                    break
            else:
                raise ExpertError(f"{step.target} stayed off screen after scrolling on {ep.page.url}")
        elif step.kind == "type":
            await _send(ep, Type(text=step.text, width=obs.width, height=obs.height), run, on_step, str(step))
        else:
            await _send(ep, Key(keys=step.keys, width=obs.width, height=obs.height), run, on_step, str(step))
    if terminate:
        obs = ep.observation
        assert obs is not None
        action = Terminate(status="success", width=obs.width, height=obs.height)
        result = await ep.step(action)
        run.actions.append(action)
        run.results.append(result)
        run.outcome = result.outcome
    return run


def scripts_for(task_id: str) -> TaskScripts:
    """The scripts of one task (`v2.omnizon-3`), from its site's experts file."""
    site_name = task_id.split(".", 1)[-1].rsplit("-", 1)[0]
    scripts = load_scripts(site_name)
    try:
        return scripts[task_id]
    except KeyError:
        raise ExpertError(f"no expert script for {task_id}") from None
