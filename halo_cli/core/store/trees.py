"""Search trees in the run store (`search_trees`, `search_nodes`, migration 8): written by `halo train mcts`, read by
`halo runs show` and the preference-pair export.

A tree is written in one transaction when its search ends, so a kill never leaves half a tree; its screenshots go
to the store's `screenshots` table (once per content), and the prompts of expanded nodes keep their images as
screenshot hashes instead of base64 data URLs.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from halo_cli.core.store.records import column, from_row, opt_float
from halo_cli.core.store.store import RunStore, now_iso

_DATA_URL = "data:image/png;base64,"


@dataclass(frozen=True, slots=True)
class SearchTree:
    id: int
    run_id: str
    iteration: int
    episode_id: int | None
    task_id: str
    seed: int | None
    simulations: int | None
    nodes: int | None
    success: bool | None
    best_q: float | None
    stats: dict[str, Any] | None = column(json=True)
    created: str = ""


@dataclass(frozen=True, slots=True)
class SearchNode:
    id: int
    tree_id: int
    index: int = column("node_index")
    parent_index: int | None
    depth: int
    action: Any = column(json=True)
    sample_indices: dict[str, Any] | None = column(json=True)  # {"batch": b, "samples": [i, ...]}
    text: str | None
    url: str | None
    state_key: str | None
    screenshot: str | None
    visits: int
    q: float | None
    value: float | None
    reward: float | None
    reward_components: dict[str, Any] | None = column(json=True)
    critique_text: str | None
    critique_score: float | None
    critique_how: str | None
    terminal: bool | None
    success: bool | None
    executions: int | None
    invalid: int | None
    error: str | None
    advantage: float | None
    prompt: list[dict[str, Any]] | None = column(json=True)


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _prompt_with_refs(store: RunStore, messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The messages with every PNG data URL stored as a screenshot and replaced by ``{"screenshot": hash}``."""
    out = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            items = []
            for item in content:
                url = item.get("image_url", {}).get("url", "") if item.get("type") == "image_url" else ""
                if url.startswith(_DATA_URL):
                    items.append({"type": "image", "screenshot": store._put_screenshot(
                        base64.b64decode(url[len(_DATA_URL):]))})
                else:
                    items.append(dict(item))
            content = items
        out.append({**m, "content": content})
    return out


def add_tree(store: RunStore, run_id: str, iteration: int, *, task_id: str, seed: int | None,
             episode_id: int | None, stats: Mapping[str, Any], nodes: Sequence[Mapping[str, Any]],
             screenshots: Mapping[int, bytes], prompts: Mapping[int, Sequence[Mapping[str, Any]]]) -> int:
    """Records a finished search in one transaction and returns its id.

    `nodes` are rows keyed by the `search_nodes` columns (without `tree_id`, `screenshot`, `prompt`);
    `screenshots[node_index]` is the PNG of a reached node and `prompts[node_index]` the expansion's messages."""
    with store._write():
        root = next((n for n in nodes if n.get("parent_index") is None), None)
        tree_id = int(store._table("search_trees").insert({
            "run_id": run_id, "iteration": int(iteration), "episode_id": episode_id, "task_id": task_id,
            "seed": seed, "simulations": stats.get("simulations"), "nodes": len(nodes),
            "success": int(any(n.get("success") for n in nodes)),
            "best_q": opt_float(max((n["q"] for n in nodes if n.get("parent_index") == 0 and n.get("visits")),
                                    default=None)) if root is not None else None,
            "stats": _dumps(dict(stats)), "created": now_iso(),
        }).last_pk)
        rows = []
        for n in nodes:
            i = int(n["node_index"])
            png = screenshots.get(i)
            row = {k: (_dumps(v) if k in ("action", "sample_indices", "reward_components") else v) for k, v in n.items()}
            row.update(tree_id=tree_id, screenshot=store._put_screenshot(png) if png is not None else None,
                       prompt=_dumps(_prompt_with_refs(store, prompts[i])) if i in prompts else None)
            for flag in ("terminal", "success"):
                row[flag] = int(bool(row.get(flag)))
            rows.append(row)
        store._table("search_nodes").insert_all(rows)
    return tree_id


def list_trees(store: RunStore, run_id: str) -> list[SearchTree]:
    rows = store.query("select * from search_trees where run_id = ? order by iteration, id", [run_id])
    return [from_row(SearchTree, r) for r in rows]


def tree_nodes(store: RunStore, tree_id: int) -> list[SearchNode]:
    rows = store.query("select * from search_nodes where tree_id = ? order by node_index", [tree_id])
    return [from_row(SearchNode, r) for r in rows]


@dataclass(frozen=True, slots=True)
class TreeCounts:
    """What `halo runs show` says about a run's trees."""

    trees: int
    nodes: int
    successful: int
    critiques: int
    unreadable_critiques: int


def tree_counts(store: RunStore, run_id: str) -> TreeCounts:
    (row,) = store.query(
        "select count(distinct t.id) as trees, count(n.id) as nodes, "
        "count(distinct case when t.success then t.id end) as successful, "
        "sum(n.critique_how is not null and n.critique_how != 'off') as critiques, "
        "sum(n.critique_how = 'fallback') as unreadable "
        "from search_trees t left join search_nodes n on n.tree_id = t.id where t.run_id = ?", [run_id])
    return TreeCounts(int(row["trees"] or 0), int(row["nodes"] or 0), int(row["successful"] or 0),
                      int(row["critiques"] or 0), int(row["unreadable"] or 0))
