"""notebooks/marimo_app.py: headless (the app runs as a script) and under `marimo run` in Chromium.

`marimo run` gives every browser session a kernel thread in the server process; the app shows
how many debuggers and reader threads that process holds, and Redis tells how many subscribers
a channel has (PUBSUB NUMSUB), so leaks are visible from outside.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from chromium import PageErrors
from harness import JupyterDirs, Server, start_marimo_run, wait_until
from playwright.sync_api import Page, expect
from publishers import Publisher
from support.redis_server import RedisServer
from widget_page import WidgetView

pytestmark = [pytest.mark.redis]

APP = Path(__file__).resolve().parents[2] / "notebooks" / "marimo_app.py"


def numsub(redis: RedisServer, channel: str) -> int:
    with redis.client() as c:
        return int(dict(c.pubsub_numsub(channel))[channel.encode()])


def test_marimo_app_runs_as_a_script_and_builds_its_cells(redis_server: RedisServer) -> None:
    """The app file imports and every cell runs (marimo's script mode), in a child Python.

    A child, because running a marimo app registers marimo's widget hooks in the process.
    """
    channel = f"e2e-marimo-script-{secrets.token_hex(4)}"
    code = textwrap.dedent(
        f"""
        import importlib.util, json, threading
        spec = importlib.util.spec_from_file_location("marimo_app", {str(APP)!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        outputs, defs = module.app.run()
        import segment_debugger as sd
        dbg = defs["dbg"]
        report = {{
            "defs": sorted(k for k in defs if not k.startswith("_")),
            "running": len(sd.running()),
            "url": dbg.status["url"],
            "columns": list(defs["selected_fields"].columns),
            "value_keys": sorted(defs["debugger"].value),
        }}
        dbg.close()
        for t in threading.enumerate():
            if t.name.startswith(("segment-debugger", "sd-marimo")):
                t.join(10)
        report["threads_left"] = [t.name for t in threading.enumerate()
                                  if t.name.startswith(("segment-debugger", "sd-marimo"))]
        print("REPORT" + json.dumps(report))
        """
    )
    env = dict(os.environ, SEGMENT_DEBUGGER_URL=redis_server.url,
               SEGMENT_DEBUGGER_CHANNEL=channel)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("REPORT"))
    import json

    report = json.loads(line[len("REPORT"):])
    assert {"dbg", "debugger", "channel", "get_rates", "selected_fields"} <= set(report["defs"])
    assert report["running"] == 1
    assert report["url"] == redis_server.url
    assert report["columns"] == ["field", "value"]
    assert {"paused", "query", "selected_seq", "selected", "stats"} <= set(report["value_keys"])
    assert report["threads_left"] == []


@pytest.fixture
def marimo_run(redis_server: RedisServer) -> Iterator[tuple[Server, str]]:
    """`marimo run notebooks/marimo_app.py` pointed at the test's Redis channel."""
    channel = f"e2e-marimo-{secrets.token_hex(4)}"
    dirs = JupyterDirs()
    server = start_marimo_run(
        dirs, APP,
        env={"SEGMENT_DEBUGGER_URL": redis_server.url, "SEGMENT_DEBUGGER_CHANNEL": channel},
    )
    try:
        yield server, channel
    finally:
        server.stop()
        dirs.cleanup()


class MarimoPage:
    """The app's page: the debugger and the cells around it, through their data-testids."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.widget = WidgetView(page)

    def text(self, testid: str) -> str:
        return self.page.get_by_test_id(testid).inner_text().strip()

    def open_debuggers(self) -> int:
        return int(self.text("sd-marimo-open"))

    def readers(self) -> int:
        return int(self.text("sd-marimo-readers"))

    @property
    def channel_input(self):  # type: ignore[no-untyped-def]
        return self.page.locator("marimo-text input").first


@pytest.mark.browser
@pytest.mark.slow
def test_marimo_run_rows_pause_filter_select_and_rerun(
    marimo_run: tuple[Server, str], redis_server: RedisServer, page: Page,
    page_errors: PageErrors,
) -> None:
    server, channel = marimo_run
    page.goto(server.url("/"), timeout=120_000)
    app = MarimoPage(page)
    w = app.widget
    expect(w.root).to_be_visible(timeout=120_000)
    expect(w.testid("sd-status")).to_contain_text("live", timeout=30_000)
    wait_until(lambda: numsub(redis_server, channel) == 1, 30, "the app's subscriber")

    # Rows, newest first, and the rates cell fed from the kernel through mo.state.
    Publisher(redis_server.url, channel, rate=1000, count=80, seed=21).wait(60)
    expect(w.testid("sd-count")).to_have_text("80 of 80", timeout=30_000)
    seqs = w.visible_seqs()
    assert seqs == sorted(seqs, reverse=True) and seqs[0] == 80
    expect(page.get_by_test_id("sd-marimo-received")).to_contain_text("received 80",
                                                                      timeout=30_000)

    # Pause, from the page: the cell reading debugger.value runs again and sees it.
    w.testid("sd-live-toggle").click()
    expect(page.get_by_test_id("sd-marimo-paused")).to_have_text("True", timeout=20_000)
    frozen = w.visible_seqs()
    Publisher(redis_server.url, channel, rate=0, count=20, seed=22).wait(60)
    wait_until(lambda: w.new_count() == 20, 20, lambda: f"20 new (shows {w.new_count()})")
    assert w.visible_seqs() == frozen
    w.testid("sd-live-toggle").click()
    expect(page.get_by_test_id("sd-marimo-paused")).to_have_text("False", timeout=20_000)
    wait_until(lambda: w.top_seq() == 100, 20, "the list caught up after resume")

    # Filter: the query reaches Python (the same cell shows it) and the list follows.
    w.testid("sd-filter").fill("type:identify")
    expect(page.get_by_test_id("sd-marimo-query")).to_have_text("type:identify",
                                                                timeout=20_000)
    expect(w.testid("sd-count")).to_contain_text("of 100")
    expect(w.rows.first).to_have_attribute("data-type", "identify")
    assert {r["type"] for r in w.visible_rows()} == {"identify"}

    # Select: Python sees it, and the DataFrame cell holds the event's fields.
    row = w.rows.first
    seq = row.get_attribute("data-seq")
    row.click()
    expect(page.get_by_test_id("sd-marimo-selected")).to_have_text(str(seq), timeout=20_000)
    fields = page.get_by_test_id("sd-marimo-fields")
    expect(fields).to_contain_text("messageId", timeout=20_000)
    expect(fields).to_contain_text("identify")

    # Re-run the debugger's cell (a new channel): the old debugger closes with its cell.
    other = channel + "-b"
    for target in (other, channel):
        app.channel_input.fill(target)
        app.channel_input.press("Enter")
        wait_until(lambda t=target: numsub(redis_server, t) == 1, 30,
                   lambda t=target: f"a subscriber on {t}")
        expect(w.testid("sd-status")).to_contain_text(target, timeout=30_000)
    wait_until(lambda: numsub(redis_server, other) == 0, 30,
               lambda: f"the replaced debugger to unsubscribe ({numsub(redis_server, other)})")
    assert numsub(redis_server, channel) == 1
    expect(page.get_by_test_id("sd-marimo-open")).to_have_text("1", timeout=20_000)
    expect(page.get_by_test_id("sd-marimo-readers")).to_have_text("1", timeout=20_000)
    assert page_errors == []

    # The session ends (page closed, session TTL passed): its debugger closes too.
    page.close()
    wait_until(lambda: numsub(redis_server, channel) == 0, 60,
               "the ended session's debugger to unsubscribe")
    assert "Traceback" not in server.log(), server.log()[-4000:]

