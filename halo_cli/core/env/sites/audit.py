"""The grader audit: every task graded after a reset and nothing else, and which tasks pass that way.

A grader that prints SUCCESS for an episode in which the agent did nothing pays a policy for doing nothing, and an
evaluation counts it as solved; REAL's own graders have such cases (gomail-21 passes on an empty
`initialfinaldiff`). `halo sites audit` grades a do-nothing episode per task, through the same `BrowserEnv.reset`
and `Episode.finish` a run uses, and keeps the verdicts in `sites-audit.json` beside the run store, per site
setting (`local`, `hosted`, or explicit URLs). Runs leave the flagged tasks out unless `env.keep_flagged` is set.

An audit holds for the graders and the sites it ran against: the agisdk version, and for the local sites a digest
of their code. When either changed since, the audit is stale: runs say so and use none of it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from halo_cli.core.env.sites.manifest import KIT_DIR, built_sites
from halo_cli.core.errors import ConfigError

if TYPE_CHECKING:
    from halo_cli.core.config import Settings
    from halo_cli.core.env.browser import BrowserEnv
    from halo_cli.core.env.tasks import Task

AUDIT_FILE = "sites-audit.json"
AUDIT_VERSION = 1


@dataclass(frozen=True)
class AuditEntry:
    """One task's do-nothing episode: `status` is the grader's (success, failure, unjudged) or `error` when the
    episode could not run (the site did not load); only `success` flags the task."""

    task_id: str
    status: str
    seconds: float
    reason: str | None = None

    @property
    def flagged(self) -> bool:
        return self.status == "success"


@dataclass(frozen=True)
class Audit:
    """The audit of one site setting: what it was run against, when, and every task's entry."""

    sites: str
    basis: str  # agisdk version, and the local sites' code digest when they were audited
    created: str
    entries: dict[str, AuditEntry]

    def flagged(self) -> dict[str, str]:
        """`{task id: why}` of the tasks whose grader passed without any action."""
        return {t: f"its grader passes without any action (halo sites audit, {self.created[:10]})"
                for t, e in self.entries.items() if e.flagged}


def audit_path(settings: "Settings") -> Path:
    return settings.store.path.parent / AUDIT_FILE


def audit_basis(sites: str) -> str:
    """What an audit of `sites` depends on: agisdk's graders, and the local sites' code when they are used."""
    try:
        agisdk = version("agisdk")
    except PackageNotFoundError:
        agisdk = "none"
    basis = f"agisdk {agisdk}"
    if sites.split(",", 1)[0] == "local":
        basis += f", local sites {local_sites_digest()[:12]}"
    return basis


def local_sites_digest() -> str:
    """sha256 over every file the local sites serve (the kit and each built site's web/ folder), by path."""
    h = hashlib.sha256()
    folders = [KIT_DIR, *(s.web_dir for s in built_sites())]
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            h.update(str(path.relative_to(folder.parent.parent)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


async def run_audit(env: "BrowserEnv", tasks: Sequence["Task"], *, concurrency: int = 4,
                    on_entry: Callable[[AuditEntry], None] | None = None) -> list[AuditEntry]:
    """A do-nothing episode per task (reset, then grade), `concurrency` at a time, in the order of `tasks`."""
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(task: "Task") -> AuditEntry:
        async with gate:
            t0 = time.perf_counter()
            try:
                ep = await env.reset(task)
                try:
                    outcome = await ep.finish()
                finally:
                    await ep.close()
                entry = AuditEntry(task.id, outcome.status, time.perf_counter() - t0, _why(outcome.details))
            except Exception as e:  # noqa: BLE001 - one task's failure is its entry, the audit goes on
                entry = AuditEntry(task.id, "error", time.perf_counter() - t0, f"{type(e).__name__}: {e}")
        if on_entry is not None:
            on_entry(entry)
        return entry

    return list(await asyncio.gather(*(one(t) for t in tasks)))


def _why(details: Mapping[str, Any]) -> str | None:
    """The grader's verdict in a few words: its reason, or each criterion (its script) and whether it passed."""
    if details.get("reason"):
        return str(details["reason"])
    criteria = details.get("criteria") or []
    shown = [f"{c.get('script') or c.get('type') or 'check'} {'passed' if c.get('passed') else 'failed'}"
             for c in criteria if isinstance(c, Mapping)]
    return "; ".join(shown) or None


def save_audit(path: Path, sites: str, entries: Sequence[AuditEntry]) -> Audit:
    """Writes the audit of `sites` into the audit file (keeping other settings' audits; entries of tasks not
    audited this time are kept when the basis is unchanged), atomically."""
    data = _read(path)
    basis = audit_basis(sites)
    old = data.get(sites, {})
    kept = old.get("tasks", {}) if old.get("basis") == basis else {}
    tasks = {**kept, **{e.task_id: asdict(e) for e in entries}}
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    data[sites] = {"basis": basis, "created": created, "tasks": tasks}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": AUDIT_VERSION, "audits": data}, indent=1, sort_keys=True) + "\n",
                   encoding="utf-8")
    tmp.replace(path)
    return _audit(sites, data[sites])


def load_audit(path: Path, sites: str) -> tuple[Audit | None, str | None]:
    """The audit of `sites` and None, or None and why there is none to use (never run, or stale)."""
    data = _read(path)
    if sites not in data:
        return None, None
    audit = _audit(sites, data[sites])
    basis = audit_basis(sites)
    if audit.basis != basis:
        return None, (f"the grader audit of sites={sites} ran against {audit.basis}, now {basis}: it is stale, "
                      "run `halo sites audit` again")
    return audit, None


def _audit(sites: str, raw: Mapping[str, Any]) -> Audit:
    entries = {t: AuditEntry(**e) for t, e in raw.get("tasks", {}).items()}
    return Audit(sites, str(raw.get("basis", "")), str(raw.get("created", "")), entries)


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != AUDIT_VERSION or not isinstance(data.get("audits"), dict):
            raise ValueError(f"expected version {AUDIT_VERSION} with an 'audits' object")
        return dict(data["audits"])
    except (ValueError, AttributeError) as e:
        raise ConfigError(f"{path}: not a halo grader audit ({e}); delete it and run `halo sites audit`") from None
