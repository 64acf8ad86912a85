"""Preference pairs from a run's search trees as JSON Lines for DPO (`halo runs export RUN --format dpo`).

Agent Q (arXiv 2408.07199, §4.3) trains by DPO on node-level pairs: at an expanded node, the best and the worst
sibling actions by Q, when their Qs differ by more than a margin (`mcts.dpo_margin` of the run, else given). Each
line is one pair in the conversational form TRL's `DPOTrainer` reads: `prompt` (the messages the siblings were
sampled from, each image as `{"type": "image"}` with its file in `images`), `chosen` and `rejected` (the two
replies as assistant messages), and their Qs and visits. Screenshots are written beside the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from halo_cli.core.store.export import ExportError
from halo_cli.core.store.store import RunStore
from halo_cli.core.store.trees import SearchNode, list_trees, tree_nodes

PAIRS_FILE = "preferences.jsonl"
SCREENSHOT_DIR = "screenshots"


@dataclass(frozen=True, slots=True)
class DPOExportResult:
    path: Path
    pairs: int
    screenshots: int


def node_pair(parent: SearchNode, children: list[SearchNode], margin: float) -> tuple[SearchNode, SearchNode] | None:
    """The best and the worst visited, error-free child by Q, when they differ by more than `margin`."""
    visited = [c for c in children if c.visits > 0 and c.q is not None and c.error is None and c.text is not None]
    if len(visited) < 2:
        return None
    best = max(visited, key=lambda c: (c.q, -c.index))
    worst = min(visited, key=lambda c: (c.q, c.index))
    if best is worst or (best.q or 0.0) - (worst.q or 0.0) <= margin:
        return None
    return best, worst


def _assistant(text: str) -> list[dict[str, Any]]:
    return [{"role": "assistant", "content": [{"type": "text", "text": text}]}]


def export_dpo(store: RunStore, run_id: str, out_dir: str | Path, *, margin: float | None = None) -> DPOExportResult:
    """Writes `preferences.jsonl` (one pair per line) and `screenshots/<sha256>.png`; `margin` defaults to the run's
    `mcts.dpo_margin`. A run without pairs is refused (a dataset of zero rows does not load)."""
    run = store.get_run(run_id)
    if margin is None:
        margin = float((run.config.get("mcts") or {}).get("dpo_margin", 0.1))
    trees = list_trees(store, run.id)
    if not trees:
        raise ExportError(f"run {run.id} has no search trees: --format dpo exports `halo train mcts` runs")
    rows: list[dict[str, Any]] = []
    for tree in trees:
        nodes = tree_nodes(store, tree.id)
        for parent in nodes:
            if parent.prompt is None:
                continue
            pair = node_pair(parent, [n for n in nodes if n.parent_index == parent.index], margin)
            if pair is None:
                continue
            chosen, rejected = pair
            images: list[str] = []
            prompt = []
            for m in parent.prompt:
                content = m["content"]
                if isinstance(content, list):
                    items = []
                    for item in content:
                        if item.get("type") == "image":
                            images.append(item["screenshot"])
                            items.append({"type": "image"})
                        else:
                            items.append(item)
                    content = items
                prompt.append({**m, "content": content})
            rows.append({
                "run_id": run.id, "tree_id": tree.id, "iteration": tree.iteration, "task_id": tree.task_id,
                "node_index": parent.index, "depth": parent.depth,
                "images": [f"{SCREENSHOT_DIR}/{h}.png" for h in images], "prompt": prompt,
                "chosen": _assistant(chosen.text or ""), "rejected": _assistant(rejected.text or ""),
                "chosen_q": chosen.q, "rejected_q": rejected.q,
                "chosen_visits": chosen.visits, "rejected_visits": rejected.visits,
            })
    if not rows:
        raise ExportError(f"run {run.id} has no sibling pairs whose Q differs by more than {margin:g} "
                          "(mcts.dpo_margin): nothing to export")
    out = Path(out_dir)
    try:
        return _write(store, rows, out)
    except OSError as e:
        raise ExportError(f"cannot write the export to {e.filename or out}: {e.strerror or e} "
                          "(choose another folder with --out)") from None


def _write(store: RunStore, rows: list[dict[str, Any]], out: Path) -> DPOExportResult:
    (out / SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
    written: set[str] = set()
    for row in rows:
        for rel in row["images"]:
            digest = Path(rel).stem
            if digest not in written:
                (out / rel).write_bytes(store.get_screenshot(digest))
                written.add(digest)
    target, tmp = out / PAIRS_FILE, out / (PAIRS_FILE + ".partial")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return DPOExportResult(target, len(rows), len(written))
