"""Prompts: the OSWorld/Qwen system prompt, the user turn, screenshot history, and Qwen3-VL image sizing
(checked against transformers' own image processor, so the sampler and learner see the same vision tokens)."""

from __future__ import annotations

import base64
import io
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from halo_cli.core.actions import COMPUTER_USE_TOOL, LeftClick, Type, parse_action
from halo_cli.core.policy.prompts import (
    PNG_DATA_URL_PREFIX,
    SYSTEM_PROMPT,
    TOOLS,
    HistoryStep,
    build_messages,
    build_processor_messages,
    history_line,
    image_from_data_url,
    images_in,
    instruction_text,
    png_data_url,
    resize_screenshot,
    smart_resize,
    system_prompt,
    to_processor_messages,
    vision_token_count,
)


def png(width: int = 1280, height: int = 720, color: tuple[int, int, int] = (40, 90, 200)) -> bytes:
    image = Image.new("RGB", (width, height), color)
    for x in range(0, width, 37):  # some structure, so resampling is not trivially exact
        image.putpixel((x, x % height), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


SHOT = png()


def decode(url: str) -> Image.Image:
    assert url.startswith(PNG_DATA_URL_PREFIX)
    return Image.open(io.BytesIO(base64.b64decode(url[len(PNG_DATA_URL_PREFIX):])))


def roles(messages: list[dict]) -> list[str]:
    return [m["role"] for m in messages]


def kinds(message: dict) -> list[str]:
    return [item["type"] for item in message["content"]]


def step(i: int, with_shot: bool = True) -> HistoryStep:
    action = parse_action(f'Action: Click item {i}.\n<tool_call>{{"name": "computer_use", "arguments": '
                          f'{{"action": "left_click", "coordinate": [{i}, {i}]}}}}</tool_call>')
    shot = png(color=(i, i, i)) if with_shot else None
    return HistoryStep(action=action, response=action.to_tool_call(), screenshot_png=shot)


# --- smart_resize ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "size", "tokens"),
    [
        ({}, (704, 1280), 880),  # Qwen3-VL default: 720 rounds (banker's) to 704
        ({"max_pixels": 1048576}, (704, 1280), 880),
        ({"max_pixels": 786432}, (640, 1152), 720),
        ({"max_pixels": 524288}, (512, 960), 480),
        ({"max_pixels": 262144}, (384, 672), 252),  # the local profile
        ({"max_pixels": 131072}, (256, 480), 120),
        ({"min_pixels": 2097152}, (1088, 1952), 2074),  # upscaling
        ({"factor": 28, "min_pixels": 3136, "max_pixels": 12845056}, (728, 1288), 1196),  # Qwen2.5-VL
    ],
)
def test_smart_resize_known_values(kwargs: dict, size: tuple[int, int], tokens: int) -> None:
    assert smart_resize(720, 1280, **kwargs) == size
    assert vision_token_count(720, 1280, **kwargs) == tokens


def test_smart_resize_keeps_aligned_sizes_and_rejects_bad_ones() -> None:
    assert smart_resize(704, 1280) == (704, 1280)
    assert smart_resize(1080, 1920) == (1088, 1920)
    with pytest.raises(ValueError):
        smart_resize(10, 5000)
    with pytest.raises(ValueError):
        smart_resize(0, 100)


def _transformers_smart_resize():  # type: ignore[no-untyped-def]
    module = pytest.importorskip("transformers.models.qwen2_vl.image_processing_pil_qwen2_vl")
    return module.smart_resize


@settings(max_examples=300, deadline=None)
@given(
    st.integers(32, 4000), st.integers(32, 4000),
    st.sampled_from([65536, 3136, 200_000]), st.sampled_from([16777216, 1003520, 524288, 262144, 131072]),
)
def test_smart_resize_matches_transformers(h: int, w: int, min_pixels: int, max_pixels: int) -> None:
    expected = _transformers_smart_resize()(h, w, 32, min_pixels, max_pixels)
    assert smart_resize(h, w, 32, min_pixels, max_pixels) == expected


# --- screenshots -------------------------------------------------------------------------------------


def test_resize_screenshot_to_the_model_size() -> None:
    out = Image.open(io.BytesIO(resize_screenshot(SHOT)))
    assert out.format == "PNG" and out.size == (1280, 704)
    small = Image.open(io.BytesIO(resize_screenshot(SHOT, 65536, 262144)))
    assert small.size == (672, 384)


def test_aligned_png_passes_through_unchanged() -> None:
    aligned = png(1280, 704)
    assert resize_screenshot(aligned) is aligned


def test_other_formats_are_reencoded_as_png() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (1280, 704), (1, 2, 3)).save(buf, format="JPEG")
    out = resize_screenshot(buf.getvalue())
    assert out.startswith(b"\x89PNG") and Image.open(io.BytesIO(out)).size == (1280, 704)


def test_unreadable_screenshot() -> None:
    with pytest.raises(ValueError, match="not a readable image"):
        resize_screenshot(b"not a png")


def test_data_url_round_trip() -> None:
    url = png_data_url(SHOT)
    assert url.startswith("data:image/png;base64,")
    assert image_from_data_url(url).tobytes() == Image.open(io.BytesIO(SHOT)).tobytes()
    for bad in ("http://x/y.png", "data:image/png;base64,@@@", "data:image/png,abc"):
        with pytest.raises(ValueError):
            image_from_data_url(bad)


def _qwen3vl_image_processor(max_pixels: int):  # type: ignore[no-untyped-def]
    module = pytest.importorskip("transformers.models.qwen2_vl.image_processing_pil_qwen2_vl")
    return module.Qwen2VLImageProcessorPil(
        patch_size=16, merge_size=2, temporal_patch_size=2, image_mean=[0.5] * 3, image_std=[0.5] * 3,
        size={"shortest_edge": 65536, "longest_edge": max_pixels},
    )


@pytest.mark.parametrize("max_pixels", [16777216, 262144])
def test_processor_sees_the_prepared_size_and_token_count(max_pixels: int) -> None:
    """The learner's processor (Qwen3-VL settings) must not resize our image again: same grid, same token count."""
    processor = _qwen3vl_image_processor(max_pixels)
    messages = build_processor_messages("g", SHOT, max_pixels=max_pixels)
    image = messages[-1]["content"][0]["image"]
    out = processor(images=[image], return_tensors="np")
    t, gh, gw = (int(v) for v in out["image_grid_thw"][0])
    assert (t, gh * 16, gw * 16) == (1, image.height, image.width)
    assert gh * gw // 4 == vision_token_count(720, 1280, max_pixels=max_pixels)
    # feeding the original screenshot gives the same grid: pre-resizing changes no token counts
    original = processor(images=[Image.open(io.BytesIO(SHOT))], return_tensors="np")
    assert original["image_grid_thw"].tolist() == out["image_grid_thw"].tolist()


# --- system prompt -----------------------------------------------------------------------------------


def test_system_prompt_has_the_qwen_tool_block_and_response_format() -> None:
    assert SYSTEM_PROMPT.startswith("# Tools\n\nYou may call one or more functions to assist with the user query.")
    tools = re.search(r"<tools>\n(.*)\n</tools>", SYSTEM_PROMPT, re.S)
    assert tools is not None and json.loads(tools.group(1)) == COMPUTER_USE_TOOL
    assert '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>' in SYSTEM_PROMPT
    assert "# Response format" in SYSTEM_PROMPT
    assert "Output exactly in the order: Action, <tool_call>." in SYSTEM_PROMPT
    assert "If finishing, use action=terminate in the tool call." in SYSTEM_PROMPT
    assert "The screen's resolution is 1000x1000." in SYSTEM_PROMPT


def test_tools_variant_leaves_the_tool_block_to_the_template() -> None:
    text = system_prompt(tools_in_system=False)
    assert "# Tools" not in text and text.startswith("# Response format")
    assert TOOLS == [COMPUTER_USE_TOOL]
    messages = build_messages("g", SHOT, tools_in_system=False)
    assert messages[0]["content"][0]["text"] == text


# --- user turn and history ---------------------------------------------------------------------------


def test_single_step_prompt() -> None:
    messages = build_messages("Find the cheapest house", SHOT)
    assert roles(messages) == ["system", "user"]
    assert messages[0]["content"] == [{"type": "text", "text": SYSTEM_PROMPT}]
    assert kinds(messages[1]) == ["image_url", "text"]
    assert decode(messages[1]["content"][0]["image_url"]["url"]).size == (1280, 704)
    text = messages[1]["content"][1]["text"]
    assert text.startswith(
        "\nPlease generate the next move according to the UI screenshot, instruction and previous actions."
    )
    assert "Instruction: Find the cheapest house" in text
    assert text.endswith("Previous actions:\nNone")
    json.dumps(messages)  # what the OpenAI client sends


def test_previous_actions_are_listed_with_history_screenshots_1() -> None:
    history = [step(1), step(2), HistoryStep(error="no_json: found no JSON object", response="hmm")]
    messages = build_messages("g", SHOT, history)
    assert roles(messages) == ["system", "user"] and images_in(messages) == 1
    text = messages[1]["content"][1]["text"]
    assert text.endswith(
        "Previous actions:\n"
        "Step 1: Click item 1. [left_click at (1, 1)]\n"
        "Step 2: Click item 2. [left_click at (2, 2)]\n"
        "Step 3: invalid reply (no_json: found no JSON object)"
    )


def test_history_screenshots_0_is_text_only() -> None:
    messages = build_messages("g", None, [step(1)], history_screenshots=0)
    assert roles(messages) == ["system", "user"] and kinds(messages[1]) == ["text"]
    assert images_in(messages) == 0 and "Step 1: Click item 1." in messages[1]["content"][0]["text"]


def test_history_screenshots_3_replays_the_last_two_steps_like_osworld() -> None:
    history = [step(1), step(2), step(3), step(4)]
    messages = build_messages("g", SHOT, history, history_screenshots=3)
    assert roles(messages) == ["system", "user", "assistant", "user", "assistant", "user"]
    layout = [["image_url", "text"], ["text"], ["image_url"], ["text"], ["image_url"]]
    assert [kinds(m) for m in messages[1:]] == layout
    assert images_in(messages) == 3
    instruction = messages[1]["content"][1]["text"]
    assert "Step 1: Click item 1." in instruction and "Step 2: Click item 2." in instruction
    assert "Step 3" not in instruction and "Step 4" not in instruction
    assert messages[2]["content"][0]["text"] == history[2].response
    assert messages[4]["content"][0]["text"] == history[3].response
    assert decode(messages[1]["content"][0]["image_url"]["url"]).getpixel((10, 300)) == (3, 3, 3)
    assert decode(messages[3]["content"][0]["image_url"]["url"]).getpixel((10, 300)) == (4, 4, 4)
    assert decode(messages[5]["content"][0]["image_url"]["url"]).getpixel((10, 300)) == (40, 90, 200)


def test_history_screenshots_3_with_a_short_history() -> None:
    messages = build_messages("g", SHOT, [step(1)], history_screenshots=3)
    assert roles(messages) == ["system", "user", "assistant", "user"] and images_in(messages) == 2
    assert messages[1]["content"][1]["text"].endswith("Previous actions:\nNone")


def test_steps_without_screenshots_fall_back_to_text() -> None:
    history = [step(1), step(2, with_shot=False), step(3)]
    messages = build_messages("g", SHOT, history, history_screenshots=5)
    assert roles(messages) == ["system", "user", "assistant", "user"]  # only step 3 trails with a screenshot
    assert "Step 2: Click item 2." in messages[1]["content"][1]["text"]


def test_assistant_turn_falls_back_to_the_canonical_call() -> None:
    action = LeftClick(x=5, y=6, description="Click.")
    messages = build_messages("g", SHOT, [HistoryStep(action=action, screenshot_png=SHOT)], history_screenshots=2)
    assert messages[2]["content"][0]["text"] == action.to_tool_call()


def test_history_accepts_bare_actions() -> None:
    messages = build_messages("g", SHOT, [Type(text="hi"), LeftClick(x=1, y=2)])
    assert messages[1]["content"][1]["text"].endswith('Step 1: type "hi"\nStep 2: left_click at (1, 2)')


def test_history_line_forms() -> None:
    assert history_line(4, HistoryStep(action=LeftClick(x=1, y=2))) == "Step 4: left_click at (1, 2)"
    assert history_line(1, HistoryStep()) == "Step 1: invalid reply (not a computer_use call)"
    assert instruction_text("g", []).endswith("Previous actions:\nNone")


def test_resize_options_pass_through() -> None:
    small = build_messages("g", SHOT, max_pixels=262144)
    assert decode(small[1]["content"][0]["image_url"]["url"]).size == (672, 384)
    raw = build_messages("g", SHOT, resize=False)
    assert raw[1]["content"][0]["image_url"]["url"] == png_data_url(SHOT)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        build_messages("g", SHOT, history_screenshots=-1)
    with pytest.raises(ValueError):
        build_messages("g", None, history_screenshots=1)


# --- the transformers view ---------------------------------------------------------------------------


def test_processor_view_is_the_same_conversation() -> None:
    history = [step(1), step(2)]
    messages = build_messages("g", SHOT, history, history_screenshots=2)
    view = to_processor_messages(messages)
    assert roles(view) == roles(messages)
    for m, v in zip(messages, view):
        assert len(m["content"]) == len(v["content"])
        for item, converted in zip(m["content"], v["content"]):
            if item["type"] == "text":
                assert converted == item
            else:
                assert converted["type"] == "image" and isinstance(converted["image"], Image.Image)
                assert converted["image"].tobytes() == decode(item["image_url"]["url"]).tobytes()
    assert images_in(view) == images_in(messages) == 2
    assert messages[1]["content"][0]["type"] == "image_url"  # the OpenAI form is left untouched


def test_build_processor_messages_matches_build_then_convert() -> None:
    a = build_processor_messages("g", SHOT, [step(1)], history_screenshots=2)
    b = to_processor_messages(build_messages("g", SHOT, [step(1)], history_screenshots=2))
    assert [[i.get("text") for i in m["content"]] for m in a] == [[i.get("text") for i in m["content"]] for m in b]
    assert a[-1]["content"][0]["image"].tobytes() == b[-1]["content"][0]["image"].tobytes()


def test_non_data_urls_pass_as_urls() -> None:
    item = {"type": "image_url", "image_url": {"url": "http://h/x.png"}}
    view = to_processor_messages([{"role": "user", "content": [item]}])
    assert view[0]["content"] == [{"type": "image", "url": "http://h/x.png"}]
