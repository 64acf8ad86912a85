"""MCTSTrainer: tree searches train the policy (`halo train mcts`).

One iteration = one search (`MCTSExplorer`) on one task instance, then ONE update of the policy:

* every expanded node's samples whose child was reached form a step group, each valued by its child's Q (samples
  that parsed to the same action share it; an unparseable reply is valued 0, no progress); the advantages are
  ``Q - mean(Q)`` per group (Dr.GRPO), divided once by the batch's std as `train grpo` does (``grpo.scale_rewards``)
  and go to the same LoRA learner through `Group.from_batch` with the expansion's own SampleBatch (vLLM's token ids
  and log-probs). This is Tree-GRPO's reading of a search tree (arXiv 2509.21240): siblings under one node are a
  group sampled from one prompt.
* the update, the adapter's content-hash name, the hot reload, the parity probe, checkpoints and resume are
  `OnlineGRPOTrainer`'s, used by composition (`self.grpo`), so the two commands cannot drift apart.

Each search is stored: the tree (`store.trees`, every node with visits, Q, critique, screenshot and the prompt of
its expansion) and its best path as the iteration's episode, with the samples of every node on it (what `halo
replay` and the JSONL export show). Agent Q's DPO pairs are read from the stored trees by the export.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from halo_cli.core.config import Settings
from halo_cli.core.env.browser import BrowserEnv
from halo_cli.core.env.tasks import SiteError, Task
from halo_cli.core.errors import HaloError
from halo_cli.core.policy.vllm_client import VLLMPolicyClient
from halo_cli.core.rl.advantages import denoise, dr_grpo_advantages, scale_by_batch_std
from halo_cli.core.rl.critique import Critic
from halo_cli.core.rl.groups import Group
from halo_cli.core.rl.learner import LoRALearner
from halo_cli.core.rl.mcts import MCTSNode, action_key, best_path, sibling_values, tree_summary
from halo_cli.core.rl.mcts_search import MCTSExplorer, SearchStats
from halo_cli.core.rl.online_grpo import OnlineGRPOTrainer, ResumePoint
from halo_cli.core.rl.progress import DenseRewardCalculator
from halo_cli.core.rl.rollout import StepRecord, record_step
from halo_cli.core.store import RunStore
from halo_cli.core.store.trees import add_tree


@dataclass
class SearchIteration:
    """What one iteration did: the search's tree and counters, and the metrics logged for it."""

    iteration: int
    task: Task
    seed: int
    root: MCTSNode | None
    stats: SearchStats
    metrics: dict[str, float]


def tree_groups(nodes: Sequence[MCTSNode], advantage_eps: float, scale: str
                ) -> list[tuple[MCTSNode, int, list[int], list[float]]]:
    """(node, expansion, sample indices, advantages) for every expansion with two or more valued samples: Dr.GRPO's
    ``Q - mean(Q)`` per expansion (one prompt, one request), then (``scale = "batch"``) one division by the std of
    every Q in the batch, and values below `advantage_eps` set to 0."""
    out, values = [], []
    for node in nodes:
        for b in range(len(node.expansions)):
            pairs = sibling_values(node, b)
            if not pairs:
                continue
            qs = [q for _, q in pairs]
            values.extend(qs)
            out.append((node, b, [i for i, _ in pairs], dr_grpo_advantages(qs)))
    if scale == "batch":
        out = [(n, b, idx, scale_by_batch_std([advs], values, advantage_eps)[0]) for n, b, idx, advs in out]
    return [(n, b, idx, denoise(advs, advantage_eps)) for n, b, idx, advs in out]


class MCTSTrainer:
    """Tree search on live browser tasks, its sibling groups feeding the LoRA learner; see the module docstring."""

    def __init__(self, settings: Settings, *, client: VLLMPolicyClient, learner: LoRALearner, env: BrowserEnv,
                 tasks: Sequence[Task], store: RunStore, run_id: str, run_dir: Path,
                 reward_factory: Callable[[], DenseRewardCalculator] | None = None,
                 on_iteration: Callable[[SearchIteration], None] | None = None,
                 server_alive: Callable[[], bool] | None = None) -> None:
        self.settings = settings
        self.grpo = OnlineGRPOTrainer(settings, client=client, learner=learner, env=env, tasks=tasks, store=store,
                                      run_id=run_id, run_dir=run_dir, reward_factory=reward_factory,
                                      server_alive=server_alive)
        self.reward_factory = reward_factory or (lambda: DenseRewardCalculator(settings))
        self.env, self.store, self.run_id, self.tasks = env, store, run_id, list(tasks)
        self.policy = self.grpo.policy
        self.critic = Critic(client, settings.mcts, constrained=settings.grpo.constrained_sampling)
        self.on_iteration = on_iteration
        self.on_simulation: Callable[[SearchStats], None] | None = None  # progress within a search
        self.grpo.learner.total_updates = settings.grpo.episodes

    @property
    def iteration(self) -> int:
        return self.grpo.state.iteration

    def task_and_seed(self, iteration: int) -> tuple[Task, int]:
        """Tasks in a fixed rotation, seeds from the run seed (or `grpo.task_seed`): a resumed run sees the same."""
        g = self.settings.grpo
        k = iteration - 1
        return self.tasks[k % len(self.tasks)], (g.task_seed if g.task_seed is not None else g.seed * 100_003 + k)

    def resume(self) -> ResumePoint:
        """`OnlineGRPOTrainer.resume`: the trees and episodes of iterations after the restored one leave the store."""
        return self.grpo.resume()

    async def search(self, task: Task, seed: int) -> tuple[MCTSExplorer, str]:
        ep = await self.grpo.rollouts.reset(task, seed)
        try:
            root, goal = ep.observation, ep.goal
        finally:
            await ep.close()
        assert root is not None
        explorer = MCTSExplorer(self.policy, self.env, self.settings.mcts, settings=self.settings, task=task,
                                seed=seed, goal=goal, critic=self.critic, reward_factory=self.reward_factory)
        explorer.on_simulation = self.on_simulation
        await explorer.search(root)
        return explorer, goal

    async def run_iteration(self, iteration: int) -> SearchIteration:
        t0 = time.perf_counter()
        task, seed = self.task_and_seed(iteration)
        episode_id = self.store.add_episode(self.run_id, iteration, task.id, domain=task.site, seed=seed,
                                            policy=self.policy.served_name)
        try:
            explorer, goal = await self.search(task, seed)
        except SiteError as e:
            self.store.finish_episode(episode_id, "aborted", reason=f"site unreachable: {e}", episode_return=0.0,
                                      length=0)
            raise HaloError(f"the search of iteration {iteration} could not start: {e}") from None
        assert explorer.root is not None
        t_search = time.perf_counter() - t0
        scored = tree_groups(explorer.nodes, self.settings.grpo.advantage_eps, self.settings.grpo.scale_rewards)
        advantages = {(n.index, b, i): a for n, b, idx, advs in scored for i, a in zip(idx, advs)}
        path = best_path(explorer.root)
        self._record_path(episode_id, path, advantages)
        self._record_tree(iteration, task, seed, episode_id, explorer, advantages)
        groups = [Group.from_batch(n.expansions[b], advs, idx) for n, b, idx, advs in scored]
        stats, measured = await asyncio.to_thread(self.grpo.update_policy, groups)
        summary = tree_summary(explorer.root)
        st = explorer.stats
        metrics: dict[str, float] = {
            "success_rate": float(path[-1].success), "search_success": float(summary["successes"] > 0),
            "tree_nodes": float(summary["nodes"]), "tree_reached": float(summary["reached"]),
            "tree_depth": float(summary["max_depth"]), "best_q": max((c.q for c in explorer.root.children.values()
                                                                    if c.visits), default=0.0),
            "groups": float(len(groups)), "simulations": float(st.simulations), "env_executions": float(st.executions),
            "env_replayed_actions": float(st.replayed_actions), "restores": float(st.restores),
            "restore_failures": float(st.restore_failures), "invalid_action_rate": st.invalid / max(
                1, st.expansions * self.settings.mcts.expand_k),
            "critique_fallbacks": float(st.critique_fallbacks), "time_search_s": t_search,
            "time_restore_s": st.time_restore_s, "time_sample_s": st.time_sample_s,
            "time_critique_s": st.time_critique_s, **measured,
            "adapter_version": float(self.grpo.state.adapter_version),
        }
        if stats is not None:
            metrics.update({k: float(v) for k, v in asdict(stats).items() if isinstance(v, (int, float))})
        self.store.log_metrics(self.run_id, iteration, metrics)
        self.grpo.state.iteration = iteration
        if iteration % self.settings.grpo.checkpoint_every == 0:
            await asyncio.to_thread(self.grpo.checkpoint)
        result = SearchIteration(iteration, task, seed, explorer.root, st, metrics)
        if self.on_iteration is not None:
            self.on_iteration(result)
        return result

    def _record_path(self, episode_id: int, path: list[MCTSNode],
                     advantages: dict[tuple[int, int, int], float]) -> None:
        """The best path as the iteration's episode: at each node, every sample of the expansion that proposed the
        path's action, valued by its child's Q (None: never tried), the one the path took marked chosen."""
        for t, child in enumerate(path[1:]):
            node = child.parent
            assert node is not None and node.observation is not None
            batch = node.expansions[child.batch]
            kids = [node.children.get(action_key(s.action)) if s.action is not None else None for s in batch.samples]
            step = StepRecord(index=t, observation=node.observation, batch=batch,
                              rewards=[k.q if k is not None and k.visits else None for k in kids],
                              components=[k.reward_components if k is not None else {} for k in kids],
                              chosen=child.sample_indices[0], successes=[bool(k and k.success) for k in kids])
            step_id = record_step(self.store, episode_id, step, done=child is path[-1] and child.terminal,
                                  error=child.error)
            self.store.set_step_reward(step_id, child.reward, child.reward_components)
            self.store.score_samples(step_id, advantages=[advantages.get((node.index, child.batch, i))
                                                          for i in range(len(kids))])
        last = path[-1]
        self.store.finish_episode(
            episode_id, "finished", episode_return=sum(n.reward or 0.0 for n in path[1:]), success=last.success,
            length=len(path) - 1, details={"reason": "best path of the search", "success": last.success,
                                           "q": last.q, "visits": last.visits})

    def _record_tree(self, iteration: int, task: Task, seed: int, episode_id: int, explorer: MCTSExplorer,
                     advantages: dict[tuple[int, int, int], float]) -> None:
        rows, shots, prompts = [], {}, {}
        for n in explorer.nodes:
            parent = n.parent
            sample = parent.expansions[n.batch].samples[n.sample_indices[0]] if parent is not None else None
            rows.append({
                "node_index": n.index, "parent_index": parent.index if parent is not None else None,
                "depth": n.depth, "action": n.action.to_dict() if n.action is not None else None,
                "sample_indices": {"batch": n.batch, "samples": n.sample_indices} if parent is not None else None, "text": sample.text if sample is not None else None,
                "url": n.observation.url if n.observation is not None else None, "state_key": n.state_hash,
                "visits": n.visits, "q": n.q if n.visits else None, "value": n.value, "reward": n.reward,
                "reward_components": n.reward_components or None,
                "critique_text": n.critique.text if n.critique else None,
                "critique_score": n.critique.score if n.critique else None,
                "critique_how": n.critique.how if n.critique else None,
                "terminal": n.terminal, "success": n.success, "executions": n.executions, "invalid": n.invalid,
                "error": n.error,
                "advantage": advantages.get((parent.index, n.batch, n.sample_indices[0])) if parent else None,
            })
            if n.observation is not None:
                shots[n.index] = n.observation.screenshot
            if n.expansion is not None:
                prompts[n.index] = n.expansion.messages
        stats: dict[str, Any] = {**asdict(explorer.stats), "env_actions": explorer.stats.env_actions,
                                 "goal": explorer.goal}
        add_tree(self.store, self.run_id, iteration, task_id=task.id, seed=seed, episode_id=episode_id,
                 stats=stats, nodes=rows, screenshots=shots, prompts=prompts)

    async def atrain(self, episodes: int | None = None) -> list[SearchIteration]:
        """One search and one update per iteration until `episodes` searches (default `grpo.episodes`), resuming
        after the last completed iteration."""
        total = episodes or self.settings.grpo.episodes
        self.grpo.learner.total_updates = total
        out = []
        for iteration in range(self.iteration + 1, total + 1):
            out.append(await self.run_iteration(iteration))
        if self.iteration % self.settings.grpo.checkpoint_every != 0:
            await asyncio.to_thread(self.grpo.checkpoint)
        return out
