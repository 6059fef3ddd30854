"""Voila serving one notebook on 127.0.0.1: :class:`VoilaServer`, for ``segment-debugger demo``."""

from __future__ import annotations

import shutil
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from segment_debugger.playground.procs import TiedProcess, owned_temp_dir, spawn_tied


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Return True when nothing listens on ``host:port`` (TIME_WAIT leftovers do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class VoilaServer:
    """Voila serving one notebook on 127.0.0.1, a child tied to this process.

    ``stop()`` ends Voila and every process it started (kernels run in sessions of their own,
    so they are found as descendants, not by group), then frees the port. If this process
    dies first, however, the watchdog of :func:`~.procs.spawn_tied` does the same.
    """

    def __init__(self, notebook: Path, port: int, env: dict[str, str]) -> None:
        self.notebook = notebook
        self.port = port
        self.env = env
        self.dir = owned_temp_dir("demo-voila")
        self.log_path = Path(self.dir) / "voila.log"
        self.proc: TiedProcess | None = None

    @property
    def url(self) -> str:
        """The dashboard's address."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def running(self) -> bool:
        """True while the Voila process runs."""
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Launch Voila (returns at once; see :meth:`wait_ready`)."""
        with open(self.log_path, "wb") as log:
            self.proc = spawn_tied(
                [
                    sys.executable, "-m", "voila", str(self.notebook),
                    "--no-browser",
                    f"--port={self.port}",
                    "--Voila.ip=127.0.0.1",
                    "--Voila.port_retries=0",
                    "--show_tracebacks=True",
                    # Notebook 7's JupyterLab extension fails to load in Voila and logs a
                    # console error ("The getter for the shared module is not a function").
                    "--VoilaConfiguration.extension_denylist=['@jupyter-notebook/lab-extension']",
                ],
                stdout=log,
                env=self.env,
                cwd=str(self.notebook.parent),
            )

    def log_tail(self, chars: int = 3000) -> str:
        """Return the end of Voila's log."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def answers(self) -> bool:
        """Return True once Voila answers HTTP (any status) on its port."""
        try:
            with urllib.request.urlopen(f"{self.url}voila/static/", timeout=1):
                return True
        except urllib.error.HTTPError:
            return True  # an HTTP error status still means the server answers
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout: float, stop: threading.Event) -> bool:
        """Wait until Voila answers; False if ``stop`` was set first. Raises if Voila dies."""
        deadline = time.monotonic() + timeout
        while not stop.is_set():
            if not self.running:
                code = None if self.proc is None else self.proc.returncode
                raise RuntimeError(f"Voila exited (code {code}); its log:\n{self.log_tail()}")
            if self.answers():
                return True
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"Voila did not answer on port {self.port} within {timeout:.0f} s;"
                    f" its log:\n{self.log_tail()}"
                )
            stop.wait(0.1)
        return False

    def stop(self, timeout: float = 5.0) -> None:
        """Stop Voila and all its descendants; idempotent.

        Kernels hold no state worth a graceful shutdown here, and Voila's own shutdown waits on
        each kernel for seconds: Voila and its descendants are terminated together.
        """
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.stop(timeout)
        shutil.rmtree(self.dir, ignore_errors=True)
