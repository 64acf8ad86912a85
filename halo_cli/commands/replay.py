"""`halo replay [RUN]`: browse a run's episodes and steps in the terminal, or write them as one HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from halo_cli.commands._common import existing_store, graphics_mode, require_terminal, settings_for
from halo_cli.commands.options import DbOption, GraphicsOption
from halo_cli.core.errors import ConfigError


def replay(
    ctx: typer.Context,
    run: Annotated[Optional[str], typer.Argument(
        help="Run id or a unique prefix (default: choose from a list).")] = None,
    html: Annotated[Optional[Path], typer.Option(
        "--html", help="Write a self-contained HTML report of the run to this file instead.")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only episodes that did not succeed.")] = False,
    domain: Annotated[Optional[str], typer.Option(help="Only episodes of this domain.")] = None,
    task: Annotated[Optional[str], typer.Option(help="Only episodes of this task id.")] = None,
    iteration: Annotated[Optional[int], typer.Option(help="Only episodes of this iteration.")] = None,
    search: Annotated[Optional[str], typer.Option(
        help="Only episodes whose task, domain, policy, reason or a step's URL, action or error contains this."
    )] = None,
    limit: Annotated[int, typer.Option(help="--html: at most this many episodes with their steps (the last ones).",
                                       min=1)] = 50,
    graphics: GraphicsOption = "auto",
    db: DbOption = None,
) -> None:
    """Replay a run: episodes, steps, screenshots with the action marked, samples, rewards, the grader's verdict."""
    from halo_cli.core.store import EpisodeFilter

    path = Path(db) if db is not None else Path(settings_for(ctx).store.path)
    mode = graphics_mode(graphics)
    flt = EpisodeFilter(failed=failed, domain=domain, task=task, iteration=iteration, text=search)
    if html is not None:
        from halo_cli.tui.report import check_writable, write_report

        check_writable(html)  # before any work: an unwritable path is a one-line error at once
        if run is None:
            raise ConfigError("--html needs a RUN: halo replay RUN --html FILE")
        with existing_store(path, run) as store:
            result = write_report(store, store.resolve_run_id(run), html, flt=flt, limit=limit)
        typer.echo(f"wrote {result.path} ({result.episodes} of {result.matching} episodes, {result.steps} steps, "
                   f"{result.size / 1e6:.1f} MB)")
        return
    with existing_store(path, run) as store:
        if run is not None:
            store.resolve_run_id(run)  # an unknown run is a one-line error before the screen is taken
        require_terminal("halo replay (without --html)")
        from halo_cli.tui.replay import ReplayApp

        ReplayApp(store, run, flt=flt, graphics=mode).run()  # type: ignore[arg-type]
