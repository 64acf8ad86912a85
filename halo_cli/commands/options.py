"""The command-line options several commands share, declared once so their names, types and help never drift.

Each is an `Annotated` type a command uses as a parameter's annotation; an option left unset is None, so lower
settings sources (the profile, a TOML file, `HALO_*` variables) still apply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

ProfileOption = Annotated[Optional[str], typer.Option(help="Settings profile: default | local.")]
ConfigOption = Annotated[Optional[Path], typer.Option("--config", "-c", help="TOML settings file.")]
DomainOption = Annotated[Optional[str], typer.Option(
    help="Tasks: a domain (gomail), a task id (v2.gomail-1), miniwob:click-test-2, or all; comma-separated.")]
PolicyUrlOption = Annotated[Optional[str], typer.Option(
    help="A running vLLM server (started with `halo serve`); without it halo starts one and stops it after.")]
MaxStepsOption = Annotated[Optional[int], typer.Option(help="Step budget of an episode.")]
SitesOption = Annotated[Optional[str], typer.Option(help="REAL sites: hosted | local | site=URL,...")]
SeedOption = Annotated[Optional[int], typer.Option(help="Seed of the run: task seeds, sampling, LoRA init.")]
DbOption = Annotated[Optional[Path], typer.Option(
    "--db", help="Run store file (default: store.path from the settings, runs/halo.db).")]
GraphicsOption = Annotated[str, typer.Option(
    help="Screenshots: auto (terminal graphics where the terminal has them, else blocks) | blocks.")]
