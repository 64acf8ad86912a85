"""The `halo` command line as a user meets it: help, version, and one-line errors with exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_one_line_error

from halo_cli import __version__

HALO = [sys.executable, "-m", "halo_cli.app"]


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HALO, *args], capture_output=True, text=True, cwd=cwd, timeout=120,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def test_help_lists_command_groups() -> None:
    p = run("--help")
    assert p.returncode == 0, p.stderr
    for group in ("runs", "models"):
        assert group in p.stdout
    assert "--config" in p.stdout and "--profile" in p.stdout and "--version" in p.stdout


def test_no_arguments_shows_help() -> None:
    p = run()
    assert "Usage" in p.stdout + p.stderr
    assert "Traceback" not in p.stderr


def test_version() -> None:
    p = run("--version")
    assert p.returncode == 0
    assert p.stdout.strip() == f"halo {__version__}"


def test_console_script_installed() -> None:
    script = Path(sys.executable).with_name("halo")
    assert script.exists()
    p = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and __version__ in p.stdout


def test_unknown_command_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(run("fly", cwd=tmp_path), "No such command")


def test_unknown_option_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(run("runs", "list", "--colour", cwd=tmp_path), "--colour")


def test_missing_config_file_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(run("--config", str(tmp_path / "nope.toml"), "runs", "list", cwd=tmp_path), "not found")


def test_invalid_setting_is_one_line(tmp_path: Path) -> None:
    p = run("--set", "grpo.lr=-5", "runs", "list", cwd=tmp_path)
    assert_one_line_error(p, "grpo.lr")


def test_invalid_env_setting_is_one_line(tmp_path: Path) -> None:
    p = run("runs", "list", cwd=tmp_path, env={"HALO_VLLM__PORT": "http"})
    assert_one_line_error(p, "vllm.port")


def test_debug_shows_traceback(tmp_path: Path) -> None:
    p = run("--debug", "--config", str(tmp_path / "nope.toml"), "runs", "list", cwd=tmp_path)
    assert p.returncode != 0
    assert "Traceback" in p.stderr and "ConfigError" in p.stderr


def test_main_returns_exit_code_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from halo_cli.app import main

    assert main(["--version"]) == 0
    assert main(["--profile", "cloud", "runs", "list", "--db", str(tmp_path / "h.db")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [err[0]] and "unknown profile" in err[0]
