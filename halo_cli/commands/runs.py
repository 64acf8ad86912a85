"""`halo runs`: look at, export and delete what training recorded in the run store."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich import box
from rich.json import JSON
from rich.markup import escape
from rich.table import Table

from halo_cli.commands._common import existing_store, settings_for, stdout_console
from halo_cli.commands.options import DbOption
from halo_cli.core.errors import HaloError

if TYPE_CHECKING:
    from halo_cli.core.store import RunStore

app = typer.Typer(
    help="List, show, export and delete training runs recorded in the run store.",
    no_args_is_help=True,
)


_DB_KEY = "halo.runs.db"


@app.callback()
def runs_group(ctx: typer.Context, db: DbOption = None) -> None:
    # ctx.meta is shared with the subcommand's context; ctx.obj must stay the root options.
    ctx.meta[_DB_KEY] = db


def _store_path(ctx: typer.Context, db: Path | None) -> Path:
    """`--db` after the subcommand wins over `--db` on the group, which wins over the settings.

    Settings are resolved even when --db is given, so a broken config or profile is reported the same way
    whichever command meets it first.
    """
    settings = settings_for(ctx)
    chosen = db or ctx.meta.get(_DB_KEY)
    return Path(chosen) if chosen is not None else Path(settings.store.path)


def _open(ctx: typer.Context, db: Path | None, run: str) -> RunStore:
    return existing_store(_store_path(ctx, db), run)



def _local_time(iso: str | None, *, seconds: bool = True) -> str:
    if not iso:
        return "-"
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else ""))
    except ValueError:
        return iso


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def _value(v: float | None) -> str:
    if v is None:
        return "-"
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:.6g}"


_STATUS_STYLE = {"running": "cyan", "finished": "green", "failed": "red", "aborted": "yellow", "dead": "bold red"}


@app.command("list")
def list_runs(ctx: typer.Context, db: DbOption = None) -> None:
    """Every run, newest first, with its progress; `dead`: recorded as running, but its process is gone."""
    path = _store_path(ctx, db)
    table = Table(title=f"Runs in {path}", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("id", no_wrap=True, min_width=25, style="bold")
    table.add_column("command", overflow="fold")
    table.add_column("domain", overflow="fold")
    table.add_column("status", no_wrap=True, min_width=8)
    table.add_column("iterations", justify="right", min_width=5, overflow="fold")
    table.add_column("best success", justify="right", min_width=5, overflow="fold")
    table.add_column("started", min_width=10)
    if path.exists():  # a store not created yet is an empty list, and must stay uncreated
        from halo_cli.core.store import RunStore

        with RunStore(path, create=False) as store:
            runs = store.list_runs()
        for r in runs:
            status = r.status_now  # `dead`: recorded as running, but its process is gone
            style = _STATUS_STYLE.get(status, "")
            table.add_row(
                escape(r.id),
                escape(r.command),
                escape(r.domain or "-"),
                f"[{style}]{escape(status)}[/]" if style else escape(status),
                "-" if r.iterations is None else str(r.iterations),
                _pct(r.best_success_rate),
                _local_time(r.started, seconds=False),
            )
    stdout_console().print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    run: Annotated[str, typer.Argument(help="Run id, or a unique prefix of one.")],
    db: DbOption = None,
) -> None:
    """A run's resolved config and its latest metrics (and its search trees, for `train mcts` runs)."""
    from halo_cli.core.store.trees import tree_counts

    with _open(ctx, db, run) as store:
        r = store.get_run(run)
        metrics = store.last_metrics(r.id)
        episodes = store.list_episodes(r.id)
        adapters = store.list_adapters(r.id)
        trees = tree_counts(store, r.id)
    console = stdout_console()
    finished = [e for e in episodes if e.status == "finished"]
    successes = sum(1 for e in finished if e.success)
    facts = [
        ("id", r.id),
        ("command", r.command),
        ("domain", r.domain or "-"),
        ("status", f"dead (recorded as running, but its process {r.pid} on {r.host} is gone)" if r.dead
         else r.status),
        ("started", _local_time(r.started)),
        ("ended", _local_time(r.ended)),
        ("episodes", f"{len(episodes)} ({len(finished)} finished, {successes} successful)"),
        ("adapters", ", ".join(f"v{a.version}{' (loaded)' if a.loaded else ''}" for a in adapters) or "-"),
        *([("search trees", f"{trees.trees} ({trees.successful} found a success), {trees.nodes} nodes, "
            f"{trees.critiques} critiques ({trees.unreadable_critiques} unreadable)")] if trees.trees else []),
        ("git", r.git_rev or "-"),
        ("host", r.host or "-"),
        ("halo", r.halo_version or "-"),
    ]
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    for k, v in facts:
        head.add_row(k, escape(v))
    console.print(head)
    console.print()
    console.print("[bold]config[/]")
    console.print(JSON.from_data(r.config, indent=2))
    console.print()
    table = Table(title="last metrics", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("iteration", justify="right")
    table.add_column("value", justify="right")
    for name, m in metrics.items():
        table.add_row(escape(name), str(m.iteration), _value(m.value))
    if not metrics:
        table.caption = "no metrics logged yet"
    console.print(table)


@app.command("export")
def export(
    ctx: typer.Context,
    run: Annotated[str, typer.Argument(help="Run id, or a unique prefix of one.")],
    format_: Annotated[str, typer.Option(
        "--format", "-f", help="Output format: jsonl (trajectories) | dpo (preference pairs of search trees).")] = "jsonl",
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", help="Output folder (default: exports/<run id> beside the store)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Trajectories as JSON Lines (one episode per line) with their screenshots as PNG files; `--format dpo`: the
    preference pairs of a `train mcts` run's search trees (best vs worst sibling by Q) for DPO."""
    from halo_cli.core.store import FORMATS, export_jsonl
    from halo_cli.core.store.dpo import export_dpo

    if format_ not in FORMATS:
        # A HaloError rather than a click exception: typer vendors its own click, so only ours is certain
        # to reach app.main as a one-line error.
        raise HaloError(f"unknown export format {format_!r} (known: {', '.join(FORMATS)})")
    with _open(ctx, db, run) as store:
        r = store.get_run(run)
        target = out if out is not None else store.path.parent / "exports" / r.id
        if format_ == "dpo":
            pairs = export_dpo(store, r.id, target)
            typer.echo(f"wrote {pairs.pairs} preference pairs to {pairs.path} ({pairs.screenshots} screenshots)")
            return
        result = export_jsonl(store, r.id, target)
    typer.echo(f"wrote {result.trajectories} trajectories to {result.path} ({result.screenshots} screenshots)")


@app.command("delete")
def delete(
    ctx: typer.Context,
    run: Annotated[str, typer.Argument(help="Run id, or a unique prefix of one.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    db: DbOption = None,
) -> None:
    """Delete a run with its episodes, steps, samples, metrics, adapters records and unshared screenshots."""
    with _open(ctx, db, run) as store:
        r = store.get_run(run)
        if not yes:
            n = len(store.list_episodes(r.id))
            warn = " It is still marked running." if r.status == "running" else ""
            try:
                confirmed = typer.confirm(f"Delete run {r.id} ({r.command}, {n} episodes)?{warn}", default=False)
            except typer.Abort:  # end of input or Ctrl-C: nobody said yes
                typer.echo()
                raise HaloError(f"run {r.id} not deleted: no answer (pass --yes to delete without asking)") from None
            if not confirmed:
                typer.echo(f"kept run {r.id}")
                return
        store.delete_run(r.id)
    typer.echo(f"deleted run {r.id}")
