"""Short text for the views: numbers, ages, actions and verdicts as one line each, the same in the terminal and
in the HTML report."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from halo_cli.core.actions import Action, ActionParseError, action_from_dict
from halo_cli.core.policy.adapter_id import parse_served_name
from halo_cli.core.store import Episode


def num(v: float | None, digits: int = 3) -> str:
    """A metric or reward in few characters: `-` when absent, integers without a point, else `digits` significant."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if abs(v) < 1e-9:  # float noise of a mean subtracted from equal rewards reads as zero
        return "0"
    if float(v).is_integer() and abs(v) < 1e6:
        return str(int(v))
    return f"{v:.{digits}g}"


def signed(v: float | None, digits: int = 3) -> str:
    """An advantage: the sign always shown, since it says whether the update pushes the action up or down."""
    if v is None:
        return "-"
    return ("+" if v > 1e-9 else "") + num(v, digits)


def plural(n: int | None, word: str) -> str:
    """`1 step`, `3 steps`, `- steps` when unknown."""
    return f"{'-' if n is None else n} {word}{'' if n == 1 else 's'}"


def pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.0%}"


def parse_time(iso: str | None) -> datetime | None:
    if not iso:
        return None
    try:
        t = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def ago(iso: str | None, now: datetime) -> str:
    """How long before `now` an ISO time was: `4s`, `3m`, `2h`, `5d`."""
    t = parse_time(iso)
    if t is None:
        return "-"
    s = max(0.0, (now - t).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{int(s // size)}{unit}"
    return f"{int(s)}s"


def duration(start: str | None, end: str | None) -> str:
    a, b = parse_time(start), parse_time(end)
    if a is None or b is None:
        return "-"
    s = max(0.0, (b - a).total_seconds())
    return f"{s:.1f}s" if s < 60 else f"{int(s // 60)}m{int(s % 60):02d}s"


def stored_action(data: Any) -> Action | None:
    """The typed action of a stored record (`Action.to_dict()`), or None when there is none or it is malformed."""
    if not isinstance(data, dict):
        return None
    try:
        return action_from_dict(data)
    except ActionParseError:
        return None


def action_text(data: Any, parse_error: str | None = None) -> str:
    """One line for a stored action: the action as the model wrote it (grid coordinates), or why there is none."""
    action = stored_action(data)
    if action is not None:
        return action.describe()
    if parse_error:
        return f"unparsed: {one_line(parse_error, 60)}"
    return "-" if data is None else one_line(str(data), 60)


def one_line(text: str | None, width: int = 80) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def adapter_label(policy: str | None, run_id: str) -> str:
    """`v3` for the run's own adapter `<run>-v3-<sha8>`, `base` for the served base model, else the served name (another
    run's adapter under `halo eval`)."""
    if not policy:
        return "-"
    served = parse_served_name(policy)
    if served and served[0] == run_id:
        return f"v{served[1]}"
    if served or policy.startswith("eval-"):
        return policy
    return "base"


def verdict(ep: Episode) -> str:
    """The episode's end as a word: success, failure, aborted, running, unjudged."""
    if ep.status == "running":
        return "running"
    if ep.status == "aborted":
        return "aborted"
    if ep.success:
        return "success"
    outcome = ep.outcome or {}
    if outcome.get("unjudged") and not outcome.get("failed"):
        return "unjudged"
    return "failure"


# A run's status as `Run.status_now` gives it (`dead`: recorded running, its process gone).
STATUS_STYLE = {"running": "cyan", "finished": "green", "failed": "red", "aborted": "yellow", "dead": "bold red"}
VERDICT_STYLE = {"success": "green", "failure": "red", "aborted": "yellow", "running": "cyan", "unjudged": "magenta"}
VERDICT_MARK = {"success": "✓", "failure": "✗", "aborted": "!", "running": "…", "unjudged": "?"}
