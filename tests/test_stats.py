"""Reporting statistics against hand-computed values."""

from __future__ import annotations

import math

import pytest

from halo_cli.core.rl.stats import mean, std, wilson_interval


def test_wilson_known_values() -> None:
    # 8/10 at z=1.96: centre = (0.8 + 0.19208)/1.38416 = 0.71676; half = 1.96*sqrt(0.016+0.009604)/1.38416 = 0.22657
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.49016, abs=1e-4)
    assert hi == pytest.approx(0.94334, abs=1e-4)
    # 0/10 keeps a non-zero upper bound: z^2/(n+z^2) = 3.8416/13.8416
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(3.8416 / 13.8416, abs=1e-6)
    lo, hi = wilson_interval(10, 10)
    assert hi == 1.0 and lo == pytest.approx(1 - 3.8416 / 13.8416, abs=1e-6)


def test_wilson_edges() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_mean_and_sample_std() -> None:
    assert mean([]) == 0.0 and std([]) == 0.0 and std([3.0]) == 0.0
    assert mean([1.0, 2.0, 3.0, 4.0]) == 2.5
    # sum of squared deviations 5.0 over n - 1 = 3 (Bessel), as torch.std
    assert std([1.0, 2.0, 3.0, 4.0]) == pytest.approx(math.sqrt(5.0 / 3.0))
