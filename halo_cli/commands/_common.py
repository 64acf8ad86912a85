"""What every command shares: the root options and how they turn into resolved settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from halo_cli.core.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from halo_cli.core.store import RunStore


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


def stdout_console() -> Console:
    """The console for a command's results on stdout. Piped, Rich assumes 80 columns, which would fold task ids
    and paths: 160 then, unless COLUMNS says otherwise."""
    import os
    import sys

    if not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        return Console(width=160)
    return Console()


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


def existing_store(path: Path, run: str | None = None) -> RunStore:
    """The run store at `path` for a command that only looks: a missing file is an error, never created (a mistyped
    --db must not leave an empty database behind)."""
    from halo_cli.core.store import RunStore  # sqlite-utils pulls in numpy: only for commands that need the store

    if not path.exists():
        what = f"unknown run {run!r}: there" if run else "there"
        raise NotFoundError(f"{what} is no run store at {path} (see --db, store.path)")
    return RunStore(path, create=False)


def graphics_mode(value: str) -> str:
    if value not in ("auto", "blocks"):
        raise ConfigError(f"--graphics must be auto or blocks, not {value!r}")
    return value


def require_terminal(what: str) -> None:
    """Textual apps draw on a terminal; piped or in a script they would print escape codes, so refuse in one line."""
    import sys

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise ConfigError(f"{what} needs a terminal (stdin and stdout are not both one)")
