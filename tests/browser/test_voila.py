"""End to end in Voila: the dashboard notebook, served by a real Voila, fed by real Redis."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from chromium import PageErrors
from harness import JupyterDirs, KernelEval, Server, start_voila, wait_until
from playwright.sync_api import Page, expect
from publishers import Publisher
from support.redis_server import RedisServer
from widget_page import EXPORT_NAME, FILTERED_RAW_B64, WidgetView, decode_b64, ndjson_payloads

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.slow]

DASHBOARD = Path(__file__).resolve().parents[2] / "notebooks" / "dashboard.ipynb"
IOPUB_WARNING = "IOPub message rate exceeded"


@pytest.fixture
def voila(redis_server: RedisServer) -> Iterator[tuple[Server, str]]:
    """Voila serving a copy of notebooks/dashboard.ipynb, pointed at the test's Redis channel."""
    if not DASHBOARD.exists():
        pytest.fail(f"{DASHBOARD} is missing: the Voila dashboard is part of the project")
    channel = f"e2e-voila-{secrets.token_hex(4)}"
    dirs = JupyterDirs()
    notebook = dirs.root / DASHBOARD.name
    shutil.copyfile(DASHBOARD, notebook)
    server = start_voila(
        dirs,
        notebook,
        env={"SEGMENT_DEBUGGER_URL": redis_server.url, "SEGMENT_DEBUGGER_CHANNEL": channel},
    )
    try:
        yield server, channel
    finally:
        server.stop()
        dirs.cleanup()


def test_dashboard_renders_widget_and_rows_appear(
    voila: tuple[Server, str], redis_server: RedisServer, page: Page, page_errors: PageErrors
) -> None:
    server, channel = voila
    page.goto(server.url("/"), timeout=120_000)
    w = WidgetView(page)
    expect(w.root).to_be_visible(timeout=120_000)
    expect(page.get_by_test_id("sd-dashboard-counters")).to_be_visible()
    files = wait_until(server.kernel_connection_files, 30, "the dashboard's kernel")
    kernel = KernelEval(files[-1])
    try:
        wait_until(lambda: kernel.eval("dbg.status['state']") == "live", 30, "the source live")
        Publisher(redis_server.url, channel, rate=500, count=100, invalid=0.1).wait(60)
        wait_until(lambda: kernel.eval("dbg.buffer.stats['received']") == 100, 30,
                   "100 events in the kernel")
        last = kernel.eval("dbg.buffer.last_seq")
        wait_until(lambda: w.top_seq() == last, 30,
                   lambda: f"the top row ({w.top_seq()}) to be the newest event ({last})")
        expect(w.testid("sd-count")).to_have_text("100 of 100")
        assert 0 < w.rows.count() < 100
        # Invalid rows are marked: the invalid toggle shows exactly the kernel's invalid events,
        # each with the row mark (checking the first screenful alone could miss them).
        invalid = kernel.eval("sum(1 for e in dbg.buffer.snapshot() if not e.valid)")
        assert invalid > 0, "the publisher sent no flagged event"
        w.testid("sd-invalid-toggle").click()
        expect(w.testid("sd-count")).to_have_text(f"{invalid} of 100")
        marked = w.root.locator("[data-testid=sd-row].sd-invalid")
        expect(marked.first).to_be_visible()
        assert marked.count() == w.rows.count() == min(invalid, w.rows.count())
        w.testid("sd-invalid-toggle").click()
        expect(w.testid("sd-count")).to_have_text("100 of 100")
        expect(page.get_by_test_id("sd-dashboard-counters")).to_contain_text("100")
    finally:
        kernel.close()
    assert page_errors == []
    assert IOPUB_WARNING not in server.log()


def test_dashboard_export_downloads_dbg_filtered(
    voila: tuple[Server, str], redis_server: RedisServer, page: Page, page_errors: PageErrors
) -> None:
    """Issue 12 in Voila: the Export button downloads exactly dbg.filtered() as NDJSON."""
    server, channel = voila
    page.goto(server.url("/"), timeout=120_000)
    w = WidgetView(page)
    expect(w.root).to_be_visible(timeout=120_000)
    files = wait_until(server.kernel_connection_files, 30, "the dashboard's kernel")
    kernel = KernelEval(files[-1])
    try:
        wait_until(lambda: kernel.eval("dbg.status['state']") == "live", 30, "the source live")
        Publisher(redis_server.url, channel, rate=500, count=200, invalid=0.1, seed=11).wait(60)
        wait_until(lambda: kernel.eval("dbg.buffer.stats['received']") == 200, 30,
                   "200 events in the kernel")
        expect(w.testid("sd-count")).to_have_text("200 of 200")
        w.testid("sd-type-toggle-identify").click()
        wait_until(lambda: kernel.eval("dbg.type_filter") == ["identify"], 10, "type_filter synced")
        name, data = w.export()
        expected = decode_b64(kernel.eval(FILTERED_RAW_B64))
        assert 0 < len(expected) < 200, "the toggle should keep a strict subset"
        assert EXPORT_NAME.fullmatch(name), name
        assert ndjson_payloads(data) == expected
        expect(w.testid("sd-export-status")).to_contain_text(f"saved {len(expected)} events")
    finally:
        kernel.close()
    assert page_errors == []
    assert IOPUB_WARNING not in server.log()
