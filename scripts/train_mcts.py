"""The mission's `train_mcts.py`: Agent-Q-style tree search, i.e. `halo train mcts` with underscore flags.

    .venv/bin/python scripts/train_mcts.py --domain drill:sequence@0 --profile local --num_simulations 20
"""

from __future__ import annotations

import sys

from mission_cli import COMMON, run

FLAGS = {
    **COMMON,
    "num_simulations": "simulations per search",
    "ucb_c": "exploration constant C of UCB1",
    "expand_k": "actions sampled (one request) when a node is expanded",
    "alpha": "weight of the self-critique in a node's value",
    "max_depth": "actions from the root at most",
}

if __name__ == "__main__":
    sys.exit(run("scripts/train_mcts.py", "mcts", FLAGS))
