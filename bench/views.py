"""Views benchmark: how long the replay and the dashboard take to read a run of 100 000 steps.

Usage (repo root, learner venv):

    .venv/bin/python bench/views.py [--db PATH] [--steps 100000] [--repeats 20] [--no-app]

Builds (once: an existing --db is reused) a store of one training run through the real RunStore API: episodes of
10 steps, 8 sampled actions per step with their rewards and advantages, 20 metrics per iteration, an adapter per
iteration, 400 distinct 1280x720 screenshots cycled over the steps. Then it times, on a fresh connection:

* the queries of `core/store/views.py` that opening a run, moving between episodes and steps, filtering and one
  dashboard poll run (median and max over --repeats);
* the same queries on a copy without the indexes of migration 5 (the baseline: what those indexes buy);
* `halo replay` itself, driven headless by Textual's Pilot: opening the run, the next episode, the next step, the
  failed-only filter, as a user sees them (from the key press until the screen has been redrawn).

Times on a shared 2-core machine are noisy; the ratios to the baseline measured in the same run are what to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from halo_cli.core.actions import LeftClick, Type  # noqa: E402
from halo_cli.core.store import EpisodeFilter, RunStore, RunViews  # noqa: E402
from halo_cli.tui.metric_plots import CURVES  # noqa: E402
from halo_cli.tui.watch import PLOT_POINTS  # noqa: E402

STEPS_PER_EPISODE = 10
EPISODES_PER_ITERATION = 8
SAMPLES = 8
SCREENSHOTS = 400
METRICS = ("mean_reward", "success_rate", "reward_std", "frac_reward_zero_std", "episode_length", "loss",
           "is_weight_mean", "sample_success_rate", "kl", "logprob_gap", "grad_norm", "clip_frac",
           "invalid_action_rate", "tokens_per_s", "train_tokens", "time_rollout_s", "time_learn_s", "time_reload_s",
           "adapter_version", "aborted_episodes")
TASKS = [f"v2.{site}-{i}" for site in ("gomail", "gocalendar", "omnizon", "zilloft") for i in range(1, 11)]


def screenshot(seed: int) -> bytes:
    img = Image.new("RGB", (1280, 720), (246, 246, 246))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, 1279, 63), fill=(30 + seed % 60, 60, 140))
    for i in range(8):
        x0, y0 = 60 + i * 150, 140 + ((i + seed) % 3) * 180
        draw.rectangle((x0, y0, x0 + 120, y0 + 90), fill=((seed * 37 + i * 23) % 256, 120, 200 - i * 20))
        draw.text((x0 + 8, y0 + 8), f"item {seed}-{i}", fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def build(db: Path, steps: int) -> str:
    """One run of `steps` steps through the RunStore API; prints progress as it goes."""
    shots = [screenshot(i) for i in range(SCREENSHOTS)]
    t0 = time.perf_counter()
    with RunStore(db) as store:
        run_id = store.start_run("train grpo", {"grpo": {"episodes": steps // STEPS_PER_EPISODE,
                                                         "concurrent_episodes": EPISODES_PER_ITERATION}}, "real")
        n = 0
        iteration = 0
        while n < steps:
            iteration += 1
            policy = "Qwen/Qwen3-VL-8B-Instruct" if iteration == 1 else f"{run_id}-v{iteration - 1}"
            for e in range(EPISODES_PER_ITERATION):
                task = TASKS[(iteration * EPISODES_PER_ITERATION + e) % len(TASKS)]
                ep = store.add_episode(run_id, iteration, task, domain=task.split(".")[1].split("-")[0],
                                       seed=iteration * 100 + e, policy=policy)
                for i in range(STEPS_PER_EPISODE):
                    action = LeftClick(x=(n * 37) % 1000, y=(n * 91) % 1000).to_dict()
                    step = store.add_step(ep, i, shots[n % SCREENSHOTS], url=f"https://real.example/{task}/{i}",
                                          action=action, reward=0.1 + 0.2 * (i % 2),
                                          reward_components={"valid": 0.1, "new_state": 0.2 * (i % 2)},
                                          done=i == STEPS_PER_EPISODE - 1, timings={"sample_ms": 120.0})
                    store.add_samples(step, [
                        {"text": f"Action: click\n<tool_call>{k}</tool_call>", "token_count": 40,
                         "action": action if k == 0 else (Type(text="hello").to_dict() if k % 3 else None),
                         "parse_error": "no tool call" if k and k % 3 == 0 else None, "logprob_sum": -3.0 - k,
                         "reward": 0.1 * k, "advantage": 0.1 * k - 0.35,
                         "reward_components": {"valid": 0.1, "progress": 0.1 * (k - 1)}}
                        for k in range(SAMPLES)])
                    n += 1
                success = (iteration + e) % 3 == 0
                store.finish_episode(ep, "finished", success=success, details={
                    "criteria": [{"index": 0, "type": "script", "script": "eval.py", "passed": success}],
                    "passed": int(success), "failed": int(not success), "unjudged": 0,
                    "finish": {"differences": {"emails": {"added": {"0": {"to": "x@example.com"}}}}}})
            store.log_metrics(run_id, iteration, {m: 0.01 * iteration for m in METRICS})
            store.add_adapter(run_id, iteration, f"/runs/{run_id}/adapters/v{iteration}", loaded=True)
            if iteration % 25 == 0:
                rate = n / (time.perf_counter() - t0)
                print(f"  built {n}/{steps} steps ({rate:.0f} steps/s)", flush=True)
        store.finish_run(run_id)
    return run_id


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    fn()  # warm the page cache
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls), max(walls)


def query_suite(views: RunViews, run_id: str) -> dict[str, Callable[[], Any]]:
    episodes = views.episodes(run_id, limit=500)
    total = views.count_episodes(run_id)
    last_page = (total - 1) // 500 * 500
    mid, far = episodes[len(episodes) // 2], views.episodes(run_id, limit=1, offset=total - 1)[0]
    steps = views.steps(mid.id)

    def open_episode(e: Any) -> Callable[[], Any]:
        def go() -> Any:
            views.episode(e.id)
            s = views.steps(e.id)
            views.samples(e.id)
            return views.screenshot(s[0].screenshot)
        return go

    return {
        "open run: resolve, count, first page of 500": lambda: (
            views.store.resolve_run_id(run_id[:14]), views.count_episodes(run_id),
            views.episodes(run_id, limit=500)),
        "open an episode: row, steps, samples, screenshot": open_episode(mid),
        "open the last page and its last episode": lambda: (views.episodes(run_id, limit=500, offset=last_page),
                                                            open_episode(far)()),
        "next step: its screenshot": lambda: views.screenshot(steps[3].screenshot),
        "filter: failed only (count + page)": lambda: (
            views.count_episodes(run_id, EpisodeFilter(failed=True)),
            views.episodes(run_id, EpisodeFilter(failed=True), limit=500)),
        "filter: one task (count + page)": lambda: (
            views.count_episodes(run_id, EpisodeFilter(task="v2.gomail-3")),
            views.episodes(run_id, EpisodeFilter(task="v2.gomail-3"), limit=500)),
        "filter: search text in steps (count + page)": lambda: (
            views.count_episodes(run_id, EpisodeFilter(text="omnizon-7/3")),
            views.episodes(run_id, EpisodeFilter(text="omnizon-7/3"), limit=500)),
        "dashboard poll: curves, in flight, latest, counts": lambda: (
            views.curves(run_id, [n for n, _ in CURVES], points=PLOT_POINTS), views.in_flight(run_id),
            views.latest_step(run_id), views.counts(run_id), views.policies(run_id, 6)),
        "dashboard: episodes in flight (with step counts)": lambda: views.in_flight(run_id),
        "report: every metric at every iteration": lambda: views.curves(run_id),
        "report table: success by task": lambda: views.tasks(run_id),
    }


def drop_view_indexes(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("drop index if exists idx_episodes_running")
        conn.execute("drop index if exists idx_episodes_run_task")


async def app_timings(db: Path, run_id: str) -> dict[str, float]:
    from halo_cli.tui.replay import ReplayApp, RunScreen

    out: dict[str, float] = {}
    with RunStore(db, create=False) as store:
        t0 = time.perf_counter()
        app = ReplayApp(store, run_id, graphics="blocks")
        async with app.run_test(size=(180, 50)) as pilot:
            while not isinstance(app.screen, RunScreen):
                await pilot.pause(0.01)
            await pilot.pause()
            out["replay: open the run (first episode and step drawn)"] = time.perf_counter() - t0
            for label, keys in (("replay: next episode", ("n",)), ("replay: next step", ("right",)),
                                ("replay: failed only", ("f",)), ("replay: back to all", ("f",))):
                walls = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    await pilot.press(*keys)
                    await pilot.pause()
                    walls.append(time.perf_counter() - t0)
                out[label] = statistics.median(walls)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, help="store to build (once) and read; default: a temporary file")
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--no-app", action="store_true", help="skip the Pilot-driven timings of halo replay")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="halo-bench-views-"))
    db = args.db or tmp / "halo.db"
    try:
        if not db.exists():
            print(f"building a store of {args.steps} steps at {db} ...", flush=True)
            t0 = time.perf_counter()
            build(db, args.steps)
            print(f"built in {time.perf_counter() - t0:.0f} s, {db.stat().st_size / 1e6:.0f} MB", flush=True)
        with RunStore(db, create=False) as store:
            run_id = store.list_runs()[0].id
            counts = RunViews(store).counts(run_id)
        print(f"run {run_id}: {counts.episodes} episodes, {counts.steps} steps")
        baseline_db = tmp / "baseline.db"
        shutil.copy(db, baseline_db)
        drop_view_indexes(baseline_db)
        rows = []
        with RunStore(db, create=False) as store, RunStore(baseline_db, create=False) as base:
            ours, theirs = query_suite(RunViews(store), run_id), query_suite(RunViews(base), run_id)
            for name in ours:
                med, worst = timed(ours[name], args.repeats)
                bmed, _ = timed(theirs[name], max(3, args.repeats // 4))
                rows.append((name, med, worst, bmed))
        print(f"\n{'query':<52} {'median':>9} {'max':>9} {'no idx':>9} {'ratio':>7}")
        for name, med, worst, bmed in rows:
            print(f"{name:<52} {med * 1e3:7.2f}ms {worst * 1e3:7.2f}ms {bmed * 1e3:7.2f}ms {bmed / med:6.1f}x")
        if not args.no_app:
            print(f"\n{'halo replay, driven by Pilot (key press to redrawn screen)':<52} {'median':>9}")
            for name, wall in asyncio.run(app_timings(db, run_id)).items():
                print(f"{name:<52} {wall * 1e3:7.0f}ms")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
