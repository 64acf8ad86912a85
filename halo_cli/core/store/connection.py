"""Opening a run store file and writing to it safely while other processes write to it too.

Several processes share one store (two training runs, a run and `halo eval`, a dashboard). Under WAL, a
transaction that starts as a read (Python's default deferred BEGIN, then a SELECT) and later writes fails at
once with "database is locked" when another process committed in between: SQLite cannot upgrade a stale read
snapshot, and the busy timeout does not apply to that case. So every write transaction here starts with
``BEGIN IMMEDIATE``, which takes the write lock first and waits (busy timeout) for it; a lock held longer than
the busy timeout is waited for again a bounded number of times, and then the write fails with one `StoreError`
line that says who holds what.

A store that cannot be written (a read-only file system, a file or folder without write permission) is opened
read-only, so that `halo runs list/show/export` still work on it; a write to it raises a `StoreError` that says
why it is read-only.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from halo_cli.core.store.schema import StoreError

# Long enough for a dashboard query or a checkpoint to finish; short enough that a truly stuck lock surfaces.
BUSY_TIMEOUT_S = 30.0
# A write lock still held after the busy timeout is waited for this many more times before a write gives up.
LOCK_RETRIES = 3

_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_CANTOPEN = 14


def error_code(e: sqlite3.Error) -> int | None:
    """SQLite's primary result code of an error (the extended code's low byte), when Python gives one."""
    code = getattr(e, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def is_locked(e: sqlite3.Error) -> bool:
    return error_code(e) in (_SQLITE_BUSY, _SQLITE_LOCKED) or "database is locked" in str(e)


def read_only_reason(path: Path) -> str | None:
    """Why the store at `path` cannot be written, or None when it can.

    The folder counts too: SQLite creates the write-ahead log and its index beside the file.
    """
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "it is on a read-only file system"
    except (OSError, AttributeError):  # statvfs is POSIX only
        pass
    if not os.access(path, os.W_OK):
        return "the file is not writable by this user"
    folder = path.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"its folder {folder} is not writable by this user (SQLite writes its journal there)"
    return None


def connect(path: Path, *, read_only: bool, busy_timeout_s: float) -> sqlite3.Connection:
    """A connection to the store file; `read_only` opens it with `mode=ro`, which needs no write access.

    A read-only WAL store whose folder cannot be written has no shared-memory index to read through; when it has
    no write-ahead log either (every commit is in the main file), it is opened as immutable instead.
    """
    if not read_only:
        return sqlite3.connect(str(path), timeout=busy_timeout_s, check_same_thread=False)
    uri = path.resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout_s, check_same_thread=False)
    try:
        conn.execute("select count(*) from sqlite_master").fetchone()
        return conn
    except sqlite3.DatabaseError as e:
        conn.close()
        if error_code(e) != _SQLITE_CANTOPEN and "unable to open" not in str(e):
            raise
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        raise StoreError(
            f"cannot read run store {path}: it is read-only and its write-ahead log {wal.name} holds commits that "
            "only a writer can read; copy both files to a writable folder and open the copy"
        )
    return sqlite3.connect(uri + "&immutable=1", uri=True, timeout=busy_timeout_s, check_same_thread=False)


@contextmanager
def write_transaction(
    conn: sqlite3.Connection, path: Path, *, busy_timeout_s: float, retries: int = LOCK_RETRIES
) -> Iterator[None]:
    """One write transaction: `BEGIN IMMEDIATE` (retried while another process holds the write lock), the body,
    then COMMIT; ROLLBACK when the body raises. Nested calls are not supported: callers hold one at a time."""
    _retry_locked(conn, "BEGIN IMMEDIATE", path, busy_timeout_s, retries)
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        # Under WAL a COMMIT by the lock holder does not wait for readers; retried all the same, as SQLite allows.
        _retry_locked(conn, "COMMIT", path, busy_timeout_s, retries)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _retry_locked(conn: sqlite3.Connection, sql: str, path: Path, busy_timeout_s: float, retries: int) -> None:
    t0 = time.monotonic()
    for attempt in range(retries + 1):
        try:
            conn.execute(sql)
            return
        except sqlite3.OperationalError as e:
            if error_code(e) == _SQLITE_READONLY:
                raise StoreError(f"cannot write run store {path}: {e}") from None
            if not is_locked(e):
                raise
            if attempt == retries:
                raise StoreError(
                    f"run store {path} stayed locked by another process for {time.monotonic() - t0:.0f} s "
                    f"({retries + 1} waits of {busy_timeout_s:g} s); is a process stuck holding a write "
                    "transaction?"
                ) from None
