"""LoRALearner on the tiny Qwen3-VL: LoRA placement, shared-prompt scoring, the prompt check, updates, adapters, state.

The completions stand in for what vLLM returns: canned replies tokenized with the tiny tokenizer (token ids, as the
server reports them), with "sampling" log-probs from a first learner pass. The reference every shared-prompt result
is checked against is the plain way: one full forward per sample over prompt + completion, with the screenshot
encoded again in each.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import screenshot_png, tiny_settings

from halo_cli.core.actions import LeftClick, Terminate, Type
from halo_cli.core.config import Settings
from halo_cli.core.errors import NotFoundError
from halo_cli.core.policy.prompts import HistoryStep, build_messages, vision_token_count
from halo_cli.core.policy.vllm_client import Sample, SampleBatch
from halo_cli.core.rl.groups import Group, LearnerError, PromptMismatchError
from halo_cli.core.rl.learner import LoRALearner
from halo_cli.core.rl.lora import split_lora_targets

REPLIES = (
    LeftClick(x=120, y=340, description="Click the Inbox link").to_tool_call(),
    Type(text="Alice", description="Type the recipient name").to_tool_call(),
    Terminate(status="success").to_tool_call(),
)


@pytest.fixture(scope="module")
def settings(tiny_model_dir: Path) -> Settings:
    """The local profile, unconstrained: the canned replies include a bare `terminate` call the tool-call grammar
    does not allow; the grammar's own tests build a constrained learner."""
    s = tiny_settings(tiny_model_dir)
    s.grpo.constrained_sampling = False
    return s


def full_messages(settings: Settings) -> list[dict[str, Any]]:
    """The real prompt (OSWorld system prompt + screenshot + instruction), as the sampler sends it."""
    return build_messages("Open the first unread email", screenshot_png(), min_pixels=settings.model.min_pixels,
                          max_pixels=settings.model.max_pixels)


def short_messages(settings: Settings) -> list[dict[str, Any]]:
    """The same layout with a one-line system prompt and a small screenshot, for the tests that run many passes."""
    messages = build_messages("Open the first unread email", screenshot_png(320, 240),
                              min_pixels=settings.model.min_pixels, max_pixels=settings.model.max_pixels)
    messages[0] = {"role": "system", "content": [{"type": "text", "text": "You are a GUI agent."}]}
    return messages


def samples(learner: LoRALearner, replies: tuple[str, ...] = REPLIES,
            logprobs: list[torch.Tensor] | None = None) -> list[Sample]:
    tok = learner.processor.tokenizer
    out = []
    for i, reply in enumerate(replies):
        ids = tuple(tok(reply + "<|im_end|>", add_special_tokens=False)["input_ids"])
        lps = tuple(logprobs[i].tolist()) if logprobs is not None else ()
        out.append(Sample(text=reply, action=None, parse_error=None, token_ids=ids, logprobs=lps,
                          finish_reason="stop"))
    return out


def plain_logprobs(model: Any, prompt: Any, ids: list[int], temperature: float = 1.0) -> torch.Tensor:
    """One full forward over prompt + completion, the screenshot encoded in it: the obvious, slow way. The
    distribution is the one sampled at ``temperature`` (the learner scores that one)."""
    n = len(ids)
    input_ids = torch.cat([prompt["input_ids"], torch.tensor([ids])], dim=1)
    mm = torch.cat([prompt["mm_token_type_ids"], torch.zeros(1, n, dtype=prompt["mm_token_type_ids"].dtype)], 1)
    images = {k: prompt[k] for k in ("pixel_values", "image_grid_thw") if prompt.get(k) is not None}
    out = model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), mm_token_type_ids=mm, **images)
    logits = out.logits[0, -n - 1 : -1].float() / temperature
    return logits.log_softmax(-1).gather(-1, torch.tensor(ids)[:, None])[:, 0]


def perturb_lora(learner: LoRALearner, seed: int = 1) -> None:
    """Non-zero LoRA B matrices (fresh ones are 0, a no-op), so the adapter really changes every forward."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in learner.model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)


@pytest.fixture(scope="module")
def learner(settings: Settings) -> LoRALearner:
    torch.manual_seed(0)
    learner = LoRALearner.from_settings(settings)
    perturb_lora(learner)
    return learner


# --------------------------------------------------------------------------------------------------- LoRA targets


def test_lora_only_on_language_model(learner: LoRALearner) -> None:
    wrapped = [n for n, _ in learner.model.named_modules() if n.endswith(".lora_A")]
    assert len(wrapped) == 14  # 7 projections x 2 text layers
    assert all(".language_model." in n for n in wrapped)
    assert not any("visual" in n for n in wrapped)


@pytest.mark.parametrize("target", ["linear_fc1", "attn.qkv", "blocks.0.attn.proj"])
def test_vision_tower_target_is_refused(settings: Settings, target: str) -> None:
    lora = settings.lora.model_copy(update={"target_modules": ["q_proj", target]})
    with pytest.raises(LearnerError, match="vision tower"):
        LoRALearner(settings.model, lora, settings.grpo)


def test_shared_names_exclude_the_vision_modules() -> None:
    names = ["model.visual.blocks.0.attn.q_proj", "model.language_model.layers.0.self_attn.q_proj",
             "model.visual.blocks.0.attn.qkv"]
    language, excluded = split_lora_targets(names, ["q_proj"])
    assert language == ["model.language_model.layers.0.self_attn.q_proj"]
    assert excluded == ["model.visual.blocks.0.attn.q_proj"]
    with pytest.raises(LearnerError, match="vision tower"):
        split_lora_targets(names, ["qkv"])
    with pytest.raises(LearnerError, match="matches no module"):
        split_lora_targets(names, ["nope_proj"])


# --------------------------------------------------------------------------------------------------- scoring


def test_group_logprobs_equal_plain_forward_per_sample(learner: LoRALearner, settings: Settings) -> None:
    messages = full_messages(settings)
    group = Group(messages, samples(learner), [0.0] * len(REPLIES))
    shared = learner.logprobs(group)
    prompt = learner.encode_prompt(messages)
    assert int((prompt["input_ids"] == learner.model.config.image_token_id).sum()) > 0
    with torch.no_grad():
        for sample, got in zip(group.samples, shared):
            want = plain_logprobs(learner.model, prompt, list(sample.token_ids), learner.grpo.temperature)
            assert got.shape == want.shape  # completions of different lengths: padding is handled
            assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()


@pytest.mark.parametrize("screenshots", [0, 2])
def test_logprobs_with_two_screenshots_or_none(learner: LoRALearner, settings: Settings, screenshots: int) -> None:
    """Two images shift the text positions twice (M-RoPE); a text-only prompt has no image at all."""
    past = HistoryStep(action=LeftClick(x=10, y=20), response=REPLIES[0], screenshot_png=screenshot_png(320, 240, 7))
    bounds = {"min_pixels": settings.model.min_pixels, "max_pixels": settings.model.max_pixels}
    messages = build_messages("Reply to Bob", screenshot_png(320, 240) if screenshots else None, [past],
                              history_screenshots=screenshots, **bounds)
    messages[0] = {"role": "system", "content": [{"type": "text", "text": "You are a GUI agent."}]}
    group = Group(messages, samples(learner), [0.0] * len(REPLIES))
    prompt = learner.encode_prompt(messages)
    per_image = vision_token_count(240, 320, **bounds)
    assert int((prompt["input_ids"] == learner.model.config.image_token_id).sum()) == per_image * screenshots
    with torch.no_grad():
        for sample, got in zip(group.samples, learner.logprobs(group)):
            want = plain_logprobs(learner.model, prompt, list(sample.token_ids), learner.grpo.temperature)
            assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()


def test_gradients_through_the_shared_prompt_equal_plain_ones(learner: LoRALearner, settings: Settings) -> None:
    """Backward through the repeated KV cache reaches the single prompt pass exactly as G separate passes would."""
    group = Group(short_messages(settings), samples(learner), [0.0] * len(REPLIES))
    prepared = learner._prepare(group)
    weights = torch.tensor([1.0, -0.5, 2.0])[:, None] * prepared.mask

    def grads() -> list[torch.Tensor]:
        out = [p.grad.clone() for p in learner.params]
        learner.model.zero_grad(set_to_none=True)
        return out

    learner.model.zero_grad(set_to_none=True)
    (learner._completion_logps(prepared.prompt, prepared.completions)[0] * weights).sum().backward()
    shared = grads()
    t = learner.grpo.temperature
    for i, sample in enumerate(group.samples):
        n = len(sample.token_ids)
        (plain_logprobs(learner.model, prepared.prompt, list(sample.token_ids), t) * weights[i, :n]).sum().backward()
    plain = grads()
    assert max(float(s.abs().max()) for s in shared) > 0
    for s, p in zip(shared, plain):
        assert torch.allclose(s, p, atol=1e-5, rtol=1e-4)


def test_prompt_token_mismatch_raises(learner: LoRALearner, settings: Settings) -> None:
    messages = short_messages(settings)
    ids = learner.encode_prompt(messages)["input_ids"][0].tolist()
    learner.logprobs(Group(messages, samples(learner)[:1], [0.0], prompt_token_ids=ids))  # vLLM's == ours: fine
    changed = list(ids)
    changed[5] = (changed[5] + 1) % 2000
    with pytest.raises(PromptMismatchError, match="position 5"):
        learner.logprobs(Group(messages, samples(learner)[:1], [0.0], prompt_token_ids=changed))
    with pytest.raises(PromptMismatchError):  # e.g. vLLM counted fewer vision tokens
        learner.update([Group(messages, samples(learner)[:1], [1.0], prompt_token_ids=ids[:-3])])


def test_malformed_groups_raise(learner: LoRALearner, settings: Settings) -> None:
    messages = short_messages(settings)
    good = samples(learner)[:1]
    with pytest.raises(LearnerError, match="advantages"):
        learner.logprobs(Group(messages, good, [0.0, 1.0]))
    bad = Sample(text="", action=None, parse_error=None, token_ids=(5, 6), logprobs=(-1.0,), finish_reason="stop")
    with pytest.raises(LearnerError, match="log-probs"):
        learner.logprobs(Group(messages, [bad], [0.0]))


def test_group_from_batch() -> None:
    s = [Sample(text=str(i), action=None, parse_error=None, token_ids=(i,), logprobs=(-0.5,), finish_reason="stop")
         for i in range(3)]
    batch = SampleBatch(samples=s, messages=[{"role": "user", "content": "hi"}], model="m",
                        prompt_token_ids=(1, 2), latency_s=0.1)
    group = Group.from_batch(batch, [0.5, -0.5], indices=[2, 0])
    assert [x.text for x in group.samples] == ["2", "0"]
    assert group.prompt_token_ids == (1, 2)
    with pytest.raises(LearnerError):
        Group.from_batch(batch, [1.0])


# --------------------------------------------------------------------------------------------------- training


def test_updates_move_logprobs_with_the_advantage_sign_and_state_round_trips(
    settings: Settings, tmp_path: Path
) -> None:
    # KL to the base on (its reference pass runs too); PPO ratio against the "sampler" log-probs given here.
    grpo = settings.grpo.model_copy(update={"beta": 0.05, "constrained_sampling": False})
    learner = LoRALearner(settings.model, settings.lora, grpo)
    messages = short_messages(settings)
    first = learner.logprobs(Group(messages, samples(learner), [0.0] * 3))

    def fresh() -> Group:
        """What each iteration trains on: the samples with the log-probs of the policy that sampled them."""
        lps = learner.logprobs(Group(messages, samples(learner), [0.0] * 3))
        return Group(messages, samples(learner, logprobs=lps), [1.0, -1.0, 0.0])

    stats = [learner.update([fresh()]) for _ in range(3)]
    group = fresh()
    assert stats[0].logprob_gap == pytest.approx(0.0, abs=1e-5)  # no dropout, same weights: the "sampler" agrees
    assert stats[0].is_weight_mean == pytest.approx(1.0, abs=1e-5) and stats[0].is_truncated_frac == 0.0
    assert stats[0].kl == pytest.approx(0.0, abs=1e-6)  # fresh LoRA (B = 0) is the base model
    assert stats[-1].kl > 0
    assert all(s.optimizer_steps == 1 and s.grad_norm > 0 for s in stats)
    after = learner.logprobs(group)
    assert after[0].sum() > first[0].sum() + 0.5  # A > 0: more likely
    assert after[1].sum() < first[1].sum() - 0.5  # A < 0: less likely

    # All-zero advantages (and beta 0) train nothing: no forward, no optimizer step.
    idle = LoRALearner(settings.model, settings.lora, settings.grpo)
    zero = idle.update([Group(messages, samples(idle), [0.0] * 3)])
    assert zero.zero_advantage_samples == 3 and zero.optimizer_steps == 0 and idle.optimizer_steps == 0

    # State round trip into a fresh learner: same LoRA weights, same AdamW moments, same next step.
    learner.save_state(tmp_path / "state")
    idle.load_state(tmp_path / "state")
    assert idle.optimizer_steps == learner.optimizer_steps == 3
    a, b = learner.optimizer.state_dict(), idle.optimizer.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for key, state in a["state"].items():
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(state[name], b["state"][key][name])
    for (n1, p1), (n2, p2) in zip(learner.model.named_parameters(), idle.model.named_parameters()):
        assert n1 == n2 and torch.equal(p1, p2)
    idle.grpo = grpo
    learner.update([group])
    idle.update([group])
    for p1, p2 in zip(learner.params, idle.params):
        assert torch.allclose(p1, p2, atol=1e-7)

    # RNG streams come back too: what is drawn after a resume is what would have been drawn.
    torch.manual_seed(123)
    learner.save_state(tmp_path / "state")
    expected = torch.rand(3)
    torch.rand(5)
    idle.load_state(tmp_path / "state")
    assert torch.equal(torch.rand(3), expected)


def test_load_state_refuses_missing_or_foreign_state(
    settings: Settings, learner: LoRALearner, tmp_path: Path
) -> None:
    with pytest.raises(NotFoundError):
        learner.load_state(tmp_path)  # nothing there
    (tmp_path / "learner.json").write_text('{"version": 1}')
    with pytest.raises(LearnerError):
        learner.load_state(tmp_path)  # weights and optimizer missing
    learner.save_state(tmp_path / "full")
    lora = settings.lora.model_copy(update={"target_modules": ["q_proj", "v_proj"]})
    other = LoRALearner(settings.model, lora, settings.grpo)
    with pytest.raises(LearnerError, match="does not fit this LoRA layout"):
        other.load_state(tmp_path / "full")


GRAMMAR_REPLIES = (*REPLIES[:2], LeftClick(x=30, y=40, description="Open the menu").to_tool_call())


def test_constrained_sampling_scores_the_grammar_masked_distribution(settings: Settings) -> None:
    """Under constrained sampling vLLM's log-probs are of the grammar-masked distribution; the learner rebuilds the
    masks and scores the same one: a forced token has log-prob 0 exactly, the sampler's log-probs (here the learner's
    own, as a perfect sampler would report them) match with importance weights of 1, and only the tokens the grammar
    left open are trained on."""
    messages = short_messages(settings)
    grpo = settings.grpo.model_copy(update={"constrained_sampling": True})
    learner = LoRALearner(settings.model, settings.lora, grpo)
    perturb_lora(learner, seed=2)
    plain = samples(learner, GRAMMAR_REPLIES)
    masked = learner.logprobs(Group(messages, plain, [0.0] * 3))
    unmasked = learner.logprobs(Group(messages, plain, [0.0] * 3), grammar=False)
    forced = [learner.masker.masks(learner.regex or "", s.token_ids).forced() for s in plain]
    for lp, raw, f in zip(masked, unmasked, forced):
        assert 0 < int(f.sum()) < len(f)  # the scaffolding is forced, the coordinates and text are not
        assert (lp[f] == 0.0).all() and (raw[f] < 0).all()
        assert (lp >= raw - 1e-6).all()  # renormalised over fewer tokens: never less likely

    stats = learner.update([Group(messages, samples(learner, GRAMMAR_REPLIES, logprobs=masked), [1.0, -1.0, 0.0])])
    assert stats.logprob_gap is not None and stats.logprob_gap < 1e-4
    assert stats.is_weight_mean == pytest.approx(1.0, abs=1e-4) and stats.is_truncated_frac == 0.0
    assert stats.tokens == sum(int((~f).sum()) for f in forced[:2]) and stats.optimizer_steps == 1

    # The same tokens from an unconstrained run: all of them are trained on, scored unmasked.
    free = LoRALearner(settings.model, settings.lora, settings.grpo.model_copy(update={"constrained_sampling": False}))
    assert free.regex is None
    assert free.update([Group(messages, samples(free, GRAMMAR_REPLIES), [1.0, -1.0, 0.0])]).tokens == \
        sum(len(f) for f in forced[:2])


def test_a_completion_the_grammar_forbids_fails_the_update_before_any_step(settings: Settings) -> None:
    """A reply the tool-call regex does not match (no `Action:` line) was not sampled under this grammar: the
    server and the learner disagree on the grammar, tokenizer or stop tokens, and no gradient of it means anything."""
    messages = short_messages(settings)
    learner = LoRALearner(settings.model, settings.lora, settings.grpo.model_copy(update={"constrained_sampling": True}))
    before = {n: p.detach().clone() for n, p in learner.model.named_parameters() if p.requires_grad}
    good = Group(messages, samples(learner, GRAMMAR_REPLIES[:2]), [1.0, -1.0])
    bad = Group(messages, samples(learner, (REPLIES[0], REPLIES[2])), [1.0, -1.0])
    with pytest.raises(LearnerError, match="sample 1: token 0 .* not allowed by the grammar"):
        learner.update([good, bad])
    assert all(torch.equal(before[n], p) for n, p in learner.model.named_parameters() if p.requires_grad)


# --------------------------------------------------------------------------------------------------- adapters


def test_save_adapter_is_atomic_and_reloads_in_peft(
    learner: LoRALearner, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from peft import PeftModel

    from halo_cli.core.models.tiny import load_tiny_model

    target = tmp_path / "adapters" / "policy-v1"
    assert learner.save_adapter(target) == target
    assert {"adapter_config.json", "adapter_model.safetensors"} <= set(os.listdir(target))
    learner.save_adapter(target)  # replacing an existing one works and leaves no temp folders behind
    assert sorted(os.listdir(target.parent)) == ["policy-v1"]

    # A failure mid-save leaves the previous adapter in place, untouched.
    before = (target / "adapter_model.safetensors").read_bytes()

    def broken(path: str, **kwargs: Any) -> None:
        Path(path, "adapter_config.json").write_text("{}")
        raise OSError("disk full")

    monkeypatch.setattr(learner.model, "save_pretrained", broken)
    with pytest.raises(OSError):
        learner.save_adapter(target)
    monkeypatch.undo()
    assert (target / "adapter_model.safetensors").read_bytes() == before
    assert sorted(os.listdir(target.parent)) == ["policy-v1"]

    # Loaded the way vLLM would see it (base + adapter folder), it reproduces the learner's log-probs.
    reloaded = PeftModel.from_pretrained(load_tiny_model(Path(settings.model.name)), str(target)).eval()
    messages = short_messages(settings)
    group = Group(messages, samples(learner), [0.0] * 3)
    ours = learner.logprobs(group)
    prompt = learner.encode_prompt(messages)
    with torch.no_grad():
        for sample, got in zip(group.samples, ours):
            want = plain_logprobs(reloaded, prompt, list(sample.token_ids), learner.grpo.temperature)
            assert torch.allclose(got, want, atol=1e-5)


def test_a_saved_adapter_loads_back_into_a_fresh_learner(learner: LoRALearner, settings: Settings,
                                                          tmp_path: Path) -> None:
    """A resume without a checkpoint starts from the adapter folder: the same weights, fresh AdamW moments."""
    from halo_cli.core.rl.learner_state import load_adapter_weights

    saved = learner.save_adapter(tmp_path / "v3")
    fresh = LoRALearner.from_settings(settings)
    group = Group(short_messages(settings), samples(learner), [0.0] * 3)
    assert not torch.allclose(torch.cat(fresh.logprobs(group)), torch.cat(learner.logprobs(group)))
    load_adapter_weights(fresh, saved, updates=3)
    assert torch.allclose(torch.cat(fresh.logprobs(group)), torch.cat(learner.logprobs(group)), atol=1e-6)
    assert fresh.updates == 3 and not fresh.optimizer.state
    other = LoRALearner(settings.model, settings.lora.model_copy(update={"target_modules": ["q_proj"]}),
                        settings.grpo)
    with pytest.raises(LearnerError, match="does not fit this LoRA layout"):
        load_adapter_weights(other, saved, updates=3)


# --------------------------------------------------------------------------------------------------- sampler parity


@pytest.mark.vllm
def test_the_learner_scores_the_distribution_vllm_sampled_from(settings: Settings, vllm_server: Any) -> None:
    """vLLM runs with processed log-probs and every sampling parameter sent: its log-probs of the sampled tokens are
    those of softmax(logits / T), which the learner reproduces (bf16 server, fp32 learner); scored at temperature 1,
    as the learner did before, they differ by far more."""
    from halo_cli.core.policy.vllm_client import VLLMPolicyClient

    fresh = LoRALearner.from_settings(settings)  # LoRA B = 0: exactly the served base model
    client = VLLMPolicyClient.from_settings(settings.model_copy(update={"grpo": settings.grpo.model_copy(
        update={"constrained_sampling": False, "max_completion_length": 24})}), base_url=vllm_server.url)
    with client:
        batch = client.sample(screenshot_png(320, 240), "Open the first unread email", n=4,
                              temperature=settings.grpo.temperature, viewport=(320, 240))
    group = Group.from_batch(batch, [0.0] * 4)
    gaps = {}
    for t in (settings.grpo.temperature, 1.0):
        ours = fresh.logprobs(group, temperature=t)
        diffs = torch.cat([(o - torch.tensor(s.logprobs)).abs() for o, s in zip(ours, batch.samples)])
        gaps[t] = float(diffs.mean())
    print(f"\nmean |learner - vLLM| log-prob gap: at T={settings.grpo.temperature} {gaps[settings.grpo.temperature]:.4f}, "
          f"at T=1 {gaps[1.0]:.4f}")
    assert gaps[settings.grpo.temperature] < 0.05
    assert gaps[1.0] > 5 * gaps[settings.grpo.temperature]


# --------------------------------------------------------------------------------------------------- batches


def test_one_step_per_minibatch_over_the_whole_rollout(settings: Settings) -> None:
    """Several groups, one update: one AdamW step for the whole rollout by default (every group in the same step);
    ``minibatch_size`` completions per step, ``ppo_epochs`` passes."""
    messages = short_messages(settings)
    groups = []
    for _ in range(3):
        learner = LoRALearner.from_settings(settings)
        groups.append(Group(messages, samples(learner), [1.0, -1.0, 0.5]))
    counts = {}
    for minibatch, epochs in ((None, 1), (4, 1), (4, 2)):
        grpo = settings.grpo.model_copy(update={"minibatch_size": minibatch, "ppo_epochs": epochs})
        learner = LoRALearner(settings.model, settings.lora, grpo)
        stats = learner.update(groups)
        counts[(minibatch, epochs)] = stats.optimizer_steps
    assert counts == {(None, 1): 1, (4, 1): 3, (4, 2): 6}  # 9 completions: ceil(9 / 4) = 3 per epoch


def test_every_group_is_checked_before_the_first_step(settings: Settings) -> None:
    """A group the learner cannot train on (its prompt differs from vLLM's) fails the whole update before the
    adapter changed, wherever it sits in the rollout."""
    messages = short_messages(settings)
    learner = LoRALearner.from_settings(settings)
    ids = learner.encode_prompt(messages)["input_ids"][0].tolist()
    good = Group(messages, samples(learner), [1.0, -1.0, 0.0], prompt_token_ids=ids)
    bad = Group(messages, samples(learner), [1.0, -1.0, 0.0], prompt_token_ids=ids[:-2])
    before = [p.detach().clone() for p in learner.params]
    with pytest.raises(PromptMismatchError):
        learner.update([good, good, bad])
    assert learner.optimizer_steps == 0 and all(torch.equal(a, b) for a, b in zip(before, learner.params))


def test_gradient_checkpointing_scores_and_trains_like_the_shared_prompt(settings: Settings) -> None:
    """With activation checkpointing each completion runs with its prompt as one sequence; the log-probs and the
    gradients are those of the shared-prompt path."""
    messages = short_messages(settings)
    torch.manual_seed(0)
    plain = LoRALearner.from_settings(settings)
    perturb_lora(plain)
    lora = settings.lora.model_copy(update={"gradient_checkpointing": True})
    torch.manual_seed(0)
    checkpointed = LoRALearner(settings.model, lora, settings.grpo)
    perturb_lora(checkpointed)
    group = Group(messages, samples(plain), [1.0, -1.0, 0.5])
    grads = []
    for learner in (plain, checkpointed):
        prepared = learner._prepare(group)
        learner.model.train()
        learner.model.zero_grad(set_to_none=True)
        logps, _ = learner._completion_logps(prepared.prompt, prepared.completions)
        (logps * prepared.mask).sum().backward()
        grads.append([p.grad.clone() for p in learner.params])
        learner.model.eval()
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)
