"""``segment-debugger demo``: Redis, the fake event stream and the Voila dashboard in one command.

Without ``--url`` the demo uses a Redis answering at ``redis://localhost:6379`` or, when none
does, starts an :class:`EmbeddedRedis`. It publishes the fake Segment
stream from a thread of this process, serves ``dashboard.ipynb`` with Voila (a child process in
its own process group, told the Redis URL through ``SEGMENT_DEBUGGER_URL``), prints the URL and
opens a browser. Ctrl-C or SIGTERM stops everything (Voila and its kernels, the publisher, the
embedded server) and exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import webbrowser
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import Any

from segment_debugger.playground.server import EmbeddedRedis, Publisher, _ping

#: The ``--help`` text: the module docstring's second paragraph without reST markup.
DESCRIPTION = (
    "Without --url the demo uses a Redis answering at redis://localhost:6379 or, when none "
    "does, starts an embedded one (a redis-server on PATH, else fakeredis). It publishes a "
    "fake Segment stream, serves the dashboard notebook with Voila, prints the URL and opens "
    "a browser. Ctrl-C stops everything (Voila and its kernels, the publisher, the embedded "
    "server) and exits 0."
)

#: Where the demo looks for an already running Redis when no --url is given.
DEFAULT_URL = "redis://localhost:6379/0"
#: Environment variables the dashboard notebook reads.
ENV_URL = "SEGMENT_DEBUGGER_URL"
ENV_CHANNEL = "SEGMENT_DEBUGGER_CHANNEL"
DASHBOARD = "dashboard.ipynb"


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``demo`` on the ``segment-debugger`` command line."""
    parser = subparsers.add_parser(
        "demo",
        help="run the live demo dashboard (fake events, embedded Redis if needed, Voila)",
        description=DESCRIPTION,
    )
    parser.add_argument("--url", help=f"Redis URL to use (default: {DEFAULT_URL} if it answers,"
                        " else an embedded server)")
    parser.add_argument("--port", type=int, default=8866, help="Voila port (default: 8866)")
    parser.add_argument("--rate", type=float, default=100.0,
                        help="fake events per second (default: 100)")
    parser.add_argument("--invalid-fraction", type=float, default=0.02,
                        help="fraction of invalid events (default: 0.02)")
    parser.add_argument("--channel", default="events", help="pub/sub channel (default: events)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    parser.add_argument("--notebook", type=Path,
                        help="serve this notebook instead of the dashboard")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for Voila to answer (default: 60)")
    parser.set_defaults(func=run)


def find_dashboard() -> Path:
    """Return the dashboard notebook: the copy inside the package (wheels), else the repo's."""
    packaged = resources.files("segment_debugger").joinpath("notebooks").joinpath(DASHBOARD)
    if packaged.is_file():
        return Path(str(packaged))
    repo = Path(__file__).resolve().parents[2] / "notebooks" / DASHBOARD
    if repo.is_file():
        return repo
    raise FileNotFoundError(
        f"{DASHBOARD} is neither in the installed package nor in a source checkout ({repo}):"
        " reinstall segment-debugger, or pass --notebook PATH"
    )


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
    """Voila serving one notebook on 127.0.0.1, in a process group of its own.

    ``stop()`` ends Voila and every process it started (kernels run in sessions of their own,
    so they are found as descendants, not by group), then frees the port.
    """

    def __init__(self, notebook: Path, port: int, env: dict[str, str]) -> None:
        self.notebook = notebook
        self.port = port
        self.env = env
        self.dir = tempfile.mkdtemp(prefix="sd-demo-voila-")
        self.log_path = Path(self.dir) / "voila.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The dashboard's address."""
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        """Launch Voila (returns at once; see :meth:`wait_ready`)."""
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "voila", str(self.notebook),
                    "--no-browser",
                    f"--port={self.port}",
                    "--Voila.ip=127.0.0.1",
                    "--Voila.port_retries=0",
                    "--show_tracebacks=True",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=str(self.notebook.parent),
                start_new_session=True,
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
            if self.proc is None or self.proc.poll() is not None:
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

    def stop(self, timeout: float = 10.0) -> None:
        """Stop Voila and all its descendants; idempotent."""
        proc, self.proc = self.proc, None
        if proc is not None:
            # Kernels hold no state worth a graceful shutdown here, and Voila's own shutdown
            # waits on each kernel for seconds: terminate Voila and its descendants together.
            descendants = list(_descendants(proc.pid))
            _killpg(proc.pid, signal.SIGTERM)
            _stop_processes(descendants, timeout=timeout / 2)
            try:
                proc.wait(timeout=timeout / 2)
            except subprocess.TimeoutExpired:
                _killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            _killpg(proc.pid, signal.SIGKILL)  # anything left in Voila's own group
        shutil.rmtree(self.dir, ignore_errors=True)


def _descendants(pid: int) -> Iterator[Any]:
    try:
        import psutil
    except ImportError:  # psutil comes with ipykernel; without it only the group is stopped
        return iter(())
    try:
        return iter(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return iter(())


def _stop_processes(procs: list[Any], timeout: float) -> None:
    """SIGTERM then SIGKILL psutil processes that are still alive."""
    if not procs:
        return
    import psutil

    alive = [p for p in procs if p.is_running()]
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _gone, alive = psutil.wait_procs(alive, timeout=timeout)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(alive, timeout=timeout)


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _say(text: str) -> None:
    print(f"segment-debugger demo: {text}", flush=True)


def run(args: argparse.Namespace) -> int:
    """Run the demo until SIGINT/SIGTERM; return the exit code."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    server: EmbeddedRedis | None = None
    publisher: Publisher | None = None
    voila: VoilaServer | None = None
    try:
        notebook = args.notebook or find_dashboard()
        if not notebook.is_file():
            _say(f"error: notebook {notebook} does not exist")
            return 2
        if not port_is_free(args.port):
            _say(f"error: port {args.port} is in use: stop what uses it or pass --port N")
            return 2
        url = args.url
        if url is None:
            if _ping(DEFAULT_URL):
                url = DEFAULT_URL
                _say(f"using the Redis answering at {url}")
            else:
                server = EmbeddedRedis().start()
                url = server.url
                _say(f"started an embedded Redis ({server.kind}) at {url}")
        elif not _ping(url, timeout=2.0):
            _say(f"error: no Redis answers at {url}: check --url, or omit it for an embedded one")
            return 2
        publisher = Publisher(
            url, args.channel, rate=args.rate, invalid_fraction=args.invalid_fraction
        ).start()
        _say(f"publishing fake events to {args.channel!r} at {args.rate:g}/s")
        env = {**os.environ, ENV_URL: url, ENV_CHANNEL: args.channel}
        voila = VoilaServer(Path(notebook).resolve(), args.port, env)
        voila.start()
        if not voila.wait_ready(args.timeout, stop):
            return 0
        _say(f"dashboard at {voila.url}  (Ctrl-C to stop)")
        if not args.no_browser:
            webbrowser.open(voila.url)
        while not stop.wait(0.5):
            if voila.proc is None or voila.proc.poll() is not None:
                _say(f"error: Voila exited unexpectedly; its log:\n{voila.log_tail()}")
                return 1
        _say("stopping")
        return 0
    except (RuntimeError, TimeoutError, FileNotFoundError) as exc:
        _say(f"error: {exc}")
        return 1
    finally:
        if voila is not None:
            voila.stop()
        if publisher is not None:
            publisher.stop()
        if server is not None:
            server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
