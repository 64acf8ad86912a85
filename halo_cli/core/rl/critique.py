"""AI self-critique: the policy model judges how far a page is toward the goal, as a number in [0, 1].

Agent Q (arXiv 2408.07199, §4.2) values search nodes with feedback from the same model that acts: it sees the page
and the goal and says how much progress was made. Here one short request per new node asks for ``Score: X``; the
reply is read by `parse_critique`, which accepts what models actually write (``Score: 0.7``, ``70%``, ``7/10``,
``7 out of 10``, a bare number, or words such as "halfway" or "complete"), and a reply with nothing readable gets
`mcts.critique_fallback` (0.5, "no idea") and is counted, never guessed at. Under constrained sampling (the local
profile's tiny model writes no sentences) the reply is held to ``Score: <number>`` by vLLM's structured outputs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from halo_cli.core.policy.prompts import png_data_url, resize_screenshot

if TYPE_CHECKING:
    from halo_cli.core.config import MCTSSettings
    from halo_cli.core.env.episode import Observation
    from halo_cli.core.policy.vllm_client import VLLMPolicyClient

CRITIQUE_REGEX = r"Score: (0|1|0\.[0-9]{1,2}|1\.0)"

SYSTEM = ("You judge the progress of a web agent. You see the current page and the task. Say in one short sentence "
          "what is done and what is missing, then give the progress toward completing the task as 'Score: X', X a "
          "number from 0 (nothing done) to 1 (task complete).")

_NUM = r"(\d+(?:\.\d+)?)"
_LABELLED = re.compile(rf"(?:score|progress|rating|value)\s*(?:is|[:=])?\s*{_NUM}\s*(%|/\s*{_NUM}|out of\s*{_NUM})?",
                       re.IGNORECASE)
_PERCENT = re.compile(rf"{_NUM}\s*%")
_FRACTION = re.compile(rf"{_NUM}\s*(?:/|out of)\s*{_NUM}", re.IGNORECASE)
_BARE = re.compile(rf"(?<![\w.]){_NUM}(?![\w.])")
# Checked in order; the first that occurs as a whole word decides. A "not"/"no" right before flips to 0.
_WORDS: tuple[tuple[str, float], ...] = (
    ("no progress", 0.0), ("not started", 0.0), ("nothing", 0.0), ("halfway", 0.5), ("half", 0.5),
    ("almost", 0.8), ("nearly", 0.8), ("mostly", 0.75), ("partially", 0.4), ("partly", 0.4),
    ("complete", 1.0), ("completed", 1.0), ("done", 1.0), ("finished", 1.0), ("accomplished", 1.0),
)


@dataclass(frozen=True)
class Critique:
    """A node's self-critique: the score used, the reply, and how the score was read (`fallback`: unreadable,
    `off`: no critique asked)."""

    score: float
    text: str
    how: str

    @property
    def parsed(self) -> bool:
        return self.how not in ("fallback", "off")


def _clip(v: float) -> float:
    return min(1.0, max(0.0, v))


def _scaled(value: float, denominator: float | None) -> float | None:
    if denominator is not None:
        return _clip(value / denominator) if denominator > 0 else None
    if value <= 1.0:
        return value
    if value <= 10.0:
        return value / 10.0
    if value <= 100.0:
        return value / 100.0
    return None


def parse_critique(text: str) -> tuple[float | None, str]:
    """The progress score a critique reply states, in [0, 1], and how it was read; (None, "fallback") when none.

    A labelled score (the last one: models reason before they conclude) wins over a percentage, a fraction, a bare
    number, and words, in that order. A bare number above 1 is read on a 10 or 100 scale."""
    labelled = list(_LABELLED.finditer(text))
    if labelled:
        m = labelled[-1]
        value, unit = float(m.group(1)), m.group(2) or ""
        denominator = 100.0 if unit == "%" else float(m.group(3) or m.group(4)) if unit else None
        score = _scaled(value, denominator)
        if score is not None:
            return _clip(score), "score"
    if m := _PERCENT.search(text):
        return _clip(float(m.group(1)) / 100.0), "percent"
    if m := _FRACTION.search(text):
        score = _scaled(float(m.group(1)), float(m.group(2)))
        if score is not None:
            return score, "fraction"
    if m := _BARE.search(text):
        score = _scaled(float(m.group(1)), None)
        if score is not None:
            return _clip(score), "number"
    lowered = text.lower()
    for word, value in _WORDS:
        found = re.search(rf"(\b(?:not|no)\s+)?\b{re.escape(word)}\b", lowered)
        if found:
            return (0.0 if found.group(1) else value), "word"
    return None, "fallback"


def critique_messages(goal: str, screenshot: bytes, previous: Sequence[str], *, min_pixels: int,
                      max_pixels: int) -> list[dict[str, Any]]:
    """The critique request: the page as the policy sees it, the goal and the actions taken so far."""
    done = "\n".join(f"{i + 1}. {line}" for i, line in enumerate(previous)) or "(none yet)"
    image = png_data_url(resize_screenshot(screenshot, min_pixels, max_pixels))
    return [
        {"role": "system", "content": [{"type": "text", "text": SYSTEM}]},
        {"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": image}},
            {"type": "text", "text": f"Task: {goal}\nActions taken so far:\n{done}\nHow far along is the task?"},
        ]},
    ]


class Critic:
    """Asks the policy's own server (under the adapter it samples from) to judge pages; counts unreadable replies."""

    def __init__(self, client: "VLLMPolicyClient", settings: "MCTSSettings", *, constrained: bool) -> None:
        self.client = client
        self.settings = settings
        self.regex = CRITIQUE_REGEX if constrained else None
        self.asked = 0
        self.unreadable = 0

    async def judge(self, obs: "Observation", goal: str, previous: Sequence[str], *,
                    model: str | None = None) -> Critique:
        """`model`: the served name the policy samples from now (an adapter), so the judge is the policy itself."""
        if not self.settings.critique:
            return Critique(self.settings.critique_fallback, "", "off")
        messages = critique_messages(goal, obs.screenshot, previous, min_pixels=self.client.min_pixels,
                                     max_pixels=self.client.max_pixels)
        text = await self.client.achat(messages, max_tokens=self.settings.critique_max_tokens, temperature=0.0,
                                       model=model, regex=self.regex)
        self.asked += 1
        score, how = parse_critique(text)
        if score is None:
            self.unreadable += 1
            return Critique(self.settings.critique_fallback, text, "fallback")
        return Critique(score, text, how)
