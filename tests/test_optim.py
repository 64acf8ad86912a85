"""The learner's schedule, its mini-batches and the sampling distribution it scores, against hand-computed values."""

from __future__ import annotations

import math
import random

import pytest
import torch

from halo_cli.core.rl.logprobs import sampling_logprobs, sampling_transform
from halo_cli.core.rl.optim import lr_factor, minibatches


def test_warmup_then_constant() -> None:
    assert [lr_factor(k, 3, 10, "constant") for k in range(1, 7)] == pytest.approx([0.25, 0.5, 0.75, 1, 1, 1])
    assert lr_factor(1, 0, None, "constant") == 1.0


def test_cosine_and_linear_decay_to_zero_at_the_last_update() -> None:
    # warm-up 2, total 12: decay over updates 3..12
    assert lr_factor(2, 2, 12, "cosine") == pytest.approx(2 / 3)
    assert lr_factor(7, 2, 12, "cosine") == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_factor(12, 2, 12, "cosine") == pytest.approx(0.0)
    assert lr_factor(7, 2, 12, "linear") == pytest.approx(0.5)
    assert lr_factor(7, 2, None, "cosine") == 1.0  # no known end: no decay
    with pytest.raises(ValueError):
        lr_factor(0, 2, 12, "cosine")


def test_minibatches_are_shuffled_chunks_of_everything() -> None:
    items = list(range(10))
    chunks = minibatches(items, 4, random.Random(0))
    assert [len(c) for c in chunks] == [4, 4, 2]
    assert sorted(x for c in chunks for x in c) == items
    assert [x for c in chunks for x in c] != items  # shuffled
    assert minibatches(items, 4, random.Random(0)) == chunks  # the same stream, the same batches
    assert minibatches(items, None, random.Random(0)) == [[x for c in chunks for x in c]]
    assert minibatches([], None, random.Random(0)) == []


def test_temperature_top_p_and_mask_as_the_sampler_applies_them() -> None:
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    ids = torch.tensor([[0]])
    # temperature 0.5 doubles the logits
    got, _ = sampling_logprobs(logits[None], ids, temperature=0.5)
    assert float(got) == pytest.approx(float(torch.log_softmax(logits * 2, -1)[0, 0]), abs=1e-6)
    # top-p 0.7: softmax(logits) = [0.644, 0.237, 0.087, 0.032]; the smallest set reaching 0.7 is tokens {0, 1}
    kept = sampling_transform(logits, top_p=0.7)
    assert torch.isfinite(kept).tolist() == [[True, True, False, False]]
    # the grammar's mask comes first: with token 0 forbidden, top-p chooses among the rest
    allowed = torch.tensor([[False, True, True, True]])
    masked = sampling_transform(logits, allowed=allowed, top_p=0.7)
    assert torch.isfinite(masked).tolist() == [[False, True, True, False]]
    # a forced token (the only one allowed) has log-prob 0 and entropy 0
    only = torch.tensor([[[False, False, True, False]]])
    lp, h = sampling_logprobs(logits[None], torch.tensor([[2]]), allowed=only, with_entropy=True)
    assert float(lp) == pytest.approx(0.0) and h is not None and float(h) == pytest.approx(0.0)
    # entropy of the plain distribution
    _, h = sampling_logprobs(logits[None], ids, with_entropy=True)
    p = torch.softmax(logits, -1)
    assert h is not None and float(h) == pytest.approx(float(-(p * p.log()).sum()))
