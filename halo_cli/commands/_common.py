"""What every command shares: the root options and how they turn into resolved settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from halo_cli.core.config import (
    Settings,
    deep_merge,
    load_settings,
    overrides_from_pairs,
)


@dataclass
class RootOptions:
    config: Path | None = None
    profile: str | None = None
    set_pairs: list[str] = field(default_factory=list)
    debug: bool = False


def root_options(ctx: typer.Context) -> RootOptions:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, RootOptions) else RootOptions()


def settings_for(
    ctx: typer.Context,
    overrides: dict[str, Any] | None = None,
    *,
    config: Path | None = None,
    profile: str | None = None,
) -> Settings:
    """Settings for a command: its own options (highest), then `--set`, env, the TOML file, the profile, defaults.

    A command may take its own --config/--profile; they win over the root ones.
    """
    root = root_options(ctx)
    cli = deep_merge(overrides_from_pairs(root.set_pairs), drop_none(overrides or {}))
    return load_settings(config_file=config or root.config, profile=profile or root.profile, overrides=cli)


def drop_none(d: dict[str, Any]) -> dict[str, Any]:
    """Options left unset on the command line must not shadow lower sources."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            v = drop_none(v)
            if v:
                out[k] = v
        elif v is not None:
            out[k] = v
    return out


def progress_bar(console: Console) -> Progress:
    """The progress display of long commands: spinner, description, bar, count, elapsed time."""
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console)


def server_wait_progress(bar: Progress) -> Callable[[Any], None]:
    """A `PolicyCaller.on_wait` callback: a line when the policy server stops answering and when the wait ends, and
    the seconds waited in the progress display meanwhile."""
    shown: list[Any] = []

    def update(wait: Any) -> None:  # a core.rl.rollout.ServerWait
        if wait.state == "lost":
            bar.console.print(f"[yellow]policy server {wait.url} stopped answering[/]: waiting for the policy server "
                              f"to come back, up to {wait.limit_s:.0f} s (vllm.lost_server_timeout_s)")
            shown.append(bar.add_task(wait.message(), total=None))
        elif wait.state == "waiting":
            for task in shown:
                bar.update(task, description=wait.message())
        else:
            while shown:
                bar.remove_task(shown.pop())
            bar.console.print(wait.message())

    return update


def server_progress(bar: Progress, task: Any) -> Callable[[float, str], None]:
    """A callback that shows the vLLM server's latest log line while it starts."""

    def update(elapsed: float, line: str) -> None:
        bar.update(task, description=f"starting vLLM  {line[-70:]}")

    return update
