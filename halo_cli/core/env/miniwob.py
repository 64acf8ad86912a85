"""MiniWoB++ tasks, offline, from the HTML the `miniwob` wheel ships.

The pages are served over loopback HTTP (not `file://`) so the browser's origin confinement treats them
like any site: one allowed origin, everything else blocked. Each episode is started by the page's own JS
(`Math.seedrandom(seed); core.startEpisodeReal()`), so the same seed gives the same problem, and its
reward is read back from the page's globals (`WOB_DONE_GLOBAL`, `WOB_RAW_REWARD_GLOBAL`, ...).

Reward choice: MiniWoB's raw reward is in [-1, 1] (partial credit on a few tasks, e.g. click-checkboxes
gives (right - wrong) / n) and its shaped reward also decays with time. We report `success = raw > 0` and
`reward = 1.0 if success else 0.0`, the convention of BrowserGym and of published MiniWoB success rates,
so results compare; the raw and time-decayed values stay in `Outcome.details`. Time decay is left out of
the reward on purpose: a policy served by a CPU model takes seconds per step, which says nothing about
the quality of its actions.
"""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from halo_cli.core.env.tasks import Outcome, Task, Viewport
from halo_cli.core.errors import NotFoundError

if TYPE_CHECKING:
    from playwright.async_api import Page

# MiniWoB draws every task in a fixed 160x210 area (#wrap); scale 3 gives a crisp 480x630 screenshot.
TASK_VIEWPORT = Viewport(width=160, height=210, scale=3.0)
# setTimeout overflows above 2**31-1 ms; a day is far beyond any episode and keeps MiniWoB's own
# "timed out" ending from racing a slow (CPU-served) policy.
DEFAULT_EPISODE_MAX_TIME_MS = 86_400_000
# The reward HUD and click visualiser sit right of the task area; hidden so that neither the screenshot,
# the AX tree nor a horizontal scroll shows the agent its reward or a ticking countdown (which would also
# make the state key change every second).
_HIDE_HUD_CSS = "#reward-display, #click-canvas { display: none !important; }"

_START_JS = """([seed, maxTime]) => {
    Math.seedrandom(seed);
    core.EPISODE_MAX_TIME = maxTime;
    core.startEpisodeReal();
}"""

_POLL_JS = """() => ({
    done: !!WOB_DONE_GLOBAL,
    reward: Number(WOB_REWARD_GLOBAL),
    raw: Number(WOB_RAW_REWARD_GLOBAL),
    reason: WOB_REWARD_REASON === null || WOB_REWARD_REASON === undefined ? null : String(WOB_REWARD_REASON),
})"""


def miniwob_html_dir() -> Path:
    """The wheel's `html/` folder (holds `miniwob/`, `core/`, `common/`: task pages load `../core/core.js`)."""
    return Path(str(files("miniwob") / "html"))


class _QuietHandler(SimpleHTTPRequestHandler):
    # Keep-alive: a reset loads ~6 files; one connection is cheaper than six on 2 cores.
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def end_headers(self) -> None:
        # The files never change while we run; let each context's cache keep them within an episode.
        self.send_header("Cache-Control", "max-age=3600")
        super().end_headers()


class StaticServer:
    """A threaded static HTTP server on 127.0.0.1 with a free port, for offline task pages."""

    def __init__(self, directory: Path, host: str = "127.0.0.1") -> None:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self._httpd = ThreadingHTTPServer((host, 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="halo-static-http", daemon=True)
        self._thread.start()

    @property
    def origin(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class MiniWoBSource:
    """Every MiniWoB++ task of the wheel (`miniwob.<name>`, site `miniwob`), graded by the page's own JS."""

    name = "miniwob"

    def __init__(self, html_dir: Path | None = None, *,
                 episode_max_time_ms: int = DEFAULT_EPISODE_MAX_TIME_MS,
                 viewport: Viewport = TASK_VIEWPORT) -> None:
        self._html_dir = html_dir or miniwob_html_dir()
        if not (self._html_dir / "miniwob").is_dir():
            raise NotFoundError(f"MiniWoB HTML not found under {self._html_dir} (is the miniwob wheel installed?)")
        self._max_time = int(episode_max_time_ms)
        self._viewport = viewport
        self._server: StaticServer | None = None
        self._lock = threading.Lock()
        self._tasks = [
            Task(id=f"miniwob.{p.stem}", source=self.name, site="miniwob", goal=None, meta={"name": p.stem})
            for p in sorted((self._html_dir / "miniwob").glob("*.html"))
        ]

    # -- serving ---------------------------------------------------------------------------------------
    @property
    def origin(self) -> str:
        """The loopback origin serving the pages; starts the server on first use."""
        with self._lock:
            if self._server is None:
                self._server = StaticServer(self._html_dir)
            return self._server.origin

    def close(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.close()
                self._server = None

    def __enter__(self) -> "MiniWoBSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- TaskSource ------------------------------------------------------------------------------------
    def list_tasks(self) -> list[Task]:
        return list(self._tasks)

    def task(self, name: str) -> Task:
        """A task by short name (`click-test-2`) or id (`miniwob.click-test-2`)."""
        tid = name if name.startswith("miniwob.") else f"miniwob.{name}"
        for t in self._tasks:
            if t.id == tid:
                return t
        raise NotFoundError(f"no MiniWoB task {name!r}")

    def start_url(self, task: Task) -> str:
        return f"{self.origin}/miniwob/{_name(task)}.html"

    def allowed_origins(self, task: Task) -> frozenset[str]:
        return frozenset({self.origin})

    def viewport(self, task: Task) -> Viewport:
        return self._viewport

    async def setup(self, page: "Page", task: Task, seed: int) -> str:
        # A fresh load (not just startEpisodeReal on the old page) so no state of a previous episode leaks.
        await page.goto(self.start_url(task), wait_until="load")
        await page.add_style_tag(content=_HIDE_HUD_CSS)
        await page.evaluate(_START_JS, [int(seed), self._max_time])
        await page.wait_for_function("() => WOB_TASK_READY !== false")
        return str(await page.evaluate("() => core.getUtterance()"))

    async def poll(self, page: "Page", task: Task) -> Outcome | None:
        state = await page.evaluate(_POLL_JS)
        if not state["done"]:
            return None
        return _outcome(state)

    async def grade(self, page: "Page", task: Task, answer: str | None) -> Outcome:
        state = await page.evaluate(_POLL_JS)
        if state["done"]:
            return _outcome(state)
        # The agent stopped before the page judged anything: a failure, not a crash.
        return Outcome(reward=0.0, success=False, status="failure",
                       details={"reason": "the agent ended the episode before the task was completed",
                                "answer": answer})


def _name(task: Task) -> str:
    return str(task.meta.get("name") or task.id.removeprefix("miniwob."))


def _outcome(state: dict[str, Any]) -> Outcome:
    success = state["raw"] > 0
    return Outcome(reward=1.0 if success else 0.0, success=success, status="success" if success else "failure",
                   details={"raw_reward": state["raw"], "time_reward": state["reward"], "reason": state["reason"]})
