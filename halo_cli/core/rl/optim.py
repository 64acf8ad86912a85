"""How the learner walks an iteration's rollout: the learning-rate schedule and the shuffled mini-batches.

Pure functions, so that the schedule and the batching can be checked by hand: both are part of what a resumed run
must reproduce exactly (the update counter and the shuffling stream are saved with the learner's state).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def lr_factor(update: int, warmup: int, total: int | None, schedule: str) -> float:
    """The multiplier of the base learning rate for update ``update`` (1-based).

    Linear warm-up over the first ``warmup`` updates (update k of them gets k / (warmup + 1), so the first is never
    0), then ``constant``, or a ``cosine``/``linear`` decay to 0 at update ``total`` (the run's last). Without a known
    total the decay cannot be placed and the rate stays constant.
    """
    if update < 1:
        raise ValueError(f"updates count from 1, got {update}")
    if update <= warmup:
        return update / (warmup + 1)
    if schedule == "constant" or not total or total <= warmup:
        return 1.0
    progress = min(1.0, (update - warmup) / (total - warmup))
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule == "linear":
        return 1.0 - progress
    raise ValueError(f"unknown lr schedule {schedule!r} (constant, cosine or linear)")


def minibatches(items: Sequence[T], size: int | None, rng: random.Random) -> list[list[T]]:
    """The items in a shuffled order, cut into chunks of ``size`` (the last may be smaller); None: one chunk.

    Shuffled so that a mini-batch mixes groups and tasks rather than following collection order.
    """
    order = list(items)
    rng.shuffle(order)
    if size is None or size >= len(order):
        return [order] if order else []
    return [order[i : i + size] for i in range(0, len(order), size)]
