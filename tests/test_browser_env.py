"""BrowserEnv with real Chromium: every action kind, origin confinement, crash and hang recovery, restore.

A small local site (served on loopback like MiniWoB) logs the DOM events each action causes, so the tests
check what the page received, not what we meant to send. Faults are real: the browser process is sent
SIGKILL or SIGSTOP.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from conftest import action_at

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
    TripleClick,
    Type,
    Wait,
    px_to_grid,
)
from halo_cli.core.config import BrowserSettings
from halo_cli.core.env.axtree import render_axtree, state_key
from halo_cli.core.env.browser import BrowserEnv, BrowserError, RestoreMismatch, screenshot_digest
from halo_cli.core.env.episode import Episode, StepResult
from halo_cli.core.env.execute import playwright_key
from halo_cli.core.env.miniwob import MiniWoBSource, StaticServer
from halo_cli.core.env.tasks import Outcome, Task

T = TypeVar("T")

ACTIONS_HTML = """<!doctype html>
<html><head><title>Actions</title><style>
  body { margin: 0; width: 3000px; height: 3000px; font: 16px sans-serif; }
  .abs { position: absolute; }
  #drag { left: 600px; top: 300px; width: 300px; height: 120px; background: #ddd; }
</style></head><body>
<input id="inp" class="abs" style="left:20px; top:20px; width:300px; height:30px">
<button id="btn" class="abs" style="left:20px; top:80px; width:200px; height:40px">Press</button>
<p id="para" class="abs" style="left:20px; top:140px; margin:0">alpha beta gamma</p>
<div id="drag" class="abs">drag here</div>
<a id="ext" class="abs" style="left:20px; top:200px" href="http://example.com/">external</a>
<a id="other" class="abs" style="left:20px; top:240px" href="#">other port</a>
<a id="file" class="abs" style="left:20px; top:280px" href="file:///etc/passwd">local file</a>
<button id="net" class="abs" style="left:20px; top:320px">network</button>
<button id="pop" class="abs" style="left:20px; top:360px">popup</button>
<a id="same" class="abs" style="left:20px; top:400px" href="actions.html?next">same site</a>
<button id="spin" class="abs" style="left:20px; top:440px" onclick="while (true) {}">spin</button>
<script>
  window.LOG = [];
  const btn = document.getElementById('btn');
  for (const t of ['click', 'dblclick', 'contextmenu', 'auxclick', 'mouseover'])
    btn.addEventListener(t, e => { LOG.push(t + ':' + e.button + ':' + e.detail); if (t !== 'mouseover') e.preventDefault(); });
  window.DRAG = {down: null, up: null, moves: 0};
  const drag = document.getElementById('drag');
  drag.addEventListener('mousedown', e => { DRAG.down = [e.clientX, e.clientY]; });
  document.addEventListener('mousemove', e => { if (e.buttons & 1) DRAG.moves++; });
  document.addEventListener('mouseup', e => { if (DRAG.down) DRAG.up = [e.clientX, e.clientY]; });
  document.getElementById('net').addEventListener('click', () => {
    fetch(window.OTHER + '/data.json').catch(() => { window.FETCH_FAILED = true; });
    const ws = new WebSocket(window.OTHER.replace('http', 'ws') + '/socket');
    ws.onerror = ws.onclose = () => { window.WS_CLOSED = true; };
  });
  document.getElementById('pop').addEventListener('click', () => { window.open('/actions.html?popup'); });
</script>
</body></html>
"""


class PagesSource:
    """A TaskSource over a folder of static pages; graded on the agent's answer ("42" is right)."""

    name = "pages"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.server = StaticServer(root)
        self.task = Task(id="pages.actions", source=self.name, site="pages", goal="exercise every action",
                         meta={"path": "actions.html"})

    def list_tasks(self) -> list[Task]:
        return [self.task]

    def start_url(self, task: Task) -> str:
        return f"{self.server.origin}/{task.meta['path']}"

    def allowed_origins(self, task: Task) -> frozenset[str]:
        return frozenset({self.server.origin})

    async def setup(self, page: Any, task: Task, seed: int) -> str:
        await page.goto(self.start_url(task))
        return str(task.goal)

    async def poll(self, page: Any, task: Task) -> Outcome | None:
        return None

    async def grade(self, page: Any, task: Task, answer: str | None) -> Outcome:
        ok = answer == "42"
        return Outcome(reward=float(ok), success=ok, status="success" if ok else "failure", details={"answer": answer})


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PagesSource]:
    root = tmp_path_factory.mktemp("site")
    (root / "actions.html").write_text(ACTIONS_HTML)
    src = PagesSource(root)
    yield src
    src.server.close()


@pytest.fixture(scope="module")
def other_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second loopback server: same host, another port, so another origin the agent must not reach."""
    root = tmp_path_factory.mktemp("other")
    (root / "data.json").write_text("{}")
    server = StaticServer(root)
    yield server.origin
    server.close()


@pytest.fixture(scope="module")
def miniwob() -> Iterator[MiniWoBSource]:
    with MiniWoBSource() as src:
        yield src


@pytest.fixture(scope="module")
def env(loop: asyncio.AbstractEventLoop, pages: PagesSource, miniwob: MiniWoBSource) -> Iterator[BrowserEnv]:
    env = BrowserEnv(BrowserSettings(), sources=[pages, miniwob])
    loop.run_until_complete(env.start())
    yield env
    loop.run_until_complete(env.close())


def act(ep: Episode, cls: type[Action], **kw: Any) -> Action:
    assert ep.observation is not None
    return cls(width=ep.observation.width, height=ep.observation.height, **kw)


async def ok(ep: Episode, action: Action) -> StepResult:
    r = await ep.step(action)
    assert r.error is None and not r.done and r.observation is not None, r
    return r


# --- pure helpers -------------------------------------------------------------------------------------


def test_key_names_map_to_playwright() -> None:
    assert [playwright_key(k) for k in ("ctrl", "a", "Return", "esc", "pagedown", "cmd", "F5", "space", "up")] == \
        ["Control", "a", "Enter", "Escape", "PageDown", "Meta", "F5", "Space", "ArrowUp"]
    with pytest.raises(ValueError, match="unknown key"):
        playwright_key("hyperdrive")


def test_axtree_rendering_and_visible_only_filter() -> None:
    snap = "\n".join([
        "- main [box=0,0,800,3000]:",
        '  - heading "Top" [level=1] [box=10,10,200,30]',
        "  - paragraph [box=10,50,400,20]: seen text",
        "  - list [box=10,1000,300,200]:",
        '    - listitem [box=10,1000,300,20]: far away',
        '  - link "Home" [box=10,90,40,16]:',
        '    - /url: "#"',
        "  - combobox [box=10,120,150,19]:",
        '    - option "A" [selected] [box=0,0,0,0]',
    ])
    full = render_axtree(snap)
    assert full.splitlines() == ["main", '  heading "Top" [level=1]', "  paragraph: seen text", "  list",
                                 "    listitem: far away", '  link "Home"', "  combobox", '    option "A" [selected]']
    visible = render_axtree(snap, (800, 600))
    assert "far away" not in visible and "list" not in visible.split()
    assert 'option "A" [selected]' in visible and 'link "Home"' in visible
    assert state_key("http://x/", full) != state_key("http://x/", visible)
    assert state_key("http://x/", full) == state_key("http://x/", full)


# --- actions ------------------------------------------------------------------------------------------


def test_every_action_kind_executes(env: BrowserEnv, pages: PagesSource, run: Any) -> None:
    async def scenario() -> None:
        ep = await env.reset(pages.task, seed=0)
        page = ep.page
        try:
            obs = ep.observation
            assert obs is not None and (obs.width, obs.height) == (1280, 720)
            assert obs.title == "Actions" and obs.goal == "exercise every action"
            assert 'button "Press"' in obs.axtree and obs.url.endswith("/actions.html")

            # typing, key combos, key names the model writes
            await ok(ep, await action_at(ep, "#inp"))
            r = await ok(ep, act(ep, Type, text="hello world"))
            assert await page.input_value("#inp") == "hello world"
            assert "hello world" in r.observation.axtree  # type: ignore[union-attr]
            await ok(ep, act(ep, Key, keys=("ctrl", "a")))
            await ok(ep, act(ep, Type, text="X"))
            assert await page.input_value("#inp") == "X"
            await ok(ep, act(ep, Key, keys=("BackSpace",)))
            assert await page.input_value("#inp") == ""
            bad = await ep.step(act(ep, Key, keys=("hyperdrive",)))
            assert bad.error and "unknown key" in bad.error and not bad.done

            # every pointer kind, as the page sees it
            await ok(ep, await action_at(ep, "#btn", MouseMove))
            await ok(ep, await action_at(ep, "#btn", LeftClick))
            await ok(ep, await action_at(ep, "#btn", DoubleClick))
            await ok(ep, await action_at(ep, "#btn", RightClick))
            await ok(ep, await action_at(ep, "#btn", MiddleClick))
            log = await page.evaluate("LOG")
            assert log[0] == "mouseover:0:0"
            assert "click:0:1" in log and "dblclick:0:2" in log
            assert "contextmenu:2:0" in log or "contextmenu:2:1" in log
            assert "auxclick:1:1" in log
            await ok(ep, await action_at(ep, "#para", TripleClick))
            assert (await page.evaluate("getSelection().toString()")).strip() == "alpha beta gamma"

            # drag: from the centre of #drag, 150 px right and 40 px down
            box = await page.locator("#drag").bounding_box()
            assert box is not None
            sx, sy = box["x"] + 60, box["y"] + 40
            await ok(ep, act(ep, LeftClickDrag, x=px_to_grid(sx + 150, 1280), y=px_to_grid(sy + 40, 720),
                             start=(px_to_grid(sx, 1280), px_to_grid(sy, 720))))
            drag = await page.evaluate("DRAG")
            assert drag["down"] and drag["up"] and drag["moves"] >= 2
            assert abs((drag["up"][0] - drag["down"][0]) - 150) <= 3 and abs((drag["up"][1] - drag["down"][1]) - 40) <= 3

            # scroll: negative pixels scroll down, positive up (Qwen's convention); hscroll positive = right
            await ok(ep, act(ep, Scroll, pixels=-400))
            down = await page.evaluate("scrollY")
            assert down > 0
            await ok(ep, act(ep, Scroll, pixels=150))
            assert 0 <= await page.evaluate("scrollY") < down
            await ok(ep, act(ep, HScroll, pixels=300))
            assert await page.evaluate("scrollX") > 0

            r = await ok(ep, act(ep, Wait, time=0.05))
            assert r.timings["total"] > 0 and set(r.timings) >= {"action", "screenshot", "axtree", "total"}

            # visible-only AX tree: what the viewport shows after scrolling 300 px down
            await page.evaluate("scrollTo(0, 300)")
            env.axtree = "visible"
            try:
                r = await ok(ep, act(ep, Wait, time=0))
            finally:
                env.axtree = "full"
            assert r.observation is not None
            assert 'button "spin"' in r.observation.axtree and 'button "Press"' not in r.observation.axtree

            final = await ep.step(act(ep, Answer, text="42"))
            assert final.done and final.outcome is not None and final.outcome.success
            assert final.outcome.details["answer"] == "42"
            assert len(ep.actions) == ep.steps == 19
        finally:
            await ep.close()

    run(scenario())


# --- confinement --------------------------------------------------------------------------------------


def test_off_origin_requests_are_blocked_and_counted(env: BrowserEnv, pages: PagesSource, other_origin: str,
                                                     run: Any) -> None:
    async def scenario() -> None:
        ep = await env.reset(pages.task, seed=0)
        page = ep.page
        try:
            start_url = page.url
            await ok(ep, await action_at(ep, "#btn"))  # page state that a navigation would wipe out

            r = await ok(ep, await action_at(ep, "#ext"))
            assert [(b.kind, b.url) for b in r.blocked_requests] == [("navigation", "http://example.com/")]
            assert page.url == start_url and await page.evaluate("LOG.length") > 0

            await page.evaluate("(o) => { document.getElementById('other').href = o + '/data.json'; window.OTHER = o; }",
                                other_origin)
            r = await ok(ep, await action_at(ep, "#other"))
            assert [(b.kind, b.url) for b in r.blocked_requests] == [("navigation", other_origin + "/data.json")]
            assert r.observation is not None and r.observation.url == start_url

            await ok(ep, await action_at(ep, "#file"))
            await page.wait_for_function("() => true")
            await ok(ep, await action_at(ep, "#net"))
            await page.wait_for_function("() => window.FETCH_FAILED && window.WS_CLOSED")
            async with page.context.expect_page() as opened:
                await ok(ep, await action_at(ep, "#pop"))
            popup = await opened.value
            if not popup.is_closed():  # the env closes it as soon as it opens
                await popup.wait_for_event("close")
            assert page.context.pages == [page]
            kinds = {(b.kind, b.url.split("?")[0]) for b in ep.blocked_requests}
            assert ("navigation", "file:///etc/passwd") in kinds
            assert ("request", other_origin + "/data.json") in kinds
            assert ("websocket", other_origin.replace("http", "ws") + "/socket") in kinds
            assert any(kind == "popup" for kind, _ in kinds)
            assert page.url == start_url

            r = await ok(ep, await action_at(ep, "#same"))  # the allowed origin stays reachable
            assert r.observation is not None and r.observation.url == start_url + "?next"
            assert r.blocked_requests == () and 'link "same site"' in r.observation.axtree
        finally:
            await ep.close()

    run(scenario())


# --- faults -------------------------------------------------------------------------------------------


def test_killed_chromium_aborts_its_episodes_and_the_next_one_runs(pages: PagesSource, run: Any) -> None:
    async def scenario() -> None:
        async with BrowserEnv(BrowserSettings(), sources=[pages]) as env:
            busy = await env.reset(pages.task, seed=0)
            idle = await env.reset(pages.task, seed=0)
            await ok(busy, await action_at(busy, "#inp"))
            pid = env.browser_pid
            assert pid is not None

            async def kill_while_typing() -> None:
                await busy.page.wait_for_function("() => document.getElementById('inp').value.length > 3")
                os.kill(pid, signal.SIGKILL)

            result, _ = await asyncio.gather(busy.step(act(busy, Type, text="x" * 1000)), kill_while_typing())
            assert result.done and result.observation is None
            assert result.outcome is not None and result.outcome.status == "aborted"
            assert "browser" in result.outcome.details["reason"]
            later = await idle.step(act(idle, Wait, time=0))  # the other episode of that browser ended too
            assert later.done and later.outcome is not None and later.outcome.status == "aborted"

            fresh = await env.reset(pages.task, seed=0)
            assert env.browser_pid not in (None, pid)
            r = await ok(fresh, await action_at(fresh, "#btn"))
            assert r.observation is not None and await fresh.page.evaluate("LOG.length") > 0
            await fresh.close()

    run(scenario())


def test_hung_page_is_dropped_and_hung_chromium_replaced(pages: PagesSource, run: Any) -> None:
    async def scenario() -> None:
        settings = BrowserSettings()
        async with BrowserEnv(settings, sources=[pages]) as env:
            # A page stuck in a JS loop costs its own episode only; the browser stays. The step limit is
            # short only while something hangs, so that a loaded machine cannot time out the healthy steps.
            spinning, bystander = await asyncio.gather(env.reset(pages.task), env.reset(pages.task))
            spin = await action_at(spinning, "#spin")
            settings.step_timeout_s = 2.0
            r = await spinning.step(spin)
            settings.step_timeout_s = 15.0
            assert r.done and r.outcome is not None and r.outcome.status == "aborted"
            assert "step exceeded" in r.outcome.details["reason"] and env.hangs == 0
            await ok(bystander, await action_at(bystander, "#btn"))
            await bystander.close()

            # A browser that stops answering is killed and replaced.
            ep = await env.reset(pages.task, seed=0)
            pid = env.browser_pid
            assert pid is not None
            click = await action_at(ep, "#btn")
            os.kill(pid, signal.SIGSTOP)  # a real hang: the process is alive and answers nothing
            settings.step_timeout_s = 2.0
            try:
                r = await ep.step(click)
            finally:
                settings.step_timeout_s = 15.0
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            assert r.done and r.outcome is not None and r.outcome.status == "aborted"
            assert "hung" in r.outcome.details["reason"] and env.hangs == 1 and env.crashes == 0
            fresh = await env.reset(pages.task, seed=0)
            assert env.browser_pid not in (None, pid) and env.relaunches == 1
            await ok(fresh, await action_at(fresh, "#btn"))
            await fresh.close()

    run(scenario())


class GatedSource(PagesSource):
    """Resets that stay in the site's setup until the test opens the gate, polling the page meanwhile (a Playwright
    call, which fails as soon as the browser dies), so that each kill lands inside every pending reset."""

    name = "gated"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.task = Task(id="gated.actions", source=self.name, site="gated", goal="wait at the gate",
                         meta={"path": "actions.html"})
        self.inside = 0  # resets now in setup
        self.open = False

    async def setup(self, page: Any, task: Task, seed: int) -> str:
        await page.goto(self.start_url(task))
        self.inside += 1
        try:
            while not self.open:
                await page.evaluate("() => new Promise(r => setTimeout(r, 50))")
        finally:
            self.inside -= 1
        return str(task.goal)


async def until(condition: Any, what: str) -> None:
    """Polls `condition` (a guard against a hung test, not a timing assertion)."""
    for _ in range(1200):
        if condition():
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"never: {what}")


async def kill_inside(env: BrowserEnv, gated: GatedSource, resets: int, killed: list[int]) -> None:
    """SIGKILL the browser once `resets` resets are inside the site's setup on a browser not killed yet."""
    await until(lambda: gated.inside == resets and env.browser_pid not in (None, *killed),
                f"{resets} resets inside setup on a new browser")
    pid = env.browser_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    killed.append(pid)


def test_a_burst_of_chromium_kills_during_resets_is_survived_and_counted(pages: PagesSource, run: Any) -> None:
    """Three kills in a row, each while three resets are loading: every reset is retried on a new browser and
    succeeds, none is blamed on the site; past `reset_attempts` kills a reset fails with one line."""
    gated = GatedSource(pages.root)

    async def scenario() -> None:
        settings = BrowserSettings(reset_attempts=4)
        async with BrowserEnv(settings, sources=[gated]) as env:
            resets = [asyncio.ensure_future(env.reset(gated.task, seed=i)) for i in range(3)]
            killed: list[int] = []
            try:
                for _ in range(3):
                    await kill_inside(env, gated, 3, killed)
                await until(lambda: gated.inside == 3 and env.browser_pid not in (None, *killed), "a fourth try")
                gated.open = True
                episodes = await asyncio.gather(*resets)
            finally:
                gated.open = True
                await asyncio.gather(*resets, return_exceptions=True)
            assert all(ep.observation is not None and not ep.done for ep in episodes)
            assert (env.crashes, env.relaunches, env.reset_retries, env.hangs) == (3, 3, 9, 0)
            await ok(episodes[0], await action_at(episodes[0], "#btn"))  # the browser they ended on works
            for ep in episodes:
                await ep.close()

            # Past the bound, one line that names the reset and the cause.
            settings.reset_attempts = 2
            gated.open = False
            doomed = asyncio.ensure_future(env.reset(gated.task, seed=9))
            try:
                for _ in range(2):
                    await kill_inside(env, gated, 1, killed)
                with pytest.raises(BrowserError, match="died or hung 2 times while resetting gated.actions") as err:
                    await doomed
                assert "\n" not in str(err.value)
            finally:
                gated.open = True
                await asyncio.gather(doomed, return_exceptions=True)
            assert (env.crashes, env.reset_retries) == (5, 10)

    try:
        run(scenario())
    finally:
        gated.server.close()


# --- restore ------------------------------------------------------------------------------------------


def test_restore_reproduces_a_ten_action_state(env: BrowserEnv, miniwob: MiniWoBSource, run: Any) -> None:
    task = miniwob.task("click-checkboxes-large")
    checked_js = "() => [...document.querySelectorAll('input[type=checkbox]')].map(e => e.checked)"

    async def scenario() -> None:
        ep = await env.reset(task, seed=7)
        try:
            n = await ep.page.locator("input[type=checkbox]").count()
            rng = random.Random(0)
            for i in range(8):
                await ok(ep, await action_at(ep, f"#ch{rng.randrange(n)}"))
            await ok(ep, act(ep, Key, keys=("Tab",)))  # focus moves on from the last box clicked ...
            await ok(ep, act(ep, Key, keys=("space",)))  # ... and space toggles the one it lands on
            assert len(ep.actions) == 10
            want_key = ep.state_key()
            want_checked = await ep.page.evaluate(checked_js)
            assert any(want_checked)

            shot = screenshot_digest(ep.observation.screenshot)  # type: ignore[union-attr]
            again = await env.restore(task, 7, ep.actions, expected_key=want_key, expected_screenshot=shot)
            try:
                assert again.state_key() == want_key and again.actions == ep.actions
                assert await again.page.evaluate(checked_js) == want_checked
                assert again.observation is not None and again.observation.timings["replay"] > 0
                await ok(again, await action_at(again, "#ch0"))  # a restored episode goes on like any other
            finally:
                await again.close()
            with pytest.raises(RestoreMismatch):
                await env.restore(task, 8, ep.actions, expected_key=want_key)  # another seed, another state
            assert env.live_episodes == 1
        finally:
            await ep.close()

    run(scenario())


CLOCK_HTML = """<!doctype html><html><body><p id="now"></p><script>
  const t0 = Date.now();
  document.getElementById('now').textContent = new Date().toString() + ' | ' +
    Intl.DateTimeFormat().resolvedOptions().timeZone;
  setTimeout(() => { window.TIMER_RAN = Date.now() - t0; }, 50);
</script></body></html>"""


def test_fixed_clock_and_time_zone_make_dated_pages_identical(pages: PagesSource, run: Any) -> None:
    """Under `browser.clock` + `browser.timezone` a page showing "now" renders the same pixels on every reset,
    and its timers still run."""
    (pages.root / "clock.html").write_text(CLOCK_HTML)
    task = Task(id="pages.clock", source=pages.name, site="pages", goal="read the clock", meta={"path": "clock.html"})
    settings = BrowserSettings(timezone="America/Los_Angeles", clock="2024-07-18T09:00:00-07:00")

    async def scenario() -> tuple[str, bytes, bytes, Any]:
        async with BrowserEnv(settings, sources=[pages]) as env:
            first = await env.reset(task)
            await asyncio.sleep(1.1)  # a real second passes between the two resets
            second = await env.reset(task)
            text = await second.page.inner_text("#now")
            await second.page.wait_for_function("() => window.TIMER_RAN !== undefined")
            timer = await second.page.evaluate("window.TIMER_RAN")
            shots = (first.observation.screenshot, second.observation.screenshot)  # type: ignore[union-attr]
            return text, shots[0], shots[1], timer

    text, a, b, timer = run(scenario())
    assert text.startswith("Thu Jul 18 2024 09:00:00 GMT-0700") and text.endswith("America/Los_Angeles"), text
    assert a == b
    assert timer == 0  # the clock stands still while setTimeout fires


def test_clock_and_timezone_settings_are_checked() -> None:
    from halo_cli.core.config import load_settings
    from halo_cli.core.errors import ConfigError

    with pytest.raises(ConfigError, match="browser.clock: needs a UTC offset"):
        load_settings(overrides={"browser": {"clock": "2024-07-18T09:00:00"}})
    with pytest.raises(ConfigError, match="browser.timezone: unknown IANA time zone"):
        load_settings(overrides={"browser": {"timezone": "Mars/Olympus"}})
    local = load_settings(profile="local").browser
    assert (local.clock, local.timezone) == ("2024-07-18T09:00:00-07:00", "America/Los_Angeles")


COLOR_HTML = """<!doctype html><html><body><button>Same tree</button><script>
  document.body.style.background = `hsl(${Math.floor(Math.random() * 360)}, 80%, 60%)`;
</script></body></html>"""


def test_restore_checks_the_screenshot_as_well_as_the_state_key(pages: PagesSource, env: BrowserEnv,
                                                                run: Any) -> None:
    """Two loads of a page whose AX tree is the same but whose pixels are not (a random colour): the state key
    alone would call them the same state; with the screenshot digest the restore is refused."""
    (pages.root / "color.html").write_text(COLOR_HTML)
    task = Task(id="pages.color", source=pages.name, site="pages", goal="look", meta={"path": "color.html"})

    async def scenario() -> None:
        first = await env.reset(task)
        assert first.observation is not None
        key, shot = first.observation.state_key, screenshot_digest(first.observation.screenshot)
        await first.close()
        again = await env.restore(task, 0, [], expected_key=key)  # the AX tree matches ...
        await again.close()
        with pytest.raises(RestoreMismatch, match="screenshot"):  # ... the pixels do not
            await env.restore(task, 0, [], expected_key=key, expected_screenshot=shot)
        assert env.live_episodes == 0

    run(scenario())
