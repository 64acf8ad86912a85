"""REAL benchmark tasks (agisdk 0.3.5): tasks, site reset through `/config`, grading of `/finish` by agisdk.

Tasks and graders come from agisdk itself (its task JSONs through `TaskConfig`, its `WebCloneEvaluator` with
its v2 eval scripts and v1 jmespath queries), so a reward here means what it means on the REAL leaderboard.
agisdk's gym env is not used: it starts two Chromium processes per reset and sleeps on every step, while
`BrowserEnv` drives one page per episode. What is taken over from it is its reset sequence
(`/config?run_id=&task_id=&latency=0`, `/finish`, start page) and its `/finish` grading.

Nothing here ever submits to the leaderboard: the run id sent to `/config` is always "0" (agisdk's `RUNID`
variable is never read), and neither `/submit` nor the remote evaluate service is called. v1 rubric checks
(`llm_boolean`) go to a configurable OpenAI-compatible judge instead of agisdk's hard-wired gpt-4.1; without a
judge they stay `unjudged` rather than being guessed.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from halo_cli.core.errors import ConfigError, HaloError, NotFoundError
from halo_cli.core.env.tasks import Outcome, Task

if TYPE_CHECKING:
    from agisdk.REAL.browsergym.webclones.evaluate import WebCloneEvaluator
    from agisdk.REAL.browsergym.webclones.task_config import TaskConfig
    from playwright.async_api import Page, Response

    from halo_cli.core.config import Settings

log = logging.getLogger(__name__)

SOURCE_NAME = "real"
REAL_VERSIONS: tuple[str, ...] = ("v1", "v2")
# Run id sent to /config: "0" is agisdk's "not a leaderboard run" (any other id makes agisdk submit results).
RUN_ID = "0"
_MAX_DETAIL_CHARS = 2000


class SiteUnreachableError(HaloError):
    """A REAL site did not answer a reset (`/config` or the start page): offline, wrong URL, taken down."""


class FinishStateError(HaloError):
    """`/finish` gave no usable state: unreachable, no `<pre>`, or a `<pre>` that is not a JSON object."""


# --------------------------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _task_config(task_id: str) -> "TaskConfig":
    # agisdk.tasks.all is broken in 0.3.5 (globs a missing folder); TaskConfig reads the shipped JSONs.
    from agisdk.REAL.browsergym.webclones.task_config import TaskConfig

    try:
        return TaskConfig(task_id)
    except (FileNotFoundError, ValueError) as e:
        raise NotFoundError(f"no REAL task {task_id!r} in agisdk: {e}") from None


@functools.lru_cache(maxsize=None)
def _evaluator(task_id: str) -> "WebCloneEvaluator":
    from agisdk.REAL.browsergym.webclones.evaluate import WebCloneEvaluator

    return WebCloneEvaluator(task_config=_task_config(task_id))


def _eval_summary(ev: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": ev.type}
    if ev.type == "jmespath":
        out.update(query=ev.query, expected_value=ev.expected_value)
    elif ev.type == "llm_boolean":
        out.update(rubric=ev.rubric, expected_value=ev.expected_value)
    elif ev.type == "script":
        out["script"] = ev.script
    if ev.description:
        out["description"] = ev.description
    return out


def _known_issues(tc: "TaskConfig") -> list[str]:
    """Facts that make a task ungradeable whatever the agent does (e.g. agisdk 0.3.5 ships an empty
    eval_gocalendar_11.py, which prints nothing and so always fails); trainers can skip such tasks."""
    issues = []
    for ev in tc.get_evals():
        if ev.type == "script":
            path = Path(tc.eval_scripts_dir) / ev.script
            if not path.is_file():
                issues.append(f"eval script {ev.script} is missing")
            elif not path.read_text(encoding="utf-8", errors="replace").strip():
                issues.append(f"eval script {ev.script} is empty: the task always fails")
    return issues


def _make_task(task_id: str) -> Task:
    tc = _task_config(task_id)
    cj = tc.config_json
    website = cj.get("website") or {}
    evals = tc.get_evals()
    meta: dict[str, Any] = {
        "version": tc.version,
        "task_name": tc.task_name,
        "challengeType": cj.get("challengeType"),
        "possible": bool(cj.get("possible", True)),
        "points": float(cj.get("points") or 1.0),
        "url": tc.get_start_url(),
        "website": website.get("name"),
        "similarTo": website.get("similarTo"),
        "evals": [_eval_summary(e) for e in evals],
        "eval_types": sorted({e.type for e in evals}),
        "needs_judge": any(e.type == "llm_boolean" for e in evals),
    }
    if cj.get("description"):
        meta["description"] = cj["description"]
    issues = _known_issues(tc)
    if issues:
        meta["known_issues"] = issues
    return Task(
        id=tc.canonical_id,
        source=SOURCE_NAME,
        site=str(website.get("id") or tc.task_name.rsplit("-", 1)[0]),
        goal=tc.get_goal(),
        difficulty=cj.get("difficulty"),
        meta=meta,
    )


@functools.lru_cache(maxsize=None)
def _all_tasks() -> tuple[Task, ...]:
    from agisdk.REAL.browsergym.webclones.task_config import TASKS

    return tuple(_make_task(t) for t in TASKS)


def load_tasks(versions: Iterable[str] = REAL_VERSIONS) -> list[Task]:
    """Every agisdk task of the given versions, sorted by id (agisdk's own `TASKS` order)."""
    wanted = set(versions)
    unknown = wanted - set(REAL_VERSIONS)
    if unknown:
        raise ConfigError(f"unknown REAL task version(s) {sorted(unknown)} (known: {', '.join(REAL_VERSIONS)})")
    return [t for t in _all_tasks() if t.meta["version"] in wanted]


def known_sites() -> frozenset[str]:
    """Site ids as agisdk's task JSONs name them (`gomail`, `fly-unified`, ...)."""
    return frozenset(t.site for t in _all_tasks())


# --------------------------------------------------------------------------------------------------------
# Site-URL map
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteMap:
    """Where each REAL site is served.

    `mode` is the fallback for sites without an override: `hosted` uses the URL in each task's JSON, `local`
    the local REAL-compatible sites. `overrides` maps `site` or `version.site` (v1 and v2 are different builds
    of a site, with different `/finish` schemas) to a base URL without a trailing slash.
    """

    mode: Literal["hosted", "local"] = "hosted"
    overrides: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return ",".join([self.mode, *(f"{k}={v}" for k, v in self.overrides.items())])


def _normalize_base_url(raw: str, what: str) -> str:
    url = raw.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{what}: {raw!r} is not an http:// or https:// URL with a host")
    if parts.query or parts.fragment:
        raise ConfigError(f"{what}: {raw!r} must be a base URL without ?query or #fragment")
    try:
        parts.port  # noqa: B018 - validates the port number
    except ValueError:
        raise ConfigError(f"{what}: {raw!r} has an invalid port") from None
    # A trailing slash would give agisdk's `…app//config` double slash once a route is appended.
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def parse_sites(spec: str, sites: Iterable[str] | None = None) -> SiteMap:
    """Parses the `env.sites` setting: `hosted`, `local`, or `site=URL` items, comma-separated.

    The items combine: `local,zilloft=http://127.0.0.1:9000` takes zilloft from that URL and every other site
    from the local sites; `gomail=URL` alone keeps the other sites hosted. A key may name one version's build,
    `v2.gomail=URL`. Bad input raises a one-line ConfigError.
    """
    known = frozenset(sites) if sites is not None else known_sites()
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError("sites is empty: use hosted, local, or site=URL[,site=URL...]")
    mode: str | None = None
    overrides: dict[str, str] = {}
    for item in (p.strip() for p in spec.split(",")):
        if not item:
            raise ConfigError(f"sites {spec!r} has an empty item (stray comma?)")
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep:
            if key not in ("hosted", "local"):
                raise ConfigError(f"sites: {item!r} is neither hosted, local nor site=URL")
            if mode is not None and mode != key:
                raise ConfigError("sites: give either hosted or local as the default, not both")
            mode = key
            continue
        version, dot, site = key.rpartition(".")
        if dot and version not in REAL_VERSIONS:
            raise ConfigError(f"sites: {key!r} names unknown version {version!r} (known: {', '.join(REAL_VERSIONS)})")
        if site not in known:
            raise ConfigError(f"sites: unknown site {site!r} (known: {', '.join(sorted(known))})")
        if key in overrides:
            raise ConfigError(f"sites: {key} is given twice")
        overrides[key] = _normalize_base_url(value, f"sites {key}=")
    return SiteMap(mode=mode or "hosted", overrides=overrides)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------------
# The judge for v1 rubric checks
# --------------------------------------------------------------------------------------------------------


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
        base = _normalize_base_url(base_url, "judge url")
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
            log.log(level, "agisdk %s: %s", name, " ".join(str(a) for a in args)[:_MAX_DETAIL_CHARS])

        return to_logging


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
        _hooks_installed = True


@contextmanager
def _grading_scope(judge: Judge | None) -> Iterator[None]:
    _install_agisdk_hooks()
    tok_judge = _ACTIVE_JUDGE.set(judge)
    tok_grading = _GRADING.set(True)
    try:
        yield
    finally:
        _GRADING.reset(tok_grading)
        _ACTIVE_JUDGE.reset(tok_judge)


# --------------------------------------------------------------------------------------------------------
# Grading a /finish state (page-free)
# --------------------------------------------------------------------------------------------------------


def _compact(value: Any) -> Any:
    """JSON-able, bounded copy of a value for Outcome.details (a jmespath query can return a whole list)."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
        return text[:_MAX_DETAIL_CHARS]
    if len(text) <= _MAX_DETAIL_CHARS:
        return json.loads(text)
    return text[:_MAX_DETAIL_CHARS] + "…"


def _clip(text: Any) -> Any:
    if isinstance(text, str) and len(text) > _MAX_DETAIL_CHARS:
        return text[:_MAX_DETAIL_CHARS] + "…"
    return text


def _grade_criterion(evaluator: "WebCloneEvaluator", index: int, ev: Any, state: dict[str, Any],
                     answer: str | None, judge: Judge | None) -> dict[str, Any]:
    """One criterion through the evaluator's own per-type method, exactly as `WebCloneEvaluator.evaluate` does,
    but keeping the result (which agisdk drops) and never raising for a missing or failing judge."""
    crit: dict[str, Any] = {"index": index, "type": ev.type}
    if ev.description:
        crit["description"] = ev.description
    if ev.type == "script":
        passed, info = evaluator.execute_eval_script_subprocess(ev.script, state, answer)
        crit.update(script=ev.script, passed=bool(passed))
        for key in ("output", "stderr", "return_code", "error"):
            if info.get(key) is not None:
                crit[key] = _clip(info[key])
    elif ev.type == "jmespath":
        crit.update(query=ev.query, expected=_compact(ev.expected_value))
        actual, error = evaluator.jmespath_verify(state, ev.query)
        if error:
            crit.update(passed=False, error=error)
        else:
            passed, _ = evaluator.exact_match(actual, ev.expected_value)
            crit.update(passed=bool(passed), actual=_compact(actual))
    elif ev.type == "llm_boolean":
        crit["rubric"] = ev.rubric
        if answer is None or not answer.strip():
            # No final message can satisfy "does the answer state ...": a definite fail, no judge needed.
            crit.update(passed=False, error="no answer to judge")
        elif judge is None:
            crit.update(passed=None, unjudged="no judge endpoint configured")
        else:
            crit["judge"] = judge.model
            try:
                passed, info = evaluator.evaluate_with_llm(answer, ev.rubric)
            except Exception as e:  # unreachable judge, HTTP error, a reply that is not a number
                crit.update(passed=None, unjudged=f"judge failed: {type(e).__name__}: {_clip(str(e))}")
            else:
                crit.update(passed=bool(passed), similarity=info.get("similarity"))
    else:
        crit.update(passed=None, unjudged=f"unknown evaluation type {ev.type!r}")
    return crit


def grade_state(task: Task, finish_state: Mapping[str, Any], answer: str | None,
                judge: Judge | None = None) -> Outcome:
    """Grades a `/finish` state with agisdk's evaluator for `task`, criterion by criterion.

    As in agisdk, every criterion must pass; reward is the task's points (1) on success. A criterion that
    definitely fails decides `failure` even when a rubric could not be judged; otherwise an unjudged rubric
    (no judge, or the judge failed) gives `unjudged` with reward 0, never a guess. Blocking (eval scripts run
    as subprocesses, the judge over HTTP): call it from a worker thread in async code.
    """
    if task.source != SOURCE_NAME:
        raise ValueError(f"task {task.id} is from source {task.source!r}, not {SOURCE_NAME!r}")
    if not isinstance(finish_state, Mapping):
        raise FinishStateError(f"the /finish state of {task.id} is a {type(finish_state).__name__}, not an object")
    tc = _task_config(task.id)
    state = dict(finish_state)
    with _grading_scope(judge):
        evaluator = _evaluator(task.id)
        criteria = [_grade_criterion(evaluator, i, ev, state, answer, judge)
                    for i, ev in enumerate(tc.get_evals())]
    results = [c["passed"] for c in criteria]
    points = float(tc.task.points or 1.0)
    details: dict[str, Any] = {
        "task_id": task.id,
        "criteria": criteria,
        "passed": sum(r is True for r in results),
        "failed": sum(r is False for r in results),
        "unjudged": sum(r is None for r in results),
        "answer": answer,
        "judge": judge.model if judge is not None else None,
    }
    if not criteria:
        return Outcome(reward=0.0, success=False, status="unjudged",
                       details={**details, "reason": "the task has no evaluation criteria"})
    if any(r is False for r in results):
        return Outcome(reward=0.0, success=False, status="failure", details=details)
    if any(r is None for r in results):
        return Outcome(reward=0.0, success=False, status="unjudged", details=details)
    return Outcome(reward=points, success=True, status="success", details=details)


def parse_finish_text(text: str) -> dict[str, Any]:
    """The `<pre>` text of `/finish` as a JSON object, or a FinishStateError that says what was there."""
    if text is None or not text.strip():
        raise FinishStateError("the /finish <pre> is empty")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise FinishStateError(f"the /finish <pre> is not valid JSON ({e.msg} at char {e.pos}): "
                               f"{text.strip()[:120]!r}") from None
    if not isinstance(value, dict):
        raise FinishStateError(f"the /finish <pre> holds a JSON {type(value).__name__}, not an object")
    return value


# --------------------------------------------------------------------------------------------------------
# The task source
# --------------------------------------------------------------------------------------------------------

# Finds the first <pre> whose text is a JSON object. Polled, because the sites render /finish client-side.
_FIND_FINISH_JSON = """() => {
  for (const pre of document.querySelectorAll('pre')) {
    const text = pre.textContent;
    try { const v = JSON.parse(text); if (v && typeof v === 'object' && !Array.isArray(v)) return text; }
    catch (e) {}
  }
  return null;
}"""
_FINISH_DIAGNOSIS = """() => {
  const pres = Array.from(document.querySelectorAll('pre'));
  return {count: pres.length, first: pres.length ? pres[0].textContent : null,
          body: document.body ? document.body.innerText.slice(0, 200) : ''};
}"""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class RealSource:
    """The REAL tasks of agisdk, served hosted, locally, or from explicit URLs (see `parse_sites`).

    `local_sites` maps `site` or `version.site` to the base URL of a running local REAL-compatible site; it is
    what `sites=local` resolves against. `seed` is accepted for the interface but unused: the REAL sites start
    from the same state on every reset.
    """

    name = SOURCE_NAME

    def __init__(self, sites: str | SiteMap = "hosted", *, local_sites: Mapping[str, str] | None = None,
                 judge: Judge | None = None, versions: Iterable[str] = REAL_VERSIONS,
                 timeout_s: float = 30.0) -> None:
        self.sites = sites if isinstance(sites, SiteMap) else parse_sites(sites)
        self.local_sites = {k: _normalize_base_url(v, f"local site {k}") for k, v in (local_sites or {}).items()}
        self.judge = judge
        self.versions = tuple(versions)
        self.timeout_s = timeout_s
        self._tasks = load_tasks(self.versions)
        self._by_id = {t.id: t for t in self._tasks}

    @classmethod
    def from_settings(cls, settings: "Settings", *, local_sites: Mapping[str, str] | None = None) -> "RealSource":
        # Each navigation, and the wait for /finish's <pre>, gets at most one step's budget: BrowserEnv
        # bounds steps and grades by that budget too, so a longer wait here would only be cut off.
        return cls(settings.env.sites, local_sites=local_sites, judge=judge_from_settings(settings),
                   timeout_s=settings.browser.step_timeout_s)

    def __repr__(self) -> str:
        return f"RealSource(sites={str(self.sites)!r}, judge={self.judge!r})"

    # -- tasks and URLs ------------------------------------------------------------------------------------

    def list_tasks(self) -> list[Task]:
        return list(self._tasks)

    def get(self, task_id: str) -> Task:
        try:
            return self._by_id[task_id]
        except KeyError:
            raise NotFoundError(f"no REAL task {task_id!r} (ids look like v2.gomail-1)") from None

    def base_url(self, task: Task) -> str:
        """The site root for `task` without a trailing slash; a HaloError when the site map has none."""
        version = str(task.meta.get("version"))
        for key in (f"{version}.{task.site}", task.site):
            if key in self.sites.overrides:
                return self.sites.overrides[key]
        if self.sites.mode == "hosted":
            return _normalize_base_url(str(task.meta["url"]), f"task {task.id} url")
        for key in (f"{version}.{task.site}", task.site):
            if key in self.local_sites:
                return self.local_sites[key]
        served = ", ".join(sorted(self.local_sites)) or "none"
        raise HaloError(f"no local site serves {task.site} (task {task.id}; local sites: {served}): "
                        f"set sites to hosted or give {task.site}=URL")

    def check_tasks(self, tasks: Iterable[Task]) -> None:
        """Fails early, naming every site without a URL, instead of at the first reset of a long run."""
        missing = sorted({t.site for t in tasks if t.source == SOURCE_NAME and not self._has_url(t)})
        if missing:
            raise HaloError(f"no URL for REAL site(s) {', '.join(missing)} with sites={self.sites}: "
                            "set sites to hosted or give site=URL for each")

    def _has_url(self, task: Task) -> bool:
        try:
            self.base_url(task)
        except HaloError:
            return False
        return True

    def start_url(self, task: Task) -> str:
        return self.base_url(task) + "/"

    def config_url(self, task: Task) -> str:
        return f"{self.base_url(task)}/config?run_id={RUN_ID}&task_id={task.id}&latency=0"

    def finish_url(self, task: Task) -> str:
        return self.base_url(task) + "/finish"

    def allowed_origins(self, task: Task) -> frozenset[str]:
        return frozenset({_origin(self.base_url(task))})

    # -- episode -------------------------------------------------------------------------------------------

    async def _goto(self, page: "Page", url: str, task: Task, what: str) -> "Response | None":
        from playwright.async_api import Error as PlaywrightError

        try:
            response = await page.goto(url, wait_until="load", timeout=self.timeout_s * 1000)
        except PlaywrightError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise SiteUnreachableError(f"{task.site} {what} at {url} failed: {first}") from None
        if response is not None and response.status >= 400:
            raise SiteUnreachableError(f"{task.site} {what} at {url} answered HTTP {response.status} "
                                       f"{response.status_text}".rstrip())
        return response

    async def _settle(self, page: "Page") -> None:
        # agisdk waits for network idle after /config so the app has stored its config; a site that keeps
        # polling never idles, and its config is stored by then anyway, so a timeout here is not an error.
        from playwright.async_api import TimeoutError as PlaywrightTimeoutError

        try:
            await page.wait_for_load_state("networkidle", timeout=min(self.timeout_s, 10.0) * 1000)
        except PlaywrightTimeoutError:
            log.debug("no network idle on %s", page.url)

    async def setup(self, page: "Page", task: Task, seed: int) -> str:
        """agisdk's reset on one page: `/config` (run id 0, canonical task id), `/finish`, then the start page."""
        await self._goto(page, self.config_url(task), task, "reset (/config)")
        await self._settle(page)
        # agisdk opens /finish right after /config; keep its sequence so the sites see the reset they expect.
        await self._goto(page, self.finish_url(task), task, "reset (/finish)")
        await self._goto(page, self.start_url(task), task, "start page")
        return task.goal or ""

    async def poll(self, page: "Page", task: Task) -> Outcome | None:
        return None  # REAL episodes end when the agent answers or gives up, never by the page itself

    async def finish_state(self, page: "Page", task: Task) -> dict[str, Any]:
        """The `/finish` JSON of the page's site (also useful for dense rewards); FinishStateError if unusable."""
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import TimeoutError as PlaywrightTimeoutError

        url = self.finish_url(task)
        try:
            await self._goto(page, url, task, "/finish")
        except SiteUnreachableError as e:
            raise FinishStateError(str(e)) from None
        try:
            handle = await page.wait_for_function(_FIND_FINISH_JSON, timeout=self.timeout_s * 1000, polling=100)
            text = await handle.json_value()
        except PlaywrightTimeoutError:
            try:
                found = await page.evaluate(_FINISH_DIAGNOSIS)
            except PlaywrightError:
                found = {"count": 0, "first": None, "body": ""}
            if not found["count"]:
                raise FinishStateError(f"{url} shows no <pre> with the state (page text: "
                                       f"{found['body'].strip()[:120]!r})") from None
            text = found["first"] or ""  # parsed below: its error says what the <pre> holds
        except PlaywrightError as e:
            raise FinishStateError(f"reading {url} failed: {str(e).strip().splitlines()[0]}") from None
        return parse_finish_text(text)

    async def grade(self, page: "Page", task: Task, answer: str | None) -> Outcome:
        """Reads `/finish` on the episode's page and grades it with agisdk's evaluator.

        An unusable `/finish` is an `aborted` Outcome (the episode has no grade), not an exception: one bad
        episode must not end a training run.
        """
        try:
            state = await self.finish_state(page, task)
        except FinishStateError as e:
            return Outcome(reward=0.0, success=False, status="aborted",
                           details={"reason": str(e), "task_id": task.id, "answer": answer})
        return await asyncio.to_thread(grade_state, task, state, answer, self.judge)

    def grade_state(self, task: Task, finish_state: Mapping[str, Any], answer: str | None) -> Outcome:
        """`grade_state` with this source's judge."""
        return grade_state(task, finish_state, answer, self.judge)
