"""The run store on real SQLite files: every table round-trips, screenshots dedupe, keys hold, migrations run."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import png
from sqlite_utils import Database

from halo_cli.core.errors import HaloError, NotFoundError
from halo_cli.core.store import (
    RunStore,
    StoreError,
    latest_version,
    schema,
    schema_version,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    with RunStore(tmp_path / "halo.db") as s:
        yield s


# -- file, pragmas, lifecycle -----------------------------------------------------------------------------


def test_creates_parent_folders_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "halo.db"
    with RunStore(path) as s:
        pragma = lambda name: s.db.execute(f"PRAGMA {name}").fetchone()[0]  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("foreign_keys") == 1
        assert pragma("synchronous") == 1  # NORMAL
        assert pragma("busy_timeout") >= 1000
        assert pragma("user_version") == latest_version() >= 1
    assert path.is_file()
    assert set(Database(path).table_names()) >= {
        "runs", "episodes", "steps", "samples", "metrics", "adapters", "screenshots",
    }


def test_indexes_for_dashboard_queries(store: RunStore) -> None:
    def indexed(table: str) -> set[tuple[str, ...]]:
        return {tuple(i.columns) for i in store.db[table].indexes}

    assert ("started",) in indexed("runs")
    assert ("run_id", "iteration") in indexed("episodes")
    assert ("episode_id", "step_index") in indexed("steps")
    assert ("step_id", "sample_index") in indexed("samples")
    assert ("run_id", "name", "iteration") in indexed("metrics")
    plan = " ".join(
        str(r) for r in store.db.execute(
            "EXPLAIN QUERY PLAN select * from steps where episode_id = ? order by step_index", [1]
        )
    )
    assert "idx_steps_episode" in plan


def test_create_false_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "halo.db"
    with pytest.raises(NotFoundError, match="no run store"):
        RunStore(path, create=False)
    assert not path.exists() and not path.parent.exists()


def test_not_a_database_is_a_one_line_store_error(tmp_path: Path) -> None:
    bad = tmp_path / "halo.db"
    bad.write_bytes(b"this is not sqlite, just some text long enough to have a header" * 20)
    with pytest.raises(StoreError) as e:
        RunStore(bad)
    assert isinstance(e.value, HaloError) and "\n" not in str(e.value)
    with pytest.raises(StoreError, match="directory"):
        RunStore(tmp_path)


def test_close_is_idempotent(tmp_path: Path) -> None:
    s = RunStore(tmp_path / "h.db")
    s.close()
    s.close()


# -- round trips --------------------------------------------------------------------------------------------


def test_run_round_trip(store: RunStore) -> None:
    config = {"model": {"name": "tiny"}, "grpo": {"lr": 1e-6, "num_generations": 4}, "store": {"path": Path("x")}}
    run_id = store.start_run("grpo", config, "dashdish", git_rev="a" * 40)
    assert run_id.startswith("grpo-") and len(run_id.split("-")) == 4
    r = store.get_run(run_id)
    assert r.command == "grpo" and r.domain == "dashdish" and r.status == "running" and r.ended is None
    assert r.config == {"model": {"name": "tiny"}, "grpo": {"lr": 1e-6, "num_generations": 4}, "store": {"path": "x"}}
    assert r.git_rev == "a" * 40 and r.host and r.halo_version
    store.finish_run(run_id, "aborted")
    r = store.get_run(run_id)
    assert r.status == "aborted" and r.ended is not None and r.ended >= r.started
    with pytest.raises(ValueError):
        store.finish_run(run_id, "exploded")
    with pytest.raises(NotFoundError):
        store.finish_run("missing", "finished")


def test_git_revision_is_recorded_or_null(store: RunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # not a git checkout
    run_id = store.start_run("eval", {})
    assert store.get_run(run_id).git_rev is None


def test_get_run_by_prefix(store: RunStore) -> None:
    a = store.start_run("grpo", {})
    b = store.start_run("eval", {})
    assert store.get_run(a[:6]).id == a
    assert store.get_run(b[:3]).id == b
    c = store.start_run("grpo", {})
    with pytest.raises(NotFoundError, match="ambiguous") as e:
        store.get_run("grpo-")
    assert "\n" not in str(e.value) and a in str(e.value) and c in str(e.value)
    with pytest.raises(NotFoundError, match="unknown run 'nope'"):
        store.get_run("nope")
    with pytest.raises(NotFoundError):
        store.get_run("grpo%")  # LIKE wildcards are literal
    with pytest.raises(NotFoundError):
        store.get_run("")


def test_episode_step_sample_round_trip(store: RunStore) -> None:
    run_id = store.start_run("grpo", {}, "omnizon")
    ep = store.add_episode(run_id, 3, "omnizon-7", seed=42)
    e = store.get_episode(ep)
    assert (e.run_id, e.iteration, e.task_id, e.domain, e.seed, e.status) == (
        run_id, 3, "omnizon-7", "omnizon", 42, "running",
    )
    s0 = store.add_step(
        ep, 0, png(1), url="http://omnizon.local/", action={"action": "click", "element": 12},
        reward=0.0, reward_components={"progress": 0.0}, timings={"policy_s": 1.5},
    )
    s1 = store.add_step(ep, 1, None, action={"action": "stop"}, reward=1.0, done=True, error="timeout")
    ids = store.add_samples(
        s0,
        [
            {"text": "click(12)", "action": {"action": "click", "element": 12}, "token_count": 6,
             "logprob_sum": -3.25, "finish_reason": "stop"},
            {"text": "clik(", "parse_error": "unexpected end", "token_count": 3, "finish_reason": "length"},
        ],
    )
    assert len(ids) == 2
    store.score_samples(s0, rewards=[1.0, 0.0], advantages=[0.5, -0.5])
    store.set_step_reward(s0, 0.25, {"progress": 0.25})
    store.finish_episode(ep, "finished", success=True)

    steps = store.list_steps(ep)
    assert [s.id for s in steps] == [s0, s1]
    first, last = steps
    assert first.url == "http://omnizon.local/" and first.action == {"action": "click", "element": 12}
    assert first.reward == 0.25 and first.reward_components == {"progress": 0.25}
    assert first.timings == {"policy_s": 1.5} and first.done is False and first.error is None
    assert first.screenshot is not None and store.get_screenshot(first.screenshot) == png(1)
    assert store.screenshot_size(first.screenshot) == (16, 9)
    assert last.screenshot is None and last.done is True and last.error == "timeout"

    good, bad = store.list_samples(s0)
    assert (good.index, good.text, good.action, good.parse_error) == (
        0, "click(12)", {"action": "click", "element": 12}, None,
    )
    assert (good.token_count, good.logprob_sum, good.reward, good.advantage, good.finish_reason) == (
        6, -3.25, 1.0, 0.5, "stop",
    )
    assert (bad.index, bad.action, bad.parse_error, bad.finish_reason, bad.advantage) == (
        1, None, "unexpected end", "length", -0.5,
    )

    e = store.get_episode(ep)
    assert e.status == "finished" and e.success is True and e.ended is not None
    assert e.length == 2 and e.episode_return == 1.25  # defaults: step count and summed rewards
    ep2 = store.add_episode(run_id, 3, "omnizon-8", domain="other")
    store.finish_episode(ep2, "aborted", reason="browser crashed", episode_return=0.0, length=0)
    e2 = store.get_episode(ep2)
    assert (e2.domain, e2.status, e2.reason, e2.episode_return, e2.length, e2.success) == (
        "other", "aborted", "browser crashed", 0.0, 0, None,
    )
    assert [x.id for x in store.list_episodes(run_id)] == [ep, ep2]
    assert [x.id for x in store.list_episodes(run_id, iteration=4)] == []


def test_sample_input_is_checked(store: RunStore) -> None:
    run_id = store.start_run("grpo", {})
    step = store.add_step(store.add_episode(run_id, 0, "t"), 0)
    with pytest.raises(ValueError, match="logprob"):
        store.add_samples(step, [{"text": "x", "logprobs": -1.0}])
    with pytest.raises(ValueError, match="text"):
        store.add_samples(step, [{"token_count": 1}])
    store.add_samples(step, [{"text": "a"}])
    with pytest.raises(NotFoundError):
        store.score_samples(step, rewards=[1.0, 2.0])
    assert store.list_samples(step)[0].reward is None  # the failed call rolled back as a whole
    with pytest.raises(sqlite3.IntegrityError):  # one sample index per step
        store.add_samples(step, [{"index": 0, "text": "again"}])


def test_metrics_round_trip_and_run_summary(store: RunStore) -> None:
    run_id = store.start_run("grpo", {}, "dashdish")
    other = store.start_run("eval", {})
    store.log_metrics(run_id, 1, {"success_rate": 0.25, "loss": 2.0, "kl": None})
    store.log_metrics(run_id, 2, {"success_rate": 0.75, "loss": 1.5})
    store.log_metrics(run_id, 3, {"success_rate": 0.5})
    store.add_episode(run_id, 1, "dashdish-1")
    last = store.last_metrics(run_id)
    assert {k: (m.iteration, m.value) for k, m in last.items()} == {
        "success_rate": (3, 0.5), "loss": (2, 1.5), "kl": (1, None),
    }
    assert [(m.iteration, m.value) for m in store.metric_history(run_id, "loss")] == [(1, 2.0), (2, 1.5)]
    assert store.metric_names(run_id) == ["kl", "loss", "success_rate"]
    summaries = {r.id: r for r in store.list_runs()}
    assert summaries[run_id].iterations == 3 and summaries[run_id].best_success_rate == 0.75
    assert summaries[run_id].episodes == 1 and summaries[run_id].domain == "dashdish"
    assert summaries[other].iterations is None and summaries[other].best_success_rate is None
    assert [r.id for r in store.list_runs()] == [other, run_id]  # newest first
    assert store.last_metrics(other) == {}


def test_adapters_round_trip(store: RunStore) -> None:
    run_id = store.start_run("grpo", {})
    store.add_adapter(run_id, 1, "/ckpt/v1")
    store.add_adapter(run_id, 2, Path("/ckpt/v2"), loaded=True)
    store.set_adapter_loaded(run_id, 1)
    store.set_adapter_loaded(run_id, 2, False)
    got = [(a.version, a.path, a.loaded) for a in store.list_adapters(run_id)]
    assert got == [(1, "/ckpt/v1", True), (2, "/ckpt/v2", False)]
    with pytest.raises(NotFoundError):
        store.set_adapter_loaded(run_id, 9)
    # a resumed run redoes version 1 with other weights: its row is replaced, with the new name and hash
    store.add_adapter(run_id, 1, "/again", loaded=True, name=f"{run_id}-v1-abcdef12", sha256="abcdef12" * 8)
    (v1, v2) = store.list_adapters(run_id)
    assert (v1.version, v1.path, v1.name, v1.sha256) == (1, "/again", f"{run_id}-v1-abcdef12", "abcdef12" * 8)
    assert v2.version == 2 and v2.name is None


def test_discard_after_removes_a_dead_pass(store: RunStore) -> None:
    """A run killed in iteration 3 after checkpointing iteration 2 resumes there: what it recorded in iteration 3 goes,
    and what it left `running` is marked aborted."""
    run_id = store.start_run("grpo", {})
    other = store.start_run("grpo", {})
    for it in (1, 2, 3):
        ep = store.add_episode(run_id, it, "t")
        step = store.add_step(ep, 0, png(it))
        store.add_samples(step, [{"text": "a", "policy": f"{run_id}-v{it}"}])
        store.log_metrics(run_id, it, {"loss": float(it)})
        store.add_adapter(run_id, it, f"/v{it}")
        if it < 3:
            store.finish_episode(ep)
    kept_other = store.add_episode(other, 3, "t")
    counts = store.discard_after(run_id, 2, adapter_version=2)
    assert counts == {"samples": 1, "steps": 1, "episodes": 1, "metrics": 1, "adapters": 1, "stale_running": 0}
    assert [e.iteration for e in store.list_episodes(run_id)] == [1, 2]
    assert [m.iteration for m in store.metric_history(run_id, "loss")] == [1, 2]
    assert [a.version for a in store.list_adapters(run_id)] == [1, 2]
    assert store.get_episode(kept_other).status == "running"  # another run's rows are not touched
    assert store.list_samples(store.list_steps(store.list_episodes(run_id)[0].id)[0].id)[0].policy == f"{run_id}-v1"
    stuck = store.add_episode(run_id, 2, "t")  # left running by the dead pass in an iteration that stays
    assert store.discard_after(run_id, 2, adapter_version=2)["stale_running"] == 1
    assert store.get_episode(stuck).status == "aborted"


# -- screenshots, keys, deletion ------------------------------------------------------------------------------


def test_screenshots_are_stored_once_per_content(store: RunStore, tmp_path: Path) -> None:
    run_id = store.start_run("grpo", {})
    ep = store.add_episode(run_id, 0, "t")
    a = store.add_step(ep, 0, png(5))
    b = store.add_step(ep, 1, png(5))
    c = store.add_step(ep, 2, png(6, (20, 10)))
    assert store.put_screenshot(png(5)) == store.list_steps(ep)[0].screenshot
    assert store.db["screenshots"].count == 2
    hashes = {s.id: s.screenshot for s in store.list_steps(ep)}
    assert hashes[a] == hashes[b] != hashes[c]
    assert store.screenshot_size(hashes[c]) == (20, 10)
    with pytest.raises(NotFoundError):
        store.get_screenshot("0" * 64)
    with pytest.raises(ValueError, match="PNG"):
        store.add_step(ep, 3, b"GIF89a not a png")
    assert len(store.list_steps(ep)) == 3


def test_foreign_keys_are_enforced(store: RunStore) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        store.add_episode("no-such-run", 0, "t")
    with pytest.raises(sqlite3.IntegrityError):
        store.add_step(12345, 0)
    with pytest.raises(sqlite3.IntegrityError):
        store.add_samples(12345, [{"text": "x"}])
    with pytest.raises(sqlite3.IntegrityError):
        store.log_metrics("no-such-run", 0, {"loss": 1.0})
    with pytest.raises(sqlite3.IntegrityError):
        store.add_adapter("no-such-run", 1, "/x")
    run_id = store.start_run("grpo", {})
    store.add_episode(run_id, 0, "t")
    with pytest.raises(sqlite3.IntegrityError):
        store.db.execute("delete from runs where id = ?", [run_id])
    assert store.db["episodes"].count == 1 and store.db["screenshots"].count == 0


def test_delete_run_cascades_and_keeps_shared_screenshots(tmp_path: Path) -> None:
    path = tmp_path / "halo.db"
    with RunStore(path) as store:
        keep, gone = store.start_run("grpo", {}), store.start_run("grpo", {})
        for run_id, seeds in ((keep, [1, 2]), (gone, [2, 3, 4])):
            ep = store.add_episode(run_id, 1, "t")
            for i, seed in enumerate(seeds):
                step = store.add_step(ep, i, png(seed, (64, 64)))
                store.add_samples(step, [{"text": "a"}, {"text": "b"}])
            store.log_metrics(run_id, 1, {"success_rate": 1.0})
            store.add_adapter(run_id, 1, "/x")
        counts = {t: store.db[t].count for t in ("episodes", "steps", "samples", "metrics", "adapters", "screenshots")}
        assert counts == {"episodes": 2, "steps": 5, "samples": 10, "metrics": 2, "adapters": 2, "screenshots": 4}
        store.delete_run(gone)
        with pytest.raises(NotFoundError):
            store.get_run(gone)
        with pytest.raises(NotFoundError):
            store.delete_run(gone)
        counts = {t: store.db[t].count for t in ("episodes", "steps", "samples", "metrics", "adapters", "screenshots")}
        assert counts == {"episodes": 1, "steps": 2, "samples": 4, "metrics": 1, "adapters": 1, "screenshots": 2}
        kept = [s.screenshot for s in store.list_steps(store.list_episodes(keep)[0].id)]
        assert [store.get_screenshot(h) for h in kept] == [png(1, (64, 64)), png(2, (64, 64))]
        assert store.db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert store.db.execute("PRAGMA freelist_count").fetchone()[0] == 0  # space given back
        store.delete_run(keep)
        assert all(store.db[t].count == 0 for t in counts) and store.list_runs() == []


# -- migrations ------------------------------------------------------------------------------------------


def _m_next_notes(db: Database) -> None:
    """A migration as a later release would append it: rebuilds `runs`, which other tables reference."""
    db["runs"].add_column("notes", str)
    db["runs"].transform(rename={"host": "hostname"}, defaults={"notes": ""})
    db["runs"].create_index(["status"], index_name="idx_runs_status")


def test_older_version_runs_pending_migrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "halo.db"
    with RunStore(path) as store:
        run_id = store.start_run("grpo", {"k": 1})
        ep = store.add_episode(run_id, 1, "t")
        store.add_step(ep, 0, png(1))
    current = latest_version()
    assert schema_version(Database(path)) == current

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, _m_next_notes])
    with RunStore(path) as store:
        assert schema_version(store.db) == current + 1
        columns = set(store.db["runs"].columns_dict)
        assert {"notes", "hostname"} <= columns and "host" not in columns
        assert ("status",) in {tuple(i.columns) for i in store.db["runs"].indexes}
        assert store.db.execute("select count(*) from episodes where run_id = ?", [run_id]).fetchone()[0] == 1
        assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store.db.execute("PRAGMA foreign_key_check").fetchall() == []
        with pytest.raises(sqlite3.IntegrityError):  # the rebuilt table is still referenced
            store.db.execute("delete from runs where id = ?", [run_id])
    with RunStore(path) as store:  # nothing pending: opening again changes nothing
        assert schema_version(store.db) == current + 1


def test_version_1_file_gets_the_episode_policy_column(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store written by the first release opens in this one, its rows kept, the new column empty."""
    path = tmp_path / "halo.db"
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:1])
    with RunStore(path) as store:
        # as release 1 wrote them (its start_run knew no pid, its add_episode no policy)
        run_id = "train-grpo-20261125-000000-abcd"
        store.db["runs"].insert({"id": run_id, "command": "train grpo", "config": '{"k": 1}', "status": "running",
                                 "started": "2026-11-25T00:00:00"})
        old_episode = store.db["episodes"].insert(
            {"run_id": run_id, "iteration": 1, "task_id": "t", "status": "running", "started": "2026-11-25T00:00:00"}
        ).last_pk
    assert "policy" not in Database(path)["episodes"].columns_dict
    monkeypatch.undo()
    with RunStore(path) as store:
        assert schema_version(store.db) == latest_version() >= 2
        assert store.get_episode(old_episode).policy is None
        new_episode = store.add_episode(run_id, 2, "t", policy=f"{run_id}-v1")
        assert store.get_episode(new_episode).policy == f"{run_id}-v1"


def test_fresh_file_at_version_zero_gets_every_migration(tmp_path: Path) -> None:
    path = tmp_path / "halo.db"
    Database(path).execute("PRAGMA user_version=0")
    with RunStore(path) as store:
        assert schema_version(store.db) == latest_version()
        assert store.db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental


def test_failed_migration_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "halo.db"
    with RunStore(path) as store:
        store.start_run("grpo", {})

    def _broken(db: Database) -> None:
        db["runs"].add_column("half_done", str)
        raise RuntimeError("migration bug")

    current = latest_version()
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, _broken])
    with pytest.raises(RuntimeError, match="migration bug"):
        RunStore(path)
    db = Database(path)
    assert schema_version(db) == current and "half_done" not in db["runs"].columns_dict
    assert db["runs"].count == 1


def test_newer_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "halo.db"
    with RunStore(path):
        pass
    Database(path).execute(f"PRAGMA user_version={latest_version() + 1}")
    with pytest.raises(StoreError, match="upgrade halo"):
        RunStore(path)
