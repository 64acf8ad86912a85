"""MiniWoB++ through BrowserEnv with real Chromium: seeded resets, scripted right and wrong solutions, grading.

The scripts find their targets in the page's DOM (as a test may), then act only through `computer_use`
actions on the 0..999 grid of the screenshot, as the policy would.
"""

from __future__ import annotations

import asyncio
import re
import struct
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
from conftest import action_at

from halo_cli.core.actions import Action, Key, Terminate, Type
from halo_cli.core.config import BrowserSettings
from halo_cli.core.env.browser import BrowserEnv
from halo_cli.core.env.episode import Episode, StepResult
from halo_cli.core.env.miniwob import MiniWoBSource
from halo_cli.core.env.tasks import Outcome, select_tasks

T = TypeVar("T")


@pytest.fixture(scope="module")
def source() -> Iterator[MiniWoBSource]:
    with MiniWoBSource() as src:
        yield src


@pytest.fixture(scope="module")
def env(loop: asyncio.AbstractEventLoop, source: MiniWoBSource) -> Iterator[BrowserEnv]:
    env = BrowserEnv(BrowserSettings(), sources=[source])
    loop.run_until_complete(env.start())
    yield env
    loop.run_until_complete(env.close())


async def click(ep: Episode, selector: str) -> StepResult:
    return await ep.step(await action_at(ep, selector))


def text_action(ep: Episode, cls: type[Action], **kw: Any) -> Action:
    assert ep.observation is not None
    return cls(width=ep.observation.width, height=ep.observation.height, **kw)


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def assert_graded(outcome: Outcome | None, success: bool) -> None:
    assert outcome is not None
    assert outcome.success is success, outcome
    assert outcome.reward == (1.0 if success else 0.0), outcome
    assert outcome.status == ("success" if success else "failure"), outcome


# --- the source --------------------------------------------------------------------------------------


def test_lists_every_task_of_the_wheel_and_serves_it_on_loopback(source: MiniWoBSource) -> None:
    tasks = source.list_tasks()
    ids = [t.id for t in tasks]
    assert len(tasks) >= 125 and len(set(ids)) == len(ids)
    assert {"miniwob.click-test-2", "miniwob.enter-text", "miniwob.choose-list"} <= set(ids)
    assert all(t.source == "miniwob" and t.site == "miniwob" and t.goal is None for t in tasks)
    task = source.task("click-test-2")
    url = source.start_url(task)
    assert re.match(r"^http://127\.0\.0\.1:\d+/miniwob/click-test-2\.html$", url)
    assert source.allowed_origins(task) == frozenset({source.origin})
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200 and b"genProblem" in r.read()
    assert select_tasks("miniwob:click-test-2", [source]) == [task]


def test_seeded_reset_is_deterministic_and_legible(env: BrowserEnv, source: MiniWoBSource, run: Any) -> None:
    async def scenario() -> None:
        task = source.task("enter-text")
        a, b, c = await asyncio.gather(env.reset(task, seed=11), env.reset(task, seed=11),
                                       env.reset(task, seed=12))
        try:
            oa, ob, oc = a.observation, b.observation, c.observation
            assert oa is not None and ob is not None and oc is not None
            assert oa.goal == ob.goal and oa.goal.startswith("Enter ")
            assert oa.state_key == ob.state_key
            assert oc.goal != oa.goal  # the seed chooses the name to enter
            # The 160x210 task area is shot at scale 3, and the action grid maps onto that screenshot.
            assert (oa.width, oa.height) == (480, 630) == png_size(oa.screenshot)
            assert oa.goal in oa.axtree and "textbox" in oa.axtree and 'button "Submit"' in oa.axtree
            assert "Last reward" not in oa.axtree  # the reward HUD is hidden from the agent
        finally:
            for ep in (a, b, c):
                await ep.close()

    run(scenario())


# --- scripted solutions: right ones get 1, wrong ones 0 ------------------------------------------------


async def solve_click_test_2(ep: Episode, right: bool) -> StepResult:
    return await click(ep, "#subbtn" if right else "#subbtn2")


async def solve_click_button(ep: Episode, right: bool) -> StepResult:
    assert ep.observation is not None
    m = re.search(r'Click on the "(.+)" button', ep.observation.goal)
    assert m, ep.observation.goal
    texts = await ep.page.locator("#area button").all_inner_texts()
    index = next(i for i, t in enumerate(texts) if (t == m.group(1)) == right)
    return await click(ep, f"#area button >> nth={index}")


async def solve_enter_text(ep: Episode, right: bool) -> StepResult:
    assert ep.observation is not None
    m = re.search(r'Enter "(.+)" into', ep.observation.goal)
    assert m, ep.observation.goal
    await click(ep, "#tt")
    r = await ep.step(text_action(ep, Type, text=m.group(1) if right else m.group(1) + "x"))
    assert not r.done
    return await click(ep, "#subbtn")


async def solve_click_checkboxes(ep: Episode, right: bool) -> StepResult:
    assert ep.observation is not None
    m = re.match(r"Select (.*) and click Submit\.", ep.observation.goal)
    assert m, ep.observation.goal
    wanted = set() if m.group(1) == "nothing" else set(m.group(1).split(", "))
    labels = await ep.page.locator("#boxes label").all_inner_texts()
    for i, label in enumerate(labels):
        if (label.strip() in wanted) == right:  # the wrong script ticks exactly the boxes it should not
            r = await click(ep, f"#ch{i}")
            assert not r.done
    return await click(ep, "#subbtn")


async def solve_choose_list(ep: Episode, right: bool) -> StepResult:
    assert ep.observation is not None
    m = re.match(r"Select (.+) from the list and click Submit\.", ep.observation.goal)
    assert m, ep.observation.goal
    options = await ep.page.locator("#options option").all_inner_texts()
    choice = m.group(1) if right else next(o for o in options if o != m.group(1))
    await click(ep, "#options")  # focuses the <select>; its popup is not in the screenshot, keys still work
    await ep.step(text_action(ep, Type, text=choice))
    await ep.step(text_action(ep, Key, keys=("Return",)))
    return await click(ep, "#area button")


SOLUTIONS: dict[str, Callable[[Episode, bool], Awaitable[StepResult]]] = {
    "click-test-2": solve_click_test_2,
    "click-button": solve_click_button,
    "enter-text": solve_enter_text,
    "click-checkboxes": solve_click_checkboxes,
    "choose-list": solve_choose_list,
}


@pytest.mark.parametrize("name", list(SOLUTIONS))
def test_scripted_solution_gets_reward_1_and_a_wrong_one_0(env: BrowserEnv, source: MiniWoBSource, run: Any,
                                                           name: str) -> None:
    async def episode(right: bool, seed: int) -> StepResult:
        ep = await env.reset(source.task(name), seed=seed)
        try:
            result = await SOLUTIONS[name](ep, right)
            assert result.done and ep.done, (name, right, result)
            assert result.observation is not None and result.error is None
            return result
        finally:
            await ep.close()

    async def scenario() -> None:
        good, bad = await asyncio.gather(episode(True, 3), episode(False, 3))
        assert_graded(good.outcome, True)
        assert_graded(bad.outcome, False)
        assert good.outcome is not None and good.outcome.details["raw_reward"] > 0
        assert bad.outcome is not None and bad.outcome.details["raw_reward"] <= 0

    run(scenario())


def test_terminate_before_the_page_judged_is_a_failure(env: BrowserEnv, source: MiniWoBSource, run: Any) -> None:
    async def scenario() -> None:
        ep = await env.reset(source.task("click-test-2"), seed=5)
        try:
            r = await ep.step(text_action(ep, Terminate, status="success"))
            assert r.done and ep.done
            assert_graded(r.outcome, False)
            assert r.outcome is not None and r.outcome.details["terminate_status"] == "success"
            again = await ep.step(text_action(ep, Terminate, status="success"))
            assert again.done and again.outcome == r.outcome and again.error == "episode already ended"
        finally:
            await ep.close()

    run(scenario())
