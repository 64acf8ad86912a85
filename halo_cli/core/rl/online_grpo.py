"""OnlineGRPOTrainer: browser rollouts -> dense rewards -> group advantages -> LoRA update -> hot reload.

One iteration = `grpo.concurrent_episodes` task episodes run at once, then one policy update on all their groups:

* `step`  (the seed's loop): at every state, G actions are sampled in one request and each is executed in its own
  branch (`BrowserEnv.restore` replays the prefix; a page cannot be forked). Each branch is rewarded by its own
  copy of the episode's DenseRewardCalculator; the G rewards form a group. The episode then goes on from the
  best branch (or a random one: `grpo.step_continue`).
* `episode`: G whole episodes of the same task and seed; the episode return is the reward and its advantage is
  applied to every step's tokens.
* `gigpo`: `episode` plus step advantages from anchor states shared across the G episodes (GiGPO).

After each update the adapter is saved as version k, loaded into vLLM as `<run>-v<k>`, used for the next
iteration's sampling, and version k-2 is unloaded. Every `grpo.checkpoint_every` iterations the adapter, the
learner's optimizer/RNG state and the trainer's state are written atomically; `resume` goes on from there.
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from halo_cli.core.config import Settings
from halo_cli.core.env.browser import BrowserEnv, RestoreMismatch
from halo_cli.core.env.episode import Episode
from halo_cli.core.env.tasks import Task
from halo_cli.core.errors import HaloError, NotFoundError
from halo_cli.core.fsutil import atomic_dir
from halo_cli.core.policy.vllm_client import PolicyServerError, VLLMPolicyClient
from halo_cli.core.rl.advantages import (
    dr_grpo_advantages,
    episode_advantages,
    frac_reward_zero_std,
    gigpo_advantages,
    grpo_advantages,
)
from halo_cli.core.rl.groups import Group
from halo_cli.core.rl.learner import LoRALearner, UpdateStats
from halo_cli.core.rl.progress import DenseRewardCalculator, TaskInfo
from halo_cli.core.rl.rollout import (
    EpisodeRecord,
    PolicyCaller,
    Rollouts,
    StepRecord,
    close_quietly,
    history_step,
    record_step,
)
from halo_cli.core.rl.stats import mean, std
from halo_cli.core.store import RunStore

TRAINER_STATE_VERSION = 1


@dataclass
class Branch:
    """One sample of a step group, executed (or not) in its own episode."""

    episode: Episode | None
    calc: DenseRewardCalculator
    reward: float | None
    components: dict[str, float]
    done: bool = False
    error: str | None = None
    success: bool = False


@dataclass
class IterationResult:
    iteration: int
    episodes: list[EpisodeRecord]
    metrics: dict[str, float]


@dataclass
class TrainerState:
    """What a resume needs besides the learner state: where we are and which adapter vLLM should serve."""

    iteration: int = 0
    adapter_version: int = 0
    rng: list[Any] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({"version": TRAINER_STATE_VERSION, "iteration": self.iteration,
                           "adapter_version": self.adapter_version, "rng": self.rng}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "TrainerState":
        data = json.loads(text)
        if data.get("version") != TRAINER_STATE_VERSION:
            raise HaloError(f"trainer state version {data.get('version')} is not {TRAINER_STATE_VERSION}")
        return cls(iteration=int(data["iteration"]), adapter_version=int(data["adapter_version"]), rng=data["rng"])


def _rng_to_json(state: tuple[Any, ...]) -> list[Any]:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _rng_from_json(data: list[Any]) -> tuple[Any, ...]:
    return (data[0], tuple(data[1]), data[2])


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run (complete ones are renamed into place, so they all are)."""
    root = run_dir / "checkpoints"
    done = sorted(p for p in root.glob("it-*") if (p / "trainer.json").is_file()) if root.is_dir() else []
    return done[-1] if done else None


class OnlineGRPOTrainer:
    """Online GRPO over live browser episodes with LoRA updates hot-reloaded into vLLM."""

    def __init__(
        self,
        settings: Settings,
        *,
        client: VLLMPolicyClient,
        learner: LoRALearner,
        env: BrowserEnv,
        tasks: Sequence[Task],
        store: RunStore,
        run_id: str,
        run_dir: Path,
        reward_factory: Callable[[], DenseRewardCalculator] | None = None,
        on_iteration: Callable[[IterationResult], None] | None = None,
        server_alive: Callable[[], bool] | None = None,
    ):
        if not tasks:
            raise HaloError("no tasks to train on")
        self.settings = settings
        self.g = settings.grpo
        self.client = client
        self.learner = learner
        self.env = env
        self.tasks = list(tasks)
        self.store = store
        self.run_id = run_id
        self.run_dir = Path(run_dir)
        self.on_iteration = on_iteration
        self.state = TrainerState()
        self.rng = random.Random(self.g.seed)
        self.policy = PolicyCaller(client, settings, seed=self.g.seed, server_alive=server_alive)
        factory = reward_factory or (lambda: DenseRewardCalculator(settings))
        self.rollouts = Rollouts(settings, env, self.policy, store, run_id, factory)

    # ------------------------------------------------------------------------------------------ naming

    def adapter_name(self, version: int) -> str:
        return f"{self.run_id}-v{version}"

    def adapter_dir(self, version: int) -> Path:
        return self.run_dir / "adapters" / f"v{version}"

    def _task_and_seed(self, iteration: int, slot: int) -> tuple[Task, int]:
        """Tasks in a fixed rotation, seeds derived from the run seed: a resumed run sees what it would have seen."""
        k = (iteration - 1) * self.g.concurrent_episodes + slot
        seed = self.g.task_seed if self.g.task_seed is not None else self.g.seed * 100_003 + k
        return self.tasks[k % len(self.tasks)], seed

    # ------------------------------------------------------------------------------------------ rollouts

    async def collect_episode(self, task: Task, seed: int, *, iteration: int = 0) -> list[EpisodeRecord]:
        """The rollouts of one task episode for the configured grouping: one branched episode (`step`) or
        G episodes of the same task and seed (`episode`, `gigpo`)."""
        if self.g.group == "step":
            return [await self._branched_episode(task, seed, iteration)]
        runs = [self.rollouts.run_episode(task, seed, iteration=iteration, temperature=self.g.temperature)
                for _ in range(self.g.num_generations)]
        return list(await asyncio.gather(*runs))

    async def _branched_episode(self, task: Task, seed: int, iteration: int) -> EpisodeRecord:
        store, s = self.store, self.settings
        async with self.rollouts.episode(task, seed, iteration=iteration) as run:
            record = run.record
            obs = run.ep.observation
            assert obs is not None
            for t in range(s.env.max_steps):
                ep = run.ep
                t0 = time.perf_counter()
                batch = await self.policy.sample(obs, ep.goal, run.history, n=self.g.num_generations,
                                                 temperature=self.g.temperature)
                t1 = time.perf_counter()
                branches = await self._run_branches(task, seed, ep, list(ep.actions), obs, batch, run.calc, run.info)
                chosen = self._choose([b.reward if b.episode is not None else None for b in branches])
                step = StepRecord(
                    index=t, observation=obs, batch=batch, rewards=[b.reward for b in branches],
                    components=[b.components for b in branches], chosen=chosen,
                    successes=[b.success for b in branches],
                    timings={"sample_ms": (t1 - t0) * 1e3, "branches_ms": (time.perf_counter() - t1) * 1e3},
                )
                record.steps.append(step)
                done = chosen is not None and branches[chosen].done
                err = branches[chosen].error if chosen is not None else "no sample could be executed"
                record_step(store, record.episode_id, step, done=done, error=err)  # type: ignore[arg-type]
                run.history.append(history_step(obs, batch, chosen))
                keep = branches[chosen].episode if chosen is not None else ep
                await close_quietly(list({id(e): e for e in [b.episode for b in branches] + [ep]
                                          if e is not None and e is not keep}.values()))
                run.ep = keep  # type: ignore[assignment]
                if chosen is not None:
                    run.calc = branches[chosen].calc
                    obs = run.ep.observation or obs
                if done or run.ep.done:
                    break
        return run.record

    async def _run_branches(
        self, task: Task, seed: int, ep: Episode, prefix: list[Any], obs: Any, batch: Any,
        calc: DenseRewardCalculator, info: TaskInfo,
    ) -> list[Branch]:
        """Executes every sample of a step group in its own episode; the first valid one reuses `ep` itself."""
        first_valid = next((i for i, smp in enumerate(batch.samples) if smp.action is not None), None)

        async def run(i: int) -> Branch:
            sample = batch.samples[i]
            c = copy.deepcopy(calc)
            if sample.action is None:  # never executed: the parse failure is the whole outcome
                r = c.compute_reward(obs, None, obs, info, False, False)
                return Branch(None, c, r, dict(c.last_components), error=sample.parse_error)
            try:
                branch_ep = ep if i == first_valid else await self.env.restore(
                    task, seed, prefix, expected_key=obs.state_key)
            except RestoreMismatch as e:
                return Branch(None, c, None, {}, error=f"restore failed: {e}")
            result = await branch_ep.step(sample.action)
            if result.observation is None:  # the browser died under this branch: no honest reward exists
                return Branch(branch_ep, c, None, {}, done=True, error=result.error or "aborted")
            success = bool(result.outcome and result.outcome.success)
            r = c.compute_reward(obs, sample.action, result.observation, info, result.done, success)
            return Branch(branch_ep, c, r, dict(c.last_components), done=result.done, error=result.error,
                          success=success)

        return list(await asyncio.gather(*(run(i) for i in range(len(batch.samples)))))

    def _choose(self, rewards: Sequence[float | None]) -> int | None:
        """The branch the episode continues with: the best (first on ties) or, with `sample`, a random one."""
        candidates = [i for i, r in enumerate(rewards) if r is not None]
        if not candidates:
            return None
        if self.g.step_continue == "sample":
            return self.rng.choice(candidates)
        return max(candidates, key=lambda i: (rewards[i], -i))  # type: ignore[operator]

    # ------------------------------------------------------------------------------------------ advantages

    def _relative(self, rewards: Sequence[float]) -> list[float]:
        return grpo_advantages(rewards) if self.g.loss_type == "grpo" else dr_grpo_advantages(rewards)

    def compute_advantages(self, episodes: Sequence[EpisodeRecord]) -> list[Group]:
        """Groups for the learner, advantages filled in (and written to the store's samples)."""
        groups: list[Group] = []
        if self.g.group == "step":
            for record in episodes:
                for step in record.steps:
                    idx = [i for i, r in enumerate(step.rewards) if r is not None]
                    advs = self._relative([float(step.rewards[i]) for i in idx]) if len(idx) > 1 else [0.0] * len(idx)
                    step.advantages = [0.0] * len(step.rewards)
                    for i, a in zip(idx, advs):
                        step.advantages[i] = a
                    if idx:
                        groups.append(Group.from_batch(step.batch, advs, idx))
        else:
            mode = "mean_std_norm" if self.g.loss_type == "grpo" else "mean_norm"
            if self.g.group == "episode":
                per_step = episode_advantages([e.episode_return for e in episodes], [e.length for e in episodes],
                                              mode=mode)
            else:
                per_step = gigpo_advantages(
                    [[(s.state_key, s.reward) for s in e.steps] for e in episodes], self.g.gamma,
                    self.g.gigpo_step_weight, mode=mode,
                )
            for record, advs in zip(episodes, per_step):
                for step, a in zip(record.steps, advs):
                    step.advantages = [a]
                    groups.append(Group.from_batch(step.batch, [a], [0]))
        for record in episodes:
            for step in record.steps:
                if step.step_id is not None and step.advantages is not None:
                    self.store.score_samples(step.step_id, advantages=step.advantages)
        return groups

    # ------------------------------------------------------------------------------------------ update

    def update_policy(self, groups: Sequence[Group]) -> tuple[UpdateStats | None, dict[str, float]]:
        """One learner update, then the new adapter goes live in vLLM; returns the stats and the time split."""
        times = {"time_learn_s": 0.0, "time_reload_s": 0.0}
        if not groups:
            return None, times
        t0 = time.perf_counter()
        stats = self.learner.update(groups)
        t1 = time.perf_counter()
        version = self.state.adapter_version + 1
        path = self.learner.save_adapter(self.adapter_dir(version))
        self._load_adapter(version, path)
        if any(a.version == version for a in self.store.list_adapters(self.run_id)):  # redone after a resume
            self.store.set_adapter_loaded(self.run_id, version, True)
        else:
            self.store.add_adapter(self.run_id, version, str(path), loaded=True)
        old = version - 2
        if old >= 1:
            try:
                self.client.unload_adapter(self.adapter_name(old))
            except HaloError:
                pass  # a restarted server no longer has it: nothing to unload
            self.store.set_adapter_loaded(self.run_id, old, False)
        self.state.adapter_version = version
        times["time_learn_s"] = t1 - t0
        times["time_reload_s"] = time.perf_counter() - t1
        return stats, times

    def _load_adapter(self, version: int, path: Path) -> None:
        """Puts adapter `version` live in vLLM (in place if the name is already there), riding out a restart."""
        name = self.adapter_name(version)
        for attempt in (0, 1):
            try:
                self.client.load_adapter(name, str(path), replace=name in self.client.models())
                break
            except PolicyServerError:
                if attempt == 1:
                    raise
                self.policy.wait_healthy()
        self.policy.use_adapter(name, str(path))

    # ------------------------------------------------------------------------------------------ loop

    def _metrics(self, episodes: Sequence[EpisodeRecord], stats: UpdateStats | None,
                 times: dict[str, float]) -> dict[str, float]:
        if self.g.group == "step":
            groups = [[float(r) for r in s.rewards if r is not None] for e in episodes for s in e.steps]
            rewards = [r for grp in groups for r in grp]
        else:
            returns = [e.episode_return for e in episodes]
            groups = [returns]
            rewards = returns
        samples = [smp for e in episodes for s in e.steps for smp in s.batch.samples]
        m: dict[str, float] = {
            "mean_reward": mean(rewards),
            "reward_std": mean([std(g) for g in groups]),
            "frac_reward_zero_std": frac_reward_zero_std([g for g in groups if g]) if any(groups) else 1.0,
            "episode_length": mean([float(e.length) for e in episodes]),
            "success_rate": sum(e.success for e in episodes) / len(episodes) if episodes else 0.0,
            "invalid_action_rate": sum(smp.action is None for smp in samples) / len(samples) if samples else 0.0,
            "aborted_episodes": float(sum(e.status == "aborted" for e in episodes)),
            "adapter_version": float(self.state.adapter_version),
            **times,
        }
        if self.g.group == "step":
            # Episodes go on with the best of G branches, so success_rate is a best-of-G figure; the share of sampled
            # actions whose own branch succeeded is the policy's, and what learning moves first.
            tried = [ok for e in episodes for s in e.steps for ok, r in zip(s.successes, s.rewards) if r is not None]
            m["sample_success_rate"] = sum(tried) / len(tried) if tried else 0.0
        if stats is not None:
            m.update({"loss": stats.loss, "grad_norm": stats.grad_norm, "clip_frac": stats.clip_frac,
                      "kl": stats.kl, "tokens_per_s": stats.tokens_per_s, "train_tokens": float(stats.tokens)})
            if stats.logprob_gap is not None:
                m["logprob_gap"] = stats.logprob_gap
        return {k: float(v) for k, v in m.items() if v is not None and math.isfinite(float(v))}

    async def run_iteration(self, iteration: int) -> IterationResult:
        t0 = time.perf_counter()
        jobs = [self.collect_episode(*self._task_and_seed(iteration, slot), iteration=iteration)
                for slot in range(self.g.concurrent_episodes)]
        episodes = [e for batch in await asyncio.gather(*jobs) for e in batch]
        t_rollout = time.perf_counter() - t0
        groups = self.compute_advantages(episodes)
        stats, times = await asyncio.to_thread(self.update_policy, groups)
        metrics = self._metrics(episodes, stats, {"time_rollout_s": t_rollout, **times})
        self.store.log_metrics(self.run_id, iteration, metrics)
        self.state.iteration = iteration
        if iteration % self.g.checkpoint_every == 0:
            await asyncio.to_thread(self.checkpoint)
        result = IterationResult(iteration, episodes, metrics)
        if self.on_iteration is not None:
            self.on_iteration(result)
        return result

    def iterations_for(self, num_episodes: int) -> int:
        return math.ceil(num_episodes / self.g.concurrent_episodes)

    async def atrain(self, num_episodes: int | None = None) -> list[IterationResult]:
        total = self.iterations_for(num_episodes or self.g.episodes)
        results = []
        for iteration in range(self.state.iteration + 1, total + 1):
            results.append(await self.run_iteration(iteration))
        if self.state.iteration % self.g.checkpoint_every != 0:
            await asyncio.to_thread(self.checkpoint)
        return results

    def train(self, num_episodes: int | None = None) -> list[IterationResult]:
        """Trains on `num_episodes` task episodes (default `grpo.episodes`), resuming after the last iteration."""
        return asyncio.run(self.atrain(num_episodes))

    # ------------------------------------------------------------------------------------------ checkpoints

    def checkpoint(self) -> Path:
        """Adapter, learner state and trainer state of the current iteration, renamed into place when complete."""
        self.state.rng = _rng_to_json(self.rng.getstate())
        final = self.run_dir / "checkpoints" / f"it-{self.state.iteration:06d}"
        with atomic_dir(final) as tmp:
            if self.state.adapter_version:
                shutil.copytree(self.adapter_dir(self.state.adapter_version), tmp / "adapter")
            self.learner.save_state(tmp / "learner")
            (tmp / "trainer.json").write_text(self.state.to_json() + "\n")
        return final

    def resume(self) -> int:
        """Loads the latest checkpoint of this run (if any) and puts its adapter back into vLLM; returns its iteration."""
        ckpt = latest_checkpoint(self.run_dir)
        if ckpt is None:
            raise NotFoundError(f"run {self.run_id} has no checkpoint under {self.run_dir / 'checkpoints'}")
        self.state = TrainerState.from_json((ckpt / "trainer.json").read_text())
        if self.state.rng:
            self.rng.setstate(_rng_from_json(self.state.rng))
        self.learner.load_state(ckpt / "learner")
        if self.state.adapter_version:
            path = self.adapter_dir(self.state.adapter_version)
            if not (path / "adapter_config.json").is_file():  # adapters written after the checkpoint may be gone
                shutil.copytree(ckpt / "adapter", path, dirs_exist_ok=True)
            self._load_adapter(self.state.adapter_version, path)
        return self.state.iteration
