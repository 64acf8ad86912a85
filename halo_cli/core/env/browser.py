"""BrowserEnv: the agent's hands and eyes, on async Playwright with one headless Chromium.

One browser serves every episode; each episode gets its own context (cookies, storage and cache isolated)
and one page, so the trainer can run many episodes at once with `asyncio.gather`. A browser per episode
costs ~180 MiB instead of ~70 MiB and brings no throughput on a small machine (measured with 1-8 concurrent
episodes on 2 cores).

Usage::

    async with BrowserEnv(settings.browser, sources=[MiniWoBSource()]) as env:
        ep = await env.reset(task, seed=3)
        while not ep.done:
            result = await ep.step(parse_action(reply, ep.observation.width, ep.observation.height))
        print(ep.outcome)

This module owns the browser: launching it, noticing it died or hung, relaunching it, and starting episodes
(`reset`, `restore`). A browser that dies or hangs under a reset is the browser's fault, not the site's: the reset
is tried again on a new browser, up to `browser.reset_attempts` times, and every crash, hang, relaunch and retried
reset is counted on the env (`crashes`, `hangs`, `relaunches`, `reset_retries`) for the trainer's metrics. The episode itself (`episode.py`), executing actions (`execute.py`), origin confinement
(`confine.py`), the AX-tree text (`axtree.py`) and finding the browser's process (`procs.py`) live beside it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from halo_cli.core.actions import Action
from halo_cli.core.config import BrowserSettings
from halo_cli.core.env.episode import AxTreeMode, Episode, elapsed_ms
from halo_cli.core.env.faults import CLOSE_TIMEOUT_S, first_line, is_playwright_error, quiet
from halo_cli.core.env.procs import find_pid, kill_marked, pid_has
from halo_cli.core.env.tasks import SiteError, Task, TaskSource, Viewport
from halo_cli.core.errors import HaloError

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright

# Health probe of a browser suspected of hanging.
_HEALTH_TIMEOUT_S = 5.0


class BrowserError(HaloError):
    """The browser cannot be brought up or keeps failing (missing executable, repeated crashes)."""


def screenshot_digest(png: bytes) -> str:
    """sha256 of the PNG bytes: Chromium's screenshots of one state are byte-identical (caret hidden, fixed clock)."""
    return hashlib.sha256(png).hexdigest()


class RestoreMismatch(BrowserError):
    """A replayed action prefix did not reach the expected state (the task is not deterministic)."""

    def __init__(self, expected: str, got: str):
        super().__init__(f"restored state {got} differs from the expected {expected}")
        self.expected = expected
        self.got = got


class BrowserEnv:
    """One headless Chromium (relaunched when it dies), many concurrent episodes, confined to their origins.

    `sources` map `Task.source` to the TaskSource that sets up and grades its tasks; `reset` also takes a
    source explicitly. `axtree` (default: `settings.axtree`) chooses the observation's AX tree: the whole
    page, only what intersects the viewport, or none (the state key then falls back to the URL alone).
    Settings are read at each step, so a changed `step_timeout_s` applies to the next step.

    Counters, since the env started: `crashes` (browsers that died under it: killed, out of memory, crashed),
    `hangs` (browsers that stopped answering and were killed), `relaunches` (replacement browsers launched) and
    `reset_retries` (resets tried again because their browser died or hung under them).
    """

    def __init__(self, settings: BrowserSettings | None = None, sources: Iterable[TaskSource] = (), *,
                 axtree: AxTreeMode | None = None) -> None:
        self.settings = settings or BrowserSettings()
        self.axtree: AxTreeMode = axtree or self.settings.axtree
        self.sources: dict[str, TaskSource] = {s.name: s for s in sources}
        self.crashes = 0
        self.hangs = 0
        self.relaunches = 0
        self.reset_retries = 0
        self._launched = False
        self._pw: "Playwright | None" = None
        self._pw_cm: Any = None
        self._browser: "Browser | None" = None
        self._browser_pid: int | None = None
        self._generation = 0
        self._launch_lock = asyncio.Lock()
        self.slots = asyncio.Semaphore(self.settings.max_concurrent_pages)
        self._episodes: set[Episode] = set()
        self._marker = ""  # a switch unique to the running browser, to find its pid

    # -- lifecycle -------------------------------------------------------------------------------------
    async def __aenter__(self) -> "BrowserEnv":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Launches Chromium now (otherwise the first reset does)."""
        await self._ensure_browser()

    async def close(self) -> None:
        await asyncio.gather(*(ep.close() for ep in list(self._episodes)))
        browser, self._browser = self._browser, None
        if browser is not None:
            try:
                await asyncio.wait_for(browser.close(), CLOSE_TIMEOUT_S)
            except Exception:  # noqa: BLE001 - a hung browser is killed below
                pass
        kill_marked(self._marker)
        if self._pw_cm is not None:
            await self._pw_cm.__aexit__(None, None, None)
            self._pw_cm = self._pw = None

    @property
    def browser_pid(self) -> int | None:
        """The main Chromium process (Linux: found by a marker switch on its command line), or None."""
        if not self._marker:
            return None
        if self._browser_pid is None or not pid_has(self._browser_pid, self._marker):
            self._browser_pid = find_pid(self._marker)
        return self._browser_pid

    @property
    def live_episodes(self) -> int:
        return len(self._episodes)

    # -- episodes ----------------------------------------------------------------------------------------
    async def reset(self, task: Task, seed: int = 0, *, source: TaskSource | None = None) -> Episode:
        """Starts an episode of `task` with `seed` in a fresh context; returns it with its first observation.

        A browser that dies or hangs during the reset is relaunched and the reset retried, up to
        `browser.reset_attempts` tries in all; then BrowserError, as for a page that fails to load or takes
        longer than the reset's time limit on a healthy browser. Other errors of the source's own setup
        propagate unchanged.
        """
        return await self._start_episode(task, seed, source, replay=None, expected_key=None)

    async def restore(self, task: Task, seed: int, actions: Sequence[Action], *, expected_key: str | None = None,
                      expected_screenshot: str | None = None, source: TaskSource | None = None) -> Episode:
        """Rebuilds a state by a seeded reset plus a replay of `actions`, observing only at the end.

        Playwright cannot fork a page (no snapshot of a page's JS heap); replay reproduces MiniWoB states exactly at
        ~25 ms per action. `wait` actions are skipped, so time-driven pages (animations) need not match. With
        `expected_key` (the state key: URL + AX tree) and `expected_screenshot` (`screenshot_digest` of the
        screenshot), raises RestoreMismatch (and closes the episode) when the replayed state differs in either: two
        states can share an AX tree and still look different (a canvas, a colour, an image).
        """
        ep = await self._start_episode(task, seed, source, replay=list(actions), expected_key=expected_key)
        if expected_screenshot is not None:
            assert ep.observation is not None
            got = screenshot_digest(ep.observation.screenshot)
            if got != expected_screenshot:
                await ep.close()
                raise RestoreMismatch(f"screenshot {expected_screenshot}", f"screenshot {got}")
        return ep

    async def _start_episode(self, task: Task, seed: int, source: TaskSource | None, replay: list[Action] | None,
                             expected_key: str | None) -> Episode:
        src = source or self.sources.get(task.source)
        if src is None:
            raise BrowserError(f"no task source {task.source!r} registered with the browser env")
        attempts = self.settings.reset_attempts
        for attempt in range(1, attempts + 1):
            used: list[int] = []  # the generation of the browser this try ran on, once it had one
            try:
                async with self.slots:
                    return await asyncio.wait_for(self._open(task, seed, src, replay, expected_key, used),
                                                  self._reset_timeout(replay))
            except RestoreMismatch:
                raise
            except Exception as e:  # noqa: BLE001
                if not used or not await self._browser_failed(e, used[0]):
                    if isinstance(e, TimeoutError):
                        raise SiteError(f"reset of {task.id} took longer than "
                                        f"{self._reset_timeout(replay):g} s") from None
                    if is_playwright_error(e):  # the site failed to load, say: one line for the user
                        raise SiteError(f"reset of {task.id} failed: {first_line(e)}") from e
                    raise
                if attempt == attempts:
                    raise BrowserError(f"Chromium died or hung {attempts} times while resetting {task.id}: "
                                       f"{first_line(e)}") from e
                self.reset_retries += 1
        raise AssertionError("unreachable")

    async def _browser_failed(self, e: Exception, generation: int) -> bool:
        """Whether a failed reset try is the browser's doing: the browser it ran on died, was replaced (another
        episode found it dead or hung first) or stops answering now. A healthy browser means the site failed."""
        if generation != self._generation:
            return True
        if not (isinstance(e, TimeoutError) or is_playwright_error(e)):
            return False
        if await self._healthy():  # Playwright may report the closed target before the browser's disconnect
            return False
        if generation == self._generation:  # the probe did not see it disconnect: dead or hung, it is replaced
            await self._relaunch("browser died or hung during a reset", generation)
        return True

    def _reset_timeout(self, replay: list[Action] | None) -> float:
        # A reset creates a context and loads a site; a replay adds one short action per step.
        return self.settings.step_timeout_s * (2 + 0.2 * len(replay or ()))

    async def _open(self, task: Task, seed: int, src: TaskSource, replay: list[Action] | None,
                    expected_key: str | None, used: list[int]) -> Episode:
        t0 = time.perf_counter()
        browser = await self._ensure_browser()
        generation = self._generation
        used.append(generation)
        hook = getattr(src, "viewport", None)
        vp = (hook(task) if callable(hook) else None) or Viewport(self.settings.viewport_width,
                                                                   self.settings.viewport_height)
        context = await browser.new_context(
            viewport={"width": vp.width, "height": vp.height}, device_scale_factor=vp.scale,
            service_workers="block",  # their fetches bypass context.route, so they could leave the origin
            accept_downloads=False, timezone_id=self.settings.timezone,
        )
        ep: Episode | None = None
        try:
            if self.settings.clock is not None:
                await context.clock.set_fixed_time(self.settings.clock)
            page = await context.new_page()
            ep = Episode(self, task, src, seed, context, page, vp, src.allowed_origins(task), generation)
            await ep.attach()
            self._episodes.add(ep)
            t1 = time.perf_counter()
            goal = await src.setup(page, task, seed)
            ep.goal = goal or task.goal or ""
            ep.confinement.note_url(page.url)
            t2 = time.perf_counter()
            if replay:
                await ep.replay(replay)
            t3 = time.perf_counter()
            obs = await ep.observe()
            timings = {"context": elapsed_ms(t0, t1), "setup": elapsed_ms(t1, t2), "replay": elapsed_ms(t2, t3),
                       **obs.timings, "total": elapsed_ms(t0, time.perf_counter())}
            ep.observation = replace(obs, timings=timings)
            if expected_key is not None and ep.observation.state_key != expected_key:
                raise RestoreMismatch(expected_key, ep.observation.state_key)
            ep.take_blocked()  # what the reset itself triggered is not the agent's doing
            return ep
        except BaseException:
            if ep is not None:
                await ep.close()
            else:
                await quiet(context.close())
            raise

    # -- browser -------------------------------------------------------------------------------------------
    def connected(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    @property
    def generation(self) -> int:
        """Which browser is current: bumped when one dies or is replaced, so episodes can tell they are orphans."""
        return self._generation

    def forget(self, episode: Episode) -> None:
        self._episodes.discard(episode)

    async def _ensure_browser(self) -> "Browser":
        async with self._launch_lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            if self._browser is not None:  # died since: its episodes end now, if nobody noticed yet
                self._on_disconnected(self._generation)
            if self._pw is None:
                from playwright.async_api import async_playwright

                self._pw_cm = async_playwright()
                self._pw = await self._pw_cm.__aenter__()
            if not os.path.exists(self.settings.executable):
                raise BrowserError(f"Chromium not found at {self.settings.executable} (set browser.executable)")
            self._marker = f"--halo-browser={uuid.uuid4().hex}"
            args = [*self.settings.args, self._marker]
            try:
                browser = await self._pw.chromium.launch(executable_path=self.settings.executable,
                                                         headless=self.settings.headless, args=args)
            except Exception as e:  # noqa: BLE001
                raise BrowserError(f"cannot launch Chromium ({self.settings.executable}): {first_line(e)}") from e
            self._generation += 1
            generation = self._generation
            browser.on("disconnected", lambda _b: self._on_disconnected(generation))
            self._browser = browser
            self._browser_pid = None
            if self._launched:
                self.relaunches += 1
            self._launched = True
            return browser

    def _on_disconnected(self, generation: int) -> None:
        if generation != self._generation:
            return
        if self._browser is not None:  # not closed by us (close() and _relaunch() drop it first)
            self.crashes += 1
        self._generation += 1  # episodes of the old browser can tell they are orphans
        self._browser = None
        self._orphan_episodes(generation, "browser crashed or was killed")

    async def _healthy(self) -> bool:
        if not self.connected():
            return False
        assert self._browser is not None
        try:
            async def probe() -> None:
                session = await self._browser.new_browser_cdp_session()  # type: ignore[union-attr]
                await session.send("Browser.getVersion")
                await session.detach()

            await asyncio.wait_for(probe(), min(_HEALTH_TIMEOUT_S, self.settings.step_timeout_s))
            return True
        except Exception:  # noqa: BLE001
            return False

    async def _relaunch(self, reason: str, generation: int) -> None:
        """Kills a hung browser; its episodes end as aborted and the next reset launches a new one.

        `generation` is the browser the caller found hung: when several episodes time out on the same hang,
        only the first replaces it, and the others leave its successor alone.
        """
        if generation != self._generation:
            return
        if self.browser_pid is not None:  # alive and not answering: a hang
            self.hangs += 1
        else:  # gone already, its disconnect not seen yet: a crash
            self.crashes += 1
        kill_marked(self._marker)
        browser, self._browser = self._browser, None
        self._orphan_episodes(generation, reason)
        self._generation += 1
        if browser is not None:
            asyncio.ensure_future(quiet(browser.close()))

    def _orphan_episodes(self, generation: int, reason: str) -> None:
        for ep in list(self._episodes):
            if ep.generation == generation:
                ep.orphan(reason)
                self._episodes.discard(ep)

    async def on_step_timeout(self, ep: Episode) -> None:
        """A step overran: the episode is aborted; if the browser itself stopped answering, it is replaced."""
        limit = f"{self.settings.step_timeout_s:g} s"
        if ep.generation == self._generation and not await self._healthy():
            await self._relaunch(f"browser hung (a step exceeded {limit})", ep.generation)
        await ep.abort(f"step exceeded {limit}")
