"""REAL tasks from agisdk: task loading, the site-URL map, grading real /finish dumps with agisdk's evaluators,
the v1 rubric judge over HTTP, and reset + grading in real Chromium against a local REAL-like site.

The dumps in tests/data/real/ are real `/finish` states of the hosted sites (see its README). Where no dump
satisfies a task as captured, the pass case is that dump with the few fields the task's evals read changed.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from halo_cli.core.config import BrowserSettings, load_settings
from halo_cli.core.env.real import (
    RUN_ID,
    FinishStateError,
    OpenAIJudge,
    RealSource,
    SiteMap,
    SiteUnreachableError,
    grade_state,
    judge_from_settings,
    load_tasks,
    parse_finish_text,
    parse_sites,
)
from halo_cli.core.env.tasks import Task, TaskSource, select_tasks
from halo_cli.core.errors import ConfigError, HaloError, NotFoundError

DATA = Path(__file__).parent / "data" / "real"


def _load(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def source() -> RealSource:
    return RealSource("hosted")


@pytest.fixture(scope="module")
def tasks(source: RealSource) -> dict[str, Task]:
    return {t.id: t for t in source.list_tasks()}


@pytest.fixture
def zilloft_dump() -> dict[str, Any]:
    return _load("zilloft_finish_v1.json")


@pytest.fixture
def staynb_dump() -> dict[str, Any]:
    return _load("staynb_finish_v1.json")


@pytest.fixture
def gocalendar_dump() -> dict[str, Any]:
    return _load("gocalendar_v2_finish.json")


def _tour(dump: dict[str, Any]) -> dict[str, Any]:
    return dump["differences"]["requestTours"]["added"]["0"]["requestTourData"]


def _criteria(outcome: Any) -> list[dict[str, Any]]:
    return list(outcome.details["criteria"])


# ---------------------------------------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------------------------------------


def test_all_233_tasks_load_from_agisdk(source: RealSource) -> None:
    from agisdk.REAL.browsergym.webclones.task_config import TASKS

    tasks = source.list_tasks()
    assert isinstance(source, TaskSource)
    assert [t.id for t in tasks] == TASKS  # agisdk's own list, in its order
    assert len(tasks) == 233 and len({t.id for t in tasks}) == 233
    by_version = Counter(t.meta["version"] for t in tasks)
    assert by_version == {"v1": 112, "v2": 121}
    counts = Counter((t.site, t.meta["version"]) for t in tasks)
    for site, (v1, v2) in {"gomail": (8, 21), "gocalendar": (10, 10), "omnizon": (10, 10),
                           "zilloft": (10, 10)}.items():
        assert (counts[(site, "v1")], counts[(site, "v2")]) == (v1, v2), site
    for t in tasks:
        assert t.source == "real"
        assert t.goal and t.goal.strip(), t.id
        assert t.id == f"{t.meta['version']}.{t.meta['task_name']}"
        assert t.meta["evals"], t.id
        json.dumps(dict(t.meta))  # stored with every run: must be plain JSON


def test_task_fields_come_from_the_task_json(tasks: dict[str, Task]) -> None:
    t = tasks["v2.gomail-1"]
    assert t.site == "gomail" and t.difficulty == "medium"
    assert t.goal == "Mark all my emails as read and delete all amazon related emails."
    assert t.meta["url"] == "https://real-gomail-1glk4rtaf-real-sites.vercel.app/"
    assert t.meta["challengeType"] == "action"
    assert t.meta["evals"] == [{"type": "script", "script": "eval_gomail_1.py"}]
    assert t.meta["needs_judge"] is False

    z = tasks["v1.zilloft-9"]
    assert z.difficulty and z.meta["similarTo"] == "Zillow"
    assert z.meta["eval_types"] == ["jmespath", "llm_boolean"] and z.meta["needs_judge"] is True
    assert z.meta["evals"][1] == {"type": "jmespath",
                                  "query": 'differences.requestTours.added."0".requestTourData.formValues.name',
                                  "expected_value": "David Smith", "description": "correct name provided"}
    # agisdk 0.3.5 ships an empty eval script: the task can never pass, and says so.
    assert "empty" in tasks["v2.gocalendar-11"].meta["known_issues"][0]
    assert "known_issues" not in t.meta


def test_select_tasks_by_domain_and_version(source: RealSource) -> None:
    assert len(select_tasks("gomail", [source], version="v2")) == 21
    assert len(select_tasks("zilloft", [source], version="v1")) == 10
    assert [t.id for t in select_tasks("v1.staynb-4,v2.zilloft-2", [source])] == ["v1.staynb-4",
                                                                                      "v2.zilloft-2"]
    assert len(select_tasks("real", [source])) == 233
    assert [t.meta["version"] for t in RealSource(versions=["v2"]).list_tasks()] == ["v2"] * 121
    with pytest.raises(NotFoundError):
        source.get("v3.gomail-1")
    with pytest.raises(ConfigError, match="unknown REAL task version"):
        load_tasks(["v3"])


# ---------------------------------------------------------------------------------------------------------
# Site-URL map
# ---------------------------------------------------------------------------------------------------------


def test_parse_sites_accepts_modes_and_overrides() -> None:
    assert parse_sites("hosted") == SiteMap("hosted", {})
    assert parse_sites(" local ") == SiteMap("local", {})
    m = parse_sites("gomail=http://127.0.0.1:3001/, v2.zilloft=https://example.org/zilloft/")
    assert m.mode == "hosted"
    assert dict(m.overrides) == {"gomail": "http://127.0.0.1:3001", "v2.zilloft": "https://example.org/zilloft"}
    m = parse_sites("local,fly-unified=http://localhost:9000")
    assert m.mode == "local" and dict(m.overrides) == {"fly-unified": "http://localhost:9000"}
    assert parse_sites(str(m)) == m


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "sites is empty"),
        ("remote", "neither hosted, local nor site=URL"),
        ("hosted,local", "not both"),
        ("gomial=http://127.0.0.1:1", "unknown site 'gomial'"),
        ("v3.gomail=http://127.0.0.1:1", "unknown version 'v3'"),
        ("gomail=127.0.0.1:3000", "not an http:// or https:// URL"),
        ("gomail=ftp://host", "not an http:// or https:// URL"),
        ("gomail=http://", "not an http:// or https:// URL"),
        ("gomail=http://h:99999", "invalid port"),
        ("gomail=http://h/x?y=1", r"without \?query"),
        ("gomail=http://a,gomail=http://b", "gomail is given twice"),
        ("hosted,,gomail=http://a", "empty item"),
    ],
)
def test_parse_sites_rejects_bad_input_in_one_line(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as e:
        parse_sites(spec)
    assert "\n" not in str(e.value)


def test_site_urls_resolve_per_mode(tasks: dict[str, Task]) -> None:
    g2, g1, z2 = tasks["v2.gomail-1"], tasks["v1.gomail-3"], tasks["v2.zilloft-2"]
    hosted = RealSource("hosted")
    # The v2 task URL ends with "/": no `…app//config` double slash.
    assert hosted.config_url(g2) == ("https://real-gomail-1glk4rtaf-real-sites.vercel.app/config"
                                     "?run_id=0&task_id=v2.gomail-1&latency=0")
    assert hosted.start_url(g2) == "https://real-gomail-1glk4rtaf-real-sites.vercel.app/"
    assert hosted.allowed_origins(g1) == {"https://evals-gomail.vercel.app"}
    assert hosted.finish_url(g1) == "https://evals-gomail.vercel.app/finish"

    local = RealSource("local", local_sites={"gomail": "http://127.0.0.1:3001/", "v2.zilloft": "http://h:5"})
    assert local.start_url(g1) == local.start_url(g2) == "http://127.0.0.1:3001/"
    assert local.config_url(z2) == "http://h:5/config?run_id=0&task_id=v2.zilloft-2&latency=0"
    assert local.allowed_origins(z2) == {"http://h:5"}
    with pytest.raises(HaloError, match="no local site serves zilloft .*v1.zilloft-3"):
        local.base_url(tasks["v1.zilloft-3"])
    with pytest.raises(HaloError, match="omnizon"):
        local.check_tasks([g1, tasks["v2.omnizon-3"], tasks["v1.omnizon-2"]])
    local.check_tasks([g1, g2, z2])

    mixed = RealSource("local,v1.gomail=http://10.0.0.1:8080/app", local_sites={"gomail": "http://127.0.0.1:3001"})
    assert mixed.start_url(g1) == "http://10.0.0.1:8080/app/"
    assert mixed.allowed_origins(g1) == {"http://10.0.0.1:8080"}
    assert mixed.start_url(g2) == "http://127.0.0.1:3001/"
    override_only = RealSource("zilloft=http://127.0.0.1:7000")
    assert override_only.start_url(z2) == "http://127.0.0.1:7000/"
    assert override_only.start_url(g2) == g2.meta["url"]  # other sites stay hosted


# ---------------------------------------------------------------------------------------------------------
# Grading real /finish dumps with agisdk's evaluators
# ---------------------------------------------------------------------------------------------------------


def test_v1_zilloft_dump_graded_by_jmespath(tasks: dict[str, Task], zilloft_dump: dict[str, Any]) -> None:
    # The captured dump is a tour request by "Prannay Hebbar" at 9:00 AM: no v1 zilloft task asks for that.
    out = grade_state(tasks["v1.zilloft-6"], zilloft_dump, "Done")
    assert (out.status, out.success, out.reward) == ("failure", False, 0.0)
    crit = _criteria(out)
    assert [c["passed"] for c in crit] == [True, False, False, False, False]  # a tour was added, wrong details
    assert crit[1]["actual"] == "Prannay Hebbar" and crit[1]["expected"] == "Sarah Brown"
    assert crit[4]["actual"] == "9:00 AM"
    json.dumps(dict(out.details))

    # The same real tour request made with zilloft-3's contact details and time passes zilloft-3 only.
    form = _tour(zilloft_dump)["formValues"]
    form.update(name="John Doe", email="johndoe@example.com", phone="555-123-4567")
    _tour(zilloft_dump)["options"][0]["time"] = "2:00 PM"
    out = grade_state(tasks["v1.zilloft-3"], zilloft_dump, "Requested the tour.")
    assert (out.status, out.success, out.reward) == ("success", True, 1.0)
    assert out.details["passed"] == 4 and out.details["failed"] == 0
    assert grade_state(tasks["v1.zilloft-6"], zilloft_dump, "Done").status == "failure"


def test_v1_staynb_dump_graded_by_jmespath(tasks: dict[str, Task], staynb_dump: dict[str, Any]) -> None:
    # Captured: a booking for "3 Guests, 1 Infant"; staynb-4 wants exactly "3 Guests" (1 adult + 2 children).
    out = grade_state(tasks["v1.staynb-4"], staynb_dump, "Booked.")
    assert out.status == "failure"
    assert _criteria(out)[0]["actual"] == "3 Guests, 1 Infant"
    staynb_dump["bookingDetailsDiff"]["added"]["0"]["guests"] = "3 Guests"
    assert grade_state(tasks["v1.staynb-4"], staynb_dump, "Booked.").status == "success"
    assert grade_state(tasks["v1.staynb-2"], staynb_dump, "Booked.").status == "failure"  # wants 4 guests
    out = grade_state(tasks["v1.staynb-8"], staynb_dump, "Booked.")  # wants Parisian Charm, Paris, $530
    assert [c["passed"] for c in _criteria(out)] == [True, False, False, False]


def test_v2_script_eval_passes_the_real_zilloft_dump(tasks: dict[str, Task], zilloft_dump: dict[str, Any]) -> None:
    # "Request a tour for a 3 bed 2 bath house in long beach.": the captured request is for a Long Beach house.
    out = grade_state(tasks["v2.zilloft-2"], zilloft_dump, None)
    assert (out.status, out.reward) == ("success", 1.0)
    (crit,) = _criteria(out)
    assert crit["script"] == "eval_zilloft_2.py" and crit["output"] == "SUCCESS" and crit["return_code"] == 0
    # eval_zilloft_2 rejects apartments; and a tour request is not "contact an agent in Boston" (zilloft-14).
    assert grade_state(tasks["v2.zilloft-14"], zilloft_dump, None).status == "failure"
    _tour(zilloft_dump)["formValues"]["message"] = "I am interested in 455 E Ocean Blvd APT 528, Long Beach, CA."
    out = grade_state(tasks["v2.zilloft-2"], zilloft_dump, None)
    assert out.status == "failure" and _criteria(out)[0]["output"] == "FAILURE"


def test_v2_script_evals_on_the_real_gocalendar_dump(tasks: dict[str, Task], gocalendar_dump: dict[str, Any]) -> None:
    # Captured: one event added ("Europe Trip: Dublin"), nothing deleted.
    assert list(gocalendar_dump["differences"]["events"]["added"].values())[0]["title"] == "Europe Trip: Dublin"
    assert grade_state(tasks["v2.gocalendar-23"], gocalendar_dump, None).status == "failure"
    assert grade_state(tasks["v2.gocalendar-16"], gocalendar_dump, None).status == "failure"

    project_sync, reading_time = _load("gocalendar_initial_events.json")["events"]
    deleted_sync = copy.deepcopy(gocalendar_dump)
    deleted_sync["differences"]["events"]["deleted"] = {project_sync["id"]: project_sync}
    # "Delete the project sync from the calendar on Wednesday": Project Sync starts Wed 2024-07-17.
    assert grade_state(tasks["v2.gocalendar-23"], deleted_sync, None).status == "success"
    assert grade_state(tasks["v2.gocalendar-16"], deleted_sync, None).status == "failure"

    deleted_reading = copy.deepcopy(gocalendar_dump)
    deleted_reading["differences"]["events"]["deleted"] = {reading_time["id"]: reading_time}
    assert grade_state(tasks["v2.gocalendar-23"], deleted_reading, None).status == "failure"  # wrong event
    assert grade_state(tasks["v2.gocalendar-16"], deleted_reading, None).status == "success"  # cancel reading

    gym = copy.deepcopy(gocalendar_dump)
    next(iter(gym["differences"]["events"]["added"].values()))["title"] = "Buy gym clothes"
    assert grade_state(tasks["v2.gocalendar-12"], gym, None).status == "success"
    assert grade_state(tasks["v2.gocalendar-11"], gym, None).status == "failure"  # its script is empty


def test_grade_state_rejects_foreign_tasks_and_non_objects(tasks: dict[str, Task]) -> None:
    with pytest.raises(ValueError, match="not 'real'"):
        grade_state(Task(id="miniwob.click-test", source="miniwob", site="click-test", goal=None), {}, None)
    with pytest.raises(FinishStateError):
        grade_state(tasks["v2.zilloft-2"], ["not", "an", "object"], None)  # type: ignore[arg-type]
    assert grade_state(tasks["v2.zilloft-2"], {}, None).status == "failure"  # an empty diff: nothing done


def test_parse_finish_text() -> None:
    assert parse_finish_text(' {"differences": {}} \n') == {"differences": {}}
    for text, message in [("", "empty"), ("No <pre> tag found.", "not valid JSON"), ("[1, 2]", "JSON list")]:
        with pytest.raises(FinishStateError, match=message):
            parse_finish_text(text)


# ---------------------------------------------------------------------------------------------------------
# v1 rubric checks: no judge -> unjudged; a judge endpoint -> called over HTTP
# ---------------------------------------------------------------------------------------------------------


def _zilloft9_state(dump: dict[str, Any]) -> dict[str, Any]:
    """The captured tour request with zilloft-9's details: every jmespath criterion of zilloft-9 passes."""
    form = _tour(dump)["formValues"]
    form.update(name="David Smith", email="davidsmith@example.com", phone="555-333-7890")
    _tour(dump)["options"][0]["time"] = "6:00 PM"
    return dump


ANSWER_9 = "The most expensive 4+ bedroom home in San Francisco is listed at $4,985,000; I requested a tour."


def test_rubric_without_judge_is_unjudged(tasks: dict[str, Task], zilloft_dump: dict[str, Any]) -> None:
    state = _zilloft9_state(zilloft_dump)
    out = grade_state(tasks["v1.zilloft-9"], state, ANSWER_9, judge=None)
    assert (out.status, out.success, out.reward) == ("unjudged", False, 0.0)
    crit = _criteria(out)
    assert [c["passed"] for c in crit] == [True, True, True, True, True, None]  # jmespath results still there
    assert crit[5]["type"] == "llm_boolean" and "no judge" in crit[5]["unjudged"]
    assert out.details["unjudged"] == 1 and out.details["judge"] is None
    # A rubric-only task without a judge is unjudged too; a failed jmespath criterion is a definite failure.
    assert grade_state(tasks["v1.zilloft-1"], {}, "There are 8 listings.").status == "unjudged"
    assert grade_state(tasks["v1.zilloft-9"], _load("zilloft_finish_v1.json"), ANSWER_9).status == "failure"
    # No final answer cannot satisfy "does the answer state ...": a definite failure, no judge needed.
    out = grade_state(tasks["v1.zilloft-1"], {}, None)
    assert out.status == "failure" and _criteria(out)[0]["error"] == "no answer to judge"


class _JudgeServer:
    """A local OpenAI-compatible chat-completions peer: the real judge (gpt-4.1) is unreachable here."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
                payload = json.dumps({
                    "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": server.reply}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def judge_server() -> Iterator[_JudgeServer]:
    server = _JudgeServer("1.0")
    yield server
    server.close()


def test_rubric_goes_to_the_judge_endpoint(tasks: dict[str, Task], zilloft_dump: dict[str, Any],
                                           judge_server: _JudgeServer) -> None:
    judge = OpenAIJudge(judge_server.url, "halo-judge", api_key="k-test")
    state = _zilloft9_state(zilloft_dump)
    out = grade_state(tasks["v1.zilloft-9"], state, ANSWER_9, judge=judge)
    assert (out.status, out.reward) == ("success", 1.0)
    crit = _criteria(out)[5]
    assert crit["passed"] is True and crit["similarity"] == 1.0 and crit["judge"] == "halo-judge"
    (req,) = judge_server.requests
    assert req["path"] == "/v1/chat/completions" and req["model"] == "halo-judge"
    assert req["auth"] == "Bearer k-test" and req["temperature"] == 0.0
    prompt = req["messages"][0]["content"]
    assert ANSWER_9 in prompt and tasks["v1.zilloft-9"].meta["evals"][5]["rubric"] in prompt  # agisdk's prompt

    judge_server.reply = "0.0"
    out = grade_state(tasks["v1.zilloft-9"], state, "It costs $1.", judge=judge)
    assert out.status == "failure" and _criteria(out)[5]["similarity"] == 0.0

    judge_server.reply = "The answer looks right."  # agisdk refuses a non-number: not a grade, not a guess
    out = grade_state(tasks["v1.zilloft-9"], state, ANSWER_9, judge=judge)
    assert out.status == "unjudged" and "not a valid floating point number" in _criteria(out)[5]["unjudged"]

    # The source passes its judge; a judge that cannot be reached leaves the rubric unjudged.
    judge_server.reply = "1.0"
    n = len(judge_server.requests)
    assert RealSource(judge=judge).grade_state(tasks["v1.zilloft-1"], {}, "8 listings").status == "success"
    assert len(judge_server.requests) == n + 1
    judge_server.close()
    gone = OpenAIJudge(judge_server.url, "halo-judge", max_retries=0, timeout_s=5)
    out = grade_state(tasks["v1.zilloft-9"], state, ANSWER_9, judge=gone)
    assert out.status == "unjudged" and "APIConnectionError" in _criteria(out)[5]["unjudged"]


def test_judge_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in [k for k in os.environ if k.startswith("HALO_")]:
        monkeypatch.delenv(k)
    s = load_settings()
    judge = judge_from_settings(s)
    assert judge is not None and judge.base_url == "http://127.0.0.1:8000/v1"
    assert judge.model == s.served_model_name()
    s = load_settings(overrides={"env": {"judge_url": "off"}})
    assert judge_from_settings(s) is None
    s = load_settings(overrides={"env": {"judge_url": "https://judge.example/v1/", "judge_model": "gpt-4.1"}})
    judge = judge_from_settings(s)
    assert judge is not None and (judge.base_url, judge.model) == ("https://judge.example/v1", "gpt-4.1")
    with pytest.raises(ConfigError, match="judge url"):
        judge_from_settings(load_settings(overrides={"env": {"judge_url": "judge.example"}}))
    src = RealSource.from_settings(load_settings(overrides={"env": {"sites": "local", "judge_url": "off"}}),
                                   local_sites={"gomail": "http://127.0.0.1:3001"})
    assert src.judge is None and src.sites.mode == "local"


# ---------------------------------------------------------------------------------------------------------
# setup + grade in real Chromium against a local REAL-like site
# ---------------------------------------------------------------------------------------------------------


class _Site:
    """A minimal REAL-compatible site: `/config` stores the reset like the real apps (client-side), `/finish`
    renders the state JSON into `<div id="__next"><pre>` from script, `/` is the app."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.finish_body: Callable[[], str] = lambda: "<pre>{}</pre>"
        self.status: dict[str, int] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                site.requests.append((parts.path, parse_qs(parts.query)))
                if parts.path == "/config":
                    body = ("<html><body><script>localStorage.setItem('config', JSON.stringify("
                            "Object.fromEntries(new URLSearchParams(location.search))));</script>"
                            "config stored</body></html>")
                elif parts.path == "/finish":
                    body = f"<html><body><div id='__next'>{site.finish_body()}</div></body></html>"
                elif parts.path == "/":
                    body = "<html><head><title>Zilloft</title></head><body><h1>Zilloft</h1></body></html>"
                else:
                    body = "not found"
                status = site.status.get(parts.path, 200 if body != "not found" else 404)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def render_state_later(self, state: Any) -> None:
        """The real /finish renders client-side: the <pre> appears after the page has loaded."""
        text = json.dumps(json.dumps(state))  # a JS string literal of the JSON text
        self.finish_body = lambda: ("<p>Loading…</p><script>setTimeout(() => { const pre = "
                                    "document.createElement('pre'); pre.textContent = " + text + "; "
                                    "document.getElementById('__next').appendChild(pre); }, 50);</script>")

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def site() -> Iterator[_Site]:
    s = _Site()
    yield s
    s.close()


async def _with_page(fn: Callable[[Any], Any]) -> Any:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=BrowserSettings().executable,
                                           args=["--no-sandbox", "--disable-gpu"])
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 720})
            page = await context.new_page()
            return await fn(page)
        finally:
            await browser.close()


def test_setup_and_grade_in_chromium(tasks: dict[str, Task], site: _Site, zilloft_dump: dict[str, Any],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNID", "leaderboard-run-must-not-be-used")  # agisdk's leaderboard switch
    task = tasks["v2.zilloft-2"]
    # A trailing slash on the base URL, as in the v2 task JSONs: must not give `//config`.
    source = RealSource("local", local_sites={"zilloft": site.url + "/"}, timeout_s=20)
    assert source.allowed_origins(task) == {site.url}
    site.render_state_later(zilloft_dump)

    async def episode(page: Any) -> tuple[str, str, Any, Any, Any]:
        goal = await source.setup(page, task, seed=0)
        url = page.url
        stored = await page.evaluate("localStorage.getItem('config')")
        assert await source.poll(page, task) is None
        outcome = await source.grade(page, task, "I requested a tour.")
        return goal, url, stored, outcome, await source.finish_state(page, task)

    goal, url, stored, outcome, state = asyncio.run(_with_page(episode))
    assert goal == task.goal == "Request a tour for a 3 bed 2 bath house in long beach."
    assert url == site.url + "/"
    paths = [p for p, _ in site.requests if p != "/favicon.ico"]
    assert paths[:3] == ["/config", "/finish", "/"] and paths[3] == "/finish"  # agisdk's reset, then grading
    assert not any(p.startswith("//") or p == "/submit" for p in paths)
    _, query = site.requests[0]
    assert query == {"run_id": [RUN_ID], "task_id": ["v2.zilloft-2"], "latency": ["0"]} and RUN_ID == "0"
    assert json.loads(stored) == {"run_id": "0", "task_id": "v2.zilloft-2", "latency": "0"}
    assert (outcome.status, outcome.reward) == ("success", 1.0)
    assert outcome.details["criteria"][0]["script"] == "eval_zilloft_2.py"
    assert state == zilloft_dump


def test_grade_with_unusable_finish_is_aborted(tasks: dict[str, Task], site: _Site) -> None:
    task = tasks["v1.staynb-4"]
    source = RealSource(f"staynb={site.url}", timeout_s=2)

    async def grade_each(page: Any) -> list[Any]:
        outcomes = []
        for body in ["<p>No state yet</p>", "<pre>{not json</pre>", "<pre>[1, 2]</pre>"]:
            site.finish_body = lambda body=body: body
            outcomes.append(await source.grade(page, task, "Booked."))
        site.finish_body = lambda: "<pre>not the state</pre><pre>" + json.dumps(_load("staynb_finish_v1.json")) + "</pre>"
        outcomes.append(await source.grade(page, task, "Booked."))  # the first <pre> with a JSON object counts
        site.status["/finish"] = 500
        outcomes.append(await source.grade(page, task, "Booked."))
        return outcomes

    no_pre, bad_json, a_list, second_pre, http_500 = asyncio.run(_with_page(grade_each))
    assert no_pre.status == "aborted" and "no <pre>" in no_pre.details["reason"]
    assert "No state yet" in no_pre.details["reason"]
    assert bad_json.status == "aborted" and "not valid JSON" in bad_json.details["reason"]
    assert a_list.status == "aborted" and "JSON list" in a_list.details["reason"]
    assert second_pre.status == "failure" and second_pre.details["criteria"][0]["actual"] == "3 Guests, 1 Infant"
    assert http_500.status == "aborted" and "HTTP 500" in http_500.details["reason"]
    for o in (no_pre, bad_json, a_list, http_500):
        assert (o.reward, o.success) == (0.0, False) and "\n" not in o.details["reason"]


def test_setup_reports_unreachable_and_refusing_sites(tasks: dict[str, Task], site: _Site) -> None:
    task = tasks["v1.omnizon-2"]
    refusing = RealSource(f"omnizon={site.url}", timeout_s=5)
    site.status["/config"] = 451  # what the taken-down v1 omnizon answers
    closed = _Site()
    closed.close()
    gone = RealSource(f"omnizon={closed.url}", timeout_s=5)

    async def resets(page: Any) -> list[str]:
        errors = []
        for src in (refusing, gone):
            with pytest.raises(SiteUnreachableError) as e:
                await src.setup(page, task, seed=0)
            errors.append(str(e.value))
        return errors

    refused, unreachable = asyncio.run(_with_page(resets))
    assert "HTTP 451" in refused and "/config" in refused
    assert "ERR_CONNECTION_REFUSED" in unreachable and closed.url in unreachable
