"""The run store read the way the dashboard, `halo replay` and the HTML report look at a run.

Read-only: every query here is one SQL statement over the indexes of `schema.py` (the first release's, and the
running-episode and per-task ones of migration 5), so that opening a run and moving between its episodes and steps
stays quick on a store of 100 000 steps (`bench/views.py` measures it). Nothing here writes, so a dashboard on its
own connection never makes a trainer wait: readers do not block the writer of a WAL file.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from halo_cli.core.store.records import Episode, Run, Sample, Step, from_row
from halo_cli.core.store.store import RunStore

# Listing columns: everything but the grader's details, which only an opened episode needs.
_EPISODE_COLUMNS = ("id, run_id, iteration, task_id, domain, seed, status, reason, episode_return, success, length,"
                    " started, ended, policy")


@dataclass(frozen=True, slots=True)
class EpisodeFilter:
    """Which of a run's episodes a view lists. `text` matches (case-insensitively, as a substring) the task id,
    domain, policy or reason of an episode, or the URL, action or error of any of its steps."""

    failed: bool = False  # only finished episodes that did not succeed (failures, unjudged, aborted)
    domain: str | None = None
    task: str | None = None  # an exact task id
    iteration: int | None = None
    text: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        """The SQL condition (over `episodes e`) and its parameters."""
        parts: list[str] = []
        args: list[Any] = []
        if self.failed:
            parts.append("e.status != 'running' and coalesce(e.success, 0) = 0")
        if self.domain:
            parts.append("e.domain = ?")
            args.append(self.domain)
        if self.task:
            parts.append("e.task_id = ?")
            args.append(self.task)
        if self.iteration is not None:
            parts.append("e.iteration = ?")
            args.append(int(self.iteration))
        if self.text:
            like = "%" + self.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            fields = " or ".join(f"{c} like ? escape '\\'" for c in ("e.task_id", "e.domain", "e.policy", "e.reason"))
            steps = " or ".join(f"s.{c} like ? escape '\\'" for c in ("url", "action", "error"))
            parts.append(f"({fields} or exists (select 1 from steps s where s.episode_id = e.id and ({steps})))")
            args.extend([like] * 7)
        return (" and ".join(parts) or "1"), args

    @property
    def active(self) -> bool:
        return bool(self.failed or self.domain or self.task or self.iteration is not None or self.text)


@dataclass(frozen=True, slots=True)
class RunCounts:
    """How far a run is, from its episodes."""

    episodes: int
    running: int
    finished: int  # ended normally (graded), successful or not
    successes: int
    aborted: int
    steps: int  # steps of ended episodes (their lengths) plus those of running ones
    iterations: int  # the highest iteration an episode started in

    @property
    def success_rate(self) -> float | None:
        done = self.episodes - self.running
        return self.successes / done if done else None


@dataclass(frozen=True, slots=True)
class InFlight:
    """An episode still running, with how many steps it has taken."""

    episode: Episode
    steps: int


@dataclass(frozen=True, slots=True)
class TaskRow:
    """One task's line of the per-task table: episodes that ended, successes, mean return."""

    task_id: str
    episodes: int
    successes: int
    mean_return: float | None

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes if self.episodes else 0.0


@dataclass(frozen=True, slots=True)
class PolicyUse:
    """Which served model (the base model or an adapter `<run>-v<k>`) sampled how many episodes of an iteration."""

    iteration: int
    policy: str | None
    episodes: int


@dataclass(frozen=True, slots=True)
class LatestStep:
    """The newest step of a run, with its episode and samples: what the dashboard shows as 'now'."""

    episode: Episode
    step: Step
    samples: list[Sample]


def _episode(row: dict[str, Any]) -> Episode:
    return from_row(Episode, row)


class RunViews:
    """The queries of the run views over one RunStore (which may be a reader's own connection)."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    # -- a run --------------------------------------------------------------------------------------

    def run(self, run_ref: str) -> Run:
        return self.store.get_run(run_ref)

    def counts(self, run_id: str) -> RunCounts:
        rows = self.store.query(
            """select count(*) as episodes,
                      coalesce(sum(status = 'running'), 0) as running,
                      coalesce(sum(status = 'finished'), 0) as finished,
                      coalesce(sum(success = 1), 0) as successes,
                      coalesce(sum(status = 'aborted'), 0) as aborted,
                      coalesce(sum(length), 0) as ended_steps,
                      coalesce(max(iteration), 0) as iterations
               from episodes where run_id = ?""",
            [run_id],
        )
        r = rows[0]
        live = self.store.query(
            """select count(*) as n from steps where episode_id in
                   (select id from episodes where run_id = ? and status = 'running')""",
            [run_id],
        )[0]["n"]
        return RunCounts(episodes=r["episodes"], running=r["running"], finished=r["finished"],
                         successes=r["successes"], aborted=r["aborted"], steps=r["ended_steps"] + live,
                         iterations=r["iterations"])

    def curves(self, run_id: str, names: list[str] | None = None, *,
               points: int | None = None) -> dict[str, list[tuple[int, float]]]:
        """Every metric's values by iteration, in iteration order (a value logged twice in one iteration: the
        later one). Absent values (NaN stored as NULL) are left out of the curve.

        With `points`, a long run is thinned in SQL to about that many iterations (every k-th, and the last): a
        terminal plot has fewer columns than a long run has iterations, and the rows it would drop cost Python
        time on every refresh."""
        sql, args = "select name, iteration, value from metrics where run_id = ?", [run_id]
        if names is not None:
            sql += f" and name in ({', '.join('?' * len(names))})"
            args.extend(names)
        if points is not None:
            top = int(self.store.query("select coalesce(max(iteration), 0) as it from metrics where run_id = ?",
                                       [run_id])[0]["it"])
            every = -(-top // max(1, points))
            if every > 1:
                sql += " and (iteration % ? = 0 or iteration = ?)"
                args.extend([every, top])
        by_name: dict[str, dict[int, float]] = defaultdict(dict)
        for r in self.store.query(sql + " order by name, iteration, id", args):
            if r["value"] is not None:
                by_name[r["name"]][int(r["iteration"])] = float(r["value"])
        return {name: sorted(points.items()) for name, points in sorted(by_name.items())}

    def policies(self, run_id: str, last: int | None = None) -> list[PolicyUse]:
        """Which served model sampled each iteration's episodes (the last `last` iterations when given)."""
        sql, args = "select iteration, policy, count(*) as n from episodes where run_id = ?", [run_id]
        if last is not None:
            sql += " and iteration > (select coalesce(max(iteration), 0) from episodes where run_id = ?) - ?"
            args.extend([run_id, int(last)])
        rows = self.store.query(sql + " group by iteration, policy order by iteration, policy", args)
        return [PolicyUse(int(r["iteration"]), r["policy"], int(r["n"])) for r in rows]

    def tasks(self, run_id: str) -> list[TaskRow]:
        """Per task: episodes that ended with a grade, successes, mean return (read from idx_episodes_run_task)."""
        rows = self.store.query(
            """select task_id, count(success) as n, coalesce(sum(success), 0) as ok, avg(episode_return) as ret
               from episodes where run_id = ? group by task_id order by task_id""",
            [run_id],
        )
        return [TaskRow(r["task_id"], int(r["n"]), int(r["ok"]), r["ret"]) for r in rows]

    def facets(self, run_id: str) -> tuple[list[str], list[str], int]:
        """The domains and task ids a run's episodes have, and its highest iteration: what the filters offer."""
        domains = [r["domain"] for r in self.store.query(
            "select distinct domain from episodes where run_id = ? and domain is not null order by domain", [run_id])]
        tasks = [r["task_id"] for r in self.store.query(
            "select distinct task_id from episodes where run_id = ? order by task_id", [run_id])]
        top = self.store.query("select coalesce(max(iteration), 0) as it from episodes where run_id = ?", [run_id])
        return domains, tasks, int(top[0]["it"])

    # -- episodes -----------------------------------------------------------------------------------

    def episodes(self, run_id: str, flt: EpisodeFilter | None = None, *, limit: int | None = None,
                 offset: int = 0) -> list[Episode]:
        """A run's episodes in (iteration, id) order, filtered; without the grader's details (see `episode`)."""
        where, args = (flt or EpisodeFilter()).where()
        sql = f"select {_EPISODE_COLUMNS} from episodes e where e.run_id = ? and {where} order by e.iteration, e.id"
        if limit is not None:
            sql += " limit ? offset ?"
            args = [*args, int(limit), int(offset)]
        return [_episode(r) for r in self.store.query(sql, [run_id, *args])]

    def count_episodes(self, run_id: str, flt: EpisodeFilter | None = None) -> int:
        where, args = (flt or EpisodeFilter()).where()
        return int(self.store.query(f"select count(*) as n from episodes e where e.run_id = ? and {where}",
                                    [run_id, *args])[0]["n"])

    def episode(self, episode_id: int) -> Episode:
        """One episode with everything, the grader's verdict included."""
        return self.store.get_episode(episode_id)

    def in_flight(self, run_id: str) -> list[InFlight]:
        """The run's running episodes (from the partial index idx_episodes_running) with their step counts."""
        rows = self.store.query(
            f"""select {_EPISODE_COLUMNS}, (select count(*) from steps s where s.episode_id = e.id) as n_steps
                from episodes e where e.run_id = ? and e.status = 'running' order by e.id""",
            [run_id],
        )
        return [InFlight(_episode(r), int(r["n_steps"])) for r in rows]

    # -- steps and samples --------------------------------------------------------------------------

    def steps(self, episode_id: int) -> list[Step]:
        return self.store.list_steps(episode_id)

    def samples(self, episode_id: int) -> dict[int, list[Sample]]:
        """Every sample of an episode's steps, by step id, in one query."""
        rows = self.store.query(
            """select * from samples where step_id in (select id from steps where episode_id = ?)
               order by step_id, sample_index""",
            [episode_id],
        )
        out: dict[int, list[Sample]] = defaultdict(list)
        for r in rows:
            out[int(r["step_id"])].append(from_row(Sample, r))
        return dict(out)

    def latest_step(self, run_id: str) -> LatestStep | None:
        """The newest step of the run's latest iteration (bounded by that iteration's episodes, however long the
        run), with its episode and samples."""
        rows = self.store.query(
            """select s.* from steps s join episodes e on s.episode_id = e.id
               where e.run_id = ? and e.iteration = (select max(iteration) from episodes where run_id = ?)
               order by s.id desc limit 1""",
            [run_id, run_id],
        )
        if not rows:
            return None
        step = from_row(Step, rows[0])
        return LatestStep(self.store.get_episode(step.episode_id), step, self.store.list_samples(step.id))

    def screenshot(self, digest: str) -> bytes:
        return self.store.get_screenshot(digest)
