"""What the model sees: the system prompt with the ``computer_use`` tool, the goal, past actions, screenshots.

The wording and layout follow OSWorld's Qwen3-VL agent (the relative-coordinate `computer_use` prompt Qwen3-VL
was evaluated with on OSWorld). Screenshots are resized here with Qwen3-VL's own ``smart_resize``. That way vLLM's processor
and the learner's transformers processor both receive an image that needs no further resizing, and both
compute the same ``pixel_values`` and the same number of vision tokens. One builder makes the OpenAI messages
(what vLLM gets); ``to_processor_messages`` converts those same messages for transformers. The sampler and the
learner therefore tokenize one prompt.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

from PIL import Image, UnidentifiedImageError

from halo_cli.core.actions import COMPUTER_USE_TOOL, Action

# Qwen3-VL: patch 16 x spatial merge 2. One vision token covers a 32x32 block.
IMAGE_FACTOR = 32
# The Qwen3-VL processor defaults, also the defaults of settings.model.min_pixels/max_pixels.
DEFAULT_MIN_PIXELS = 65536
DEFAULT_MAX_PIXELS = 16777216
_MAX_ASPECT_RATIO = 200
PNG_DATA_URL_PREFIX = "data:image/png;base64,"

TOOLS: list[dict[str, Any]] = [COMPUTER_USE_TOOL]

_TOOLS_SECTION = (
    "# Tools\n\n"
    "You may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n"
    "<tools>\n" + json.dumps(COMPUTER_USE_TOOL) + "\n</tools>\n\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n"
    "<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n'
    "</tool_call>"
)

_RESPONSE_FORMAT_SECTION = (
    "# Response format\n\n"
    "Response format for every step:\n"
    "1) Action: a short imperative describing what to do in the UI.\n"
    "2) A single <tool_call>...</tool_call> block containing only the JSON: "
    '{"name": <function-name>, "arguments": <args-json-object>}.\n\n'
    "Rules:\n"
    "- Output exactly in the order: Action, <tool_call>.\n"
    "- Be brief: one sentence for Action.\n"
    "- Do not output anything else outside those parts.\n"
    "- If finishing, use action=terminate in the tool call."
)

SYSTEM_PROMPT = _TOOLS_SECTION + "\n\n" + _RESPONSE_FORMAT_SECTION

_INSTRUCTION_TEMPLATE = (
    "\nPlease generate the next move according to the UI screenshot, instruction and previous actions.\n\n"
    "Instruction: {goal}\n\n"
    "Previous actions:\n{previous}"
)


def system_prompt(tools_in_system: bool = True) -> str:
    """The OSWorld system prompt.

    With ``tools_in_system=False``, only the response-format part is returned. The caller then passes ``TOOLS``
    through the chat template's ``tools=``, and the template writes the same ``# Tools`` block itself.
    """
    return SYSTEM_PROMPT if tools_in_system else _RESPONSE_FORMAT_SECTION


# ---------------------------------------------------------------------------------------------------
# Image sizing (Qwen3-VL smart_resize)


def smart_resize(
    height: int,
    width: int,
    factor: int = IMAGE_FACTOR,
    min_pixels: int = DEFAULT_MIN_PIXELS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[int, int]:
    """(height, width) as the Qwen2/3-VL image processor resizes it.

    The result is a multiple of ``factor`` on each side, lies inside the pixel bounds, and keeps the aspect ratio.

    It mirrors transformers' ``smart_resize`` step by step, including Python's banker's rounding. A
    1280x720 screenshot becomes 704x1280 rather than 736x1280 because of it.
    """
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    if max(height, width) / min(height, width) > _MAX_ASPECT_RATIO:
        raise ValueError(f"aspect ratio above {_MAX_ASPECT_RATIO}: {height}x{width}")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def vision_token_count(
    height: int,
    width: int,
    factor: int = IMAGE_FACTOR,
    min_pixels: int = DEFAULT_MIN_PIXELS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> int:
    """How many ``<|image_pad|>`` tokens a height x width image costs in the prompt (one per 32x32 block after
    resizing).
    """
    h, w = smart_resize(height, width, factor, min_pixels, max_pixels)
    return (h // factor) * (w // factor)


@lru_cache(maxsize=32)
def resize_screenshot(
    png: bytes,
    min_pixels: int = DEFAULT_MIN_PIXELS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    factor: int = IMAGE_FACTOR,
) -> bytes:
    """The screenshot as the PNG the model will see, already at its ``smart_resize`` size.

    Bytes come back unchanged when no resize is needed. The cache matters because each history screenshot
    is prepared again at every later step.
    """
    image = _open_image(png)
    target_h, target_w = smart_resize(image.height, image.width, factor, min_pixels, max_pixels)
    if (image.width, image.height) == (target_w, target_h) and image.format == "PNG":
        return png
    resized = image.convert("RGB").resize((target_w, target_h), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    # Level 1: screenshots are encoded at every step, and the bytes only travel over loopback.
    resized.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def _open_image(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"screenshot is not a readable image: {e}") from None
    return image


def png_data_url(png: bytes) -> str:
    return PNG_DATA_URL_PREFIX + base64.b64encode(png).decode("ascii")


def image_from_data_url(url: str) -> Image.Image:
    """Decodes a base64 data URL into the same pixels that vLLM decodes from it."""
    head, sep, payload = url.partition(",")
    if not sep or not head.startswith("data:") or not head.endswith(";base64"):
        raise ValueError(f"not a base64 data URL: {url[:40]!r}")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError(f"bad base64 in data URL: {e}") from None
    return _open_image(data)


# ---------------------------------------------------------------------------------------------------
# History


@dataclass(frozen=True)
class HistoryStep:
    """One past step as the prompt shows it.

    ``response`` is the model's raw reply, replayed as the assistant turn when the step's screenshot is in
    the prompt. ``error`` is the parse failure when the reply was not a valid action (``action`` is then None).
    """

    action: Action | None = None
    response: str = ""
    screenshot_png: bytes | None = None
    error: str | None = None


def history_line(index: int, step: HistoryStep) -> str:
    """``Step i: ...``. It keeps the model's own words for what it did, then the exact action."""
    if step.action is None:
        return f"Step {index}: invalid reply ({step.error or 'not a computer_use call'})"
    if step.action.description:
        return f"Step {index}: {step.action.description} [{step.action.describe()}]"
    return f"Step {index}: {step.action.describe()}"


def instruction_text(goal: str, previous_lines: Sequence[str]) -> str:
    previous = "\n".join(previous_lines) if previous_lines else "None"
    return _INSTRUCTION_TEMPLATE.format(goal=goal, previous=previous)


def _as_step(item: HistoryStep | Action) -> HistoryStep:
    return item if isinstance(item, HistoryStep) else HistoryStep(action=item)


def _assistant_text(step: HistoryStep) -> str:
    """The reply to replay. The raw one is preferred; a canonical rendering is used when only the action is known
    (replayed paths).
    """
    if step.response:
        return step.response
    if step.action is not None:
        return step.action.to_tool_call()
    return f"(invalid reply: {step.error or 'empty'})"


def _image_window(steps: Sequence[HistoryStep], past_images: int) -> int:
    """How many trailing steps ride along with their screenshots. It is the longest trailing run that has
    screenshots, capped at ``past_images``.
    """
    count = 0
    for step in reversed(steps):
        if count >= past_images or step.screenshot_png is None:
            break
        count += 1
    return count


# ---------------------------------------------------------------------------------------------------
# Messages


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _image(png: bytes, min_pixels: int, max_pixels: int, resize: bool) -> dict[str, Any]:
    data = resize_screenshot(png, min_pixels, max_pixels) if resize else png
    return {"type": "image_url", "image_url": {"url": png_data_url(data)}}


def build_messages(
    goal: str,
    screenshot_png: bytes | None,
    history: Sequence[HistoryStep | Action] = (),
    *,
    history_screenshots: int = 1,
    min_pixels: int = DEFAULT_MIN_PIXELS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    resize: bool = True,
    tools_in_system: bool = True,
) -> list[dict[str, Any]]:
    """OpenAI chat-completion messages for the next step (what vLLM gets).

    ``history_screenshots`` counts the screenshots in the prompt, the current one included. With 1, only the
    current screenshot is sent. With k > 1, the last k-1 steps come back as OSWorld does it: alternating user
    (screenshot) and assistant (reply) turns. Older steps are ``Step i:`` lines. With 0, the prompt is text only.
    """
    if history_screenshots < 0:
        raise ValueError(f"history_screenshots must be >= 0, got {history_screenshots}")
    if history_screenshots > 0 and screenshot_png is None:
        raise ValueError("history_screenshots > 0 needs the current screenshot")
    steps = [_as_step(s) for s in history]
    window = _image_window(steps, max(0, history_screenshots - 1))
    first_in_window = len(steps) - window
    instruction = instruction_text(goal, [history_line(i + 1, s) for i, s in enumerate(steps[:first_in_window])])

    def image(png: bytes) -> dict[str, Any]:
        return _image(png, min_pixels, max_pixels, resize)

    messages: list[dict[str, Any]] = [{"role": "system", "content": [_text(system_prompt(tools_in_system))]}]
    for j, step in enumerate(steps[first_in_window:]):
        assert step.screenshot_png is not None  # guaranteed by _image_window
        content = [image(step.screenshot_png)] + ([_text(instruction)] if j == 0 else [])
        messages.append({"role": "user", "content": content})
        messages.append({"role": "assistant", "content": [_text(_assistant_text(step))]})
    current: list[dict[str, Any]] = []
    if history_screenshots > 0 and screenshot_png is not None:
        current.append(image(screenshot_png))
    if window == 0:
        current.append(_text(instruction))
    messages.append({"role": "user", "content": current})
    return messages


def to_processor_messages(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same conversation in the form transformers' ``processor.apply_chat_template`` expects.

    Each data-URL image becomes ``{"type": "image", "image": PIL.Image}``, decoded from the very bytes vLLM
    receives. Everything else is copied as it is.
    """
    return [{**m, "content": _processor_content(m["content"])} for m in messages]


def _processor_content(content: Any) -> Any:
    if isinstance(content, str):
        return content
    return [_processor_item(item) for item in content]


def _processor_item(item: dict[str, Any]) -> dict[str, Any]:
    if item.get("type") != "image_url":
        return dict(item)
    url = item["image_url"]["url"]
    if url.startswith("data:"):
        return {"type": "image", "image": image_from_data_url(url)}
    return {"type": "image", "url": url}


def build_processor_messages(
    goal: str,
    screenshot_png: bytes | None,
    history: Sequence[HistoryStep | Action] = (),
    **options: Any,
) -> list[dict[str, Any]]:
    """``build_messages`` in the transformers form. The learner calls it to rebuild the sampler's prompt."""
    return to_processor_messages(build_messages(goal, screenshot_png, history, **options))


def images_in(messages: Sequence[dict[str, Any]]) -> int:
    """Images in a conversation. vLLM refuses a prompt with more than ``--limit-mm-per-prompt``."""
    return sum(
        1
        for m in messages
        if not isinstance(m["content"], str)
        for item in m["content"]
        if item.get("type") in ("image_url", "image")
    )
