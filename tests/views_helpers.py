"""What the views tests share: the text a Textual app shows, read from its SVG screenshot (Textual's public export),
and a deterministic run written through the RunStore API for the layout snapshots."""

from __future__ import annotations

import html
import re
from pathlib import Path

from conftest import screenshot_png

from halo_cli.core.actions import LeftClick, Type
from halo_cli.core.store import RunStore

T0 = "2026-01-02T03:04:05.000+00:00"


def screen_lines(svg: str) -> list[str]:
    """The rows of text of an exported screen, top to bottom (runs of blank cells between segments are dropped)."""
    rows: dict[float, list[tuple[float, str]]] = {}
    for m in re.finditer(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', svg, flags=re.S):
        text = html.unescape(m.group(3)).replace("\xa0", " ")
        rows.setdefault(float(m.group(2)), []).append((float(m.group(1)), text))
    return ["".join(t for _, t in sorted(parts)) for _, parts in sorted(rows.items())]


def screen_text(app) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(screen_lines(app.export_screenshot()))


def fixed_run(db: Path, *, running: bool = False) -> str:
    """A small two-task run with fixed ids and times: rewards, advantages, a parse failure, a REAL-style verdict with
    criteria and /finish differences, adapters; with `running`, its last episode is still going."""
    with RunStore(db) as store:
        rid = store.start_run("train grpo", {"grpo": {"episodes": 8, "concurrent_episodes": 2, "num_generations": 3}},
                              "miniwob:click-test,gomail", git_rev="0" * 40)
        store.db.execute("update runs set id = 'grpo-demo', started = ?, host = 'ci' where id = ?", [T0, rid])
        rid = "grpo-demo"
        for it in range(1, 5):
            for k, (task, domain) in enumerate((("miniwob.click-test", "miniwob"), ("v2.gomail-3", "gomail"))):
                policy = "halo-tiny" if it == 1 else f"{rid}-v{it - 1}-{it - 1:08x}"
                ep = store.add_episode(rid, it, task, domain=domain, seed=it * 10 + k, policy=policy)
                last = running and it == 4 and k == 1
                for i in range(2 if last else 3):
                    chosen = LeftClick(x=150 + 200 * i, y=300 + 150 * k, width=1280, height=720)
                    step = store.add_step(
                        ep, i, screenshot_png(seed=it + i), url=f"http://127.0.0.1:8000/{task}/{i}",
                        action=chosen.to_dict(), reward=0.3 * i + 0.1, done=i == 2 and not last,
                        reward_components={"valid": 0.1, "new_state": 0.2 if i else 0.0},
                    )
                    store.add_samples(step, [
                        {"text": "a", "action": LeftClick(x=700, y=80, width=1280, height=720).to_dict(),
                         "token_count": 30, "logprob_sum": -2.5, "reward": 0.1, "advantage": -0.2,
                         "reward_components": {"valid": 0.1}},
                        {"text": "b", "action": chosen.to_dict(), "token_count": 31, "logprob_sum": -1.25,
                         "reward": 0.3 * i + 0.1, "advantage": 0.4,
                         "reward_components": {"valid": 0.1, "new_state": 0.2 if i else 0.0}},
                        {"text": "c", "action": Type(text="hello").to_dict() if i else None,
                         "parse_error": None if i else "no tool call in the reply", "token_count": 12,
                         "logprob_sum": -7.5, "reward": -0.5 if not i else 0.1, "advantage": -0.2},
                    ])
                if last:
                    continue
                details = ({"raw_reward": 1.0 if it > 2 else -1.0, "reason": "clicked the button" if it > 2 else
                            "clicked elsewhere"} if k == 0 else
                           {"criteria": [
                               {"index": 0, "type": "jmespath", "query": "differences.emails.added.\"0\".to",
                                "expected": "jane@example.com", "actual": "john@example.com", "passed": False},
                               {"index": 1, "type": "script", "script": "eval_gomail_3.py", "passed": True,
                                "output": "SUCCESS"}],
                            "passed": 1, "failed": 1, "unjudged": 0,
                            "finish": {"differences": {"emails": {"added": {"0": {"to": "john@example.com",
                                                                                   "subject": "Lunch"}}}}}})
                store.finish_episode(ep, "finished", success=k == 0 and it > 2, details=details)
            store.log_metrics(rid, it, {"mean_reward": 1.5 * it, "success_rate": min(1.0, it / 4),
                                        "reward_std": 2.0 / it, "frac_reward_zero_std": 0.5 / it,
                                        "episode_length": 3.0, "loss": 0.4 / it, "is_weight_mean": 1.0 - 0.01 * it,
                                        "kl": 0.01 * it})
            store.add_adapter(rid, it, f"/runs/{rid}/adapters/v{it}", loaded=it >= 3)
        if not running:
            store.finish_run(rid)
        for table, cols in (("episodes", ("started", "ended")), ("steps", ("created",)),
                            ("metrics", ("time",)), ("adapters", ("created",)), ("runs", ("ended",))):
            for c in cols:
                store.db.execute(f"update {table} set {c} = ? where {c} is not null", [T0])
        store.db.conn.commit()
    return rid
