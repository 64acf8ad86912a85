"""The run store against real processes: SIGKILL loses nothing committed, and readers run beside the writer."""

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

from halo_cli.core.store import RunStore

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
        first = self.next_line()
        assert first.startswith("run "), first
        self.run_id = first.split()[1]

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
