"""DenseRewardCalculator: the per-episode dense reward, the sum of its generic terms, milestones and success bonus.

REAL sites pay 1 only when the final state passes the grader, so a policy that has not yet succeeded gets no
gradient at all. The calculator adds a small signal on every step:

* ``valid_action``   +0.1 when the reply parsed into an action, ``-invalid_action_penalty`` when it did not, so a
  sibling that keeps the tool format always beats one that breaks it.
* ``novelty``        +0.2 when a parsed action leads to a screen not seen before in the episode (the structure key:
  URL + the roles and names of the AX tree, without field values or the wording of text nodes, so that typing
  another text or a page that rewords a line is not "new").
* ``loop``           -1.0 when the same action is taken again in the same state and the state does not change.
* ``milestone:<name>`` the weight of each domain milestone, paid at most once per episode.
* ``success``        the success bonus, once, when the episode ends in success.

Two rules keep milestones honest: what the episode's first observation already shows is never paid (the agent did
not reach it), and a milestone with a ``goal`` regex is paid only on tasks whose goal matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from halo_cli.core.actions import Action
from halo_cli.core.config import RewardSettings, Settings
from halo_cli.core.env.axtree import state_key, structure_key
from halo_cli.core.rl.progress.milestones import (
    MilestoneTable,
    ObservationLike,
    detect,
    detect_finish,
    milestone_applies,
    presatisfied,
)
from halo_cli.core.rl.progress.tables import build_tables
from halo_cli.core.rl.progress.terms import (
    action_fingerprint,
    is_loop,
    loop_term,
    novelty_term,
    sum_components,
    valid_action_term,
)

if TYPE_CHECKING:
    from halo_cli.core.env.tasks import Task


@dataclass(frozen=True)
class TaskInfo:
    """What the reward reads about the task: its site picks the milestone table, its goal gates milestones, and the
    ``/finish`` state (once an episode has read it) lets ``finish`` conditions fire."""

    site: str | None = None
    goal: str | None = None
    task_id: str = ""
    source: str = ""
    finish_state: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, task: "Task", goal: str | None = None) -> "TaskInfo":
        return cls(site=task.site, goal=goal if goal is not None else task.goal, task_id=task.id, source=task.source)

    @property
    def domain(self) -> str | None:
        return self.site.strip().lower() if self.site and self.site.strip() else None


class DenseRewardCalculator:
    """Per-episode dense reward; ``reset()`` at the start of every episode, ``compute_reward`` after every step.

    After each call ``last_components`` holds the terms of the returned reward (they sum to it),
    ``last_milestones`` the milestones paid on that step, and ``reached`` every milestone paid this episode.
    """

    GENERIC_COMPONENTS = ("valid_action", "novelty", "loop", "success")

    def __init__(self, settings: RewardSettings | Settings | None = None, *,
                 tables: Mapping[str, MilestoneTable] | None = None) -> None:
        if isinstance(settings, Settings):
            settings = settings.reward
        self.settings: RewardSettings = settings if settings is not None else RewardSettings()
        self.tables: dict[str, MilestoneTable] = (
            dict(tables) if tables is not None else build_tables(self.settings)
        )
        self.last_components: dict[str, float] = {}
        self.last_milestones: list[str] = []
        self.reset()

    def reset(self) -> None:
        """Forgets the episode: seen states, taken actions, paid milestones, the success bonus."""
        self._seen: set[str] = set()
        self._taken: set[tuple[str, str]] = set()
        self._paid: list[str] = []
        self._presatisfied: set[str] = set()
        self._primed = False
        self._success_paid = False
        self.episode_reward = 0.0
        self.last_components = {}
        self.last_milestones = []

    @property
    def reached(self) -> tuple[str, ...]:
        """Milestones paid this episode, in the order they were reached."""
        return tuple(self._paid)

    def compute_reward(self, obs: ObservationLike, action: Action | None, next_obs: ObservationLike,
                       task_info: TaskInfo, done: bool, success: bool) -> float:
        """The dense reward of the step ``obs --action--> next_obs``; ``action`` is None when the reply did not parse.

        See the module docstring for the terms.
        """
        s = self.settings
        key = state_key(obs.url, obs.axtree)
        next_key = state_key(next_obs.url, next_obs.axtree)
        next_screen = structure_key(next_obs.url, next_obs.axtree)
        table = self.tables.get(task_info.domain or "") if s.milestones else None
        if not self._primed:
            self._primed = True
            self._seen.add(structure_key(obs.url, obs.axtree))
            if table is not None:
                self._presatisfied = presatisfied(table, obs)

        valid = action is not None
        fingerprint = action_fingerprint(action)
        looped = is_loop(key, next_key, fingerprint, self._taken)
        comps: dict[str, float] = {
            "valid_action": valid_action_term(valid, s.valid_action, s.invalid_action_penalty),
            "novelty": novelty_term(next_screen, self._seen, s.novelty, valid),
            "loop": loop_term(looped, s.loop_penalty),
            "success": 0.0,
        }
        self._seen.add(next_screen)
        if fingerprint is not None:
            self._taken.add((key, fingerprint))

        fired: list[str] = []
        if table is not None:
            for m in table.milestones:
                if m.name in self._paid or m.name in self._presatisfied or not milestone_applies(m, task_info.goal):
                    continue
                if detect(m, obs, action, next_obs, task_info.finish_state):
                    fired.append(m.name)
                    comps[f"milestone:{m.name}"] = m.weight
        self._paid.extend(fired)

        if done and success and not self._success_paid:
            self._success_paid = True
            comps["success"] = s.success_bonus

        reward = sum_components(comps)
        self.last_components = comps
        self.last_milestones = fired
        self.episode_reward += reward
        return reward

    def settle(self, task_info: TaskInfo, success: bool) -> dict[str, float]:
        """What the episode's end earns that no step paid: the success bonus when the task was found done at the
        step budget's end (only a `terminate`/`answer` step pays it during the episode), and the milestones only
        the final `/finish` state shows (``task_info.finish_state``). Returns those components (empty when none);
        the caller adds them to the last step's reward.
        """
        comps: dict[str, float] = {}
        table = self.tables.get(task_info.domain or "") if self.settings.milestones else None
        if table is not None and task_info.finish_state is not None:
            for m in table.milestones:
                if m.name in self._paid or m.name in self._presatisfied or not milestone_applies(m, task_info.goal):
                    continue
                if any(detect_finish(c, task_info.finish_state) for c in m.any_of):
                    self._paid.append(m.name)
                    comps[f"milestone:{m.name}"] = m.weight
        if success and not self._success_paid:
            self._success_paid = True
            comps["success"] = self.settings.success_bonus
        self.episode_reward += sum_components(comps)
        return comps
