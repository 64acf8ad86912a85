"""The judge of REAL v1 rubric checks (`llm_boolean`), and the hooks that route agisdk's grading through it.

agisdk hard-wires its rubric judge to OpenAI's gpt-4.1; halo sends the same prompt to any OpenAI-compatible
endpoint instead (the policy's own vLLM server by default), and without a judge such checks stay `unjudged`,
never guessed.
"""

from __future__ import annotations

import contextvars
import logging
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from halo_cli.core.env.real.sites import normalize_base_url

if TYPE_CHECKING:
    from halo_cli.core.config import Settings

log = logging.getLogger(__name__)

MAX_DETAIL_CHARS = 2000


@runtime_checkable
class Judge(Protocol):
    """Answers agisdk's rubric prompt; agisdk then reads the reply as a float and passes it if > 0.8."""

    model: str

    def complete(self, prompt: str) -> str:
        ...


class OpenAIJudge:
    """A judge behind any OpenAI-compatible chat-completions endpoint (our vLLM server by default).

    Temperature 0 so that the same answer gets the same reward in every group of a GRPO batch.
    """

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout_s: float = 60.0,
                 max_retries: int = 2, max_tokens: int = 64) -> None:
        base = normalize_base_url(base_url, "judge url")
        # The OpenAI client appends /chat/completions to base_url: servers expose it under /v1.
        self.base_url = base if base.endswith("/v1") else base + "/v1"
        self.model = model
        self._api_key = api_key or "EMPTY"
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._max_tokens = max_tokens
        self._client: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OpenAIJudge({self.base_url!r}, model={self.model!r})"

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                from openai import OpenAI

                self._client = OpenAI(base_url=self.base_url, api_key=self._api_key, timeout=self._timeout_s,
                                      max_retries=self._max_retries)
            return self._client

    def complete(self, prompt: str) -> str:
        response = self._get_client().chat.completions.create(
            model=self.model,
            messages=[{"role": "user", "content": prompt}],
            temperature=0.0,
            max_tokens=self._max_tokens,
        )
        content = response.choices[0].message.content if response.choices else None
        if content is None:
            raise ValueError("the judge returned no message content")
        return content.strip()


def judge_from_settings(settings: "Settings") -> OpenAIJudge | None:
    """The judge the settings name: `env.judge_url` (`off` for none), else the policy's own vLLM server."""
    env = settings.env
    model = env.judge_model or settings.served_model_name()
    if env.judge_url is None:
        return OpenAIJudge(settings.vllm.url, model, api_key=env.judge_api_key or settings.vllm.api_key,
                           timeout_s=settings.vllm.request_timeout_s)
    if env.judge_url.strip().lower() in ("", "off", "none"):
        return None
    return OpenAIJudge(env.judge_url, model, api_key=env.judge_api_key, timeout_s=settings.vllm.request_timeout_s)


# agisdk's evaluator calls the module-global `generate_from_model` (hard-wired OpenAI() client) and logs every
# criterion through a module-global rich console on stdout. Both are replaced once by dispatchers that act
# differently only while halo grades in the current context: the judge goes to our endpoint, the chatter to
# `logging`. Anyone else using agisdk in this process keeps agisdk's behaviour, and concurrent gradings in
# threads or tasks never see each other's judge (a ContextVar, not a patch-and-restore).
_ACTIVE_JUDGE: contextvars.ContextVar[Judge | None] = contextvars.ContextVar("halo_real_judge", default=None)
_GRADING: contextvars.ContextVar[bool] = contextvars.ContextVar("halo_real_grading", default=False)
# Where agisdk writes a grading's state file. Its eval scripts run with the file's folder as their world:
# eval_omnizon_28 reads every sibling *.json/*.txt, so gradings that share $TMPDIR (concurrent ones, or stray
# files) flip each other's verdicts. Each halo grading gets a private folder.
_GRADING_DIR: contextvars.ContextVar[str | None] = contextvars.ContextVar("halo_real_grading_dir", default=None)
_hooks_lock = threading.Lock()
_hooks_installed = False


class _AgisdkLogBridge:
    """Stands in for agisdk's rich logger inside `evaluate.py`: quiet while halo grades, else the original."""

    def __init__(self, original: Any) -> None:
        self._original = original

    def __getattr__(self, name: str) -> Any:
        if not _GRADING.get():
            return getattr(self._original, name)

        def to_logging(*args: Any, **_: Any) -> None:
            level = logging.WARNING if name == "error" else logging.DEBUG
            log.log(level, "agisdk %s: %s", name, " ".join(str(a) for a in args)[:MAX_DETAIL_CHARS])

        return to_logging


class _AgisdkTempfileBridge:
    """Stands in for the `tempfile` module inside agisdk's `evaluate.py`: while halo grades, `mkstemp` puts the state
    file in the grading's private folder; everything else is the real module."""

    def __getattr__(self, name: str) -> Any:
        return getattr(tempfile, name)

    @staticmethod
    def mkstemp(*args: Any, **kwargs: Any) -> tuple[int, str]:
        folder = _GRADING_DIR.get()
        if folder is not None and kwargs.get("dir") is None and len(args) < 3:
            kwargs["dir"] = folder
        return tempfile.mkstemp(*args, **kwargs)


def _install_agisdk_hooks() -> None:
    global _hooks_installed
    with _hooks_lock:
        if _hooks_installed:
            return
        from agisdk.REAL.browsergym.webclones import evaluate as agisdk_evaluate

        original_generate = agisdk_evaluate.generate_from_model

        def generate_from_model(model: str = "gpt4o", prompt: str = "") -> str:
            judge = _ACTIVE_JUDGE.get()
            if judge is None:
                return original_generate(model=model, prompt=prompt)
            return judge.complete(prompt)

        agisdk_evaluate.generate_from_model = generate_from_model
        agisdk_evaluate.rich_logger = _AgisdkLogBridge(agisdk_evaluate.rich_logger)
        agisdk_evaluate.tempfile = _AgisdkTempfileBridge()
        _hooks_installed = True


@contextmanager
def grading_scope(judge: Judge | None) -> Iterator[None]:
    """agisdk's evaluator, for this context only: halo's judge, quiet logging, a private folder per grading."""
    _install_agisdk_hooks()
    tok_judge = _ACTIVE_JUDGE.set(judge)
    tok_grading = _GRADING.set(True)
    try:
        with tempfile.TemporaryDirectory(prefix="halo-grade-") as folder:
            tok_dir = _GRADING_DIR.set(folder)
            try:
                yield
            finally:
                _GRADING_DIR.reset(tok_dir)
    finally:
        _GRADING.reset(tok_grading)
        _ACTIVE_JUDGE.reset(tok_judge)
