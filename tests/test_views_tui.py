"""The Textual apps on a fixed run written through the RunStore API: layout snapshots, the dashboard beside a
trainer in one process (`with_dashboard`), and the commands' one-line errors.

Snapshots are Textual's own SVG screenshots (`App.export_screenshot`), compared as text with the files under
tests/snapshots/; `HALO_UPDATE_SNAPSHOTS=1` rewrites them (look at the new ones before committing: they are SVG
images). pytest-textual-snapshot does the same but pins syrupy 4.8, which refuses pytest 9.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import one_line_error
from views_helpers import T0, fixed_run, screen_text

from halo_cli.app import main
from halo_cli.core.errors import HaloError
from halo_cli.core.store import RunStore
from halo_cli.tui.live import with_dashboard
from halo_cli.tui.replay import ReplayApp
from halo_cli.tui.watch import WatchApp

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
SIZE = (180, 50)
NOW = datetime.fromisoformat(T0) + timedelta(seconds=42)
UPDATE = os.environ.get("HALO_UPDATE_SNAPSHOTS") == "1"  # read before no_halo_env clears HALO_* variables

pytestmark = pytest.mark.usefixtures("no_halo_env")


def assert_snapshot(name: str, svg: str, tmp_path: Path) -> None:
    path = SNAPSHOTS / f"{name}.svg"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(svg)
    assert path.is_file(), f"no snapshot {path}: run with HALO_UPDATE_SNAPSHOTS=1 and look at it"
    if path.read_text() != svg:
        actual = tmp_path / f"{name}.svg"
        actual.write_text(svg)
        pytest.fail(f"the {name} screen changed: compare {actual} with {path} (HALO_UPDATE_SNAPSHOTS=1 accepts it)")


def test_replay_layout(tmp_path: Path) -> None:
    db = tmp_path / "halo.db"
    fixed_run(db)

    async def drive() -> str:
        with RunStore(db, create=False) as store:
            app = ReplayApp(store, "grpo-demo", graphics="blocks")
            async with app.run_test(size=SIZE) as pilot:
                await pilot.press("n", "right")  # the gomail episode of iteration 1, its second step
                await pilot.pause()
                text = screen_text(app)
                assert "episode 2" in text and "v2.gomail-3" in text and "FAILURE" in text
                assert "differences.emails.added" in text and "jane@example.com" in text and "john@example.com" in text
                assert "/finish differences" in text and "sampled actions at step 1" in text
                assert "▶" in text and "+0.4" in text and "type \"hello\"" in text
                return app.export_screenshot()

    assert_snapshot("replay", asyncio.run(drive()), tmp_path)


def test_dashboard_layout(tmp_path: Path) -> None:
    db = tmp_path / "halo.db"
    fixed_run(db, running=True)

    async def drive() -> str:
        app = WatchApp(db, "grpo-demo", graphics="blocks", now=lambda: NOW)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            text = screen_text(app)
            assert "running" in text and "iteration 4 of 4" in text and "1 running" in text
            assert "IS weight" in text and "last step 42s ago" in text
            assert "v2.gomail-3" in text and "loaded in vLLM v3, v4" in text
            return app.export_screenshot()

    assert_snapshot("dashboard", asyncio.run(drive()), tmp_path)


def test_dashboard_follows_a_live_writer(tmp_path: Path) -> None:
    """Another connection writes; the dashboard sees each commit on its next look, and only then queries."""
    db = tmp_path / "halo.db"
    fixed_run(db, running=True)

    async def drive() -> None:
        app = WatchApp(db, "grpo-demo", graphics="blocks", interval=0.1)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.3)
            reads = app.refreshes
            await pilot.pause(0.4)
            assert app.refreshes == reads  # an unchanged store is not queried again
            with RunStore(db, create=False) as writer:
                ep = writer.add_episode("grpo-demo", 5, "miniwob.click-test", policy="grpo-demo-v4-00000004")
                writer.add_step(ep, 0, None, url="http://x/", action=None, reward=0.0)
                writer.log_metrics("grpo-demo", 5, {"mean_reward": 9.0})
            await pilot.pause(0.5)
            text = screen_text(app)
            assert app.refreshes > reads and "iteration 5 of 4" in text and "2 running" in text
            assert "mean reward  9" in text

    asyncio.run(drive())


def _trainer_like(db: Path, seen: list[str], stop_after: float | None):  # type: ignore[no-untyped-def]
    """A work function for with_dashboard that writes a run step by step and prints, as the trainer does."""

    def work(out, on_run) -> None:  # type: ignore[no-untyped-def]
        with RunStore(db) as store:
            run_id = store.start_run("train grpo", {"grpo": {"episodes": 2}}, "miniwob")
            on_run(run_id)
            out.print(f"run {run_id} (new)")
            ep = store.add_episode(run_id, 1, "miniwob.click-test", policy="halo-tiny")
            seen.append(threading.current_thread().name)
            t0 = time.monotonic()
            try:
                i = 0
                while stop_after is None or time.monotonic() - t0 < stop_after:
                    if i < 3:
                        store.add_step(ep, i, None, url="http://x/", reward=0.1)
                        out.print(f"iteration 1: step {i}")
                    i += 1
                    time.sleep(0.02)
            except KeyboardInterrupt:
                seen.append("interrupted")
                store.finish_run(run_id, "aborted")
                raise
            raise HaloError("the policy server went away")

    return work


def test_quitting_the_dashboard_stops_the_trainer_thread(tmp_path: Path) -> None:
    db = tmp_path / "halo.db"
    RunStore(db).close()
    seen: list[str] = []
    screens: list[str] = []

    async def pilot_script(pilot) -> None:  # type: ignore[no-untyped-def]
        for _ in range(100):
            await pilot.pause(0.1)
            text = screen_text(pilot.app)
            if "iteration 1: step 2" in text and "3 steps" in text:
                break
        screens.append(screen_text(pilot.app))
        await pilot.press("q")

    with pytest.raises(KeyboardInterrupt):  # the command then ends as after Ctrl-C: "halo: aborted", exit 130
        with_dashboard(db, _trainer_like(db, seen, None), graphics="blocks", interval=0.1,
                       run_app=lambda app: app.run(headless=True, size=SIZE, auto_pilot=pilot_script))
    assert seen == ["halo-trainer", "interrupted"]  # trained in its own thread; q interrupted it
    assert "iteration 1: step 2" in screens[0] and "miniwob.click-test" in screens[0]  # its output and its run
    with RunStore(db, create=False) as store:
        assert store.list_runs()[0].status == "aborted"


def test_a_failing_trainer_is_reported_after_the_dashboard(tmp_path: Path) -> None:
    db = tmp_path / "halo.db"
    RunStore(db).close()
    seen: list[str] = []

    async def pilot_script(pilot) -> None:  # type: ignore[no-untyped-def]
        for _ in range(100):
            await pilot.pause(0.1)
            if any("went away" in str(n.message) for n in pilot.app._notifications):
                break
        await pilot.press("q")

    with pytest.raises(HaloError, match="the policy server went away"):
        with_dashboard(db, _trainer_like(db, seen, 0.3), graphics="blocks", interval=0.1,
                       run_app=lambda app: app.run(headless=True, size=SIZE, auto_pilot=pilot_script))


def test_commands_fail_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "halo.db"
    fixed_run(db)
    missing = str(tmp_path / "nowhere.db")
    cases = [
        (["replay", "grpo-demo", "--db", missing], "no run store at"),
        (["replay", "nope", "--db", str(db)], "unknown run 'nope'"),
        (["watch", "nope", "--db", str(db)], "unknown run 'nope'"),
        (["watch", "grpo", "--db", missing], "no run store at"),
        (["replay", "grpo-demo", "--db", str(db), "--html", str(tmp_path / "no" / "r.html")], "does not exist"),
        (["replay", "grpo-demo", "--db", str(db), "--html", str(tmp_path)], "is a directory"),
        (["replay", "--db", str(db), "--html", str(tmp_path / "r.html")], "--html needs a RUN"),
        (["replay", "grpo-demo", "--db", str(db), "--graphics", "sixel"], "--graphics must be auto or blocks"),
        (["replay", "grpo-demo", "--db", str(db)], "halo replay (without --html) needs a terminal"),
        (["watch", "grpo-demo", "--db", str(db)], "halo watch needs a terminal"),
        (["train", "grpo", "--domain", "miniwob:click-test", "--tui"], "--tui needs a terminal"),
    ]
    for args, needle in cases:
        assert main(args) == 2, args
        assert needle in one_line_error(capsys), (args, needle)
    assert not Path(missing).exists()  # looking never creates a store
    out = tmp_path / "report.html"
    assert main(["replay", "grpo", "--db", str(db), "--html", str(out), "--failed", "--limit", "2"]) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "2 of 6 episodes" in printed and out.stat().st_size > 10_000
    assert not list(tmp_path.glob(".report.html.*"))  # written beside it, then renamed into place


@pytest.mark.parametrize("command", [["replay", "grpo"], ["watch", "grpo-demo"], ["replay"]])
def test_commands_draw_on_a_terminal_and_quit(command: list[str], tmp_path: Path) -> None:
    """The apps on a real (pseudo-)terminal, as `halo` starts them: drawn, driven by keys, left with q."""
    import sys

    from pty_session import PtySession

    db = tmp_path / "halo.db"
    fixed_run(db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALO_")}
    env.update(TERM="xterm-256color", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    session = PtySession([sys.executable, "-m", "halo_cli.app", *command, "--db", str(db)], env=env,
                         cwd=str(tmp_path))
    try:
        drawn = lambda: session.output.decode("utf-8", "replace")  # noqa: E731
        assert session.wait_for(lambda: "grpo-demo" in drawn(), timeout=120), drawn()[-2000:]
        session.pump(1.0)
        if command == ["replay"]:  # the list of runs first: Enter opens the one under the cursor
            session.type(b"\r")
            assert session.wait_for(lambda: "miniwob.click-test" in drawn(), 60), drawn()[-2000:]
            session.pump(1.0)
        session.type(b"q")
        assert session.wait(60) == 0, drawn()[-2000:]
    finally:
        session.kill()
