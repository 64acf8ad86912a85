"""The clipped GRPO loss, its three normalisations and the KL term, against numbers worked out by hand.

The common example: G = 2 completions, T = 2 tokens, old log-probs 0, so ratio = exp(logp) is chosen directly.

    sample 0 (A = +1): ratios (1.5, 0.5)
    sample 1 (A = -1): ratios (1.5, 0.5), second token is padding (mask 0)
    epsilon = 0.2 -> clip range [0.8, 1.2]

Per-token objective min(r*A, clip(r)*A):
    (0,0): min(1.5, 1.2)   = 1.2   clipped branch (r > 1.2 with A > 0): no gradient, counts in clip_frac
    (0,1): min(0.5, 0.8)   = 0.5   unclipped
    (1,0): min(-1.5, -1.2) = -1.5  unclipped (a bad token pushed up too far keeps its full penalty)
Per-token loss = -objective: (-1.2, -0.5, 1.5); masked sum = -0.2 over 3 active tokens.
"""

from __future__ import annotations

import math

import pytest
import torch

from halo_cli.core.rl.loss import dr_grpo_loss, k3_kl

LN = math.log


def example(requires_grad: bool = False) -> dict[str, torch.Tensor]:
    logps = torch.tensor([[LN(1.5), LN(0.5)], [LN(1.5), LN(0.5)]], dtype=torch.float64, requires_grad=requires_grad)
    return {
        "logps": logps,
        "old_logps": torch.zeros(2, 2, dtype=torch.float64),
        "advantages": torch.tensor([1.0, -1.0], dtype=torch.float64),
        "mask": torch.tensor([[1.0, 1.0], [1.0, 0.0]], dtype=torch.float64),
    }


def test_dr_grpo_normalises_by_group_size_times_max_length() -> None:
    # -0.2 / (G * max_completion_length) = -0.2 / (2 * 4) = -0.025
    loss, stats = dr_grpo_loss(**example(), epsilon=0.2, max_completion_length=4)
    assert loss.item() == pytest.approx(-0.025)
    # clip_frac: only (0,0) of 3 active tokens; ratio_mean (1.5 + 0.5 + 1.5) / 3 = 1.166667
    assert stats["clip_frac"] == pytest.approx(1 / 3)
    assert stats["clip_frac_high"] == pytest.approx(1 / 3)
    assert stats["clip_frac_low"] == 0.0
    assert stats["ratio_mean"] == pytest.approx(3.5 / 3)
    assert stats["kl"] == 0.0
    assert stats["tokens"] == 3.0


def test_grpo_takes_the_mean_per_sequence_then_over_sequences() -> None:
    # sequence 0: (-1.2 - 0.5) / 2 = -0.85; sequence 1: 1.5 / 1 = 1.5; mean (-0.85 + 1.5) / 2 = 0.325
    loss, _ = dr_grpo_loss(**example(), epsilon=0.2, max_completion_length=4, loss_type="grpo")
    assert loss.item() == pytest.approx(0.325)


def test_dapo_divides_by_active_tokens() -> None:
    # -0.2 / 3 active tokens = -0.0666667
    loss, _ = dr_grpo_loss(**example(), epsilon=0.2, max_completion_length=4, loss_type="dapo")
    assert loss.item() == pytest.approx(-0.2 / 3)


def test_dr_grpo_gradient_by_hand() -> None:
    # d(-r*A)/dlogp = -r*A for an unclipped token (r = exp(logp - old)), 0 for a clipped or masked one; / (2*4):
    #   (0,0) clipped -> 0;  (0,1) -0.5*1/8 = -0.0625;  (1,0) -1.5*(-1)/8 = 0.1875;  (1,1) masked -> 0
    inputs = example(requires_grad=True)
    loss, _ = dr_grpo_loss(**inputs, epsilon=0.2, max_completion_length=4)
    loss.backward()
    expected = torch.tensor([[0.0, -0.0625], [0.1875, 0.0]], dtype=torch.float64)
    assert torch.allclose(inputs["logps"].grad, expected)


def test_epsilon_high_widens_the_upper_clip() -> None:
    # clip range [0.8, 1.6]: (0,0) is now min(1.5, 1.5) = 1.5 -> losses (-1.5, -0.5, 1.5), sum -0.5, / 8 = -0.0625
    loss, stats = dr_grpo_loss(**example(), epsilon=0.2, epsilon_high=0.6, max_completion_length=4)
    assert loss.item() == pytest.approx(-0.0625)
    assert stats["clip_frac"] == 0.0


def test_low_clip_on_negative_advantage() -> None:
    # one token, A = -1, ratio 0.5 < 0.8: min(-0.5, -0.8) = -0.8 (clipped branch) -> loss 0.8 / (1 * 1)
    loss, stats = dr_grpo_loss(
        torch.tensor([[LN(0.5)]]), torch.zeros(1, 1), torch.tensor([-1.0]), torch.ones(1, 1),
        epsilon=0.2, max_completion_length=1,
    )
    assert loss.item() == pytest.approx(0.8)
    assert stats["clip_frac_low"] == pytest.approx(1.0)


def test_on_policy_loss_is_minus_the_mean_advantage_per_token() -> None:
    # ratio 1 everywhere: loss = -sum(A * mask) / (G * L) = -(1 + 1 + 1 - 2) / (2 * 2) = -0.25 (A=(1,-2), mask 3+1)
    logps = torch.tensor([[-0.3, -1.2, -0.1], [-2.0, -0.5, -0.7]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    loss, stats = dr_grpo_loss(logps, logps.clone(), torch.tensor([1.0, -2.0]), mask, epsilon=0.2,
                               max_completion_length=2)
    assert loss.item() == pytest.approx(-0.25)
    assert stats["ratio_mean"] == pytest.approx(1.0)
    assert stats["clip_frac"] == 0.0


def test_kl_term_k3() -> None:
    # ref - logp = ln 2 on token (0,0), 0 elsewhere: k3 = 2 - ln 2 - 1 = 0.306853 there, 0 elsewhere.
    # beta 0.1: loss = (-0.2 + 0.1 * 0.306853) / 8 = -0.0211643; kl stat = 0.306853 / 3 active tokens
    inputs = example()
    ref = inputs["logps"].clone()
    ref[0, 0] += LN(2.0)
    loss, stats = dr_grpo_loss(**inputs, epsilon=0.2, max_completion_length=4, ref_logps=ref, beta=0.1)
    k = 1.0 - LN(2.0)
    assert loss.item() == pytest.approx((-0.2 + 0.1 * k) / 8)
    assert stats["kl"] == pytest.approx(k / 3)
    assert k3_kl(torch.tensor([0.0]), torch.tensor([LN(2.0)])).item() == pytest.approx(k)


def test_padding_garbage_does_not_leak() -> None:
    # -inf / nan in padded positions must not turn the loss into NaN
    inputs = example()
    inputs["logps"] = inputs["logps"].clone()
    inputs["logps"][1, 1] = float("-inf")
    inputs["old_logps"][1, 1] = float("nan")
    loss, stats = dr_grpo_loss(**inputs, epsilon=0.2, max_completion_length=4)
    assert loss.item() == pytest.approx(-0.025)
    assert math.isfinite(stats["ratio_mean"])


def test_per_token_advantages_are_accepted() -> None:
    # (G, T) advantages equal to the broadcast (G,) ones give the same loss
    inputs = example()
    per_token = inputs["advantages"][:, None].expand(2, 2).clone()
    a, _ = dr_grpo_loss(**inputs, epsilon=0.2, max_completion_length=4)
    b, _ = dr_grpo_loss(**{**inputs, "advantages": per_token}, epsilon=0.2, max_completion_length=4)
    assert a.item() == pytest.approx(b.item())


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        dr_grpo_loss(**example(), epsilon=0.2, max_completion_length=4, loss_type="bnpo")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        dr_grpo_loss(**example(), epsilon=0.2, max_completion_length=4, beta=0.1)  # beta without ref_logps
    with pytest.raises(ValueError):
        dr_grpo_loss(**example(), epsilon=0.2, max_completion_length=0)


# ------------------------------------------------------------------------ dual-clip, IS weights, normalisers


def test_dual_clip_bounds_negative_advantage_tokens_by_c_times_a() -> None:
    from halo_cli.core.rl.loss import clipped_objective

    ratio = torch.tensor([0.5, 1.0, 1.5, 4.0, 10.0])
    neg = torch.full_like(ratio, -2.0)
    # PPO alone: min(r A, clip(r) A) = r A for A < 0 once r > 1 + eps: unbounded below as r grows
    assert clipped_objective(ratio, neg, 0.2, 0.2, None).tolist() == pytest.approx([-1.6, -2.0, -3.0, -8.0, -20.0])
    # dual-clip c = 3: never below c A = -6
    assert clipped_objective(ratio, neg, 0.2, 0.2, 3.0).tolist() == pytest.approx([-1.6, -2.0, -3.0, -6.0, -6.0])
    pos = torch.full_like(ratio, 2.0)  # positive advantages: dual-clip changes nothing
    assert clipped_objective(ratio, pos, 0.2, 0.2, 3.0).tolist() == clipped_objective(ratio, pos, 0.2, 0.2, None).tolist()


def test_dual_clip_stops_the_gradient_of_runaway_negative_tokens() -> None:
    logps = torch.tensor([[0.0, 2.0]], requires_grad=True)  # ratios 1 and e^2 ~ 7.4 against old = 0
    old = torch.zeros(1, 2)
    loss, stats = dr_grpo_loss(logps, old, torch.tensor([-1.0]), torch.ones(1, 2), epsilon=0.2,
                               max_completion_length=2, dual_clip=3.0)
    loss.backward()
    assert logps.grad is not None and logps.grad[0, 1] == 0.0 and logps.grad[0, 0] != 0.0
    assert stats["dual_clip_frac"] == pytest.approx(0.5)


def test_importance_weights_scale_each_token_and_are_not_differentiated() -> None:
    logps = torch.zeros(1, 3, requires_grad=True)
    w = torch.tensor([[1.0, 0.5, 2.0]])
    loss, _ = dr_grpo_loss(logps, torch.zeros(1, 3), torch.tensor([1.0]), torch.ones(1, 3), epsilon=0.2,
                           max_completion_length=3, is_weights=w)
    loss.backward()
    # d/dlogp of -(ratio * A * w) / (G * L) at ratio 1 is -w / 3
    assert logps.grad is not None and logps.grad[0].tolist() == pytest.approx([-1 / 3, -0.5 / 3, -2 / 3])


def test_truncated_importance_weights() -> None:
    from halo_cli.core.rl.logprobs import truncated_is_weights

    learner = torch.tensor([-1.0, -1.0, -1.0])
    sampler = torch.tensor([-1.0, -2.0, -0.5])
    w = truncated_is_weights(learner, sampler, cap=2.0)
    assert w.tolist() == pytest.approx([1.0, 2.0, math.exp(-0.5)])  # e^1 = 2.72 capped at 2


@pytest.mark.parametrize("loss_type", ["dr_grpo", "grpo", "dapo"])
def test_a_minibatch_split_into_groups_adds_up_to_one_loss(loss_type: str) -> None:
    """The learner runs a mini-batch group by group; with the mini-batch's normaliser the parts sum to its loss."""
    from halo_cli.core.rl.loss import loss_normaliser

    gen = torch.Generator().manual_seed(0)
    logps = -torch.rand(5, 4, generator=gen)
    old = logps + 0.05 * torch.randn(5, 4, generator=gen)
    adv = torch.tensor([1.0, -0.5, 0.3, -1.2, 0.4])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0], [1, 1, 1, 0]], dtype=torch.float)
    weights = torch.tensor([1.0, 0.5, 0.5, 1.0, 0.25])
    kw = dict(epsilon=0.2, max_completion_length=4, loss_type=loss_type, dual_clip=3.0)
    whole, _ = dr_grpo_loss(logps, old, adv, mask, weights=weights, **kw)
    norm = loss_normaliser(weights, mask.sum(-1), loss_type, 4)  # type: ignore[arg-type]
    parts = [dr_grpo_loss(logps[rows], old[rows], adv[rows], mask[rows], weights=weights[rows], normaliser=norm,
                          **kw)[0] for rows in ([0, 2], [1], [3, 4])]
    assert float(sum(parts)) == pytest.approx(float(whole), rel=1e-6)


def test_weights_make_each_episode_count_once() -> None:
    """step_norm = episode: a 4-step episode's steps weigh 1/4 each, a 1-step one's 1: both count the same."""
    logps = torch.zeros(5, 2, requires_grad=True)
    adv = torch.tensor([1.0, 1.0, 1.0, 1.0, -1.0])
    weights = torch.tensor([0.25, 0.25, 0.25, 0.25, 1.0])
    loss, _ = dr_grpo_loss(logps, torch.zeros(5, 2), adv, torch.ones(5, 2), epsilon=0.2, max_completion_length=2,
                           weights=weights)
    loss.backward()
    assert logps.grad is not None
    assert float(logps.grad[:4].sum()) == pytest.approx(-float(logps.grad[4].sum()))
