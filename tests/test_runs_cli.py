"""`halo runs` as a user runs it: real processes, real store files, and an export that `datasets` loads."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_one_line_error, one_line_error, png

from halo_cli.app import main
from halo_cli.core.store import RunStore

HALO = [sys.executable, "-m", "halo_cli.app"]
REPO = Path(__file__).resolve().parents[1]


def halo(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALO_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [*HALO, *args], cwd=cwd, input=stdin if stdin is not None else "", capture_output=True, text=True,
        timeout=120, env={**env, "COLUMNS": "200"},
    )


pytestmark = pytest.mark.usefixtures("no_halo_env")


def in_process_error(code: int, capsys: pytest.CaptureFixture[str], needle: str) -> None:
    assert code == 2
    assert needle in one_line_error(capsys)


def fill(db: Path, episodes: int = 3, steps: int = 2, command: str = "grpo") -> str:
    """A small run whose rows differ in shape: parse failures, aborts, missing rewards, varied actions."""
    with RunStore(db) as store:
        run_id = store.start_run(command, {"grpo": {"lr": 1e-6}, "model": {"name": "tiny"}}, "dashdish")
        for e in range(episodes):
            ep = store.add_episode(run_id, e // 2 + 1, f"dashdish-{e}", seed=None if e == 0 else e)
            for i in range(steps):
                action = {"action": "click", "element": i} if i % 2 == 0 else {"action": "type", "text": "hi", "n": 1}
                step = store.add_step(
                    ep, i, png(e * steps + i) if (e + i) % 3 else None, url=f"http://dashdish.local/{i}",
                    action=action, reward=None if e == 2 else float(i), reward_components={"progress": i},
                    done=i == steps - 1, timings={"policy_s": 0.5},
                )
                store.add_samples(
                    step,
                    [
                        {"text": "click(0)", "action": {"action": "click", "element": 0}, "token_count": 4,
                         "logprob_sum": -1.5, "reward": 1.0, "advantage": 0.5, "finish_reason": "stop"},
                        {"text": "garbage", "parse_error": "no action found"},
                    ],
                )
            if e == 1:
                store.finish_episode(ep, "aborted", reason="browser crashed")
            else:
                store.finish_episode(ep, success=e == 0)
            store.log_metrics(run_id, e + 1, {"success_rate": 0.5 * (e % 2), "loss": 1.0})
        store.add_adapter(run_id, 1, "/ckpt/1", loaded=True)
        store.finish_run(run_id, "finished")
    return run_id


# -- list -----------------------------------------------------------------------------------------------


def test_list_on_missing_store_prints_header_and_creates_nothing(tmp_path: Path) -> None:
    p = halo("runs", "list", cwd=tmp_path)  # default store: runs/halo.db under the working directory
    assert p.returncode == 0, p.stderr
    for header in ("id", "command", "domain", "status", "iterations", "best success", "started"):
        assert header in p.stdout
    assert list(tmp_path.iterdir()) == []


def test_list_with_db_on_missing_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "list", "--db", str(tmp_path / "x" / "h.db")]) == 0
    assert "iterations" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_list_shows_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.db"
    run_id = fill(db)
    with RunStore(db) as store:
        empty = store.start_run("eval", {})
    assert main(["runs", "list", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert run_id in out and empty in out and "finished" in out and "running" in out
    assert "50.0%" in out  # best success rate
    assert out.index(empty) < out.index(run_id)  # newest first
    assert main(["runs", "--db", str(db), "list"]) == 0  # --db also on the group
    assert run_id in capsys.readouterr().out


# -- show -----------------------------------------------------------------------------------------------


def test_show_unknown_run_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(halo("runs", "show", "nope", cwd=tmp_path), "nope")
    assert not (tmp_path / "runs").exists()


def test_show_unknown_run_in_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.db"
    fill(db)
    in_process_error(main(["runs", "show", "nope", "--db", str(db)]), capsys, "unknown run 'nope'")


def test_show_prints_config_and_last_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.db"
    run_id = fill(db)
    assert main(["runs", "show", run_id[:10], "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert run_id in out and '"lr": 1e-06' in out and '"name": "tiny"' in out
    assert "success_rate" in out and "loss" in out and "v1 (loaded)" in out


def test_ambiguous_prefix_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.db"
    fill(db, episodes=1)
    fill(db, episodes=1)
    assert main(["runs", "show", "grpo", "--db", str(db)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("halo: error: ") and "ambiguous" in err[0]


# -- export ---------------------------------------------------------------------------------------------


def test_export_loads_with_datasets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    datasets = pytest.importorskip("datasets")
    db = tmp_path / "h.db"
    run_id = fill(db, episodes=5, steps=3)
    out = tmp_path / "export"
    assert main(["runs", "export", run_id, "--format", "jsonl", "--out", str(out), "--db", str(db)]) == 0
    assert "wrote 5 trajectories" in capsys.readouterr().out
    jsonl = out / "trajectories.jsonl"

    ds = datasets.load_dataset("json", data_files=str(jsonl), split="train", cache_dir=str(tmp_path / "hf"))
    assert ds.num_rows == 5
    row = ds[0]
    assert row["run_id"] == run_id and row["task_id"] == "dashdish-0" and row["success"] is True
    assert len(row["steps"]) == 3 and len(row["steps"][0]["samples"]) == 2
    assert json.loads(row["steps"][0]["action"]) == {"action": "click", "element": 0}
    assert json.loads(row["steps"][1]["action"]) == {"action": "type", "text": "hi", "n": 1}
    assert row["steps"][0]["samples"][1]["parse_error"] == "no action found"
    assert json.loads(row["steps"][0]["samples"][1]["action"]) is None
    aborted = ds[1]
    assert aborted["status"] == "aborted" and aborted["reason"] == "browser crashed"
    assert math.isnan(ds[2]["steps"][0]["reward"])  # never rewarded
    shots = [s["screenshot"] for r in ds for s in r["steps"] if s["screenshot"]]
    assert shots and all((out / rel).read_bytes()[:4] == b"\x89PNG" for rel in shots)
    assert len(list((out / "screenshots").iterdir())) == len(set(shots))
    meta = json.loads((out / "run.json").read_text())
    assert meta["id"] == run_id and meta["config"]["grpo"]["lr"] == 1e-6 and meta["trajectories"] == 5


def test_export_types_hold_across_datasets_blocks(tmp_path: Path) -> None:
    """`datasets` types columns from its first block: values missing there and present later must still load."""
    datasets = pytest.importorskip("datasets")
    db = tmp_path / "h.db"
    with RunStore(db) as store:
        run_id = store.start_run("grpo", {})
        for e in range(60):
            late = e >= 50  # everything optional appears only at the end of the file
            ep = store.add_episode(run_id, e, f"t-{e}", seed=e if late else None)
            step = store.add_step(ep, 0, png(e) if late else None, reward=1.0 if late else None,
                                  error="boom" if late else None, url="http://x" if late else None)
            store.add_samples(step, [{"text": "x" * 50, "reward": 1.0 if late else None,
                                      "advantage": 0.0 if late else None, "parse_error": "bad" if late else None}])
            store.finish_episode(ep, "aborted" if late else "finished", reason="r" if late else None,
                                 success=True if late else None)
    from halo_cli.core.store import export_jsonl

    result = export_jsonl(RunStore(db), run_id, tmp_path / "out")
    ds = datasets.load_dataset(
        "json", data_files=str(result.path), split="train", cache_dir=str(tmp_path / "hf"), chunksize=2048
    )
    assert ds.num_rows == 60
    assert ds[59]["reason"] == "r" and ds[59]["seed"] == 59 and ds[59]["steps"][0]["error"] == "boom"
    assert ds[0]["seed"] == -1 and ds[0]["reason"] == "" and math.isnan(ds[0]["steps"][0]["reward"])


def test_export_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.db"
    run_id = fill(db, episodes=1)
    in_process_error(main(["runs", "export", run_id, "--format", "csv", "--db", str(db)]), capsys, "csv")
    in_process_error(main(["runs", "export", "nope", "--db", str(db)]), capsys, "nope")
    assert not (tmp_path / "exports").exists()


def test_export_default_folder_is_beside_the_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "store" / "h.db"
    run_id = fill(db, episodes=1)
    assert main(["runs", "export", run_id, "--db", str(db)]) == 0
    assert (tmp_path / "store" / "exports" / run_id / "trajectories.jsonl").is_file()


# -- delete ---------------------------------------------------------------------------------------------


def test_delete_asks_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.db"
    run_id = fill(db)
    p = halo("runs", "delete", run_id, "--db", str(db), cwd=tmp_path, stdin="n\n")
    assert p.returncode == 0, p.stderr
    assert "Delete run" in p.stdout and "kept" in p.stdout
    with RunStore(db) as store:
        assert store.get_run(run_id).id == run_id

    assert main(["runs", "delete", run_id[:12], "--yes", "--db", str(db)]) == 0
    assert f"deleted run {run_id}" in capsys.readouterr().out
    with RunStore(db) as store:
        assert store.list_runs() == []
        assert all(store.db[t].count == 0 for t in ("episodes", "steps", "samples", "screenshots", "metrics"))


def test_delete_confirmed_interactively_and_unknown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "h.db"
    run_id = fill(db, episodes=1)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no answer at all is not a yes
    in_process_error(main(["runs", "delete", run_id, "--db", str(db)]), capsys, "not deleted")
    with RunStore(db) as store:
        assert store.get_run(run_id).id == run_id
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert main(["runs", "delete", run_id, "--db", str(db)]) == 0
    assert "deleted" in capsys.readouterr().out
    in_process_error(main(["runs", "delete", run_id, "--yes", "--db", str(db)]), capsys, run_id)


def test_export_of_a_run_without_episodes_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`datasets` cannot load a split of zero rows from any file, so an empty export is refused, not written."""
    db = tmp_path / "h.db"
    with RunStore(db) as store:
        run_id = store.start_run("train grpo", {})
        store.finish_run(run_id, "failed")
    out = tmp_path / "out"
    in_process_error(main(["runs", "export", run_id, "--out", str(out), "--db", str(db)]), capsys, "no episodes")
    assert not out.exists()


# -- stores that cannot be written, runs whose process is gone ------------------------------------------


def halo_read_only(folder: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`halo` run where `folder` cannot be written: a read-only bind mount in a mount namespace of its own when we
    are root (root writes through any permission bits), else permission bits."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALO_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["COLUMNS"] = "200"
    if os.geteuid() == 0:
        cmd = ["unshare", "--mount", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(folder), *HALO,
               *args]
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, env=env, input="")
        if p.returncode != 0 and "mount" in p.stderr and "halo" not in p.stderr:
            pytest.skip(f"cannot make a read-only folder as root here: {p.stderr.strip()}")
        return p
    modes = {path: path.stat().st_mode for path in [folder, *folder.iterdir()]}
    try:
        for path in modes:
            path.chmod(0o555 if path.is_dir() else 0o444)
        return subprocess.run([*HALO, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env, input="")
    finally:
        for path, mode in modes.items():
            path.chmod(mode)


def test_a_read_only_store_can_be_inspected(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    db = folder / "h.db"
    run_id = fill(db, episodes=2)
    listed = halo_read_only(folder, "runs", "list", "--db", str(db), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert run_id in listed.stdout and "finished" in listed.stdout
    shown = halo_read_only(folder, "runs", "show", run_id, "--db", str(db), cwd=tmp_path)
    assert shown.returncode == 0 and '"lr": 1e-06' in shown.stdout, shown.stderr
    out = tmp_path / "export"
    exported = halo_read_only(folder, "runs", "export", run_id, "--out", str(out), "--db", str(db), cwd=tmp_path)
    assert exported.returncode == 0 and "wrote 2 trajectories" in exported.stdout, exported.stderr
    assert len((out / "trajectories.jsonl").read_text().splitlines()) == 2

    # What needs to write says why it cannot, in one line.
    why = ("read-only file system", "not writable")
    beside = halo_read_only(folder, "runs", "export", run_id, "--db", str(db), cwd=tmp_path)
    assert_one_line_error(beside, "cannot write the export")
    assert "--out" in beside.stderr
    deleted = halo_read_only(folder, "runs", "delete", run_id, "--yes", "--db", str(db), cwd=tmp_path)
    assert_one_line_error(deleted, f"cannot write run store {db}")
    assert any(w in deleted.stderr for w in why)
    train = halo_read_only(folder, "--set", f"store.path={db}", "train", "grpo", "--domain", "miniwob:click-test",
                           cwd=tmp_path)
    assert_one_line_error(train, f"cannot write run store {db}")
    with RunStore(db, create=False) as store:
        assert [r.id for r in store.list_runs()] == [run_id]  # nothing was changed or added


RUN_OWNER = """
import sys
from halo_cli.core.store import RunStore
with RunStore(sys.argv[1]) as store:
    print(store.start_run("train grpo", {}, "miniwob"), flush=True)
    sys.stdin.read()  # running until the test closes our stdin or kills us
"""


def run_owner(db: Path) -> tuple[subprocess.Popen[str], str]:
    """A process that starts a run and stays alive, as a trainer does, until killed."""
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", RUN_OWNER, str(db)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def test_a_run_whose_process_is_gone_shows_as_dead(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    finished = fill(db, episodes=1)
    owner, live = run_owner(db)
    killed, dead = run_owner(db)
    try:
        killed.kill()
        killed.wait()
        listed = halo("runs", "list", "--db", str(db), cwd=tmp_path).stdout.splitlines()
        rows = {line.split()[0]: line for line in listed if line.split() and line.split()[0] in (finished, live, dead)}
        assert " dead " in rows[dead] and " running " in rows[live] and " finished " in rows[finished]
        shown = halo("runs", "show", dead, "--db", str(db), cwd=tmp_path)
        assert f"dead (recorded as running, but its process {killed.pid} on" in shown.stdout
        with RunStore(db, create=False) as store:
            assert store.get_run(dead).status == "running"  # the record itself is left as the run wrote it
            assert store.get_run(dead).dead and not store.get_run(live).dead
            assert store.get_run(live).pid == owner.pid and store.get_run(live).pid_start
    finally:
        for proc in (owner, killed):
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
