"""The `halo` command line: a Typer root app that registers one sub-app per command group.

Errors a user can act on (bad options, missing files, unknown run ids, invalid settings) print one line on
stderr and exit 2; `--debug` (or HALO_DEBUG=1) shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.exceptions import Abort, Exit, TyperException

from halo_cli import __version__
from halo_cli.commands import eval as eval_cmd
from halo_cli.commands import models as models_cmd
from halo_cli.commands import replay as replay_cmd
from halo_cli.commands import runs as runs_cmd
from halo_cli.commands import serve as serve_cmd
from halo_cli.commands import sites as sites_cmd
from halo_cli.commands import train as train_cmd
from halo_cli.commands import watch as watch_cmd
from halo_cli.commands._common import RootOptions
from halo_cli.core import termination
from halo_cli.core.errors import HaloError

app = typer.Typer(
    name="halo",
    help="Online RL for a Qwen3-VL browser agent on the REAL benchmark.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("serve")(serve_cmd.serve)
app.add_typer(train_cmd.app, name="train")
app.command("eval")(eval_cmd.eval_)
app.add_typer(runs_cmd.app, name="runs")
app.add_typer(models_cmd.app, name="models")
app.add_typer(sites_cmd.app, name="sites")
app.command("watch")(watch_cmd.watch)
app.command("replay")(replay_cmd.replay)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"halo {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Optional[Path], typer.Option("--config", "-c", help="TOML settings file.", envvar="HALO_CONFIG")
    ] = None,
    profile: Annotated[Optional[str], typer.Option(help="Settings profile: default | local.")] = None,
    set_: Annotated[
        Optional[list[str]], typer.Option("--set", help="Override any setting: section.key=value (repeatable).")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    ctx.obj = RootOptions(config=config, profile=profile, set_pairs=list(set_ or []), debug=debug)


def _fail(message: str, code: int) -> int:
    first = message.strip().splitlines()[0] if message.strip() else "error"
    print(f"halo: error: {first}", file=sys.stderr)
    return code


def _is_no_args_help(e: TyperException) -> bool:
    """A group called without a subcommand. Typer's bundled click raises it as a usage error whose message is the
    group's help; its class lives in a private module (`typer._click`), so it is recognised by name, as typer's own
    rich_utils does."""
    return type(e).__name__ == "NoArgsIsHelpError"


def _exit(code: int, argv: list[str] | None) -> int:
    if argv is None:
        sys.exit(code)
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `halo` script; returns (and exits with) the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("HALO_DEBUG") == "1"
    command = typer.main.get_command(app)
    try:
        rv = command.main(args=args, prog_name="halo", standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
        signal = termination.received()  # SIGTERM or SIGHUP, which train and eval turn into an interrupt
        if signal is not None and code == 130:  # typer returns a KeyboardInterrupt as exit code 130
            print(f"halo: aborted by {signal.name}", file=sys.stderr)
            code = 128 + signal.value
    except Exit as e:
        code = e.exit_code
    except (Abort, KeyboardInterrupt):
        signal = termination.received()
        print(f"halo: aborted by {signal.name}" if signal else "halo: aborted", file=sys.stderr)
        code = 128 + signal.value if signal else 130
    except TyperException as e:  # typer bundles its own click: usage errors, bad options, unknown commands
        if _is_no_args_help(e):  # `halo` or `halo runs` alone: the help is the answer
            print(e.format_message())
            return _exit(0, argv)
        if debug:
            raise
        code = _fail(e.format_message(), 2)
    except HaloError as e:
        if debug:
            raise
        code = _fail(str(e), e.exit_code)
    except Exception as e:  # a bug: still one line, with the way to see more
        if debug:
            raise
        code = _fail(f"{type(e).__name__}: {e} (run with --debug for the traceback)", 1)
    return _exit(code, argv)


if __name__ == "__main__":
    main()
