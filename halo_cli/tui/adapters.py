"""Server and adapter status: which adapter versions exist and are loaded in vLLM, which one sampled each recent
iteration, and how fresh the last step is (a stalled server shows as a growing age)."""

from __future__ import annotations

from datetime import datetime

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from halo_cli.core.store import Adapter, PolicyUse
from halo_cli.tui.format import adapter_label, ago


class AdapterStatus(Static):
    DEFAULT_CSS = """
    AdapterStatus { height: auto; max-height: 16; border: round $primary-darken-1; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.border_title = "server and adapters"

    def show(self, run_id: str, adapters: list[Adapter], policies: list[PolicyUse], last_step: str | None,
             run_status: str, now: datetime) -> None:
        serving = [a for a in adapters if a.loaded]
        head = Text()
        latest = policies[-1] if policies else None
        head.append("sampling from ", style="dim")
        head.append(adapter_label(latest.policy, run_id) if latest else "-", style="bold")
        if latest is not None and latest.policy:
            head.append(f"  ({latest.policy})", style="dim")
        head.append("\nlast step ", style="dim")
        head.append(ago(last_step, now) + " ago" if last_step else "none yet",
                    style="bold" if run_status == "running" else "")
        head.append("\nloaded in vLLM ", style="dim")
        head.append(", ".join(f"v{a.version}" for a in serving) or "base model only", style="bold")
        head.append(f"   saved: {saved_versions(adapters)}", style="dim")
        table = Table(box=None, padding=(0, 1), show_header=True, header_style="dim", expand=False)
        table.add_column("iteration", justify="right")
        table.add_column("sampled by")
        table.add_column("episodes", justify="right")
        for p in policies:
            table.add_row(str(p.iteration), adapter_label(p.policy, run_id), str(p.episodes))
        self.update(Group(head, table))


def saved_versions(adapters: list[Adapter]) -> str:
    """`v1 v2 v3` for a few saved adapters, `v1 … v40 (40)` for many: what a resume or an eval can pick from."""
    versions = sorted(a.version for a in adapters)
    if not versions:
        return "none"
    if len(versions) <= 5:
        return " ".join(f"v{v}" for v in versions)
    return f"v{versions[0]} … v{versions[-1]} ({len(versions)})"
