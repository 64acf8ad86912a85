"""A site that fails its resets: tried again after a growing pause, then the episode dropped (aborted, counted), and
a run that fails only when a whole iteration's episodes were dropped. Real faults: a REAL site pointed at a port
nothing listens on, and the local sites started only after the first reset was refused."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from halo_cli.core.policy.server import VLLMServer, free_port
from halo_cli.core.store import RunStore

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

HALO = [sys.executable, "-m", "halo_cli.app"]


def halo_args(tiny_model_dir: Path, db: Path, *extra: str) -> list[str]:
    return [*HALO, "--profile", "local", "--set", f"model.name={tiny_model_dir}", "--set", f"store.path={db}",
            "--set", "grpo.concurrent_episodes=1", *extra]


def test_a_site_that_comes_up_late_is_retried(tiny_model_dir: Path, vllm_server: VLLMServer, tmp_path: Path) -> None:
    base = free_port()
    while base + 3 > 65532:
        base = free_port()
    db = tmp_path / "halo.db"
    cmd = [*halo_args(tiny_model_dir, db, "--set", "env.reset_retries=8", "--set", "env.reset_backoff_s=0.5"),
           "train", "grpo", "--domain", "v2.zilloft-3", "--sites", f"local,zilloft=http://127.0.0.1:{base + 3}",
           "--policy-url", vllm_server.url, "--episodes", "1", "--max-steps", "1", "--num-generations", "2"]
    trainer = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                               env={**os.environ, "COLUMNS": "300"})
    assert trainer.stderr is not None
    site = None
    lines: list[str] = []
    try:
        # Read until the trainer says the refused reset is tried again; only then does the site come up.
        for line in trainer.stderr:
            lines.append(line)
            if "ERR_CONNECTION_REFUSED" in line and "trying again in" in line:
                break
        assert trainer.poll() is None, "".join(lines)[-3000:]
        site = subprocess.Popen([*HALO, "sites", "serve", "--port", str(base), "--site", "zilloft"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
        rest = trainer.stderr.read()
        trainer.wait(timeout=600)
        err = "".join(lines) + rest
    finally:
        for p in (trainer, site):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    assert trainer.returncode == 0, err[-3000:]
    with RunStore(db, create=False) as store:
        (run,) = store.list_runs()
        metrics = store.last_metrics(run.id)
        assert metrics["env_site_retries"].value >= 1 and metrics["dropped_episodes"].value == 0
        (episode,) = store.list_episodes(run.id)
        assert episode.status == "finished" and episode.outcome["criteria"][0]["script"] == "eval_zilloft_3.py"


def test_an_unreachable_site_drops_its_episodes(tiny_model_dir: Path, vllm_server: VLLMServer, tmp_path: Path) -> None:
    """Eval goes on without the unreachable site's episodes (aborted, with the reason); a training run whose every
    episode of an iteration was dropped fails in one line."""
    closed = free_port()
    db = tmp_path / "halo.db"
    retries = ("--set", "env.reset_retries=1", "--set", "env.reset_backoff_s=0.2")
    sites = f"local,omnizon=http://127.0.0.1:{closed}"
    t0 = time.perf_counter()
    p = subprocess.run([*halo_args(tiny_model_dir, db, *retries), "eval", "--domain", "v2.zilloft-3,v2.omnizon-13",
                        "--sites", sites, "--max-steps", "1", "--policy-url", vllm_server.url],
                       capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    with RunStore(db, create=False) as store:
        (run,) = store.list_runs()
        by_task = {e.task_id: e for e in store.list_episodes(run.id)}
        assert by_task["v2.zilloft-3"].status == "finished"
        dropped = by_task["v2.omnizon-13"]
        assert dropped.status == "aborted" and dropped.length == 0
        assert dropped.reason and dropped.reason.startswith(
            f"site unreachable: omnizon reset (/config) at http://127.0.0.1:{closed}/config?")
        assert "ERR_CONNECTION_REFUSED" in dropped.reason
        assert store.last_metrics(run.id)["aborted_episodes"].value == 1
    print(f"eval with one unreachable site: {time.perf_counter() - t0:.1f} s")

    p = subprocess.run([*halo_args(tiny_model_dir, db, *retries), "train", "grpo", "--domain", "v2.omnizon-13",
                        "--sites", sites, "--episodes", "2", "--max-steps", "1", "--num-generations", "2",
                        "--policy-url", vllm_server.url], capture_output=True, text=True, timeout=600, cwd=tmp_path,
                       env={**os.environ, "COLUMNS": "300"})
    assert p.returncode == 2, p.stderr[-3000:]
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("halo: error: every episode of iteration 1 was dropped: site unreachable: omnizon reset "
                           f"(/config) at http://127.0.0.1:{closed}/config?"), p.stderr
    assert "Traceback" not in p.stderr
    with RunStore(db, create=False) as store:
        train = next(r for r in store.list_runs() if r.command == "train grpo")
        assert train.status == "failed"
        assert {e.status for e in store.list_episodes(train.id)} == {"aborted"}
