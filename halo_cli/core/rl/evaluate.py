"""Evaluation: the base model or an adapter on chosen tasks, one sample per step, and its success rate.

The same rollout loop as training (`Rollouts.run_episode`), without groups or updates. A success rate counts judged
episodes only: an episode whose rubric nobody could judge is `unjudged`, never a guess, and an aborted one (the
browser or the site failed) is counted apart.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from halo_cli.core.config import Settings
from halo_cli.core.env.browser import BrowserEnv
from halo_cli.core.env.tasks import Task, TaskSource
from halo_cli.core.policy.vllm_client import VLLMPolicyClient
from halo_cli.core.rl.progress import DenseRewardCalculator
from halo_cli.core.rl.rollout import EpisodeRecord, PolicyCaller, Rollouts, ServerWait
from halo_cli.core.rl.stats import wilson_interval
from halo_cli.core.store import RunStore


@dataclass(frozen=True)
class TaskResult:
    """One task's line of the report."""

    task_id: str
    episodes: int
    successes: int
    unjudged: int
    aborted: int
    mean_steps: float
    mean_return: float


@dataclass(frozen=True)
class EvalSummary:
    tasks: list[TaskResult]
    episodes: int
    judged: int
    successes: int
    unjudged: int
    aborted: int
    mean_steps: float
    success_rate: float
    ci_low: float
    ci_high: float

    def metrics(self) -> dict[str, float]:
        """What the run store keeps of an evaluation (iteration 0)."""
        return {
            "success_rate": self.success_rate, "success_ci_low": self.ci_low, "success_ci_high": self.ci_high,
            "episodes": float(self.episodes), "judged_episodes": float(self.judged),
            "unjudged_episodes": float(self.unjudged), "aborted_episodes": float(self.aborted),
            "mean_steps": self.mean_steps,
        }


def summarize(records: Sequence[EpisodeRecord]) -> EvalSummary:
    """Per-task lines and the overall success rate with its Wilson 95% interval over judged episodes."""
    per_task: dict[str, list[EpisodeRecord]] = defaultdict(list)
    for r in records:
        per_task[r.task.id].append(r)
    tasks = [
        TaskResult(task_id, len(rs), sum(r.success for r in rs), sum(r.status == "unjudged" for r in rs),
                   sum(r.status == "aborted" for r in rs), sum(r.length for r in rs) / len(rs),
                   sum(r.episode_return for r in rs) / len(rs))
        for task_id, rs in per_task.items()
    ]
    judged = [r for r in records if r.status in ("success", "failure")]
    wins = sum(r.success for r in judged)
    lo, hi = wilson_interval(wins, len(judged))
    return EvalSummary(
        tasks=tasks, episodes=len(records), judged=len(judged), successes=wins,
        unjudged=sum(r.status == "unjudged" for r in records), aborted=sum(r.status == "aborted" for r in records),
        mean_steps=sum(r.length for r in records) / len(records) if records else 0.0,
        success_rate=wins / len(judged) if judged else 0.0, ci_low=lo, ci_high=hi,
    )


async def evaluate(
    settings: Settings,
    store: RunStore,
    run_id: str,
    client: VLLMPolicyClient,
    tasks: Sequence[Task],
    sources: Sequence[TaskSource],
    *,
    adapter: tuple[str, Path] | None,
    episodes_per_task: int,
    temperature: float,
    server_alive: Callable[[], bool] | None = None,
    on_episode: Callable[[EpisodeRecord], None] | None = None,
    on_wait: Callable[[ServerWait], None] | None = None,
    notify: Callable[[str], None] | None = None,
) -> list[EpisodeRecord]:
    """Runs `episodes_per_task` episodes of every task (seeds `grpo.seed + k`), `grpo.concurrent_episodes` at once.

    `adapter` is (name to serve it under, folder): loaded into the server (in place when the name is already
    there) and sampled from; None samples the base model.
    """
    policy = PolicyCaller(client, settings, seed=settings.grpo.seed, server_alive=server_alive, on_wait=on_wait)
    if adapter is not None:
        name, path = adapter
        replace = name in await asyncio.to_thread(client.models)
        await asyncio.to_thread(client.load_adapter, name, str(path), replace=replace)
        policy.use_adapter(name, str(path))
    jobs = [(task, settings.grpo.seed + k) for task in tasks for k in range(episodes_per_task)]
    limit = asyncio.Semaphore(settings.grpo.concurrent_episodes)
    async with BrowserEnv(settings.browser, sources) as env:
        rollouts = Rollouts(settings, env, policy, store, run_id, lambda: DenseRewardCalculator(settings),
                            notify=notify)

        async def one(task: Task, seed: int) -> EpisodeRecord:
            async with limit:
                record = await rollouts.or_dropped(rollouts.run_episode(task, seed, iteration=0,
                                                                        temperature=temperature))
            if on_episode is not None:
                on_episode(record)
            return record

        try:
            return list(await asyncio.gather(*(one(t, s) for t, s in jobs)))
        except asyncio.CancelledError:  # Ctrl-C or SIGTERM: a wait for the server in a worker thread ends too
            policy.stop_waiting()
            raise
