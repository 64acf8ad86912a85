"""The run store against real processes: SIGKILL loses nothing committed, readers run beside the writer, several
writers share one file, and a lock held too long is one clear error."""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from halo_cli.core.store import RunStore, StoreError

WRITER = Path(__file__).with_name("store_writer.py")
# Only a guard against a hung child: nothing here asserts on how long anything takes.
LINE_WAIT_S = 120


class Writer:
    """The writer subprocess, with its stdout read by a thread so a stuck child fails the test, not hangs it."""

    def __init__(self, db: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(WRITER), str(db), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self._run_id: str | None = None

    @property
    def run_id(self) -> str:
        """The run the writer started (waits for it: several writers can be launched before any has started)."""
        if self._run_id is None:
            first = self.next_line()
            assert first.startswith("run "), first
            self._run_id = first.split()[1]
        return self._run_id

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def next_line(self) -> str:
        try:
            line = self.lines.get(timeout=LINE_WAIT_S)
        except queue.Empty:
            pytest.fail("the writer reported nothing")
        if line is None:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            pytest.fail(f"the writer exited early ({self.proc.wait()}): {err}")
        return line

    def step_ids(self, n: int) -> list[int]:
        return [int(self.next_line()) for _ in range(n)]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "halo.db"


@pytest.fixture
def writer(db: Path) -> Iterator[Writer]:
    w = Writer(db)
    assert w.run_id
    try:
        yield w
    finally:
        w.stop()


def present(path: Path, ids: list[int]) -> set[int]:
    con = sqlite3.connect(str(path))
    try:
        marks = ",".join("?" * len(ids))
        return {r[0] for r in con.execute(f"select id from steps where id in ({marks})", ids)}
    finally:
        con.close()


def test_sigkill_loses_no_reported_step(db: Path, writer: Writer) -> None:
    reported = writer.step_ids(40)
    os.kill(writer.proc.pid, signal.SIGKILL)
    assert writer.proc.wait() == -signal.SIGKILL
    # Lines already in the pipe were printed after their commit too.
    while (line := writer.lines.get(timeout=LINE_WAIT_S)) is not None:
        reported.append(int(line))

    con = sqlite3.connect(str(db))
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        con.close()
    assert present(db, reported) == set(reported)

    with RunStore(db) as store:  # the killed file opens and takes writes again
        run = store.get_run(writer.run_id)
        assert run.status == "running"  # it never got to finish
        samples = store.db.execute(
            f"select count(*) from samples where step_id in ({','.join('?' * len(reported))})", reported
        ).fetchone()[0]
        assert samples == 2 * len(reported)  # the writer prints a step once its samples are in too
        store.finish_run(run.id, "aborted")
        assert store.get_run(run.id).status == "aborted"


def test_reader_sees_commits_while_writer_runs(db: Path, writer: Writer) -> None:
    first = writer.step_ids(5)
    with RunStore(db, create=False) as reader:
        assert present(db, first) == set(first)
        assert [r.id for r in reader.list_runs()] == [writer.run_id]

        # An open read transaction (a dashboard mid-query) must not stall training under WAL.
        snapshot = sqlite3.connect(str(db))
        try:
            snapshot.execute("BEGIN")
            seen = snapshot.execute("select max(id) from steps").fetchone()[0]
            # The writer runs ahead of its pipe: wait for a step committed after the snapshot was taken.
            more = writer.step_ids(5)
            while more[-1] <= seen:
                more += writer.step_ids(1)
            assert snapshot.execute("select max(id) from steps").fetchone()[0] == seen  # a stable snapshot
            snapshot.execute("COMMIT")
            assert snapshot.execute("select max(id) from steps").fetchone()[0] >= more[-1]
        finally:
            snapshot.close()

        # The same open RunStore sees new commits on its next query.
        assert present(db, more) == set(more)
        episodes = reader.list_episodes(writer.run_id)
        assert episodes and all(e.run_id == writer.run_id for e in episodes)
        steps = reader.list_steps(episodes[0].id)
        assert steps and reader.get_screenshot(steps[0].screenshot)[:4] == b"\x89PNG"
        assert writer.proc.poll() is None  # still writing throughout


def test_writer_that_finishes_leaves_a_consistent_run(db: Path) -> None:
    w = Writer(db, "--steps", "25")
    try:
        assert w.run_id
        ids = w.step_ids(25)
        assert w.proc.wait(timeout=LINE_WAIT_S) == 0
    finally:
        w.stop()
    with RunStore(db, create=False) as store:
        run = store.get_run(w.run_id)
        assert run.status == "finished" and run.ended is not None
        assert run.config["writer"] is True
        got = [s.id for e in store.list_episodes(run.id) for s in store.list_steps(e.id)]
        assert got == ids
        assert store.db["screenshots"].count == 7  # 25 screenshots, 7 distinct
        assert all(e.status == "finished" for e in store.list_episodes(run.id))


def test_two_writers_and_a_reader_share_one_store(db: Path) -> None:
    """Two training-like processes and a reader on one file: before BEGIN IMMEDIATE, a writer whose transaction
    read first (finish_episode, add_episode) died at once with "database is locked" when the other committed."""
    # Both launched before either starts; an episode every 2 steps: 75 read-then-write transactions each.
    writers = [Writer(db, "--steps", "150", "--episode-steps", "2") for _ in range(2)]
    try:
        assert writers[0].run_id and writers[1].run_id
        reads = 0
        with RunStore(db, create=False) as reader:
            while any(w.proc.poll() is None for w in writers):
                runs = reader.list_runs()
                assert {r.id for r in runs} == {w.run_id for w in writers}
                for r in runs:
                    for e in reader.list_episodes(r.id)[-2:]:
                        reader.list_steps(e.id)
                reads += 1
        ids = [w.step_ids(150) for w in writers]
        for w in writers:
            assert w.proc.wait(timeout=LINE_WAIT_S) == 0, w.proc.stderr.read() if w.proc.stderr else ""
    finally:
        for w in writers:
            w.stop()
    assert reads > 0
    with RunStore(db, create=False) as store:
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for w, mine in zip(writers, ids):
            run = store.get_run(w.run_id)
            assert run.status == "finished"
            got = [s.id for e in store.list_episodes(run.id) for s in store.list_steps(e.id)]
            assert got == mine and len(mine) == 150
            assert all(e.status == "finished" for e in store.list_episodes(run.id))
        assert store.db["samples"].count == 2 * 300


HOLD_LOCK = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")
con.execute("insert into runs (id, command, config, status, started) values ('holder', 'x', '{}', 'running', 'now')")
print("locked", flush=True)
con.execute("COMMIT" if sys.stdin.readline().strip() == "commit" else "ROLLBACK")
"""


class LockHolder:
    """Another process holding the store's write lock (a transaction with a row in it) until told to end it."""

    def __init__(self, db: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "locked"

    def end(self, how: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(how + "\n")
        self.proc.stdin.close()
        assert self.proc.wait(timeout=LINE_WAIT_S) == 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def test_a_read_then_write_transaction_survives_another_commit(db: Path) -> None:
    """The exact interleaving that failed: finish_episode reads (the step count) and then writes, while another
    process holds the write lock and then commits. A deferred transaction's stale read cannot become a write
    ("database is locked" at once, whatever the busy timeout); BEGIN IMMEDIATE waits for the lock first."""
    with RunStore(db) as store:
        run_id = store.start_run("train grpo", {})
        episode = store.add_episode(run_id, 1, "t")
        store.add_step(episode, 0, None, reward=1.0)
        holder = LockHolder(db)
        try:
            errors: list[BaseException] = []

            def finish() -> None:
                try:
                    store.finish_episode(episode)
                except BaseException as e:  # noqa: BLE001 - handed to the test thread
                    errors.append(e)

            t = threading.Thread(target=finish)
            t.start()
            t.join(0.5)  # let it start its transaction and wait on the holder's lock
            holder.end("commit")
            t.join(LINE_WAIT_S)
            assert errors == []
        finally:
            holder.stop()
        assert store.get_episode(episode).status == "finished" and store.get_episode(episode).length == 1
        assert {r.id for r in store.list_runs()} == {run_id, "holder"}


def test_a_lock_held_too_long_is_one_clear_error(db: Path) -> None:
    """Another process holds the write lock past the busy timeout and its retries: a StoreError that says so, reads
    still answer, and the write goes through once the lock is released."""
    RunStore(db).close()
    holder = LockHolder(db)
    try:
        with RunStore(db, create=False, busy_timeout_s=0.2, lock_retries=2) as store:
            with pytest.raises(StoreError, match=r"stayed locked by another process .*3 waits of 0.2 s") as err:
                store.start_run("train grpo", {})
            assert "\n" not in str(err.value)
            assert store.list_runs() == []  # reading does not need the lock
            holder.end("rollback")
            run_id = store.start_run("train grpo", {})
            assert [r.id for r in store.list_runs()] == [run_id]
    finally:
        holder.stop()
