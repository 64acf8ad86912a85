"""`halo sites`: the local REAL-compatible sites: serve them, list the tasks they serve, audit the graders."""

from __future__ import annotations

import asyncio
import signal
import time
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from halo_cli.commands._common import progress_bar, settings_for, stdout_console
from halo_cli.commands.options import ConfigOption, DomainOption, ProfileOption, SitesOption
from halo_cli.core.errors import ConfigError

if TYPE_CHECKING:
    from halo_cli.core.env.sites.audit import AuditEntry

app = typer.Typer(
    help="The local REAL sites (GoMail, GoCalendar, Omnizon, Zilloft): serve them, list their tasks, audit graders.",
    no_args_is_help=True,
)
console = Console(stderr=True)

SiteOption = Annotated[Optional[list[str]], typer.Option(
    "--site", help="Only this site (gomail, gocalendar, omnizon, zilloft); repeatable.")]



class _Stop(Exception):
    """Raised from the signal handler so that `finally` closes the servers."""


@app.command("serve")
def serve(
    ctx: typer.Context,
    port: Annotated[Optional[int], typer.Option(
        help="Base port: gomail on it, gocalendar +1, omnizon +2, zilloft +3 (default env.local_sites_port, 8610).")
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    site: SiteOption = None,
    profile: ProfileOption = None,
    config: ConfigOption = None,
) -> None:
    """Serve the local sites until Ctrl-C or SIGTERM; runs with sites=local on the same port use them."""
    from halo_cli.core.env.sites import LocalSites

    settings = settings_for(ctx, {"env": {"local_sites_port": port}}, config=config, profile=profile)
    sites = LocalSites(site, host=host, base_port=settings.env.local_sites_port)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise _Stop(signal.Signals(signum).name)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        with sites:
            for name, url in sites.urls().items():
                console.print(f"{name:<11} {url}/   (task reset: {url}/config?task_id=v2.{name}-1)")
            console.print(f"[green]serving[/] {len(sites.urls())} site(s); Ctrl-C stops them")
            while True:
                time.sleep(3600)
    except (KeyboardInterrupt, _Stop):
        console.print("stopped the local sites")
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@app.command("list")
def list_(
    site: SiteOption = None,
    all_versions: Annotated[bool, typer.Option("--all", help="Include v1 tasks (never served locally).")] = False,
) -> None:
    """Every REAL task of the four sites: whether the local sites serve it, and why not."""
    from halo_cli.core.env.sites import SITES, task_manifest

    known = {s.name for s in SITES}
    bad = [s for s in site or [] if s not in known]
    if bad:
        raise ConfigError(f"no local site {bad[0]!r} (known: {', '.join(sorted(known))})")
    rows = [m for m in task_manifest(("v1", "v2") if all_versions else ("v2",)) if not site or m.site in site]
    table = Table(show_lines=False)
    for col in ("task", "site", "served", "why not / notes"):
        table.add_column(col, overflow="fold")
    for m in rows:
        table.add_row(m.task_id, m.site, "[green]yes[/]" if m.supported else "[red]no[/]",
                      m.reason or m.notes or "")
    out = stdout_console()
    out.print(table)
    by_site: dict[str, list[int]] = {}
    for m in rows:
        by_site.setdefault(m.site, [0, 0])[0 if m.supported else 1] += 1
    out.print("served: " + ", ".join(f"{s} {n[0]}/{n[0] + n[1]}" for s, n in by_site.items())
              + f"; {sum(n[0] for n in by_site.values())} of {len(rows)} tasks")


@app.command("audit")
def audit(
    ctx: typer.Context,
    domain: DomainOption = None,
    sites: SitesOption = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Episodes at once.")] = 4,
    profile: ProfileOption = None,
    config: ConfigOption = None,
) -> None:
    """Grade a do-nothing episode (reset, then /finish) on every task; flag those whose grader passes anyway.

    Runs then leave the flagged tasks out (env.keep_flagged=true keeps them). The verdicts are kept per site
    setting in sites-audit.json beside the run store. Default tasks: the four sites' v2 tasks.
    """
    from halo_cli.core.env.browser import BrowserEnv
    from halo_cli.core.env.real import RealSource
    from halo_cli.core.env.sites.audit import audit_path, run_audit, save_audit
    from halo_cli.core.env.tasks import select_tasks
    from halo_cli.core.runtime import build_sources, check_tasks, close_sources, local_sites, unusable_tasks

    settings = settings_for(ctx, {"env": {"sites": sites}}, config=config, profile=profile)
    spec = domain or "gomail,gocalendar,omnizon,zilloft"
    sources = build_sources(settings)
    try:
        real = next(s for s in sources if isinstance(s, RealSource))
        chosen = [t for t in select_tasks(spec, sources, version=settings.env.task_version) if t.source == real.name]
        if not chosen:
            raise ConfigError(f"{spec!r} selects no REAL task: the audit grades REAL tasks")
        left_out, _ = unusable_tasks(chosen, settings, real, use_audit=False)
        tasks = [t for t in chosen if t.id not in left_out]
        if left_out:
            console.print(f"skipped {len(left_out)} task(s) no grader or site can run: "
                          + "; ".join(f"{t} ({why})" for t, why in left_out.items()))
        if not tasks:
            raise ConfigError(f"no task of {spec!r} can be audited")
        with local_sites(settings, tasks, sources, console.print):
            check_tasks(tasks, sources)
            with progress_bar(console) as bar:
                job = bar.add_task("do-nothing episodes", total=len(tasks))

                def on_entry(e: AuditEntry) -> None:
                    bar.advance(job)
                    if e.flagged:
                        bar.console.print(f"[red]{e.task_id}[/] passes without any action")

                async def go() -> list[AuditEntry]:
                    async with BrowserEnv(settings.browser, sources) as env:
                        return await run_audit(env, tasks, concurrency=concurrency, on_entry=on_entry)

                results = asyncio.run(go())
    finally:
        close_sources(sources)
    saved = save_audit(audit_path(settings), settings.env.sites, results)
    _print_audit(results)
    flagged = [e.task_id for e in results if e.flagged]
    errors = [e for e in results if e.status == "error"]
    console.print(f"{len(results)} tasks audited against {saved.basis}: {len(flagged)} pass without any action"
                  + (f" ({', '.join(flagged)}: left out of runs)" if flagged else "")
                  + (f", {len(errors)} could not run" if errors else "") + f"; kept in {audit_path(settings)}")
    if errors:
        raise typer.Exit(1)


def _print_audit(entries: list[AuditEntry]) -> None:
    table = Table()
    for col in ("task", "do nothing", "seconds", "reason"):
        table.add_column(col, overflow="fold")
    style = {"success": "bold red", "failure": "green", "error": "yellow"}
    for e in entries:
        shown = "PASSES" if e.flagged else e.status
        table.add_row(e.task_id, f"[{style.get(e.status, '')}]{shown}[/]", f"{e.seconds:.1f}", (e.reason or "")[:100])
    stdout_console().print(table)
