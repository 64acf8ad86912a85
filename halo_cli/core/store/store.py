"""The run store: one SQLite file per project that training writes and the dashboard and `halo runs` read.

Every public write method commits before it returns, so a training process killed with SIGKILL loses
nothing it already reported. The file is in WAL mode: readers in other processes never block the writer
and see each commit as soon as it lands. ``synchronous=NORMAL`` is enough under WAL: a killed process loses
nothing committed; only a power cut can drop the last few commits, which a training log can afford.
Several processes may write one store at once: every write is one ``BEGIN IMMEDIATE`` transaction
(`connection.write_transaction`), so none fails on a lock another process holds for a while.

The module is one concept, the `RunStore` API over the tables of `schema.py` (records in `records.py`), kept in one
class so that every write path shows its transaction and lock.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import struct
import subprocess
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlite_utils import Database
from sqlite_utils.db import NotFoundError as _RowMissing
from sqlite_utils.db import Table

from halo_cli import __version__
from halo_cli.core.errors import NotFoundError
from halo_cli.core.store import schema
from halo_cli.core.store.connection import (
    BUSY_TIMEOUT_S,
    LOCK_RETRIES,
    connect,
    read_only_reason,
    write_transaction,
)
from halo_cli.core.store.owner import current_owner
from halo_cli.core.store.records import (
    Adapter,
    Episode,
    Metric,
    Run,
    RunSummary,
    Sample,
    SampleInput,
    Step,
    from_row,
    opt_float,
)
from halo_cli.core.store.schema import StoreError

RUN_STATUSES = ("running", "finished", "failed", "aborted")
EPISODE_STATUSES = ("running", "finished", "failed", "aborted")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


_SAMPLE_KEYS = frozenset(SampleInput.__annotations__)


def now_iso() -> str:
    """UTC, millisecond ISO 8601: sorts correctly as text, which is how SQLite compares it."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, without decoding the image (every step stores one)."""
    if len(png) < 24 or not png.startswith(_PNG_SIGNATURE) or png[12:16] != b"IHDR":
        raise ValueError("screenshot is not a PNG image")
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def git_revision(cwd: Path | None = None) -> str | None:
    """HEAD of the working directory's repository, so a run can be traced to the code that made it."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    rev = out.stdout.strip()
    return rev if out.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", rev) else None


def new_run_id(command: str) -> str:
    """`grpo-20261125-143012-a1b2`: sorts by start time, says what ran, and a prefix is easy to type."""
    slug = re.sub(r"[^a-z0-9]+", "-", command.lower()).strip("-")[:24].strip("-") or "run"
    return f"{slug}-{datetime.now().strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def _dumps(value: Any) -> str:
    # default=str: configs carry Paths and enums; a run log must never fail on them.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


class RunStore:
    """Read and write access to one run store file.

    Safe to share between threads of one process (calls are serialised by a lock); other processes open
    their own RunStore on the same file and write it at the same time.
    """

    def __init__(self, path: str | Path, *, create: bool = True, busy_timeout_s: float = BUSY_TIMEOUT_S,
                 lock_retries: int = LOCK_RETRIES) -> None:
        """Opens (and with `create`, makes, with its parent folders) the store at `path`, migrating it.

        `create=False` is for commands that only look: they must not leave an empty database behind
        when pointed at the wrong path, so a missing file raises NotFoundError instead; and a store they cannot
        write is opened read-only (`read_only` says why), so it can still be inspected.
        """
        self.path = Path(path)
        self.read_only: str | None = None  # why the store cannot be written; None when it can
        if not self.path.exists():
            if not create:
                raise NotFoundError(f"no run store at {self.path}")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif self.path.is_dir():
            raise StoreError(f"run store path {self.path} is a directory")
        else:
            self.read_only = read_only_reason(self.path)
            if self.read_only and create:
                raise StoreError(f"cannot write run store {self.path}: {self.read_only}")
        self.busy_timeout_s = busy_timeout_s
        self.lock_retries = lock_retries
        self._lock = threading.RLock()
        try:
            conn = connect(self.path, read_only=self.read_only is not None, busy_timeout_s=busy_timeout_s)
        except sqlite3.DatabaseError as e:
            raise StoreError(f"cannot open run store {self.path}: {e}") from None
        try:
            self.db = Database(conn, execute_plugins=False)
            self._configure()
            if self.read_only:
                self._check_readable_schema()
            else:
                schema.migrate(self.db)
        except sqlite3.DatabaseError as e:
            conn.close()
            raise StoreError(f"cannot open run store {self.path}: {e}") from None
        except BaseException:
            conn.close()
            raise
        self._closed = False

    def _check_readable_schema(self) -> None:
        version, latest = schema.schema_version(self.db), schema.latest_version()
        if version > latest:
            schema.migrate(self.db)  # raises the "upgrade halo" error without writing
        if version < latest:
            raise StoreError(
                f"run store {self.path} has schema version {version}, older than this halo's {latest}, and cannot be "
                f"upgraded here because {self.read_only}; open it once where it can be written"
            )

    def _configure(self) -> None:
        db = self.db
        db.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
        if self.read_only:
            return
        if schema.schema_version(db) == 0 and not db.table_names():
            # Takes effect only before the first table exists (or through VACUUM, cheap on an empty file);
            # lets delete_run give the space of deleted screenshots back.
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            if db.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
                db.conn.execute("VACUUM")
        db.enable_wal()
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")

    # -- lifecycle -------------------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self.db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r})"

    def _table(self, name: str) -> Table:
        table = self.db[name]
        assert isinstance(table, Table)
        return table

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction of this thread, begun IMMEDIATE: see `connection.write_transaction`."""
        with self._lock:
            if self.read_only:
                raise StoreError(f"cannot write run store {self.path}: {self.read_only}")
            if self.db.conn.in_transaction:  # nested: already inside this thread's transaction
                yield
                return
            with write_transaction(self.db.conn, self.path, busy_timeout_s=self.busy_timeout_s,
                                   retries=self.lock_retries):
                yield

    # -- runs ------------------------------------------------------------------------------------------

    def start_run(
        self,
        command: str,
        config: Mapping[str, Any],
        domain: str | None = None,
        *,
        git_rev: str | None = None,
    ) -> str:
        """Records a new running run and returns its id. `git_rev` defaults to HEAD of the current directory."""
        rev = git_rev if git_rev is not None else git_revision()
        host, pid, pid_start = current_owner()
        row = {
            "command": command,
            "domain": domain,
            "config": _dumps(dict(config)),
            "git_rev": rev,
            "status": "running",
            "started": now_iso(),
            "ended": None,
            "host": host,
            "halo_version": __version__,
            "pid": pid,
            "pid_start": pid_start,
        }
        with self._write():
            for _ in range(8):  # two runs started in the same second draw the same 16-bit suffix rarely
                run_id = new_run_id(command)
                if self._table("runs").count_where("id = ?", [run_id]) == 0:
                    self._table("runs").insert({"id": run_id, **row})
                    return run_id
            raise StoreError("could not draw a unique run id")

    def finish_run(self, run_id: str, status: str = "finished") -> None:
        """Marks the run ended. Runs that crash stay `running`; `Run.status_now` tells them apart (`dead`)."""
        if status not in RUN_STATUSES:
            raise ValueError(f"run status must be one of {RUN_STATUSES}, got {status!r}")
        ended = None if status == "running" else now_iso()
        with self._write():
            self._update("runs", run_id, {"status": status, "ended": ended}, what="run")

    def reopen_run(self, run_id: str) -> None:
        """Marks a run `running` again, owned by this process (a resume): it is no longer dead."""
        host, pid, pid_start = current_owner()
        with self._write():
            self._update("runs", run_id, {"status": "running", "ended": None, "host": host, "pid": pid,
                                          "pid_start": pid_start}, what="run")

    def get_run(self, run_id: str) -> Run:
        """The run with this id, or with the only id that starts with it (ids are long to type)."""
        with self._lock:
            return from_row(Run, self._resolve_run_row(run_id))

    def resolve_run_id(self, run_id: str) -> str:
        with self._lock:
            return str(self._resolve_run_row(run_id)["id"])

    def _resolve_run_row(self, run_id: str) -> dict[str, Any]:
        key = run_id.strip()
        if not key:
            raise NotFoundError("no run id given")
        rows = list(self.db.query("select * from runs where id = ?", [key]))
        if rows:
            return rows[0]
        escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = list(
            self.db.query(
                "select * from runs where id like ? escape '\\' order by started desc limit 6", [escaped + "%"]
            )
        )
        if not rows:
            raise NotFoundError(f"unknown run {key!r} (see `halo runs list`)")
        if len(rows) > 1:
            shown = ", ".join(r["id"] for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
            raise NotFoundError(f"run id prefix {key!r} is ambiguous: it matches {shown}")
        return rows[0]

    def list_runs(self) -> list[RunSummary]:
        """Every run, newest first, with its progress (one query, so the dashboard can poll it)."""
        sql = """
            select runs.*,
                (select max(iteration) from metrics m where m.run_id = runs.id) as iterations,
                (select max(value) from metrics m
                    where m.run_id = runs.id and m.name = 'success_rate') as best_success_rate,
                (select count(*) from episodes e where e.run_id = runs.id) as n_episodes
            from runs order by started desc, id desc
        """
        with self._lock:
            rows = list(self.db.query(sql))
        return [from_row(RunSummary, row) for row in rows]

    def delete_run(self, run_id: str) -> None:
        """Removes a run and everything recorded under it, and the screenshots no other run shares.

        Takes the exact id, not a prefix: a destructive call should not depend on which other runs exist.
        """
        with self._lock:
            if self._table("runs").count_where("id = ?", [run_id]) == 0:
                raise NotFoundError(f"unknown run {run_id!r} (see `halo runs list`)")
            episodes = "select id from episodes where run_id = ?"
            steps = f"select id from steps where episode_id in ({episodes})"
            with self._write():
                hashes = [
                    r[0]
                    for r in self.db.execute(
                        f"select distinct screenshot from steps where screenshot is not null"
                        f" and episode_id in ({episodes})",
                        [run_id],
                    ).fetchall()
                ]
                trees = "select id from search_trees where run_id = ?"
                hashes += [r[0] for r in self.db.execute(
                    f"select distinct screenshot from search_nodes where screenshot is not null and tree_id in "
                    f"({trees})", [run_id]).fetchall()]
                self._table("search_nodes").delete_where(f"tree_id in ({trees})", [run_id])
                self._table("search_trees").delete_where("run_id = ?", [run_id])
                self._table("samples").delete_where(f"step_id in ({steps})", [run_id])
                self._table("steps").delete_where(f"episode_id in ({episodes})", [run_id])
                self._table("episodes").delete_where("run_id = ?", [run_id])
                self._table("metrics").delete_where("run_id = ?", [run_id])
                self._table("adapters").delete_where("run_id = ?", [run_id])
                self._table("runs").delete_where("id = ?", [run_id])
                for h in hashes:
                    self._table("screenshots").delete_where(
                        "hash = ? and not exists (select 1 from steps where steps.screenshot = ?)"
                        " and not exists (select 1 from search_nodes where search_nodes.screenshot = ?)", [h, h, h]
                    )
            # Screenshots dominate the file; give their pages back to the file system.
            with self._write():
                self.db.conn.execute("PRAGMA incremental_vacuum").fetchall()

    # -- episodes --------------------------------------------------------------------------------------

    def add_episode(
        self,
        run_id: str,
        iteration: int,
        task_id: str,
        *,
        domain: str | None = None,
        seed: int | None = None,
        policy: str | None = None,
    ) -> int:
        """Records a running episode and returns its id; the domain defaults to the run's.

        `policy` is the served model name the episode samples from (the base model or `<run>-v<k>`).
        """
        with self._write():
            if domain is None:
                found = self.db.execute("select domain from runs where id = ?", [run_id]).fetchone()
                domain = found[0] if found else None
            row = {
                "run_id": run_id,
                "iteration": int(iteration),
                "task_id": task_id,
                "domain": domain,
                "seed": seed,
                "status": "running",
                "started": now_iso(),
                "policy": policy,
            }
            return int(self._table("episodes").insert(row).last_pk)

    def finish_episode(
        self,
        episode_id: int,
        status: str = "finished",
        *,
        episode_return: float | None = None,
        success: bool | None = None,
        length: int | None = None,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Closes an episode. Return and length default to the sum of step rewards and the number of steps,
        which is what they are by definition; pass them when the trainer computes them otherwise.

        `details` is the grader's `Outcome.details` (criteria and their verdicts, reason, what `/finish` showed),
        kept so that a replay can say why the episode failed."""
        if status not in EPISODE_STATUSES:
            raise ValueError(f"episode status must be one of {EPISODE_STATUSES}, got {status!r}")
        with self._write():
            if episode_return is None or length is None:
                n, total = self.db.execute(
                    "select count(*), sum(reward) from steps where episode_id = ?", [episode_id]
                ).fetchone()
                length = n if length is None else length
                episode_return = total if episode_return is None else episode_return
            updates = {
                "status": status,
                "reason": reason,
                "episode_return": opt_float(episode_return),
                "success": None if success is None else int(bool(success)),
                "length": length,
                "ended": None if status == "running" else now_iso(),
            }
            if details is not None:
                updates["outcome"] = _dumps(dict(details))
            self._update("episodes", episode_id, updates, what="episode")

    def get_episode(self, episode_id: int) -> Episode:
        with self._lock:
            rows = list(self.db.query("select * from episodes where id = ?", [episode_id]))
        if not rows:
            raise NotFoundError(f"unknown episode {episode_id}")
        return from_row(Episode, rows[0])

    def list_episodes(self, run_id: str, iteration: int | None = None) -> list[Episode]:
        sql, args = "select * from episodes where run_id = ?", [run_id]
        if iteration is not None:
            sql += " and iteration = ?"
            args.append(iteration)
        with self._lock:
            rows = list(self.db.query(sql + " order by iteration, id", args))
        return [from_row(Episode, r) for r in rows]

    # -- steps, screenshots, samples -------------------------------------------------------------------

    def put_screenshot(self, png: bytes) -> str:
        """Stores a PNG once per content and returns its sha256: consecutive pages are often identical."""
        with self._write():
            return self._put_screenshot(png)

    def _put_screenshot(self, png: bytes) -> str:
        width, height = png_size(png)
        digest = hashlib.sha256(png).hexdigest()
        self._table("screenshots").insert(
            {"hash": digest, "png": bytes(png), "width": width, "height": height}, ignore=True
        )
        return digest

    def get_screenshot(self, digest: str) -> bytes:
        with self._lock:
            row = self.db.execute("select png from screenshots where hash = ?", [digest]).fetchone()
        if row is None:
            raise NotFoundError(f"unknown screenshot {digest!r}")
        return bytes(row[0])

    def screenshot_size(self, digest: str) -> tuple[int, int]:
        with self._lock:
            row = self.db.execute("select width, height from screenshots where hash = ?", [digest]).fetchone()
        if row is None:
            raise NotFoundError(f"unknown screenshot {digest!r}")
        return int(row[0]), int(row[1])

    def add_step(
        self,
        episode_id: int,
        index: int,
        screenshot_png: bytes | None = None,
        *,
        url: str | None = None,
        action: Any = None,
        reward: float | None = None,
        reward_components: Mapping[str, Any] | None = None,
        done: bool = False,
        timings: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> int:
        """Records one environment step (with the screenshot the policy saw) and returns its id."""
        with self._write():
            digest = self._put_screenshot(screenshot_png) if screenshot_png is not None else None
            row = {
                "episode_id": episode_id,
                "step_index": int(index),
                "url": url,
                "screenshot": digest,
                "action": None if action is None else _dumps(action),
                "reward": opt_float(reward),
                "reward_components": None if reward_components is None else _dumps(dict(reward_components)),
                "done": int(bool(done)),
                "timings": None if timings is None else _dumps(dict(timings)),
                "error": error,
                "created": now_iso(),
            }
            return int(self._table("steps").insert(row).last_pk)

    def set_step_reward(
        self, step_id: int, reward: float | None, reward_components: Mapping[str, Any] | None = None
    ) -> None:
        """For rewards known only after the step was recorded (a judge, the end of the episode)."""
        updates: dict[str, Any] = {"reward": opt_float(reward)}
        if reward_components is not None:
            updates["reward_components"] = _dumps(dict(reward_components))
        with self._write():
            self._update("steps", step_id, updates, what="step")

    def list_steps(self, episode_id: int) -> list[Step]:
        with self._lock:
            rows = list(
                self.db.query("select * from steps where episode_id = ? order by step_index", [episode_id])
            )
        return [from_row(Step, r) for r in rows]

    def add_samples(self, step_id: int, samples: Iterable[SampleInput | Mapping[str, Any]]) -> list[int]:
        """Records every completion sampled at a step (all of a group at once) and returns their ids."""
        rows = []
        for position, sample in enumerate(samples):
            unknown = set(sample) - _SAMPLE_KEYS
            if unknown:
                raise ValueError(f"unknown sample field(s): {', '.join(sorted(unknown))}")
            if "text" not in sample:
                raise ValueError("a sample needs its raw `text`")
            action = sample.get("action")
            rows.append(
                {
                    "step_id": step_id,
                    "sample_index": int(sample.get("index", position)),
                    "text": str(sample["text"]),
                    "action": None if action is None else _dumps(action),
                    "parse_error": sample.get("parse_error"),
                    "token_count": sample.get("token_count"),
                    "logprob_sum": opt_float(sample.get("logprob_sum")),
                    "reward": opt_float(sample.get("reward")),
                    "advantage": opt_float(sample.get("advantage")),
                    "finish_reason": sample.get("finish_reason"),
                    "policy": sample.get("policy"),
                    "reward_components": None if sample.get("reward_components") is None
                    else _dumps(dict(sample["reward_components"])),  # type: ignore[arg-type]
                }
            )
        ids = []
        with self._write():
            table = self._table("samples")
            for row in rows:
                ids.append(int(table.insert(row).last_pk))
        return ids

    def score_samples(
        self,
        step_id: int,
        rewards: Sequence[float | None] | None = None,
        advantages: Sequence[float | None] | None = None,
    ) -> None:
        """Fills in rewards and advantages, indexed by sample index, once the group has been scored."""
        with self._write():
            for column, values in (("reward", rewards), ("advantage", advantages)):
                for i, value in enumerate(values or ()):
                    cur = self.db.execute(
                        f"update samples set {column} = ? where step_id = ? and sample_index = ?",
                        [opt_float(value), step_id, i],
                    )
                    if cur.rowcount == 0:
                        raise NotFoundError(f"step {step_id} has no sample {i}")

    def list_samples(self, step_id: int) -> list[Sample]:
        with self._lock:
            rows = list(
                self.db.query("select * from samples where step_id = ? order by sample_index", [step_id])
            )
        return [from_row(Sample, r) for r in rows]

    # -- metrics and adapters --------------------------------------------------------------------------

    def log_metrics(
        self, run_id: str, iteration: int, metrics: Mapping[str, float | int | bool | None]
    ) -> None:
        """Appends one value per metric for this iteration, all stamped with the same time."""
        time = now_iso()
        rows = [
            {"run_id": run_id, "iteration": int(iteration), "name": str(name), "value": opt_float(value),
             "time": time}
            for name, value in metrics.items()
        ]
        with self._write():
            table = self._table("metrics")
            for row in rows:
                table.insert(row)

    def last_metrics(self, run_id: str) -> dict[str, Metric]:
        """The latest value of every metric of a run, by name: what `halo runs show` prints."""
        sql = """
            select m.* from metrics m
            join (select name, max(iteration) as it from metrics where run_id = ? group by name) last
              on m.name = last.name and m.iteration = last.it
            where m.run_id = ?
            order by m.name, m.id
        """
        with self._lock:
            rows = list(self.db.query(sql, [run_id, run_id]))
        # Logged twice in one iteration: the later row (higher id) wins.
        return {r["name"]: from_row(Metric, r) for r in rows}

    def metric_history(self, run_id: str, name: str) -> list[Metric]:
        with self._lock:
            rows = list(
                self.db.query(
                    "select * from metrics where run_id = ? and name = ? order by iteration, id", [run_id, name]
                )
            )
        return [from_row(Metric, r) for r in rows]

    def metric_names(self, run_id: str) -> list[str]:
        with self._lock:
            return [
                r[0]
                for r in self.db.execute(
                    "select distinct name from metrics where run_id = ? order by name", [run_id]
                ).fetchall()
            ]

    def add_adapter(self, run_id: str, version: int, path: str | Path, *, loaded: bool = False,
                    name: str | None = None, sha256: str | None = None) -> int:
        """Records a saved LoRA checkpoint (replacing a row of the same version, which a resumed run redoes);
        `loaded` says whether the inference server serves it, `name` under which name, `sha256` which weights."""
        row = {
            "run_id": run_id, "version": int(version), "path": str(path), "loaded": int(loaded), "created": now_iso(),
            "name": name, "sha256": sha256,
        }
        with self._write():
            self._table("adapters").delete_where("run_id = ? and version = ?", [run_id, int(version)])
            return int(self._table("adapters").insert(row).last_pk)

    def set_adapter_loaded(self, run_id: str, version: int, loaded: bool = True) -> None:
        with self._write():
            cur = self.db.execute(
                "update adapters set loaded = ? where run_id = ? and version = ?",
                [int(loaded), run_id, int(version)],
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"run {run_id!r} has no adapter version {version}")

    def discard_after(self, run_id: str, iteration: int, adapter_version: int) -> dict[str, int]:
        """Removes what a run recorded after iteration `iteration` and adapter `adapter_version` (a resumed run redoes
        those iterations; the dead pass's rows must not stay beside the redone ones in views and exports), and marks
        the episodes it left `running` as aborted. Returns how many rows of each kind went."""
        episodes = "select id from episodes where run_id = ? and iteration > ?"
        steps = f"select id from steps where episode_id in ({episodes})"
        counts: dict[str, int] = {}
        trees = "select id from search_trees where run_id = ? and iteration > ?"
        with self._write():
            # Search trees (`halo train mcts`) of those iterations go too, before the episodes they point at.
            self.db.execute(f"delete from search_nodes where tree_id in ({trees})", [run_id, iteration])
            self.db.execute("delete from search_trees where run_id = ? and iteration > ?", [run_id, iteration])
            for table, where, args in (
                ("samples", f"step_id in ({steps})", [run_id, iteration]),
                ("steps", f"episode_id in ({episodes})", [run_id, iteration]),
                ("episodes", "run_id = ? and iteration > ?", [run_id, iteration]),
                ("metrics", "run_id = ? and iteration > ?", [run_id, iteration]),
                ("adapters", "run_id = ? and version > ?", [run_id, adapter_version]),
            ):
                counts[table] = int(self.db.execute(f"delete from {table} where {where}", args).rowcount)
            counts["stale_running"] = int(self.db.execute(
                "update episodes set status = 'aborted', reason = 'its run died before the episode ended', "
                "ended = ? where run_id = ? and status = 'running'", [now_iso(), run_id]).rowcount)
        return counts

    def list_adapters(self, run_id: str) -> list[Adapter]:
        with self._lock:
            rows = list(self.db.query("select * from adapters where run_id = ? order by version", [run_id]))
        return [from_row(Adapter, r) for r in rows]

    # -- reading ---------------------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a read-only query, as dicts, under the store's lock (the views' queries in views.py)."""
        with self._lock:
            cur = self.db.execute(sql, list(params))
            names = [d[0] for d in cur.description or ()]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    def data_version(self) -> int:
        """Changes whenever another connection commits to the file: a poller skips its queries while it stays."""
        with self._lock:
            return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    # -- helpers ---------------------------------------------------------------------------------------

    def _update(self, table: str, pk: Any, updates: dict[str, Any], *, what: str) -> None:
        try:
            self._table(table).update(pk, updates)
        except _RowMissing:
            raise NotFoundError(f"unknown {what} {pk!r}") from None
