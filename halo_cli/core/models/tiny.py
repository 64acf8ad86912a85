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
import importlib.util
import json
import os
import random
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from halo_cli.core.errors import HaloError, NotFoundError
from halo_cli.core.fsutil import atomic_dir

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


# --------------------------------------------------------------------------------------------------- corpus

_VERBS = (
    "click", "open", "close", "select", "choose", "type", "enter", "search", "find", "scroll", "press", "go",
    "navigate", "book", "buy", "add", "remove", "delete", "send", "reply", "forward", "archive", "compose",
    "schedule", "create", "edit", "update", "save", "submit", "sign", "log", "filter", "sort", "check", "uncheck",
    "expand", "collapse", "drag", "drop", "move", "hover", "copy", "paste", "clear", "confirm", "cancel", "view",
    "show", "hide", "download", "upload", "share", "rate", "review", "compare", "apply", "reserve", "order",
)
_NOUNS = (
    "button", "link", "menu", "tab", "page", "form", "field", "input", "box", "list", "item", "option", "dialog",
    "window", "panel", "header", "footer", "sidebar", "toolbar", "icon", "image", "card", "row", "column", "table",
    "cell", "label", "title", "name", "email", "message", "inbox", "draft", "folder", "calendar", "event",
    "meeting", "invite", "date", "time", "day", "week", "month", "year", "price", "cart", "checkout", "order",
    "product", "listing", "home", "house", "apartment", "bedroom", "bathroom", "address", "city", "account",
    "profile", "settings", "password", "username", "notification", "filter", "result", "results", "query",
    "review", "rating", "seller", "shipping", "payment", "subject", "body", "recipient", "attachment", "contact",
    "search bar", "dropdown", "checkbox", "radio button", "text box", "submit button", "navigation bar",
)
_ADJECTIVES = (
    "first", "second", "third", "last", "next", "previous", "new", "old", "red", "blue", "green", "large", "small",
    "cheapest", "latest", "unread", "starred", "important", "top", "bottom", "left", "right", "main", "primary",
    "secondary", "empty", "selected", "visible", "hidden", "open", "closed", "available", "free", "busy", "weekly",
)
_NAMES = (
    "Alice", "Bob", "Carol", "David", "Emma", "Frank", "Grace", "Henry", "Isabel", "James", "Kate", "Liam", "Maria",
    "Noah", "Olivia", "Peter", "Sophia", "Thomas", "Zoe", "Chen", "Priya", "Ahmed", "Yuki", "Lucas",
)
_PLACES = (
    "San Francisco", "New York", "Seattle", "Austin", "Boston", "Chicago", "Denver", "Miami", "Portland",
    "Los Angeles", "London", "Paris", "Berlin", "Tokyo", "Toronto", "Sydney",
)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
    "December",
)
_UI_LABELS = (
    "Sign in", "Log in", "Sign out", "Search", "Submit", "Send", "Cancel", "OK", "Save", "Next", "Back", "Continue",
    "Add to cart", "Buy now", "Checkout", "Reply", "Forward", "Compose", "Inbox", "Sent", "Drafts", "Archive",
    "Settings", "More", "Close", "Delete", "Edit", "Apply", "Filters", "Sort by", "Price", "Beds", "Baths",
    "Schedule a tour", "Contact agent", "New event", "Save changes", "Today", "Month", "Week", "Day",
)
_HTML_TAGS = (
    "div", "span", "a", "button", "input", "form", "label", "ul", "li", "img", "nav", "header", "footer",
    "section", "main", "select", "option", "textarea", "table", "tr", "td", "h1", "h2", "p",
)
_HTML_ATTRS = ("class", "id", "href", "type", "name", "value", "placeholder", "aria-label", "role", "title", "alt")
_ROLES = (
    "button", "link", "textbox", "combobox", "checkbox", "radio", "menuitem", "tab", "heading", "img", "listitem",
    "searchbox", "option", "dialog", "navigation", "main", "StaticText", "generic", "gridcell", "row",
)
_KEYS = (
    "Enter", "Tab", "Escape", "Backspace", "Delete", "ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "PageDown",
    "PageUp", "Home", "End", "ctrl", "shift", "alt", "a", "c", "v", "f", "l", "t",
)
_ACTIONS = (
    "key", "type", "mouse_move", "left_click", "left_click_drag", "right_click", "middle_click", "double_click",
    "triple_click", "scroll", "hscroll", "wait", "terminate", "answer",
)
# Everyday words of web pages (product titles, listings, mail bodies, event names), for plain-text content.
_WORDS = (
    "the", "a", "an", "and", "or", "but", "of", "to", "in", "on", "at", "for", "with", "from", "by", "about", "as",
    "is", "are", "was", "were", "be", "been", "has", "have", "had", "do", "does", "did", "will", "would", "can",
    "could", "should", "may", "might", "must", "this", "that", "these", "those", "it", "its", "you", "your", "we",
    "our", "they", "their", "he", "she", "his", "her", "my", "me", "us", "them", "who", "what", "when", "where",
    "which", "why", "how", "all", "any", "each", "every", "some", "many", "more", "most", "other", "such", "only",
    "own", "same", "than", "too", "very", "just", "also", "not", "no", "yes", "here", "there", "now", "then",
    "again", "always", "never", "often", "today", "tomorrow", "yesterday", "morning", "afternoon", "evening",
    "night", "please", "thanks", "thank", "hello", "hi", "dear", "regards", "best", "sincerely", "team", "project",
    "report", "update", "question", "answer", "information", "details", "note", "notes", "reminder", "request",
    "proposal", "budget", "invoice", "receipt", "travel", "flight", "hotel", "trip", "vacation", "lunch", "dinner",
    "coffee", "party", "birthday", "conference", "interview", "deadline", "launch", "sale", "discount", "offer",
    "deal", "free", "delivery", "stock", "brand", "color", "size", "weight", "quantity", "total", "subtotal", "tax",
    "fee", "cost", "rent", "mortgage", "sqft", "square", "feet", "garage", "garden", "pool", "kitchen", "living",
    "room", "floor", "building", "street", "avenue", "road", "lane", "drive", "park", "station", "school",
    "downtown", "neighborhood", "nearby", "location", "map", "phone", "number", "code", "zip", "state", "country",
    "headphones", "laptop", "keyboard", "mouse", "monitor", "camera", "charger", "cable", "speaker", "watch",
    "shoes", "shirt", "jacket", "backpack", "bottle", "lamp", "chair", "desk", "book", "notebook", "pen",
    "wireless", "bluetooth", "portable", "waterproof", "stainless", "steel", "cotton", "leather", "black", "white",
    "gray", "silver", "gold", "pink", "purple", "orange", "yellow", "brown", "organic", "fresh", "premium",
    "classic", "modern", "vintage", "compact", "lightweight", "durable", "comfortable", "beautiful", "spacious",
    "bright", "quiet", "cozy", "renovated", "furnished", "pet", "friendly", "parking", "included", "utilities",
    "stars", "reviews", "customer", "customers", "verified", "purchase", "returns", "warranty", "guarantee",
    "online", "website", "page", "click", "learn", "read", "write", "call", "visit", "join",
    "start", "stop", "finish", "complete", "done", "pending", "confirmed", "cancelled", "success", "failure",
    "error", "warning", "loading", "wait", "try", "later", "welcome", "back", "good", "great",
    "excellent", "new", "used", "refurbished", "original", "official", "public", "private", "shared", "recent",
    "popular", "recommended", "featured", "trending", "similar", "related", "sponsored", "advertisement",
)
_COMPUTER_USE_DESCRIPTION = (
    "Use a mouse and keyboard to interact with a computer, and take screenshots.\n"
    "* This is an interface to a desktop GUI. You do not have access to a terminal or applications menu.\n"
    "* Some applications may take time to start or process actions, so you may need to wait and take successive "
    "screenshots to see the results of your actions.\n"
    "* The screen's resolution is 1000x1000.\n"
    "* Whenever you intend to move the cursor to click on an element like an icon, you should consult a screenshot "
    "to determine the coordinates of the element before moving the cursor.\n"
    "* Make sure to click any buttons, links, icons, etc with the cursor tip in the center of the element."
)


def _phrase(rng: random.Random) -> str:
    verb = rng.choice(_VERBS)
    adjective = rng.choice(_ADJECTIVES)
    noun = rng.choice(_NOUNS)
    label = rng.choice(_UI_LABELS)
    patterns = (
        f"{verb.capitalize()} the {adjective} {noun}.",
        f'{verb.capitalize()} the "{label}" {noun}.',
        f"{verb.capitalize()} the {noun} from {rng.choice(_NAMES)} and {rng.choice(_VERBS)} it.",
        f"Find a {rng.randint(1, 5)} bedroom apartment in {rng.choice(_PLACES)} under ${rng.randint(500, 9000)}.",
        f"Schedule a meeting with {rng.choice(_NAMES)} on {rng.choice(_WEEKDAYS)}, {rng.choice(_MONTHS)} "
        f"{rng.randint(1, 28)} at {rng.randint(1, 12)}:{rng.choice(('00', '15', '30', '45'))} pm.",
        f"Send an email to {rng.choice(_NAMES).lower()}@example.com with the subject \"{label}\".",
        f"Add the {adjective} {noun} to the cart and proceed to checkout.",
        f"Search for \"{rng.choice(_NOUNS)} {rng.choice(_NOUNS)}\" and open the {adjective} result.",
        f"The {noun} is {adjective}; I need to {verb} the {rng.choice(_NOUNS)} next.",
    )
    return rng.choice(patterns)


def _prose(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 18))]
    if rng.random() < 0.5:
        words.insert(rng.randrange(len(words)), rng.choice(_NAMES + _PLACES + _MONTHS + _WEEKDAYS))
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), f"${rng.randint(1, 999)}.{rng.randint(0, 99):02d}")
    return " ".join(words).capitalize() + rng.choice((".", ".", "!", "?", ":"))


def _html(rng: random.Random) -> str:
    tag = rng.choice(_HTML_TAGS)
    attrs = " ".join(
        f'{rng.choice(_HTML_ATTRS)}="{rng.choice(_NOUNS).replace(" ", "-")}-{rng.randint(0, 99)}"'
        for _ in range(rng.randint(1, 3))
    )
    return f"<{tag} {attrs}>{rng.choice(_UI_LABELS)}</{tag}>"


def _axtree_line(rng: random.Random) -> str:
    return f"[{rng.randint(1, 400)}] {rng.choice(_ROLES)} '{rng.choice(_UI_LABELS)}'"


def _tool_arguments(rng: random.Random) -> dict[str, Any]:
    action = rng.choice(_ACTIONS)
    args: dict[str, Any] = {"action": action}
    if action in ("left_click", "right_click", "middle_click", "double_click", "triple_click", "mouse_move",
                  "left_click_drag"):
        args["coordinate"] = [rng.randint(0, 999), rng.randint(0, 999)]
    elif action == "type":
        args["text"] = rng.choice((_phrase(rng), rng.choice(_NAMES), rng.choice(_PLACES), rng.choice(_UI_LABELS)))
    elif action == "key":
        args["keys"] = rng.sample(_KEYS, rng.randint(1, 2))
    elif action in ("scroll", "hscroll"):
        args["pixels"] = rng.choice((-1, 1)) * rng.randint(1, 10) * 100
    elif action == "wait":
        args["time"] = rng.randint(1, 5)
    elif action == "terminate":
        args["status"] = rng.choice(("success", "failure"))
    elif action == "answer":
        args["text"] = rng.choice(_UI_LABELS)
    return args


def _tool_call_turn(rng: random.Random) -> str:
    args = _tool_arguments(rng)
    call = json.dumps({"name": "computer_use", "arguments": args})
    thought = _phrase(rng)
    return f"Action: {thought}\n<tool_call>\n{call}\n</tool_call>"


def _tools_json() -> str:
    tool = {
        "type": "function",
        "function": {
            "name": "computer_use",
            "description": _COMPUTER_USE_DESCRIPTION,
            "parameters": {
                "type": "object",
                "required": ["action"],
                "properties": {
                    "action": {"type": "string", "enum": list(_ACTIONS), "description": "The action to perform."},
                    "keys": {"type": "array", "description": "Required only by `action=key`."},
                    "text": {"type": "string", "description": "Required only by `action=type` and `action=answer`."},
                    "coordinate": {"type": "array", "description": "(x, y): the pixel to move the mouse to."},
                    "pixels": {"type": "number", "description": "The amount of scrolling to perform."},
                    "time": {"type": "number", "description": "The seconds to wait."},
                    "status": {"type": "string", "enum": ["success", "failure"],
                               "description": "The status of the task."},
                },
            },
        },
    }
    return json.dumps(tool)


def training_corpus() -> list[str]:
    """The tokenizer's training text, generated here so every Python version and machine gets the same one."""
    rng = random.Random(CORPUS_SEED)
    template = CHAT_TEMPLATE_PATH.read_text(encoding="utf-8")
    texts = [template, _tools_json(), _COMPUTER_USE_DESCRIPTION]
    for _ in range(4000):
        kind = rng.randrange(7)
        if kind == 6:
            texts.append(" ".join(_prose(rng) for _ in range(rng.randint(1, 5))))
        elif kind == 0:
            texts.append(" ".join(_phrase(rng) for _ in range(rng.randint(1, 4))))
        elif kind == 1:
            texts.append("\n".join(_html(rng) for _ in range(rng.randint(1, 5))))
        elif kind == 2:
            texts.append("\n".join(_axtree_line(rng) for _ in range(rng.randint(2, 8))))
        elif kind == 3:
            texts.append(_tool_call_turn(rng))
        elif kind == 4:
            goal = _phrase(rng)
            history = "\n".join(f"Step {i + 1}: {_phrase(rng)}" for i in range(rng.randint(0, 3)))
            texts.append(
                f"The user query: {goal}\nTask progress (You have done the following operation on the current "
                f"device):\n{history}\n"
            )
        else:
            texts.append(json.dumps({"name": "computer_use", "arguments": _tool_arguments(rng)}))
    return texts


# ------------------------------------------------------------------------------------------------ tokenizer


def build_tokenizer() -> "PreTrainedTokenizerBase":
    """A Qwen2 tokenizer (transformers' class, so vLLM and the learner load it as Qwen's own) over our BPE."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, trainers
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
    bpe.train_from_iterator(training_corpus(), trainer=trainer)
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


@contextlib.contextmanager
def quiet_progress_bars() -> Iterator[None]:
    """transformers draws a 'Writing model shards' bar on stderr; the CLI shows its own status instead."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _write_build(tmp: Path, seed: int) -> int:
    """Writes every file of the model into `tmp`; returns the parameter count."""
    tokenizer = build_tokenizer()
    model = build_model(tokenizer, seed)
    num_parameters = sum(p.numel() for p in model.parameters())
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


# ---------------------------------------------------------------------------------------------------- loading


def _torchvision_usable() -> bool:
    """Whether transformers can build torchvision-backed processors here (the vLLM env: yes; the learner: no)."""
    if importlib.util.find_spec("torchvision") is None:
        return False
    from transformers.utils import is_torchvision_available

    return bool(is_torchvision_available())


def _image_only_processor_class() -> type:
    """Qwen3VLProcessor without its video half, for environments without torchvision.

    Qwen3VLProcessor.__init__ always passes a video processor on to ProcessorMixin, which requires a
    VideoProcessorMixin (a torchvision class). This subclass's signature names only the image processor and the
    tokenizer, so `from_pretrained` loads just those two (the image one on its PIL backend), and a shim between
    Qwen3VLProcessor and ProcessorMixin in the MRO drops the video argument. Images, text and chat templates then
    behave exactly as with the full processor; videos are not supported.
    """
    from transformers import Qwen3VLProcessor
    from transformers.processing_utils import ProcessorMixin

    class _DropVideoProcessor(ProcessorMixin):
        def __init__(self, image_processor: Any = None, tokenizer: Any = None, video_processor: Any = None,
                     **kwargs: Any) -> None:
            ProcessorMixin.__init__(self, image_processor, tokenizer, **kwargs)

    class Qwen3VLImageProcessorOnly(Qwen3VLProcessor, _DropVideoProcessor):
        def __init__(self, image_processor: Any = None, tokenizer: Any = None, chat_template: str | None = None,
                     **kwargs: Any) -> None:
            super().__init__(image_processor, tokenizer, None, chat_template=chat_template, **kwargs)

        def save_pretrained(self, *args: Any, **kwargs: Any) -> Any:
            # It would save a processor without its video half, which vLLM's AutoProcessor cannot load.
            raise NotImplementedError(
                "an image-only Qwen3-VL processor cannot be saved; copy the base model's processor files instead"
            )

    return Qwen3VLImageProcessorOnly


_IMAGE_ONLY_CLASS: type | None = None


def _model_type(path: Path) -> str | None:
    try:
        return json.loads((path / "config.json").read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError):
        return None


def load_processor(path: str | Path, *, local_files_only: bool | None = None) -> "ProcessorMixin":
    """The model's processor (tokenizer + image processor + chat template), also where torchvision is absent.

    With torchvision (the vLLM env, GPU machines) this is `AutoProcessor`. Without it, a Qwen3-VL model gets an
    image-only Qwen3VLProcessor (see `_image_only_processor_class`), which tokenizes and pre-processes images
    exactly like the full one. `local_files_only` defaults to True for a local folder.
    """
    global _IMAGE_ONLY_CLASS
    from transformers import AutoProcessor

    local = Path(str(path)).expanduser()
    is_local = local.is_dir()
    # A Path, or a string that is not a hub id (`org/name`), means a folder: say so rather than ask the hub.
    meant_local = isinstance(path, Path) or str(path).startswith(("/", ".", "~")) or str(path).count("/") > 1
    if local_files_only is None:
        local_files_only = is_local
    if (local_files_only or meant_local) and not is_local:
        raise NotFoundError(f"model folder not found: {path}")
    source = str(local) if is_local else str(path)
    if _torchvision_usable():
        return AutoProcessor.from_pretrained(source, local_files_only=local_files_only)
    model_type = _model_type(local) if is_local else None
    if model_type is None and not is_local:
        from transformers import AutoConfig

        model_type = AutoConfig.from_pretrained(source, local_files_only=local_files_only).model_type
    if model_type in ("qwen3_vl", "qwen3_vl_moe"):
        if _IMAGE_ONLY_CLASS is None:
            _IMAGE_ONLY_CLASS = _image_only_processor_class()
        return _IMAGE_ONLY_CLASS.from_pretrained(source, local_files_only=local_files_only)
    return AutoProcessor.from_pretrained(source, local_files_only=local_files_only)


def load_tiny_processor(path: Path | None = None) -> "ProcessorMixin":
    """The tiny model's processor, strictly offline."""
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


# ---------------------------------------------------------------------------------------------- inspection


@dataclass(frozen=True)
class ModelFolderInfo:
    """What a model folder holds, read from its JSON and safetensors headers only (no torch, no weights)."""

    path: Path
    architecture: str | None
    model_type: str | None
    num_parameters: int
    size_bytes: int
    dtype: str | None
    text: dict[str, Any]
    vision: dict[str, Any]
    vocab_size: int | None
    tokenizer_tokens: int | None
    has_chat_template: bool
    tiny_manifest: dict[str, Any] | None


def _safetensors_parameters(path: Path) -> int:
    """Sums tensor sizes from a safetensors header (8-byte length + JSON), so huge checkpoints cost nothing."""
    with path.open("rb") as f:
        length = int.from_bytes(f.read(8), "little")
        if not 0 < length < 100_000_000:
            raise ValueError(f"{path.name} is not a safetensors file")
        header = json.loads(f.read(length))
    total = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        count = 1
        for dim in entry["shape"]:
            count *= int(dim)
        total += count
    return total


def inspect_model_folder(path: Path) -> ModelFolderInfo:
    """Describes a Hugging Face model folder (ours or a downloaded one); NotFoundError if it is not one."""
    path = Path(path).expanduser().absolute()
    if not path.is_dir():
        raise NotFoundError(f"model folder not found: {path}")
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(f"{path} has no config.json: not a model folder") from None
    except ValueError as e:
        raise TinyModelError(f"{path / 'config.json'} is not valid JSON: {e}") from None
    params = 0
    try:
        for weights in sorted(path.glob("*.safetensors")):
            params += _safetensors_parameters(weights)
    except (OSError, ValueError, KeyError) as e:
        raise TinyModelError(f"cannot read the weights in {path}: {e}") from None
    tokens: int | None = None
    try:
        tok = json.loads((path / "tokenizer.json").read_text(encoding="utf-8"))
        ids = set(tok.get("model", {}).get("vocab", {}).values()) | {t["id"] for t in tok.get("added_tokens", [])}
        tokens = len(ids)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    text = config.get("text_config") or {k: config[k] for k in ("hidden_size", "num_hidden_layers") if k in config}
    architectures = config.get("architectures") or [None]
    return ModelFolderInfo(
        path=path,
        architecture=architectures[0],
        model_type=config.get("model_type"),
        num_parameters=params,
        size_bytes=sum(p.stat().st_size for p in path.iterdir() if p.is_file()),
        dtype=config.get("dtype") or config.get("torch_dtype") or text.get("dtype"),
        text=text,
        vision=config.get("vision_config") or {},
        vocab_size=text.get("vocab_size", config.get("vocab_size")),
        tokenizer_tokens=tokens,
        has_chat_template=(path / "chat_template.jinja").is_file() or (path / "chat_template.json").is_file(),
        tiny_manifest=read_manifest(path),
    )
