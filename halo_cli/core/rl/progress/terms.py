"""The generic terms of the dense reward, as short pure functions: a valid action, a new state, a loop.

Every domain gets these; the per-domain milestones come on top (`milestones.py`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from halo_cli.core.actions import Action


def action_fingerprint(action: Action | None) -> str | None:
    """A canonical string of what the action does: two actions are "the same" for the loop check when these match.

    Only the call itself counts (its ``arguments``): the model writes a fresh ``Action: ...`` description with every
    sample, and a repeated click must not escape the loop penalty by being described differently. None (the reply
    did not parse) has no fingerprint.
    """
    if action is None:
        return None
    return json.dumps(action.arguments(), sort_keys=True, default=str, separators=(",", ":"))


def valid_action_term(valid: bool, bonus: float, penalty: float) -> float:
    return bonus if valid else -penalty


def novelty_term(next_key: str, seen: Iterable[str], weight: float, valid: bool = True) -> float:
    """Pays only for a state the agent's own (parsed) action led to, so a page that finishes loading by
    itself after an unparsable reply earns nothing."""
    return weight if valid and next_key not in seen else 0.0


def is_loop(key: str, next_key: str, fingerprint: str | None, taken: Iterable[tuple[str, str]]) -> bool:
    """The same action again in the same state, and it changed nothing: the agent is repeating itself.

    The first no-op is not punished (a click can miss once); its repetition is.
    """
    return fingerprint is not None and key == next_key and (key, fingerprint) in taken


def loop_term(looped: bool, penalty: float) -> float:
    return -penalty if looped else 0.0


def sum_components(components: Mapping[str, float]) -> float:
    """The reward is exactly the sum of its components, in insertion order, so the store can re-add them."""
    total = 0.0
    for v in components.values():
        total += v
    return total
