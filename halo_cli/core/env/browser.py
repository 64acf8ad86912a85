"""BrowserEnv: the agent's hands and eyes, on async Playwright with one headless Chromium.

One browser serves every episode; each episode gets its own context (cookies, storage and cache isolated)
and one page, so the trainer can run many episodes at once with `asyncio.gather`. A browser per episode
would cost ~180 MiB instead of ~70 MiB and bring no throughput on a small machine (probe Q4).

Usage::

    async with BrowserEnv(settings.browser, sources=[MiniWoBSource()]) as env:
        ep = await env.reset(task, seed=3)
        while not ep.done:
            result = await ep.step(parse_action(reply, ep.observation.width, ep.observation.height))
        print(ep.outcome)

Actions are Qwen3-VL `computer_use` actions (`core.actions`): their pixels refer to the screenshot the
model saw, and are mapped back to CSS pixels here (screenshots of tiny pages are taken at a device scale
factor > 1, see `tasks.Viewport`). Faults never escape as exceptions from `Episode.step`: a crashed or hung
Chromium ends the affected episodes as `Outcome.aborted(reason)`, the browser is relaunched for the next
reset, and the caller carries on.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit

from halo_cli.core.config import BrowserSettings
from halo_cli.core.env.axtree import state_key
from halo_cli.core.env.tasks import Outcome, Task, TaskSource, Viewport
from halo_cli.core.errors import HaloError
from halo_cli.core.actions import (
    Action,
    Answer,
    DoubleClick,
    HScroll,
    Key,
    LeftClick,
    LeftClickDrag,
    MiddleClick,
    MouseMove,
    RightClick,
    Scroll,
    Terminate,
    TripleClick,
    Type,
    Wait,
)

if TYPE_CHECKING:
    from playwright.async_api import (
        Browser,
        BrowserContext,
        ConsoleMessage,
        Page,
        Playwright,
        Request,
        Route,
        WebSocketRoute,
    )

AxTreeMode = Literal["full", "visible", "off"]
_T = TypeVar("_T")

# Off-origin navigations are answered 204 rather than aborted: Chromium then abandons the navigation and
# keeps the current document (and its JS task state); an abort would commit an error page over it.
_NO_CONTENT = 204
_DRAG_STEPS = 8
# One animation frame: a wheel scroll lands asynchronously, after the event returns.
_NEXT_FRAME_JS = "() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)))"
# Health probe of a browser suspected of hanging.
_HEALTH_TIMEOUT_S = 5.0
_REFUSED = re.compile(r"^Not allowed to (?:load local resource|navigate top frame to data URL): (\S+)")
_CLOSE_TIMEOUT_S = 5.0


class BrowserError(HaloError):
    """The browser cannot be brought up or keeps failing (missing executable, repeated crashes)."""


class RestoreMismatch(BrowserError):
    """A replayed action prefix did not reach the expected state (the task is not deterministic)."""

    def __init__(self, expected: str, got: str):
        super().__init__(f"restored state {got} differs from the expected {expected}")
        self.expected = expected
        self.got = got


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
class BlockedRequest:
    """A request, navigation, socket or popup that left the task's allowed origins and was stopped."""

    url: str
    kind: Literal["request", "navigation", "websocket", "popup"]
    resource_type: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.url}"


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


# ---------------------------------------------------------------------------------------------------
# Key names: Qwen3-VL writes xdotool/pyautogui names ("ctrl", "Return", "pagedown"); Playwright wants
# KeyboardEvent names ("Control", "Enter", "PageDown").

_KEY_ALIASES: dict[str, str] = {
    "ctrl": "Control", "control": "Control", "lctrl": "Control", "rctrl": "Control", "ctrlleft": "Control",
    "ctrlright": "Control", "control_l": "Control", "control_r": "Control",
    "shift": "Shift", "lshift": "Shift", "rshift": "Shift", "shiftleft": "Shift", "shiftright": "Shift",
    "shift_l": "Shift", "shift_r": "Shift",
    "alt": "Alt", "lalt": "Alt", "ralt": "Alt", "altleft": "Alt", "altright": "Alt", "alt_l": "Alt",
    "alt_r": "Alt", "option": "Alt", "opt": "Alt",
    "cmd": "Meta", "command": "Meta", "meta": "Meta", "super": "Meta", "win": "Meta", "windows": "Meta",
    "winleft": "Meta", "winright": "Meta", "super_l": "Meta", "super_r": "Meta",
    "enter": "Enter", "return": "Enter", "kp_enter": "Enter", "esc": "Escape", "escape": "Escape",
    "backspace": "Backspace", "back_space": "Backspace", "bksp": "Backspace",
    "tab": "Tab", "space": "Space", "spacebar": "Space", "delete": "Delete", "del": "Delete",
    "insert": "Insert", "ins": "Insert", "home": "Home", "end": "End",
    "pageup": "PageUp", "page_up": "PageUp", "pgup": "PageUp", "prior": "PageUp",
    "pagedown": "PageDown", "page_down": "PageDown", "pgdn": "PageDown", "next": "PageDown",
    "up": "ArrowUp", "down": "ArrowDown", "left": "ArrowLeft", "right": "ArrowRight",
    "arrowup": "ArrowUp", "arrowdown": "ArrowDown", "arrowleft": "ArrowLeft", "arrowright": "ArrowRight",
    "capslock": "CapsLock", "caps_lock": "CapsLock", "numlock": "NumLock", "scrolllock": "ScrollLock",
    "pause": "Pause", "printscreen": "PrintScreen", "print": "PrintScreen", "contextmenu": "ContextMenu",
    "menu": "ContextMenu", "apps": "ContextMenu", "plus": "+", "minus": "-", "comma": ",", "period": ".",
    "slash": "/", "backslash": "\\", "semicolon": ";", "apostrophe": "'", "quote": "'", "grave": "`",
    "backquote": "`", "equal": "=", "equals": "=", "bracketleft": "[", "bracketright": "]",
}
_F_KEY = re.compile(r"^f([1-9]|1[0-9]|2[0-4])$")


def playwright_key(name: str) -> str:
    """Maps one xdotool/pyautogui key name to Playwright's; raises ValueError for a name it cannot map."""
    if len(name) == 1:
        return name
    low = name.strip().lower()
    if low in _KEY_ALIASES:
        return _KEY_ALIASES[low]
    if _F_KEY.match(low):
        return low.upper()
    if re.fullmatch(r"(key[a-z]|digit[0-9])", low):  # KeyboardEvent.code names Playwright also accepts
        return low[:-1].capitalize() + low[-1].upper() if low.startswith("key") else "Digit" + low[-1]
    raise ValueError(f"unknown key name {name!r}")


# ---------------------------------------------------------------------------------------------------
# AX tree text

_BOX = re.compile(r" \[box=(-?[\d.]+),(-?[\d.]+),(-?[\d.]+),(-?[\d.]+)\]")


def render_axtree(snapshot: str, visible_in: tuple[float, float] | None = None) -> str:
    """Turns Playwright's ARIA snapshot (YAML) into compact indented `role "name" [state]: text` lines.

    ARIA snapshots are used rather than CDP `Accessibility.getFullAXTree`: on a 1,400-node page they took
    ~45 ms against ~190 ms (plus a 1.5 MB JSON to parse); on MiniWoB pages both take ~5-12 ms. With
    `visible_in=(width, height)` the snapshot must carry boxes (`aria_snapshot(boxes=True)`) and only nodes
    that intersect the viewport are kept, with their ancestors for structure; nodes without a box (text,
    options) follow their parent.
    """
    entries: list[list[Any]] = []  # [depth, text, visible: bool | None]
    skipping_prop = False
    for raw in snapshot.splitlines():
        stripped = raw.lstrip(" ")
        if not stripped:
            continue
        depth = (len(raw) - len(stripped)) // 2
        if not stripped.startswith("- "):  # continuation of a multi-line scalar
            if entries and not skipping_prop:
                entries[-1][1] += " " + stripped.strip()
            continue
        body = stripped[2:]
        skipping_prop = body.startswith("/")  # /url, /placeholder: properties, not nodes
        if skipping_prop:
            continue
        visible: bool | None = None
        m = _BOX.search(body)
        if m:
            body = _BOX.sub("", body)
            if visible_in is not None:
                x, y, w, h = (float(v) for v in m.groups())
                if w > 0 and h > 0:
                    visible = x < visible_in[0] and y < visible_in[1] and x + w > 0 and y + h > 0
        if body.endswith(":"):
            body = body[:-1]
        entries.append([depth, body, visible])
    if visible_in is None:
        return "\n".join("  " * d + t for d, t, _ in entries)
    # Resolve inherited visibility, then keep visible nodes and their ancestors.
    keep = [False] * len(entries)
    stack: list[tuple[int, int, bool]] = []  # (depth, index, visible)
    for i, (depth, _text, vis) in enumerate(entries):
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parent_vis = stack[-1][2] if stack else True
        eff = parent_vis if vis is None else vis
        if eff:
            keep[i] = True
            for _, j, _v in stack:
                keep[j] = True
        stack.append((depth, i, eff))
    return "\n".join("  " * e[0] + e[1] for e, k in zip(entries, keep) if k)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
        return ""
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    default = 443 if scheme == "https" else 80
    port = parts.port or default
    host = parts.hostname
    return f"{scheme}://{host}" if port == default else f"{scheme}://{host}:{port}"


def _normalize_origins(origins: Iterable[str]) -> frozenset[str]:
    return frozenset(o for o in (_origin(x) for x in origins) if o)


# ---------------------------------------------------------------------------------------------------


class Episode:
    """One running episode: its own browser context and page. Create with `BrowserEnv.reset`/`restore`.

    `actions` is the executed prefix: `BrowserEnv.restore(task, seed, episode.actions)` rebuilds this state.
    """

    def __init__(self, env: "BrowserEnv", task: Task, source: TaskSource, seed: int, context: "BrowserContext",
                 page: "Page", viewport: Viewport, allowed: frozenset[str], generation: int) -> None:
        self.env = env
        self.task = task
        self.source = source
        self.seed = seed
        self.goal: str = task.goal or ""
        self.viewport = viewport
        self.observation: Observation | None = None
        self.outcome: Outcome | None = None
        self.actions: list[Action] = []
        self.blocked_requests: list[BlockedRequest] = []
        self._context = context
        self._page = page
        self._allowed = allowed
        self._generation = generation
        self._unreported = 0  # index into blocked_requests of the first not yet returned by a step
        self._mouse = (viewport.width / 2, viewport.height / 2)
        self._nav_pending = False
        self._last_allowed_url = ""
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
            return StepResult(self.observation, True, self.outcome, self._take_blocked(), "episode already ended")
        t0 = time.perf_counter()
        self.actions.append(action)
        if isinstance(action, Wait):
            # Not browser work, so not under the step time limit; capped by it so one wait cannot stall a rollout.
            await asyncio.sleep(min(float(action.time), self.env.settings.step_timeout_s))
        async with self.env._slots:
            try:
                result = await asyncio.wait_for(self._step(action, t0), self.env.settings.step_timeout_s)
            except TimeoutError:
                await self.env._on_step_timeout(self)
                result = self._aborted_result(f"step exceeded {self.env.settings.step_timeout_s:g} s")
            except Exception as e:  # noqa: BLE001 - any Playwright failure here means the page or browser is gone
                if not _is_playwright_error(e):
                    raise
                await self._abort(self._fault_reason(e))
                result = self._aborted_result(self._fault_reason(e))
        return result

    async def finish(self, answer: str | None = None) -> Outcome:
        """Ends the episode by grading its current state (a step budget ran out); no action is executed."""
        if self.done:
            assert self.outcome is not None
            return self.outcome
        try:
            async with self.env._slots:
                outcome = await asyncio.wait_for(self.source.grade(self._page, self.task, answer),
                                                 self.env.settings.step_timeout_s)
        except TimeoutError:
            await self.env._on_step_timeout(self)
            return self.outcome or Outcome.aborted("grading timed out")
        except Exception as e:  # noqa: BLE001
            if not _is_playwright_error(e):
                raise
            await self._abort(self._fault_reason(e))
            assert self.outcome is not None
            return self.outcome
        self.outcome = outcome
        return outcome

    async def close(self) -> None:
        """Frees the context (and its renderer). An unfinished episode stays unfinished: grade it with `finish`."""
        if self._closed:
            return
        self._closed = True
        self.env._episodes.discard(self)
        try:
            await asyncio.wait_for(self._context.close(), _CLOSE_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - the context may already be gone with its browser
            pass

    # -- internals -----------------------------------------------------------------------------------
    async def _step(self, action: Action, t0: float) -> StepResult:
        timings: dict[str, float] = {}
        error = await self._perform(action)
        t1 = time.perf_counter()
        timings["action"] = _ms(t0, t1)
        await self._guard_navigation()
        outcome: Outcome | None = None
        if isinstance(action, (Terminate, Answer)):
            answer = action.text if isinstance(action, Answer) else None
            outcome = await self._settled(lambda: self.source.grade(self._page, self.task, answer))
            if isinstance(action, Terminate):
                outcome = replace(outcome, details={**outcome.details, "terminate_status": action.status})
        else:
            outcome = await self._settled(lambda: self.source.poll(self._page, self.task))
        t2 = time.perf_counter()
        timings["judge"] = _ms(t1, t2)
        if self.done:  # aborted meanwhile (the browser went away between two awaits)
            return self._aborted_result(self.outcome.details.get("reason", "aborted"))  # type: ignore[union-attr]
        obs = await self._settled(lambda: self._observe(len(self.actions)))
        timings.update(obs.timings)
        timings["total"] = _ms(t0, time.perf_counter())
        obs = replace(obs, timings=timings)
        self.observation = obs
        if outcome is not None:
            self.outcome = outcome
        return StepResult(obs, self.done, self.outcome, self._take_blocked(), error, timings)

    async def _settled(self, make: Callable[[], Awaitable[_T]]) -> _T:
        """Runs a page query once more after the page finished loading, when a navigation that started
        late (a timer, a redirect) destroyed the document it ran in; a dead page re-raises."""
        try:
            return await make()
        except Exception as e:  # noqa: BLE001
            if not _is_playwright_error(e) or self._page_dead():
                raise
            await self._page.wait_for_load_state("load")
            return await make()

    async def _perform(self, action: Action) -> str | None:
        """Executes one action on the page in CSS pixels; returns an error text for an action it cannot do."""
        page = self._page
        mouse = page.mouse
        settle = False
        if isinstance(action, (LeftClick, RightClick, MiddleClick, DoubleClick, TripleClick, MouseMove)):
            x, y = self._css(action.to_pixels(), action)
            if isinstance(action, MouseMove):
                await mouse.move(x, y)
                settle = True
            elif isinstance(action, DoubleClick):
                await mouse.dblclick(x, y)
            elif isinstance(action, TripleClick):
                await mouse.click(x, y, click_count=3)
            else:
                button = {LeftClick: "left", RightClick: "right", MiddleClick: "middle"}[type(action)]
                await mouse.click(x, y, button=button)  # type: ignore[arg-type]
            self._mouse = (x, y)
        elif isinstance(action, LeftClickDrag):
            start_px = action.start_px()
            sx, sy = self._css(start_px, action) if start_px is not None else self._mouse
            ex, ey = self._css(action.to_pixels(), action)
            await mouse.move(sx, sy)
            await mouse.down()
            await mouse.move(ex, ey, steps=_DRAG_STEPS)
            await mouse.up()
            self._mouse = (ex, ey)
            settle = True
        elif isinstance(action, Scroll):  # HScroll is a Scroll
            point = action.to_pixels()
            x, y = self._css(point, action) if point is not None else self._mouse
            scale = self._scale(action)
            amount = float(action.pixels) * scale[1 if not isinstance(action, HScroll) else 0]
            await mouse.move(x, y)
            if isinstance(action, HScroll):
                await mouse.wheel(amount, 0)  # positive = right (pyautogui hscroll)
            else:
                await mouse.wheel(0, -amount)  # positive = up (Qwen's tool description)
            self._mouse = (x, y)
            settle = True
        elif isinstance(action, Type):
            await page.keyboard.type(action.text)
        elif isinstance(action, Key):
            try:
                names = [playwright_key(k) for k in action.keys]
            except ValueError as e:
                return str(e)
            pressed: list[str] = []
            try:
                for name in names:
                    await page.keyboard.down(name)
                    pressed.append(name)
            except Exception as e:  # noqa: BLE001
                if not _is_playwright_error(e) or self._page_dead():
                    raise
                return f"key {name!r}: {_first_line(e)}"
            finally:
                for name in reversed(pressed):
                    await page.keyboard.up(name)
        # Wait, Terminate, Answer: nothing to do on the page.
        try:
            # One round trip (or one frame after wheel/drag/move): the page's handlers ran, a scroll landed,
            # and a navigation they started has been announced.
            await page.evaluate(_NEXT_FRAME_JS if settle else "0")
        except Exception as e:  # noqa: BLE001 - "execution context destroyed": the action navigated
            if not _is_playwright_error(e) or self._page_dead():
                raise
        if self._nav_pending:
            self._nav_pending = False
            try:
                await page.wait_for_load_state("load")
            except Exception as e:  # noqa: BLE001 - a navigation superseded by another is not a fault
                if not _is_playwright_error(e) or self._page_dead():
                    raise
        return None

    async def _guard_navigation(self) -> None:
        """Brings the page back when its main frame left the allowed origins by a route the network filter
        cannot see (e.g. an error page); Chromium already refuses file:, chrome: and data: from web pages."""
        url = self._page.url
        if _origin(url) in self._allowed:
            self._last_allowed_url = url
            return
        if url == "about:blank" and not self._last_allowed_url:
            return
        self._record(BlockedRequest(url, "navigation", "document"))
        if self._last_allowed_url:
            await self._page.goto(self._last_allowed_url, wait_until="load")

    async def _observe(self, step: int) -> Observation:
        t0 = time.perf_counter()
        page = self._page
        mode = self.env.axtree
        vp = self.viewport
        # Screenshot and AX snapshot are independent requests; issuing both lets the driver pipeline them.
        timings: dict[str, float] = {}

        async def timed(name: str, aw: Any) -> Any:
            t = time.perf_counter()
            out = await aw
            timings[name] = _ms(t, time.perf_counter())
            return out

        async def axtree() -> str:
            if mode == "off":
                return ""
            snap = await page.aria_snapshot(boxes=mode == "visible")
            return render_axtree(snap, (vp.width, vp.height) if mode == "visible" else None)

        shot, ax, title = await asyncio.gather(timed("screenshot", page.screenshot(type="png")),
                                               timed("axtree", axtree()), page.title())
        timings["observe"] = _ms(t0, time.perf_counter())
        return Observation(screenshot=shot, url=page.url, title=title, axtree=ax, goal=self.goal,
                           width=round(vp.width * vp.scale), height=round(vp.height * vp.scale), step=step,
                           timings=timings)

    def _scale(self, action: Action) -> tuple[float, float]:
        """CSS pixels per action pixel: the action's pixels refer to the screenshot it was parsed for."""
        return (self.viewport.width / action.width, self.viewport.height / action.height)

    def _css(self, px: tuple[int, int] | None, action: Action) -> tuple[float, float]:
        assert px is not None
        sx, sy = self._scale(action)
        return (px[0] * sx, px[1] * sy)

    # -- confinement -----------------------------------------------------------------------------------
    async def _route(self, route: "Route") -> None:
        request = route.request
        try:
            if _origin(request.url) in self._allowed:
                await route.continue_()
                return
            nav = request.is_navigation_request()
            self._record(BlockedRequest(request.url, "navigation" if nav else "request", request.resource_type))
            if nav:
                await route.fulfill(status=_NO_CONTENT)
            else:
                await route.abort("blockedbyclient")
        except Exception as e:  # noqa: BLE001 - the context closed under the request: nothing left to route
            if not _is_playwright_error(e):
                raise

    def _route_ws(self, ws: "WebSocketRoute") -> None:
        if _origin(ws.url) in self._allowed:
            ws.connect_to_server()
        else:
            self._record(BlockedRequest(ws.url, "websocket", "websocket"))
            asyncio.ensure_future(ws.close(code=1008, reason="blocked by halo"))

    def _on_request(self, request: "Request") -> None:
        try:
            if request.is_navigation_request() and request.frame == self._page.main_frame:
                self._nav_pending = True
        except Exception:  # noqa: BLE001 - requests of service workers have no frame
            pass

    def _on_console(self, message: "ConsoleMessage") -> None:
        # file:, chrome:, view-source: and top-level data: navigations never reach the network (so never the
        # route above): Chromium refuses them itself and says so on the console; they are counted from there.
        if message.type != "error":
            return
        m = _REFUSED.match(message.text)
        if m:
            self._record(BlockedRequest(m.group(1), "navigation", "document"))

    def _on_page(self, page: "Page") -> None:
        if page is self._page:
            return
        # The agent sees one page; a popup would act unseen. Its URL is recorded, the page closed.
        self._record(BlockedRequest(page.url or "about:blank", "popup", "document"))
        asyncio.ensure_future(_quiet(page.close()))

    def _record(self, blocked: BlockedRequest) -> None:
        self.blocked_requests.append(blocked)

    def _take_blocked(self) -> tuple[BlockedRequest, ...]:
        new = tuple(self.blocked_requests[self._unreported:])
        self._unreported = len(self.blocked_requests)
        return new

    # -- faults ------------------------------------------------------------------------------------------
    def _page_dead(self) -> bool:
        return self._crashed or self._page.is_closed() or self.env._generation != self._generation \
            or not self.env._connected()

    def _fault_reason(self, e: BaseException) -> str:
        if self.outcome is not None and self.outcome.status == "aborted":
            return str(self.outcome.details.get("reason", "aborted"))
        if self.env._generation != self._generation or not self.env._connected():
            return "browser crashed or was killed"
        if self._crashed:
            return "page renderer crashed"
        return f"browser error: {_first_line(e)}"

    def _mark_aborted(self, reason: str) -> None:
        if self.outcome is None:
            self.outcome = Outcome.aborted(reason)

    async def _abort(self, reason: str) -> None:
        self._mark_aborted(reason)
        await self.close()

    def _aborted_result(self, reason: str) -> StepResult:
        self._mark_aborted(reason)
        return StepResult(None, True, self.outcome, self._take_blocked(), reason)


class BrowserEnv:
    """One headless Chromium (relaunched when it dies), many concurrent episodes, confined to their origins.

    `sources` map `Task.source` to the TaskSource that sets up and grades its tasks; `reset` also takes a
    source explicitly. `axtree` (default: `settings.axtree`) chooses the observation's AX tree: the whole
    page, only what intersects the viewport, or none (the state key then falls back to the URL alone).
    Settings are read at each step, so a changed `step_timeout_s` applies to the next step.
    """

    def __init__(self, settings: BrowserSettings | None = None, sources: Iterable[TaskSource] = (), *,
                 axtree: AxTreeMode | None = None) -> None:
        self.settings = settings or BrowserSettings()
        self.axtree: AxTreeMode = axtree or self.settings.axtree
        self.sources: dict[str, TaskSource] = {s.name: s for s in sources}
        self.relaunches = 0
        self._pw: "Playwright | None" = None
        self._pw_cm: Any = None
        self._browser: "Browser | None" = None
        self._browser_pid: int | None = None
        self._generation = 0
        self._launch_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(self.settings.max_concurrent_pages)
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
                await asyncio.wait_for(browser.close(), _CLOSE_TIMEOUT_S)
            except Exception:  # noqa: BLE001 - a hung browser is killed below
                pass
        self._kill_browser_process()
        if self._pw_cm is not None:
            await self._pw_cm.__aexit__(None, None, None)
            self._pw_cm = self._pw = None

    @property
    def browser_pid(self) -> int | None:
        """The main Chromium process (Linux: found by a marker switch on its command line), or None."""
        if not self._marker:
            return None
        if self._browser_pid is None or not _pid_has(self._browser_pid, self._marker):
            self._browser_pid = _find_pid(self._marker)
        return self._browser_pid

    @property
    def live_episodes(self) -> int:
        return len(self._episodes)

    # -- episodes ----------------------------------------------------------------------------------------
    async def reset(self, task: Task, seed: int = 0, *, source: TaskSource | None = None) -> Episode:
        """Starts an episode of `task` with `seed` in a fresh context; returns it with its first observation.

        A browser that dies during the reset is relaunched and the reset retried once; a second failure
        raises BrowserError, as does a page that fails to load. Other errors of the source's own setup
        propagate unchanged.
        """
        return await self._start_episode(task, seed, source, replay=None, expected_key=None)

    async def restore(self, task: Task, seed: int, actions: Sequence[Action], *, expected_key: str | None = None,
                      source: TaskSource | None = None) -> Episode:
        """Rebuilds a state by a seeded reset plus a replay of `actions`, observing only at the end.

        A page cannot be forked (probe Q5); replay reproduces MiniWoB states exactly at ~25 ms per action.
        `wait` actions are skipped, so time-driven pages (animations) need not match. With `expected_key`,
        raises RestoreMismatch (and closes the episode) when the replayed state differs.
        """
        return await self._start_episode(task, seed, source, replay=list(actions), expected_key=expected_key)

    async def _start_episode(self, task: Task, seed: int, source: TaskSource | None, replay: list[Action] | None,
                             expected_key: str | None) -> Episode:
        src = source or self.sources.get(task.source)
        if src is None:
            raise BrowserError(f"no task source {task.source!r} registered with the browser env")
        for attempt in (1, 2):
            generation = self._generation
            try:
                async with self._slots:
                    return await asyncio.wait_for(self._open(task, seed, src, replay, expected_key),
                                                  self._reset_timeout(replay))
            except RestoreMismatch:
                raise
            except Exception as e:  # noqa: BLE001
                crashed = _is_playwright_error(e) and not self._connected()
                if isinstance(e, TimeoutError):
                    crashed = not await self._healthy()
                    if crashed:
                        await self._relaunch("browser hung during a reset", generation)
                if not crashed:
                    if isinstance(e, TimeoutError):
                        raise BrowserError(f"reset of {task.id} took longer than "
                                           f"{self._reset_timeout(replay):g} s") from None
                    if _is_playwright_error(e):  # the site failed to load, say: one line for the user
                        raise BrowserError(f"reset of {task.id} failed: {_first_line(e)}") from e
                    raise
                if attempt == 2:
                    raise BrowserError(f"Chromium died twice while resetting {task.id}: {_first_line(e)}") from e
        raise AssertionError("unreachable")

    def _reset_timeout(self, replay: list[Action] | None) -> float:
        # A reset creates a context and loads a site; a replay adds one short action per step.
        return self.settings.step_timeout_s * (2 + 0.2 * len(replay or ()))

    async def _open(self, task: Task, seed: int, src: TaskSource, replay: list[Action] | None,
                    expected_key: str | None) -> Episode:
        t0 = time.perf_counter()
        browser = await self._ensure_browser()
        generation = self._generation
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
            allowed = _normalize_origins(src.allowed_origins(task))
            page = await context.new_page()
            ep = Episode(self, task, src, seed, context, page, vp, allowed, generation)
            await context.route("**/*", ep._route)
            await context.route_web_socket(lambda url: True, ep._route_ws)
            context.on("page", ep._on_page)
            page.on("request", ep._on_request)
            page.on("console", ep._on_console)
            page.on("crash", lambda _p: _on_crash(ep))
            self._episodes.add(ep)
            t1 = time.perf_counter()
            goal = await src.setup(page, task, seed)
            ep.goal = goal or task.goal or ""
            ep._last_allowed_url = page.url
            t2 = time.perf_counter()
            if replay:
                for action in replay:
                    if isinstance(action, (Terminate, Answer)):
                        raise ValueError(f"cannot replay {action.kind!r}: it ends the episode")
                    ep.actions.append(action)
                    if isinstance(action, Wait):
                        continue
                    # An action that failed the first time (an unknown key) did nothing then and does
                    # nothing now, so its error is no reason to stop the replay.
                    await ep._perform(action)
                    await ep._guard_navigation()
                ep.outcome = await src.poll(page, task)
            t3 = time.perf_counter()
            obs = await ep._observe(len(ep.actions))
            timings = {"context": _ms(t0, t1), "setup": _ms(t1, t2), "replay": _ms(t2, t3), **obs.timings,
                       "total": _ms(t0, time.perf_counter())}
            ep.observation = replace(obs, timings=timings)
            if expected_key is not None and ep.observation.state_key != expected_key:
                raise RestoreMismatch(expected_key, ep.observation.state_key)
            ep._take_blocked()  # what the reset itself triggered is not the agent's doing
            return ep
        except BaseException:
            if ep is not None:
                await ep.close()
            else:
                await _quiet(context.close())
            raise

    # -- browser -------------------------------------------------------------------------------------------
    def _connected(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

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
                raise BrowserError(f"cannot launch Chromium ({self.settings.executable}): {_first_line(e)}") from e
            self._generation += 1
            generation = self._generation
            browser.on("disconnected", lambda _b: self._on_disconnected(generation))
            self._browser = browser
            self._browser_pid = None
            return browser

    def _on_disconnected(self, generation: int) -> None:
        if generation != self._generation:
            return
        self._generation += 1  # episodes of the old browser can tell they are orphans
        self._browser = None
        for ep in list(self._episodes):
            if ep._generation == generation:
                ep._mark_aborted("browser crashed or was killed")
                ep._closed = True
                self._episodes.discard(ep)

    async def _healthy(self) -> bool:
        if not self._connected():
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
        self._kill_browser_process()
        browser, self._browser = self._browser, None
        for ep in list(self._episodes):
            if ep._generation == generation:
                ep._mark_aborted(reason)
                ep._closed = True
                self._episodes.discard(ep)
        self._generation += 1
        self.relaunches += 1
        if browser is not None:
            asyncio.ensure_future(_quiet(browser.close()))

    def _kill_browser_process(self) -> None:
        pid = _find_pid(self._marker) if self._marker else None
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    async def _on_step_timeout(self, ep: Episode) -> None:
        """A step overran: the episode is aborted; if the browser itself stopped answering, it is replaced."""
        limit = f"{self.settings.step_timeout_s:g} s"
        if ep._generation == self._generation and not await self._healthy():
            await self._relaunch(f"browser hung (a step exceeded {limit})", ep._generation)
        await ep._abort(f"step exceeded {limit}")


# ---------------------------------------------------------------------------------------------------


def _on_crash(ep: Episode) -> None:
    ep._crashed = True
    ep._mark_aborted("page renderer crashed")


def _is_playwright_error(e: BaseException) -> bool:
    from playwright.async_api import Error as PlaywrightError

    return isinstance(e, PlaywrightError)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _ms(a: float, b: float) -> float:
    return round((b - a) * 1000, 2)


async def _quiet(aw: Any) -> None:
    try:
        await asyncio.wait_for(aw, _CLOSE_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - best-effort cleanup of something already failing
        pass


def _pid_has(pid: int, marker: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return False
    return marker.encode() in args and not any(a.startswith(b"--type=") for a in args)


def _find_pid(marker: str) -> int | None:
    """The browser process is the one with our marker switch and no `--type=` (renderers, GPU, utility)."""
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    for pid in pids:
        if _pid_has(pid, marker):
            return pid
    return None
