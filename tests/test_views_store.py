"""The store's side of the views: the migrations (grader verdict, per-sample components, indexes), the read
queries of core/store/views.py on real SQLite, and the pure helpers the views draw with."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image
from views_helpers import fixed_run

from halo_cli.core.actions import LeftClick, LeftClickDrag, Type
from halo_cli.core.env.real.grading import finish_differences
from halo_cli.core.store import EpisodeFilter, RunStore, RunViews
from halo_cli.tui.format import action_text, adapter_label, ago, num, signed
from halo_cli.tui.shots import MARK, fit, marked, marker_of

REF = Path("/work/shared/reference/real-finish-states")
DATA = Path(__file__).resolve().parent / "data" / "real"


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    db = tmp_path / "halo.db"
    fixed_run(db)
    with RunStore(db, create=False) as s:
        yield s


def test_verdict_and_sample_components_round_trip(store: RunStore) -> None:
    views = RunViews(store)
    gomail = views.episodes("grpo-demo", EpisodeFilter(task="v2.gomail-3"))[0]
    assert gomail.outcome is None  # listings leave the grader's details out
    full = views.episode(gomail.id)
    assert full.outcome is not None and full.outcome["criteria"][0]["expected"] == "jane@example.com"
    assert full.outcome["finish"]["differences"]["emails"]["added"]["0"]["to"] == "john@example.com"
    samples = views.samples(gomail.id)
    first = samples[min(samples)]
    assert first[1].reward_components == {"valid": 0.1, "new_state": 0.0} and first[2].reward_components is None


def test_filters_counts_and_facets(store: RunStore) -> None:
    views = RunViews(store)
    assert views.count_episodes("grpo-demo") == 8
    failed = views.episodes("grpo-demo", EpisodeFilter(failed=True))
    assert len(failed) == 6 and all(not e.success for e in failed)  # gomail always, click-test in iterations 1-2
    assert [e.iteration for e in views.episodes("grpo-demo", EpisodeFilter(iteration=3))] == [3, 3]
    assert {e.task_id for e in views.episodes("grpo-demo", EpisodeFilter(domain="gomail"))} == {"v2.gomail-3"}
    assert views.count_episodes("grpo-demo", EpisodeFilter(text="CLICK-TEST/2")) == 4  # a step's URL, any case
    assert views.count_episodes("grpo-demo", EpisodeFilter(text="100%")) == 0  # % is a character, not a wildcard
    page = views.episodes("grpo-demo", limit=3, offset=3)
    assert [e.id for e in page] == [e.id for e in views.episodes("grpo-demo")][3:6]
    assert views.facets("grpo-demo") == (["gomail", "miniwob"], ["miniwob.click-test", "v2.gomail-3"], 4)
    counts = views.counts("grpo-demo")
    assert (counts.episodes, counts.running, counts.successes, counts.steps, counts.iterations) == (8, 0, 2, 24, 4)
    assert counts.success_rate == 0.25
    tasks = {t.task_id: t for t in views.tasks("grpo-demo")}
    assert tasks["miniwob.click-test"].successes == 2 and tasks["v2.gomail-3"].success_rate == 0.0


def test_curves_policies_and_latest_step(tmp_path: Path) -> None:
    db = tmp_path / "halo.db"
    fixed_run(db, running=True)
    with RunStore(db, create=False) as store:
        views = RunViews(store)
        curves = views.curves("grpo-demo")
        assert curves["mean_reward"] == [(1, 1.5), (2, 3.0), (3, 4.5), (4, 6.0)]
        store.log_metrics("grpo-demo", 4, {"mean_reward": 7.0, "loss": None})  # logged again: the later value wins
        assert views.curves("grpo-demo", ["mean_reward", "loss"])["mean_reward"][-1] == (4, 7.0)
        assert [x for x, _ in views.curves("grpo-demo", ["kl"], points=2)["kl"]] == [2, 4]  # thinned, last kept
        assert len(views.curves("grpo-demo", points=10)["kl"]) == 4
        assert [(p.iteration, p.policy, p.episodes) for p in views.policies("grpo-demo", last=2)] == [
            (3, "grpo-demo-v2-00000002", 2), (4, "grpo-demo-v3-00000003", 2)]
        (flying,) = views.in_flight("grpo-demo")
        assert flying.episode.task_id == "v2.gomail-3" and flying.steps == 2
        latest = views.latest_step("grpo-demo")
        assert latest is not None and latest.episode.id == flying.episode.id and latest.step.index == 1
        assert [s.index for s in latest.samples] == [0, 1, 2]
        assert views.counts("grpo-demo").steps == 23  # 7 ended episodes of 3 steps and 2 steps in flight


@pytest.mark.parametrize(("query", "index"), [
    ("select id from episodes where run_id = 'r' and status = 'running'", "idx_episodes_running"),
    ("select task_id, count(success), sum(success), avg(episode_return) from episodes where run_id = 'r'"
     " group by task_id", "idx_episodes_run_task"),
    ("select * from steps where episode_id = 1 order by step_index", "idx_steps_episode"),
    ("select * from samples where step_id = 1 order by sample_index", "idx_samples_step"),
    ("select name, iteration, value from metrics where run_id = 'r' order by name, iteration, id",
     "idx_metrics_run_name_iter"),
])
def test_view_queries_use_their_indexes(store: RunStore, query: str, index: str) -> None:
    plan = " ".join(str(r[-1]) for r in store.db.execute("explain query plan " + query).fetchall())
    assert index in plan, plan


def test_finish_differences_keep_what_changed_and_stay_bounded() -> None:
    zilloft = json.loads((REF / "zilloft_finish_v1.json").read_text()) if REF.is_dir() else {
        "config": {"x": 1}, "differences": {"requestTours": {"added": {"0": {"id": "a"}}, "deleted": {}}}}
    diff = finish_differences(zilloft)
    assert list(diff) == ["differences"] and "config" not in diff
    assert "deleted" not in json.dumps(diff)  # empty collections say nothing
    calendar = json.loads((DATA / "gocalendar_v2_finish.json").read_text())
    assert set(finish_differences(calendar)) == {"differences", "initialfinaldiff"}
    big = {"differences": {"emails": {"added": {str(i): {"body": "x" * 100} for i in range(500)}}}}
    clipped = finish_differences(big, limit=1000)
    assert isinstance(clipped, str) and len(clipped) <= 1001 and clipped.endswith("…")
    assert finish_differences({"page": {"a": 1}}) == {"page": {"a": 1}}  # no difference keys: the whole state


def test_action_text_markers_and_numbers() -> None:
    click = LeftClick(x=500, y=250, width=1280, height=720).to_dict()
    assert action_text(click) == "left_click at (500, 250)"
    assert action_text(None, "no tool call") == "unparsed: no tool call" and action_text(None) == "-"
    assert action_text(Type(text="hi").to_dict()) == 'type "hi"'
    m = marker_of(click)
    assert m is not None and abs(m.x - 0.5) < 0.002 and abs(m.y - 0.25) < 0.002
    drag = marker_of(LeftClickDrag(x=900, y=900, start=(100, 100), width=1280, height=720).to_dict())
    assert drag is not None and drag.start is not None and drag.start[0] < 0.2
    assert marker_of(Type(text="x").to_dict()) is None and marker_of({"kind": "nonsense"}) is None
    assert fit((1280, 720), (160, 200)) == (160, 90) and fit((100, 50), (1000, 1000)) == (100, 50)
    assert (num(3.0), num(0.123456), num(None), signed(0.5), signed(-0.25), signed(0.0)) == (
        "3", "0.123", "-", "+0.5", "-0.25", "0")
    assert adapter_label("r1-v3-0a1b2c3d", "r1") == "v3" and adapter_label("halo-tiny", "r1") == "base"
    assert adapter_label("r0-v2-0a1b2c3d", "r1") == "r0-v2-0a1b2c3d"  # another run's adapter, under halo eval
    assert adapter_label("eval-0a1b2c3d", "r1") == "eval-0a1b2c3d" and adapter_label(None, "r1") == "-"
    assert adapter_label("r1-v3", "r1") == "base"  # not a name halo serves adapters under: a base model's name
    from datetime import datetime, timezone
    assert ago("2026-01-01T00:00:00+00:00", datetime(2026, 1, 1, 0, 2, 5, tzinfo=timezone.utc)) == "2m"


def test_marked_draws_the_marker_where_the_action_was() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (1280, 720), (255, 255, 255)).save(buf, "PNG")
    m = marker_of(LeftClick(x=250, y=500, width=1280, height=720).to_dict())
    img = marked(buf.getvalue(), m, (160, 180))
    assert img.size == (160, 90)
    x, y = round(m.x * 159), round(m.y * 89)  # type: ignore[union-attr]
    assert img.getpixel((x, y)) == MARK  # the dot
    assert img.getpixel((5, 5)) == (255, 255, 255)  # far from the crosshair the page is untouched
    assert marked(buf.getvalue(), None).size == (1280, 720)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("points", [
    [(1, 1.0), (2, 0.9999999999999998)],  # an IS weight at float precision: pygal's tick loop never ended on it
    [(1, 1.0), (2, 1.0)], [(1, 0.0), (2, 0.0)], [(1, 0.0)], [(1, -2.0), (2, -2.0000000000001)],
    [(1, 1e-9), (2, 2e-9)], [(1, 3.5), (2, 8.6), (3, 1e-17)],
])
def test_report_plots_draw_flat_and_float_noise_curves(points: list[tuple[int, float]]) -> None:
    from halo_cli.tui.report.plots import metric_svg

    svg = metric_svg("is weight", points)
    assert svg.startswith("<svg") and "<script" not in svg and "is weight" in svg
