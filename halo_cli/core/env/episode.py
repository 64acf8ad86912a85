"""One running episode: its browser context and page, the actions taken, what the agent sees after each.

An `Episode` is made by `BrowserEnv.reset`/`restore` and talks back to its env only through `EpisodeHost` (the
settings, the page slots, which browser is current, the step-timeout handler): the env owns the browser, the
episode owns its page. Faults never escape `Episode.step` as exceptions: a crashed or hung Chromium ends the
episode as `Outcome.aborted(reason)`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

from halo_cli.core.actions import Action, Answer, Terminate, Wait
from halo_cli.core.config import BrowserSettings
from halo_cli.core.env.axtree import render_axtree, state_key
from halo_cli.core.env.confine import BlockedRequest, Confinement
from halo_cli.core.env.execute import PageActions
from halo_cli.core.env.faults import CLOSE_TIMEOUT_S, first_line, is_playwright_error
from halo_cli.core.env.tasks import Outcome, Task, TaskSource, Viewport

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

AxTreeMode = Literal["full", "visible", "off"]
_T = TypeVar("_T")


@dataclass(frozen=True)
class Observation:
    """What the agent (and the reward code) sees after a reset or a step.

    `width`/`height` are the screenshot's pixels: the size `parse_action` must be given so that grid
    coordinates land where the model looked.
    """

    screenshot: bytes
    url: str
    title: str
    axtree: str
    goal: str
    width: int
    height: int
    step: int = 0
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def state_key(self) -> str:
        return state_key(self.url, self.axtree)


@dataclass(frozen=True)
class StepResult:
    """The result of one step. `observation` is None only when the episode was aborted (no page left).

    `error` names an action the browser could not carry out (an unknown key name, say): the step still
    counts and the episode goes on. `blocked_requests` are those of this step only.
    """

    observation: Observation | None
    done: bool
    outcome: Outcome | None
    blocked_requests: tuple[BlockedRequest, ...] = ()
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict, compare=False)


class EpisodeHost(Protocol):
    """What an episode needs from the env that runs it (BrowserEnv)."""

    settings: BrowserSettings
    axtree: AxTreeMode
    slots: asyncio.Semaphore  # bounds the pages working at once

    @property
    def generation(self) -> int:
        """The current browser: it changes when Chromium dies or is replaced."""
        ...

    def connected(self) -> bool: ...

    async def on_step_timeout(self, episode: "Episode") -> None:
        """A step overran: abort the episode, and replace the browser if it hung."""
        ...

    def forget(self, episode: "Episode") -> None:
        """The episode is closed: no longer one of the env's live episodes."""
        ...


def elapsed_ms(a: float, b: float) -> float:
    return round((b - a) * 1000, 2)


class Episode:
    """One running episode: its own browser context and page. Create with `BrowserEnv.reset`/`restore`.

    `actions` is the executed prefix: `BrowserEnv.restore(task, seed, episode.actions)` rebuilds this state.
    """

    def __init__(self, host: EpisodeHost, task: Task, source: TaskSource, seed: int, context: "BrowserContext",
                 page: "Page", viewport: Viewport, allowed: frozenset[str], generation: int) -> None:
        self.host = host
        self.task = task
        self.source = source
        self.seed = seed
        self.goal: str = task.goal or ""
        self.viewport = viewport
        self.observation: Observation | None = None
        self.outcome: Outcome | None = None
        self.actions: list[Action] = []
        self.generation = generation  # the browser this episode's page lives in (see EpisodeHost.generation)
        self.confinement = Confinement(allowed)
        self._context = context
        self._page = page
        self._hands = PageActions(page, viewport, self._page_dead)
        self._crashed = False
        self._closed = False

    # -- public --------------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.outcome is not None

    @property
    def page(self) -> "Page":
        """The live Playwright page, for sources and tests that inspect the DOM; agents act through `step`."""
        return self._page

    @property
    def steps(self) -> int:
        return len(self.actions)

    @property
    def blocked_requests(self) -> list[BlockedRequest]:
        return self.confinement.blocked

    def state_key(self) -> str:
        if self.observation is None:
            raise RuntimeError("the episode has no observation yet")
        return self.observation.state_key

    async def step(self, action: Action) -> StepResult:
        """Executes one action, then observes; `terminate`/`answer` end the episode through the source's grade.

        Never raises for browser faults: a crash or a step over `step_timeout_s` returns an aborted result.
        Stepping an ended episode does nothing and returns its outcome again.
        """
        if self.done:
            return StepResult(self.observation, True, self.outcome, self.take_blocked(), "episode already ended")
        t0 = time.perf_counter()
        self.actions.append(action)
        limit = self.host.settings.step_timeout_s
        if isinstance(action, Wait):
            # Not browser work, so not under the step time limit; capped by it so one wait cannot stall a rollout.
            await asyncio.sleep(min(float(action.time), limit))
        async with self.host.slots:
            try:
                result = await asyncio.wait_for(self._step(action, t0), limit)
            except TimeoutError:
                await self.host.on_step_timeout(self)
                result = self._aborted_result(f"step exceeded {limit:g} s")
            except Exception as e:  # noqa: BLE001 - any Playwright failure here means the page or browser is gone
                if not is_playwright_error(e):
                    raise
                await self.abort(self._fault_reason(e))
                result = self._aborted_result(self._fault_reason(e))
        return result

    async def finish(self, answer: str | None = None) -> Outcome:
        """Ends the episode by grading its current state (a step budget ran out); no action is executed."""
        if self.done:
            assert self.outcome is not None
            return self.outcome
        try:
            async with self.host.slots:
                outcome = await asyncio.wait_for(self.source.grade(self._page, self.task, answer),
                                                 self.host.settings.step_timeout_s)
        except TimeoutError:
            await self.host.on_step_timeout(self)
            return self.outcome or Outcome.aborted("grading timed out")
        except Exception as e:  # noqa: BLE001
            if not is_playwright_error(e):
                raise
            await self.abort(self._fault_reason(e))
            assert self.outcome is not None
            return self.outcome
        self.outcome = outcome
        return outcome

    async def close(self) -> None:
        """Frees the context (and its renderer). An unfinished episode stays unfinished: grade it with `finish`."""
        if self._closed:
            return
        self._closed = True
        self.host.forget(self)
        try:
            await asyncio.wait_for(self._context.close(), CLOSE_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - the context may already be gone with its browser
            pass

    # -- the env's side: set-up, replay, observation, faults -------------------------------------------
    async def attach(self) -> None:
        """Wires the page's listeners and the network filter; called once, before the source's set-up."""
        await self.confinement.attach(self._context, self._page)
        self._page.on("request", self._hands.on_request)
        self._page.on("crash", lambda _p: self._on_crash())

    async def replay(self, actions: Sequence[Action]) -> None:
        """Re-executes an action prefix without observing in between (`BrowserEnv.restore`), then polls the source.

        `wait` actions are skipped; `terminate`/`answer` cannot be replayed since they end an episode.
        """
        for action in actions:
            if isinstance(action, (Terminate, Answer)):
                raise ValueError(f"cannot replay {action.kind!r}: it ends the episode")
            self.actions.append(action)
            if isinstance(action, Wait):
                continue
            # An action that failed the first time (an unknown key) did nothing then and does nothing now, so its
            # error is no reason to stop the replay.
            await self._hands.perform(action)
            await self.confinement.guard(self._page)
        self.outcome = await self.source.poll(self._page, self.task)

    async def observe(self) -> Observation:
        """Screenshot, URL, title and AX tree of the page now (the AX tree as the env's `axtree` mode says)."""
        t0 = time.perf_counter()
        page = self._page
        mode = self.host.axtree
        vp = self.viewport
        # Screenshot and AX snapshot are independent requests; issuing both lets the driver pipeline them.
        timings: dict[str, float] = {}

        async def timed(name: str, aw: Awaitable[_T]) -> _T:
            t = time.perf_counter()
            out = await aw
            timings[name] = elapsed_ms(t, time.perf_counter())
            return out

        async def axtree() -> str:
            if mode == "off":
                return ""
            snap = await page.aria_snapshot(boxes=mode == "visible")
            return render_axtree(snap, (vp.width, vp.height) if mode == "visible" else None)

        shot, ax, title = await asyncio.gather(timed("screenshot", page.screenshot(type="png")),
                                               timed("axtree", axtree()), page.title())
        timings["observe"] = elapsed_ms(t0, time.perf_counter())
        return Observation(screenshot=shot, url=page.url, title=title, axtree=ax, goal=self.goal,
                           width=round(vp.width * vp.scale), height=round(vp.height * vp.scale),
                           step=len(self.actions), timings=timings)

    def take_blocked(self) -> tuple[BlockedRequest, ...]:
        """What was blocked since the last call: a step reports only its own."""
        return self.confinement.take_new()

    def orphan(self, reason: str) -> None:
        """Its browser is gone: the episode ends as aborted; there is no context left to close."""
        self._mark_aborted(reason)
        self._closed = True

    async def abort(self, reason: str) -> None:
        self._mark_aborted(reason)
        await self.close()

    # -- internals -----------------------------------------------------------------------------------
    async def _step(self, action: Action, t0: float) -> StepResult:
        timings: dict[str, float] = {}
        error = await self._hands.perform(action)
        t1 = time.perf_counter()
        timings["action"] = elapsed_ms(t0, t1)
        await self.confinement.guard(self._page)
        outcome: Outcome | None = None
        if isinstance(action, (Terminate, Answer)):
            answer = action.text if isinstance(action, Answer) else None
            outcome = await self._settled(lambda: self.source.grade(self._page, self.task, answer))
            if isinstance(action, Terminate):
                outcome = replace(outcome, details={**outcome.details, "terminate_status": action.status})
        else:
            outcome = await self._settled(lambda: self.source.poll(self._page, self.task))
        t2 = time.perf_counter()
        timings["judge"] = elapsed_ms(t1, t2)
        if self.done:  # aborted meanwhile (the browser went away between two awaits)
            return self._aborted_result(self.outcome.details.get("reason", "aborted"))  # type: ignore[union-attr]
        obs = await self._settled(self.observe)
        timings.update(obs.timings)
        timings["total"] = elapsed_ms(t0, time.perf_counter())
        obs = replace(obs, timings=timings)
        self.observation = obs
        if outcome is not None:
            self.outcome = outcome
        return StepResult(obs, self.done, self.outcome, self.take_blocked(), error, timings)

    async def _settled(self, make: Callable[[], Awaitable[_T]]) -> _T:
        """Runs a page query once more after the page finished loading, when a navigation that started
        late (a timer, a redirect) destroyed the document it ran in; a dead page re-raises."""
        try:
            return await make()
        except Exception as e:  # noqa: BLE001
            if not is_playwright_error(e) or self._page_dead():
                raise
            await self._page.wait_for_load_state("load")
            return await make()

    def _on_crash(self) -> None:
        self._crashed = True
        self._mark_aborted("page renderer crashed")

    def _page_dead(self) -> bool:
        return self._crashed or self._page.is_closed() or self.host.generation != self.generation \
            or not self.host.connected()

    def _fault_reason(self, e: BaseException) -> str:
        if self.outcome is not None and self.outcome.status == "aborted":
            return str(self.outcome.details.get("reason", "aborted"))
        if self.host.generation != self.generation or not self.host.connected():
            return "browser crashed or was killed"
        if self._crashed:
            return "page renderer crashed"
        return f"browser error: {first_line(e)}"

    def _mark_aborted(self, reason: str) -> None:
        if self.outcome is None:
            self.outcome = Outcome.aborted(reason)

    def _aborted_result(self, reason: str) -> StepResult:
        self._mark_aborted(reason)
        return StepResult(None, True, self.outcome, self.take_blocked(), reason)
