"""Grammar-mask benchmark: what rebuilding vLLM's allowed-token masks costs the learner, against the learner's own
log-prob pass and update of the same group, measured in the same run on the same CPU.

Usage (repo root, learner venv):

    PYTHONPATH=$PWD .venv/bin/python bench/grammar_mask.py [--model DIR] [--group 8] [--repeats 3] [--no-large]

* completions: G replies sampled from the tool-call grammar itself (a seeded random walk over each position's
  allowed tokens, stop tokens taken as soon as allowed), so every one is a reply vLLM could have returned;
* tiny model (2048 tokens): regex compile (once per regex and process), `GrammarMasker.masks` per completion,
  and beside them the learner's shared-prompt log-prob pass for the group (no grad) and a full `update`
  (forward + backward + AdamW) at the local profile's screenshot size (max_pixels 262144) and at 880 vision tokens;
* Qwen3-VL-sized vocabulary (`--no-large` skips it): a synthetic byte-level tokenizer of 151,643 pieces + 26 added
  tokens, model vocab 151,936 (the 8B's), pieces drawn from ASCII words, which the regex's character classes
  accept far more often than Qwen's real (largely non-ASCII) pieces: a pessimistic stand-in for the real
  tokenizer, which cannot be downloaded here. Compile time, masks per completion, and the cost the mask
  adds to `sampling_logprobs` over an unmasked log-softmax on (G, T, 151936) logits.

Timings are wall-clock medians over ``--repeats`` runs after one warm-up run; on a shared CPU compare the ratios.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import string
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from inbox import GOAL, screenshot  # noqa: E402

from halo_cli.core.config import load_settings  # noqa: E402
from halo_cli.core.policy.constrained import tool_call_regex  # noqa: E402
from halo_cli.core.policy.grammar_mask import (  # noqa: E402
    GrammarMasker,
    engine_version,
    stack_masks,
    unpack_bitmask,
)
from halo_cli.core.policy.prompts import build_messages  # noqa: E402
from halo_cli.core.policy.vllm_client import Sample  # noqa: E402
from halo_cli.core.rl.groups import Group  # noqa: E402
from halo_cli.core.rl.learner import LoRALearner  # noqa: E402
from halo_cli.core.rl.logprobs import sampling_logprobs  # noqa: E402

QWEN3_VL_TOKENS = 151_643  # regular pieces of Qwen3-VL's tokenizer (ids 0..151642), then its added tokens
QWEN3_VL_VOCAB = 151_936  # rows of the 8B's embedding and lm_head


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall seconds over ``repeats`` runs after a warm-up, and the last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def grammar_walk(masker: GrammarMasker, regex: str, rng: random.Random, max_tokens: int) -> list[int]:
    """One reply the grammar admits: a uniformly random allowed token at each position, a stop token once one is
    allowed."""
    import xgrammar as xgr

    matcher = xgr.GrammarMatcher(masker.compiled(regex), override_stop_tokens=list(masker.stop_token_ids))
    bitmask = xgr.allocate_token_bitmask(1, masker.vocab_size)
    ids: list[int] = []
    while len(ids) < max_tokens and not matcher.is_terminated():
        matcher.fill_next_token_bitmask(bitmask, 0)
        allowed = unpack_bitmask(bitmask[0], masker.vocab_size).nonzero().flatten().tolist()
        stops = [t for t in masker.stop_token_ids if t in set(allowed)]
        tok = stops[0] if stops else rng.choice(allowed)
        if not matcher.accept_token(tok):
            raise AssertionError(f"the matcher refused token {tok} it allowed")
        ids.append(tok)
    return ids


def walks(masker: GrammarMasker, regex: str, g: int, max_tokens: int, seed: int = 0) -> list[list[int]]:
    rng = random.Random(seed)
    return [grammar_walk(masker, regex, rng, max_tokens) for _ in range(g)]


def bench_tiny(learner: LoRALearner, regex: str, g: int, repeats: int, max_tokens: int) -> None:
    tok = learner.processor.tokenizer
    gen = learner.model.generation_config
    t0 = time.perf_counter()
    masker = GrammarMasker.for_model(tok, learner.vocab_size, gen)
    t_info = time.perf_counter() - t0
    t0 = time.perf_counter()
    masker.compiled(regex)
    t_compile = time.perf_counter() - t0
    completions = walks(masker, regex, g, max_tokens)
    lengths = [len(c) for c in completions]
    t_masks, masks = timed(lambda: [masker.masks(regex, ids) for ids in completions], repeats)
    forced = sum(int(m.forced().sum()) for m in masks)
    per_completion = t_masks / g
    print(f"\n## tiny model: vocab {learner.vocab_size}, stop tokens {masker.stop_token_ids}, G={g} grammar walks of "
          f"{min(lengths)}-{max(lengths)} tokens ({forced} of {sum(lengths)} positions forced)")
    print(f"TokenizerInfo {t_info * 1000:.0f} ms, regex compile {t_compile * 1000:.0f} ms (once per process)")
    print(f"masks: {per_completion * 1000:.2f} ms per completion, {t_masks * 1000:.1f} ms per group "
          f"({per_completion / statistics.mean(lengths) * 1e6:.0f} us per token)")
    samples = [Sample(text="", action=None, parse_error=None, token_ids=tuple(c), logprobs=(), finish_reason="stop")
               for c in completions]
    print(f"{'learner, same group':<58}{'s':>8}{'masks / it':>12}")  # masks of the G completions, in % of it
    for max_pixels in (262_144, 16_777_216):
        learner.model_settings = learner.model_settings.model_copy(update={"max_pixels": max_pixels})
        messages = build_messages(GOAL, screenshot(), min_pixels=learner.model_settings.min_pixels,
                                  max_pixels=max_pixels)
        prepared = learner._prepare(Group(messages, samples, [0.0] * g))
        vision = int((prepared.prompt["input_ids"] == learner.model.config.image_token_id).sum())
        learner.model.eval()
        with torch.no_grad():
            t_fwd, _ = timed(lambda: learner._completion_logps(prepared.prompt, prepared.completions), repeats)
        group = Group(messages, samples, [1.0 if i % 2 == 0 else -1.0 for i in range(g)])
        t_upd, _ = timed(lambda: learner.update([group]), max(1, repeats - 1))
        label = f"{prepared.prompt_len}-token prompt ({vision} vision)"
        print(f"{'log-prob pass (no grad), ' + label:<58}{t_fwd:>8.3f}{100 * t_masks / t_fwd:>11.2f}%")
        print(f"{'update (fwd + bwd + AdamW), ' + label:<58}{t_upd:>8.3f}{100 * t_masks / t_upd:>11.2f}%")


def synthetic_tokenizer(base: Any, size: int = QWEN3_VL_TOKENS, seed: int = 0) -> Any:
    """A byte-level BPE tokenizer with Qwen3-VL's number of pieces: the tiny tokenizer's pieces, then random ASCII
    words (40% with a leading space), then the tiny tokenizer's added tokens in Qwen's order."""
    from tokenizers import Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import BPE
    from transformers import PreTrainedTokenizerFast

    added = base.get_added_vocab()
    vocab = {piece: i for piece, i in sorted(base.get_vocab().items(), key=lambda kv: kv[1]) if piece not in added}
    rng = random.Random(seed)
    letters = string.ascii_letters + string.digits + ".,'-_:;!?()[]{}\"/"
    while len(vocab) < size:
        word = "".join(rng.choice(letters) for _ in range(min(12, 1 + int(rng.expovariate(0.3)))))
        vocab.setdefault(("Ġ" if rng.random() < 0.4 else "") + word, len(vocab))
    model = Tokenizer(BPE(vocab=vocab, merges=[]))
    model.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    model.decoder = decoders.ByteLevel()
    tok = PreTrainedTokenizerFast(tokenizer_object=model)
    specials = [t for t, _ in sorted(added.items(), key=lambda kv: kv[1])]
    tok.add_tokens(specials)
    tok.eos_token = "<|im_end|>"
    return tok


def bench_large(base: Any, regex: str, g: int, repeats: int, max_tokens: int) -> None:
    t0 = time.perf_counter()
    tok = synthetic_tokenizer(base)
    t_tok = time.perf_counter() - t0
    stops = tuple(sorted(tok.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])))
    t0 = time.perf_counter()
    masker = GrammarMasker(tok, QWEN3_VL_VOCAB, stops)
    t_info = time.perf_counter() - t0
    t0 = time.perf_counter()
    masker.compiled(regex)
    t_compile = time.perf_counter() - t0
    completions = walks(masker, regex, g, max_tokens)
    lengths = [len(c) for c in completions]
    t_masks, masks = timed(lambda: [masker.masks(regex, ids) for ids in completions], repeats)
    workers = os.cpu_count() or 1
    t_threads, _ = timed(lambda: masker.batch(regex, completions, workers=workers), repeats)
    print(f"\n## Qwen3-VL-sized vocabulary (synthetic, {len(tok)} tokens, model vocab {QWEN3_VL_VOCAB}; built in "
          f"{t_tok:.1f} s): G={g} grammar walks of {min(lengths)}-{max(lengths)} tokens")
    print(f"TokenizerInfo {t_info:.2f} s, regex compile {t_compile:.2f} s (once per process)")
    print(f"masks: {t_masks / g * 1000:.1f} ms per completion, {t_masks * 1000:.0f} ms per group "
          f"({t_masks / sum(lengths) * 1e6:.0f} us per token); batch on {workers} threads {t_threads * 1000:.0f} ms")
    # The free-text fields' bounded repetitions ({1,32}, {0,32}) are what costs: unbounded, the masks of those
    # states no longer depend on how many characters came before, and xgrammar precomputes them.
    unbounded = regex.replace("{1,32}", "+").replace("{0,32}", "*")
    t0 = time.perf_counter()
    masker.compiled(unbounded)
    t_compile_u = time.perf_counter() - t0
    loose = walks(masker, unbounded, g, max_tokens)
    t_loose, _ = timed(lambda: [masker.masks(unbounded, ids) for ids in loose], repeats)
    per_token, per_token_loose = t_masks / sum(lengths), t_loose / sum(len(c) for c in loose)
    print(f"same regex with unbounded free text (+, *): compile {t_compile_u:.2f} s, masks "
          f"{per_token_loose * 1e6:.0f} us per token ({per_token / per_token_loose:.0f}x less)")
    packed = stack_masks(masks)
    width = packed.shape[1]
    ids = torch.zeros(g, width, dtype=torch.long)
    for i, c in enumerate(completions):
        ids[i, : len(c)] = torch.tensor(c)
    logits = torch.randn(g, width, QWEN3_VL_VOCAB, generator=torch.Generator().manual_seed(0))
    t_plain, _ = timed(lambda: sampling_logprobs(logits, ids, temperature=0.7), repeats)
    t_masked, _ = timed(lambda: sampling_logprobs(logits, ids, temperature=0.7, allowed=packed), repeats)
    print(f"sampling_logprobs on ({g}, {width}, {QWEN3_VL_VOCAB}) fp32 logits: {t_masked:.3f} s with the packed masks, "
          f"{t_plain:.3f} s without ({t_masked / t_plain:.2f}x); packed masks {packed.numel() * 4 / 2**20:.1f} MiB "
          f"for the group ({g * width * QWEN3_VL_VOCAB / 2**20:.0f} MiB as bool)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: the tiny model, built once)")
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-large", action="store_true", help="skip the Qwen3-VL-sized vocabulary section")
    args = parser.parse_args(argv)

    from halo_cli.core.models.tiny import build_tiny_model

    model_dir = args.model or build_tiny_model()
    settings = load_settings(profile="local", overrides={"model": {"name": str(model_dir), "served_name": "halo-tiny"}})
    learner = LoRALearner.from_settings(settings)
    regex = tool_call_regex(settings.grpo.constrained_actions, region=settings.grpo.constrained_region)
    max_tokens = settings.grpo.max_completion_length
    print(f"# grammar-mask bench: xgrammar {engine_version()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, learner {learner.device} {learner.dtype}; "
          f"load average {os.getloadavg()[0]:.1f} (noisy when > cores)")
    bench_tiny(learner, regex, args.group, args.repeats, max_tokens)
    if not args.no_large:
        bench_large(learner.processor.tokenizer, regex, args.group, args.repeats, max_tokens)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
