"""How fast is one BrowserEnv step, against raw Playwright and agisdk's own gym env, on one local page?

    .venv/bin/python bench/env_step.py [--steps 30] [--duration 4]

Prints, for the same loopback page at 1280x720 (a button to click among ~60 product cards):
  1. our `Episode.step(left_click)` with the AX tree off (click + PNG screenshot, what raw Playwright does)
     and with it on (the full observation), as median ms and as a ratio to raw Playwright;
  2. agisdk's BrowserGym env (`browsergym/openended` with `start_url`) stepping the same click, with the
     task's slow_mo set to 0 (its default of 1000 ms would dominate) and its built-in 0.5 s sleep left in;
  3. aggregate steps/s of our env with 1, 2, 4 and 8 concurrent episodes (full observations).
agisdk's chat window launches a second Chromium without an executable path; this script (and only it)
patches Playwright's `BrowserType.launch` so both of its browsers use the configured Chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from halo_cli.core.actions import LeftClick, px_to_grid  # noqa: E402
from halo_cli.core.config import BrowserSettings  # noqa: E402
from halo_cli.core.env.browser import BrowserEnv  # noqa: E402
from halo_cli.core.env.episode import Episode  # noqa: E402
from halo_cli.core.env.miniwob import StaticServer  # noqa: E402
from halo_cli.core.env.tasks import Outcome, Task  # noqa: E402

W, H = 1280, 720
BUTTON = (120, 60)  # centre of #go in CSS pixels


def page_html() -> str:
    cards = "\n".join(
        f'<div class="card"><h3>Item {i}</h3><p>Description of item {i} with <b>bold</b> text.</p>'
        f'<a href="#i{i}">Details {i}</a> <button>Buy {i}</button> <input placeholder="qty {i}">'
        f'<label><input type="checkbox"> pick {i}</label></div>'
        for i in range(60)
    )
    return f"""<!doctype html><html><head><title>Bench</title><style>
body {{ margin: 0; font: 14px sans-serif; }} #go {{ position: fixed; left: 20px; top: 40px; width: 200px; height: 40px; }}
main {{ margin-top: 100px; }} .card {{ display: inline-block; width: 280px; margin: 6px; padding: 6px; background: #f4f4f4; }}
</style></head><body><button id="go" onclick="this.textContent = 'Clicked ' + (++window.n || (window.n = 1))">Click me</button>
<main><h1>Catalog</h1>{cards}</main></body></html>"""


class BenchSource:
    """The one bench page as a TaskSource: never done, graded as unjudged."""

    name = "bench"

    def __init__(self, server: StaticServer) -> None:
        self.server = server
        self.task = Task(id="bench.page", source=self.name, site="bench", goal="click the button")

    def list_tasks(self) -> list[Task]:
        return [self.task]

    def start_url(self, task: Task) -> str:
        return f"{self.server.origin}/index.html"

    def allowed_origins(self, task: Task) -> frozenset[str]:
        return frozenset({self.server.origin})

    async def setup(self, page: Any, task: Task, seed: int) -> str:
        await page.goto(self.start_url(task))
        return "click the button"

    async def poll(self, page: Any, task: Task) -> Outcome | None:
        return None

    async def grade(self, page: Any, task: Task, answer: str | None) -> Outcome:
        return Outcome(reward=0.0, success=False, status="unjudged")


CLICK = LeftClick(x=px_to_grid(BUTTON[0], W), y=px_to_grid(BUTTON[1], H), width=W, height=H)


def med_ms(xs: list[float]) -> float:
    return statistics.median(xs) * 1000


async def time_ours(ep: Episode, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = await ep.step(CLICK)
        out.append(time.perf_counter() - t)
        assert r.error is None and not r.done, r
    return out


async def time_raw(page: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await page.mouse.click(*BUTTON)
        await page.screenshot(type="png")
        out.append(time.perf_counter() - t)
    return out


async def single(settings: BrowserSettings, source: BenchSource, steps: int) -> dict[str, float]:
    from playwright.async_api import async_playwright

    res: dict[str, list[float]] = {"raw": [], "ours_click_shot": [], "ours_full_obs": []}
    async with async_playwright() as pw, BrowserEnv(settings, sources=[source]) as env:
        browser = await pw.chromium.launch(executable_path=settings.executable, headless=True, args=settings.args)
        page = await (await browser.new_context(viewport={"width": W, "height": H})).new_page()
        await page.goto(source.start_url(source.task))
        ep = await env.reset(source.task)
        await time_raw(page, 3)
        await time_ours(ep, 3)
        # Interleaved blocks, so drift in the machine's load hits all three alike.
        for _ in range(3):
            res["raw"] += await time_raw(page, steps // 3)
            env.axtree = "off"
            res["ours_click_shot"] += await time_ours(ep, steps // 3)
            env.axtree = "full"
            res["ours_full_obs"] += await time_ours(ep, steps // 3)
        axlen = len(ep.observation.axtree) if ep.observation else 0
        await ep.close()
        await browser.close()
    out = {k: med_ms(v) for k, v in res.items()}
    out["axtree_chars"] = axlen
    return out


async def concurrent(settings: BrowserSettings, source: BenchSource, duration: float) -> list[tuple[int, float, float]]:
    rows = []
    async with BrowserEnv(settings, sources=[source]) as env:
        for n in (1, 2, 4, 8):
            eps = list(await asyncio.gather(*[env.reset(source.task, seed=i) for i in range(n)]))
            await asyncio.gather(*[time_ours(ep, 2) for ep in eps])
            lat: list[float] = []
            stop = time.perf_counter() + duration

            async def worker(ep: Episode) -> int:
                k = 0
                while time.perf_counter() < stop:
                    lat.extend(await time_ours(ep, 1))
                    k += 1
                return k

            t0 = time.perf_counter()
            counts = await asyncio.gather(*[worker(ep) for ep in eps])
            elapsed = time.perf_counter() - t0
            rows.append((n, sum(counts) / elapsed, med_ms(lat)))
            await asyncio.gather(*[ep.close() for ep in eps])
    return rows


def patch_playwright_launch(settings: BrowserSettings) -> None:
    """agisdk's Chat launches Chromium with no executable path (probe notes, Q2/Q6): default it here."""
    import playwright.sync_api._generated as sync_gen

    original = sync_gen.BrowserType.launch
    if getattr(original, "_halo_patched", False):
        return

    def launch(self: Any, *a: Any, **kw: Any) -> Any:
        kw.setdefault("executable_path", settings.executable)
        kw["args"] = list(kw.get("args") or []) + [x for x in settings.args if x not in (kw.get("args") or [])]
        return original(self, *a, **kw)

    launch._halo_patched = True  # type: ignore[attr-defined]
    sync_gen.BrowserType.launch = launch  # type: ignore[method-assign]


def agisdk_step(settings: BrowserSettings, url: str, steps: int) -> tuple[float, float] | str:
    """Median step and reset of agisdk's gym env on the same page, or why it could not run."""
    try:
        patch_playwright_launch(settings)
        warnings.filterwarnings("ignore", module="gymnasium")
        import agisdk.REAL.browsergym.core  # noqa: F401 - registers browsergym/openended
        import gymnasium as gym

        env = gym.make("browsergym/openended", task_kwargs={"start_url": url}, headless=True, slow_mo=0,
                       action_mapping=None)
    except Exception as e:  # noqa: BLE001 - the bench reports it instead of failing
        return f"could not start: {type(e).__name__}: {e}"
    try:
        t = time.perf_counter()
        env.reset()
        reset_s = time.perf_counter() - t
        code = f"page.mouse.click({BUTTON[0]}, {BUTTON[1]})"
        env.step(code)
        ts = []
        for _ in range(steps):
            t = time.perf_counter()
            _obs, _r, _term, _trunc, info = env.step(code)
            ts.append(time.perf_counter() - t)
        return med_ms(ts), reset_s * 1000
    except Exception as e:  # noqa: BLE001
        return f"failed: {type(e).__name__}: {e}"
    finally:
        env.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30, help="steps per timing (ours and raw)")
    ap.add_argument("--agisdk-steps", type=int, default=6)
    ap.add_argument("--duration", type=float, default=4.0, help="seconds per concurrency level")
    args = ap.parse_args()
    settings = BrowserSettings()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "index.html").write_text(page_html())
        server = StaticServer(Path(tmp))
        source = BenchSource(server)
        try:
            print(f"host: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; page {source.start_url(source.task)} "
                  f"at {W}x{H}; max_concurrent_pages={settings.max_concurrent_pages}")
            async def ours() -> tuple[dict[str, float], list[tuple[int, float, float]]]:
                return (await single(settings, source, args.steps),
                        await concurrent(settings, source, args.duration))

            s, rows = asyncio.run(ours())
            # agisdk's sync Playwright keeps its own event loop for the rest of the process: it goes last.
            ag = agisdk_step(settings, source.start_url(source.task), args.agisdk_steps)
            raw = s["raw"]
            print(f"\n== one step (median of {args.steps}) ==")
            print(f"raw playwright click+screenshot : {raw:7.1f} ms   1.00x")
            print(f"BrowserEnv step, axtree off     : {s['ours_click_shot']:7.1f} ms   {s['ours_click_shot'] / raw:.2f}x")
            print(f"BrowserEnv step, full obs       : {s['ours_full_obs']:7.1f} ms   {s['ours_full_obs'] / raw:.2f}x"
                  f"   (AX tree {int(s['axtree_chars'])} chars)")
            if isinstance(ag, str):
                print(f"agisdk gym env step             : {ag}")
            else:
                print(f"agisdk gym env step (slow_mo=0) : {ag[0]:7.1f} ms   {ag[0] / raw:.2f}x   "
                      f"(ours full obs is {ag[0] / s['ours_full_obs']:.1f}x faster; its reset {ag[1]:.0f} ms)")
            print(f"\n== concurrent episodes, full observations, {args.duration:g} s each ==")
            for n, rate, p50 in rows:
                print(f"{n} episode(s): {rate:6.1f} steps/s   step p50 {p50:6.1f} ms")
        finally:
            server.close()


if __name__ == "__main__":
    main()
