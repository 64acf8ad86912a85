"""`halo sites serve | list | audit`, and what a run takes from them: the local sites found serving or started for
the run, and the tasks left out (graders that can never pass, tasks the local sites do not serve, tasks the grader
audit flags). Real parts: the sites' HTTP servers, Chromium, agisdk's eval scripts, the audit file."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import assert_one_line_error

from halo_cli.core.config import Settings, load_settings
from halo_cli.core.env.sites import LocalSites
from halo_cli.core.env.sites.audit import AuditEntry, audit_path, load_audit, save_audit
from halo_cli.core.env.sites.server import running_sites
from halo_cli.core.errors import ConfigError, HaloError
from halo_cli.core.runtime import build_sources, choose_tasks, close_sources, local_sites

HALO = [sys.executable, "-m", "halo_cli.app"]
SITES = ("gomail", "gocalendar", "omnizon", "zilloft")


def free_base_port() -> int:
    """A base port whose four ports (one per site) are all free now."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + 3 > 65532:
            continue
        try:
            for k in range(4):
                with socket.socket() as t:
                    t.bind(("127.0.0.1", base + k))
        except OSError:
            continue
        return int(base)
    raise AssertionError("no four consecutive free ports")


def settings_at(tmp_path: Path, **env: object) -> Settings:
    return load_settings(profile="local", overrides={"store": {"path": str(tmp_path / "halo.db")}, "env": env})


def halo(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HALO, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env={**os.environ, "COLUMNS": "200"})


# --------------------------------------------------------------------------------------------------- list


def test_list_says_which_tasks_are_served_and_why_not(tmp_path: Path) -> None:
    p = halo("sites", "list", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "; 50 of 51 tasks" in p.stdout and "gomail 21/21" in p.stdout and "gocalendar 9/10" in p.stdout
    line = next(ln for ln in p.stdout.splitlines() if "v2.gocalendar-11 " in ln)
    assert "no" in line and "empty" in line
    one = halo("sites", "list", "--site", "omnizon", cwd=tmp_path)
    assert "10 of 10 tasks" in one.stdout and "gomail" not in one.stdout
    v1 = halo("sites", "list", "--all", "--site", "omnizon", cwd=tmp_path)
    assert "v1.omnizon-1" in v1.stdout and "v1 builds use another /finish layout" in v1.stdout.replace("\n", " ")


def test_list_of_an_unknown_site_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(halo("sites", "list", "--site", "gmail", cwd=tmp_path), "no local site 'gmail'")


# --------------------------------------------------------------------------------------------------- serve


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.Popen[str], int]:
    """`halo sites serve --port P` running in its own process."""
    base = free_base_port()
    proc = subprocess.Popen([*HALO, "sites", "serve", "--port", str(base)], stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path_factory.mktemp("serve"))
    assert proc.stderr is not None
    lines = []
    while not any("serving" in ln for ln in lines):
        line = proc.stderr.readline()
        assert line, f"halo sites serve exited: {''.join(lines)}"
        lines.append(line)
    yield proc, base
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_serve_binds_each_site_to_its_port_on_loopback(served: tuple[subprocess.Popen[str], int]) -> None:
    _, base = served
    for k, name in enumerate(SITES):
        r = httpx.get(f"http://127.0.0.1:{base + k}/config?task_id=v2.{name}-1", timeout=10, trust_env=False)
        assert r.status_code == 200 and r.headers["server"].strip() == f"halo-site-{name}"
        assert "<script" in r.text  # the app page: /config runs in the browser
    assert running_sites(SITES, base_port=base) == {n: f"http://127.0.0.1:{base + k}" for k, n in enumerate(SITES)}
    # Another server on the port is not taken for a site.
    assert running_sites(["gomail"], base_port=base + 1) == {}


def test_a_run_uses_the_sites_already_serving_and_starts_the_others(
    served: tuple[subprocess.Popen[str], int], tmp_path: Path
) -> None:
    _, base = served
    settings = settings_at(tmp_path, local_sites_port=base)
    sources = build_sources(settings)
    said: list[str] = []
    try:
        tasks = choose_tasks("v2.gomail-1,v2.zilloft-2", settings, sources, said.append)
        with local_sites(settings, tasks, sources, said.append) as urls:
            assert urls == {"gomail": f"http://127.0.0.1:{base}", "zilloft": f"http://127.0.0.1:{base + 3}"}
            assert "already serving" in said[-1]
        # With nothing serving on the port, the run starts its own on free ports and stops them at the end.
        other = settings_at(tmp_path, local_sites_port=free_base_port())
        with local_sites(other, tasks, sources, said.append) as urls:
            assert set(urls) == {"gomail", "zilloft"} and f":{base}" not in urls["gomail"]
            assert httpx.head(urls["zilloft"] + "/", timeout=10, trust_env=False).status_code == 200
        with pytest.raises(httpx.ConnectError):
            httpx.head(urls["zilloft"] + "/", timeout=5, trust_env=False)
    finally:
        close_sources(sources)


def test_serve_stops_on_sigterm(served: tuple[subprocess.Popen[str], int]) -> None:
    proc, base = served
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "stopped the local sites" in err
    assert running_sites(SITES, base_port=base) == {}


def test_serve_on_a_taken_port_is_one_line(tmp_path: Path) -> None:
    with LocalSites(["gomail"], base_port=free_base_port()) as taken:
        port = int(taken.urls()["gomail"].rsplit(":", 1)[1])
        p = halo("sites", "serve", "--port", str(port), cwd=tmp_path, timeout=60)
    assert_one_line_error(p, "cannot listen on 127.0.0.1:")


# --------------------------------------------------------------------------------------------------- tasks left out


def test_a_task_whose_grader_can_never_pass_is_left_out(tmp_path: Path) -> None:
    settings = settings_at(tmp_path)
    sources = build_sources(settings)
    said: list[str] = []
    try:
        tasks = choose_tasks("gocalendar", settings, sources, said.append)
        assert len(tasks) == 9 and "v2.gocalendar-11" not in {t.id for t in tasks}
        assert said == ["left out 1 of 10 tasks: v2.gocalendar-11 (eval script eval_gocalendar_11.py is empty: the "
                        "task always fails)"]
        with pytest.raises(HaloError, match="no task of 'v2.gocalendar-11' can run"):
            choose_tasks("v2.gocalendar-11", settings, sources)
        # v1 builds have another /finish layout: the local sites do not serve them.
        with pytest.raises(HaloError, match="the local sites do not serve it: v1 builds"):
            choose_tasks("v1.omnizon-1", settings, sources)
    finally:
        close_sources(sources)


def test_tasks_the_audit_flags_are_left_out_unless_kept(tmp_path: Path) -> None:
    settings = settings_at(tmp_path)
    path = audit_path(settings)
    save_audit(path, "local", [AuditEntry("v2.omnizon-13", "success", 3.0, "eval_omnizon_13.py passed"),
                               AuditEntry("v2.omnizon-15", "failure", 3.0, "eval_omnizon_15.py failed")])
    sources = build_sources(settings)
    said: list[str] = []
    try:
        tasks = choose_tasks("v2.omnizon-13,v2.omnizon-15", settings, sources, said.append)
        assert [t.id for t in tasks] == ["v2.omnizon-15"]
        assert "v2.omnizon-13 (its grader passes without any action (halo sites audit" in said[0]
        kept = settings.model_copy(update={"env": settings.env.model_copy(update={"keep_flagged": True})})
        assert len(choose_tasks("v2.omnizon-13,v2.omnizon-15", kept, sources)) == 2
        # The audit of other sites (hosted) says nothing about these.
        hosted = settings.model_copy(update={"env": settings.env.model_copy(update={"sites": "hosted"})})
        assert len(choose_tasks("v2.omnizon-13,v2.omnizon-15", hosted, sources)) == 2
        # An audit of other site code is stale: a note, and nothing left out by it.
        data = json.loads(path.read_text())
        data["audits"]["local"]["basis"] = "agisdk 0.3.5, local sites 000000000000"
        path.write_text(json.dumps(data))
        said.clear()
        assert len(choose_tasks("v2.omnizon-13,v2.omnizon-15", settings, sources, said.append)) == 2
        assert said and "stale" in said[0] and "halo sites audit" in said[0]
        assert load_audit(path, "local")[0] is None
    finally:
        close_sources(sources)


def test_a_broken_audit_file_is_one_clear_error(tmp_path: Path) -> None:
    settings = settings_at(tmp_path)
    audit_path(settings).write_text("{not json")
    sources = build_sources(settings)
    try:
        with pytest.raises(ConfigError, match="sites-audit.json: not a halo grader audit .* run `halo sites audit`"):
            choose_tasks("v2.omnizon-13", settings, sources)
    finally:
        close_sources(sources)


# --------------------------------------------------------------------------------------------------- audit


def test_audit_grades_doing_nothing_with_agisdks_scripts(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    p = halo("--profile", "local", "--set", f"store.path={tmp_path / 'halo.db'}", "sites", "audit", "--domain",
             "v2.gomail-21,v2.zilloft-23,v2.gocalendar-11", cwd=tmp_path)
    print(p.stderr[-2000:], f"{time.perf_counter() - t0:.1f} s")
    assert p.returncode == 0, p.stderr
    out = p.stdout + p.stderr
    # gomail-21 passes on an empty initialfinaldiff and zilloft-23 on loose whole-JSON heuristics: the local sites
    # give neither a do-nothing pass.
    assert "2 tasks audited against agisdk" in out.replace("\n", " ") and "0 pass without any action" in out
    assert "skipped 1 task(s)" in out and "v2.gocalendar-11" in out
    audit, note = load_audit(tmp_path / "sites-audit.json", "local")
    assert note is None and audit is not None
    assert {t: e.status for t, e in audit.entries.items()} == {"v2.gomail-21": "failure",
                                                               "v2.zilloft-23": "failure"}
    assert audit.entries["v2.gomail-21"].reason == "eval_gomail_21.py failed"
    assert audit.basis.startswith("agisdk 0.3.5, local sites ") and audit.flagged() == {}


def test_audit_of_no_real_task_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(halo("sites", "audit", "--domain", "miniwob:click-test", cwd=tmp_path),
                          "selects no REAL task")
