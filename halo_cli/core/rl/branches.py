"""Step groups: at every state of an episode, G sampled actions each run in their own branch of the page.

A page cannot be forked, so a branch is a replay of the episode's prefix (`BrowserEnv.restore`, checked by state key
and screenshot) plus its one action; the first valid sample reuses the episode's own page. Each branch is rewarded by
its own copy of the episode's reward calculator, and the G values form the group.

A branch's value is its immediate reward, or with ``grpo.step_value = "rollout"`` that reward plus the discounted
rewards of ``grpo.lookahead_steps`` more policy steps from the branch's state: a click that only pays off two steps
later is then credited at the step that made it. At the step budget's last step every branch still running is graded
(a REAL task is judged only by its final state), so a branch that finished the task then earns its success.

The episode goes on from one branch: by default a random one (``step_continue = "sample"``), so the episode's
states and its success are the policy's own; with ``"best"`` the best value, ties broken at random in favour of
branches that do not end the episode. The best-of-G figure (some branch succeeded) is kept apart.
"""

from __future__ import annotations

import asyncio
import copy
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from halo_cli.core.actions import Action
from halo_cli.core.config import Settings
from halo_cli.core.env.browser import BrowserEnv, RestoreMismatch, screenshot_digest
from halo_cli.core.env.episode import Episode, Observation
from halo_cli.core.env.tasks import Task
from halo_cli.core.policy.prompts import HistoryStep
from halo_cli.core.policy.vllm_client import SampleBatch
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
    value: float | None = None
    after: Observation | None = None  # the state the action led to, before any lookahead moved the page on
    moved_on: bool = False  # the lookahead stepped this branch's page past `after`
    lookahead: int = 0


def faulted(outcome_status: str | None, observation: Observation | None) -> bool:
    """A branch cut short by a browser fault, a step timeout or a failed grading has no honest reward."""
    return observation is None or outcome_status == "aborted"


def choose_branch(values: Sequence[float | None], terminal: Sequence[bool], mode: str, rng: random.Random) -> int | None:
    """The branch the episode goes on with: a random valid one (``sample``), or the best value (``best``), ties
    broken at random among the tied branches that do not end the episode, if any."""
    candidates = [i for i, v in enumerate(values) if v is not None]
    if not candidates:
        return None
    if mode == "sample":
        return rng.choice(candidates)
    top = max(values[i] for i in candidates)  # type: ignore[type-var]
    tied = [i for i in candidates if values[i] == top]
    open_ = [i for i in tied if not terminal[i]]
    return rng.choice(open_ or tied)


class BranchedEpisodes:
    """Runs step-group episodes for the trainer."""

    def __init__(self, settings: Settings, env: BrowserEnv, policy: PolicyCaller, rollouts: Rollouts,
                 rng: random.Random) -> None:
        self.settings = settings
        self.g = settings.grpo
        self.env = env
        self.policy = policy
        self.rollouts = rollouts
        self.rng = rng

    async def run(self, task: Task, seed: int, iteration: int, group: int) -> EpisodeRecord:
        s, store = self.settings, self.rollouts.store
        async with self.rollouts.episode(task, seed, iteration=iteration) as run:
            record = run.record
            record.group = group
            obs = run.ep.observation
            assert obs is not None
            for t in range(s.env.max_steps):
                ep = run.ep
                last = t == s.env.max_steps - 1
                t0 = time.perf_counter()
                batch = await self.policy.sample(obs, ep.goal, run.history, n=self.g.num_generations,
                                                 temperature=self.g.temperature)
                t1 = time.perf_counter()
                prefix = list(ep.actions)
                branches = await self._run_branches(task, seed, ep, prefix, obs, batch, run.calc, run.info, last,
                                                    record)
                if self.g.step_value == "rollout":
                    await asyncio.gather(*(self._lookahead(b, batch, i, obs, run.history, run.info, t, record)
                                           for i, b in enumerate(branches)))
                chosen = choose_branch([b.value for b in branches], [b.done for b in branches], self.g.step_continue,
                                       self.rng)
                record.best_of_g_success |= any(b.success for b in branches)
                step = StepRecord(
                    index=t, observation=obs, batch=batch, rewards=[b.reward for b in branches],
                    components=[b.components for b in branches], chosen=chosen,
                    successes=[b.success for b in branches], values=[b.value for b in branches],
                    timings={"sample_ms": (t1 - t0) * 1e3, "branches_ms": (time.perf_counter() - t1) * 1e3},
                )
                record.steps.append(step)
                done = chosen is not None and branches[chosen].done
                err = branches[chosen].error if chosen is not None else "no sample could be executed"
                record_step(store, record.episode_id, step, done=done, error=err)  # type: ignore[arg-type]
                run.history.append(history_step(obs, batch, chosen))
                keep = await self._continuing_episode(task, seed, prefix, batch, chosen, branches, ep, record)
                await close_quietly(list({id(e): e for e in [b.episode for b in branches] + [ep]
                                          if e is not None and e is not keep}.values()))
                run.ep = keep
                if chosen is not None:
                    run.calc = branches[chosen].calc
                    obs = keep.observation or obs
                if done or keep.done:
                    break
        return run.record

    async def _run_branches(self, task: Task, seed: int, ep: Episode, prefix: list[Action], obs: Observation,
                            batch: SampleBatch, calc: DenseRewardCalculator, info: TaskInfo, last: bool,
                            record: EpisodeRecord) -> list[Branch]:
        """Executes every sample of a step group in its own episode; the first valid one reuses `ep` itself."""
        first_valid = next((i for i, smp in enumerate(batch.samples) if smp.action is not None), None)
        shot = screenshot_digest(obs.screenshot)

        async def run(i: int) -> Branch:
            sample = batch.samples[i]
            c = copy.deepcopy(calc)
            if sample.action is None:  # never executed: the parse failure is the whole outcome
                r = c.compute_reward(obs, None, obs, info, False, False)
                return Branch(None, c, r, dict(c.last_components), error=sample.parse_error, value=r)
            try:
                branch_ep = ep if i == first_valid else await self.env.restore(
                    task, seed, prefix, expected_key=obs.state_key, expected_screenshot=shot)
            except RestoreMismatch as e:
                record.restore_failures += 1
                return Branch(None, c, None, {}, error=f"restore failed: {e}")
            result = await branch_ep.step(sample.action)
            if faulted(result.outcome.status if result.outcome else None, result.observation):
                return Branch(branch_ep, c, None, {}, done=True, error=result.error or "aborted")
            assert result.observation is not None
            success = bool(result.outcome and result.outcome.success)
            r = c.compute_reward(obs, sample.action, result.observation, info, result.done, success)
            comps = dict(c.last_components)
            done = result.done
            if last and not done:  # the budget ends here: the branch's state is graded now
                outcome = await branch_ep.finish()
                if outcome.status == "aborted":
                    return Branch(branch_ep, c, None, {}, done=True, error=str(outcome.details.get("reason")))
                end = c.settle(replace(info, finish_state=outcome.finish_state), outcome.success)
                r += sum(end.values())
                for k, v in end.items():
                    comps[k] = comps.get(k, 0.0) + v
                success, done = outcome.success, True
            return Branch(branch_ep, c, r, comps, done=done, error=result.error, success=success, value=r,
                          after=result.observation)

        return list(await asyncio.gather(*(run(i) for i in range(len(batch.samples)))))

    async def _lookahead(self, branch: Branch, batch: SampleBatch, index: int, obs: Observation,
                         history: list[HistoryStep], info: TaskInfo, t: int, record: EpisodeRecord) -> None:
        """Continues a branch `lookahead_steps` policy steps (one sample each) and adds their discounted rewards to
        its value. The branch's own calculator is left as the action left it; the continuation uses a copy."""
        if branch.value is None or branch.episode is None or branch.done or branch.after is None:
            return
        ep, calc = branch.episode, copy.deepcopy(branch.calc)
        hist = [*history, history_step(obs, batch, index)]
        cur = branch.after
        value, discount = float(branch.value), 1.0
        budget = min(self.g.lookahead_steps, self.settings.env.max_steps - t - 1)
        for k in range(budget):
            discount *= self.g.gamma
            more = await self.policy.sample(cur, ep.goal, hist, n=1, temperature=self.g.temperature)
            sample = more.samples[0]
            branch.moved_on = True
            branch.lookahead += 1
            record.lookahead_steps += 1
            nxt, done, success = cur, False, False
            if sample.action is not None:
                result = await ep.step(sample.action)
                if faulted(result.outcome.status if result.outcome else None, result.observation):
                    break  # the continuation cannot be scored honestly past here: keep what it had
                assert result.observation is not None
                nxt, done = result.observation, result.done
                success = bool(result.outcome and result.outcome.success)
            r = calc.compute_reward(cur, sample.action, nxt, info, done, success)
            if not done and t + 1 + k == self.settings.env.max_steps - 1:  # the budget ends with this step
                outcome = await ep.finish()
                if outcome.status != "aborted":
                    r += sum(calc.settle(replace(info, finish_state=outcome.finish_state), outcome.success).values())
                done = True
            value += discount * r
            hist.append(history_step(cur, more, 0))
            cur = nxt
            if done:
                break
        branch.value = value

    async def _continuing_episode(self, task: Task, seed: int, prefix: list[Action], batch: SampleBatch,
                                  chosen: int | None, branches: list[Branch], ep: Episode,
                                  record: EpisodeRecord) -> Episode:
        """The page the episode goes on in: the chosen branch's, brought back to the state its action led to when
        the lookahead moved it on."""
        if chosen is None:
            return ep
        branch = branches[chosen]
        assert branch.episode is not None
        if not branch.moved_on or branch.after is None:
            return branch.episode
        action = batch.samples[chosen].action
        assert action is not None
        try:
            return await self.env.restore(task, seed, [*prefix, action], expected_key=branch.after.state_key,
                                          expected_screenshot=screenshot_digest(branch.after.screenshot))
        except RestoreMismatch:
            record.restore_failures += 1
            return branch.episode  # the state moved on: the episode goes on from there rather than stop
