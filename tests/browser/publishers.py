"""Event sources for the end-to-end tests: the ``publish`` CLI and the pre-generated flood."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from harness import BIN


class Publisher:
    """``segment-debugger publish`` as a child process; ``stop()`` ends it and waits."""

    def __init__(
        self,
        url: str,
        channel: str,
        rate: float,
        count: int | None = None,
        invalid: float = 0.0,
        seed: int | None = None,
    ) -> None:
        argv = [str(BIN / "segment-debugger"), "publish", "--url", url, "--channel", channel,
                "--rate", str(rate), "--invalid", str(invalid), "--progress", "1"]
        if count is not None:
            argv += ["--count", str(count)]
        if seed is not None:
            argv += ["--seed", str(seed)]
        self.argv = argv
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )
        self.output = ""

    def wait(self, timeout: float) -> str:
        """Wait for a ``--count`` run to finish; return its output or raise with it."""
        try:
            self.output, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise TimeoutError(f"publisher still running after {timeout} s: {self.argv}") from None
        if self.proc.returncode != 0:
            raise RuntimeError(f"publisher exited {self.proc.returncode}:\n{self.output}")
        return self.output

    def stop(self) -> str:
        """Stop the publisher (SIGINT, then SIGKILL) and return what it printed."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.output, _ = self.proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.output, _ = self.proc.communicate()
        return self.output

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Flood:
    """``tests/browser/flood.py`` as a child process: pre-generated events at a fixed rate."""

    SCRIPT = Path(__file__).resolve().parent / "flood.py"

    def __init__(
        self, url: str, channel: str, rate: float, seconds: float, rare: int = 0
    ) -> None:
        argv = [sys.executable, str(self.SCRIPT), "--url", url, "--channel", channel,
                "--rate", str(rate), "--seconds", str(seconds)]
        if rare:
            argv += ["--rare", str(rare)]  # every rare-th event is a "Rare Event" track
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # payloads generated: the flood starts now
        if line.strip() != "ready":
            self.stop()
            raise RuntimeError(f"flood.py did not start: {line}{self.proc.stdout.read()}")
        self.output = ""

    def running(self) -> bool:
        """True while the flood is still publishing."""
        return self.proc.poll() is None

    def stop(self) -> str:
        """End the flood (SIGINT, then SIGKILL) and return what it printed."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.output, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.output, _ = self.proc.communicate()
        return self.output

    def __enter__(self) -> Flood:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
