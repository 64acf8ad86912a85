"""The parts a training or evaluation run stands on, set up and torn down in one place.

A run needs a policy server (ours, started from the settings, or the user's at `--policy-url`), a client for it,
the task sources, and the run store. `PolicyRuntime` starts what it owns and stops only that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from halo_cli.core.config import Settings
from halo_cli.core.env.drills import DrillSource
from halo_cli.core.env.miniwob import MiniWoBSource
from halo_cli.core.env.real import RealSource
from halo_cli.core.env.tasks import Task, TaskSource, select_tasks
from halo_cli.core.errors import NotFoundError
from halo_cli.core.policy.server import PortInUseError, VLLMServer
from halo_cli.core.policy.vllm_client import VLLMPolicyClient
from halo_cli.core.store import RunStore

ProgressCallback = Callable[[float, str], None]


def run_dir(settings: Settings, run_id: str) -> Path:
    """Adapters, checkpoints and logs of a run live beside the store: runs/<run id>/."""
    return settings.store.path.parent / run_id


def ensure_local_model(settings: Settings, notify: Callable[[str], None] | None = None) -> None:
    """Builds the tiny model when the settings name its default folder and it is not there yet.

    So `halo train grpo --profile local` works on a fresh machine without a separate build step; any other
    model (a hub id, a user's folder) is left to vLLM and transformers to find.
    """
    from halo_cli.core.models.tiny import build_tiny_model
    from halo_cli.core.paths import default_tiny_model_dir

    target = default_tiny_model_dir()
    if Path(settings.model.name) == target and not (target / "config.json").is_file():
        if notify is not None:
            notify(f"building the tiny offline Qwen3-VL into {target} (once)")
        build_tiny_model(target)


def build_sources(settings: Settings) -> list[TaskSource]:
    return [MiniWoBSource(), DrillSource(), RealSource.from_settings(settings)]


def close_sources(sources: list[TaskSource]) -> None:
    for s in sources:
        close = getattr(s, "close", None)
        if close is not None:
            close()


def choose_tasks(spec: str, settings: Settings, sources: list[TaskSource]) -> list[Task]:
    """The user's selection, checked up front (a REAL site without a URL fails now, not mid-run)."""
    tasks = select_tasks(spec, sources, version=settings.env.task_version)
    for source in sources:
        mine = [t for t in tasks if t.source == source.name]
        check = getattr(source, "check_tasks", None)
        if mine and check is not None:
            check(mine)
    return tasks


@contextmanager
def task_sources(
    settings: Settings, domain: str, notify: Callable[[str], None] | None = None
) -> Iterator[tuple[list[TaskSource], list[Task]]]:
    """The task sources and the selected tasks, checked, with the model there; the sources closed at the end."""
    sources = build_sources(settings)
    try:
        tasks = choose_tasks(domain, settings, sources)
        ensure_local_model(settings, notify)
        yield sources, tasks
    finally:
        close_sources(sources)


@contextmanager
def run_status(store: RunStore, run_id: str) -> Iterator[None]:
    """Ends a run as finished, aborted (Ctrl-C) or failed (an error), whatever way its block is left."""
    status = "failed"
    try:
        yield
        status = "finished"
    except KeyboardInterrupt:
        status = "aborted"
        raise
    finally:
        store.finish_run(run_id, status)


def resolve_adapter(ref: str, store: RunStore) -> tuple[str, Path]:
    """`--adapter PATH|RUN`: a peft adapter folder, or a run id whose latest adapter is taken.

    Returns the name to serve it under and its folder.
    """
    path = Path(ref).expanduser()
    if path.is_dir():
        if not (path / "adapter_config.json").is_file():
            raise NotFoundError(f"{path} is not a LoRA adapter folder (no adapter_config.json)")
        return f"eval-{path.resolve().parent.name}-{path.name}", path.resolve()
    run = store.get_run(ref)
    adapters = store.list_adapters(run.id)
    if not adapters:
        raise NotFoundError(f"run {run.id} has no adapter")
    latest = adapters[-1]
    return f"{run.id}-v{latest.version}", Path(latest.path)


class PolicyRuntime:
    """A client for the policy server; starts (and later stops) a vLLM server unless `policy_url` is given."""

    def __init__(self, settings: Settings, *, policy_url: str | None, log_path: Path,
                 progress: ProgressCallback | None = None):
        self.settings = settings
        self.policy_url = policy_url
        self.log_path = log_path
        self.progress = progress
        self.server: VLLMServer | None = None
        self.client: VLLMPolicyClient | None = None

    def __enter__(self) -> VLLMPolicyClient:
        url = self.policy_url
        if url is None:
            self.server = VLLMServer(self.settings, log_path=self.log_path)
            try:
                self.server.start()
            except PortInUseError as e:
                raise PortInUseError(f"{e}; to use a server that is already running, pass --policy-url") from None
            self.server.wait_ready(progress=self.progress)
            url = self.server.url
        self.client = VLLMPolicyClient.from_settings(self.settings, base_url=url)
        if self.policy_url is not None and not self.client.health():
            raise NotFoundError(f"no policy server answers at {url}/health")
        return self.client

    def server_alive(self) -> bool:
        """False once a server we started has exited: waiting for it to come back would be in vain."""
        return self.server is None or self.server.running

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.client is not None:
            self.client.close()
        if self.server is not None:
            self.server.stop()
