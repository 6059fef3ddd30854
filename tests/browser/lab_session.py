"""One JupyterLab session shared by the lab test modules: server, page, notebook, kernel, Redis.

The ``lab`` fixture (session scope, in ``conftest.py``) opens it once: JupyterLab with a
notebook whose first cell builds ``dbg`` on a Redis server of its own (never the session Redis
the headless tests count clients on), run in a Chromium page. ``session`` hands each test the
same page reset: empty buffer, live, no filter, no selection, no page errors.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from chromium import VIEWPORT, PageErrors, block_external
from harness import JupyterDirs, KernelEval, Server, start_lab, wait_until, write_notebook
from lab_notebook import DARK, LIGHT, LabNotebook
from playwright.sync_api import Browser, Page, expect
from publishers import Publisher
from support.redis_server import RedisServer
from widget_page import WidgetView

NOTEBOOK = "debugger.ipynb"
IOPUB_WARNING = "IOPub message rate exceeded"
CHANNEL = "events"  # as in the README screenshots; nothing else publishes meanwhile
#: Where README's screenshots live; tests write there only with SD_UPDATE_SCREENSHOTS=1.
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@dataclass
class LabSession:
    """The shared JupyterLab page, notebook, kernel client and Redis channel."""

    server: Server
    page: Page
    notebook: LabNotebook
    widget: WidgetView
    kernel: KernelEval
    redis: RedisServer
    channel: str
    errors: PageErrors

    def publish(self, count: int, rate: float = 0, invalid: float = 0.0, seed: int = 1) -> None:
        """Publish ``count`` fake events and wait until the kernel's buffer received them."""
        before = self.received()
        Publisher(self.redis.url, self.channel, rate, count, invalid, seed).wait(timeout=120)
        wait_until(lambda: self.received() >= before + count, 30,
                   lambda: f"{count} events received (have {self.received() - before})")

    def publisher(self, rate: float, count: int | None = None) -> Publisher:
        """A running publisher on the session's channel (stop it, or use ``with``)."""
        return Publisher(self.redis.url, self.channel, rate, count)

    def received(self) -> int:
        """Events the kernel's debugger has received so far."""
        return int(self.kernel.eval("dbg.buffer.stats['received']"))

    def last_seq(self) -> int:
        """The newest seq in the kernel's buffer."""
        return int(self.kernel.eval("dbg.buffer.last_seq"))

    def wait_caught_up(self, timeout: float = 20) -> int:
        """Wait until the top visible row is the newest buffered event; return its seq."""
        last = self.last_seq()
        wait_until(lambda: self.widget.top_seq() == last, timeout,
                   lambda: f"top row seq {self.widget.top_seq()} to reach {last}")
        return last

    def screenshots(
        self, tmp_path: Path, light: str, dark: str, prepare: Callable[[], None] | None = None
    ) -> dict[str, Path]:
        """Screenshot the widget in the light then the dark theme (``prepare()`` before each).

        Returns ``{name: path}`` (files in ``tmp_path``); the theme is light again afterwards.
        With ``SD_UPDATE_SCREENSHOTS=1`` the files are copied into ``docs/screenshots``.
        """
        shots: dict[str, Path] = {}
        try:
            for theme, name in ((LIGHT, light), (DARK, dark)):
                self.notebook.set_theme(theme)
                if prepare is not None:
                    prepare()
                self.widget.root.scroll_into_view_if_needed()
                shots[name] = tmp_path / name
                self.widget.root.screenshot(path=str(shots[name]), animations="disabled")
                assert shots[name].stat().st_size > 10_000, f"{name} looks empty"
        finally:
            self.notebook.set_theme(LIGHT)
        if os.environ.get("SD_UPDATE_SCREENSHOTS") == "1":
            SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
            for name, path in shots.items():
                shutil.copyfile(path, SCREENSHOT_DIR / name)
        return shots

    def reset(self) -> None:
        """Empty buffer, live, no filter, no selection, no recorded page errors.

        The filter box is emptied in the page first and Python's ``query`` awaited: a debounced
        save of the previous test's text must not land after the reset and filter this test.
        """
        self.page.evaluate("() => document.activeElement && document.activeElement.blur()")
        self.widget.testid("sd-filter").fill("")
        wait_until(lambda: self.kernel.eval("dbg.query") == "", 10, "the emptied filter synced")
        self.kernel.exec(
            "dbg.resume(); dbg.query = ''; dbg.type_filter = []; dbg.invalid_only = False\n"
            "dbg.warnings_only = False\n"
            "dbg.select(None); dbg.clear()"
        )
        w = self.widget
        expect(w.testid("sd-live-toggle")).to_have_attribute("aria-pressed", "false")
        expect(w.testid("sd-filter")).to_have_value("")
        expect(w.rows).to_have_count(0)
        self.errors.clear()


@contextlib.contextmanager
def open_lab_session(browser: Browser, keep_log: Path) -> Iterator[LabSession]:
    """Start Redis and JupyterLab, open and run the notebook; on exit stop all of it.

    The exit always stops the server (and with it the kernel) even when the kernel no longer
    answers; the server's log is copied to ``keep_log``. A failed ``dbg.close()`` is raised
    after everything is stopped.
    """
    with RedisServer() as redis, contextlib.ExitStack() as stack:
        dirs = JupyterDirs()
        stack.callback(dirs.cleanup)
        write_notebook(
            dirs.root / NOTEBOOK,
            [
                "from segment_debugger import SegmentDebugger\n"
                "if 'dbg' in globals():  # re-run: stop the previous debugger's threads\n"
                "    dbg.close()\n"
                f"dbg = SegmentDebugger({redis.url!r}, channels=[{CHANNEL!r}], "
                "max_messages=10_000)",
                "dbg",
            ],
        )
        server = start_lab(dirs)

        def stop_server() -> None:
            server.stop()
            keep_log.write_text(server.log())

        stack.callback(stop_server)
        context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        stack.callback(context.close)
        block_external(context)
        page = context.new_page()
        errors = PageErrors()
        errors.attach(page)
        notebook = LabNotebook(page, server, NOTEBOOK)
        notebook.open()
        notebook.run_all()
        widget = WidgetView(page)
        expect(widget.root).to_be_visible(timeout=60_000)
        kernel = KernelEval(server.notebook_kernel(NOTEBOOK))
        stack.callback(kernel.close)
        wait_until(lambda: kernel.eval("dbg.status['state']") == "live", 30, "the source live")
        failures: list[str] = []

        def close_debugger() -> None:
            problem = kernel.try_exec("dbg.close()")
            if problem:
                failures.append(problem)

        stack.callback(close_debugger)
        yield LabSession(server, page, notebook, widget, kernel, redis, CHANNEL, errors)
    if failures:
        raise RuntimeError("; ".join(failures))
