"""`halo serve`: run vLLM (OpenAI API) with the policy model and runtime LoRA loading, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import shlex
import signal
import time
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from halo_cli.commands._common import settings_for
from halo_cli.commands.options import ConfigOption, ProfileOption
from halo_cli.core.errors import HaloError
from halo_cli.core.policy.server import VLLMServer

console = Console(stderr=True)


class _Stop(Exception):
    """Raised from the signal handler so that `finally` stops the whole server process group."""


def serve(
    ctx: typer.Context,
    model: Annotated[Optional[str], typer.Option(help="Hub id or local folder (default: settings model.name).")] = None,
    host: Annotated[Optional[str], typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default 8000).")] = None,
    api_key: Annotated[Optional[str], typer.Option(help="Require this API key from clients.")] = None,
    gpu_memory_utilization: Annotated[
        Optional[float], typer.Option(help="Share of GPU memory for vLLM; the rest is left to the learner.")
    ] = None,
    max_model_len: Annotated[Optional[int], typer.Option(help="Context length.")] = None,
    max_lora_rank: Annotated[Optional[int], typer.Option(help="Largest LoRA rank the server accepts.")] = None,
    max_loras: Annotated[Optional[int], typer.Option(help="Adapters resident at once.")] = None,
    max_images: Annotated[Optional[int], typer.Option(help="Images per prompt (--limit-mm-per-prompt).")] = None,
    log: Annotated[Optional[Path], typer.Option(help="Server log file (default runs/logs/vllm-PORT-TIME.log).")] = None,
    timeout: Annotated[Optional[float], typer.Option(help="Seconds to wait for /health.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the command and environment, start nothing.")] = False,
    profile: ProfileOption = None,
    config: ConfigOption = None,
) -> None:
    """Start vLLM with the policy model, LoRA hot-reload enabled, and wait until it answers."""
    settings = settings_for(
        ctx,
        {
            "model": {"name": model},
            "vllm": {
                "host": host, "port": port, "api_key": api_key, "gpu_memory_utilization": gpu_memory_utilization,
                "max_model_len": max_model_len, "max_lora_rank": max_lora_rank, "max_loras": max_loras,
                "max_images_per_prompt": max_images,
                "startup_timeout_s": timeout,
            },
        },
        config=config,
        profile=profile,
    )
    v = settings.vllm
    if log is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        log = settings.store.path.parent / "logs" / f"vllm-{v.port}-{stamp}.log"
    server = VLLMServer(settings, log_path=log)
    if dry_run:
        env = server.env()
        keys = sorted(k for k in env if k.startswith(("VLLM_", "HF_", "TRANSFORMERS_")))
        typer.echo(" ".join(f"{k}={shlex.quote(env[k])}" for k in keys))
        typer.echo(shlex.join(server.command()))
        return

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise _Stop(signal.Signals(signum).name)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        from halo_cli.core.runtime import (
            ensure_local_model,  # heavy imports only when serving
        )

        ensure_local_model(settings, console.print)
        server.start()
        console.print(f"vLLM starting: [bold]{settings.model.name}[/] on {server.url}  (log: {log})")
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("waiting for /health", total=None)

            def progress(elapsed: float, line: str) -> None:
                bar.update(task, description=f"waiting for /health  {line[-90:]}")

            seconds = server.wait_ready(progress=progress)
        console.print(
            f"[green]ready[/] after {seconds:.0f} s: OpenAI API at {server.base_url}, model "
            f"[bold]{server.served_model_name}[/]; LoRA adapters load at runtime. Ctrl-C stops it."
        )
        while server.running:
            time.sleep(0.5)
        raise HaloError(f"vLLM server exited with code {server.process.returncode} (log: {log})")  # type: ignore[union-attr]
    except (KeyboardInterrupt, _Stop):
        console.print("stopping vLLM ...")
    finally:
        code = server.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
        if code is not None:
            console.print(f"vLLM stopped (exit {code})")
