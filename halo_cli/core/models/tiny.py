"""A tiny Qwen3-VL built offline, so the whole pipeline (vLLM serving, LoRA learning, hot reload) runs without
a GPU or the model hub.

It is the real architecture (`Qwen3VLForConditionalGeneration`, DeepStack vision tower, interleaved M-RoPE), the
real Qwen3-VL-Instruct chat template (tools included) and the real image-processor settings, at ~1.5 M random
parameters. Only the tokenizer is our own: a byte-level BPE trained on a corpus generated here, with Qwen's
pre-tokenizer and special tokens, so prompts and `computer_use` tool calls tokenize like they would for the real
model, just into more pieces.

Everything is a pure function of (RECIPE_VERSION, seed): the corpus comes from a seeded `random.Random`, the
weights from SHAKE-256 streams turned into floats by exact integer arithmetic. With the pinned torch,
transformers and tokenizers, two builds on any machine, in any process, give byte-identical files, so a cached
build can be trusted and tests can compare hashes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from halo_cli.core.errors import HaloError, NotFoundError
from halo_cli.core.fsutil import atomic_dir
from halo_cli.core.models.tiny_corpus import training_corpus

if TYPE_CHECKING:  # heavy imports stay lazy: the CLI must start fast
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase, ProcessorMixin

# Bump whenever anything below changes what lands on disk: a cached build with another version is rebuilt.
RECIPE_VERSION = 2
MANIFEST_NAME = "halo-tiny.json"
CHAT_TEMPLATE_PATH = Path(__file__).with_name("chat_template.jinja")

# Qwen's special tokens, in the order of the real vocabulary's tail (151643...), so ids keep Qwen's layout.
QWEN_SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>",
    "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
    "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
)
# Added but not special (Qwen marks them so): they must survive `skip_special_tokens=True` when decoding, since
# the action parser reads `<tool_call>...</tool_call>` out of the decoded completion.
QWEN_ADDED_TOKENS: tuple[str, ...] = (
    "<tool_call>", "</tool_call>",
    "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
    "<tool_response>", "</tool_response>", "<think>", "</think>",
)
EOS_TOKEN = "<|im_end|>"
PAD_TOKEN = "<|endoftext|>"
IMAGE_TOKEN = "<|image_pad|>"

# Qwen2's pre-tokenizer: digits split one by one, so coordinates cost one token per digit as in the real model.
PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
VOCAB_SIZE = 2048  # BPE pieces + added tokens; a multiple of 64 like Qwen's padded embedding
CORPUS_SEED = 20251107  # the tokenizer does not depend on the weight seed: adapters stay token-compatible

# Qwen3-VL-Instruct's processor values (hub preprocessor_config.json / video_preprocessor_config.json).
IMAGE_PROCESSOR_CONFIG: dict[str, Any] = {
    "image_processor_type": "Qwen2VLImageProcessor",
    "processor_class": "Qwen3VLProcessor",
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
    "merge_size": 2,
    "patch_size": 16,
    "resample": 3,
    "rescale_factor": 0.00392156862745098,
    "size": {"longest_edge": 16777216, "shortest_edge": 65536},
    "temporal_patch_size": 2,
}
VIDEO_PROCESSOR_CONFIG: dict[str, Any] = {
    "video_processor_type": "Qwen3VLVideoProcessor",
    "processor_class": "Qwen3VLProcessor",
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "do_sample_frames": True,
    "fps": 2,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
    "max_frames": 768,
    "merge_size": 2,
    "min_frames": 4,
    "patch_size": 16,
    "resample": 3,
    "rescale_factor": 0.00392156862745098,
    "size": {"longest_edge": 25165824, "shortest_edge": 4096},
    "temporal_patch_size": 2,
}

# Text: head_dim 32 is the smallest head size vLLM's CPU attention accepts; mrope_section sums to head_dim/2.
TEXT_CONFIG: dict[str, Any] = {
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 32,
    "hidden_act": "silu",
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6,
    "attention_bias": False,
    "tie_word_embeddings": False,
    "rope_parameters": {
        "rope_type": "default", "rope_theta": 5000000.0, "mrope_section": [6, 5, 5], "mrope_interleaved": True,
    },
}
# Vision: patch 16 / merge 2 like Qwen3-VL, so a 1280x720 screenshot is 880 tokens, as for the 8B model.
# DeepStack feeds both vision blocks into the two text layers.
VISION_CONFIG: dict[str, Any] = {
    "depth": 2,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_heads": 2,
    "in_channels": 3,
    "patch_size": 16,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "out_hidden_size": 128,
    "num_position_embeddings": 2304,
    "deepstack_visual_indexes": [0, 1],
    "hidden_act": "gelu_pytorch_tanh",
}
# Weights are uniform in [-2^-5, 2^-5): std ~0.018, close to Qwen's initializer_range 0.02. Integer levels times
# a power of two keep every conversion exact, which is what makes the bytes the same everywhere.
WEIGHT_SCALE_LOG2 = -5
# The gain of the language model's final RMSNorm (the others are 1). At init scale the logits have std ~0.2: every
# next token is about equally likely, and LoRA on the decoder layers cannot change that much, since the logits'
# reach is bounded by the (untrained) lm_head's scale times the final hidden state's norm. Such a policy barely
# moves under RL: on a MiniWoB click task its hit rate stayed near chance for 30 GRPO iterations. A gain of 8 gives
# logits of std ~1.6, peaked like a trained model's, and the same loop learns the click in about ten iterations.
LM_NORM_GAIN = 8.0
LM_FINAL_NORM = "model.language_model.norm.weight"


@dataclass(frozen=True)
class TinyModelInfo:
    """What a build produced (also stored as the manifest beside the weights)."""

    path: Path
    seed: int
    recipe_version: int
    num_parameters: int
    size_bytes: int
    weights_sha256: str
    built: bool  # False when an existing build was reused
    seconds: float


class TinyModelError(HaloError):
    """The tiny model cannot be built or loaded where asked (the folder is a file, foreign, not writable...)."""


def build_tokenizer() -> "PreTrainedTokenizerBase":
    """A Qwen2 tokenizer (transformers' class, so vLLM and the learner load it as Qwen's own) over our BPE."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        normalizers,
        pre_tokenizers,
        trainers,
    )
    from tokenizers.models import BPE
    from transformers import Qwen2Tokenizer

    bpe = Tokenizer(BPE(unk_token=None, continuing_subword_prefix="", end_of_word_suffix="", fuse_unk=False,
                        byte_fallback=False))
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE - len(QWEN_SPECIAL_TOKENS) - len(QWEN_ADDED_TOKENS),
        min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    corpus = training_corpus(CORPUS_SEED, CHAT_TEMPLATE_PATH.read_text(encoding="utf-8"))
    bpe.train_from_iterator(corpus, trainer=trainer)
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in model["merges"]]

    tok = Qwen2Tokenizer(
        vocab=model["vocab"], merges=merges, unk_token=None, bos_token=None,
        eos_token=PAD_TOKEN, pad_token=PAD_TOKEN, errors="replace", model_max_length=TEXT_CONFIG[
            "max_position_embeddings"], clean_up_tokenization_spaces=False, split_special_tokens=False,
    )
    tok.add_tokens([AddedToken(t, special=True, normalized=False) for t in QWEN_SPECIAL_TOKENS],
                   special_tokens=True)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in QWEN_ADDED_TOKENS])
    # Qwen lists them in tokenizer_config (`additional_special_tokens`, `extra_special_tokens` in transformers 5).
    tok.add_special_tokens({"extra_special_tokens": [t for t in QWEN_SPECIAL_TOKENS if t != PAD_TOKEN]})
    tok.eos_token = EOS_TOKEN  # Instruct models stop at the end of the assistant turn
    tok.pad_token = PAD_TOKEN
    tok.chat_template = CHAT_TEMPLATE_PATH.read_text(encoding="utf-8")
    if len(tok) != VOCAB_SIZE:
        # Every embedding row must be a real token: a random model samples all ids, and an id without a token
        # would break decoding in vLLM and the learner alike.
        raise AssertionError(f"tokenizer has {len(tok)} tokens, expected {VOCAB_SIZE} (corpus too small?)")
    return tok


# -------------------------------------------------------------------------------------------------- weights


def build_config(tokenizer: "PreTrainedTokenizerBase") -> Any:
    from transformers import Qwen3VLConfig

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIAL_TOKENS}
    text = dict(TEXT_CONFIG, vocab_size=VOCAB_SIZE, pad_token_id=ids[PAD_TOKEN], bos_token_id=ids[PAD_TOKEN],
                eos_token_id=ids[EOS_TOKEN])
    return Qwen3VLConfig(
        text_config=text,
        vision_config=dict(VISION_CONFIG),
        image_token_id=ids[IMAGE_TOKEN],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )


def _stream_uniform(seed: int, name: str, shape: tuple[int, ...]) -> "torch.Tensor":
    """Uniform weights from SHAKE-256 of (seed, name): no dependence on torch's RNG, init order or CPU features.

    Each weight is one byte k -> (k - 128) * 2^(WEIGHT_SCALE_LOG2 - 7): 256 levels, all exact in bfloat16, so
    the stored bf16 weights, the learner's fp32 copy and vLLM's bf16 copy hold the very same numbers.
    """
    import torch

    count = 1
    for dim in shape:
        count *= dim
    raw = hashlib.shake_256(f"halo-tiny/{RECIPE_VERSION}/{seed}/{name}".encode()).digest(count)
    ints = torch.frombuffer(bytearray(raw), dtype=torch.uint8).to(torch.int32) - 128
    return (ints.to(torch.float32) * 2.0 ** (WEIGHT_SCALE_LOG2 - 7)).view(shape)


def init_weights(model: "PreTrainedModel", seed: int) -> None:
    """Sets every parameter from the recipe: norms 1 (the language model's final one ``LM_NORM_GAIN``), biases 0,
    the rest uniform from a per-name stream."""
    import torch

    names = {name for name, _ in model.named_parameters()}
    if LM_FINAL_NORM not in names:  # a transformers release renamed it: the gain would silently not apply
        raise TinyModelError(f"the model has no parameter {LM_FINAL_NORM}")
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(".bias"):
                param.zero_()
            elif name == LM_FINAL_NORM:
                param.fill_(LM_NORM_GAIN)
            elif param.ndim == 1 and "norm" in name:
                param.fill_(1.0)
            else:
                param.copy_(_stream_uniform(seed, name, tuple(param.shape)))


def build_model(tokenizer: "PreTrainedTokenizerBase", seed: int) -> "PreTrainedModel":
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    config = build_config(tokenizer)
    torch.manual_seed(seed)  # only the throw-away default init draws from it; init_weights overwrites all of it
    model = Qwen3VLForConditionalGeneration(config).to(torch.float32).eval()
    init_weights(model, seed)
    # Stored in bfloat16 like the hub checkpoints; lossless, since every weight is exact in bf16.
    model = model.to(torch.bfloat16)
    gen = model.generation_config
    gen.eos_token_id = [tokenizer.convert_tokens_to_ids(EOS_TOKEN), tokenizer.convert_tokens_to_ids(PAD_TOKEN)]
    gen.pad_token_id = tokenizer.convert_tokens_to_ids(PAD_TOKEN)
    gen.bos_token_id = tokenizer.convert_tokens_to_ids(PAD_TOKEN)
    return model


# ---------------------------------------------------------------------------------------------------- build


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest of a complete build in `path`, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads((Path(path) / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _is_complete(path: Path, seed: int) -> bool:
    manifest = read_manifest(path)
    if not manifest or manifest.get("recipe_version") != RECIPE_VERSION or manifest.get("seed") != seed:
        return False
    return all((path / name).is_file() for name in manifest.get("files", {}))


def _info(path: Path, built: bool, seconds: float) -> TinyModelInfo:
    manifest = read_manifest(path) or {}
    size = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    return TinyModelInfo(
        path=path, seed=int(manifest.get("seed", -1)), recipe_version=int(manifest.get("recipe_version", -1)),
        num_parameters=int(manifest.get("num_parameters", 0)), size_bytes=size,
        weights_sha256=str(manifest.get("files", {}).get("model.safetensors", "")), built=built, seconds=seconds,
    )


def _check_target(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise TinyModelError(f"{out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and read_manifest(out_dir) is None:
        # Never replace a folder we did not make: --force rebuilds our own builds only.
        raise TinyModelError(f"{out_dir} is not empty and holds no tiny-model build; choose an empty or new folder")
    for parent in out_dir.parents:
        if parent.exists():
            if not parent.is_dir():
                raise TinyModelError(f"cannot create {out_dir}: {parent} is not a folder")
            if not os.access(parent, os.W_OK):
                raise TinyModelError(f"cannot create {out_dir}: {parent} is not writable")
            break


@contextlib.contextmanager
def _build_lock(out_dir: Path) -> Iterator[None]:
    """Serialises builders of the same folder (parallel test workers, two CLI calls); the loser reuses the build.

    The lock file lives in the temp folder, keyed by the target path, so no stray file lands beside the model.
    """
    key = hashlib.sha256(str(out_dir).encode()).hexdigest()[:24]
    try:
        locks = Path(tempfile.gettempdir()) / f"halo-locks-{os.getuid()}"
        locks.mkdir(exist_ok=True)
        f = (locks / f"tiny-{key}.lock").open("a")
    except OSError:  # no lock to be had: the atomic rename alone still keeps the folder consistent
        yield
        return
    with f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _write_build(tmp: Path, seed: int) -> int:
    """Writes every file of the model into `tmp`; returns the parameter count."""
    tokenizer = build_tokenizer()
    model = build_model(tokenizer, seed)
    num_parameters = sum(p.numel() for p in model.parameters())
    from halo_cli.core.models.load import quiet_progress_bars

    with quiet_progress_bars():
        model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    # The processor configs are written as plain JSON: ProcessorMixin.save_pretrained needs the video processor,
    # which needs torchvision, which the learner environment must not have. vLLM's environment reads them all.
    _write_json(tmp / "preprocessor_config.json", IMAGE_PROCESSOR_CONFIG)
    _write_json(tmp / "video_preprocessor_config.json", VIDEO_PROCESSOR_CONFIG)
    _write_json(tmp / "processor_config.json", {"processor_class": "Qwen3VLProcessor"})
    # The template file is ours byte for byte (transformers may re-serialise what it was given).
    shutil.copyfile(CHAT_TEMPLATE_PATH, tmp / "chat_template.jinja")
    return num_parameters


def build_tiny_model(out_dir: Path | None = None, *, seed: int = 0, force: bool = False) -> Path:
    """Builds the tiny Qwen3-VL into `out_dir` (default: the cache) and returns its path.

    Reuses an existing complete build of the same recipe and seed unless `force`. The build goes to a temporary
    sibling folder that is renamed into place, so a crash or Ctrl-C never leaves a half-written model behind.
    """
    return build_tiny_model_info(out_dir, seed=seed, force=force).path


def build_tiny_model_info(out_dir: Path | None = None, *, seed: int = 0, force: bool = False) -> TinyModelInfo:
    """`build_tiny_model`, returning what was built (parameters, size, weight hash, whether it was reused)."""
    from halo_cli.core.paths import default_tiny_model_dir

    if seed < 0:
        raise TinyModelError(f"seed must be >= 0 (got {seed})")
    out_dir = Path(out_dir if out_dir is not None else default_tiny_model_dir()).expanduser().absolute()
    t0 = time.perf_counter()
    _check_target(out_dir)
    if not force and _is_complete(out_dir, seed):
        return _info(out_dir, built=False, seconds=time.perf_counter() - t0)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TinyModelError(f"cannot create {out_dir.parent}: {e.strerror}") from None
    with _build_lock(out_dir):
        _check_target(out_dir)  # another builder may have finished while we waited
        if not force and _is_complete(out_dir, seed):
            return _info(out_dir, built=False, seconds=time.perf_counter() - t0)
        try:
            with atomic_dir(out_dir) as tmp:  # a shared cache: never half a model, and readable by everyone
                num_parameters = _write_build(tmp, seed)
                files = {p.name: _sha256(p) for p in sorted(tmp.iterdir()) if p.is_file()}
                _write_json(tmp / MANIFEST_NAME, {
                    "recipe_version": RECIPE_VERSION, "seed": seed, "num_parameters": num_parameters,
                    "architecture": "Qwen3VLForConditionalGeneration", "files": files,
                })
        except PermissionError as e:
            raise TinyModelError(f"cannot write in {out_dir.parent}: {e.strerror}") from None
    return _info(out_dir, built=True, seconds=time.perf_counter() - t0)


def tiny_model_info(path: Path) -> TinyModelInfo:
    """Describes an existing build; NotFoundError when `path` holds none."""
    path = Path(path).expanduser().absolute()
    if read_manifest(path) is None:
        raise NotFoundError(f"no tiny-model build in {path} (build one with `halo models build-tiny`)")
    return _info(path, built=False, seconds=0.0)


def load_tiny_processor(path: Path | None = None) -> "ProcessorMixin":
    """The tiny model's processor, strictly offline."""
    from halo_cli.core.models.load import load_processor
    from halo_cli.core.paths import default_tiny_model_dir

    return load_processor(Path(path) if path is not None else default_tiny_model_dir(), local_files_only=True)


def load_tiny_model(path: Path | None = None, *, dtype: "torch.dtype | None" = None) -> "PreTrainedModel":
    """The tiny model, strictly offline, in float32 unless asked otherwise (LoRA training on CPU wants fp32)."""
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    from halo_cli.core.paths import default_tiny_model_dir

    folder = Path(path) if path is not None else default_tiny_model_dir()
    if read_manifest(folder) is None:
        raise NotFoundError(f"no tiny-model build in {folder} (build one with `halo models build-tiny`)")
    return Qwen3VLForConditionalGeneration.from_pretrained(
        folder, local_files_only=True, dtype=dtype or torch.float32
    )
