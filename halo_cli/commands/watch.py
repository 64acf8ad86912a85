"""`halo watch RUN`: the live dashboard of a run, from another terminal while it trains (or after)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from halo_cli.commands._common import existing_store, graphics_mode, require_terminal, settings_for
from halo_cli.commands.options import DbOption, GraphicsOption


def watch(
    ctx: typer.Context,
    run: Annotated[str, typer.Argument(help="Run id, or a unique prefix of one.")],
    interval: Annotated[float, typer.Option(help="Seconds between looks at the store.", min=0.2)] = 1.0,
    graphics: GraphicsOption = "auto",
    db: DbOption = None,
) -> None:
    """Live dashboard of a run: curves, episodes in flight, the latest screenshot and samples, adapters."""
    path = Path(db) if db is not None else Path(settings_for(ctx).store.path)
    mode = graphics_mode(graphics)
    with existing_store(path, run) as store:
        run_id = store.resolve_run_id(run)  # an unknown run is a one-line error before the screen is taken
    require_terminal("halo watch")
    from halo_cli.tui.watch import WatchApp

    WatchApp(path, run_id, interval=interval, graphics=mode).run()  # type: ignore[arg-type]
