"""The search tree of Agent-Q-style MCTS and its math: UCB1 selection, backpropagation, value blending, best path.

Agent Q (Putta et al. 2024, arXiv 2408.07199, §4) runs Monte Carlo tree search over web pages: a node is a page
state, an edge an action the policy proposed there. Each simulation selects down the tree by UCB1, expands a leaf
with K proposed actions, executes one, values the new state, and backs the value up the path. The explorer that
does that against the browser is `mcts_search.MCTSExplorer`; this module holds what needs no browser, as short pure
functions with unit tests (tests/test_mcts.py).

* UCB1 (Auer, Cesa-Bianchi and Fischer 2002, eq. in §2; Agent Q eq. 3):
  ``UCB(s, a) = Q(s, a) + C * sqrt(ln N(s) / n(s, a))``; a child never visited is selected first, and a visited
  leaf (an ending, or a page seen higher up the path) is passed over while a sibling is open.
* Backpropagation (Agent Q eq. 4): every node on the path gets ``n += 1`` and ``Q <- (Q * n + v) / (n + 1)``,
  kept as a running sum so ``Q = W / n``.
* Value of a new node (Agent Q §4.2 blends the MCTS value with AI feedback by a weight alpha): a success is 1, a
  failed ending 0, else ``alpha * critique + (1 - alpha) * (0.5 + 0.5 * tanh(r / scale))`` with ``r`` the dense
  reward of the action that led there.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from halo_cli.core.actions import Action
    from halo_cli.core.env.episode import Observation
    from halo_cli.core.policy.vllm_client import SampleBatch
    from halo_cli.core.rl.critique import Critique
    from halo_cli.core.rl.progress import DenseRewardCalculator


def action_key(action: "Action") -> str:
    """The parsed form of an action as a canonical string: two replies that parse to the same action are one child."""
    return json.dumps(action.to_dict(), sort_keys=True, separators=(",", ":"))


@dataclass(eq=False)
class MCTSNode:
    """One page state of the search tree, reached from its parent by `action`.

    `observation` is None until the action has been executed (a child proposed by an expansion but never tried).
    `batch` is the parent's expansion (`parent.expansions[batch]`) that first proposed `action`, and `sample_indices`
    the samples of that batch that parsed to it (the first is the reply the prompt history shows).
    `visits` and `value_sum` are the backed-up statistics: ``Q = value_sum / visits``. `value` is the node's own
    estimate when it was first reached (`blend_value`), `reward` the dense reward of the edge into it.
    """

    index: int
    depth: int
    parent: "MCTSNode | None" = None
    action: "Action | None" = None
    batch: int = 0
    sample_indices: list[int] = field(default_factory=list)
    observation: "Observation | None" = None
    screenshot_digest: str | None = None
    children: dict[str, "MCTSNode"] = field(default_factory=dict)
    visits: int = 0
    value_sum: float = 0.0
    value: float | None = None
    reward: float | None = None
    reward_components: dict[str, float] = field(default_factory=dict)
    critique: "Critique | None" = None
    terminal: bool = False
    success: bool = False
    expanded: bool = False
    same_as: int | None = None  # the ancestor whose page this node's page is (the action changed nothing there)
    # The requests whose samples proposed the children: one, and one more each time every child tried was a dead end.
    expansions: list["SampleBatch"] = field(default_factory=list)
    invalid: int = 0  # samples of the expansions that did not parse
    executions: int = 0  # times the edge's action was executed as a visit (must stay 0 or 1)
    error: str | None = None
    calc: "DenseRewardCalculator | None" = field(default=None, repr=False)  # the reward's memory along the path

    @property
    def state_hash(self) -> str | None:
        """The state key (URL + AX-tree digest) of the page this node stands for; None before it was reached."""
        return self.observation.state_key if self.observation is not None else None

    @property
    def leaf(self) -> bool:
        """Never expanded: the episode ended here, or the page is an ancestor's (expanding it would grow a copy of
        the ancestor's subtree, the transposition a click beside every target makes)."""
        return self.terminal or self.same_as is not None

    @property
    def expansion(self) -> "SampleBatch | None":
        """The first expansion: its prompt is the node's (every expansion of a node sends the same one)."""
        return self.expansions[0] if self.expansions else None

    @property
    def dead_end(self) -> bool:
        """Expanded, and every child was tried and is a leaf without success: nothing below it is left to explore,
        so it is expanded again (K more proposals) rather than revisited forever."""
        return bool(self.children) and all(c.observation is not None and c.leaf and not c.success or c.error
                                           for c in self.children.values())

    @property
    def q(self) -> float:
        return self.value_sum / self.visits if self.visits else 0.0

    @property
    def path(self) -> list["MCTSNode"]:
        """Root first, this node last."""
        out: list[MCTSNode] = []
        node: MCTSNode | None = self
        while node is not None:
            out.append(node)
            node = node.parent
        return out[::-1]

    @property
    def actions(self) -> list["Action"]:
        """The action prefix that rebuilds this state from a reset (`BrowserEnv.restore`)."""
        return [n.action for n in self.path[1:] if n.action is not None]

    def walk(self) -> list["MCTSNode"]:
        """This node and every descendant, depth first in child order."""
        out = [self]
        for child in self.children.values():
            out.extend(child.walk())
        return out


def ucb1(q: float, visits: int, parent_visits: int, c: float) -> float:
    """``Q + C * sqrt(ln N / n)`` (Auer et al. 2002); infinite for an unvisited child, so it is tried first."""
    if visits == 0:
        return math.inf
    return q + c * math.sqrt(math.log(max(parent_visits, 1)) / visits)


def ucb1_select(node: MCTSNode, c: float) -> MCTSNode:
    """The child UCB1 picks: the first unvisited child in proposal order, else the highest score, ties to the
    earlier-proposed child (deterministic, so a test can say which).

    A leaf already visited (the episode ended there, or its page is an ancestor's) is passed over while another
    child is open: its value is exact in a deterministic page, so visiting it again would spend a simulation on
    nothing new (MCTS-Solver's proven nodes, Winands et al. 2008). When every child is such a leaf, all compete."""
    if not node.children:
        raise ValueError(f"node {node.index} has no children to select from")
    children = list(node.children.values())
    pool = [ch for ch in children if not (ch.visits and ch.leaf)] or children
    best, best_score = None, -math.inf
    for child in pool:
        score = ucb1(child.q, child.visits, node.visits, c)
        if score > best_score:
            best, best_score = child, score
    assert best is not None
    return best


def backpropagate(path: Sequence[MCTSNode], value: float) -> None:
    """Agent Q eq. 4: each node on the path counts one more visit and `value` joins its running mean."""
    for node in path:
        node.visits += 1
        node.value_sum += value


def dense_to_unit(reward: float, scale: float) -> float:
    """A dense reward in [0, 1]: ``0.5 + 0.5 tanh(r / scale)``; 0 reward is 0.5, a loop penalty near 0."""
    return 0.5 + 0.5 * math.tanh(reward / scale)


def blend_value(critique: float, reward: float, *, success: bool, terminal: bool, alpha: float,
                reward_scale: float) -> float:
    """A new node's value in [0, 1]: a success is 1 and any other ending 0 (the task's own judge outranks every
    estimate); else ``alpha * critique + (1 - alpha) * dense_to_unit(reward)``."""
    if success:
        return 1.0
    if terminal:
        return 0.0
    return alpha * min(1.0, max(0.0, critique)) + (1 - alpha) * dense_to_unit(reward, reward_scale)


def best_path(root: MCTSNode) -> list[MCTSNode]:
    """The path the search recommends, root first.

    A success found anywhere in the tree wins (the task's judge saw it; the shallowest, then the highest Q). Else
    the robust child at every level: the most visited, ties to the higher Q, then to the earlier proposal,
    down to a node with no visited child.
    """
    successes = [n for n in root.walk() if n.success]
    if successes:
        return min(successes, key=lambda n: (n.depth, -n.q, n.index)).path
    path, node = [root], root
    while True:
        visited = [c for c in node.children.values() if c.visits > 0]
        if not visited:
            return path
        node = max(visited, key=lambda c: (c.visits, c.q, -c.index))
        path.append(node)


def sibling_values(node: MCTSNode, batch: int = 0, *, invalid_value: float = 0.0) -> list[tuple[int, float]]:
    """(sample index, value) for every sample of the node's expansion `batch` whose action's child was reached
    without error: samples that parsed to the same action share its child's Q; one that did not parse gets
    `invalid_value` (it makes no progress). What a step group of the learner trains on; children never visited
    have no Q and are left out, and so is a batch with fewer than two values."""
    if batch >= len(node.expansions):
        return []
    out: list[tuple[int, float]] = []
    reached = 0
    for i, sample in enumerate(node.expansions[batch].samples):
        if sample.action is None:
            out.append((i, invalid_value))
            continue
        child = node.children.get(action_key(sample.action))
        if child is not None and child.visits > 0 and child.error is None:
            out.append((i, child.q))
            reached += 1
    return out if len(out) >= 2 and reached else []


def tree_summary(root: MCTSNode) -> dict[str, Any]:
    """Counts a run's metrics and `halo runs show` report about one tree."""
    nodes = root.walk()
    reached = [n for n in nodes if n.observation is not None]
    return {
        "nodes": len(nodes), "reached": len(reached), "max_depth": max(n.depth for n in reached),
        "successes": sum(n.success for n in nodes), "executions": sum(n.executions for n in nodes),
        "invalid": sum(n.invalid for n in nodes), "root_visits": root.visits,
    }
