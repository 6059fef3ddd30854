"""End to end: ``segment-debugger demo`` serves a dashboard whose rows appear, and stops cleanly."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from harness import BIN, free_port, wait_until
from lab_session import SCREENSHOT_DIR
from playwright.sync_api import Page

from segment_debugger.playground.procs import spawn_tied

pytestmark = [pytest.mark.browser, pytest.mark.slow]

READY_TIMEOUT_S = 90  # Voila start, on a loaded 2-core machine
ROWS_TIMEOUT_S = 90  # kernel start + notebook execution + first delta
EXIT_TIMEOUT_S = 20


def _port_free(port: int) -> bool:
    """Nothing listens on the port: a server (which sets SO_REUSEADDR, as Voila does) can bind it.

    Connections the browser had open may sit in TIME_WAIT for a minute; they do not stop a
    new server, so they do not count.
    """
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class DemoProcess:
    """``segment-debugger demo`` as a child in its own session; stdout collected line by line.

    Tied to this process (``spawn_tied``): a killed pytest takes the demo along.
    """

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        env.pop("SEGMENT_DEBUGGER_URL", None)
        self._tied = spawn_tied(
            [str(BIN / "segment-debugger"), "demo", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.proc = self._tied.proc
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))

    def output(self) -> str:
        while True:
            try:
                self.lines.append(self._queue.get_nowait())
            except queue.Empty:
                return "\n".join(self.lines)

    def dashboard_url(self) -> str | None:
        for line in self.output().splitlines():
            if "dashboard at " in line:
                return line.split("dashboard at ", 1)[1].split()[0]
        if self.proc.poll() is not None:
            raise AssertionError(f"demo exited with {self.proc.returncode}:\n{self.output()}")
        return None

    def kill(self) -> None:
        """Last-resort cleanup when a test failed half way."""
        procs = []
        with contextlib.suppress(psutil.Error):
            procs = psutil.Process(self.proc.pid).children(recursive=True)
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        for p in procs:
            with contextlib.suppress(psutil.Error):
                p.kill()
        self.proc.wait(timeout=10)
        self._tied.stop()  # the watchdog
        self._reader.join(timeout=5)


def test_demo_serves_live_rows_and_stops_cleanly_on_sigint(page: Page, tmp_path: Path) -> None:
    """Rows appear in Chromium; SIGINT exits 0, frees the port, leaves no process.

    Also the README's dashboard screenshot (copied to docs/screenshots when
    SD_UPDATE_SCREENSHOTS=1).
    """
    port = free_port()
    started = time.monotonic()
    demo = DemoProcess("--no-browser", "--port", str(port), "--rate", "100")
    try:
        url = wait_until(demo.dashboard_url, READY_TIMEOUT_S, lambda: f"the URL:\n{demo.output()}")
        assert url == f"http://127.0.0.1:{port}/"
        page.goto(url)
        rows = page.locator("[data-testid=sd-row]")
        rows.first.wait_for(timeout=ROWS_TIMEOUT_S * 1000)
        first_row_s = time.monotonic() - started
        assert rows.count() >= 1
        counters = page.locator("[data-testid=sd-dashboard-counters]")
        counters.wait_for(timeout=10_000)
        assert "received" in counters.inner_text()
        counters.locator("svg polyline").wait_for(timeout=20_000)  # the rate sparkline drew
        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), animations="disabled")
        assert shot.read_bytes().startswith(b"\x89PNG")
        if os.environ.get("SD_UPDATE_SCREENSHOTS") == "1":
            SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, SCREENSHOT_DIR / "dashboard.png")
        print(f"demo start to first row: {first_row_s:.1f} s", file=sys.stderr)

        children = psutil.Process(demo.proc.pid).children(recursive=True)
        names = {p.name() for p in children}
        assert any("python" in n for n in names), f"no Voila/kernel process among {names}"
        if "started an embedded Redis (redis-server)" in demo.output():
            assert "redis-server" in names

        stop_at = time.monotonic()
        demo.proc.send_signal(signal.SIGINT)
        assert demo.proc.wait(timeout=EXIT_TIMEOUT_S) == 0, demo.output()
        print(f"SIGINT to exit: {time.monotonic() - stop_at:.1f} s", file=sys.stderr)
        survivors = [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert survivors == [], f"processes left behind: {survivors}"
        assert _port_free(port), f"port {port} still in use after the demo stopped"
        assert "stopping" in demo.output()
    finally:
        demo.kill()



def test_demo_on_fakeredis_renders_the_dashboard_and_stops_on_sigterm() -> None:
    """The no-redis-server path: fakeredis in the demo process; SIGTERM stops it all, exit 0."""
    port = free_port()
    demo = DemoProcess(
        "--no-browser", "--port", str(port), env={"SEGMENT_DEBUGGER_EMBEDDED": "fakeredis"}
    )
    try:
        url = wait_until(demo.dashboard_url, READY_TIMEOUT_S, lambda: f"the URL:\n{demo.output()}")
        if "using the Redis answering at" not in demo.output():
            assert "started an embedded Redis (fakeredis)" in demo.output()
        with urllib.request.urlopen(url, timeout=ROWS_TIMEOUT_S) as response:
            body = response.read().decode()
        assert "application/vnd.jupyter.widget-view+json" in body  # the notebook ran
        assert "Traceback" not in body
        children = psutil.Process(demo.proc.pid).children(recursive=True)
        demo.proc.send_signal(signal.SIGTERM)
        assert demo.proc.wait(timeout=EXIT_TIMEOUT_S) == 0, demo.output()
        survivors = [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert survivors == [], f"processes left behind: {survivors}"
        assert _port_free(port)
    finally:
        demo.kill()
