"""The tiny Qwen3-VL: deterministic offline build, loads in both environments, renders the real chat template,
generates from a screenshot, takes a LoRA adapter on the language model only."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import require_vllm_env, screenshot_png
from PIL import Image

from halo_cli.core.errors import HaloError
from halo_cli.core.models.load import load_processor
from halo_cli.core.models.tiny import (
    EOS_TOKEN,
    LM_FINAL_NORM,
    LM_NORM_GAIN,
    MANIFEST_NAME,
    PAD_TOKEN,
    QWEN_ADDED_TOKENS,
    QWEN_SPECIAL_TOKENS,
    RECIPE_VERSION,
    build_tiny_model,
    build_tiny_model_info,
    load_tiny_model,
    load_tiny_processor,
    read_manifest,
)

# sha256 of Qwen3-VL-8B-Instruct's chat template, as published (5292 bytes).
QWEN3_VL_TEMPLATE_SHA256 = "3636d0f0bd6bef02654cdffdc447b79cb2cef8ab02cc75267345946291a489e4"

COMPUTER_USE_TOOL = {
    "type": "function",
    "function": {
        "name": "computer_use",
        "description": "Use a mouse and keyboard to interact with a computer.",
        "parameters": {
            "type": "object",
            "required": ["action"],
            "properties": {
                "action": {"type": "string", "enum": ["left_click", "type", "key", "scroll", "terminate"]},
                "coordinate": {"type": "array"},
                "text": {"type": "string"},
            },
        },
    },
}


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def screenshot() -> Image.Image:
    return Image.open(io.BytesIO(screenshot_png())).convert("RGB")


# -- build ---------------------------------------------------------------------------------------------------


def test_build_is_byte_identical_in_process_and_in_another_process(tiny_model_dir: Path, tmp_path: Path) -> None:
    again = build_tiny_model(tmp_path / "again")
    other = tmp_path / "other-process"
    code = f"from halo_cli.core.models.tiny import build_tiny_model; build_tiny_model({str(other)!r})"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr

    reference = digests(tiny_model_dir)
    expected = {"model.safetensors", "tokenizer.json", "config.json", "chat_template.jinja", MANIFEST_NAME}
    assert expected <= set(reference)
    assert digests(again) == reference
    assert digests(other) == reference
    size = (tiny_model_dir / "model.safetensors").stat().st_size
    assert 1_000_000 < size < 10_000_000


def test_build_is_idempotent_atomic_and_forced(tiny_model_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "m"
    first = build_tiny_model_info(target)
    assert first.built and first.seed == 0 and first.recipe_version == RECIPE_VERSION
    assert 1_000_000 < first.num_parameters < 4_000_000
    mtime = (target / "model.safetensors").stat().st_mtime_ns

    reused = build_tiny_model_info(target)
    assert not reused.built and reused.weights_sha256 == first.weights_sha256
    assert (target / "model.safetensors").stat().st_mtime_ns == mtime

    forced = build_tiny_model_info(target, force=True)
    assert forced.built and forced.weights_sha256 == first.weights_sha256
    # Nothing but the model itself in the parent: no temp or old folders left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_seed_changes_weights_but_not_tokenizer(tiny_model_dir: Path, tmp_path: Path) -> None:
    seeded = build_tiny_model_info(tmp_path / "seed1", seed=1)
    assert seeded.seed == 1
    a, b = digests(tiny_model_dir), digests(seeded.path)
    assert a["model.safetensors"] != b["model.safetensors"]
    assert a["tokenizer.json"] == b["tokenizer.json"] and a["config.json"] == b["config.json"]
    # A different seed in the same folder is a different build: it replaces the old one.
    assert build_tiny_model_info(seeded.path, seed=2).built
    assert read_manifest(seeded.path)["seed"] == 2


def test_refuses_a_file_or_a_foreign_folder(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(HaloError, match="not a folder"):
        build_tiny_model(a_file)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(HaloError, match="not empty"):
        build_tiny_model(foreign, force=True)
    assert (foreign / "notes.txt").read_text() == "mine"


# -- config, tokenizer, template ------------------------------------------------------------------------------


def test_loads_offline_with_the_real_architecture(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import (
        AutoConfig,
        AutoModelForImageTextToText,
        Qwen3VLForConditionalGeneration,
    )

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = Qwen3VLForConditionalGeneration.from_pretrained(tiny_model_dir, local_files_only=True)
    assert type(AutoModelForImageTextToText.from_config(AutoConfig.from_pretrained(tiny_model_dir))).__name__ == (
        "Qwen3VLForConditionalGeneration"
    )
    cfg = model.config
    text, vision = cfg.text_config, cfg.vision_config
    assert text.vocab_size % 64 == 0
    assert sum(text.rope_parameters["mrope_section"]) == text.head_dim // 2
    assert text.rope_parameters["mrope_interleaved"] is True
    assert (vision.patch_size, vision.spatial_merge_size, vision.temporal_patch_size) == (16, 2, 2)
    assert vision.deepstack_visual_indexes and vision.out_hidden_size == text.hidden_size
    n = sum(p.numel() for p in model.parameters())
    assert 1_000_000 < n < 4_000_000
    assert n == read_manifest(tiny_model_dir)["num_parameters"]


def test_tokenizer_has_qwen_special_tokens(tiny_model_dir: Path) -> None:
    from transformers import AutoConfig

    tok = load_tiny_processor(tiny_model_dir).tokenizer
    cfg = AutoConfig.from_pretrained(tiny_model_dir, local_files_only=True)
    assert len(tok) == cfg.text_config.vocab_size  # every embedding row is a real token
    ids = [tok.convert_tokens_to_ids(t) for t in QWEN_SPECIAL_TOKENS + QWEN_ADDED_TOKENS]
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # contiguous, in Qwen's order, after the BPE pieces
    assert set(QWEN_SPECIAL_TOKENS) <= set(tok.all_special_tokens)
    assert not set(QWEN_ADDED_TOKENS) & set(tok.all_special_tokens)
    assert tok.eos_token == EOS_TOKEN and tok.pad_token == PAD_TOKEN
    assert tok.convert_tokens_to_ids("<|image_pad|>") == cfg.image_token_id
    assert tok.convert_tokens_to_ids("<|video_pad|>") == cfg.video_token_id
    assert tok.convert_tokens_to_ids("<|vision_start|>") == cfg.vision_start_token_id
    assert tok.convert_tokens_to_ids("<|vision_end|>") == cfg.vision_end_token_id
    assert cfg.text_config.eos_token_id == tok.eos_token_id

    reply = 'Action: Click "Search".\n<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", ' \
            '"coordinate": [512, 288]}}\n</tool_call>'
    ids = tok(reply + EOS_TOKEN)["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == reply  # tool-call tags survive, <|im_end|> does not
    assert tok.convert_tokens_to_ids("<tool_call>") in ids and ids[-1] == tok.eos_token_id
    assert len(ids) < len(reply) / 2  # the BPE learnt the action vocabulary
    for digit in "0123456789":
        assert tok.tokenize(f"[{digit}{digit}{digit}")[1:] == [digit] * 3  # Qwen's one-token-per-digit split


def test_chat_template_is_qwen3_vl_with_tools_images_and_tool_turns(tiny_model_dir: Path) -> None:
    assert hashlib.sha256((tiny_model_dir / "chat_template.jinja").read_bytes()).hexdigest() == QWEN3_VL_TEMPLATE_SHA256
    proc = load_tiny_processor(tiny_model_dir)
    messages = [
        {"role": "system", "content": "You are a web agent."},
        {"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "text", "text": "Goal: search for shoes."},
        ]},
        {"role": "assistant", "content": "Action: Click the search box.", "tool_calls": [
            {"type": "function", "function": {"name": "computer_use",
                                              "arguments": {"action": "left_click", "coordinate": [500, 40]}}},
        ]},
        {"role": "tool", "content": [{"type": "image"}, {"type": "text", "text": "clicked"}]},
    ]
    text = proc.apply_chat_template(messages, tools=[COMPUTER_USE_TOOL], add_generation_prompt=True, tokenize=False)
    assert text.startswith("<|im_start|>system\nYou are a web agent.\n\n# Tools\n")
    assert "<tools>\n" + json.dumps(COMPUTER_USE_TOOL) + "\n</tools>" in text
    assert "<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>" in text
    assert "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Goal: search for shoes.<|im_end|>\n" in text
    assert ('<|im_start|>assistant\nAction: Click the search box.\n<tool_call>\n{"name": "computer_use", '
            '"arguments": {"action": "left_click", "coordinate": [500, 40]}}\n</tool_call><|im_end|>\n') in text
    assert ("<|im_start|>user\n<tool_response>\n<|vision_start|><|image_pad|><|vision_end|>clicked\n"
            "</tool_response><|im_end|>\n") in text
    assert text.endswith("<|im_start|>assistant\n")
    # Without tools: a plain system turn; string content works too.
    plain = proc.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert plain == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


# -- inference and LoRA in the learner environment -------------------------------------------------------------


def test_generates_text_from_a_screenshot(tiny_model_dir: Path) -> None:
    proc = load_tiny_processor(tiny_model_dir)
    model = load_tiny_model(tiny_model_dir)
    assert model.dtype == torch.float32
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Goal: click Sign in."}]}]
    prompt = proc.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = proc(text=[prompt], images=[screenshot()], return_tensors="pt")
    assert inputs["image_grid_thw"].tolist() == [[1, 44, 80]]  # 704x1280 after smart_resize: 880 vision tokens
    assert int((inputs["input_ids"] == model.config.image_token_id).sum()) == 880
    torch.manual_seed(0)
    out = model.generate(**inputs, max_new_tokens=12, do_sample=True, temperature=0.7)
    new = out[0, inputs["input_ids"].shape[1]:]
    assert 1 <= len(new) <= 12
    assert isinstance(proc.tokenizer.decode(new), str)
    # Next-token predictions are peaked like a trained model's (the final norm's gain), not flat: a flat random
    # policy is one RL cannot move (see LM_NORM_GAIN).
    with torch.no_grad():
        logits = model(**inputs).logits[0, -1]
    flat = math.log(logits.numel())
    entropy = float(-(logits.log_softmax(-1) * logits.softmax(-1)).sum())
    assert float(logits.std()) > 1.0 and entropy < flat - 0.5
    assert float(model.state_dict()[LM_FINAL_NORM][0]) == LM_NORM_GAIN
    # Greedy decoding is deterministic: same weights, same image, same tokens.
    a = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    b = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    assert torch.equal(a, b)


def test_lora_adapter_on_language_model_only(tiny_model_dir: Path, tmp_path: Path) -> None:
    from peft import LoraConfig, PeftModel, get_peft_model

    from halo_cli.core.config import LoraSettings

    base = load_tiny_model(tiny_model_dir)
    lora = LoraSettings(rank=8, alpha=16, dropout=0.0)
    model = get_peft_model(base, LoraConfig(r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                                            target_modules=lora.target_modules))
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n for n in names)
    assert not [n for n in names if "visual" in n]
    assert {m for m in lora.target_modules if any(f".{m}.lora_A" in n for n in names)} == set(lora.target_modules)

    proc = load_tiny_processor(tiny_model_dir)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "go"}]}]
    prompt = proc.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = proc(text=[prompt], images=[screenshot().resize((320, 180))], return_tensors="pt")
    loss = model(**inputs, labels=inputs["input_ids"]).loss
    loss.backward()
    assert all(p.grad is not None for n, p in model.named_parameters() if p.requires_grad and "lora_B" in n)
    model.save_pretrained(tmp_path / "adapter")
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    reloaded = PeftModel.from_pretrained(load_tiny_model(tiny_model_dir), tmp_path / "adapter", local_files_only=True)
    assert reloaded.peft_config["default"].r == 8


def test_processor_loads_without_torchvision(tiny_model_dir: Path) -> None:
    import importlib.util

    proc = load_processor(tiny_model_dir)
    if importlib.util.find_spec("torchvision") is None:
        assert not hasattr(proc, "video_processor")
    assert type(proc).__mro__[1].__name__ == "Qwen3VLProcessor" or type(proc).__name__ == "Qwen3VLProcessor"
    assert proc.image_processor.size["longest_edge"] == 16777216
    assert proc.image_processor.patch_size == 16 and proc.image_processor.merge_size == 2
    with pytest.raises(HaloError, match="not found"):
        load_processor(tiny_model_dir / "missing")


# -- the vLLM environment reads the same files the same way ------------------------------------------------------

_VLLM_ENV_SCRIPT = r"""
import json, sys
from PIL import Image
from transformers import AutoProcessor, AutoTokenizer
path, image = sys.argv[1], sys.argv[2]
proc = AutoProcessor.from_pretrained(path, local_files_only=True)
messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Goal: click Sign in."}]}]
prompt = proc.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
out = proc(text=[prompt], images=[Image.open(image).convert("RGB")], return_tensors="pt")
print(json.dumps({
    "processor": type(proc).__name__, "video": type(proc.video_processor).__name__,
    "tokenizer": type(AutoTokenizer.from_pretrained(path, local_files_only=True)).__name__,
    "prompt": prompt, "input_ids": out["input_ids"][0].tolist(), "grid": out["image_grid_thw"].tolist(),
    "pixels": list(out["pixel_values"].shape), "pixel_sum": float(out["pixel_values"].double().sum()),
}))
"""


@pytest.mark.vllm
def test_vllm_environment_processes_like_the_learner(tiny_model_dir: Path, tmp_path: Path) -> None:
    python = require_vllm_env()
    image = tmp_path / "shot.png"
    image.write_bytes(screenshot_png())
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    p = subprocess.run([str(python), "-c", _VLLM_ENV_SCRIPT, str(tiny_model_dir), str(image)],
                       capture_output=True, text=True, timeout=300, env={**env, "HF_HUB_OFFLINE": "1"})
    assert p.returncode == 0, p.stderr[-3000:]
    there = json.loads(p.stdout.strip().splitlines()[-1])
    assert there["processor"] == "Qwen3VLProcessor" and there["video"] == "Qwen3VLVideoProcessor"
    assert there["tokenizer"] == "Qwen2Tokenizer"

    proc = load_tiny_processor(tiny_model_dir)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Goal: click Sign in."}]}]
    prompt = proc.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    here = proc(text=[prompt], images=[Image.open(image).convert("RGB")], return_tensors="pt")
    assert there["prompt"] == prompt
    assert there["input_ids"] == here["input_ids"][0].tolist()
    assert there["grid"] == here["image_grid_thw"].tolist()
    assert there["pixels"] == list(here["pixel_values"].shape)
    assert there["pixel_sum"] == pytest.approx(float(here["pixel_values"].double().sum()), rel=1e-3, abs=1.0)
