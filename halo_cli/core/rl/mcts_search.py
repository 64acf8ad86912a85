"""MCTSExplorer: Agent-Q-style Monte Carlo tree search over one task instance in the real browser.

A simulation walks down the tree by UCB1 (`mcts.ucb1_select`) to a node whose chosen child was never tried, and
tries it: the parent's page is rebuilt by `BrowserEnv.restore` (a seeded reset plus a replay of the action prefix,
checked against the parent's state key and screenshot digest, since a page cannot be forked), the child's action
is executed once, the new page is valued (`estimate_value`: self-critique blended with the dense reward and the
task's own verdict) and the value is backed up the path. A node is expanded the first time a simulation stands on
it: K actions from ONE `sample(n=K)` request, de-duplicated by their parsed form, the unparseable ones dropped and
counted. A child whose page is an ancestor's (a click that changed nothing) is a leaf, as is one where the episode
ended; a node whose tried children are all such dead ends is expanded again with K more proposals, or a policy that
missed the one useful target K times at the root would leave the search nothing to do. Nothing else executes an
action, so each action runs exactly once per visit that first reaches its node
(`MCTSNode.executions`, which the tests assert is 0 or 1; Agent Q's released code executes some actions twice);
the replays of restores are counted apart (`SearchStats.replayed_actions`).

A search ends after `mcts.num_simulations` simulations or `mcts.time_budget_s`, whichever comes first, and returns
the best path (`mcts.best_path`) as (observation, action) pairs.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from halo_cli.core.actions import Action
from halo_cli.core.config import MCTSSettings, Settings
from halo_cli.core.env.browser import BrowserEnv, RestoreMismatch, screenshot_digest
from halo_cli.core.env.episode import Observation
from halo_cli.core.env.tasks import SiteError, Task
from halo_cli.core.policy.prompts import HistoryStep, history_line
from halo_cli.core.rl.critique import Critic, Critique
from halo_cli.core.rl.mcts import (
    MCTSNode,
    action_key,
    backpropagate,
    best_path,
    blend_value,
    ucb1_select,
)
from halo_cli.core.rl.progress import DenseRewardCalculator, TaskInfo
from halo_cli.core.rl.rollout import PolicyCaller, history_step

if TYPE_CHECKING:
    from halo_cli.core.env.episode import Episode


@dataclass
class SearchStats:
    """What one search did and where its time went (bench/mcts.py prints the shares)."""

    simulations: int = 0
    expansions: int = 0
    executions: int = 0  # actions executed to reach a new node: one per node reached
    restores: int = 0
    replayed_actions: int = 0  # actions re-executed by restores (the cost of not being able to fork a page)
    restore_failures: int = 0
    invalid: int = 0  # sampled replies that did not parse (dropped from the tree)
    duplicates: int = 0  # sampled replies that parsed to an action a sibling already proposed
    critiques: int = 0
    critique_fallbacks: int = 0  # critique replies with no readable score
    time_restore_s: float = 0.0
    time_sample_s: float = 0.0
    time_step_s: float = 0.0
    time_critique_s: float = 0.0
    time_total_s: float = 0.0
    stopped: str = "simulations"  # or "time budget", "action budget"

    @property
    def env_actions(self) -> int:
        """Every action the browser ran for this search: the new ones and the replayed ones."""
        return self.executions + self.replayed_actions


class MCTSExplorer:
    """Tree search over one task instance (`task`, `seed`) from its first page; see the module docstring.

    `policy_client` proposes actions (`PolicyCaller.sample`, under the adapter being trained); `critic` judges
    pages with the same model (None: no critique, the dense reward alone values non-terminal nodes).
    """

    def __init__(self, policy_client: PolicyCaller, env: BrowserEnv, config: MCTSSettings, *, settings: Settings,
                 task: Task, seed: int, goal: str, critic: Critic | None = None,
                 reward_factory: Callable[[], DenseRewardCalculator] | None = None) -> None:
        self.policy = policy_client
        self.env = env
        self.config = config
        self.settings = settings
        self.task = task
        self.seed = seed
        self.goal = goal
        self.critic = critic
        self.reward_factory = reward_factory or (lambda: DenseRewardCalculator(settings))
        self.info = TaskInfo.of(task, goal)
        self.nodes: list[MCTSNode] = []
        self.root: MCTSNode | None = None
        self.stats = SearchStats()
        self.on_simulation: Callable[[SearchStats], None] | None = None  # progress: called after each simulation

    # ------------------------------------------------------------------------------------------ search

    async def search(self, root_observation: Observation, *, action_budget: int | None = None
                     ) -> list[tuple[Observation, Action]]:
        """Runs the simulations from the page `root_observation` shows; returns the best path's (page, action).

        `action_budget` also ends the search once the browser has run that many actions (new and replayed): what a
        comparison with plain rollouts at the same cost needs."""
        t0 = time.perf_counter()
        calc = self.reward_factory()
        calc.reset()
        self.root = MCTSNode(index=0, depth=0, observation=root_observation,
                             screenshot_digest=screenshot_digest(root_observation.screenshot), calc=calc)
        self.nodes = [self.root]
        budget = self.config.time_budget_s
        for _ in range(self.config.num_simulations):
            if budget is not None and time.perf_counter() - t0 >= budget:
                self.stats.stopped = "time budget"
                break
            if action_budget is not None and self.stats.env_actions >= action_budget:
                self.stats.stopped = "action budget"
                break
            await self.simulate()
            if self.on_simulation is not None:
                self.on_simulation(self.stats)
        self.stats.time_total_s = time.perf_counter() - t0
        return [(n.parent.observation, n.action) for n in best_path(self.root)[1:]  # type: ignore[misc]
                if n.parent is not None and n.parent.observation is not None and n.action is not None]

    async def simulate(self) -> None:
        """One simulation: select, expand, execute one new action, value it, back the value up."""
        assert self.root is not None
        self.stats.simulations += 1
        node, path = self.root, [self.root]
        while True:
            if node.leaf or node.depth >= self.config.max_depth:
                value = node.value if node.value is not None else node.q
                break
            if not node.children or node.dead_end:
                await self.expand(node)
            if not node.children:  # every sample was unparseable: this visit learns nothing new here
                value = node.value if node.value is not None else 0.0
                break
            child = ucb1_select(node, self.config.ucb_c)
            path.append(child)
            if child.observation is None and child.error is None:
                value = await self.visit(child)
                break
            node = child
        backpropagate(path, value)

    def ucb1_select(self, node: MCTSNode) -> MCTSNode:
        return ucb1_select(node, self.config.ucb_c)

    def history(self, node: MCTSNode) -> list[HistoryStep]:
        """The prompt's history at `node`: each step on its path with the reply that proposed it."""
        out = []
        for child in node.path[1:]:
            parent = child.parent
            assert parent is not None and parent.observation is not None
            out.append(history_step(parent.observation, parent.expansions[child.batch], child.sample_indices[0]))
        return out

    async def expand(self, node: MCTSNode) -> None:
        """K proposals from one request; children keyed by the parsed action, unparseable replies counted. A node
        expanded again (a dead end) keeps its children and adds the new actions among the K."""
        assert node.observation is not None
        t0 = time.perf_counter()
        batch = await self.policy.sample(node.observation, self.goal, self.history(node), n=self.config.expand_k,
                                         temperature=self.config.temperature)
        self.stats.time_sample_s += time.perf_counter() - t0
        self.stats.expansions += 1
        b = len(node.expansions)
        node.expansions.append(batch)
        node.expanded = True
        for i, sample in enumerate(batch.samples):
            if sample.action is None:
                node.invalid += 1
                self.stats.invalid += 1
                continue
            key = action_key(sample.action)
            if key in node.children:
                if node.children[key].batch == b:
                    node.children[key].sample_indices.append(i)
                self.stats.duplicates += 1
                continue
            child = MCTSNode(index=len(self.nodes), depth=node.depth + 1, parent=node, action=sample.action,
                             batch=b, sample_indices=[i])
            self.nodes.append(child)
            node.children[key] = child

    async def _restore(self, node: MCTSNode) -> "Episode":
        t0 = time.perf_counter()
        try:
            return await self.env.restore(self.task, self.seed, node.actions, expected_key=node.state_hash,
                                          expected_screenshot=node.screenshot_digest)
        finally:
            self.stats.restores += 1
            self.stats.replayed_actions += len(node.actions)
            self.stats.time_restore_s += time.perf_counter() - t0

    async def visit(self, child: MCTSNode) -> float:
        """Reaches `child` for the first time: its parent's page restored, its action executed once, valued."""
        parent = child.parent
        assert parent is not None and parent.calc is not None and parent.observation is not None
        assert child.action is not None
        try:
            ep = await self._restore(parent)
        except (RestoreMismatch, SiteError) as e:
            self.stats.restore_failures += isinstance(e, RestoreMismatch)
            return self._failed(child, f"restore failed: {e}")
        try:
            t0 = time.perf_counter()
            result = await ep.step(child.action)
            child.executions += 1
            self.stats.executions += 1
            self.stats.time_step_s += time.perf_counter() - t0
            status = result.outcome.status if result.outcome is not None else None
            if result.observation is None or status == "aborted":
                return self._failed(child, result.error or "aborted")
            calc = copy.deepcopy(parent.calc)
            success = bool(result.outcome and result.outcome.success)
            reward = calc.compute_reward(parent.observation, child.action, result.observation, self.info,
                                         result.done, success)
            components = dict(calc.last_components)
            done = result.done
            if not done and child.depth >= self.config.max_depth:  # the step budget ends here: graded now
                outcome = await ep.finish()
                if outcome.status == "aborted":
                    return self._failed(child, str(outcome.details.get("reason")))
                end = calc.settle(replace(self.info, finish_state=outcome.finish_state), outcome.success)
                reward += sum(end.values())
                for k, v in end.items():
                    components[k] = components.get(k, 0.0) + v
                success, done = outcome.success, True
        finally:
            await ep.close()
        child.observation = result.observation
        child.screenshot_digest = screenshot_digest(result.observation.screenshot)
        child.calc, child.reward, child.reward_components = calc, reward, components
        child.terminal, child.success = done, success
        key = result.observation.state_key
        child.same_as = next((n.index for n in parent.path if n.state_hash == key), None)
        child.value, child.critique = await self.estimate_value(
            result.observation, reward=reward, success=success, terminal=done, history=self.history(child))
        return child.value

    def _failed(self, child: MCTSNode, error: str) -> float:
        """A node the browser could not honestly reach: never tried again, valued 0, left out of training."""
        child.error, child.terminal, child.value = error, True, 0.0
        return 0.0

    async def estimate_value(self, observation: Observation, *, reward: float = 0.0, success: bool = False,
                             terminal: bool = False, history: list[HistoryStep] | None = None
                             ) -> tuple[float, Critique | None]:
        """A page's value in [0, 1] (`mcts.blend_value`): the task's verdict when the episode ended there, else the
        self-critique weighted by `alpha` and the dense reward of the action that led there by `1 - alpha`."""
        critique = None
        if not terminal and self.critic is not None and self.config.alpha > 0:
            t0 = time.perf_counter()
            previous = [history_line(i + 1, s) for i, s in enumerate(history or [])]
            critique = await self.critic.judge(observation, self.goal, previous, model=self.policy.model)
            self.stats.time_critique_s += time.perf_counter() - t0
            self.stats.critiques += 1
            self.stats.critique_fallbacks += critique.how == "fallback"
        score = critique.score if critique is not None else self.config.critique_fallback
        alpha = self.config.alpha if critique is not None else 0.0
        value = blend_value(score, reward, success=success, terminal=terminal, alpha=alpha,
                            reward_scale=self.config.reward_scale)
        return value, critique
