"""`halo train grpo`: online GRPO on live browser tasks, LoRA updates hot-reloaded into vLLM; `halo train mcts`:
Agent-Q-style tree search whose sibling groups feed the same update."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import Progress

from halo_cli.commands._common import (
    drop_none,
    progress_bar,
    require_terminal,
    root_options,
    server_progress,
    server_wait_progress,
    settings_for,
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
from halo_cli.core.config import (
    Settings,
    deep_merge,
    overrides_from_pairs,
    settings_from_dict,
    settings_to_dict,
)
from halo_cli.core.errors import ConfigError
from halo_cli.core.termination import interrupt_on_termination

if TYPE_CHECKING:
    from halo_cli.core.store import RunStore

app = typer.Typer(help="Train the policy online: GRPO or tree search on live browser tasks.", no_args_is_help=True)
console = Console(stderr=True)

_SHOWN = ("mean_reward", "success_rate", "sample_success_rate", "reward_std", "invalid_action_rate", "loss",
          "is_weight_mean", "logprob_gap")


def _line(it: int, m: dict[str, float]) -> str:
    parts = [f"{k}={m[k]:.3g}" for k in _SHOWN if k in m]
    times = f"rollout {m.get('time_rollout_s', 0):.1f}s learn {m.get('time_learn_s', 0):.1f}s " \
            f"reload {m.get('time_reload_s', 0):.1f}s"
    return f"iteration {it}: " + "  ".join(parts) + f"  ({times})"


def _resume_settings(ctx: typer.Context, store: RunStore, run_ref: str, overrides: dict[str, Any],
                     command: str = "train grpo") -> tuple[str, Settings]:
    """The resumed run's own settings, with what this command line says explicitly on top (e.g. more episodes)."""
    run = store.get_run(run_ref)
    if run.command != command:
        raise ConfigError(f"run {run.id} is a '{run.command}' run, not '{command}'")
    root = root_options(ctx)
    merged = deep_merge(run.config, overrides_from_pairs(root.set_pairs), overrides)
    try:
        return run.id, settings_from_dict(merged)
    except ConfigError as e:
        raise ConfigError(f"cannot resume run {run.id}: {e}") from None


@app.command("grpo")
def grpo(
    ctx: typer.Context,
    domain: DomainOption = None,
    policy_url: PolicyUrlOption = None,
    num_generations: Annotated[Optional[int], typer.Option(help="Group size G.")] = None,
    episodes: Annotated[Optional[int], typer.Option(help="Task episodes to train on.")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Learning rate of the LoRA weights.")] = None,
    group: Annotated[Optional[str], typer.Option(help="Grouping: step | episode | gigpo.")] = None,
    max_steps: MaxStepsOption = None,
    lora_rank: Annotated[Optional[int], typer.Option(help="LoRA rank.")] = None,
    sites: SitesOption = None,
    seed: SeedOption = None,
    resume: Annotated[Optional[str], typer.Option(help="Continue a run from its last checkpoint.")] = None,
    tui: Annotated[bool, typer.Option(
        "--tui", help="Show the live dashboard while training (q stops the run).")] = False,
    profile: ProfileOption = None,
    config: ConfigOption = None,
) -> None:
    """Online GRPO: browser rollouts, dense rewards, a LoRA update per iteration, hot reload into vLLM.

    SIGTERM and SIGHUP stop it as Ctrl-C does: the run is recorded as aborted and a server it started is stopped.
    """
    from halo_cli.core.runtime import check_policy_url

    if tui:
        require_terminal("--tui")
    policy_url = check_policy_url(policy_url)  # before any run is recorded: a bad URL leaves nothing behind
    overrides = drop_none({
        "grpo": {"num_generations": num_generations, "episodes": episodes, "lr": lr, "group": group, "seed": seed},
        "env": {"max_steps": max_steps, "sites": sites},
        "lora": {"rank": lora_rank},
    })
    from halo_cli.core.store import (
        RunStore,  # sqlite-utils pulls in numpy: only when a command needs the store
    )

    if resume is not None:
        probe = settings_for(ctx, config=config, profile=profile)
        store = RunStore(probe.store.path, create=False)
        run_id, settings = _resume_settings(ctx, store, resume, overrides)
        domain = store.get_run(run_id).domain or domain
    else:
        if domain is None:
            raise ConfigError("--domain is required (e.g. --domain gomail or --domain miniwob:click-test-2)")
        settings = settings_for(ctx, overrides, config=config, profile=profile)
        store = RunStore(settings.store.path)
        run_id = None
    try:
        if tui:  # the trainer in a thread under the dashboard, which reads the store on its own connection
            from halo_cli.tui.live import with_dashboard

            with_dashboard(store.path, lambda out, on_run: _train(settings, store, domain or "", run_id, policy_url,
                                                                  out=out, on_run=on_run))
        else:
            _train(settings, store, domain or "", run_id, policy_url)
    finally:
        store.close()


def _train(settings: Settings, store: RunStore, domain: str, resume_id: str | None, policy_url: str | None, *,
           out: Console = console, on_run: Callable[[str], None] | None = None) -> None:
    """Trains, printing on `out`; `on_run` hears the run id as soon as the run exists (the dashboard follows it)."""
    from halo_cli.core.runtime import run_dir, task_sources

    with interrupt_on_termination(), task_sources(settings, domain, out.print) as (sources, tasks):
        run_id = resume_id or store.start_run("train grpo", settings_to_dict(settings), domain)
        if resume_id:
            store.reopen_run(run_id)  # running again, owned by this process
        if on_run is not None:
            on_run(run_id)
        rdir = run_dir(settings, run_id)
        out.print(f"run [bold]{run_id}[/] ({'resumed' if resume_id else 'new'}): {len(tasks)} task(s), "
                  f"group={settings.grpo.group} G={settings.grpo.num_generations}; store {store.path}")
        _serve_and_train(settings, store, run_id, rdir, out, policy_url, functools.partial(
            _loop, settings, store, run_id, rdir, tasks=tasks, sources=sources, resume_id=resume_id))


def _serve_and_train(settings: Settings, store: RunStore, run_id: str, rdir: Path, out: Any, policy_url: str | None,
                     loop: Any) -> None:
    """The part `train grpo` and `train mcts` share: vLLM (started or reached), the learner, then the trainer's
    loop, `loop(client=, learner=, bar=, server_alive=, shared=)`, under the run's status and one progress display;
    the run's final status is said whatever happened."""
    from halo_cli.core.rl.learner import LoRALearner
    from halo_cli.core.runtime import PolicyRuntime, run_status

    try:
        with run_status(store, run_id), progress_bar(out) as bar:
            start = bar.add_task("starting vLLM", total=None)
            runtime = PolicyRuntime(settings, policy_url=policy_url, log_path=rdir / "vllm.log",
                                    progress=server_progress(bar, start))
            with runtime as client:
                bar.update(start, description="loading the learner")
                learner = LoRALearner.from_settings(settings)
                bar.remove_task(start)
                asyncio.run(loop(client=client, learner=learner, bar=bar, server_alive=runtime.server_alive,
                                 shared=policy_url is not None))
    finally:
        out.print(f"run {run_id} {store.get_run(run_id).status}; inspect it with: halo runs show {run_id}")


async def _loop(settings: Settings, store: RunStore, run_id: str, rdir: Path, client: Any, learner: Any,
                tasks: list[Any], sources: list[Any], resume_id: str | None, bar: Progress,
                server_alive: Any, shared: bool) -> None:
    from halo_cli.core.env.browser import BrowserEnv
    from halo_cli.core.rl.online_grpo import IterationResult, OnlineGRPOTrainer

    async with BrowserEnv(settings.browser, sources) as env:
        trainer = OnlineGRPOTrainer(settings, client=client, learner=learner, env=env, tasks=tasks, store=store,
                                    run_id=run_id, run_dir=rdir, server_alive=server_alive)
        if resume_id:
            point = await asyncio.to_thread(trainer.resume)
            bar.console.print(point.message)
        total = trainer.iterations_for(settings.grpo.episodes)
        progress = bar.add_task("training", total=total, completed=trainer.state.iteration)

        def on_iteration(result: IterationResult) -> None:
            bar.update(progress, completed=result.iteration)
            bar.console.print(_line(result.iteration, result.metrics))

        trainer.on_iteration = on_iteration
        trainer.rollouts.notify = bar.console.print
        trainer.policy.on_wait = server_wait_progress(bar)
        try:
            await trainer.atrain(settings.grpo.episodes)
        except asyncio.CancelledError:  # Ctrl-C or SIGTERM: a wait for the server in the learner's thread ends too
            trainer.policy.stop_waiting()
            raise
        if shared:
            await asyncio.to_thread(trainer.unload_adapters)


def _mcts_line(it: int, m: dict[str, float]) -> str:
    shown = ("success_rate", "search_success", "tree_nodes", "tree_depth", "best_q", "groups", "loss")
    parts = [f"{k}={m[k]:.3g}" for k in shown if k in m]
    times = f"search {m.get('time_search_s', 0):.1f}s learn {m.get('time_learn_s', 0):.1f}s " \
            f"reload {m.get('time_reload_s', 0):.1f}s"
    return f"search {it}: " + "  ".join(parts) + f"  ({times})"


@app.command("mcts")
def mcts(
    ctx: typer.Context,
    domain: DomainOption = None,
    num_simulations: Annotated[Optional[int], typer.Option(help="Simulations per search.")] = None,
    ucb_c: Annotated[Optional[float], typer.Option(help="Exploration constant C of UCB1.")] = None,
    expand_k: Annotated[Optional[int], typer.Option(help="Actions sampled when a node is expanded.")] = None,
    alpha: Annotated[Optional[float], typer.Option(help="Weight of the self-critique in a node's value.")] = None,
    max_depth: Annotated[Optional[int], typer.Option(help="Actions from the root at most.")] = None,
    policy_url: PolicyUrlOption = None,
    sites: SitesOption = None,
    episodes: Annotated[Optional[int], typer.Option(help="Searches to run (one policy update after each).")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Learning rate of the LoRA weights.")] = None,
    seed: SeedOption = None,
    resume: Annotated[Optional[str], typer.Option(help="Continue a run from its last checkpoint.")] = None,
    profile: ProfileOption = None,
    config: ConfigOption = None,
) -> None:
    """Agent-Q-style tree search: UCB1 over browser states, self-critique values, one LoRA update per search from
    its sibling groups, hot reload into vLLM; every tree is stored (`halo runs show`, `halo runs export --format dpo`).

    SIGTERM and SIGHUP stop it as Ctrl-C does: the run is recorded as aborted and a server it started is stopped.
    """
    from halo_cli.core.runtime import check_policy_url

    policy_url = check_policy_url(policy_url)
    overrides = drop_none({
        "mcts": {"num_simulations": num_simulations, "ucb_c": ucb_c, "expand_k": expand_k, "alpha": alpha,
                 "max_depth": max_depth},
        "grpo": {"episodes": episodes, "lr": lr, "seed": seed},
        "env": {"sites": sites},
    })
    from halo_cli.core.store import RunStore

    if resume is not None:
        probe = settings_for(ctx, config=config, profile=profile)
        store = RunStore(probe.store.path, create=False)
        run_id, settings = _resume_settings(ctx, store, resume, overrides, command="train mcts")
        domain = store.get_run(run_id).domain or domain
    else:
        if domain is None:
            raise ConfigError("--domain is required (e.g. --domain gomail or --domain drill:sequence@0)")
        settings = settings_for(ctx, overrides, config=config, profile=profile)
        store = RunStore(settings.store.path)
        run_id = None
    try:
        _train_mcts(settings, store, domain or "", run_id, policy_url)
    finally:
        store.close()


def _train_mcts(settings: Settings, store: RunStore, domain: str, resume_id: str | None, policy_url: str | None, *,
                out: Console = console) -> None:
    from halo_cli.core.runtime import run_dir, task_sources

    with interrupt_on_termination(), task_sources(settings, domain, out.print) as (sources, tasks):
        run_id = resume_id or store.start_run("train mcts", settings_to_dict(settings), domain)
        if resume_id:
            store.reopen_run(run_id)
        rdir = run_dir(settings, run_id)
        m = settings.mcts
        out.print(f"run [bold]{run_id}[/] ({'resumed' if resume_id else 'new'}): {len(tasks)} task(s), "
                  f"{m.num_simulations} simulations, K={m.expand_k}, C={m.ucb_c:g}, alpha={m.alpha:g}, "
                  f"depth {m.max_depth}; store {store.path}")
        _serve_and_train(settings, store, run_id, rdir, out, policy_url, functools.partial(
            _mcts_loop, settings, store, run_id, rdir, tasks=tasks, sources=sources, resume_id=resume_id))


async def _mcts_loop(settings: Settings, store: RunStore, run_id: str, rdir: Path, client: Any, learner: Any,
                     tasks: list[Any], sources: list[Any], resume_id: str | None, bar: Progress,
                     server_alive: Any, shared: bool) -> None:
    from halo_cli.core.env.browser import BrowserEnv
    from halo_cli.core.rl.mcts_trainer import MCTSTrainer, SearchIteration

    async with BrowserEnv(settings.browser, sources) as env:
        trainer = MCTSTrainer(settings, client=client, learner=learner, env=env, tasks=tasks, store=store,
                              run_id=run_id, run_dir=rdir, server_alive=server_alive)
        if resume_id:
            point = await asyncio.to_thread(trainer.resume)
            bar.console.print(point.message)
        total = settings.grpo.episodes
        progress = bar.add_task("searches", total=total, completed=trainer.iteration)
        sims = bar.add_task("simulations", total=settings.mcts.num_simulations)

        def on_simulation(stats: Any) -> None:
            bar.update(sims, completed=stats.simulations,
                       description=f"simulations ({stats.executions} actions run, {stats.restores} restores)")

        def on_iteration(result: SearchIteration) -> None:
            bar.update(progress, completed=result.iteration)
            bar.reset(sims, total=settings.mcts.num_simulations, description="simulations")
            bar.console.print(_mcts_line(result.iteration, result.metrics))

        trainer.on_iteration = on_iteration
        trainer.on_simulation = on_simulation
        trainer.grpo.rollouts.notify = bar.console.print
        trainer.policy.on_wait = server_wait_progress(bar)
        try:
            await trainer.atrain(total)
        except asyncio.CancelledError:
            trainer.policy.stop_waiting()
            raise
        if shared:
            await asyncio.to_thread(trainer.grpo.unload_adapters)
