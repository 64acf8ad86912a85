"""`halo models`: build and inspect the models halo makes itself (the tiny offline Qwen3-VL)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from halo_cli.commands._common import stdout_console
from halo_cli.core.models.folder import inspect_model_folder
from halo_cli.core.models.tiny import build_tiny_model_info
from halo_cli.core.paths import default_tiny_model_dir

app = typer.Typer(
    help="Build and inspect models: the tiny random Qwen3-VL that runs the whole pipeline offline.",
    no_args_is_help=True,
)



def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def _params(n: int) -> str:
    return f"{n:,} ({n / 1e9:.2f} B)" if n >= 1e9 else f"{n:,} ({n / 1e6:.2f} M)"


@app.command("build-tiny")
def build_tiny(
    directory: Annotated[
        Optional[Path],
        typer.Argument(metavar="[DIR]", help="Where to build it (default: the cache, see `halo models info`)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="Rebuild even if a complete build is there.")] = False,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the random weights (the tokenizer is fixed).")] = 0,
) -> None:
    """Build the tiny random Qwen3-VL (about 1.4 M parameters, 3 MB) offline, deterministically."""
    target = directory if directory is not None else default_tiny_model_dir()
    console = stdout_console()
    with console.status(f"Building the tiny Qwen3-VL in {target} ...", spinner="dots"):
        info = build_tiny_model_info(target, seed=seed, force=force)
    if info.built:
        console.print(f"Built the tiny Qwen3-VL in {info.seconds:.1f} s")
    else:
        console.print("The tiny Qwen3-VL is already built there (--force rebuilds it)")
    table = Table.grid(padding=(0, 2))
    table.add_row("folder", str(info.path))
    table.add_row("parameters", _params(info.num_parameters))
    table.add_row("size", _size(info.size_bytes))
    table.add_row("seed", str(info.seed))
    table.add_row("weights", f"sha256 {info.weights_sha256}")
    console.print(table)


@app.command("info")
def info(
    directory: Annotated[
        Optional[Path], typer.Argument(metavar="[DIR]", help="A model folder (default: the tiny model's cache).")
    ] = None,
) -> None:
    """Describe a model folder from its config and weight headers (cheap: loads no weights)."""
    m = inspect_model_folder(directory if directory is not None else default_tiny_model_dir())
    table = Table.grid(padding=(0, 2))
    table.add_row("folder", str(m.path))
    table.add_row("architecture", f"{m.architecture or '-'} ({m.model_type or '?'})")
    table.add_row("parameters", _params(m.num_parameters))
    table.add_row("size", _size(m.size_bytes))
    table.add_row("dtype", str(m.dtype or "-"))
    t = m.text
    table.add_row(
        "text", f"{t.get('num_hidden_layers', '?')} layers, hidden {t.get('hidden_size', '?')}, "
        f"{t.get('num_attention_heads', '?')} heads / {t.get('num_key_value_heads', '?')} kv, "
        f"head_dim {t.get('head_dim', '?')}",
    )
    if m.vision:
        v = m.vision
        table.add_row(
            "vision", f"depth {v.get('depth', '?')}, hidden {v.get('hidden_size', '?')}, "
            f"patch {v.get('patch_size', '?')}, merge {v.get('spatial_merge_size', '?')}, "
            f"deepstack {v.get('deepstack_visual_indexes', '-')}",
        )
    table.add_row("vocab", f"{m.vocab_size or '?'} rows, {m.tokenizer_tokens or '?'} tokens")
    table.add_row("chat template", "yes" if m.has_chat_template else "no")
    if m.tiny_manifest:
        manifest = m.tiny_manifest
        table.add_row("tiny build", f"recipe {manifest.get('recipe_version')}, seed {manifest.get('seed')}")
    stdout_console().print(table)
