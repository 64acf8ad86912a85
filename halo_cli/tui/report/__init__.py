"""The shareable side of the replay: one self-contained HTML file of a run (`halo replay RUN --html FILE`) with its
settings, metric curves, per-task success and each episode's steps with marked screenshots; nothing is fetched when
it opens."""

from halo_cli.tui.report.build import ReportResult, check_writable, render_report, write_report

__all__ = ["ReportResult", "check_writable", "render_report", "write_report"]
