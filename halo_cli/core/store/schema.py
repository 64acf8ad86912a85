"""Tables, indexes and migrations of the run store.

The schema version is ``PRAGMA user_version``: it sits in the file header, so any SQLite client can read it
without knowing our tables, and it changes in the same transaction as the migration that bumps it.
Migration N (1-based) is ``MIGRATIONS[N - 1]``; to change the schema, append a function and never edit or
reorder the ones already released, because existing files have run them.

Foreign keys carry no ``ON DELETE`` action: deleting a run is rare, explicit and done by
``RunStore.delete_run`` in one transaction, while a cascade declared in the schema would make a stray
``DELETE FROM runs`` silently wipe a training history.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Database

from halo_cli.core.errors import HaloError

Migration = Callable[[Database], None]


class StoreError(HaloError):
    """The run store file cannot be used: not SQLite, corrupt, or written by a newer halo."""


def _m001_initial(db: Database) -> None:
    """Every table of the first release, with the indexes the dashboard's queries need."""
    db["runs"].create(
        {
            "id": str,
            "command": str,
            "domain": str,
            "config": str,  # the fully resolved settings, JSON
            "git_rev": str,
            "status": str,  # running | finished | failed | aborted
            "started": str,  # ISO 8601, UTC: sorts as text
            "ended": str,
            "host": str,
            "halo_version": str,
        },
        pk="id",
        not_null={"command", "config", "status", "started"},
    )
    # The dashboard lists runs newest first.
    db["runs"].create_index(["started"], index_name="idx_runs_started")

    db["screenshots"].create(
        {"hash": str, "png": bytes, "width": int, "height": int},
        pk="hash",
        not_null={"png"},
    )

    db["episodes"].create(
        {
            "id": int,
            "run_id": str,
            "iteration": int,
            "task_id": str,
            "domain": str,
            "seed": int,
            "status": str,  # running | finished | failed | aborted
            "reason": str,  # why it was aborted or failed
            "episode_return": float,
            "success": int,
            "length": int,
            "started": str,
            "ended": str,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
        not_null={"run_id", "iteration", "task_id", "status", "started"},
    )
    db["episodes"].create_index(["run_id", "iteration"], index_name="idx_episodes_run")

    db["steps"].create(
        {
            "id": int,
            "episode_id": int,
            "step_index": int,
            "url": str,
            "screenshot": str,  # screenshots.hash
            "action": str,  # JSON of the executed action
            "reward": float,
            "reward_components": str,  # JSON object
            "done": int,
            "timings": str,  # JSON object, seconds per phase
            "error": str,
            "created": str,
        },
        pk="id",
        foreign_keys=[("episode_id", "episodes", "id"), ("screenshot", "screenshots", "hash")],
        not_null={"episode_id", "step_index", "done", "created"},
        defaults={"done": 0},
    )
    db["steps"].create_index(["episode_id", "step_index"], index_name="idx_steps_episode", unique=True)
    # Lets delete_run find screenshots no step refers to any more without scanning every step.
    db["steps"].create_index(["screenshot"], index_name="idx_steps_screenshot")

    db["samples"].create(
        {
            "id": int,
            "step_id": int,
            "sample_index": int,
            "text": str,
            "action": str,  # JSON of the parsed action, NULL when parsing failed
            "parse_error": str,
            "token_count": int,
            "logprob_sum": float,
            "reward": float,
            "advantage": float,
            "finish_reason": str,
        },
        pk="id",
        foreign_keys=[("step_id", "steps", "id")],
        not_null={"step_id", "sample_index", "text"},
    )
    db["samples"].create_index(["step_id", "sample_index"], index_name="idx_samples_step", unique=True)

    db["metrics"].create(
        {"id": int, "run_id": str, "iteration": int, "name": str, "value": float, "time": str},
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
        not_null={"run_id", "iteration", "name", "time"},
    )
    # One curve per (run, metric), in iteration order: exactly what a plot reads.
    db["metrics"].create_index(["run_id", "name", "iteration"], index_name="idx_metrics_run_name_iter")

    db["adapters"].create(
        {"id": int, "run_id": str, "version": int, "path": str, "loaded": int, "created": str},
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
        not_null={"run_id", "version", "path", "loaded", "created"},
        defaults={"loaded": 0},
    )
    db["adapters"].create_index(["run_id", "version"], index_name="idx_adapters_run_version", unique=True)


def _m002_episode_policy(db: Database) -> None:
    """Which policy sampled an episode: the base model's name or an adapter's (`<run>-v<k>`); the replay of a
    training run shows which adapter version produced each trajectory."""
    db["episodes"].add_column("policy", str)


def _m003_adapter_identity(db: Database) -> None:
    """What proves which weights served a rollout: each adapter's name as vLLM serves it and the sha256 of its
    weights file, and on every sample the name of the policy that sampled it."""
    db["adapters"].add_column("name", str)
    db["adapters"].add_column("sha256", str)
    db["samples"].add_column("policy", str)


def _m004_episode_outcome(db: Database) -> None:
    """How the task's grader judged an episode (`Outcome.details` as JSON: for REAL tasks every criterion with its
    verdict and the `/finish` differences it read; for MiniWoB the page's raw reward and reason), so a replay shows
    why an episode failed, not only that it did."""
    db["episodes"].add_column("outcome", str)


def _m005_sample_components(db: Database) -> None:
    """Each sampled action's own reward components (in `step` groups every sample runs in its own branch and is
    rewarded on its own); the step's column keeps those of the action the episode went on with."""
    db["samples"].add_column("reward_components", str)


def _m006_view_indexes(db: Database) -> None:
    """What the dashboard and `halo replay` query besides the first release's indexes: the episodes still running
    (a partial index: only those rows, so it stays tiny however long the run) and one task's episodes (the
    replay's task filter and the report's per-task table read `success` and `episode_return` from the index)."""
    db.execute("create index idx_episodes_running on episodes(run_id) where status = 'running'")
    db["episodes"].create_index(
        ["run_id", "task_id", "success", "episode_return"], index_name="idx_episodes_run_task"
    )


def _m007_run_owner(db: Database) -> None:
    """The process a run belongs to (pid, and a start token that tells a reused pid apart), beside its host: a
    `running` run whose process is gone shows as dead in `halo runs`."""
    db["runs"].add_column("pid", int)
    db["runs"].add_column("pid_start", str)


def _m008_search_trees(db: Database) -> None:
    """The trees of `halo train mcts`, so a search can be inspected and its preference pairs exported afterwards:
    one `search_trees` row per search (its task instance, the episode that holds its best path, its counters) and
    one `search_nodes` row per node. A node's row is also the edge into it (the parent's index and the action, the
    reply that proposed it); it holds the backed-up visits and Q, its own value, the self-critique's reply and
    score, the dense reward of the edge, its screenshot (the `screenshots` table) and, for an expanded node, the
    prompt its children were sampled from (images as screenshot hashes)."""
    db["search_trees"].create(
        {
            "id": int, "run_id": str, "iteration": int, "episode_id": int, "task_id": str, "seed": int,
            "simulations": int, "nodes": int, "success": int, "best_q": float,
            "stats": str,  # JSON: executions, restores, replayed actions, times, critique counts
            "created": str,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id"), ("episode_id", "episodes", "id")],
        not_null={"run_id", "iteration", "task_id", "created"},
    )
    db["search_trees"].create_index(["run_id", "iteration"], index_name="idx_search_trees_run")
    db["search_nodes"].create(
        {
            "id": int, "tree_id": int, "node_index": int, "parent_index": int, "depth": int,
            "action": str,  # JSON of the edge's action, NULL at the root
            "sample_indices": str,  # JSON {"batch": b, "samples": [i, ...]}: the parent's expansion b proposed it
            "text": str,  # the reply that proposed the action
            "url": str, "state_key": str, "screenshot": str,
            "visits": int, "q": float, "value": float, "reward": float, "reward_components": str,
            "critique_text": str, "critique_score": float, "critique_how": str,
            "terminal": int, "success": int, "executions": int, "invalid": int, "error": str,
            "advantage": float,  # what the learner trained the action with (NULL: not trained on)
            "prompt": str,  # JSON messages of the node's expansion, images as {"screenshot": hash}
        },
        pk="id",
        foreign_keys=[("tree_id", "search_trees", "id"), ("screenshot", "screenshots", "hash")],
        not_null={"tree_id", "node_index", "depth", "visits"},
    )
    db["search_nodes"].create_index(["tree_id", "node_index"], index_name="idx_search_nodes_tree", unique=True)
    db["search_nodes"].create_index(["screenshot"], index_name="idx_search_nodes_screenshot")


MIGRATIONS: list[Migration] = [
    _m001_initial,
    _m002_episode_policy,
    _m003_adapter_identity,
    _m004_episode_outcome,
    _m005_sample_components,
    _m006_view_indexes,
    _m007_run_owner,
    _m008_search_trees,
]


def latest_version() -> int:
    """Read at call time so that a migration appended to MIGRATIONS counts."""
    return len(MIGRATIONS)


def schema_version(db: Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: Database) -> list[int]:
    """Brings the file up to the latest schema; returns the versions applied (empty when current).

    Runs all pending migrations in one ``BEGIN IMMEDIATE`` transaction, so two processes opening a new file
    at once cannot both create the tables, and a failed migration leaves the file at its old version.
    Foreign keys are off meanwhile, as SQLite asks for table rebuilds (``Table.transform``), and are checked
    once before commit instead.
    """
    migrations = list(MIGRATIONS)
    version = schema_version(db)
    if version > len(migrations):
        raise _too_new(version, len(migrations))
    if version == len(migrations):
        return []
    fk_on = bool(db.execute("PRAGMA foreign_keys").fetchone()[0])
    if fk_on:
        db.execute("PRAGMA foreign_keys=OFF")
    applied: list[int] = []
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            version = schema_version(db)  # another process may have migrated while we waited for the lock
            if version > len(migrations):
                raise _too_new(version, len(migrations))
            for number in range(version + 1, len(migrations) + 1):
                migrations[number - 1](db)
                db.execute(f"PRAGMA user_version={number}")
                applied.append(number)
            broken = db.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise StoreError(f"migration to schema {len(migrations)} broke {len(broken)} foreign key(s)")
            db.execute("COMMIT")
        except BaseException:
            if db.conn.in_transaction:
                db.execute("ROLLBACK")
            raise
    finally:
        if fk_on:
            db.execute("PRAGMA foreign_keys=ON")
    return applied


def _too_new(version: int, known: int) -> StoreError:
    return StoreError(
        f"run store has schema version {version} but this halo knows only {known}: upgrade halo to open it"
    )
