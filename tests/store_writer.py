"""A training-like writer for the run store tests: a real process that the tests read beside and kill.

    python tests/store_writer.py DB [--steps N] [--episode-steps K]

Prints `run <id>` once, then the id of every step right after add_step returned (so: committed), one per
line. Without --steps it writes until killed; it also stops by itself after --max-steps, or when its parent
is gone, so that a failed test never leaves it running.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from halo_cli.core.store import RunStore  # noqa: E402


def png(seed: int, size: tuple[int, int] = (32, 24)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, ((seed * 37) % 256, (seed * 91) % 256, (seed * 13) % 256)).save(buf, "PNG")
    return buf.getvalue()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--steps", type=int, default=None, help="stop after this many steps (default: until killed)")
    ap.add_argument("--max-steps", type=int, default=200_000)
    ap.add_argument("--episode-steps", type=int, default=10, help="steps per episode (each episode ends with a "
                    "transaction that reads before it writes)")
    args = ap.parse_args()
    parent = os.getppid()
    limit = args.steps if args.steps is not None else args.max_steps
    images = [png(i) for i in range(7)]  # few distinct images: most writes hit the dedup path
    with RunStore(args.db) as store:
        run_id = store.start_run("writer", {"writer": True, "pid": os.getpid()}, "testsite")
        print(f"run {run_id}", flush=True)
        episode = None
        iteration = 0
        for n in range(limit):
            if n % args.episode_steps == 0:
                if episode is not None:
                    store.finish_episode(episode, success=n % 20 == 0)
                    store.log_metrics(run_id, iteration, {"success_rate": (n % 7) / 7, "loss": 1.0 / (n + 1)})
                iteration += 1
                episode = store.add_episode(run_id, iteration, f"testsite-{n % 5}", seed=n)
            step = store.add_step(
                episode,
                n % args.episode_steps,
                images[n % len(images)],
                url=f"http://testsite.local/page/{n}",
                action={"action": "click", "element": n},
                reward=float(n % 3 == 0),
                reward_components={"progress": 0.1 * (n % 4)},
                done=n % args.episode_steps == args.episode_steps - 1,
                timings={"policy_s": 0.01, "env_s": 0.02},
            )
            store.add_samples(
                step,
                [{"text": f"click({n})", "action": {"action": "click", "element": n}, "token_count": 5}
                 for _ in range(2)],
            )
            print(step, flush=True)
            if os.getppid() != parent:
                break
        if episode is not None:
            store.finish_episode(episode)
        store.finish_run(run_id, "finished")
    return 0


if __name__ == "__main__":
    sys.exit(main())
