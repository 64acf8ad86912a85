"""The mission's `train_online_grpo.py`: online GRPO, i.e. `halo train grpo` with underscore flags.

    .venv/bin/python scripts/train_online_grpo.py --domain miniwob:click-test --profile local --num_generations 8
"""

from __future__ import annotations

import sys

from mission_cli import COMMON, run

FLAGS = {
    **COMMON,
    "num_generations": "group size G: actions sampled per state (step groups) or episodes per task",
    "group": "grouping: step | episode | gigpo",
    "max_steps": "step budget of an episode",
    "lora_rank": "LoRA rank",
}

if __name__ == "__main__":
    sys.exit(run("scripts/train_online_grpo.py", "grpo", FLAGS))
