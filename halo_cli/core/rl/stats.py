"""Small statistics: the one mean and standard deviation of groups and metrics, and success rates with honest
error bars."""

from __future__ import annotations

import math
from collections.abc import Sequence


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a success rate (95% for z=1.96).

    Why Wilson and not p +- z*sqrt(p(1-p)/n): eval runs are small (tens of episodes) and rates sit near 0 or 1,
    where the normal approximation collapses to a zero-width interval or leaves [0, 1].
    """
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in 0..{n}, got {successes}")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def mean(values: Sequence[float]) -> float:
    """The arithmetic mean; 0.0 for no values (an empty metric, not an error)."""
    return sum(values) / len(values) if values else 0.0


def std(values: Sequence[float]) -> float:
    """Sample standard deviation (Bessel-corrected, as ``torch.std``, which TRL and verl use for GRPO's groups and
    for the ``reward_std`` they log); 0.0 for fewer than two values."""
    if len(values) < 2:
        return 0.0
    m = mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))
