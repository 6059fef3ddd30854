"""Child processes, threads and exit hooks of the playground, each done one way.

- :func:`kill_group`, :func:`descendants` and :func:`stop_tree`: stop a child that leads its own
  process group together with every process it started (Voila's kernels run in sessions of
  their own, so they are found as descendants, not by group).
- :func:`start_thread` / :func:`join_thread`: the daemon threads of the playground (the demo
  publisher, the fakeredis server) start and stop the same way.
- :func:`stop_at_exit` / :func:`forget_at_exit`: what is running when the interpreter exits
  is stopped, newest first.

Top-level imports are standard library only.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

# ---- process groups and trees -----------------------------------------------------------------


def kill_group(pgid: int, sig: int) -> None:
    """Send ``sig`` to process group ``pgid``; a group that is gone (or not ours) is ignored."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _parents() -> dict[int, int]:
    """Map pid -> parent pid for every process we can see (Linux /proc, else ``ps``)."""
    parents: dict[int, int] = {}
    proc = Path("/proc")
    if proc.is_dir():
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # exited meanwhile
                continue
            fields = stat[stat.rfind(")") + 2 :].split()  # the name may hold spaces and ')'
            parents[int(entry.name)] = int(fields[1])
        return parents
    try:
        out = subprocess.run(
            ["ps", "-A", "-o", "pid=,ppid="], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return parents
    for line in out.splitlines():
        pid, ppid = line.split()
        parents[int(pid)] = int(ppid)
    return parents


def descendants(pid: int) -> list[int]:
    """Return the pids of every living descendant of ``pid`` (children first)."""
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(0), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Return True while ``pid`` runs (a zombie, waiting to be reaped, does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: signal 0 is all we know
    return stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] != "Z"


def _signal_all(pgid: int, pids: Iterable[int], sig: int) -> None:
    kill_group(pgid, sig)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def terminate_tree(pgid: int, pids: list[int], grace: float) -> None:
    """SIGTERM group ``pgid`` and ``pids``; SIGKILL what still runs after ``grace`` seconds."""
    _signal_all(pgid, pids, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    _signal_all(pgid, [p for p in pids if alive(p)], signal.SIGKILL)


def stop_tree(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """Stop ``proc`` (which leads its own process group) and every process it started.

    SIGTERM to the group and to every descendant at once (a graceful shutdown that waits on
    its children would take seconds), SIGKILL whatever runs after ``timeout``; ``proc`` is
    reaped. Safe to call when ``proc`` already exited.
    """
    pids = descendants(proc.pid) if proc.poll() is None else []
    terminate_tree(proc.pid, [proc.pid, *pids], grace=timeout)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL was sent above
        kill_group(proc.pid, signal.SIGKILL)
        proc.wait()
    kill_group(proc.pid, signal.SIGKILL)  # anything left in the group


# ---- threads ----------------------------------------------------------------------------------


def start_thread(target: Callable[..., object], name: str, **kwargs: Any) -> threading.Thread:
    """Start ``target(**kwargs)`` in a daemon thread called ``name`` and return the thread."""
    thread = threading.Thread(target=target, kwargs=kwargs, name=name, daemon=True)
    thread.start()
    return thread


def join_thread(thread: threading.Thread | None, timeout: float = 5.0) -> None:
    """Join ``thread`` (None is fine); log a warning if it is still running after ``timeout``."""
    if thread is None:
        return
    thread.join(timeout)
    if thread.is_alive():
        log.warning("thread %s did not stop within %.1f s", thread.name, timeout)


# ---- the exit registry -----------------------------------------------------------------------


class Stoppable(Protocol):
    """Anything with an idempotent ``stop()``."""

    def stop(self) -> None:
        """Stop; calling it again does nothing."""


_at_exit: dict[int, Stoppable] = {}
_at_exit_lock = threading.Lock()


def stop_at_exit(thing: Stoppable) -> None:
    """Stop ``thing`` at interpreter exit unless :func:`forget_at_exit` was called first.

    Holds ``thing`` until then: a server nobody references any more still gets stopped.
    Things are stopped newest first, so a demo stops its debugger before its Redis.
    """
    with _at_exit_lock:
        _at_exit[id(thing)] = thing


def forget_at_exit(thing: Stoppable) -> None:
    """Undo :func:`stop_at_exit` (``thing`` was stopped); unknown things are ignored."""
    with _at_exit_lock:
        _at_exit.pop(id(thing), None)


def _stop_all_at_exit() -> None:
    with _at_exit_lock:
        things = list(_at_exit.values())
    for thing in reversed(things):
        try:
            thing.stop()
        except Exception:  # at exit, report and go on stopping the rest
            log.exception("could not stop %r at exit", thing)


atexit.register(_stop_all_at_exit)
