"""The README's two newcomer commands stay true: CI runs the second one verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", section, flags=re.S)]


def test_exactly_two_quick_start_commands() -> None:
    cmds = quick_start_commands()
    assert len(cmds) == 2, cmds
    assert all("\n" not in c for c in cmds), "each is one line a newcomer copies"
    assert all(c.startswith("bash scripts/install.sh && ") for c in cmds)
    assert "train grpo --profile local" in cmds[0]
    assert "pytest" in cmds[1]


def test_the_main_job_config_is_the_learning_tests() -> None:
    """The main job's `--config` file exists and is the one tests/test_learning.py shows learning with."""
    configs = re.findall(r"--config (\S+)", quick_start_commands()[0])
    assert configs and all((ROOT / c).is_file() for c in configs)
    learning = (ROOT / "tests" / "test_learning.py").read_text()
    assert all(f'"{Path(c).parent.name}" / "{Path(c).name}"' in learning for c in configs)


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == quick_start_commands()[1]
