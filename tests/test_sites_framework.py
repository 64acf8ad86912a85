"""The local-sites framework: LocalSites' servers, the task manifest, the expert-script format, and the shared
JS kit in real Chromium (detailedDiff exactly as deep-object-diff computes it, id-matched `differences`,
/config resetting before it records the config, /finish recording nothing).
"""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from halo_cli.core.env.browser import BrowserEnv
from halo_cli.core.env.episode import Episode
from halo_cli.core.env.real import RealSource
from halo_cli.core.env.sites import LocalSites, built_sites, supported_task_ids, task_manifest
from halo_cli.core.env.sites.experts import Step, Target, parse_steps, scripts_for
from halo_cli.core.env.static_http import PortInUseError
from halo_cli.core.errors import ConfigError, HaloError, NotFoundError
from tests.sites_support import local_browser_settings

T = TypeVar("T")


@pytest.fixture(scope="module")
def sites() -> Iterator[LocalSites]:
    with LocalSites() as s:
        yield s


def _get(url: str, method: str = "GET") -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=5) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


# --- servers -------------------------------------------------------------------------------------------


def test_only_built_sites_are_served(sites: LocalSites) -> None:
    urls = sites.urls()
    assert list(urls) == [s.name for s in built_sites()] and "omnizon" in urls
    assert all(url.startswith("http://127.0.0.1:") for url in urls.values())
    assert len(set(urls.values())) == len(urls)  # one origin per site


def test_every_app_path_is_the_app_and_files_have_their_types(sites: LocalSites) -> None:
    base = sites.urls()["omnizon"]
    status, ctype, page = _get(base + "/")
    assert status == 200 and ctype.startswith("text/html") and b'<div id="__next">' in page
    for path in ("/search?q=pot", "/product/16", "//config?run_id=0&task_id=v2.omnizon-3&latency=0", "/finish",
                 "/cart/"):
        assert _get(base + path)[2] == page, path
    for path in ("/static/experts.json", "/static/../experts.json", "/static/%2e%2e/experts.json",
                 "/_kit/../omnizon/experts.json", "/_kit/../manifest.py"):
        assert _get(base + path)[2] in (page, b"not found"), path  # never a file outside web/ and kit/
    assert _get(base + "/static/app.js")[1].startswith("text/javascript")
    status, ctype, body = _get(base + "/static/catalog.json")
    assert ctype.startswith("application/json") and len(json.loads(body)["products"]) >= 100
    assert _get(base + "/_kit/boot.js")[0] == 200 and _get(base + "/_kit/vendor/deep-object-diff.js")[0] == 200
    assert _get(base + "/static/missing.js")[0] == 404  # a broken import fails loudly
    status, ctype, body = _get(base + "/", method="HEAD")
    assert status == 200 and ctype.startswith("text/html") and body == b""


def test_a_base_port_fixes_each_sites_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = port - 2  # omnizon's offset
    if base < 1024:
        pytest.skip("the free port is too low to derive a base port")
    with LocalSites(["omnizon"], base_port=base) as a:
        assert a.urls() == {"omnizon": f"http://127.0.0.1:{port}"}
        with pytest.raises(PortInUseError, match=f"127.0.0.1:{port}"):
            LocalSites(["omnizon"], base_port=base).start()
    with LocalSites(["omnizon"], base_port=base) as again:  # closed servers free their ports
        assert again.urls()["omnizon"].endswith(f":{port}")


def test_bad_site_choices_are_one_line_errors() -> None:
    with pytest.raises(NotFoundError, match="no local site 'amazon'"):
        LocalSites(["amazon"])
    with pytest.raises(ConfigError, match="base port 80"):
        LocalSites(base_port=80)


# --- manifest ------------------------------------------------------------------------------------------


def test_manifest_names_every_task_of_the_four_sites_and_why_it_is_left_out() -> None:
    entries = task_manifest()
    v2 = [e for e in entries if e.task_id.startswith("v2.")]
    assert {e.site for e in entries} == {"gomail", "gocalendar", "omnizon", "zilloft"}
    assert len(v2) == 51 and len(entries) == 51 + 38
    by_id = {e.task_id: e for e in entries}
    built = {s.name for s in built_sites()}
    assert built == {"gomail", "gocalendar", "omnizon", "zilloft"}
    # every gradeable v2 task is supported: all 51 but gocalendar-11, whose eval script is empty
    assert set(supported_task_ids()) == {e.task_id for e in v2} - {"v2.gocalendar-11"}
    assert all(e.notes for e in v2 if e.supported)
    assert "empty" in (by_id["v2.gocalendar-11"].reason or "")
    assert "layout" in (by_id["v1.omnizon-2"].reason or "")
    assert all(e.reason for e in entries if not e.supported) and not any(e.reason for e in entries if e.supported)


# --- expert-script format ------------------------------------------------------------------------------


def test_every_task_s_scripts_load() -> None:
    scripts = scripts_for("v2.omnizon-24")
    assert scripts.expert.expect == "success" and all(n.expect == "failure" for n in scripts.near_misses)
    with pytest.raises(HaloError, match="no expert script for v2.omnizon-1"):
        scripts_for("v2.omnizon-1")


def test_expert_steps_parse_and_macros_expand() -> None:
    macros = {"search": [{"click": {"role": "textbox", "name": "Search"}}, {"type": "{arg}"}, {"key": "Enter"}]}
    steps = parse_steps([{"search": "pot"}, {"click": {"css": "#b", "nth": 1}}, {"key": ["ctrl", "a"]}], macros)
    assert steps == [Step("click", Target(role="textbox", name="Search")), Step("type", text="pot"),
                     Step("key", keys=("Enter",)), Step("click", Target(css="#b", nth=1)), Step("key", keys=("ctrl", "a"))]
    for bad, what in [([{"click": {"name": "x"}}], "needs role"), ([{"jump": 1}], "unknown step kind 'jump'"),
                      ([{"type": "a", "key": "b"}], "one key"), ({"click": {}}, "must be a list")]:
        with pytest.raises(ConfigError, match=what) as e:
            parse_steps(bad, macros)
        assert "\n" not in str(e.value)


# --- the JS kit in Chromium ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def run(loop: asyncio.AbstractEventLoop) -> Callable[[Awaitable[T]], T]:
    return loop.run_until_complete


@pytest.fixture(scope="module")
def source(sites: LocalSites) -> RealSource:
    return RealSource("local", local_sites=sites.urls(), timeout_s=15)


@pytest.fixture(scope="module")
def episode(run: Callable[[Awaitable[Any]], Any], source: RealSource) -> Iterator[Episode]:
    env = BrowserEnv(local_browser_settings(), sources=[source])
    ep = run(env.reset(source.get("v2.omnizon-3")))
    yield ep
    run(ep.close())
    run(env.close())


DIFF_CASES: list[tuple[Any, Any, dict[str, Any]]] = [
    # arrays diff as dicts keyed by index; a new element is added whole
    ({"o": {"orders": []}}, {"o": {"orders": [{"id": "1", "items": [{"q": 2}]}]}},
     {"added": {"o": {"orders": {"0": {"id": "1", "items": [{"q": 2}]}}}}, "deleted": {}, "updated": {}}),
    # a changed leaf is updated; "" -> text and null -> number too
    ({"f": {"q": "", "min": None, "s": "x"}}, {"f": {"q": "pot", "min": 25, "s": "x"}},
     {"added": {}, "deleted": {}, "updated": {"f": {"q": "pot", "min": 25}}}),
    # a removed key is "deleted" with an undefined value, which JSON drops: an empty object is left
    ({"c": {"items": [{"id": "1"}, {"id": "2"}]}}, {"c": {"items": [{"id": "2"}]}},
     {"added": {}, "deleted": {"c": {"items": {}}}, "updated": {"c": {"items": {"0": {"id": "2"}}}}}),
    # new keys anywhere, nested objects whole
    ({"config": {}}, {"config": {"zilloft": {"run_id": "0"}}},
     {"added": {"config": {"zilloft": {"run_id": "0"}}}, "deleted": {}, "updated": {}}),
]


def _js(run: Callable[[Awaitable[Any]], Any], ep: Episode, body: str, arg: Any = None) -> Any:
    return run(ep.page.evaluate(f"async (arg) => {{ {body} }}", arg))


def test_detailed_diff_is_deep_object_diff(run: Callable[[Awaitable[Any]], Any], episode: Episode) -> None:
    got = _js(run, episode, "const m = await import('/_kit/diff.js');"
                            "return arg.map(([a, b]) => JSON.parse(JSON.stringify(m.detailedDiff(a, b))));",
              [[a, b] for a, b, _ in DIFF_CASES])
    assert got == [e for _, _, e in DIFF_CASES]


def test_differences_match_collections_by_id(run: Callable[[Awaitable[Any]], Any], episode: Episode) -> None:
    before = [{"id": "1", "t": "a"}, {"id": "2", "t": "b"}, {"id": "3", "t": "c"}]
    after = [{"id": "2", "t": "B", "read": True}, {"id": "3", "t": "c"}, {"id": "4", "t": "d"}]
    got = _js(run, episode, "const m = await import('/_kit/diff.js');"
                            "return [m.collectionDiff(arg[0], arg[1]), "
                            "m.collectionDiff(arg[0], arg[1], {layout: 'list', updated: 'changed'})];", [before, after])
    assert got[0] == {"added": {"4": after[2]}, "deleted": {"1": before[0]}, "updated": {"2": after[0]}}
    assert got[1] == {"added": [after[2]], "deleted": [before[0]], "updated": [{"id": "2", "t": "B", "read": True}]}


def test_config_resets_then_records_and_finish_records_nothing(run: Callable[[Awaitable[Any]], Any],
                                                               episode: Episode, source: RealSource) -> None:
    task = source.get("v2.omnizon-13")
    base = source.base_url(task)

    async def scenario() -> tuple[dict[str, Any], str, str, str]:
        page = episode.page
        await page.goto(base + "/search?q=cooking+pot")  # a dirty state: a route and a search
        await page.goto(base + "//config?run_id=7&task_id=v2.omnizon-13&latency=0&removePopup=true")
        first = await source.finish_state(page, task)
        again = await page.inner_text("pre")
        await page.goto(base + "/finish")
        third = await page.inner_text("pre")
        return first, json.dumps(first, separators=(",", ":")), again, third

    state, first, again, third = run(scenario())
    assert first == again == third  # reading /finish three times changed nothing
    assert [a["type"] for a in state["actionhistory"]] == ["config/set"]
    assert state["initialstate"]["config"] == {} and state["initialstate"]["filter"]["searchQuery"] == ""
    assert state["initialfinaldiff"] == {
        "added": {"config": {"omnizon": {"run_id": "7", "task_id": "v2.omnizon-13", "latency": "0",
                                         "removePopup": "true"}}},
        "deleted": {}, "updated": {}}
    assert state["finalstate"]["router"]["location"] == {"pathname": "/", "search": "", "hash": ""}


def test_going_back_to_config_resets_nothing(run: Callable[[Awaitable[Any]], Any], episode: Episode,
                                             source: RealSource) -> None:
    """halo opens /config, /finish and / in the agent's own tab: Back must not reach a reset."""
    task = source.get("v2.omnizon-3")
    base = source.base_url(task)

    async def scenario() -> tuple[str, dict[str, Any]]:
        page = episode.page
        await page.goto(base + "/config?run_id=0&task_id=v2.omnizon-3&latency=0")
        await page.goto(base + "/finish")
        await page.goto(base + "/search?q=headphones")
        for _ in range(2):
            await page.go_back(wait_until="load")
        return page.url, await source.finish_state(page, task)

    url, state = run(scenario())
    assert url == base + "/"  # the /config entry now reads "/": Back reached the app, not a reset
    assert state["finalstate"]["filter"]["searchQuery"] == "headphones"


def test_one_frozen_now_for_sites_profile_and_pages(run: Callable[[Awaitable[Any]], Any], episode: Episode) -> None:
    from datetime import datetime, timezone

    from halo_cli.core.config import local_profile
    from halo_cli.core.env.sites.manifest import SITE_NOW, SITE_TIME_ZONE

    assert local_profile()["browser"] == {"timezone": SITE_TIME_ZONE, "clock": SITE_NOW}
    js_now, js_tz = _js(run, episode, "const m = await import('/_kit/store.js'); return [m.SITE_NOW_ISO, m.SITE_TIME_ZONE];")
    utc = datetime.fromisoformat(SITE_NOW).astimezone(timezone.utc)
    assert js_now == utc.strftime("%Y-%m-%dT%H:%M:%S.000Z") and js_tz == SITE_TIME_ZONE


def test_omnizon_search_finds_what_the_goals_ask_for(run: Callable[[Awaitable[Any]], Any], episode: Episode) -> None:
    """All query words (stemmed) must match; department, price and sort filters apply; ids in result order."""
    queries: dict[str, dict[str, Any]] = {
        "bed frame": {"q": "bed frame"}, "queen bed frames": {"q": "queen bed frames"},
        "neck pillows": {"q": "neck pillows"}, "ps5 controller": {"q": "PS5 controller"},
        "spoons and forks": {"q": "spoons and forks"}, "40-inch desk": {"q": "40-inch desk"},
        "cooking pot": {"q": "cooking pot"}, "headphones 25-50": {"q": "headphones", "minPrice": 25, "maxPrice": 50},
        "headphones by price": {"q": "headphone", "sortBy": "price-asc"}, "gaming dept": {"category": "gaming"},
        "nonsense": {"q": "zebra"}, "partial": {"q": "apron zebra"},
    }
    got = _js(run, episode, "const s = await import('/static/search.js');"
                            "const cat = await (await fetch('/static/catalog.json')).json();"
                            "const out = {}; for (const [k, q] of Object.entries(arg)) {"
                            "  const r = s.searchProducts(cat, q); out[k] = [r.exact, r.items.map((p) => p.id)]; }"
                            "return out;", queries)
    assert sorted(got["bed frame"][1]) == ["140", "141", "142"] and got["queen bed frames"][1] == ["140"]
    assert sorted(got["neck pillows"][1]) == ["167", "170"]
    assert sorted(got["ps5 controller"][1]) == ["16", "17"]
    assert got["spoons and forks"][1] == ["220"] and got["40-inch desk"][1] == ["159"]
    assert sorted(got["cooking pot"][1]) == ["212", "215"]
    assert sorted(got["headphones 25-50"][1]) == ["30", "31", "39"]
    by_price = got["headphones by price"][1]
    assert by_price[0] == "36" and by_price[-1] == "34" and not {"37", "38"} & set(by_price)  # earbuds are not headphones
    assert sorted(got["gaming dept"][1], key=int) == ["16", "17", "18", "19", "20", "192", "193", "194", "195", "201"]
    assert got["nonsense"] == [False, []] and got["partial"] == [False, ["91"]]
