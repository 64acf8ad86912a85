"""How much do concurrent writers of one run store cost each other, and does any of them fail on a lock?

    .venv/bin/python bench/store.py [--steps 300] [--writers 1,2,4] [--samples 8] [--repeat 2]

Each writer is a separate process that writes what a training run writes per step, on one shared SQLite file: a
screenshot (a distinct 160x90 PNG of noise, ~43 KB, about what a real page's PNG weighs), the step row, G sampled completions, and every 10 steps the end of an
episode (a transaction that reads before it writes), the iteration's metrics and a new episode. All writers of a
round start together (they wait on their stdin) on a fresh store. Prints, per number of writers, the aggregate
steps/s (every writer's steps from the first writer's start to the last one's end, best of --repeat rounds), the slowest writer's own
steps/s, the ratio of the aggregate to one writer's (measured in the same run), and how many writes failed on a
lock (must be 0: each write is one BEGIN IMMEDIATE transaction that waits for the lock).
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[1]


def _pngs(seed: int, n: int) -> list[bytes]:
    """`n` distinct screenshot-like PNGs (noise compresses poorly, as real screenshots' text does)."""
    import random

    from PIL import Image

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        img = Image.frombytes("RGB", (160, 90), rng.randbytes(160 * 90 * 3))
        buf = io.BytesIO()
        img.save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def write(db: str, steps: int, samples: int, index: int) -> int:
    """One writer process: set up, say `ready`, wait for `go` on stdin, write, report `done <steps> <seconds>`."""
    from halo_cli.core.store import RunStore

    images = _pngs(1000 + index, 32)
    completions = [{"text": "Action: click.\n<tool_call>" + "x" * 120 + "</tool_call>", "token_count": 60,
                    "logprob_sum": -12.5, "action": {"action": "left_click", "coordinate": [i, i]}}
                   for i in range(samples)]
    failures = 0
    with RunStore(db) as store:
        run_id = store.start_run("bench store", {"writer": index})
        print("ready", flush=True)
        sys.stdin.readline()
        start = time.time()  # wall clock: comparable across the writers of a round
        t0 = time.perf_counter()
        episode = None
        for n in range(steps):
            try:
                if n % 10 == 0:
                    if episode is not None:
                        store.finish_episode(episode, success=False)
                        store.log_metrics(run_id, n // 10, {"mean_reward": 0.5, "loss": 0.1, "grad_norm": 1.0})
                    episode = store.add_episode(run_id, n // 10 + 1, "bench-task", seed=n)
                step = store.add_step(episode, n % 10, images[n % len(images)], url=f"http://bench/{n}",
                                      action={"action": "left_click"}, reward=0.1, reward_components={"valid": 0.1},
                                      timings={"sample_ms": 10.0})
                store.add_samples(step, completions)
            except Exception as e:  # noqa: BLE001 - a StoreError, or sqlite3's "database is locked" before the fix
                failures += 1
                print(f"error {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        seconds = time.perf_counter() - t0
        end = time.time()
        store.finish_run(run_id, "finished")
    print(f"done {steps - failures} {seconds:.6f} {failures} {start:.6f} {end:.6f}", flush=True)
    return 0


def round_of(writers: int, steps: int, samples: int, folder: Path) -> dict[str, float]:
    db = folder / f"store-{writers}-{time.monotonic_ns()}.db"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    procs = [subprocess.Popen([sys.executable, __file__, "--write", str(db), "--steps", str(steps),
                               "--samples", str(samples), "--index", str(i)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
             for i in range(writers)]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    reports = []
    for p in procs:
        assert p.stdout is not None
        reports.append(p.stdout.readline().split())
        p.wait()
    ok = [r for r in reports if r and r[0] == "done"]
    wall = max(float(r[5]) for r in ok) - min(float(r[4]) for r in ok)  # first writer's start to last one's end
    done = sum(int(r[1]) for r in ok)
    failures = sum(int(r[3]) for r in ok) + len(reports) - len(ok)
    slowest = max(float(r[2]) for r in ok)
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    return {"steps_per_s": done / wall, "slowest_writer_steps_per_s": steps / slowest, "failures": failures,
            "wall_s": wall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="steps per writer")
    parser.add_argument("--writers", default="1,2,4", help="numbers of concurrent writers, comma-separated")
    parser.add_argument("--samples", type=int, default=8, help="sampled completions per step (G)")
    parser.add_argument("--repeat", type=int, default=2, help="rounds per number of writers; the best is shown")
    parser.add_argument("--write", help=argparse.SUPPRESS)  # internal: be one writer of this store
    parser.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write:
        return write(args.write, args.steps, args.samples, args.index)

    counts = [int(x) for x in args.writers.split(",")]
    print(f"# store bench: {args.steps} steps per writer, G={args.samples} samples per step, "
          f"best of {args.repeat} rounds, {os.cpu_count()} CPUs; a fresh store per round")
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="halo-store-bench-") as tmp:
        for k in counts:
            rounds = [round_of(k, args.steps, args.samples, Path(tmp)) for _ in range(args.repeat)]
            best = max(rounds, key=lambda r: r["steps_per_s"])
            best["failures"] = sum(r["failures"] for r in rounds)
            results[k] = best
    base = results.get(1) or results[counts[0]]
    print(f"\n{'writers':>7}{'steps/s (all)':>15}{'slowest writer steps/s':>24}{'ratio to 1 writer':>19}"
          f"{'lock failures':>15}")
    for k, r in results.items():
        print(f"{k:>7}{r['steps_per_s']:>15.1f}{r['slowest_writer_steps_per_s']:>24.1f}"
              f"{r['steps_per_s'] / base['steps_per_s']:>19.2f}{int(r['failures']):>15}")
    print("(steps/s (all): every writer's steps from the first start to the last end; ratio: that figure against one "
          "writer's, measured in this run)")
    return 1 if any(r["failures"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
