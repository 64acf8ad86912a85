"""Settings: defaults, profile, TOML, HALO_* environment and CLI overrides, in that order of precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from halo_cli.core.config import (
    DEFAULT_MODEL,
    deep_merge,
    load_settings,
    overrides_from_pairs,
    server_url,
    settings_to_dict,
)
from halo_cli.core.errors import ConfigError
from halo_cli.core.paths import default_tiny_model_dir

pytestmark = pytest.mark.usefixtures("no_halo_env")


def test_production_defaults() -> None:
    s = load_settings()
    assert s.profile == "default"
    assert s.model.name == DEFAULT_MODEL == "Qwen/Qwen3-VL-8B-Instruct"
    assert (s.browser.viewport_width, s.browser.viewport_height) == (1280, 720)
    assert s.grpo.num_generations == 8
    assert s.grpo.lr == 1e-5  # LoRA: ~10x a full fine-tune's GRPO rate
    assert s.grpo.loss_type == "dr_grpo"
    assert s.lora.rank == 16
    assert s.vllm.url == "http://127.0.0.1:8000"
    assert s.vllm.host == "127.0.0.1"
    assert s.store.path == Path("runs/halo.db")
    assert not any("visual" in m for m in s.lora.target_modules)


def test_local_profile_selects_offline_setup() -> None:
    s = load_settings(profile="local")
    assert s.profile == "local"
    assert s.model.name == str(default_tiny_model_dir())
    assert s.vllm.cpu is True
    assert s.env.sites == "local"
    assert s.grpo.constrained_sampling is True
    # untouched knobs keep their defaults
    assert s.grpo.loss_type == "dr_grpo"
    assert s.browser.viewport_width == 1280


def test_precedence_defaults_profile_toml_env_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "halo.toml"
    cfg.write_text('profile = "local"\n[grpo]\nlr = 0.01\nnum_generations = 6\nepisodes = 3\n[lora]\nrank = 4\n')
    s = load_settings(config_file=cfg)
    assert s.profile == "local"  # chosen by the TOML file
    assert (s.grpo.lr, s.grpo.num_generations, s.grpo.episodes, s.lora.rank) == (0.01, 6, 3, 4)
    assert s.vllm.cpu is True  # from the profile, below the TOML

    monkeypatch.setenv("HALO_GRPO__NUM_GENERATIONS", "5")
    monkeypatch.setenv("HALO_GRPO__EPISODES", "7")
    s = load_settings(config_file=cfg)
    assert (s.grpo.lr, s.grpo.num_generations, s.grpo.episodes) == (0.01, 5, 7)

    s = load_settings(config_file=cfg, overrides={"grpo": {"episodes": 9}})
    assert (s.grpo.lr, s.grpo.num_generations, s.grpo.episodes) == (0.01, 5, 9)

    monkeypatch.setenv("HALO_PROFILE", "default")
    assert load_settings(config_file=cfg).profile == "default"  # env beats TOML
    assert load_settings(config_file=cfg, profile="local").profile == "local"  # CLI beats env


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"grpo": {"lr": -1}}, "grpo.lr"),
        ({"grpo": {"num_generations": 1}}, "grpo.num_generations"),
        ({"grpo": {"loss_type": "ppo"}}, "grpo.loss_type"),
        ({"grpo": {"temperature": 0}}, "temperature 0"),
        ({"vllm": {"url": "localhost:8000"}}, "vllm.url"),
        ({"vllm": {"port": 70000}}, "vllm.port"),
        ({"lora": {"target_modules": ["qkv"]}}, "vision tower"),
        ({"lora": {"rank": 128}}, "max_lora_rank"),
        ({"grpo": {"lr_typo": 1}}, "grpo.lr_typo: unknown setting"),
        ({"grpo": {"constrained_sampling": True, "constrained_region": [0, 0, 999]}}, "grpo.constrained_region"),
        ({"grpo": {"constrained_sampling": True, "constrained_region": [500, 0, 400, 999]}}, "x0 <= x1"),
        ({"grpo": {"constrained_sampling": True, "constrained_region": [0, 0, 1000, 999]}}, "<= 999"),
        ({"grpo": {"constrained_region": [0, 0, 999, 999]}}, "needs constrained_sampling"),
    ],
)
def test_invalid_values_name_the_field(overrides: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_settings(overrides=overrides)
    msg = str(e.value)
    assert needle in msg
    assert "\n" not in msg


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000"),  # what `halo serve` prints
        ("http://127.0.0.1:8000/v1/", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
        (" https://gpu-box.example/vllm ", "https://gpu-box.example/vllm"),
        ("http://[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_server_urls_as_users_paste_them(url: str, base: str) -> None:
    assert server_url(url) == base
    assert load_settings(overrides={"vllm": {"url": url}}).vllm.url == base


@pytest.mark.parametrize("url", ["not-a-url", "localhost:8000", "ftp://host", "http://", "http://host:99999",
                                 "http://host:8000/v1?x=1"])
def test_server_urls_that_are_not(url: str) -> None:
    with pytest.raises(ValueError):
        server_url(url)


def test_invalid_env_value_is_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALO_GRPO__LR", "fast")
    with pytest.raises(ConfigError, match="grpo.lr"):
        load_settings()


def test_bad_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(config_file=tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[grpo\nlr = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(config_file=bad)
    with pytest.raises(ConfigError, match="unknown profile"):
        load_settings(profile="gpu-cluster")


def test_set_pairs_parse_typed_values() -> None:
    o = overrides_from_pairs(["grpo.lr=3e-4", "vllm.cpu=true", "model.name=Qwen/Qwen3-VL-2B-Instruct", "lora.target_modules=['q_proj']"])
    assert o == {
        "grpo": {"lr": 3e-4},
        "vllm": {"cpu": True},
        "model": {"name": "Qwen/Qwen3-VL-2B-Instruct"},
        "lora": {"target_modules": ["q_proj"]},
    }
    s = load_settings(overrides=o)
    assert s.grpo.lr == 3e-4 and s.lora.target_modules == ["q_proj"]
    with pytest.raises(ConfigError, match="section.key=value"):
        overrides_from_pairs(["grpo.lr"])


def test_deep_merge_and_dump_round_trip() -> None:
    assert deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}, {"d": 4}) == {"a": {"b": 1, "c": 3}, "d": 4}
    s = load_settings(profile="local", overrides={"grpo": {"episodes": 2}})
    dumped = settings_to_dict(s)
    again = load_settings(profile="local", overrides=dumped)
    assert again == s


def test_settings_from_dict_reads_exactly_a_stored_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resuming a run must not pick up today's environment: only the stored dict counts."""
    from halo_cli.core.config import settings_from_dict

    stored = settings_to_dict(load_settings(profile="local", overrides={"grpo": {"episodes": 3}}))
    monkeypatch.setenv("HALO_GRPO__EPISODES", "99")
    assert settings_from_dict(stored).grpo.episodes == 3
    stored["grpo"]["lr"] = -1
    with pytest.raises(ConfigError, match="grpo.lr"):
        settings_from_dict(stored)
