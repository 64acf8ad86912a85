"""The SQLite run store: runs, episodes, steps, samples, metrics, adapters and screenshots of training."""

from halo_cli.core.store.export import FORMATS, ExportError, ExportResult, export_jsonl
from halo_cli.core.store.schema import MIGRATIONS, StoreError, latest_version, schema_version
from halo_cli.core.store.store import (
    EPISODE_STATUSES,
    RUN_STATUSES,
    Adapter,
    Episode,
    Metric,
    Run,
    RunStore,
    RunSummary,
    Sample,
    SampleInput,
    Step,
)
from halo_cli.core.store.views import (
    EpisodeFilter,
    InFlight,
    LatestStep,
    PolicyUse,
    RunCounts,
    RunViews,
    TaskRow,
)

__all__ = [
    "EPISODE_STATUSES",
    "EpisodeFilter",
    "InFlight",
    "LatestStep",
    "PolicyUse",
    "RunCounts",
    "RunViews",
    "TaskRow",
    "FORMATS",
    "MIGRATIONS",
    "RUN_STATUSES",
    "Adapter",
    "Episode",
    "ExportError",
    "ExportResult",
    "Metric",
    "Run",
    "RunStore",
    "RunSummary",
    "Sample",
    "SampleInput",
    "Step",
    "StoreError",
    "export_jsonl",
    "latest_version",
    "schema_version",
]
