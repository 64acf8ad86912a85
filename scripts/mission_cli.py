"""The mission's entry points (`scripts/train_online_grpo.py`, `scripts/train_mcts.py`) as thin translators.

The mission names its flags with underscores (`--policy_url`, `--num_generations`); halo's commands spell them
with hyphens. These scripts accept exactly the mission's flags, translate them and call the same Typer app as
`halo train grpo` / `halo train mcts`, so the two ways in cannot drift apart. An unknown flag is one error line and
exit 2, as for `halo` itself.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

# Run as a file (`python scripts/train_mcts.py`): the repository's own halo_cli comes first.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

COMMON = {
    "policy_url": "a running vLLM server (halo serve); without it one is started and stopped",
    "domain": "tasks: a domain (gomail), a task id (v2.gomail-1), drill:sequence@0, ...",
    "episodes": "task episodes (grpo) or searches (mcts) to train on",
    "lr": "learning rate of the LoRA weights",
    "sites": "REAL sites: hosted | local | site=URL,...",
    "seed": "seed of the run",
    "resume": "continue a run (its id) from its last checkpoint",
    "profile": "settings profile: default | local",
    "config": "TOML settings file",
}


def usage(script: str, command: str, flags: Mapping[str, str]) -> str:
    width = max(len(f) for f in flags) + 2
    lines = [f"usage: {script} [--FLAG VALUE ...]", "",
             f"Runs `halo train {command}` (see `halo train {command} --help` for the settings behind each flag).", "",
             "flags:"]
    lines += [f"  --{name:<{width}} {text}" for name, text in flags.items()]
    return "\n".join(lines)


def translate(argv: Sequence[str], flags: Mapping[str, str]) -> list[str]:
    """The mission's `--flag_name value` / `--flag_name=value` as halo's `--flag-name value`; raises ValueError
    naming an unknown flag."""
    out: list[str] = []
    for arg in argv:
        if arg.startswith("--"):
            name, sep, value = arg[2:].partition("=")
            if name not in flags:
                raise ValueError(f"unknown flag --{name} (known: {', '.join('--' + f for f in flags)})")
            out.append("--" + name.replace("_", "-"))
            if sep:
                out.append(value)
        else:
            out.append(arg)
    return out


def run(script: str, command: str, flags: Mapping[str, str], argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "-h" in args or "--help" in args:
        print(usage(script, command, flags))
        return 0
    try:
        translated = translate(args, flags)
    except ValueError as e:
        print(f"halo: error: {e}", file=sys.stderr)
        return 2
    from halo_cli.app import main

    return main(["train", command, *translated])
