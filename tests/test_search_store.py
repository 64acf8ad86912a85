"""Search trees in a real SQLite run store (migration 8): written in one piece, read back, counted for `halo runs
show`, exported as DPO pairs, and removed with their run or by a resume's discard (screenshots another run still
uses stay)."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest
from conftest import png

from halo_cli.core.store import ExportError, RunStore
from halo_cli.core.store.dpo import export_dpo
from halo_cli.core.store.trees import add_tree, list_trees, tree_counts, tree_nodes


def node(index: int, parent: int | None, *, q: float | None, text: str | None, **extra: object) -> dict[str, object]:
    return {"node_index": index, "parent_index": parent, "depth": 0 if parent is None else 1,
            "action": None if parent is None else {"kind": "left_click", "arguments": {"coordinate": [index, index]}},
            "sample_indices": None if parent is None else {"batch": 0, "samples": [index - 1]}, "text": text,
            "visits": 3 if q is not None else 0, "q": q, "value": q, "terminal": False, "success": False,
            "executions": 0 if parent is None else 1, "invalid": 0, **extra}


def write_tree(store: RunStore, run_id: str, iteration: int, shot: bytes) -> int:
    episode = store.add_episode(run_id, iteration, "drill.menu@6")
    url = "data:image/png;base64," + base64.b64encode(shot).decode()
    prompt = [{"role": "system", "content": [{"type": "text", "text": "sys"}]},
              {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                           {"type": "text", "text": "goal"}]}]
    nodes = [node(0, None, q=0.5, text=None), node(1, 0, q=0.9, text="<tool_call>good</tool_call>",
                                                   critique_text="Score: 0.9", critique_score=0.9,
                                                   critique_how="score"),
             node(2, 0, q=0.2, text="<tool_call>bad</tool_call>", critique_text="zzz", critique_score=0.5,
                  critique_how="fallback"),
             node(3, 0, q=None, text="<tool_call>untried</tool_call>")]
    return add_tree(store, run_id, iteration, task_id="drill.menu@6", seed=6, episode_id=episode,
                    stats={"simulations": 3, "executions": 2}, nodes=nodes, screenshots={0: shot, 1: png(2)},
                    prompts={0: prompt})


def test_a_tree_round_trips_and_exports_its_pair(tmp_path: Path) -> None:
    with RunStore(tmp_path / "halo.db") as store:
        run_id = store.start_run("train mcts", {"mcts": {"dpo_margin": 0.1}}, "drill:menu@6")
        tree_id = write_tree(store, run_id, 1, png(1))
        (tree,) = list_trees(store, run_id)
        assert (tree.id, tree.nodes, tree.simulations, tree.best_q, tree.success) == (tree_id, 4, 3, 0.9, False)
        nodes = tree_nodes(store, tree_id)
        assert [n.index for n in nodes] == [0, 1, 2, 3] and nodes[1].action["arguments"]["coordinate"] == [1, 1]
        image = nodes[0].prompt[1]["content"][0]  # type: ignore[index]
        assert image["type"] == "image" and store.get_screenshot(image["screenshot"]) == png(1)  # no base64 kept
        assert store.get_screenshot(nodes[1].screenshot) == png(2)  # type: ignore[arg-type]
        counts = tree_counts(store, run_id)
        assert (counts.trees, counts.nodes, counts.critiques, counts.unreadable_critiques) == (1, 4, 2, 1)

        result = export_dpo(store, run_id, tmp_path / "out")
        (row,) = [json.loads(line) for line in result.path.read_text().splitlines()]
        assert row["chosen"][0]["content"][0]["text"] == "<tool_call>good</tool_call>"
        assert row["rejected"][0]["content"][0]["text"] == "<tool_call>bad</tool_call>"  # the untried one has no Q
        assert (row["chosen_q"], row["rejected_q"]) == (0.9, 0.2)
        assert row["prompt"][1]["content"][0] == {"type": "image"}
        assert (tmp_path / "out" / row["images"][0]).read_bytes() == png(1)
        with pytest.raises(ExportError, match="more than 0.8"):
            export_dpo(store, run_id, tmp_path / "out2", margin=0.8)


def test_trees_leave_with_their_iterations_and_their_run(tmp_path: Path) -> None:
    with RunStore(tmp_path / "halo.db") as store:
        run_id = store.start_run("train mcts", {}, "drill:menu@6")
        other = store.start_run("train mcts", {}, "drill:menu@6")
        write_tree(store, run_id, 1, png(1))
        write_tree(store, run_id, 2, png(3))
        write_tree(store, other, 1, png(1))  # shares the root's screenshot
        store.discard_after(run_id, 1, 0)  # a resume from iteration 1
        assert [t.iteration for t in list_trees(store, run_id)] == [1]
        store.delete_run(run_id)
        assert list_trees(store, run_id) == [] and store.query("select count(*) as n from search_nodes")[0]["n"] == 4
        assert store.get_screenshot(tree_nodes(store, list_trees(store, other)[0].id)[0].screenshot) == png(1)
        with pytest.raises(ExportError, match="no search trees"):
            export_dpo(store, store.start_run("train grpo", {}, "x"), tmp_path / "none")


def test_replay_shows_an_episodes_search_tree(tmp_path: Path, no_halo_env: None) -> None:
    """`halo replay`, key `s` on a `train mcts` episode: its tree, each node with visits, Q and critique."""
    from views_helpers import screen_text

    from halo_cli.tui.replay import ReplayApp
    from halo_cli.tui.search_tree import SearchTreeScreen, SearchTreeView

    db = tmp_path / "halo.db"
    with RunStore(db) as store:
        run_id = store.start_run("train mcts", {}, "drill:menu@6")
        write_tree(store, run_id, 1, png(1))
        (episode,) = store.list_episodes(run_id)
        store.finish_episode(episode.id, "finished", success=False, episode_return=0.3, length=0)

    async def drive() -> None:
        with RunStore(db, create=False) as store:
            app = ReplayApp(store, run_id, graphics="blocks")
            async with app.run_test(size=(160, 40)) as pilot:
                await pilot.press("s")
                await pilot.pause()
                assert isinstance(app.screen, SearchTreeScreen)
                view = app.screen.query_one(SearchTreeView)
                assert len(view.root.children) == 1 and len(view.root.children[0].children) == 3
                text = screen_text(app)
                assert "n=3 Q=0.900" in text and "critique 0.90 (score)" in text and "left_click [1, 1]" in text
                await pilot.press("escape")
                await pilot.pause()
                assert not isinstance(app.screen, SearchTreeScreen)

    asyncio.run(drive())
