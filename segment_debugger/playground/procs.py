"""Child processes, threads and exit hooks of the playground, each done one way.

- :func:`spawn_tied`: a child process that dies with this one, however this one dies (SIGKILL
  included). The child runs in a session of its own; a tiny watchdog process (this file, run
  as a script) holds the read end of a pipe whose write end only this process holds. When this
  process dies the kernel closes the write end; the watchdog reads EOF and stops the child's
  whole tree (and removes the paths it was given: the child's temp dirs). It leaves quietly
  when the child exits. No ``preexec_fn`` (unsafe in a process with threads), no reliance on
  ``PR_SET_PDEATHSIG``.
- :func:`owned_temp_dir`: temp dirs named after their owner's pid; creating one first removes
  those whose owner died without cleaning up.
- :func:`kill_group`, :func:`descendants` and :func:`stop_tree`: stop a child that leads its own
  process group together with every process it started (Voila's kernels run in sessions of
  their own, so they are found as descendants, not by group).
- :func:`start_thread` / :func:`join_thread`: the daemon threads of the playground (the demo
  publisher, the fakeredis server) start and stop the same way.
- :func:`stop_at_exit` / :func:`forget_at_exit`: what is running when the interpreter exits
  is stopped, newest first.

Top-level imports are standard library only: the watchdog runs this file with ``python -I -S``.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
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


def stop_tree(proc: subprocess.Popen[Any], timeout: float = 5.0) -> None:
    """Stop ``proc`` (which leads its own process group) and every process it started.

    SIGTERM to the group and to every descendant at once (a graceful shutdown that waits on
    its children would take seconds), SIGKILL whatever runs after ``timeout``; ``proc`` is
    reaped. Safe to call when ``proc`` already exited.
    """
    # A reaped child's pid may belong to another process by now: signal it only while it runs.
    family = [proc.pid, *descendants(proc.pid)] if proc.poll() is None else []
    terminate_tree(proc.pid, family, grace=timeout)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL was sent above
        kill_group(proc.pid, signal.SIGKILL)
        proc.wait()
    kill_group(proc.pid, signal.SIGKILL)  # anything left in the group


# ---- children tied to this process ----------------------------------------------------------

#: Seconds the watchdog gives an orphaned child's tree between SIGTERM and SIGKILL.
WATCHDOG_GRACE = 2.0


class TiedProcess:
    """A child started by :func:`spawn_tied`: a ``Popen`` plus the watchdog that ties it to us."""

    def __init__(
        self, proc: subprocess.Popen[Any], watchdog: subprocess.Popen[bytes], pipe: int
    ) -> None:
        self.proc = proc
        self.watchdog = watchdog
        self._pipe: int | None = pipe

    @property
    def pid(self) -> int:
        """The child's process id (also its process group and session id)."""
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        """The child's exit code once it was reaped (see :meth:`poll`), else None."""
        return self.proc.returncode

    def poll(self) -> int | None:
        """Return the child's exit code, or None while it runs."""
        return self.proc.poll()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the child and every process it started (:func:`stop_tree`), then the watchdog.

        Idempotent.
        """
        stop_tree(self.proc, timeout)
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            os.close(pipe)  # the watchdog sees the child gone (or EOF) and exits
        try:
            self.watchdog.wait(timeout)
        except subprocess.TimeoutExpired:  # pragma: no cover - it exits within milliseconds
            self.watchdog.kill()
            self.watchdog.wait()

    def __repr__(self) -> str:
        return f"TiedProcess(pid={self.pid}, returncode={self.returncode})"


def spawn_tied(
    argv: list[str],
    *,
    stdout: Any = subprocess.DEVNULL,
    stderr: Any = subprocess.STDOUT,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    remove: Sequence[str] = (),
    text: bool = False,
) -> TiedProcess:
    """Start ``argv`` in a session of its own, tied to this process; return its handle.

    Whatever ends this process (return, exception, SIGTERM, SIGKILL, a crash), the child's
    process group and every descendant of the child (Voila's kernels live in sessions of their
    own) get SIGTERM, then SIGKILL after :data:`WATCHDOG_GRACE` seconds; then the watchdog
    removes the files or dirs in ``remove`` (the child's temp dirs). While this process lives,
    those stay its own to remove. ``text`` opens pipes in text mode, as for ``Popen``. Stop
    the child with :meth:`TiedProcess.stop`.
    """
    read_end, write_end = os.pipe()  # not inheritable: only the watchdog gets the read end
    try:
        watchdog = subprocess.Popen(
            [sys.executable, "-I", "-S", __file__, "--watch", str(read_end), str(WATCHDOG_GRACE),
             *(os.path.abspath(path) for path in remove)],
            pass_fds=(read_end,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # a signal to our group or terminal must not reach it
        )
    except BaseException:
        os.close(write_end)
        raise
    finally:
        os.close(read_end)
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            env=env,
            cwd=cwd,
            text=text,
            start_new_session=True,
        )
    except BaseException:
        os.close(write_end)  # the watchdog reads EOF before any pid and exits
        watchdog.wait()
        raise
    os.write(write_end, f"{proc.pid}\n".encode())
    return TiedProcess(proc, watchdog, write_end)


def _watch(pipe: int, grace: float, remove: Sequence[str] = ()) -> None:
    """Run the watchdog: read the child's pid, wait for EOF (stop the tree) or the child's exit.

    After stopping the tree it removes ``remove``; when the child exits on its own it leaves
    them to the parent.
    """
    received = b""
    while not received.endswith(b"\n"):
        chunk = os.read(pipe, 64)
        if not chunk:
            return  # the parent died (or gave up) before starting the child
        received += chunk
    pid = int(received)
    pidfd: int | None
    try:
        pidfd = os.pidfd_open(pid)  # readable once the child exits (Linux >= 5.3)
    except (AttributeError, OSError):
        pidfd = None
    while True:
        watched = [pipe] if pidfd is None else [pipe, pidfd]
        ready = select.select(watched, [], [], 0.2 if pidfd is None else None)[0]
        if (pidfd in ready) if pidfd is not None else not alive(pid):
            return  # the child exited: its parent takes care of the rest
        if pipe in ready and not os.read(pipe, 64):
            break  # EOF: the parent is gone
    terminate_tree(pid, [pid, *descendants(pid)], grace)
    for path in remove:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)


# ---- temp dirs that name their owner ----------------------------------------------------------


def owned_temp_dir(kind: str) -> str:
    """Create and return a temp dir ``sd-<kind>-<our pid>-<random>``.

    First removes the ``sd-<kind>-<pid>-*`` dirs of owners that are no longer running (killed
    before they could clean up); see :func:`sweep_temp_dirs`.
    """
    sweep_temp_dirs(kind)
    return tempfile.mkdtemp(prefix=f"sd-{kind}-{os.getpid()}-")


def sweep_temp_dirs(kind: str, root: str | None = None) -> list[str]:
    """Remove this user's ``sd-<kind>-<pid>-*`` dirs in ``root`` whose owner ``pid`` is dead.

    ``root`` defaults to the temp dir. Returns the paths removed.
    """
    pattern = re.compile(rf"sd-{re.escape(kind)}-(\d+)-")
    removed = []
    base = root or tempfile.gettempdir()
    with contextlib.suppress(OSError), os.scandir(base) as entries:
        for entry in entries:
            match = pattern.match(entry.name)
            if match is None or alive(int(match.group(1))):
                continue
            try:
                if not entry.is_dir(follow_symlinks=False) or entry.stat().st_uid != os.getuid():
                    continue
            except OSError:
                continue
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
    return removed


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


if __name__ == "__main__" and sys.argv[1:2] == ["--watch"]:
    _watch(int(sys.argv[2]), float(sys.argv[3]), sys.argv[4:])
