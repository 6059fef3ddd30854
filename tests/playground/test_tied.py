"""Nothing left behind (issue 8): children die with their parent, however the parent dies.

Real processes: a Python parent that started ``demo()`` (or the ``segment-debugger demo``
command) is killed; every process it started must be gone within 5 s, by pid, and its temp
dirs removed at the next start.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from support.leftovers import nothing_listens, process_gone
from support.redis_server import free_port
from support.waiting import wait_until

from segment_debugger.playground.procs import (
    descendants,
    owned_temp_dir,
    spawn_tied,
    sweep_temp_dirs,
)
from segment_debugger.playground.server import EmbeddedRedis

#: The issue's bound: everything a killed parent started is gone within this many seconds.
GONE_WITHIN_S = 5.0
BIN = Path(sys.executable).parent

#: A parent that starts a demo (debugger, publisher thread, embedded redis-server), says what
#: it started, and waits to be killed.
DEMO_PARENT = """
import json, threading
from segment_debugger.playground.demo import start_demo
started = start_demo(rate=50)
print(json.dumps({"pid": started.server.pid, "dir": started.server.dir}), flush=True)
threading.Event().wait()
"""


def kill_and_time(parent: subprocess.Popen[str], sig: int, pids: list[int]) -> float:
    """Send ``sig`` to ``parent`` only; return the seconds until every pid in ``pids`` is gone."""
    start = time.monotonic()
    parent.send_signal(sig)
    parent.wait(timeout=10)
    wait_until(
        lambda: all(process_gone(p) for p in pids),
        timeout=GONE_WITHIN_S,
        what=f"{pids} to be gone after the parent got {signal.Signals(sig).name}",
        interval=0.02,
    )
    return time.monotonic() - start


@pytest.fixture
def cleanup() -> Iterator[list[int]]:
    """Pids to SIGKILL after the test, should it fail half way."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.redis
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=lambda s: s.name)
def test_a_killed_demo_parent_leaves_no_redis_server_and_its_dir_goes_at_the_next_start(
    sig: signal.Signals, cleanup: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SEGMENT_DEBUGGER_EMBEDDED", raising=False)
    parent = subprocess.Popen(
        [sys.executable, "-c", DEMO_PARENT], stdout=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    cleanup.append(parent.pid)
    assert parent.stdout is not None
    started = json.loads(parent.stdout.readline())
    server_pid, data_dir = started["pid"], Path(started["dir"])
    cleanup.append(server_pid)
    assert psutil.Process(server_pid).name().startswith("redis-server")
    assert data_dir.is_dir() and f"-{parent.pid}-" in data_dir.name

    took = kill_and_time(parent, sig, [server_pid])
    print(f"{sig.name}: redis-server gone {took:.2f} s after the parent", file=sys.stderr)
    parent.stdout.close()

    with EmbeddedRedis("redis-server"):  # the next start sweeps the dead owner's dir
        assert not data_dir.exists()


@pytest.mark.redis
@pytest.mark.slow
def test_a_sigkilled_demo_command_leaves_no_redis_voila_or_kernel(cleanup: list[int]) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGMENT_DEBUGGER_")}
    demo = subprocess.Popen(
        [str(BIN / "segment-debugger"), "demo", "--no-browser", f"--port={port}", "--rate=50"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**env, "PYTHONUNBUFFERED": "1"}, start_new_session=True,
    )
    cleanup.append(demo.pid)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(demo.stdout or []), daemon=True)
    reader.start()
    wait_until(lambda: any("dashboard at" in line for line in lines) or demo.poll() is not None,
               timeout=120, what="the dashboard URL")
    assert demo.poll() is None, "".join(lines)
    # Ask for the page: Voila starts a kernel that runs the dashboard.
    page = threading.Thread(target=_get, args=(f"http://127.0.0.1:{port}/",), daemon=True)
    page.start()
    kernel = wait_until(lambda: _find(demo.pid, "ipykernel"), timeout=120, what="a kernel")
    voila = _find(demo.pid, "voila")
    assert voila is not None
    redis_pids = [p for p in descendants(demo.pid) if "redis-server" in _cmdline(p)]
    embedded = "started an embedded Redis (redis-server)" in "".join(lines)
    assert len(redis_pids) == (1 if embedded else 0), "".join(lines)
    pids = [voila, kernel, *redis_pids]
    cleanup.extend(pids)
    assert kernel not in _group(voila), "kernels run in sessions of their own"

    took = kill_and_time(demo, signal.SIGKILL, pids)
    print(f"SIGKILL: redis-server, voila and kernel gone {took:.2f} s after the demo command",
          file=sys.stderr)
    # Sockets the dead Voila had accepted may linger for a moment in the kernel.
    wait_until(lambda: nothing_listens(port), timeout=GONE_WITHIN_S, what=f"port {port} free")
    reader.join(timeout=5)


def _get(url: str) -> None:
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=120) as response:
        response.read()


def _cmdline(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return ""


def _find(root: int, word: str) -> int | None:
    """The first descendant of ``root`` whose command line mentions ``word``."""
    return next((p for p in descendants(root) if word in _cmdline(p)), None)


def _group(pid: int) -> list[int]:
    pgid = os.getpgid(pid)
    return [p.pid for p in psutil.process_iter() if _pgid(p.pid) == pgid]


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


# ---- the pieces -------------------------------------------------------------------------------


def test_a_tied_child_stops_with_its_watchdog_and_stop_is_idempotent() -> None:
    child = spawn_tied([sys.executable, "-c", "import time; time.sleep(60)"])  # runs till stopped
    assert child.poll() is None
    assert os.getpgid(child.pid) == child.pid, "the child leads a group of its own"
    watchdog = child.watchdog.pid
    assert os.getsid(watchdog) == watchdog, "signals to our group must not reach the watchdog"
    child.stop()
    assert child.returncode is not None
    assert process_gone(child.pid) and process_gone(watchdog)
    child.stop()


def test_the_watchdog_leaves_when_the_child_exits_on_its_own() -> None:
    child = spawn_tied([sys.executable, "-c", "pass"])
    child.watchdog.wait(timeout=GONE_WITHIN_S)  # no EOF needed: it saw the child exit
    child.stop()
    assert child.returncode == 0


def test_the_watchdog_removes_nothing_while_the_parent_lives(tmp_path: Path) -> None:
    """``remove`` is for a dead parent only: a child stopped by us, one that exits on its own
    and one killed by someone else (a test killing its redis-server, then restarting it in the
    same dir) all leave the dirs to us."""
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "dump.rdb").write_bytes(b"data")
    stopped = spawn_tied([sys.executable, "-c", "import time; time.sleep(60)"], remove=[str(kept)])
    stopped.stop()
    exited = spawn_tied([sys.executable, "-c", "pass"], remove=[str(kept)])
    exited.watchdog.wait(timeout=GONE_WITHIN_S)
    exited.stop()
    killed = spawn_tied([sys.executable, "-c", "import time; time.sleep(60)"], remove=[str(kept)])
    os.kill(killed.pid, signal.SIGKILL)
    killed.watchdog.wait(timeout=GONE_WITHIN_S)
    killed.stop()
    for child in (stopped, exited, killed):
        assert child.watchdog.returncode is not None
    assert (kept / "dump.rdb").read_bytes() == b"data"


def test_temp_dirs_of_dead_owners_are_swept(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f"sd-thing-{dead_pid}-abc"
    mine = tmp_path / f"sd-thing-{os.getpid()}-def"
    other_kind = tmp_path / f"sd-other-{dead_pid}-ghi"
    for path in (stale, mine, other_kind):
        path.mkdir()
    assert sweep_temp_dirs("thing", str(tmp_path)) == [str(stale)]
    assert not stale.exists() and mine.exists() and other_kind.exists()


def test_owned_temp_dir_names_its_owner() -> None:
    path = Path(owned_temp_dir("test-owned"))
    try:
        assert path.name.startswith(f"sd-test-owned-{os.getpid()}-") and path.is_dir()
    finally:
        path.rmdir()
