"""`halo eval`: success rate of the base model or an adapter on REAL (or MiniWoB) tasks, stored as a run."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from halo_cli.commands._common import progress_bar, server_progress, settings_for
from halo_cli.core.config import Settings, settings_to_dict

if TYPE_CHECKING:
    from halo_cli.core.store import RunStore

console = Console(stderr=True)


def eval_(
    ctx: typer.Context,
    domain: Annotated[str, typer.Option(
        help="Tasks: a domain (gomail), a task id (v2.gomail-1), miniwob:click-test-2, or all; comma-separated.")],
    adapter: Annotated[Optional[str], typer.Option(
        help="A LoRA adapter folder, or a run id whose latest adapter is used (default: the base model).")] = None,
    episodes: Annotated[int, typer.Option(min=1, help="Episodes per task.")] = 1,
    temperature: Annotated[float, typer.Option(min=0.0, help="Sampling temperature (0: greedy).")] = 0.0,
    policy_url: Annotated[Optional[str], typer.Option(help="A running vLLM server; without it halo starts one.")] = None,
    max_steps: Annotated[Optional[int], typer.Option(help="Step budget of an episode.")] = None,
    sites: Annotated[Optional[str], typer.Option(help="REAL sites: hosted | local | site=URL,...")] = None,
    seed: Annotated[Optional[int], typer.Option(help="First task seed.")] = None,
    profile: Annotated[Optional[str], typer.Option(help="Settings profile: default | local.")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="TOML settings file.")] = None,
) -> None:
    """Success rate (with a Wilson 95% interval) of the base model or an adapter on chosen tasks."""
    settings = settings_for(
        ctx, {"env": {"max_steps": max_steps, "sites": sites}, "grpo": {"seed": seed}}, config=config, profile=profile,
    )
    from halo_cli.core.store import (
        RunStore,  # sqlite-utils pulls in numpy: only when a command needs the store
    )

    with RunStore(settings.store.path) as store:
        _evaluate(settings, store, domain, adapter, episodes, temperature, policy_url)


def _evaluate(settings: Settings, store: RunStore, domain: str, adapter: str | None, episodes: int,
              temperature: float, policy_url: str | None) -> None:
    from halo_cli.core.runtime import (
        PolicyRuntime,
        resolve_adapter,
        run_dir,
        run_status,
        task_sources,
    )

    with task_sources(settings, domain, console.print) as (sources, tasks):
        served = resolve_adapter(adapter, store) if adapter else None
        config = settings_to_dict(settings) | {"eval": {"adapter": str(served[1]) if served else None,
                                                        "episodes_per_task": episodes, "temperature": temperature}}
        run_id = store.start_run("eval", config, domain)
        console.print(f"run [bold]{run_id}[/]: {len(tasks)} task(s) x {episodes} episode(s), "
                      f"policy {served[0] if served else 'base model'}; store {store.path}")
        with run_status(store, run_id):
            with progress_bar(console) as bar:
                start = bar.add_task("starting vLLM", total=None)
                runtime = PolicyRuntime(settings, policy_url=policy_url, log_path=run_dir(settings, run_id) / "vllm.log",
                                        progress=server_progress(bar, start))
                with runtime as client:
                    bar.remove_task(start)
                    records = asyncio.run(_episodes(settings, store, run_id, client, tasks, sources, served, episodes,
                                                    temperature, bar, runtime.server_alive))
            _report(store, run_id, records)


async def _episodes(settings: Settings, store: RunStore, run_id: str, client: Any, tasks: list[Any],
                    sources: list[Any], served: tuple[str, Path] | None, episodes: int, temperature: float,
                    bar: Progress, server_alive: Any) -> list[Any]:
    from halo_cli.core.env.browser import BrowserEnv
    from halo_cli.core.rl.progress import DenseRewardCalculator
    from halo_cli.core.rl.rollout import PolicyCaller, Rollouts

    policy = PolicyCaller(client, settings, seed=settings.grpo.seed, server_alive=server_alive)
    if served is not None:
        name, path = served
        if name in await asyncio.to_thread(client.models):
            await asyncio.to_thread(client.load_adapter, name, str(path), replace=True)
        else:
            await asyncio.to_thread(client.load_adapter, name, str(path))
        policy.use_adapter(name, str(path))
    jobs = [(task, settings.grpo.seed + k) for task in tasks for k in range(episodes)]
    progress = bar.add_task("evaluating", total=len(jobs))
    limit = asyncio.Semaphore(settings.grpo.concurrent_episodes)
    async with BrowserEnv(settings.browser, sources) as env:
        rollouts = Rollouts(settings, env, policy, store, run_id, lambda: DenseRewardCalculator(settings))

        async def one(task: Any, seed: int) -> Any:
            async with limit:
                record = await rollouts.run_episode(task, seed, iteration=0, temperature=temperature)
            bar.advance(progress)
            return record

        return list(await asyncio.gather(*(one(t, s) for t, s in jobs)))


def _report(store: RunStore, run_id: str, records: list[Any]) -> None:
    """Per-task table and overall success rate; unjudged episodes are counted apart, never as a guess."""
    from halo_cli.core.rl.stats import wilson_interval

    per_task: dict[str, list[Any]] = defaultdict(list)
    for r in records:
        per_task[r.task.id].append(r)
    table = Table(title=f"halo eval {run_id}")
    for col in ("task", "episodes", "success", "unjudged", "aborted", "mean steps", "mean return"):
        table.add_column(col, justify="left" if col == "task" else "right")
    for task_id, rs in per_task.items():
        table.add_row(task_id, str(len(rs)), str(sum(r.success for r in rs)),
                      str(sum(r.status == "unjudged" for r in rs)), str(sum(r.status == "aborted" for r in rs)),
                      f"{sum(r.length for r in rs) / len(rs):.1f}", f"{sum(r.episode_return for r in rs) / len(rs):.2f}")
    judged = [r for r in records if r.status in ("success", "failure")]
    wins = sum(r.success for r in judged)
    lo, hi = wilson_interval(wins, len(judged))
    rate = wins / len(judged) if judged else 0.0
    store.log_metrics(run_id, 0, {
        "success_rate": rate, "success_ci_low": lo, "success_ci_high": hi, "episodes": float(len(records)),
        "judged_episodes": float(len(judged)), "unjudged_episodes": float(sum(r.status == "unjudged" for r in records)),
        "aborted_episodes": float(sum(r.status == "aborted" for r in records)),
        "mean_steps": sum(r.length for r in records) / len(records) if records else 0.0,
    })
    out = Console()
    out.print(table)
    out.print(f"success rate {rate:.1%} ({wins}/{len(judged)} judged episodes), Wilson 95% CI [{lo:.1%}, {hi:.1%}]")
