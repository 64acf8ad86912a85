"""What the local REAL sites cost an episode: reset, step and /finish (with agisdk's grader) on each site, against the
same operations on a plain static page, and how many whole episodes per second one machine's sites sustain.

    .venv/bin/python bench/sites.py [--repeats 5] [--duration 30] [--concurrency 1,2,4]

Everything goes through `BrowserEnv` as a run does, with the local profile's browser (1280x720, fixed clock):

* reset: `env.reset(task)`, i.e. a fresh browser context, `/config?task_id=` (the site seeds the task's state),
  `/finish`, the start page, then the first observation (screenshot + AX tree);
* step: `Episode.step(scroll)` (wheel, settle, screenshot, AX tree) on the start page;
* finish: `Episode.finish()`: `/finish`, its state JSON read from the `<pre>`, and agisdk's eval script run on it
  in a temporary directory;
* the baseline: the same three on a plain page served over loopback (a one-line `<pre>` for its /finish, no grader).

Medians over `--repeats` episodes per site, after one warm-up; ratios to the baseline measured in the same run.
Then whole episodes (reset, 3 steps, finish) round-robin over the four sites with 1, 2 and 4 at once for
`--duration` seconds each: episodes/s. On a shared machine compare the ratios, not the milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from halo_cli.core.actions import Scroll  # noqa: E402
from halo_cli.core.config import BrowserSettings, local_profile  # noqa: E402
from halo_cli.core.env.browser import BrowserEnv  # noqa: E402
from halo_cli.core.env.miniwob import StaticServer  # noqa: E402
from halo_cli.core.env.real import RealSource  # noqa: E402
from halo_cli.core.env.sites import LocalSites  # noqa: E402
from halo_cli.core.env.tasks import Outcome, Task  # noqa: E402

# One task per site: a reset seeds its whole state, so which task matters little.
TASKS = {"gomail": "v2.gomail-1", "gocalendar": "v2.gocalendar-4", "omnizon": "v2.omnizon-13",
         "zilloft": "v2.zilloft-3"}
SCROLL = Scroll(pixels=-300, point=(500, 500))


class PlainPage:
    """The baseline: a plain page and a /finish page holding a small JSON state in a <pre>, as a TaskSource."""

    name = "plain"

    def __init__(self, folder: Path) -> None:
        rows = "".join(f"<li><a href='#i{i}'>Item {i}</a> <button>Open {i}</button></li>" for i in range(40))
        (folder / "index.html").write_text(f"<!doctype html><title>Plain</title><h1>Plain page</h1><ul>{rows}</ul>")
        state = {"differences": {}, "initialfinaldiff": {"added": {}, "deleted": {}, "updated": {}}}
        (folder / "finish.html").write_text(f"<!doctype html><pre>{json.dumps(state)}</pre>")
        self.server = StaticServer(folder)
        self.task = Task(id="plain.page", source=self.name, site="plain", goal="look at the page")

    def list_tasks(self) -> list[Task]:
        return [self.task]

    def start_url(self, task: Task) -> str:
        return f"{self.server.origin}/index.html"

    def allowed_origins(self, task: Task) -> frozenset[str]:
        return frozenset({self.server.origin})

    async def setup(self, page: Any, task: Task, seed: int) -> str:
        await page.goto(self.start_url(task))
        return "look at the page"

    async def poll(self, page: Any, task: Task) -> Outcome | None:
        return None

    async def grade(self, page: Any, task: Task, answer: str | None) -> Outcome:
        await page.goto(f"{self.server.origin}/finish.html")
        state = json.loads(await page.locator("pre").first.text_content() or "{}")
        return Outcome(reward=0.0, success=False, status="unjudged", details={"keys": sorted(state)})

    def close(self) -> None:
        self.server.close()


async def one_episode(env: BrowserEnv, task: Task, steps: int) -> dict[str, float]:
    t0 = time.perf_counter()
    ep = await env.reset(task)
    t1 = time.perf_counter()
    step_s = []
    for _ in range(steps):
        t = time.perf_counter()
        r = await ep.step(SCROLL)
        step_s.append(time.perf_counter() - t)
        assert r.error is None and r.observation is not None, r.error
    t2 = time.perf_counter()
    outcome = await ep.finish()
    t3 = time.perf_counter()
    await ep.close()
    assert outcome.status in ("failure", "unjudged"), outcome.details  # a scroll solves nothing
    return {"reset": t1 - t0, "step": statistics.median(step_s), "finish": t3 - t2, "episode": t3 - t0}


async def per_site(env: BrowserEnv, tasks: dict[str, Task], repeats: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, task in tasks.items():
        await one_episode(env, task, 1)  # warm-up: the site's files in the browser's memory cache, the grader
        runs = [await one_episode(env, task, 3) for _ in range(repeats)]
        out[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    return out


async def throughput(env: BrowserEnv, tasks: list[Task], concurrency: int, duration: float) -> float:
    done = 0
    stop = time.perf_counter() + duration

    async def worker(i: int) -> None:
        nonlocal done
        k = i
        while time.perf_counter() < stop:
            await one_episode(env, tasks[k % len(tasks)], 3)
            done += 1
            k += concurrency

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return done / (time.perf_counter() - t0)


async def main_async(args: argparse.Namespace) -> None:
    settings = BrowserSettings(**local_profile()["browser"])
    with tempfile.TemporaryDirectory() as tmp, LocalSites() as sites:
        plain = PlainPage(Path(tmp))
        real = RealSource("local", local_sites=sites.urls())
        tasks = {name: real.get(tid) for name, tid in TASKS.items()}
        try:
            async with BrowserEnv(settings, sources=[plain, real]) as env:
                print(f"local sites {', '.join(f'{n} {u}' for n, u in sites.urls().items())}; "
                      f"{args.repeats} episodes each (median), 3 scroll steps per episode", flush=True)
                base = (await per_site(env, {"plain page": plain.task}, args.repeats))["plain page"]
                rows = await per_site(env, tasks, args.repeats)
                print(f"\n{'':<12}{'reset ms':>10}{'x plain':>9}{'step ms':>10}{'x plain':>9}{'finish ms':>11}"
                      f"{'x plain':>9}{'episode s':>11}")
                for name, r in {"plain page": base, **rows}.items():
                    print(f"{name:<12}{r['reset'] * 1e3:>10.0f}{r['reset'] / base['reset']:>9.1f}"
                          f"{r['step'] * 1e3:>10.0f}{r['step'] / base['step']:>9.1f}{r['finish'] * 1e3:>11.0f}"
                          f"{r['finish'] / base['finish']:>9.1f}{r['episode']:>11.2f}")
                print(f"\nwhole episodes (reset, 3 steps, finish with agisdk's grader), round-robin over the four "
                      f"sites, {args.duration:g} s each:")
                for n in args.concurrency:
                    rate = await throughput(env, list(tasks.values()), n, args.duration)
                    print(f"  {n} at once: {rate:.2f} episodes/s", flush=True)
        finally:
            plain.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4])
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
