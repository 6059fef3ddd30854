"""Nothing left behind by the tests themselves: fixture servers die with a SIGKILLed pytest.

A child Python starts processes the way the tests do (``RedisServer``, ``LocalCluster``, the
browser harness's JupyterLab with a kernel, the CLI tests' ``Process``, the demo test's
``DemoProcess``), prints their pids, temp dirs and ports, and is killed with SIGKILL (what a
hard CI timeout does to pytest). Every process must be gone within 5 s, by pid; the temp dirs
removed and the ports free. Each of these failed before the helpers used ``spawn_tied``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.leftovers import nothing_listens, process_gone
from support.redis_server import RedisServer, free_port
from support.waiting import wait_until

from segment_debugger.playground.procs import descendants, spawn_tied

#: Everything a killed parent started is gone within this many seconds (as for the product).
GONE_WITHIN_S = 5.0
TESTS = Path(__file__).resolve().parents[1]

#: A parent that starts one redis-server and a 3-primary cluster, as the fixtures do.
REDIS_PARENT = """
import json, threading
from support.cluster import LocalCluster
from support.redis_server import RedisServer
single = RedisServer()
single.start()
cluster = LocalCluster(primaries=3, replicas=0)
cluster.start()
servers = [single, *cluster.nodes]
print(json.dumps({
    "pids": [s.proc.pid for s in servers],
    "dirs": [s.dir for s in servers],
    "ports": [s.port for s in servers],
}), flush=True)
threading.Event().wait()
"""

#: A parent that starts JupyterLab through the browser harness, and a kernel in it.
JUPYTER_PARENT = """
import json, threading
from harness import JupyterDirs, start_lab, wait_until
dirs = JupyterDirs()
lab = start_lab(dirs)
lab.api("/api/kernels", method="POST", body={"name": "python3"})
wait_until(lab.kernel_connection_files, 60, "a kernel process")
print(json.dumps({
    "pids": [lab.proc.pid],
    "dirs": [str(dirs.base)],
    "ports": [lab.port],
}), flush=True)
threading.Event().wait()
"""

#: A parent that runs ``segment-debugger tail`` through the CLI tests' ``Process``.
TAIL_PARENT = """
import importlib.util, json, sys, threading
from support.waiting import wait_until
spec = importlib.util.spec_from_file_location("cli_conftest", sys.argv[2])
cli = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cli)
tail = cli.Process("tail", sys.argv[1], "--channel", "tied")
# Live and quiet: a write to the dead parent's pipe would end it, so it must have written all.
wait_until(lambda: any("status: live" in line for line in tail.lines), 30, "the tail live")
print(json.dumps({"pids": [tail.proc.pid], "dirs": [], "ports": []}), flush=True)
threading.Event().wait()
"""

#: A parent that runs ``segment-debugger demo`` (fakeredis) through the demo test's helper.
DEMO_PARENT = """
import json, sys, threading
from harness import wait_until
from test_demo import DemoProcess
demo = DemoProcess("--no-browser", "--port", sys.argv[1],
                   env={"SEGMENT_DEBUGGER_EMBEDDED": "fakeredis"})
wait_until(demo.dashboard_url, 120, demo.output)
print(json.dumps({"pids": [demo.proc.pid], "dirs": [], "ports": [int(sys.argv[1])]}), flush=True)
threading.Event().wait()
"""

#: A parent that ties a sleeping child to itself with two paths for the watchdog to remove.
TIED_PARENT = """
import json, sys, threading
from segment_debugger.playground.procs import spawn_tied
child = spawn_tied([sys.executable, "-c", "import time; time.sleep(60)"], remove=sys.argv[1:])
print(json.dumps({"pids": [child.pid], "dirs": sys.argv[1:], "ports": []}), flush=True)
threading.Event().wait()
"""


def start_parent(code: str, *args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Run ``code`` in a child Python (in a session of its own); return it and what it printed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS / "browser")])}
    parent = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )
    assert parent.stdout is not None
    line = parent.stdout.readline()
    if not line:
        parent.wait(timeout=10)
        raise AssertionError(f"the parent exited with {parent.returncode} before starting")
    return parent, json.loads(line)


def sigkill_and_wait(parent: subprocess.Popen[str], started: dict[str, Any]) -> float:
    """SIGKILL ``parent`` only; return the seconds until everything it started is gone."""
    pids: list[int] = started["pids"]
    begin = time.monotonic()
    parent.kill()
    parent.wait(timeout=10)
    wait_until(lambda: all(process_gone(p) for p in pids), GONE_WITHIN_S,
               f"{pids} to be gone after the parent got SIGKILL", 0.02)
    took = time.monotonic() - begin
    wait_until(lambda: not any(Path(d).exists() for d in started["dirs"]), GONE_WITHIN_S,
               f"{started['dirs']} to be removed", 0.02)
    # Sockets the dead servers had accepted may linger for a moment in the kernel.
    wait_until(lambda: all(nothing_listens(p) for p in started["ports"]), GONE_WITHIN_S,
               f"ports {started['ports']} free", 0.02)
    if parent.stdout is not None:
        parent.stdout.close()
    return took


@pytest.fixture
def leftovers() -> Iterator[list[dict[str, Any]]]:
    """What the parents started: SIGKILLed and removed after the test, should it fail."""
    started: list[dict[str, Any]] = []
    yield started
    for what in started:
        for pid in what["pids"]:
            for p in [*descendants(pid), pid]:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(p, signal.SIGKILL)
        for d in what["dirs"]:
            shutil.rmtree(d, ignore_errors=True)


def test_the_watchdog_removes_the_given_paths_when_the_parent_dies(
    tmp_path: Path, leftovers: list[dict[str, Any]],
) -> None:
    folder, file = tmp_path / "dir", tmp_path / "file"
    (folder / "sub").mkdir(parents=True)
    file.write_text("x")
    parent, started = start_parent(TIED_PARENT, str(folder), str(file))
    leftovers.append(started)
    sigkill_and_wait(parent, started)  # the child gone, then both paths removed
    assert not folder.exists() and not file.exists()


def test_the_paths_stay_the_parents_while_it_lives(tmp_path: Path) -> None:
    stopped, exited = tmp_path / "stopped", tmp_path / "exited"
    stopped.mkdir()
    exited.mkdir()
    child = spawn_tied([sys.executable, "-c", "import time; time.sleep(60)"],
                       remove=[str(stopped)])
    child.stop()
    done = spawn_tied([sys.executable, "-c", "pass"], remove=[str(exited)])
    done.watchdog.wait(timeout=GONE_WITHIN_S)  # it saw the child exit on its own
    done.stop()
    assert stopped.is_dir() and exited.is_dir()


@pytest.mark.redis
def test_a_sigkilled_pytest_leaves_no_redis_server_cluster_node_or_dir(
    leftovers: list[dict[str, Any]],
) -> None:
    parent, started = start_parent(REDIS_PARENT)
    leftovers.append(started)
    assert len(started["pids"]) == 4 and all(not process_gone(p) for p in started["pids"])
    took = sigkill_and_wait(parent, started)
    print(f"SIGKILL: 4 redis-servers gone {took:.2f} s after the parent", file=sys.stderr)


@pytest.mark.browser
@pytest.mark.slow
def test_a_sigkilled_pytest_leaves_no_jupyter_server_kernel_or_dir(
    leftovers: list[dict[str, Any]],
) -> None:
    parent, started = start_parent(JUPYTER_PARENT)
    server = started["pids"][0]
    kernels = [p for p in descendants(server) if p not in started["pids"]]
    started["pids"] += kernels
    leftovers.append(started)
    assert kernels, "JupyterLab started a kernel"
    took = sigkill_and_wait(parent, started)
    print(f"SIGKILL: JupyterLab and its kernel gone {took:.2f} s after the parent",
          file=sys.stderr)


@pytest.mark.redis
def test_a_sigkilled_pytest_leaves_no_cli_process(
    redis_server: RedisServer, leftovers: list[dict[str, Any]],
) -> None:
    # The server outlives the parent: the tail must go because its parent did.
    conftest = TESTS / "cli" / "conftest.py"
    parent, started = start_parent(TAIL_PARENT, redis_server.url, str(conftest))
    leftovers.append(started)
    took = sigkill_and_wait(parent, started)
    print(f"SIGKILL: segment-debugger tail gone {took:.2f} s after the parent", file=sys.stderr)


@pytest.mark.browser
@pytest.mark.slow
def test_a_sigkilled_pytest_leaves_no_demo_command_voila_or_kernel(
    leftovers: list[dict[str, Any]],
) -> None:
    parent, started = start_parent(DEMO_PARENT, str(free_port()))
    started["pids"] += descendants(started["pids"][0])  # Voila (no page asked: no kernel yet)
    leftovers.append(started)
    assert len(started["pids"]) > 1, "the demo started Voila"
    took = sigkill_and_wait(parent, started)
    print(f"SIGKILL: the demo command and Voila gone {took:.2f} s after the parent",
          file=sys.stderr)
