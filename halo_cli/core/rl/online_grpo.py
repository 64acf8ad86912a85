"""OnlineGRPOTrainer: browser rollouts -> dense rewards -> group advantages -> LoRA update -> hot reload.

One iteration = ``grpo.concurrent_episodes`` groups collected at once (each one task and one seed), then ONE update
on the whole rollout (``LoRALearner.update``: mini-batches and epochs as the settings say):

* ``step``: at every state, G actions are sampled in one request and each runs in its own branch (``branches.py``);
  the G branch values form a group.
* ``episode``: G whole episodes of the same task and seed; the group's baseline is over its own episodes only.
* ``gigpo``: ``episode`` plus step advantages from anchor states shared within the group (GiGPO).

Advantages are ``A = value - baseline`` per group (``grouping.py``), divided once by the batch's reward std
(``grpo.scale_rewards = "batch"``); what is smaller than ``grpo.advantage_eps`` is 0. With ``grpo.dynamic_sampling``,
groups whose values are all equal are replaced by freshly collected ones (DAPO), up to
``grpo.dynamic_sampling_rounds`` extra rounds.

After each update the adapter is saved as version k, served under a name that carries its content hash
(``adapters.py``), checked by the parity probe, used for the next iteration's sampling, and version k-2 is unloaded.
Every ``grpo.checkpoint_every`` iterations the adapter, the learner's state, the sampler's seed stream and the
trainer's state are written atomically; ``resume`` goes on from there and removes what the dead pass recorded after.
"""

from __future__ import annotations

import asyncio
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
from halo_cli.core.env.browser import BrowserEnv
from halo_cli.core.env.tasks import Task
from halo_cli.core.errors import HaloError, NotFoundError
from halo_cli.core.fsutil import atomic_dir
from halo_cli.core.policy.adapter_id import adapter_digest, served_name
from halo_cli.core.policy.vllm_client import PolicyServerError, VLLMPolicyClient
from halo_cli.core.rl.adapters import ParityProbe
from halo_cli.core.rl.advantages import denoise, scale_by_batch_std
from halo_cli.core.rl.branches import BranchedEpisodes
from halo_cli.core.rl.grouping import GROUPINGS, GroupScore
from halo_cli.core.rl.groups import Group
from halo_cli.core.rl.learner import LoRALearner
from halo_cli.core.rl.learner_state import load_adapter_weights
from halo_cli.core.rl.metrics import iteration_metrics
from halo_cli.core.rl.progress import DenseRewardCalculator
from halo_cli.core.rl.rollout import EpisodeRecord, PolicyCaller, Rollouts
from halo_cli.core.rl.update_stats import UpdateStats
from halo_cli.core.store import RunStore

TRAINER_STATE_VERSION = 2


ENV_COUNTERS = ("crashes", "hangs", "relaunches", "reset_retries")


@dataclass(frozen=True)
class ResumePoint:
    """Where a resumed run goes on from: after `iteration`, restored from a checkpoint, an adapter, or the start."""

    iteration: int
    source: str  # checkpoint | adapter | start
    message: str


@dataclass
class IterationResult:
    iteration: int
    episodes: list[EpisodeRecord]
    metrics: dict[str, float]


@dataclass
class TrainerState:
    """What a resume needs besides the learner state: where we are, which adapter vLLM should serve under which
    name, and the trainer's and the sampler's random streams."""

    iteration: int = 0
    adapter_version: int = 0
    adapter_name: str | None = None
    rng: list[Any] = field(default_factory=list)
    sampler_rng: list[Any] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({"version": TRAINER_STATE_VERSION, "iteration": self.iteration,
                           "adapter_version": self.adapter_version, "adapter_name": self.adapter_name,
                           "rng": self.rng, "sampler_rng": self.sampler_rng}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "TrainerState":
        data = json.loads(text)
        if data.get("version") != TRAINER_STATE_VERSION:
            raise HaloError(f"trainer state version {data.get('version')} is not {TRAINER_STATE_VERSION}")
        return cls(iteration=int(data["iteration"]), adapter_version=int(data["adapter_version"]),
                   adapter_name=data.get("adapter_name"), rng=data["rng"], sampler_rng=data.get("sampler_rng", []))


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
        self.grouping = GROUPINGS[self.g.group]()
        self.branched = BranchedEpisodes(settings, env, self.policy, self.rollouts, self.rng)
        self._probe: ParityProbe | None = None
        self.learner.total_updates = self.iterations_for(self.g.episodes)

    # ------------------------------------------------------------------------------------------ naming

    def adapter_dir(self, version: int) -> Path:
        return self.run_dir / "adapters" / f"v{version}"

    def _task_and_seed(self, iteration: int, slot: int) -> tuple[Task, int]:
        """Tasks in a fixed rotation, seeds derived from the run seed: a resumed run sees what it would have seen.

        Slots past `concurrent_episodes` (dynamic sampling's refills) take the tasks and seeds that follow."""
        per_iteration = self.g.concurrent_episodes * (1 + (self.g.dynamic_sampling_rounds if self.g.dynamic_sampling
                                                          else 0))
        k = (iteration - 1) * per_iteration + slot
        seed = self.g.task_seed if self.g.task_seed is not None else self.g.seed * 100_003 + k
        return self.tasks[k % len(self.tasks)], seed

    # ------------------------------------------------------------------------------------------ rollouts

    async def collect_episode(self, task: Task, seed: int, *, iteration: int = 0, group: int = 0) -> list[EpisodeRecord]:
        """The rollouts of one group: one branched episode (`step`) or G episodes of the task and seed."""
        if self.g.group == "step":
            record = await self.rollouts.or_dropped(self.branched.run(task, seed, iteration, group))
            record.group = group
            return [record]
        runs = [self.rollouts.or_dropped(self.rollouts.run_episode(task, seed, iteration=iteration,
                                                                   temperature=self.g.temperature))
                for _ in range(self.g.num_generations)]
        records = list(await asyncio.gather(*runs))
        for r in records:
            r.group = group
        return records

    async def _collect(self, iteration: int, slots: range) -> list[list[EpisodeRecord]]:
        jobs = [self.collect_episode(*self._task_and_seed(iteration, slot), iteration=iteration, group=slot)
                for slot in slots]
        return list(await asyncio.gather(*jobs))

    # ------------------------------------------------------------------------------------------ advantages

    def score(self, groups: Sequence[Sequence[EpisodeRecord]]) -> list[GroupScore]:
        """Every group scored on its own, then one batch-level scale; advantages are written to the store."""
        scores = [score for records in groups for score in self.grouping.score(records, self.g)]
        if self.g.scale_rewards == "batch":
            values = [v for s in scores for v in s.values]
            for s in scores:
                for sc in s.scored:
                    sc.advantages = scale_by_batch_std([sc.advantages], values, self.g.advantage_eps)[0]
        for s in scores:
            for sc in s.scored:
                sc.advantages = denoise(sc.advantages, self.g.advantage_eps)
                advs: list[float | None] = [None] * len(sc.step.batch.samples)
                for i, a in zip(sc.indices, sc.advantages):
                    advs[i] = a
                sc.step.advantages = [a or 0.0 for a in advs]
                if sc.step.step_id is not None:
                    self.store.score_samples(sc.step.step_id, advantages=advs)
        return scores

    def compute_advantages(self, episodes: Sequence[EpisodeRecord]) -> list[Group]:
        """The learner's groups of a collection of episodes (grouped by their `group`), advantages filled in."""
        by_group: dict[int, list[EpisodeRecord]] = {}
        for e in episodes:
            by_group.setdefault(e.group, []).append(e)
        return self.learner_groups(self.score(list(by_group.values())))

    @staticmethod
    def learner_groups(scores: Sequence[GroupScore]) -> list[Group]:
        return [Group.from_batch(sc.step.batch, sc.advantages, sc.indices, weights=sc.weights)
                for s in scores for sc in s.scored]

    # ------------------------------------------------------------------------------------------ update

    def update_policy(self, groups: Sequence[Group]) -> tuple[UpdateStats | None, dict[str, float]]:
        """One learner update, then the new adapter goes live in vLLM; returns the stats and what it measured."""
        out = {"time_learn_s": 0.0, "time_reload_s": 0.0}
        if not groups:
            return None, out
        t0 = time.perf_counter()
        stats = self.learner.update(groups)
        t1 = time.perf_counter()
        version = self.state.adapter_version + 1
        path = self.learner.save_adapter(self.adapter_dir(version))
        digest = adapter_digest(path)
        name = served_name(self.run_id, version, digest)
        self._load_adapter(name, path)
        parity = self._parity(name)
        self.store.add_adapter(self.run_id, version, str(path), loaded=True, name=name, sha256=digest)
        old = self.state.adapter_version - 1
        if old >= 1:
            for adapter in self.store.list_adapters(self.run_id):
                if adapter.version == old and adapter.name:
                    self._unload(adapter.name)
                    self.store.set_adapter_loaded(self.run_id, old, False)
        self.state.adapter_version, self.state.adapter_name = version, name
        out.update(time_learn_s=t1 - t0, time_reload_s=time.perf_counter() - t1, parity_gap=parity.gap)
        if parity.shift is not None:
            out["parity_shift"] = parity.shift
        return stats, out

    def _parity(self, name: str) -> Any:
        if self._probe is None:
            self._probe = ParityProbe(self.learner)
        return self._probe.check(self.client, name, self.g.parity_tolerance)

    def unload_adapters(self) -> None:
        """Unloads every adapter of this run the server still serves (kept on disk): a finished run leaves a shared
        server (``--policy-url``) as it found it."""
        for adapter in self.store.list_adapters(self.run_id):
            if adapter.loaded:
                if adapter.name:
                    self._unload(adapter.name)
                self.store.set_adapter_loaded(self.run_id, adapter.version, False)

    def _unload(self, name: str) -> None:
        try:
            self.client.unload_adapter(name)
        except HaloError:
            pass  # a restarted server no longer has it: nothing to unload

    def _load_adapter(self, name: str, path: Path) -> None:
        """Puts the adapter live in vLLM (in place if the name is already there), riding out a restart."""
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

    async def run_iteration(self, iteration: int) -> IterationResult:
        t0 = time.perf_counter()
        n = self.g.concurrent_episodes
        groups = await self._collect(iteration, range(n))
        refills = 0
        if self.g.dynamic_sampling:
            groups, refills = await self._refill(iteration, groups)
        episodes = [e for g in groups for e in g]
        if episodes and all(e.dropped and not e.steps for e in episodes):
            reason = episodes[0].outcome.details.get("reason") if episodes[0].outcome else "no reason"
            raise HaloError(f"every episode of iteration {iteration} was dropped: {reason}")
        t_rollout = time.perf_counter() - t0
        scores = self.score(groups)
        stats, measured = await asyncio.to_thread(self.update_policy, self.learner_groups(scores))
        extra = {"time_rollout_s": t_rollout, **measured, "adapter_version": float(self.state.adapter_version)}
        if self.g.dynamic_sampling:
            extra["dynamic_sampling_refills"] = float(refills)
        # Browser faults since the run started (BrowserEnv's counters): a climbing curve is a machine problem.
        extra.update({f"env_{k}": float(getattr(self.env, k, 0)) for k in ENV_COUNTERS})
        extra["env_site_retries"] = float(self.rollouts.site_retries)
        extra["dropped_episodes"] = float(sum(e.dropped and not e.steps for e in episodes))
        metrics = iteration_metrics(self.g.group, episodes, scores, stats, extra)
        self.store.log_metrics(self.run_id, iteration, metrics)
        self.state.iteration = iteration
        if iteration % self.g.checkpoint_every == 0:
            await asyncio.to_thread(self.checkpoint)
        result = IterationResult(iteration, episodes, metrics)
        if self.on_iteration is not None:
            self.on_iteration(result)
        return result

    async def _refill(self, iteration: int,
                      groups: list[list[EpisodeRecord]]) -> tuple[list[list[EpisodeRecord]], int]:
        """DAPO dynamic sampling: groups whose values are all equal are replaced by new ones, a round at a time."""
        def informative(records: list[EpisodeRecord]) -> bool:
            return any(s.scored and len(set(round(v, 9) for v in s.values)) > 1
                       for s in self.grouping.score(records, self.g))

        keep = [g for g in groups if informative(g)]
        next_slot, refills = len(groups), 0
        for _ in range(self.g.dynamic_sampling_rounds):
            missing = len(groups) - len(keep)
            if missing == 0:
                break
            fresh = await self._collect(iteration, range(next_slot, next_slot + missing))
            next_slot += missing
            refills += missing
            keep.extend(g for g in fresh if informative(g))
        return (keep or groups), refills

    def iterations_for(self, num_episodes: int) -> int:
        return math.ceil(num_episodes / self.g.concurrent_episodes)

    async def atrain(self, num_episodes: int | None = None) -> list[IterationResult]:
        total = self.iterations_for(num_episodes or self.g.episodes)
        self.learner.total_updates = total
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
        self.state.sampler_rng = _rng_to_json(self.policy.rng_state())
        final = self.run_dir / "checkpoints" / f"it-{self.state.iteration:06d}"
        with atomic_dir(final) as tmp:
            if self.state.adapter_version:
                shutil.copytree(self.adapter_dir(self.state.adapter_version), tmp / "adapter")
            self.learner.save_state(tmp / "learner")
            (tmp / "trainer.json").write_text(self.state.to_json() + "\n")
        return final

    def resume(self) -> "ResumePoint":
        """Goes on from where this run stopped: its latest checkpoint (exact: adapter, AdamW moments, RNG streams),
        else, before the first checkpoint, the adapter of its last completed iteration (weights only; the AdamW
        moments start again from zero), else from the start. What the dead pass recorded after that point is
        removed from the store, and the adapter is put back into vLLM."""
        ckpt = latest_checkpoint(self.run_dir)
        if ckpt is not None:
            self.state = TrainerState.from_json((ckpt / "trainer.json").read_text())
            if self.state.rng:
                self.rng.setstate(_rng_from_json(self.state.rng))
            if self.state.sampler_rng:
                self.policy.set_rng_state(_rng_from_json(self.state.sampler_rng))
            self.learner.load_state(ckpt / "learner")
            point = ResumePoint(self.state.iteration, "checkpoint",
                                f"resumed from the checkpoint of iteration {self.state.iteration}")
        else:
            point = self._resume_from_adapters()
        self.store.discard_after(self.run_id, self.state.iteration, self.state.adapter_version)
        if self.state.adapter_version:
            path = self.adapter_dir(self.state.adapter_version)
            if ckpt is not None and (not (path / "adapter_config.json").is_file()
                                     or adapter_digest(path) != adapter_digest(ckpt / "adapter")):
                shutil.copytree(ckpt / "adapter", path, dirs_exist_ok=True)  # written after the checkpoint: redone
            name = served_name(self.run_id, self.state.adapter_version, adapter_digest(path))
            self._load_adapter(name, path)
            self.state.adapter_name = name
        return point

    def _resume_from_adapters(self) -> "ResumePoint":
        """No checkpoint: the last iteration that logged its metrics, and the adapter it left (checked against the
        digest the store recorded), or iteration 0 when none did."""
        done = self.store.metric_history(self.run_id, "adapter_version")
        if not done:
            return ResumePoint(0, "start", "no checkpoint and no completed iteration: the run starts again")
        last = max(done, key=lambda m: m.iteration)
        iteration, version = last.iteration, int(last.value)
        if version:
            adapter = next((a for a in self.store.list_adapters(self.run_id) if a.version == version), None)
            path = self.adapter_dir(version)
            if adapter is None or not (path / "adapter_model.safetensors").is_file() or (
                    adapter.sha256 and adapter_digest(path) != adapter.sha256):
                raise NotFoundError(f"run {self.run_id} has no checkpoint and its adapter v{version} (iteration "
                                    f"{iteration}) is missing or changed under {path}: it cannot be resumed")
            load_adapter_weights(self.learner, path, updates=version)
        self.state = TrainerState(iteration=iteration, adapter_version=version)
        # The RNG streams were not saved: derived from the seed and the iteration, so a resume is repeatable.
        self.rng.seed(f"{self.g.seed}/resume/{iteration}")
        what = f"adapter v{version}" if version else "the base model"
        return ResumePoint(iteration, "adapter", f"resumed from {what} after iteration {iteration} (no checkpoint "
                           "yet: the optimizer's moments start again from zero)")
