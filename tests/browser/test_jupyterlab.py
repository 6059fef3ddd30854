"""End to end in JupyterLab: a real server, a real kernel, real Redis and headless Chromium.

One notebook and one kernel serve the whole module (starting JupyterLab and a kernel costs
~15 s); each test starts from an empty buffer, live, unfiltered, nothing selected.
"""

from __future__ import annotations

import contextlib
import json
import re
import statistics
import subprocess
import time
from pathlib import Path

import pytest
from chromium import VIEWPORT, PageErrors, block_external
from harness import KernelEval, wait_until, write_notebook
from lab_notebook import LabNotebook
from lab_session import IOPUB_WARNING, LabSession
from playwright.sync_api import Browser, expect
from publishers import Flood, Publisher
from widget_page import (
    EXPORT_NAME,
    FILTERED_RAW_B64,
    INSTALL_PROBE_JS,
    READ_PROBE_JS,
    STOP_PROBE_JS,
    WidgetView,
    decode_b64,
    ndjson_payloads,
)

pytestmark = [pytest.mark.browser, pytest.mark.redis]

FLOOD_RATE = 20_000
FLOOD_SECONDS = 20


def test_rows_appear(session: LabSession) -> None:
    session.publish(50, rate=1000)
    w = session.widget
    expect(w.rows.first).to_be_visible()
    last = session.wait_caught_up()
    seqs = w.visible_seqs()
    assert seqs == sorted(seqs, reverse=True), "rows are newest first"
    assert len(seqs) == min(50, len(seqs)) and seqs[0] == last
    assert seqs == list(range(last, last - len(seqs), -1)), "no row missing or duplicated"
    types = session.kernel.eval("{str(e.seq): e.type for e in dbg.buffer.snapshot()}")
    assert all(r["type"] == types[str(r["seq"])] for r in w.visible_rows())
    expect(w.testid("sd-count")).to_have_text("50 of 50")


@pytest.mark.slow
def test_dom_rows_stay_bounded_with_10000_buffered(session: LabSession) -> None:
    session.publish(12_000, rate=0)
    assert session.kernel.eval("len(dbg.buffer)") == 10_000
    # at full speed the deltas were thinned; a snapshot gives the front end every buffered row
    session.kernel.exec("dbg.pump.snapshot()")
    w = session.widget
    expect(w.testid("sd-count")).to_have_text("10,000 of 10,000", timeout=20_000)
    session.wait_caught_up()
    assert 0 < w.rows.count() < 100
    # scrolled half way down the list is still a window of rows, from the middle
    w.root.locator("[role=listbox]").evaluate("(l) => { l.scrollTop = l.scrollHeight / 2; }")
    wait_until(lambda: (w.top_seq() or 0) < session.last_seq() - 1000, 10, "the list to scroll")
    assert 0 < w.rows.count() < 100


@pytest.mark.slow
def test_pause_freezes_view_while_publishing_then_resume_catches_up(session: LabSession) -> None:
    session.publish(30, rate=1000)
    w = session.widget
    session.wait_caught_up()
    w.testid("sd-live-toggle").click()
    expect(w.testid("sd-live-toggle")).to_have_attribute("aria-pressed", "true")
    wait_until(lambda: session.kernel.eval("dbg.paused") is True, 10, "dbg.paused mirrored")
    frozen = w.visible_seqs()
    with session.publisher(rate=200):
        wait_until(lambda: w.new_count() >= 50, 20, lambda: f"N new to grow ({w.new_count()})")
        first = w.new_count()
        wait_until(lambda: w.new_count() > first, 10, "N new to keep growing")
        assert w.visible_seqs() == frozen, "the paused view changed"
        assert session.last_seq() > frozen[0] + first - 1
    assert w.visible_seqs() == frozen
    w.testid("sd-live-toggle").click()
    expect(w.testid("sd-live-toggle")).to_have_attribute("aria-pressed", "false")
    last = session.wait_caught_up()
    assert last > frozen[0]
    wait_until(lambda: session.kernel.eval("dbg.paused") is False, 10, "dbg.paused cleared")


def test_filter_type_identify_agrees_with_python(session: LabSession) -> None:
    session.publish(400, rate=500, seed=3)  # under the display budget: nothing thinned
    w = session.widget
    session.wait_caught_up()
    w.testid("sd-filter").fill("type:identify")
    wait_until(lambda: session.kernel.eval("dbg.query") == "type:identify", 10, "query synced")
    expected = session.kernel.eval("dbg.filtered()['seq'].tolist()")
    assert expected, "the stream had identify events"
    n = len(expected)
    expect(w.testid("sd-count")).to_have_text(f"{n} of 400")
    wait_until(lambda: w.top_seq() == expected[-1], 10, "the filtered list")
    shown = w.visible_rows()
    assert {r["type"] for r in shown} == {"identify"}
    seqs = [r["seq"] for r in shown]
    assert seqs == list(reversed(expected))[: len(seqs)]
    assert len(seqs) == min(n, len(seqs))


def test_export_downloads_dbg_filtered_as_ndjson(session: LabSession) -> None:
    """Issue 12: the Export button downloads exactly dbg.filtered()'s payloads, one per line."""
    session.publish(300, rate=500, invalid=0.1, seed=7)
    w = session.widget
    session.wait_caught_up()
    # Typed and exported at once: the filter text still in its debounce goes to Python first.
    w.testid("sd-filter").fill("type:track")
    name, data = w.export()
    assert session.kernel.eval("dbg.query") == "type:track"
    expected = decode_b64(session.kernel.eval(FILTERED_RAW_B64))
    assert 0 < len(expected) < 300, "the filter should keep a strict subset"
    assert EXPORT_NAME.fullmatch(name), name
    assert ndjson_payloads(data) == expected
    expect(w.testid("sd-export-status")).to_contain_text(f"saved {len(expected)} events")
    expect(w.testid("sd-export")).to_be_enabled()
    # With a toggle too: the kernel's criteria, not the rows the list holds.
    w.testid("sd-invalid-toggle").click()
    wait_until(lambda: session.kernel.eval("dbg.invalid_only") is True, 10, "invalid_only synced")
    _, data = w.export()
    expected = decode_b64(session.kernel.eval(FILTERED_RAW_B64))
    assert expected, "the publisher sent no invalid track event"
    assert ndjson_payloads(data) == expected


def test_click_row_shows_detail_and_sets_selected(session: LabSession) -> None:
    session.publish(40, rate=0, seed=5)
    w = session.widget
    session.wait_caught_up()
    row = w.rows.nth(3)
    seq = int(row.get_attribute("data-seq") or -1)
    message_id = session.kernel.eval(f"dbg.buffer.get({seq}).messageId")
    assert message_id
    row.click()
    expect(w.testid("sd-detail")).to_contain_text(message_id)
    wait_until(lambda: (session.kernel.eval("dbg.selected") or {}).get("seq") == seq, 10,
               "dbg.selected to be the clicked row")
    selected = session.kernel.eval("dbg.selected")
    assert selected["messageId"] == message_id


def test_html_in_event_data_renders_as_text(session: LabSession) -> None:
    name = "<img src=x onerror=window.__xss=1>"
    payload = {
        "type": "track", "event": name, "userId": "<b>bold</b>",
        "messageId": "xss-1", "timestamp": "2024-01-01T00:00:00.000Z", "properties": {},
    }
    with session.redis.client() as c:
        c.publish(session.channel, json.dumps(payload))
    w = session.widget
    row = w.rows.filter(has_text=name)
    expect(row).to_have_count(1)
    row.click()
    expect(w.testid("sd-detail")).to_contain_text(name)
    for tab in ("pretty", "raw"):
        w.testid(f"sd-detail-tab-{tab}").click()
        expect(w.testid("sd-detail")).to_contain_text("onerror")
        assert session.page.locator("img[src=x]").count() == 0
        assert w.root.locator("b").count() == 0
    assert session.page.evaluate("() => typeof window.__xss") == "undefined"


#: x of each character of a node's text, in DOM (logical) order: increasing = reads in order.
_CHAR_X_JS = """
(node) => {
  const xs = [];
  const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
  for (let t = walker.nextNode(); t; t = walker.nextNode()) {
    for (let i = 0; i < t.data.length; i++) {
      const r = document.createRange();
      r.setStart(t, i);
      r.setEnd(t, i + 1);
      xs.push(r.getBoundingClientRect().left);
    }
  }
  return xs;
}
"""

#: Computed `direction` of a node and every element in it.
_DIRECTIONS_JS = """
(node) => [node, ...node.querySelectorAll('*')].map((e) => getComputedStyle(e).direction)
"""


def test_bidi_and_control_characters_show_as_escapes_in_logical_order(
    session: LabSession, tmp_path: Path
) -> None:
    """Issue 8: a 'Trojan Source' userId (RLO) shows the override as an escape, text in order."""
    spoof = "admin\u202egnp.exe"  # shown raw it reads "adminexe.png"
    shown = "admin\\u202egnp.exe"
    payload = {
        "type": "track", "event": "Login\u200b\u2066ok\u2069", "userId": spoof,
        "messageId": "rlo-1\x1b[2J", "timestamp": "2024-01-01T00:00:00.000Z",
        "properties": {"note": "a\u202eb"},
    }
    with session.redis.client() as c:
        c.publish(session.channel, json.dumps(payload))
    w = session.widget
    row = w.rows.filter(has_text="admin")
    expect(row).to_have_count(1)
    user = row.locator("[data-testid=sd-user]")
    label = row.locator("[data-testid=sd-label]")
    assert user.evaluate("(n) => n.innerText") == shown
    assert label.evaluate("(n) => n.innerText") == "Login\\u200b\\u2066ok\\u2069"
    assert row.locator(".sd-esc").count() == 4
    row_text = row.evaluate("(n) => n.innerText")
    assert "\u202e" not in row_text and "\u2066" not in row_text and "\u200b" not in row_text
    # the characters are laid out left to right in the order they are in the text
    xs = user.evaluate(_CHAR_X_JS)
    assert len(xs) == len(shown)
    assert xs == sorted(xs) and len(set(xs)) == len(xs), f"user cell reordered: {xs}"
    xs = row.evaluate(_CHAR_X_JS)
    assert xs == sorted(xs), "the row's text is laid out out of order"
    assert set(row.evaluate(_DIRECTIONS_JS)) == {"ltr"}
    # the check has teeth: the same text raw in the same cell is reordered by the RLO
    raw_xs = user.evaluate(
        "(n) => { const s = document.createElement('span'); s.className = 'sd-user';"
        f" s.style.unicodeBidi = 'normal'; s.textContent = {json.dumps(spoof)};"
        " n.parentElement.appendChild(s); try { return (" + _CHAR_X_JS + ")(s); }"
        " finally { s.remove(); } }"
    )
    assert raw_xs != sorted(raw_xs), "a raw RLO should reorder the text (test without teeth)"
    # the detail pane: fields, Raw and Pretty show the escapes, never the characters
    row.click()
    detail = w.testid("sd-detail")
    expect(w.testid("sd-detail-messageId")).to_have_text("rlo-1\\x1b[2J")
    for tab, escaped in (("raw", shown), ("pretty", "a\\u202eb")):
        w.testid(f"sd-detail-tab-{tab}").click()
        expect(w.testid("sd-detail-text")).to_contain_text(escaped)
        text = detail.evaluate("(n) => n.innerText")
        assert "\u202e" not in text and "\x1b" not in text, tab
        assert set(detail.evaluate(_DIRECTIONS_JS)) == {"ltr"}, tab
    assert "\u202e" not in w.root.evaluate("(n) => n.innerText")
    w.root.screenshot(path=str(tmp_path / "escapes.png"), animations="disabled")


@pytest.mark.slow
def test_flood_20000_per_second_keeps_page_responsive(session: LabSession) -> None:
    page, w = session.page, session.widget
    page.evaluate(INSTALL_PROBE_JS)
    messages0 = session.kernel.eval("dbg.pump.messages")
    received0 = session.received()
    round_trips: list[float] = []
    toggles: list[float] = []
    thinning_notes: set[str] = set()
    t0 = time.monotonic()
    with Flood(session.redis.url, session.channel, rate=FLOOD_RATE, seconds=FLOOD_SECONDS) as f:
        while f.running():
            start = time.perf_counter()
            page.evaluate("() => document.querySelectorAll('[data-testid=sd-row]').length")
            round_trips.append(time.perf_counter() - start)
            note = w.testid("sd-thinning")
            if note.is_visible():
                thinning_notes.add(note.inner_text())
            if len(round_trips) % 20 == 0:  # pause and resume through the UI
                for expected in ("true", "false"):
                    start = time.perf_counter()
                    w.testid("sd-live-toggle").click()
                    expect(w.testid("sd-live-toggle")).to_have_attribute(
                        "aria-pressed", expected, timeout=10_000)
                    toggles.append(time.perf_counter() - start)
            with contextlib.suppress(subprocess.TimeoutExpired):
                f.proc.wait(timeout=0.1)  # paces the sampling; returns when the flood ends
        flood_s = time.monotonic() - t0
        published = f.stop()
    probe = page.evaluate(READ_PROBE_JS)
    page.evaluate(STOP_PROBE_JS)
    wait_until(lambda: session.kernel.eval("dbg.buffer.stats['rate_per_s']") < 1000, 30,
               "the kernel to drain the flood")
    stats = session.kernel.eval("dbg.buffer.stats")
    messages = session.kernel.eval("dbg.pump.messages") - messages0
    report = {
        "published": published.strip(), "flood_s": round(flood_s, 1),
        "received": stats["received"] - received0, "gaps": stats["gaps"],
        "widget_msgs_per_s": round(messages / flood_s, 1),
        "eval_ms_median": round(statistics.median(round_trips) * 1000, 1),
        "eval_ms_max": round(max(round_trips) * 1000, 1),
        "toggle_ms_max": round(max(toggles) * 1000, 1),
        "fps": round(probe["frames"] / flood_s, 1),
        "max_frame_gap_ms": round(probe["maxFrameGap"], 1),
        "long_tasks": len(probe["longTasks"]),
        "longest_task_ms": round(max(probe["longTasks"], default=0), 1),
        "thinning_note": sorted(thinning_notes)[-1:] or None,
    }
    print("flood:", report)
    assert flood_s < FLOOD_SECONDS * 1.5, f"the flood could not keep its rate: {report}"
    assert report["widget_msgs_per_s"] <= 25, report
    assert report["eval_ms_median"] < 250 and report["eval_ms_max"] < 2000, report
    assert report["toggle_ms_max"] < 3000, report
    assert report["fps"] >= 10 and report["max_frame_gap_ms"] < 2000, report
    assert thinning_notes, "the UI never said the display was thinned"
    assert all(re.fullmatch(r"showing [\d,]+ of [\d,]+ events/s", n) for n in thinning_notes)
    if stats["gaps"]:  # the subscriber fell behind and lost messages: the UI must say so
        expect(w.testid("sd-gap")).not_to_be_empty()
    session.wait_caught_up()
    assert 0 < w.rows.count() < 100
    assert IOPUB_WARNING not in session.notebook.output_text()
    assert IOPUB_WARNING not in session.server.log()


RARE_EVERY = 500
RARE_QUERY = 'event:"Rare Event"'


def _rare_rows_agree(session: LabSession) -> tuple[bool, str]:
    """Compare the list's visible rows with the newest of ``dbg.filtered()``, once.

    The DOM is read first, then the kernel: events that arrived in between are newer than the
    list's top row (left out), and matches Python evicted meanwhile are older than its
    ``first_seq`` (left out of the list's side). Every other match up to the top row must be
    shown, in order: none thinned, none missing.
    """
    w = session.widget
    shown = w.visible_rows()
    expected, first = session.kernel.eval(
        "[dbg.filtered()['seq'].tolist(), dbg.buffer.stats['first_seq']]")
    if not shown:
        return False, f"no rows shown; {len(expected)} matches buffered"
    if any("Rare Event" not in r["text"] for r in shown):
        return False, f"a row that does not match is shown: {shown}"
    top = shown[0]["seq"]
    visible = [r["seq"] for r in shown if first is not None and r["seq"] >= first]
    newest = [s for s in reversed(expected) if s <= top]
    if len(visible) < 3:
        return False, f"only {len(visible)} shown rows still buffered (top {top}, first {first})"
    if visible != newest[: len(visible)]:
        return False, f"shown {visible} != newest matches {newest[: len(visible)]}"
    return True, f"{len(visible)} rows agree"


@pytest.mark.slow
def test_rare_matches_at_20000_per_second_equal_dbg_filtered(session: LabSession) -> None:
    """Issue 10: filter before thinning. 1 event in 500 matches, 20,000 events/s arrive.

    Python applies the view's criteria before the display budget, so every match reaches the
    list (none thinned) and the list's rows are ``dbg.filtered()``'s newest, while the flood
    runs and after it.
    """
    w, k = session.widget, session.kernel
    with Flood(session.redis.url, session.channel, rate=FLOOD_RATE, seconds=15,
               rare=RARE_EVERY) as f:
        wait_until(lambda: k.eval("dbg.buffer.stats['rate_per_s']") > 5000, 15,
                   "the flood to reach the kernel")
        snapshots0 = k.eval("dbg.pump.snapshots")
        w.testid("sd-filter").fill(RARE_QUERY)
        wait_until(lambda: k.eval("dbg.query") == RARE_QUERY, 10, "the query synced")
        # The criteria's snapshot is sent under the pump's lock: a delta read before the change
        # (which may have thinned) has been counted by then, every later one filters first.
        wait_until(lambda: k.eval("dbg.pump.snapshots") > snapshots0, 10, "the query's snapshot")
        skipped0 = k.eval("dbg.pump.skipped")
        agreed, last = 0, ""
        deadline = time.monotonic() + 30
        while agreed < 5 and time.monotonic() < deadline:
            assert f.running(), f"the flood ended before the list agreed 5 times: {last}"
            ok, last = _rare_rows_agree(session)
            agreed += ok
            time.sleep(0.3)  # paces the samples: five agreements spread over the flood
        assert agreed >= 5, f"the list never agreed with dbg.filtered() under the flood: {last}"
        assert k.eval("dbg.pump.skipped") == skipped0, "a matching event was thinned"
        rate = k.eval("dbg.buffer.stats['rate_per_s']")
        print("rare:", {"agreed": agreed, "last": last, "rate_per_s": rate,
                        "skipped": k.eval("dbg.pump.skipped") - skipped0,
                        "count": w.testid("sd-count").inner_text()})
        assert rate > 10_000, f"the flood slowed down ({rate}/s): the test proves too little"
        f.stop()
    wait_until(lambda: k.eval("dbg.buffer.stats['rate_per_s']") < 1000, 30,
               "the kernel to drain the flood")
    # After the flood: the whole list, its count and the header against Python's figures.
    def settled() -> bool:
        expected = k.eval("dbg.filtered()['seq'].tolist()")
        buffered = k.eval("len(dbg.buffer)")
        count = w.testid("sd-count").inner_text()
        return (bool(expected) and w.top_seq() == expected[-1]
                and count == f"{len(expected)} of {buffered:,}"
                and w.testid("sd-stats").get_attribute("data-buffered") == str(buffered))
    wait_until(settled, 20, lambda: (
        f"count {w.testid('sd-count').inner_text()!r}, top {w.top_seq()}, "
        f"filtered {len(k.eval('dbg.filtered()'))}, buffered {k.eval('len(dbg.buffer)')}"))
    expected = k.eval("dbg.filtered()['seq'].tolist()")
    seqs = w.visible_seqs()
    assert seqs == list(reversed(expected))[: len(seqs)]
    assert not w.testid("sd-thinning").is_visible() or "matching" in w.testid(
        "sd-thinning").inner_text()


@pytest.mark.slow
def test_reload_restores_the_list(session: LabSession) -> None:
    session.publish(60, rate=0, seed=9)
    session.wait_caught_up()
    runs_before = session.kernel.eval("len(In)")
    session.notebook.save()
    console: list[str] = []  # kept for the failure message below
    session.page.on("console", lambda m: console.append(f"{m.type}: {m.text}"[:300]))
    session.page.reload()
    expect(session.page.locator(".jp-NotebookPanel .jp-Cell").first).to_be_visible(
        timeout=60_000)
    w = session.widget
    try:
        expect(w.rows.first).to_be_visible(timeout=30_000)
    except AssertionError as exc:
        # Seen rarely (about 1 run in 10): the re-rendered view never gets its snapshot. Say
        # whether Python answered, so the next failure tells which side lost the request.
        raise AssertionError(
            f"no rows after reload; snapshots Python sent: "
            f"{session.kernel.eval('dbg.pump.snapshots')}; widget roots: "
            f"{session.page.locator('[data-testid=sd-root]').count()}; console: {console}; "
            f"server log tail: {session.server.log()[-3000:]}"
        ) from exc
    last = session.wait_caught_up()
    assert w.visible_seqs()[:5] == list(range(last, last - 5, -1))
    assert session.kernel.eval("len(In)") == runs_before, "a cell was re-run"


@pytest.mark.slow
def test_screenshots_light_and_dark(session: LabSession, tmp_path: Path) -> None:
    """README screenshots; copied into docs/screenshots when SD_UPDATE_SCREENSHOTS=1.

    Re-runs the notebook through the UI first, so the header's counters start from zero.
    """
    session.notebook.run_all()
    w = session.widget
    expect(w.testid("sd-stats")).to_have_text(re.compile(r"^0 received"), timeout=30_000)
    wait_until(lambda: session.kernel.eval("dbg.status['state']") == "live", 30, "live")
    session.publish(300, rate=150, invalid=0.06, seed=42)
    session.wait_caught_up()
    row = w.rows.nth(2)
    row.click()
    expect(w.testid("sd-detail")).to_be_visible()
    seq = int(row.get_attribute("data-seq") or -1)
    wait_until(lambda: (session.kernel.eval("dbg.selected") or {}).get("seq") == seq, 10,
               "the selection to reach Python")
    shots = session.screenshots(tmp_path, "widget-light.png", "widget-dark.png")
    assert shots["widget-light.png"].read_bytes() != shots["widget-dark.png"].read_bytes()


TWO_VIEWS_NOTEBOOK = "two_views.ipynb"
TWO_VIEWS_CHANNEL = "two-views"


def test_one_widget_displayed_twice_shares_one_store_and_one_snapshot(
    lab: LabSession, browser: Browser
) -> None:
    """``display(dbg)`` twice: both views show the same rows, Python served one snapshot.

    The front end keeps its store per model (anywidget ``initialize``), not per view
    (``render``). Own notebook, kernel, channel, page and JupyterLab workspace, so the
    module's shared page and debugger are left as they were.
    """
    write_notebook(
        lab.server.dirs.root / TWO_VIEWS_NOTEBOOK,
        [
            "from segment_debugger import SegmentDebugger",
            f"dbg = SegmentDebugger({lab.redis.url!r}, channels=[{TWO_VIEWS_CHANNEL!r}])",
            "display(dbg)\ndisplay(dbg)",
        ],
    )
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    block_external(context)
    kernel: KernelEval | None = None
    try:
        page = context.new_page()
        errors = PageErrors()
        errors.attach(page)
        notebook = LabNotebook(page, lab.server, TWO_VIEWS_NOTEBOOK)
        page.goto(lab.server.url(f"/lab/workspaces/two-views/tree/{TWO_VIEWS_NOTEBOOK}"))
        expect(page.locator(".jp-NotebookPanel .jp-Cell").first).to_be_visible(timeout=90_000)
        notebook.wait_kernel_idle()
        notebook.run_all()
        roots = page.locator("[data-testid=sd-root]")
        expect(roots).to_have_count(2, timeout=60_000)
        views = [WidgetView(page, roots.nth(i)) for i in range(2)]
        kernel = KernelEval(lab.server.notebook_kernel(TWO_VIEWS_NOTEBOOK))
        k = kernel
        wait_until(lambda: k.eval("dbg.status['state']") == "live", 30, "the source live")

        Publisher(lab.redis.url, TWO_VIEWS_CHANNEL, rate=1000, count=30, seed=11).wait(120)
        wait_until(lambda: k.eval("dbg.buffer.stats['received']") >= 30, 30, "30 received")
        last = int(k.eval("dbg.buffer.last_seq"))
        for i, view in enumerate(views):
            wait_until(lambda v=view: v.top_seq() == last, 20,
                       lambda v=view, i=i: f"view {i}: top row seq {v.top_seq()} to reach {last}")
            expect(view.testid("sd-count")).to_have_text("30 of 30")
        assert views[0].visible_seqs() == views[1].visible_seqs()
        assert views[0].visible_seqs()[:5] == list(range(last, last - 5, -1))

        snapshots = k.eval("dbg.pump.snapshots")
        assert snapshots == 1, f"{snapshots} snapshots sent for one model shown twice"

        # One model, one selection: a click in one view highlights the row in both.
        row = views[0].rows.nth(2)
        seq = int(row.get_attribute("data-seq") or -1)
        row.click()
        for view in views:
            expect(view.root.locator(".sd-selected")).to_have_attribute("data-seq", str(seq))
        wait_until(lambda: k.eval("dbg.selected_seq") == seq, 10, "dbg.selected_seq synced")
        assert errors == [], "the page logged errors"
    finally:
        problem = kernel.try_exec("dbg.close()") if kernel is not None else None
        if kernel is not None:
            kernel.close()
        context.close()
        for s in lab.server.api("/api/sessions"):  # shuts the kernel down, answering or not
            if s.get("path") == TWO_VIEWS_NOTEBOOK:
                lab.server.api(f"/api/sessions/{s['id']}", method="DELETE")
    assert problem is None, problem
