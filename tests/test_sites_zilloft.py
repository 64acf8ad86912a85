"""Zilloft, the local REAL replica, end to end: real Chromium through BrowserEnv, agisdk's own eval scripts.

For every gradeable v2 zilloft task, the expert script (computer_use actions at pixel coordinates, as the agent
acts) must grade SUCCESS and each near miss FAILURE; a do-nothing episode must FAIL (the grader audit); the
dense-reward milestones must fire in order along the expert path. Plus: the /finish layout the graders read
(requests, config, the filter as scalars, "today" first, no catalogue), the seeded catalogue, the location
search, isolation of concurrent episodes, byte-identical first screenshots, replay of an expert prefix, and the
screenshots committed under docs/sites/.

All episodes share one LocalSites and one BrowserEnv; the scripted episodes run a few at a time in one module
fixture, and each test checks its part of the results.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from halo_cli.core.env.browser import BrowserEnv
from halo_cli.core.env.episode import Observation
from halo_cli.core.env.real import RealSource
from halo_cli.core.env.sites import LocalSites, task_manifest
from halo_cli.core.env.sites.experts import Script, ScriptRun, Step, load_scripts, parse_steps, run_script
from halo_cli.core.env.sites.manifest import experts_data, site
from halo_cli.core.env.tasks import Outcome, Task
from halo_cli.core.paths import REPO_ROOT
from halo_cli.core.rl.progress import DenseRewardCalculator, TaskInfo
from tests.sites_support import local_browser_settings

T = TypeVar("T")

SCRIPTS = load_scripts("zilloft")
TASK_IDS = sorted(SCRIPTS, key=lambda t: int(t.rsplit("-", 1)[1]))
# Every gradeable v2 zilloft task (agisdk 0.3.5 ships 10, all with a non-empty eval script).
V2_ZILLOFT = ["v2.zilloft-2", "v2.zilloft-3", "v2.zilloft-5", "v2.zilloft-6", "v2.zilloft-9", "v2.zilloft-10",
              "v2.zilloft-14", "v2.zilloft-15", "v2.zilloft-22", "v2.zilloft-23"]
ALL_MILESTONES = ("search", "filters_applied", "listing_viewed")
# The expert paths that skip a step: zilloft-5 (an agent in San Jose) needs no filter, zilloft-23 ("show me
# houses") ends on the filtered results without opening a listing.
EXPECTED_MILESTONES = {t: ALL_MILESTONES for t in V2_ZILLOFT} | {
    "v2.zilloft-5": ("search", "listing_viewed"), "v2.zilloft-23": ("search", "filters_applied")}
CONCURRENCY = 3


def _link_step(script: Script) -> int:
    """Where a script opens a listing (its first link click)."""
    return next(i for i, st in enumerate(script.steps) if st.target is not None and st.target.role == "link")


MACROS = experts_data("zilloft")["macros"]


def _extra_scripts() -> list[Script]:
    """Other paths the graders must accept: an agent found in the agent directory (zilloft-5), and a home saved
    from the results, then toured from the Saved Homes page (zilloft-22)."""
    directory: list[Step] = parse_steps([
        {"click": {"role": "link", "name": "Find an Agent"}}, {"click": {"role": "textbox", "name": "Agent location"}},
        {"type": "San Jose, CA"}, {"click": {"role": "button", "name": "Find agents"}},
        {"click": {"role": "button", "name": "Contact Priya Natarajan"}},
        {"click": {"role": "button", "name": "Send message"}}])
    tour = SCRIPTS["v2.zilloft-22"].expert
    at = _link_step(tour)
    saved = [*parse_steps([{"search": "Anaheim, CA"}, {"click": {"role": "button", "name": "Save 2121 W Orange Ave"}},
                           {"click": {"role": "link", "name": "Saved Homes"}}], MACROS), *tour.steps[at:]]
    return [Script("v2.zilloft-5", "agent directory", "contact a San Jose agent found in the directory",
                   tuple(directory), "success"),
            Script("v2.zilloft-22", "saved, then toured", "save the home on the results, tour it from Saved Homes",
                   tuple(saved), "success")]


EXTRA_SCRIPTS = _extra_scripts()
CATALOG = json.loads((site("zilloft").web_dir / "listings.json").read_text(encoding="utf-8"))
LISTINGS = CATALOG["listings"]


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def run(loop: asyncio.AbstractEventLoop) -> Callable[[Awaitable[T]], T]:
    return loop.run_until_complete


@pytest.fixture(scope="module")
def sites() -> Iterator[LocalSites]:
    with LocalSites(["zilloft"]) as s:
        yield s


@pytest.fixture(scope="module")
def source(sites: LocalSites) -> RealSource:
    return RealSource("local", local_sites=sites.urls(), timeout_s=15)


@pytest.fixture(scope="module")
def env(run: Callable[[Awaitable[Any]], Any], source: RealSource) -> Iterator[BrowserEnv]:
    e = BrowserEnv(local_browser_settings(), sources=[source])
    run(e.start())
    yield e
    run(e.close())


@dataclass
class Played:
    """One scripted episode: its run, the milestones the dense reward paid, and its /finish state."""

    script: Script
    first: Observation | None = None
    run: ScriptRun | None = None
    milestones: tuple[str, ...] = ()
    finish: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


async def _play(env: BrowserEnv, source: RealSource, script: Script, gate: asyncio.Semaphore) -> Played:
    played = Played(script)
    async with gate:
        task = source.get(script.task_id)
        ep = await env.reset(task)
        played.first = ep.observation
        calc = DenseRewardCalculator()
        info = TaskInfo.of(task)

        def on_step(before: Any, action: Any, result: Any) -> None:
            calc.compute_reward(before, action, result.observation, info, False, False)

        try:
            played.run = await run_script(ep, script, on_step=on_step)
            played.milestones = calc.reached
            played.finish = await source.finish_state(ep.page, task)
        except Exception as e:  # noqa: BLE001 - reported by the test of this script
            played.error = f"{type(e).__name__}: {e}"
        finally:
            await ep.close()
    return played


async def _do_nothing(env: BrowserEnv, source: RealSource, task: Task, gate: asyncio.Semaphore) -> Outcome:
    async with gate:
        ep = await env.reset(task)
        try:
            return await ep.finish()
        finally:
            await ep.close()


@dataclass
class Episodes:
    """Every expert and near miss of every task (by task id and script name), and a do-nothing episode per task."""

    played: dict[tuple[str, str], Played]
    idle: dict[str, Outcome]


@pytest.fixture(scope="module")
def episodes(run: Callable[[Awaitable[Any]], Any], env: BrowserEnv, source: RealSource) -> Episodes:
    async def all_episodes() -> tuple[list[Played], list[Outcome]]:
        gate = asyncio.Semaphore(CONCURRENCY)
        scripts = [s for t in TASK_IDS for s in (SCRIPTS[t].expert, *SCRIPTS[t].near_misses)] + EXTRA_SCRIPTS
        played = asyncio.gather(*(_play(env, source, s, gate) for s in scripts))
        idle = asyncio.gather(*(_do_nothing(env, source, source.get(t), gate) for t in V2_ZILLOFT))
        return await asyncio.gather(played, idle)  # type: ignore[return-value]

    played, idle = run(all_episodes())
    return Episodes({(p.script.task_id, p.script.name): p for p in played}, dict(zip(V2_ZILLOFT, idle)))


@pytest.fixture(scope="module")
def played(episodes: Episodes) -> dict[tuple[str, str], Played]:
    return episodes.played


def _outcome(p: Played) -> Outcome:
    assert p.error is None, p.error
    assert p.run is not None and p.run.outcome is not None
    return p.run.outcome


# --- the manifest covers every task ----------------------------------------------------------------------


def test_every_gradeable_v2_zilloft_task_has_an_expert_and_a_near_miss() -> None:
    assert TASK_IDS == V2_ZILLOFT
    for task_id in TASK_IDS:
        assert SCRIPTS[task_id].near_misses, task_id
    supported = [t.task_id for t in task_manifest(("v2",)) if t.site == "zilloft" and t.supported]
    assert sorted(supported) == sorted(V2_ZILLOFT)


# --- expert solutions and near misses, graded by agisdk ---------------------------------------------------


@pytest.mark.parametrize("task_id", V2_ZILLOFT)
def test_expert_succeeds(played: dict[tuple[str, str], Played], task_id: str) -> None:
    p = played[(task_id, "expert")]
    outcome = _outcome(p)
    assert (outcome.status, outcome.reward) == ("success", 1.0), outcome.details
    criterion = outcome.details["criteria"][0]
    assert criterion["script"] == f"eval_{task_id[3:].replace('-', '_')}.py" and criterion["passed"] is True


@pytest.mark.parametrize("task_id", V2_ZILLOFT)
def test_near_misses_fail(played: dict[tuple[str, str], Played], task_id: str) -> None:
    for near in SCRIPTS[task_id].near_misses:
        outcome = _outcome(played[(task_id, near.name)])
        assert outcome.status == "failure", (near.name, near.why, outcome.details)
        assert outcome.details["criteria"][0].get("return_code") == 0  # the script ran and said FAILURE


@pytest.mark.parametrize("task_id", V2_ZILLOFT)
def test_milestones_fire_in_order_along_the_expert_path(played: dict[tuple[str, str], Played], task_id: str) -> None:
    p = played[(task_id, "expert")]
    _outcome(p)
    assert p.milestones == EXPECTED_MILESTONES[task_id]


def test_do_nothing_fails_every_task(episodes: Episodes) -> None:
    """The grader audit: no zilloft grader passes a reset followed by nothing."""
    statuses = {t: o.status for t, o in episodes.idle.items()}
    assert statuses == {t: "failure" for t in V2_ZILLOFT}, {t: o.details for t, o in episodes.idle.items()}


def test_other_paths_succeed_too(played: dict[tuple[str, str], Played]) -> None:
    directory = played[("v2.zilloft-5", "agent directory")]
    assert _outcome(directory).status == "success", _outcome(directory).details
    (contact,) = directory.finish["differences"]["contactAgents"]["added"].values()
    assert contact["agent"]["name"] == "Priya Natarajan" and contact["home"] is None
    assert contact["contactAgentData"]["formValues"]["message"] == (
        "Hi Priya, I'm looking for an agent to help me buy a home in San Jose, CA.")
    saved = played[("v2.zilloft-22", "saved, then toured")]
    assert _outcome(saved).status == "success", _outcome(saved).details
    (home,) = [x for x in LISTINGS if x["street"] == "2121 W Orange Ave"]
    assert saved.finish["differences"]["savedHomes"]["added"] == {home["zpid"]: {"id": home["zpid"]}}
    assert saved.finish["finalstate"]["router"]["location"]["pathname"].endswith(f"/{home['zpid']}_zpid")


# --- the /finish state ----------------------------------------------------------------------------------


def test_finish_state_has_the_layout_the_graders_read(played: dict[tuple[str, str], Played]) -> None:
    state = played[("v2.zilloft-2", "expert")].finish
    assert list(state) == ["currentDate", "actionhistory", "initialstate", "finalstate", "initialfinaldiff",
                           "differences"]
    assert state["currentDate"] == "2024-07-18T16:00:00.000Z"
    diff = state["initialfinaldiff"]
    # /config's snapshot came before the config: the config is "added" (zilloft-3 reads its run_id).
    assert diff["added"]["config"]["zilloft"] == {"run_id": "0", "task_id": "v2.zilloft-2", "latency": "0"}
    # The tour, whole, as REAL's v1 dump shows it, plus the home it is about.
    tour = diff["added"]["tourRequests"]["requestTourList"]["0"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", tour["id"])
    assert tour["requestTourData"] == {
        "options": [{"option": 1, "date": "2024-07-20T07:00:00.000Z", "time": "10:00 AM"}],
        "formValues": {"name": "Alex Johnson", "email": "alex.johnson@example.com", "phone": "(510) 555-0147",
                       "message": "I am interested in 1610 E 61st St, Long Beach, CA 90805.",
                       "wantFinancingInformation": False},
        "shareInfoDetails": {"whenToBuy": "3-6 months",
                             "exclusiveAgencyAgreement": "No, I haven’t signed with an agent."}}
    assert tour["home"] == {"zpid": tour["home"]["zpid"], "address": "1610 E 61st St, Long Beach, CA 90805",
                            "price": 689000, "beds": 3, "baths": 2, "sqft": 1342, "homeType": "House"}
    assert state["differences"]["requestTours"] == {"added": {tour["id"]: tour}, "deleted": {}, "updated": {}}
    assert state["differences"]["contactAgents"] == {"added": {}, "deleted": {}, "updated": {}}
    # The filter: scalars only, and only the filters in use.
    assert state["finalstate"]["filter"] == {"searchQuery": "Long Beach, CA", "minBeds": 3, "minBaths": 2,
                                             "homeTypes": "Houses"}
    assert diff["added"]["filter"] == {"minBeds": 3, "minBaths": 2, "homeTypes": "Houses"}
    # The route is the last app page: opening /finish (in the same tab) recorded nothing.
    pathname = diff["updated"]["router"]["location"]["pathname"]
    assert pathname.startswith("/homedetails/1610-E-61st-St-Long-Beach-CA-90805/")
    fields = {"type", "payload", "timestamp", "id", "index", "description", "formattedTime"}
    assert fields <= set(state["actionhistory"][0])
    # Small, and no catalogue in it: no listing's description, no other listing's address.
    text = json.dumps(state)
    assert len(text) < 16_000 and "Welcome to" not in text and "6241 Orange Ave" not in text


def test_contact_request_and_today_for_zilloft_14(played: dict[tuple[str, str], Played]) -> None:
    state = played[("v2.zilloft-14", "expert")].finish
    contact = state["initialfinaldiff"]["added"]["tourRequests"]["contactAgentList"]["0"]
    assert contact["contactAgentData"] == {
        "formValues": {"name": "Alex Johnson", "email": "alex.johnson@example.com", "phone": "(510) 555-0147",
                       "message": "I am interested in 97 Reddy Ave, Boston, MA 02136."},
        "selectedDate": {"date": "2024-07-19T07:00:00.000Z", "time": "9:00 AM"}}
    assert contact["agent"]["name"] and contact["home"]["address"] == "97 Reddy Ave, Boston, MA 02136"
    assert state["differences"]["contactAgents"]["added"] == {contact["id"]: contact}
    # zilloft-14's "today" is the first date-like key of the document; "boston" must sit under a search key.
    first_key = next(iter(state))
    assert first_key == "currentDate" and state[first_key].startswith("2024-07-18T")
    assert state["finalstate"]["filter"] == {"searchQuery": "Boston, MA", "maxPrice": 1000000}


def test_a_contact_without_a_tour_time_records_no_date(played: dict[tuple[str, str], Played]) -> None:
    state = played[("v2.zilloft-5", "expert")].finish
    (contact,) = state["differences"]["contactAgents"]["added"].values()
    assert contact["contactAgentData"]["selectedDate"] == {"date": None, "time": None}
    message = contact["contactAgentData"]["formValues"]["message"]
    assert message == "I am interested in 2873 Stevens Creek Ct, San Jose, CA 95127."


# --- the catalogue and the search -----------------------------------------------------------------------


def _find(**want: Any) -> list[dict[str, Any]]:
    return [x for x in LISTINGS if all(x[k] == v for k, v in want.items())]


def test_catalogue_holds_the_homes_and_agents_the_goals_name() -> None:
    (lb,) = _find(street="1610 E 61st St")
    assert (lb["city"], lb["state"], lb["zip"]) == ("Long Beach", "CA", "90805")
    assert (lb["beds"], lb["baths"], lb["homeType"]) == (3, 2, "House")
    (wright,) = _find(street="1 Wright St")
    assert (wright["city"], wright["zip"]) == ("San Francisco", "94110")
    assert wright["price"] <= 1_000_000 and wright["beds"] >= 3
    assert any(x["city"] == "Los Angeles" and x["homeType"] == "House" and x["price"] < 350_000 and x["beds"] >= 2
               and x["baths"] >= 1 for x in LISTINGS)
    assert sum(1 for x in LISTINGS if x["city"] == "Sacramento" and 500_000 <= x["price"] <= 1_100_000
               and x["beds"] >= 4 and x["baths"] >= 2) >= 2
    boston = [x for x in LISTINGS if x["city"] == "Boston"]
    assert boston and all(x["state"] == "MA" and x["zip"].startswith("02") for x in boston)
    assert any(x["price"] < 1_000_000 for x in boston) and any(x["price"] > 1_000_000 for x in boston)
    assert sum(1 for a in CATALOG["agents"] if a["city"] == "San Jose") >= 2
    agents = {a["id"] for a in CATALOG["agents"]}
    assert all(x["agentId"] in agents for x in LISTINGS)
    assert any(x["state"] == "CA" and x["price"] <= 900_000 and x["beds"] >= 3 for x in LISTINGS)
    assert any(x["price"] <= 500_000 and x["beds"] >= 2 and x["homeType"] == "House" for x in LISTINGS)
    assert len({x["zpid"] for x in LISTINGS}) == len(LISTINGS) >= 100


def test_addresses_read_the_way_the_graders_parse_them() -> None:
    """zilloft-10 reads the address up to the first '.', zilloft-15 looks objects up by the street, zilloft-2 rejects
    any message with 'apt', 'unit ' or 'condo' in it: so no street holds a period or another street, and only
    condos and apartments carry those words."""
    streets = [x["street"] for x in LISTINGS]
    assert not [s for s in streets if "." in s]
    assert not [(a, b) for a in streets for b in streets if a != b and a.lower() in b.lower()]
    for x in LISTINGS:
        marked = re.search(r"apt|unit |condo", x["street"].lower()) is not None
        assert not marked or x["homeType"] == "Condo", x["street"]


def test_location_search_finds_what_the_goals_ask_for(run: Callable[[Awaitable[Any]], Any], env: BrowserEnv,
                                                      source: RealSource) -> None:
    """The app's own search module, in the page: each goal's place names the homes it should."""
    queries = ["Long Beach, CA", "Los Angeles area", "San Jose, CA", "Sacramento", "Boston, MA",
               "San Francisco Bay Area", "Bay Area", "SoCal", "Southern California", "California", "94110",
               "Nowhere, ZZ"]

    async def search() -> dict[str, list[str]]:
        ep = await env.reset(source.get("v2.zilloft-23"))
        try:
            return await ep.page.evaluate("""async (queries) => {
                const s = await import('/static/search.js');
                const { listings } = await (await fetch('/static/listings.json')).json();
                return Object.fromEntries(queries.map((q) => [q, s.searchHomes(listings, { searchQuery: q }).all
                  .map((l) => `${l.city}, ${l.state}`)]));
            }""", queries)
        finally:
            await ep.close()

    found = run(search())
    assert set(found["Long Beach, CA"]) == {"Long Beach, CA"}
    assert set(found["Los Angeles area"]) == {"Los Angeles, CA"}
    assert set(found["San Jose, CA"]) == {"San Jose, CA"} and set(found["Sacramento"]) == {"Sacramento, CA"}
    assert set(found["Boston, MA"]) == {"Boston, MA"}
    bay = {"San Francisco, CA", "Oakland, CA", "Berkeley, CA", "San Jose, CA", "Fremont, CA", "Hayward, CA",
           "Daly City, CA", "Sunnyvale, CA", "Vallejo, CA"}
    assert set(found["San Francisco Bay Area"]) == set(found["Bay Area"]) == bay
    assert set(found["SoCal"]) == set(found["Southern California"])
    assert "San Diego, CA" in found["SoCal"] and "Sacramento, CA" not in found["SoCal"]
    assert {c[-2:] for c in found["California"]} == {"CA"} and len(found["California"]) > 90
    assert set(found["94110"]) == {"San Francisco, CA"} and found["Nowhere, ZZ"] == []


# --- isolation, determinism, replay ---------------------------------------------------------------------


def test_concurrent_episodes_never_see_each_others_state(run: Callable[[Awaitable[Any]], Any], env: BrowserEnv,
                                                          source: RealSource) -> None:
    """Two episodes of one task at once, each contacting the agent of a different home: each sees only its own."""
    def contact(address: str) -> Script:
        steps = parse_steps([{"search": "Long Beach, CA"}, {"click": {"role": "link", "name": address}},
                             {"click": {"role": "button", "name": "Contact agent"}},
                             {"click": {"role": "button", "name": "Send message"}}], MACROS)
        return Script("v2.zilloft-5", address, "", tuple(steps), "failure")

    house, condo = "1610 E 61st St, Long Beach, CA 90805", "1200 E Ocean Blvd Unit 304, Long Beach, CA 90802"

    async def both() -> list[list[str]]:
        task = source.get("v2.zilloft-5")
        a, b = await asyncio.gather(env.reset(task), env.reset(task))
        try:
            await asyncio.gather(run_script(a, contact(house), terminate=False),
                                 run_script(b, contact(condo), terminate=False))
            states = [await source.finish_state(ep.page, task) for ep in (a, b)]
            return [[c["home"]["address"] for c in s["finalstate"]["tourRequests"]["contactAgentList"]] for s in states]
        finally:
            await asyncio.gather(a.close(), b.close())

    assert run(both()) == [[house], [condo]]


@pytest.mark.parametrize("task_id", V2_ZILLOFT)
def test_same_task_same_first_screenshot(played: dict[tuple[str, str], Played], task_id: str) -> None:
    """The expert and the near misses of a task each start from their own reset: byte-identical first pages."""
    firsts = [played[(task_id, s.name)].first for s in (SCRIPTS[task_id].expert, *SCRIPTS[task_id].near_misses)]
    assert all(f is not None for f in firsts)
    shots = {f.screenshot for f in firsts}  # type: ignore[union-attr]
    trees = {f.axtree for f in firsts}  # type: ignore[union-attr]
    assert len(shots) == 1 and len(trees) == 1
    shot = shots.pop()
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 20_000  # a rendered page, not a blank one


def test_restore_replays_an_expert_prefix(run: Callable[[Awaitable[Any]], Any], env: BrowserEnv,
                                          source: RealSource, played: dict[tuple[str, str], Played]) -> None:
    """Tree search rebuilds states by replay: an expert's actions up to its filtered results reach the same state."""
    p = played[("v2.zilloft-14", "expert")]
    assert p.run is not None
    last_results = max(i for i, r in enumerate(p.run.results) if r.observation and "/homes?" in r.observation.url)
    prefix = p.run.actions[:last_results + 1]
    expected = p.run.results[last_results].observation
    assert expected is not None and "maxPrice=1000000" in expected.url

    async def restore() -> str:
        ep = await env.restore(source.get("v2.zilloft-14"), 0, prefix, expected_key=expected.state_key)
        try:
            return ep.state_key()
        finally:
            await ep.close()

    assert run(restore()) == expected.state_key


# --- the committed screenshots ----------------------------------------------------------------------------


def test_docs_screenshots(played: dict[tuple[str, str], Played]) -> None:
    """Writes docs/sites/zilloft-home.png (a task's first page), zilloft-results.png (the filtered results of
    the zilloft-2 expert), zilloft-tour.png (its tour form with a date and time picked) and zilloft-contact.png
    (zilloft-6's contact form, a tour time picked), all from the headless Chromium episodes above; the files
    are committed."""
    p = played[("v2.zilloft-2", "expert")]
    assert p.first is not None and p.run is not None
    observations = [r.observation for r in p.run.results if r.observation is not None]
    results = next(o for o in observations if "homeTypes=Houses" in o.url)
    tour = [o for o in observations if 'dialog "Request a tour"' in o.axtree and 'button "Next"' in o.axtree][-1]
    assert 'button "10:00 AM" [pressed]' in tour.axtree, tour.axtree
    c = played[("v2.zilloft-6", "expert")]
    assert c.run is not None
    picked = [r.observation for r in c.run.results if r.observation is not None]
    contact = [o for o in picked if 'dialog "Contact agent"' in o.axtree
               and 'button "1:00 PM" [pressed]' in o.axtree][-1]
    out = REPO_ROOT / "docs" / "sites"
    out.mkdir(parents=True, exist_ok=True)
    (out / "zilloft-home.png").write_bytes(p.first.screenshot)
    (out / "zilloft-results.png").write_bytes(results.screenshot)
    (out / "zilloft-tour.png").write_bytes(tour.screenshot)
    (out / "zilloft-contact.png").write_bytes(contact.screenshot)
