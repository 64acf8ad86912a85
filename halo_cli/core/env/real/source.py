"""RealSource: the REAL tasks as a `TaskSource` for BrowserEnv: reset through `/config`, grading of `/finish`.

agisdk's gym env is not used: it starts two Chromium processes per reset and sleeps on every step, while
`BrowserEnv` drives one page per episode. What is taken over from it is its reset sequence
(`/config?run_id=&task_id=&latency=0`, `/finish`, start page) and its `/finish` grading. Nothing here ever
submits to the leaderboard: the run id sent to `/config` is always "0" (agisdk's `RUNID` variable is never read),
and neither `/submit` nor the remote evaluate service is called.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from halo_cli.core.env.confine import origin_of
from halo_cli.core.env.real.catalog import REAL_VERSIONS, SOURCE_NAME, load_tasks
from halo_cli.core.env.real.grading import (
    FinishStateError,
    grade_state,
    parse_finish_text,
)
from halo_cli.core.env.real.judge import Judge, judge_from_settings
from halo_cli.core.env.real.sites import SiteMap, normalize_base_url, parse_sites
from halo_cli.core.env.tasks import Outcome, SiteError, Task
from halo_cli.core.errors import HaloError, NotFoundError

if TYPE_CHECKING:
    from playwright.async_api import Page, Response

    from halo_cli.core.config import Settings

log = logging.getLogger(__name__)

# Run id sent to /config: "0" is agisdk's "not a leaderboard run" (any other id makes agisdk submit results).
RUN_ID = "0"


class SiteUnreachableError(SiteError):
    """A REAL site did not answer a reset (`/config` or the start page): offline, wrong URL, taken down."""


# Finds the first <pre> whose text is a JSON object. Polled, because the sites render /finish client-side.
_FIND_FINISH_JSON = """() => {
  for (const pre of document.querySelectorAll('pre')) {
    const text = pre.textContent;
    try { const v = JSON.parse(text); if (v && typeof v === 'object' && !Array.isArray(v)) return text; }
    catch (e) {}
  }
  return null;
}"""
_FINISH_DIAGNOSIS = """() => {
  const pres = Array.from(document.querySelectorAll('pre'));
  return {count: pres.length, first: pres.length ? pres[0].textContent : null,
          body: document.body ? document.body.innerText.slice(0, 200) : ''};
}"""


class RealSource:
    """The REAL tasks of agisdk, served hosted, locally, or from explicit URLs (see `parse_sites`).

    `local_sites` maps `site` or `version.site` to the base URL of a running local REAL-compatible site; it is
    what `sites=local` resolves against. `seed` is accepted for the interface but unused: the REAL sites start
    from the same state on every reset.
    """

    name = SOURCE_NAME

    def __init__(self, sites: str | SiteMap = "hosted", *, local_sites: Mapping[str, str] | None = None,
                 judge: Judge | None = None, versions: Iterable[str] = REAL_VERSIONS,
                 timeout_s: float = 30.0) -> None:
        self.sites = sites if isinstance(sites, SiteMap) else parse_sites(sites)
        self.local_sites = {k: normalize_base_url(v, f"local site {k}") for k, v in (local_sites or {}).items()}
        self.judge = judge
        self.versions = tuple(versions)
        self.timeout_s = timeout_s
        self._tasks = load_tasks(self.versions)
        self._by_id = {t.id: t for t in self._tasks}

    @classmethod
    def from_settings(cls, settings: "Settings", *, local_sites: Mapping[str, str] | None = None) -> "RealSource":
        # Each navigation, and the wait for /finish's <pre>, gets at most one step's budget: BrowserEnv
        # bounds steps and grades by that budget too, so a longer wait here would only be cut off.
        return cls(settings.env.sites, local_sites=local_sites, judge=judge_from_settings(settings),
                   timeout_s=settings.browser.step_timeout_s)

    def __repr__(self) -> str:
        return f"RealSource(sites={str(self.sites)!r}, judge={self.judge!r})"

    # -- tasks and URLs ------------------------------------------------------------------------------------

    def list_tasks(self) -> list[Task]:
        return list(self._tasks)

    def get(self, task_id: str) -> Task:
        try:
            return self._by_id[task_id]
        except KeyError:
            raise NotFoundError(f"no REAL task {task_id!r} (ids look like v2.gomail-1)") from None

    def base_url(self, task: Task) -> str:
        """The site root for `task` without a trailing slash; a HaloError when the site map has none."""
        version = str(task.meta.get("version"))
        for key in (f"{version}.{task.site}", task.site):
            if key in self.sites.overrides:
                return self.sites.overrides[key]
        if self.sites.mode == "hosted":
            return normalize_base_url(str(task.meta["url"]), f"task {task.id} url")
        for key in (f"{version}.{task.site}", task.site):
            if key in self.local_sites:
                return self.local_sites[key]
        served = ", ".join(sorted(self.local_sites)) or "none"
        raise HaloError(f"no local site serves {task.site} (task {task.id}; local sites: {served}): "
                        f"set sites to hosted or give {task.site}=URL")

    def served_locally(self, task: Task) -> bool:
        """Whether `task`'s site URL comes from the local sites (sites=local and no override names its site)."""
        version = str(task.meta.get("version"))
        return (task.source == SOURCE_NAME and self.sites.mode == "local"
                and not any(k in self.sites.overrides for k in (f"{version}.{task.site}", task.site)))

    def check_tasks(self, tasks: Iterable[Task]) -> None:
        """Fails early, naming every site without a URL, instead of at the first reset of a long run."""
        missing = sorted({t.site for t in tasks if t.source == SOURCE_NAME and not self._has_url(t)})
        if missing:
            raise HaloError(f"no URL for REAL site(s) {', '.join(missing)} with sites={self.sites}: "
                            "set sites to hosted or give site=URL for each")

    def _has_url(self, task: Task) -> bool:
        try:
            self.base_url(task)
        except HaloError:
            return False
        return True

    def start_url(self, task: Task) -> str:
        return self.base_url(task) + "/"

    def config_url(self, task: Task) -> str:
        return f"{self.base_url(task)}/config?run_id={RUN_ID}&task_id={task.id}&latency=0"

    def finish_url(self, task: Task) -> str:
        return self.base_url(task) + "/finish"

    def allowed_origins(self, task: Task) -> frozenset[str]:
        return frozenset({origin_of(self.base_url(task))})

    # -- episode -------------------------------------------------------------------------------------------

    async def _goto(self, page: "Page", url: str, task: Task, what: str) -> "Response | None":
        from playwright.async_api import Error as PlaywrightError

        try:
            response = await page.goto(url, wait_until="load", timeout=self.timeout_s * 1000)
        except PlaywrightError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise SiteUnreachableError(f"{task.site} {what} at {url} failed: {first}") from None
        if response is not None and response.status >= 400:
            raise SiteUnreachableError(f"{task.site} {what} at {url} answered HTTP {response.status} "
                                       f"{response.status_text}".rstrip())
        return response

    async def _settle(self, page: "Page") -> None:
        # agisdk waits for network idle after /config so the app has stored its config; a site that keeps
        # polling never idles, and its config is stored by then anyway, so a timeout here is not an error.
        from playwright.async_api import TimeoutError as PlaywrightTimeoutError

        try:
            await page.wait_for_load_state("networkidle", timeout=min(self.timeout_s, 10.0) * 1000)
        except PlaywrightTimeoutError:
            log.debug("no network idle on %s", page.url)

    async def setup(self, page: "Page", task: Task, seed: int) -> str:
        """agisdk's reset on one page: `/config` (run id 0, canonical task id), `/finish`, then the start page."""
        await self._goto(page, self.config_url(task), task, "reset (/config)")
        await self._settle(page)
        # agisdk opens /finish right after /config; keep its sequence so the sites see the reset they expect.
        await self._goto(page, self.finish_url(task), task, "reset (/finish)")
        await self._goto(page, self.start_url(task), task, "start page")
        return task.goal or ""

    async def poll(self, page: "Page", task: Task) -> Outcome | None:
        return None  # REAL episodes end when the agent answers or gives up, never by the page itself

    async def finish_state(self, page: "Page", task: Task) -> dict[str, Any]:
        """The `/finish` JSON of the page's site (also useful for dense rewards); FinishStateError if unusable."""
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import TimeoutError as PlaywrightTimeoutError

        url = self.finish_url(task)
        try:
            await self._goto(page, url, task, "/finish")
        except SiteUnreachableError as e:
            raise FinishStateError(str(e)) from None
        try:
            handle = await page.wait_for_function(_FIND_FINISH_JSON, timeout=self.timeout_s * 1000, polling=100)
            text = await handle.json_value()
        except PlaywrightTimeoutError:
            try:
                found = await page.evaluate(_FINISH_DIAGNOSIS)
            except PlaywrightError:
                found = {"count": 0, "first": None, "body": ""}
            if not found["count"]:
                raise FinishStateError(f"{url} shows no <pre> with the state (page text: "
                                       f"{found['body'].strip()[:120]!r})") from None
            text = found["first"] or ""  # parsed below: its error says what the <pre> holds
        except PlaywrightError as e:
            raise FinishStateError(f"reading {url} failed: {str(e).strip().splitlines()[0]}") from None
        return parse_finish_text(text)

    async def grade(self, page: "Page", task: Task, answer: str | None) -> Outcome:
        """Reads `/finish` on the episode's page and grades it with agisdk's evaluator.

        An unusable `/finish` is an `aborted` Outcome (the episode has no grade), not an exception: one bad
        episode must not end a training run.
        """
        try:
            state = await self.finish_state(page, task)
        except FinishStateError as e:
            return Outcome(reward=0.0, success=False, status="aborted",
                           details={"reason": str(e), "task_id": task.id, "answer": answer})
        outcome = await asyncio.to_thread(grade_state, task, state, answer, self.judge)
        return replace(outcome, finish_state=state)

    def grade_state(self, task: Task, finish_state: Mapping[str, Any], answer: str | None) -> Outcome:
        """`grade_state` with this source's judge."""
        return grade_state(task, finish_state, answer, self.judge)
