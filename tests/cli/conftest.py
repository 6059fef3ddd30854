"""The CLI as a child process (``process``); the witness ``collect`` is in tests/conftest.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

import pytest

from segment_debugger.playground.procs import spawn_tied


class Process:
    """The CLI as a child process, its stdout collected line by line in a thread.

    Tied to this process (``spawn_tied``): a killed pytest leaves no ``tail`` behind.
    """

    def __init__(self, *argv: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"}
        self._tied = spawn_tied(
            [sys.executable, "-m", "segment_debugger.cli", *argv],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )
        self.proc = self._tied.proc
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append(raw.decode("utf-8").rstrip("\n"))

    def interrupt(self, timeout: float = 10.0) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        assert self.proc.stderr is not None
        return code, self.proc.stderr.read().decode("utf-8")

    def finish(self, timeout: float = 20.0) -> tuple[int, str]:
        """Wait for the command to exit by itself; return its exit code and stderr."""
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        assert self.proc.stderr is not None
        return code, self.proc.stderr.read().decode("utf-8")

    def events(self) -> list[str]:
        """The event lines printed so far (not the ``--`` status and gap lines)."""
        return [line for line in self.lines if not line.startswith("--")]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._tied.stop()  # the watchdog
        self._reader.join(timeout=5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def process() -> Iterator[Callable[..., Process]]:
    started: list[Process] = []

    def start(*argv: str) -> Process:
        started.append(Process(*argv))
        return started[-1]

    yield start
    for p in started:
        p.kill()

