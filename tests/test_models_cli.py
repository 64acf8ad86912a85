"""`halo models build-tiny` and `halo models info` through the real CLI entry point."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import one_line_error

from halo_cli.app import main
from halo_cli.core.models.tiny import RECIPE_VERSION, read_manifest


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_build_tiny_builds_reuses_and_forces(tiny_model_dir: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "nested" / "tiny"
    assert main(["models", "build-tiny", str(target)]) == 0
    out = capsys.readouterr().out
    assert "Built the tiny Qwen3-VL" in out and str(target) in out
    assert f"{read_manifest(target)['num_parameters']:,}" in out and "MiB" in out
    assert sha(target / "model.safetensors") == sha(tiny_model_dir / "model.safetensors")

    assert main(["models", "build-tiny", str(target)]) == 0
    assert "already built" in capsys.readouterr().out

    assert main(["models", "build-tiny", str(target), "--force", "--seed", "3"]) == 0
    assert "Built" in capsys.readouterr().out
    assert read_manifest(target)["seed"] == 3


def test_build_tiny_into_a_file_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "model"
    a_file.write_text("not a folder")
    assert main(["models", "build-tiny", str(a_file)]) == 2
    assert "is not a folder" in one_line_error(capsys)
    assert a_file.read_text() == "not a folder"


def test_build_tiny_refuses_a_foreign_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mine.txt").write_text("x")
    assert main(["models", "build-tiny", str(tmp_path), "--force"]) == 2
    assert "holds no tiny-model build" in one_line_error(capsys)


def test_bad_seed_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "build-tiny", str(tmp_path / "m"), "--seed", "-1"]) == 2
    assert "seed" in one_line_error(capsys)
    assert not (tmp_path / "m").exists()


def test_info_describes_a_model_folder(tiny_model_dir: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "info", str(tiny_model_dir)]) == 0
    out = capsys.readouterr().out
    for needle in ("Qwen3VLForConditionalGeneration", "qwen3_vl", "2 layers", "deepstack", "2048 rows",
                   f"recipe {RECIPE_VERSION}, seed 0"):
        assert needle in out, out
    assert main(["models", "info", str(tmp_path / "nothing")]) == 2
    assert "model folder not found" in one_line_error(capsys)


def test_default_folder_is_the_cache(tmp_path: Path) -> None:
    """Without DIR the build lands in HALO_CACHE_DIR (a real process, so the env var is read fresh)."""
    env = {**os.environ, "HALO_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "200"}
    p = subprocess.run([sys.executable, "-m", "halo_cli.app", "models", "build-tiny"], capture_output=True,
                       text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    built = tmp_path / "cache" / "models" / "tiny-qwen3vl"
    assert (built / "model.safetensors").is_file() and str(built) in p.stdout
