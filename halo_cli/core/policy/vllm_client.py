"""VLLMPolicyClient: samples `computer_use` actions from a vLLM server (OpenAI chat API) and manages LoRA adapters.

One request asks for all G samples of a step (`n=G`), with the completion token ids and their log-probs, which
the learner needs to recompute the same tokens. Transport errors and 5xx are retried by the openai client
(exponential backoff with jitter); when the budget is spent they become `PolicyServerError`, naming the URL and
the last cause. 4xx are not retried and become `PolicyRequestError` carrying the server's own message.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import openai

from halo_cli.core.actions import Action, ActionParseError, parse_action
from halo_cli.core.errors import HaloError
from halo_cli.core.policy.constrained import tool_call_regex
from halo_cli.core.policy.prompts import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MIN_PIXELS,
    HistoryStep,
    build_messages,
)

if TYPE_CHECKING:
    from halo_cli.core.config import Settings

DEFAULT_BASE_URL = "http://localhost:8000"
# vLLM's own neutral values of the sampling parameters the learner does not model: no top-k, no min-p, no
# repetition penalty. Sent explicitly with every request.
SAMPLING_DEFAULTS: dict[str, Any] = {"top_k": -1, "min_p": 0.0, "repetition_penalty": 1.0}
DEFAULT_MODEL = "Qwen/Qwen3-VL-8B-Instruct"


class PolicyServerError(HaloError):
    """The policy server could not be reached or kept failing (connection, timeout, 5xx) within the retry budget."""


class PolicyRequestError(HaloError):
    """The server refused a request (4xx) or the request was invalid before sending; not worth retrying."""

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class Sample:
    """One sampled completion with everything the learner and the run store need."""

    text: str
    action: Action | None
    parse_error: str | None
    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    finish_reason: str | None

    @property
    def logprob_sum(self) -> float:
        return float(sum(self.logprobs))

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def valid(self) -> bool:
        return self.action is not None


@dataclass(frozen=True)
class SampleBatch:
    """The G samples of one request, the prompt that produced them and how long it took."""

    samples: list[Sample]
    messages: list[dict[str, Any]]
    model: str
    prompt_token_ids: tuple[int, ...] | None
    latency_s: float
    usage: dict[str, int] = field(default_factory=dict)

    @property
    def texts(self) -> list[str]:
        return [s.text for s in self.samples]


def _server_message(e: openai.APIStatusError) -> str:
    body = e.body
    if isinstance(body, dict):
        msg = body.get("message") or body.get("detail")
        if isinstance(msg, str) and msg:
            return msg
    try:
        return e.response.text.strip() or str(e)
    except Exception:  # noqa: BLE001 - a streamed/closed response has no text; the SDK's message still says it
        return str(e)


class VLLMPolicyClient:
    """Client of a vLLM OpenAI-compatible server serving the policy (base model plus LoRA adapters)."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        model: str = DEFAULT_MODEL,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 4,
        max_tokens: int = 256,
        top_p: float = 1.0,
        viewport: tuple[int, int] = (1280, 720),
        min_pixels: int = DEFAULT_MIN_PIXELS,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        history_screenshots: int = 1,
        constrained: bool = False,
        constrained_actions: Sequence[str] | None = None,
        constrained_region: Sequence[int] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.max_tokens = max_tokens
        self.top_p = top_p
        self.viewport = viewport
        self.min_pixels = min_pixels
        self.max_pixels = max_pixels
        self.history_screenshots = history_screenshots
        self.max_retries = max_retries
        self.regex = tool_call_regex(constrained_actions, region=constrained_region) if constrained else None
        common: dict[str, Any] = dict(
            base_url=f"{self.base_url}/v1",
            api_key=api_key or "EMPTY",
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            max_retries=max_retries,
        )
        self._sync = openai.OpenAI(**common)
        self._async = openai.AsyncOpenAI(**common)

    @classmethod
    def from_settings(cls, settings: "Settings", base_url: str | None = None) -> "VLLMPolicyClient":
        return cls(
            base_url=base_url or settings.vllm.url,
            model=settings.served_model_name(),
            api_key=settings.vllm.api_key,
            timeout=settings.vllm.request_timeout_s,
            max_retries=settings.vllm.max_retries,
            max_tokens=settings.grpo.max_completion_length,
            top_p=settings.grpo.top_p,
            viewport=(settings.browser.viewport_width, settings.browser.viewport_height),
            min_pixels=settings.model.min_pixels,
            max_pixels=settings.model.max_pixels,
            history_screenshots=settings.env.history_screenshots,
            constrained=settings.grpo.constrained_sampling,
            constrained_actions=settings.grpo.constrained_actions,
            constrained_region=settings.grpo.constrained_region,
        )

    # ----------------------------------------------------------------------------------------- sampling

    def messages(
        self, screenshot: bytes, goal: str, history: Sequence[HistoryStep | Action] = ()
    ) -> list[dict[str, Any]]:
        """The chat messages sent for one step; the learner rebuilds the very same prompt from them."""
        return build_messages(
            goal, screenshot, history, history_screenshots=self.history_screenshots,
            min_pixels=self.min_pixels, max_pixels=self.max_pixels,
        )

    def _request(
        self, messages: list[dict[str, Any]], n: int, temperature: float, model: str | None, seed: int | None
    ) -> dict[str, Any]:
        if n < 1:
            raise PolicyRequestError(f"n must be at least 1, got {n}")
        if n > 1 and temperature == 0:
            raise PolicyRequestError(
                f"n={n} samples at temperature 0 would all be the same (vLLM refuses it): use temperature > 0"
            )
        # Every sampling parameter is sent, so that nothing a server or model folder defaults to changes the
        # distribution the learner believes was sampled from (it applies the same temperature and top-p).
        extra: dict[str, Any] = {"return_token_ids": True, **SAMPLING_DEFAULTS}
        if self.regex is not None:
            extra["structured_outputs"] = {"regex": self.regex}
        req: dict[str, Any] = dict(
            model=model or self.model, messages=messages, n=n, temperature=temperature,
            top_p=self.top_p if temperature > 0 else 1.0, max_tokens=self.max_tokens,
            presence_penalty=0.0, frequency_penalty=0.0,
            logprobs=True, top_logprobs=0, extra_body=extra,
        )
        if seed is not None:
            req["seed"] = seed
        return req

    def _batch(
        self, resp: Any, messages: list[dict[str, Any]], t0: float, viewport: tuple[int, int] | None
    ) -> SampleBatch:
        w, h = viewport or self.viewport
        samples = []
        for choice in sorted(resp.choices, key=lambda c: c.index):
            text = choice.message.content or ""
            try:
                action, error = parse_action(text, w, h), None
            except ActionParseError as e:
                action, error = None, str(e)
            content = choice.logprobs.content if choice.logprobs and choice.logprobs.content else []
            token_ids = getattr(choice, "token_ids", None) or []
            samples.append(Sample(
                text=text, action=action, parse_error=error, token_ids=tuple(int(t) for t in token_ids),
                logprobs=tuple(float(lp.logprob) for lp in content), finish_reason=choice.finish_reason,
            ))
        prompt_ids = getattr(resp, "prompt_token_ids", None)
        usage = resp.usage.model_dump(exclude_none=True) if resp.usage else {}
        return SampleBatch(
            samples=samples, messages=messages, model=resp.model,
            prompt_token_ids=tuple(prompt_ids) if prompt_ids else None,
            latency_s=time.perf_counter() - t0,
            usage={k: v for k, v in usage.items() if isinstance(v, int)},
        )

    def sample(
        self,
        screenshot: bytes,
        goal: str,
        *,
        n: int = 8,
        temperature: float = 0.7,
        history: Sequence[HistoryStep | Action] = (),
        model: str | None = None,
        seed: int | None = None,
        viewport: tuple[int, int] | None = None,
    ) -> SampleBatch:
        """n samples for one state in one request, with token ids, log-probs and parsed actions.

        `viewport` is the screenshot's size in pixels, which the grid coordinates are converted to (default: the
        client's); MiniWoB's screenshots, for one, are not 1280x720.
        """
        messages = self.messages(screenshot, goal, history)
        req = self._request(messages, n, temperature, model, seed)
        t0 = time.perf_counter()
        with self._errors():
            resp = self._sync.chat.completions.create(**req)
        return self._batch(resp, messages, t0, viewport)

    async def asample(
        self,
        screenshot: bytes,
        goal: str,
        *,
        n: int = 8,
        temperature: float = 0.7,
        history: Sequence[HistoryStep | Action] = (),
        model: str | None = None,
        seed: int | None = None,
        viewport: tuple[int, int] | None = None,
    ) -> SampleBatch:
        """`sample` for asyncio, so that many episodes wait on the server at once."""
        messages = self.messages(screenshot, goal, history)
        req = self._request(messages, n, temperature, model, seed)
        t0 = time.perf_counter()
        with self._errors():
            resp = await self._async.chat.completions.create(**req)
        return self._batch(resp, messages, t0, viewport)

    async def achat(self, messages: list[dict[str, Any]], *, max_tokens: int, temperature: float = 0.0,
                    model: str | None = None, regex: str | None = None) -> str:
        """One free-form reply to `messages` (the tree search's self-critique asks the policy model to judge a page),
        under `regex` when given (vLLM's structured outputs), with the same error mapping as sampling."""
        extra: dict[str, Any] = dict(SAMPLING_DEFAULTS)
        if regex is not None:
            extra["structured_outputs"] = {"regex": regex}
        with self._errors():
            resp = await self._async.chat.completions.create(
                model=model or self.model, messages=messages, n=1, temperature=temperature,  # type: ignore[arg-type]
                max_tokens=max_tokens, extra_body=extra)
        return resp.choices[0].message.content or ""

    def sample_actions(self, screenshot: bytes, goal: str, n: int = 8, temperature: float = 0.7) -> list[str]:
        """The seed's API: n raw replies for one screenshot and goal."""
        return self.sample(screenshot, goal, n=n, temperature=temperature).texts

    def sample_single(self, screenshot: bytes, goal: str, temperature: float = 0.0) -> str:
        """The seed's API: one reply, greedy by default (evaluation)."""
        return self.sample(screenshot, goal, n=1, temperature=temperature).texts[0]

    def score(self, token_ids: Sequence[int], start: int, *, model: str | None = None) -> list[float]:
        """vLLM's log-probs of ``token_ids[start:]``, each given the tokens before it (its prompt log-probs, which
        are the raw model's at temperature 1, whatever the logprobs mode). Used to check that a served adapter is
        the trained one."""
        if not 0 < start < len(token_ids):
            raise PolicyRequestError(f"start {start} must fall inside the {len(token_ids)} tokens scored")
        ids = [int(t) for t in token_ids]
        with self._errors():
            resp = self._sync.completions.create(model=model or self.model, prompt=ids, max_tokens=1,
                                                 temperature=0.0, extra_body={"prompt_logprobs": 0})
        choice = resp.choices[0]
        rows = getattr(choice, "prompt_logprobs", None) or (choice.model_extra or {}).get("prompt_logprobs")
        if not rows or len(rows) != len(ids):
            raise PolicyRequestError(f"the server returned no prompt log-probs for {len(ids)} tokens")
        out = []
        for position in range(start, len(ids)):
            entry = rows[position] or {}
            found = entry.get(str(ids[position]), entry.get(ids[position]))  # type: ignore[call-overload]
            if not isinstance(found, dict) or "logprob" not in found:
                raise PolicyRequestError(f"no prompt log-prob for token {ids[position]} at position {position}")
            out.append(float(found["logprob"]))
        return out

    # ----------------------------------------------------------------------------------------- adapters

    def load_adapter(self, name: str, path: str, *, replace: bool = False) -> None:
        """Loads a peft LoRA folder into the running server under `name` (`replace`: swap one of the same name)."""
        body: dict[str, Any] = {"lora_name": name, "lora_path": str(path)}
        if replace:
            body["load_inplace"] = True
        with self._errors():
            self._sync.post("/load_lora_adapter", body=body, cast_to=str)

    def unload_adapter(self, name: str) -> None:
        with self._errors():
            self._sync.post("/unload_lora_adapter", body={"lora_name": name}, cast_to=str)

    def models(self) -> list[str]:
        """Names the server answers to: the base model and every loaded adapter."""
        with self._errors():
            return [m.id for m in self._sync.models.list().data]

    def health(self, timeout: float = 5.0) -> bool:
        """True when the server answers `/health` with 200; never raises."""
        try:
            return httpx.get(f"{self.base_url}/health", timeout=timeout).status_code == 200
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        self._sync.close()

    async def aclose(self) -> None:
        await self._async.close()

    def __enter__(self) -> "VLLMPolicyClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------------------------------- errors

    def _errors(self) -> "_ErrorMapper":
        return _ErrorMapper(self.base_url, self.max_retries)


class _ErrorMapper:
    """Turns the openai SDK's exceptions into ours, once its own retries are spent."""

    def __init__(self, url: str, retries: int):
        self.url = url
        self.retries = retries

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        if exc is None:
            return False
        tries = f"after {self.retries + 1} attempts"
        if isinstance(exc, openai.APITimeoutError):
            raise PolicyServerError(f"policy server {self.url} timed out {tries}") from exc
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            raise PolicyServerError(f"policy server {self.url} unreachable {tries}: {cause}") from exc
        if isinstance(exc, openai.APIStatusError):
            msg = _server_message(exc)
            if exc.status_code >= 500:
                raise PolicyServerError(
                    f"policy server {self.url} failed {tries} (HTTP {exc.status_code}): {msg}"
                ) from exc
            raise PolicyRequestError(
                f"policy server {self.url} refused the request (HTTP {exc.status_code}): {msg}", exc.status_code
            ) from exc
        return False
