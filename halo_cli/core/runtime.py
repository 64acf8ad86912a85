"""The parts a training or evaluation run stands on, set up and torn down in one place.

A run needs a policy server (ours, started from the settings, or the user's at `--policy-url`), a client for it,
the task sources, and the run store. `PolicyRuntime` starts what it owns and stops only that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import httpx

from halo_cli.core.config import Settings, server_url
from halo_cli.core.env.drills import DrillSource
from halo_cli.core.env.miniwob import MiniWoBSource
from halo_cli.core.env.real import RealSource
from halo_cli.core.env.tasks import Task, TaskSource, select_tasks
from halo_cli.core.errors import ConfigError, HaloError, NotFoundError
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


def choose_tasks(spec: str, settings: Settings, sources: list[TaskSource],
                 notify: Callable[[str], None] | None = None) -> list[Task]:
    """The user's selection less the tasks no run should use (`usable_tasks`), said in one line."""
    tasks = select_tasks(spec, sources, version=settings.env.task_version)
    real = next((s for s in sources if isinstance(s, RealSource)), None)
    if real is None:
        return tasks
    left_out, note = unusable_tasks(tasks, settings, real)
    if note and notify is not None:
        notify(note)
    if left_out:
        shown = "; ".join(f"{t} ({why})" for t, why in list(left_out.items())[:4])
        more = f"; and {len(left_out) - 4} more" if len(left_out) > 4 else ""
        if len(left_out) == len(tasks):
            raise HaloError(f"no task of {spec!r} can run: {shown}{more}")
        if notify is not None:
            notify(f"left out {len(left_out)} of {len(tasks)} tasks: {shown}{more}")
    return [t for t in tasks if t.id not in left_out]


def unusable_tasks(tasks: list[Task], settings: Settings, real: RealSource,
                   use_audit: bool = True) -> tuple[dict[str, str], str | None]:
    """`{task id: why}` of the REAL tasks a run leaves out, and a note on the grader audit (stale) or None.

    Left out: a task whose grader can never pass (agisdk's known issues); on the local sites, a task they do not
    serve (`halo sites list` says why); a task the grader audit found passing without any action, unless
    `env.keep_flagged`.
    """
    from halo_cli.core.env.sites import task_manifest
    from halo_cli.core.env.sites.audit import audit_path, load_audit

    mine = [t for t in tasks if t.source == real.name]
    if not mine:
        return {}, None
    why: dict[str, str] = {}
    served = {m.task_id: m for m in task_manifest()} if any(real.served_locally(t) for t in mine) else {}
    for t in mine:
        issues = t.meta.get("known_issues")
        if issues:
            why[t.id] = "; ".join(issues)
        elif real.served_locally(t) and not (t.id in served and served[t.id].supported):
            reason = served[t.id].reason if t.id in served else f"no local {t.site} site"
            why[t.id] = f"the local sites do not serve it: {reason}"
    if not use_audit:
        return why, None
    audit, note = load_audit(audit_path(settings), settings.env.sites)
    if audit is not None and not settings.env.keep_flagged:
        flagged = audit.flagged()
        for t in mine:
            if t.id in flagged and t.id not in why:
                why[t.id] = flagged[t.id] + "; env.keep_flagged=true keeps it"
    return why, note


def check_tasks(tasks: list[Task], sources: list[TaskSource]) -> None:
    """Each source checks its tasks up front (a REAL site without a URL fails now, not mid-run)."""
    for source in sources:
        mine = [t for t in tasks if t.source == source.name]
        check = getattr(source, "check_tasks", None)
        if mine and check is not None:
            check(mine)


@contextmanager
def local_sites(settings: Settings, tasks: list[Task], sources: list[TaskSource],
                notify: Callable[[str], None] | None = None) -> Iterator[dict[str, str]]:
    """The local REAL sites `tasks` need (sites=local): those `halo sites serve` already serves on
    `env.local_sites_port`, the others started here on free ports and stopped at the end. Yields `{site: URL}`."""
    from halo_cli.core.env.sites import LocalSites
    from halo_cli.core.env.sites.server import running_sites

    real = next((s for s in sources if isinstance(s, RealSource)), None)
    names = sorted({t.site for t in tasks if real is not None and real.served_locally(t)})
    if real is None or not names:
        yield {}
        return
    found = running_sites(names, base_port=settings.env.local_sites_port)
    missing = [n for n in names if n not in found]
    started = LocalSites(missing).start() if missing else None
    try:
        urls = {**found, **(started.urls() if started else {})}
        real.local_sites.update(urls)
        if notify is not None:
            notify("local sites: " + ", ".join(
                f"{n} {urls[n]}" + (" (already serving)" if n in found else "") for n in names))
        yield urls
    finally:
        if started is not None:
            started.close()


@contextmanager
def task_sources(
    settings: Settings, domain: str, notify: Callable[[str], None] | None = None
) -> Iterator[tuple[list[TaskSource], list[Task]]]:
    """The task sources and the selected tasks, checked, with the local sites they need and the model there; all
    of it closed at the end."""
    sources = build_sources(settings)
    try:
        tasks = choose_tasks(domain, settings, sources, notify)
        with local_sites(settings, tasks, sources, notify):
            check_tasks(tasks, sources)
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

    Returns the name to serve it under (named by its weights' digest, so two adapters never share a name) and its
    folder.
    """
    from halo_cli.core.policy.adapter_id import WEIGHTS_FILE, adapter_digest, served_name

    path = Path(ref).expanduser()
    if path.is_dir():
        if not (path / "adapter_config.json").is_file() or not (path / WEIGHTS_FILE).is_file():
            raise NotFoundError(f"{path} is not a LoRA adapter folder (no adapter_config.json and {WEIGHTS_FILE})")
        return served_name("eval", None, adapter_digest(path)), path.resolve()
    run = store.get_run(ref)
    adapters = store.list_adapters(run.id)
    if not adapters:
        raise NotFoundError(f"run {run.id} has no adapter")
    latest = Path(adapters[-1].path)
    if not (latest / WEIGHTS_FILE).is_file():
        raise NotFoundError(f"adapter v{adapters[-1].version} of run {run.id} is gone from {latest}")
    return served_name(run.id, adapters[-1].version, adapter_digest(latest)), latest


def check_policy_url(url: str | None) -> str | None:
    """`--policy-url` as the client takes it (`config.server_url`: the `/v1` URL `halo serve` prints is fine), and
    answered by a server. Checked before a run is recorded, so a typo costs one line and leaves no failed run."""
    if url is None:
        return None
    try:
        base = server_url(url)
    except ValueError as e:
        raise ConfigError(f"--policy-url {e}") from None
    try:
        answered = httpx.get(f"{base}/health", timeout=10.0).status_code == 200
    except httpx.HTTPError:
        answered = False
    if not answered:
        raise NotFoundError(f"no policy server answers at {base}/health (--policy-url {url}); start one with "
                            "`halo serve`, or leave --policy-url out to let halo start its own")
    return base


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
            try:
                self.server.wait_ready(progress=self.progress)
            except BaseException:  # Ctrl-C or SIGTERM while it starts: __exit__ will not run, so stop it here
                self.server.stop()
                raise
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
