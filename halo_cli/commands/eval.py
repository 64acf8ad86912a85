"""`halo eval`: success rate of the base model or an adapter on REAL (or MiniWoB) tasks, stored as a run."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from halo_cli.commands._common import (
    progress_bar,
    server_progress,
    server_wait_progress,
    settings_for,
    stdout_console,
)
from halo_cli.commands.options import (
    ConfigOption,
    DomainOption,
    MaxStepsOption,
    PolicyUrlOption,
    ProfileOption,
    SeedOption,
    SitesOption,
)
from halo_cli.core.config import Settings, settings_to_dict
from halo_cli.core.errors import ConfigError
from halo_cli.core.termination import interrupt_on_termination

if TYPE_CHECKING:
    from halo_cli.core.rl.evaluate import EvalSummary
    from halo_cli.core.store import RunStore

console = Console(stderr=True)


def eval_(
    ctx: typer.Context,
    domain: DomainOption = None,
    adapter: Annotated[Optional[str], typer.Option(
        help="A LoRA adapter folder, or a run id whose latest adapter is used (default: the base model).")] = None,
    episodes: Annotated[int, typer.Option(min=1, help="Episodes per task.")] = 1,
    temperature: Annotated[float, typer.Option(min=0.0, help="Sampling temperature (0: greedy).")] = 0.0,
    policy_url: PolicyUrlOption = None,
    max_steps: MaxStepsOption = None,
    sites: SitesOption = None,
    seed: SeedOption = None,
    profile: ProfileOption = None,
    config: ConfigOption = None,
) -> None:
    """Success rate (with a Wilson 95% interval) of the base model or an adapter on chosen tasks.

    SIGTERM and SIGHUP stop it as Ctrl-C does: the run is recorded as aborted and a server it started is stopped.
    """
    from halo_cli.core.runtime import check_policy_url

    policy_url = check_policy_url(policy_url)  # before any run is recorded: a bad URL leaves nothing behind
    if domain is None:
        raise ConfigError("--domain is required (e.g. --domain gomail or --domain miniwob:click-test-2)")
    settings = settings_for(
        ctx, {"env": {"max_steps": max_steps, "sites": sites}, "grpo": {"seed": seed}}, config=config, profile=profile,
    )
    from halo_cli.core.store import RunStore  # sqlite-utils pulls in numpy: only when a command needs the store

    with RunStore(settings.store.path) as store:
        _evaluate(settings, store, domain, adapter, episodes, temperature, policy_url)


def _evaluate(settings: Settings, store: RunStore, domain: str, adapter: str | None, episodes: int,
              temperature: float, policy_url: str | None) -> None:
    from halo_cli.core.rl.evaluate import evaluate, summarize
    from halo_cli.core.runtime import PolicyRuntime, resolve_adapter, run_dir, run_status, task_sources

    with interrupt_on_termination(), task_sources(settings, domain, console.print) as (sources, tasks):
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
                    progress = bar.add_task("evaluating", total=len(tasks) * episodes)
                    records = asyncio.run(evaluate(
                        settings, store, run_id, client, tasks, sources, adapter=served, episodes_per_task=episodes,
                        temperature=temperature, server_alive=runtime.server_alive,
                        on_episode=lambda _record: bar.advance(progress), on_wait=server_wait_progress(bar),
                        notify=bar.console.print,
                    ))
            summary = summarize(records)
            store.log_metrics(run_id, 0, summary.metrics())
            _report(run_id, summary)


def _report(run_id: str, summary: EvalSummary) -> None:
    """Per-task table and overall success rate; unjudged episodes are counted apart, never as a guess."""
    table = Table(title=f"halo eval {run_id}")
    for col in ("task", "episodes", "success", "unjudged", "aborted", "mean steps", "mean return"):
        table.add_column(col, justify="left" if col == "task" else "right")
    for t in summary.tasks:
        table.add_row(t.task_id, str(t.episodes), str(t.successes), str(t.unjudged), str(t.aborted),
                      f"{t.mean_steps:.1f}", f"{t.mean_return:.2f}")
    out = stdout_console()
    out.print(table)
    out.print(f"success rate {summary.success_rate:.1%} ({summary.successes}/{summary.judged} judged episodes), "
              f"Wilson 95% CI [{summary.ci_low:.1%}, {summary.ci_high:.1%}]")
