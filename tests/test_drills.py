"""The drills through BrowserEnv with real Chromium: selection, seeded layouts, expert and wrong-order solutions.

The scripts find their targets in the page's DOM (as a test may), then act only through `left_click` actions on the
0..999 grid of the screenshot, as the policy would.
"""

from __future__ import annotations

import asyncio
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import action_at

from halo_cli.core.actions import LeftClick, px_to_grid
from halo_cli.core.config import BrowserSettings
from halo_cli.core.env.browser import BrowserEnv
from halo_cli.core.env.drills import DrillSource
from halo_cli.core.env.episode import Episode, StepResult
from halo_cli.core.env.tasks import Outcome, select_tasks
from halo_cli.core.errors import NotFoundError

NAMES = ["confirm", "menu", "sequence"]


@pytest.fixture(scope="module")
def source() -> Iterator[DrillSource]:
    with DrillSource() as src:
        yield src


@pytest.fixture(scope="module")
def env(loop: asyncio.AbstractEventLoop, source: DrillSource) -> Iterator[BrowserEnv]:
    env = BrowserEnv(BrowserSettings(), sources=[source])
    loop.run_until_complete(env.start())
    yield env
    loop.run_until_complete(env.close())


async def click(ep: Episode, text: str) -> StepResult:
    """Clicks the centre of the task-area button labelled exactly `text`."""
    return await ep.step(await action_at(ep, f'#area button:text-is("{text}")'))


async def click_box(ep: Episode, box: dict[str, float]) -> StepResult:
    """Clicks the centre of a box (CSS pixels) that may hold no button yet."""
    obs, s = ep.observation, ep.viewport.scale
    assert obs is not None
    x = px_to_grid((box["x"] + box["width"] / 2) * s, obs.width)
    y = px_to_grid((box["y"] + box["height"] / 2) * s, obs.height)
    return await ep.step(LeftClick(x=x, y=y, width=obs.width, height=obs.height))


async def box_of(ep: Episode, text: str) -> dict[str, float]:
    box = await ep.page.locator(f'#area button:text-is("{text}")').bounding_box()
    assert box is not None, text
    return box


def assert_graded(outcome: Outcome | None, success: bool) -> None:
    assert outcome is not None
    assert (outcome.success, outcome.reward, outcome.status) == (
        (True, 1.0, "success") if success else (False, 0.0, "failure")), outcome


def menu_target(ep: Episode) -> str:
    m = re.search(r"pick (\w+),", ep.goal)
    assert m, ep.goal
    return m.group(1)


# --- the source ------------------------------------------------------------------------------------------


def test_lists_three_drills_selectable_by_source_name_id_and_pinned_instance(source: DrillSource) -> None:
    tasks = source.list_tasks()
    assert [t.id for t in tasks] == [f"drill.{n}" for n in NAMES]
    assert all(t.source == "drill" and t.site == "drill" and t.goal is None for t in tasks)
    assert select_tasks("drill", [source]) == tasks
    assert select_tasks("drill:menu", [source]) == select_tasks("drill.menu", [source]) == [source.task("menu")]
    (pinned,) = select_tasks("drill:confirm@7", [source])
    assert pinned == source.task("confirm", 7) and pinned.id == "drill.confirm@7" and pinned.meta["seed"] == 7
    assert select_tasks("drill.confirm@7,drill:confirm@7", [source]) == [pinned]
    for bad in ("drill:nope@1", "drill:confirm@x", "drill.confirm@"):
        with pytest.raises(NotFoundError):
            select_tasks(bad, [source])
    url = source.start_url(source.task("menu"))
    assert re.match(r"^http://127\.0\.0\.1:\d+/menu\.html$", url)
    assert source.allowed_origins(pinned) == frozenset({source.origin})
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200 and b"drills.js" in r.read()


def test_same_seed_same_screenshot_and_a_pinned_instance_ignores_the_episode_seed(
        env: BrowserEnv, source: DrillSource, run: Any) -> None:
    async def scenario() -> None:
        for name in NAMES:
            task = source.task(name)
            eps = await asyncio.gather(env.reset(task, seed=1), env.reset(task, seed=1), env.reset(task, seed=0),
                                       env.reset(source.task(name, 1), seed=12345))
            try:
                a, b, c, pinned = (e.observation for e in eps)
                assert a is not None and b is not None and c is not None and pinned is not None
                assert a.screenshot == b.screenshot and a.state_key == b.state_key, name
                assert pinned.screenshot == a.screenshot and eps[3].goal == eps[0].goal, name
                assert c.screenshot != a.screenshot, f"{name}: seeds 0 and 1 should lay the page out differently"
                assert (a.width, a.height) == (480, 630)  # 160x210 at scale 3, as MiniWoB
                assert a.goal and a.goal in a.axtree and a.goal == eps[0].goal
            finally:
                await asyncio.gather(*(e.close() for e in eps))

    run(scenario())


# --- expert solutions succeed, wrong orders do not -----------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_confirm(env: BrowserEnv, source: DrillSource, run: Any, seed: int) -> None:
    async def scenario() -> None:
        task = source.task("confirm", seed)
        right, wrong = await asyncio.gather(env.reset(task), env.reset(task))
        try:
            first = await click(right, "Open")
            assert not first.done and first.observation is not None
            assert 'button "Confirm"' in first.observation.axtree and '"Open"' not in first.observation.axtree
            confirm_box = await box_of(right, "Confirm")
            r = await click(right, "Confirm")
            assert r.done and right.done
            assert_graded(r.outcome, True)
            # Confirm's place before Open was clicked: nothing there, nothing happens, nothing is won.
            before = wrong.state_key()
            w = await click_box(wrong, confirm_box)
            assert not w.done and wrong.state_key() == before
            w = await click(wrong, "Open")
            assert not w.done
            assert_graded(await wrong.finish(), False)
        finally:
            await asyncio.gather(right.close(), wrong.close())

    run(scenario())


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]


@pytest.mark.parametrize("seed", [0, 1])
def test_sequence(env: BrowserEnv, source: DrillSource, run: Any, seed: int) -> None:
    async def scenario() -> None:
        task = source.task("sequence", seed)
        right, skip, swap = await asyncio.gather(env.reset(task), env.reset(task), env.reset(task))
        try:
            one = await box_of(right, "1")
            r = await click(right, "1")
            assert not r.done and r.observation is not None
            # 1 goes away and 2, 3 share the area in halves; 2 never lies where 1 was, nor 3 where 2 is.
            assert 'button "1"' not in r.observation.axtree
            two, three = await box_of(right, "2"), await box_of(right, "3")
            assert not overlap(one, two) and overlap(one, three) and two["width"] > 70
            r = await click(right, "2")
            assert not r.done and r.observation is not None and 'button "2"' not in r.observation.axtree
            assert await box_of(right, "3") == three  # 3 stays where it is
            r = await click(right, "3")
            assert_graded(r.outcome, True)
            w = await click(skip, "2")  # out of turn: over at once
            assert w.done
            assert_graded(w.outcome, False)
            assert not (await click(swap, "1")).done
            w = await click(swap, "3")
            assert w.done
            assert_graded(w.outcome, False)
        finally:
            await asyncio.gather(right.close(), skip.close(), swap.close())

    run(scenario())


@pytest.mark.parametrize("seed", [0, 1])
def test_menu(env: BrowserEnv, source: DrillSource, run: Any, seed: int) -> None:
    async def scenario() -> None:
        task = source.task("menu", seed)
        right, wrong = await asyncio.gather(env.reset(task), env.reset(task))
        try:
            target = menu_target(right)
            r = await click(right, "Menu")
            assert not r.done and r.observation is not None and 'button "Submit"' not in r.observation.axtree
            other = next(n for n in re.findall(r'button "(\w+)"', r.observation.axtree) if n != target)
            # A pick may be changed before Submit: the wrong one first, then the target.
            for name in (other, target):
                r = await click(right, name)
                assert not r.done and r.observation is not None
            assert f'button "{target}" [pressed]' in r.observation.axtree
            r = await click(right, "Submit")
            assert_graded(r.outcome, True)
            for name in ("Menu", other):
                assert not (await click(wrong, name)).done
            w = await click(wrong, "Submit")
            assert w.done
            assert_graded(w.outcome, False)
        finally:
            await asyncio.gather(right.close(), wrong.close())

    run(scenario())
