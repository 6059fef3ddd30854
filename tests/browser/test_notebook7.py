"""End to end in Jupyter Notebook 7: a real `jupyter notebook` server, kernel, Redis, Chromium.

One notebook and one kernel serve the module, as in test_jupyterlab.py. The notebook does not
close its debugger itself: re-running its cell must (segment_debugger.widget.registry, from the
cell id in Notebook 7's execute request).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from chromium import VIEWPORT, PageErrors, block_external
from harness import JupyterDirs, KernelEval, Server, start_notebook7, wait_until, write_notebook
from lab_notebook import Notebook7
from playwright.sync_api import Browser, expect
from publishers import Publisher
from support.redis_server import RedisServer
from widget_page import WidgetView

pytestmark = [pytest.mark.browser, pytest.mark.redis]

NOTEBOOK = "debugger7.ipynb"
IOPUB_WARNING = "IOPub message rate exceeded"
#: Kernel expression: the package's reader threads alive in the kernel.
READERS = ("sum(t.name == 'segment-debugger-source' "
           "for t in __import__('threading').enumerate())")


@dataclass
class NbSession:
    server: Server
    notebook: Notebook7
    widget: WidgetView
    kernel: KernelEval
    redis: RedisServer
    channel: str
    errors: PageErrors

    def received(self) -> int:
        return int(self.kernel.eval("dbg.buffer.stats['received']"))

    def publish(self, count: int, rate: float = 0, seed: int = 1) -> None:
        before = self.received()
        Publisher(self.redis.url, self.channel, rate, count, 0.0, seed).wait(timeout=120)
        wait_until(lambda: self.received() >= before + count, 30,
                   lambda: f"{count} events received (have {self.received() - before})")

    def wait_caught_up(self, timeout: float = 20) -> int:
        last = int(self.kernel.eval("dbg.buffer.last_seq"))
        wait_until(lambda: self.widget.top_seq() == last, timeout,
                   lambda: f"top row seq {self.widget.top_seq()} to reach {last}")
        return last

    def numsub(self) -> int:
        with self.redis.client() as c:
            return int(dict(c.pubsub_numsub(self.channel))[self.channel.encode()])


@pytest.fixture(scope="module")
def nb7(browser: Browser) -> Iterator[NbSession]:
    """Notebook 7 with the debugger notebook open and run, its kernel client, and Redis."""
    with RedisServer() as redis:
        yield from _nb7(browser, redis)


def _nb7(browser: Browser, redis: RedisServer) -> Iterator[NbSession]:
    channel = f"e2e-nb7-{secrets.token_hex(4)}"
    dirs = JupyterDirs()
    write_notebook(
        dirs.root / NOTEBOOK,
        [
            "from segment_debugger import SegmentDebugger\n"
            f"dbg = SegmentDebugger({redis.url!r}, channels=[{channel!r}])",
            "dbg",
        ],
    )
    server: Server | None = None
    context = None
    kernel: KernelEval | None = None
    try:
        server = start_notebook7(dirs)
        context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        block_external(context)
        page = context.new_page()
        errors = PageErrors()
        errors.attach(page)
        notebook = Notebook7(page, server, NOTEBOOK)
        notebook.open()
        notebook.run_all()
        widget = WidgetView(page)
        expect(widget.root).to_be_visible(timeout=60_000)
        kernel = KernelEval(server.notebook_kernel(NOTEBOOK))
        wait_until(lambda: kernel.eval("dbg.status['state']") == "live", 30, "the source live")
        yield NbSession(server, notebook, widget, kernel, redis, channel, errors)
    finally:
        problem = None
        if kernel is not None:
            problem = kernel.try_exec("import segment_debugger; segment_debugger.close_all()")
            kernel.close()
        if context is not None:
            context.close()
        if server is not None:
            server.stop()
        dirs.cleanup()
    assert problem is None, problem


@pytest.fixture
def session(nb7: NbSession) -> Iterator[NbSession]:
    """The shared session, reset: empty buffer, live, no filter, no selection, no errors."""
    nb7.notebook.page.evaluate("() => document.activeElement && document.activeElement.blur()")
    nb7.kernel.exec(
        "dbg.resume(); dbg.query = ''; dbg.type_filter = []; dbg.invalid_only = False\n"
        "dbg.select(None); dbg.clear()"
    )
    w = nb7.widget
    expect(w.testid("sd-live-toggle")).to_have_attribute("aria-pressed", "false")
    expect(w.testid("sd-filter")).to_have_value("")
    expect(w.rows).to_have_count(0)
    nb7.errors.clear()
    yield nb7
    assert nb7.errors == [], "the page logged errors"
    assert IOPUB_WARNING not in nb7.server.log()


#: The list's box in the page: where the paused view is drawn.
_LIST_BOX_JS = """
(root) => {
  const b = root.querySelector('[role=listbox]').getBoundingClientRect();
  return [b.top, b.height];
}
"""


def test_paused_view_stays_put_while_the_header_fills_in(session: NbSession) -> None:
    """A paused view must not move: the header keeps its height as counts and sparklines come.

    First in the module, so the header starts with no counts per type and no sparklines (the
    debugger is new); they arrive with the stats while the view is paused. The header used to
    wrap onto a second line then, pushing the list down a row: ``test_rows_pause_filter_select``
    failed under CPU load when the stats came in after it captured the frozen view.
    """
    w = session.widget
    assert not w.root.locator(".sd-spark").count(), "sparklines already shown: test without teeth"
    w.testid("sd-live-toggle").click()
    wait_until(lambda: session.kernel.eval("dbg.paused") is True, 10, "dbg.paused mirrored")
    box = w.root.evaluate(_LIST_BOX_JS)
    session.publish(60, rate=1000, seed=4)
    wait_until(lambda: w.new_count() == 60, 20, lambda: f"60 new (shows {w.new_count()})")
    wait_until(lambda: w.root.locator(".sd-spark").count() >= 3, 10, "sparklines shown")
    assert w.root.evaluate(_LIST_BOX_JS) == box, "the paused list moved"
    expect(w.testid("sd-header-rates")).to_contain_text("track")
    assert w.visible_seqs() == []
    w.testid("sd-live-toggle").click()
    wait_until(lambda: session.kernel.eval("dbg.paused") is False, 10, "dbg.paused cleared")
    session.wait_caught_up()
    assert w.root.evaluate(_LIST_BOX_JS) == box, "the list moved"


def test_rows_pause_filter_select(session: NbSession) -> None:
    w = session.widget
    session.publish(60, rate=1000, seed=4)
    last = session.wait_caught_up()
    assert w.visible_seqs()[:5] == list(range(last, last - 5, -1)), "newest first, none missing"
    expect(w.testid("sd-count")).to_have_text("60 of 60")

    # Pause: the view freezes, Python sees it, new events are counted, not shown.
    w.testid("sd-live-toggle").click()
    wait_until(lambda: session.kernel.eval("dbg.paused") is True, 10, "dbg.paused mirrored")
    frozen = w.visible_seqs()
    session.publish(20, rate=0, seed=5)
    wait_until(lambda: w.new_count() == 20, 20, lambda: f"20 new (shows {w.new_count()})")
    assert w.visible_seqs() == frozen
    w.testid("sd-live-toggle").click()
    wait_until(lambda: session.kernel.eval("dbg.paused") is False, 10, "dbg.paused cleared")
    session.wait_caught_up()

    # Filter: the list is exactly what dbg.filtered() says.
    w.testid("sd-filter").fill("type:identify")
    wait_until(lambda: session.kernel.eval("dbg.query") == "type:identify", 10, "query synced")
    expected = session.kernel.eval("dbg.filtered()['seq'].tolist()")
    assert expected, "the stream had identify events"
    expect(w.testid("sd-count")).to_have_text(f"{len(expected)} of 80")
    wait_until(lambda: w.top_seq() == expected[-1], 10, "the filtered list")
    assert {r["type"] for r in w.visible_rows()} == {"identify"}

    # Select: Python sees the clicked row.
    row = w.rows.first
    seq = int(row.get_attribute("data-seq") or -1)
    row.click()
    message_id = session.kernel.eval(f"dbg.buffer.get({seq}).messageId")
    expect(w.testid("sd-detail")).to_contain_text(message_id)
    wait_until(lambda: (session.kernel.eval("dbg.selected") or {}).get("seq") == seq, 10,
               "dbg.selected to be the clicked row")


def test_rerunning_the_cell_leaves_one_subscriber_and_one_reader(session: NbSession) -> None:
    assert session.numsub() == 1
    first = session.kernel.eval("id(dbg)")
    for run in range(3):
        before = session.kernel.eval("id(dbg)")
        session.notebook.run_cell(0)
        wait_until(lambda b=before: session.kernel.eval("id(dbg)") != b, 30,
                   f"run {run + 1} of the cell to make a new debugger")
        session.notebook.wait_kernel_idle()
    assert session.kernel.eval("id(dbg)") != first
    wait_until(lambda: session.kernel.eval("dbg.status['state']") == "live", 30, "the source live")
    assert session.kernel.eval("len(__import__('segment_debugger').running())") == 1
    assert session.kernel.eval(READERS) == 1
    wait_until(lambda: session.numsub() == 1, 10,
               lambda: f"one subscriber on the server (PUBSUB NUMSUB says {session.numsub()})")
    # The displayed output is the old debugger (cell 2 did not run): the new one works headless,
    # and re-running the display cell shows it.
    session.notebook.run_cell(1)
    session.notebook.wait_kernel_idle()
    session.publish(10, rate=0, seed=6)
    session.wait_caught_up()
