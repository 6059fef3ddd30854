"""Warnings in JupyterLab (issue 11): the Checks tab, the warnings toggle, per-type sparklines.

Real kernel, real Redis, headless Chromium, on the shared lab session. Events are published
with known properties and known rates: a ``price`` that is a number for 200+ events and then
a string (schema drift, a warning on each string one), a timestamp far in the future (a clock
warning), and steady streams of three types whose rate the header's sparklines must show.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from harness import wait_until
from lab_session import LabSession
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.redis]

#: Numbers before the switch: past the 95 % rule with room to spare.
ESTABLISHED = 210


def iso(t: float) -> str:
    """``2026-12-01T03:04:05.678Z``: a Segment timestamp."""
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Orders:
    """Track events of one event name of their own (schemas learned before cannot interfere)."""

    def __init__(self) -> None:
        self.tag = secrets.token_hex(3)
        self.event = f"Order Completed {self.tag}"
        self.n = 0

    def payload(self, price: Any, kind: str = "track", at: float | None = None) -> bytes:
        """One event: an order with ``price`` (track), or a page/identify of the same buyer."""
        self.n += 1
        body: dict[str, Any] = {
            "type": kind, "userId": f"buyer-{self.n % 7}", "messageId": f"{self.tag}-{self.n}",
            "timestamp": iso(time.time() if at is None else at),
            "context": {"library": {"name": "analytics.js", "version": "5.2.0"}},
        }
        if kind == "track":
            body.update(event=self.event, properties={"price": price, "currency": "EUR"})
        elif kind == "page":
            body.update(name="Checkout", properties={"path": "/checkout"})
        else:
            body.update(traits={"plan": "pro"})
        return orjson.dumps(body)


def publish(session: LabSession, payloads: list[bytes]) -> None:
    """Publish in one pipeline; wait until the kernel received them all."""
    before = session.received()
    with session.redis.client() as c, c.pipeline(transaction=False) as pipe:
        for p in payloads:
            pipe.publish(session.channel, p)
        pipe.execute()
    wait_until(lambda: session.received() >= before + len(payloads), 30,
               lambda: f"{len(payloads)} events received (have {session.received() - before})")


def price_types(session: LabSession) -> dict[int, tuple[str, list[str]]]:
    """Per buffered seq: the type name of ``properties.price`` and the event's warnings."""
    return {
        int(k): (v[0], v[1]) for k, v in session.kernel.eval(
            "{str(e.seq): [type((e.properties or {}).get('price')).__name__, list(e.warnings)]"
            " for e in dbg.buffer.snapshot()}"
        ).items()
    }


def test_checks_tab_names_the_drift_warning(session: LabSession) -> None:
    orders = Orders()
    publish(session, [orders.payload(10.0 + i) for i in range(ESTABLISHED)]
            + [orders.payload(f"{i}.99") for i in range(20)])
    w = session.widget
    last = session.wait_caught_up()
    # Python: every string price has the warning, no number price has any.
    seen = price_types(session)
    strings = sorted(s for s, (kind, _) in seen.items() if kind == "str")
    assert strings == list(range(last - 19, last + 1))
    warning = f"{orders.event}: properties.price is a string, established as number"
    assert all(seen[s][1] == [warning] for s in strings)
    assert all(warnings == [] for kind, warnings in seen.values() if kind == "float")

    # The newest row is a string-price order: its Checks tab names the warning.
    row = w.root.locator(f"[data-testid=sd-row][data-seq='{last}']")
    expect(row.locator("[data-testid=sd-warning-mark]")).to_have_count(1)
    row.click()
    expect(w.testid("sd-detail-messageId")).to_have_text(f"{orders.tag}-{ESTABLISHED + 20}")
    checks = w.testid("sd-detail-tab-checks")
    expect(checks).to_have_text("Checks (1)")
    expect(w.testid("sd-detail-tab-violations")).to_have_text("Violations (0)")
    checks.click()
    expect(w.testid("sd-warnings").locator("li")).to_have_text([warning])  # path and types

    # ↓ 20 times: the newest number-price order, the one just before the switch. None.
    for _ in range(20):
        session.page.keyboard.press("ArrowDown")
    earlier = last - 20
    wait_until(lambda: session.kernel.eval("dbg.selected_seq") == earlier, 10,
               lambda: f"selection at {earlier} (is {session.kernel.eval('dbg.selected_seq')})")
    expect(w.testid("sd-detail-seq")).to_have_text(str(earlier))
    assert seen[earlier] == ("float", [])
    expect(checks).to_have_text("Checks (0)")
    expect(w.testid("sd-warnings")).to_have_count(0)
    expect(w.testid("sd-detail")).to_contain_text("No warnings")
    expect(w.root.locator(f"[data-testid=sd-row][data-seq='{earlier}'] "
                          "[data-testid=sd-warning-mark]")).to_have_count(0)


def warned_count(session: LabSession) -> int:
    """The header's count of events with warnings."""
    return int(session.widget.testid("sd-stats").get_attribute("data-warnings") or -1)


def test_warnings_toggle_shows_exactly_the_events_with_warnings(session: LabSession) -> None:
    orders = Orders()
    now = time.time()
    payloads = [orders.payload(5.0 + i) for i in range(ESTABLISHED)]
    for i in range(12):  # a string price every other event: 6 drift warnings
        payloads.append(orders.payload(f"{i}.50" if i % 2 else 7.5))
    payloads.append(orders.payload(None, "page", at=now + 600))  # 10 min ahead: a clock warning
    payloads.append(orders.payload(None, "identify"))
    publish(session, payloads)
    w = session.widget
    last = session.wait_caught_up()
    buffered = len(payloads)

    toggle = w.testid("sd-warnings-toggle")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    wait_until(lambda: session.kernel.eval("dbg.warnings_only") is True, 10,
               "dbg.warnings_only synced")
    expected = session.kernel.eval("dbg.filtered()['seq'].tolist()")
    warned = session.kernel.eval("[e.seq for e in dbg.buffer.snapshot() if e.warnings]")
    assert expected == warned and len(expected) == 7, expected
    assert last - 1 in expected and last not in expected  # the page ahead; the identify is fine
    expect(w.testid("sd-count")).to_have_text(f"7 of {buffered}")
    wait_until(lambda: w.visible_seqs() == list(reversed(expected)), 10,
               lambda: f"the list {w.visible_seqs()} to be {list(reversed(expected))}")
    assert all(r["type"] in ("track", "page") for r in w.visible_rows())
    assert w.root.locator("[data-testid=sd-row] [data-testid=sd-warning-mark]").count() == 7

    # The header counts events received with warnings, Python's figure.
    wait_until(lambda: warned_count(session) == session.kernel.eval("dbg.buffer.stats['warnings']"),
               10, lambda: f"header {warned_count(session)} warnings, Python "
                           f"{session.kernel.eval('dbg.buffer.stats')['warnings']}")
    expect(w.testid("sd-stats")).to_contain_text(f"{warned_count(session):,} with warnings")
    assert warned_count(session) >= 7

    # Off again: every event.
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    wait_until(lambda: session.kernel.eval("dbg.warnings_only") is False, 10, "toggle off synced")
    expect(w.testid("sd-count")).to_have_text(f"{buffered} of {buffered}")
    session.wait_caught_up()


#: Events per second published per type for the sparkline test.
RATES = {"track": 24, "page": 12, "identify": 6}
STEADY_SECONDS = 8


def publish_steadily(session: LabSession, orders: Orders) -> tuple[dict[str, int], float, float]:
    """Publish ``RATES`` per type for ``STEADY_SECONDS`` on a schedule (a late tick catches up).

    Track orders switch their price to a string after the first 150 events (drift warnings
    for the screenshot). Returns the counts sent per type and the wall-clock start and end.
    """
    sent = dict.fromkeys(RATES, 0)
    with session.redis.client() as c:
        start_wall, start = time.time(), time.monotonic()
        while (elapsed := time.monotonic() - start) < STEADY_SECONDS:
            for kind, rate in RATES.items():
                for _ in range(int(elapsed * rate) - sent[kind]):
                    price: Any = 19.9 if orders.n < 150 else "19.90"
                    c.publish(session.channel, orders.payload(price, kind))
                    sent[kind] += 1
            time.sleep(0.02)  # paces the publisher: one tick of the schedule
    return sent, start_wall, time.time()


def _seconds(hms: str) -> int:
    h, m, sec = (int(x) for x in hms.split(":"))
    return h * 3600 + m * 60 + sec


class SparkReader:
    """Reads ``kind``'s sparkline the way a user does: the pointer over it, the readout."""

    def __init__(self, session: LabSession, kind: str) -> None:
        self.page, self.kind = session.page, kind
        self.spark = session.widget.testid(f"sd-spark-{kind}")
        self.readout = session.widget.testid(f"sd-spark-readout-{kind}")

    def at(self, index: int) -> tuple[int, str]:
        """Point at value ``index`` (0 = the oldest of 60): the value and its second."""
        box = self.spark.locator("svg").bounding_box()
        assert box is not None
        # a whole pixel inside value index's span (mouse events carry whole pixels)
        x = math.ceil(box["x"] + (index - 0.5) * box["width"] / 59)
        self.page.mouse.move(min(max(x, math.ceil(box["x"])), box["x"] + box["width"] - 1),
                             box["y"] + box["height"] / 2)
        text, title = self.spark.evaluate(
            "(n) => [n.querySelector('.sd-spark-readout').textContent, n.title]")
        assert title == text  # the tooltip says what the readout says
        m = re.fullmatch(rf"{self.kind}: ([\d,]+) events?/s at (\d\d:\d\d:\d\d)", text)
        assert m, text
        return int(m[1].replace(",", "")), m[2]

    def value_at(self, second: str) -> int:
        """The value the sparkline shows for ``second`` (local HH:MM:SS)."""

        def newest_reached() -> str | None:
            # stats reach the page at most twice a second: the newest value may lag a second
            _, newest = self.at(59)
            behind = (_seconds(second) - _seconds(newest)) % 86_400
            return newest if behind == 0 or behind > 43_200 else None

        newest = wait_until(newest_reached, 5, f"the {self.kind} sparkline to reach {second}")
        index = 59 - (_seconds(newest) - _seconds(second)) % 86_400
        for _ in range(5):  # the window moves on every second: aim again if it moved meanwhile
            assert 0 <= index <= 59, f"{second} is out of the window (newest {newest})"
            value, shown = self.at(index)
            if shown == second:
                return value
            index += (_seconds(second) - _seconds(shown) + 43_200) % 86_400 - 43_200
        raise AssertionError(f"could not point at {second} on the {self.kind} sparkline")

    def leave(self) -> None:
        self.page.mouse.move(0, 0)
        expect(self.readout).to_be_hidden()


def local_second(t: float) -> str:
    """The page's way of naming an epoch second: local ``HH:MM:SS``."""
    return dt.datetime.fromtimestamp(t).strftime("%H:%M:%S")


def python_rates(session: LabSession) -> dict[str, dict[str, int]]:
    """``dbg.rates()`` as {type: {"HH:MM:SS" (local time, as the page shows it): value}}."""
    frame: dict[str, dict[str, int]] = session.kernel.eval(  # JSON: keys are strings
        "{t: {int(k.timestamp()): int(v) for k, v in col.items()}"
        " for t, col in dbg.rates().items()}"
    )
    return {
        kind: {local_second(int(s)): v for s, v in col.items()}
        for kind, col in frame.items()
    }


@pytest.fixture
def rates_page(session: LabSession) -> Iterator[LabSession]:
    """The session with the mouse parked away from the header afterwards."""
    yield session
    session.page.mouse.move(0, 0)


def test_sparklines_show_the_published_rates(rates_page: LabSession, tmp_path: Path) -> None:
    session = rates_page
    w = session.widget
    sent, start, end = publish_steadily(session, Orders())
    wait_until(lambda: session.kernel.eval("len(dbg.buffer)") >= sum(sent.values()), 30,
               "all events buffered")
    # The page has the stats of the last arrival: its counts per type are Python's.
    by_type = session.kernel.eval("dbg.buffer.stats['by_type']")
    for kind in RATES:
        expect(w.testid("sd-header-rates")).to_contain_text(f"{kind} {by_type[kind]:,}")
        expect(w.testid(f"sd-spark-{kind}")).to_be_visible()

    python = python_rates(session)
    steady = [local_second(s) for s in range(int(start) + 1, int(end))]  # whole seconds inside
    assert len(steady) >= STEADY_SECONDS - 1
    for kind, rate in RATES.items():
        assert sum(python[kind].values()) >= sent[kind]
        reader = SparkReader(session, kind)
        shown = {second: reader.value_at(second) for second in steady}
        reader.leave()
        # The page shows Python's figures, second for second, and they are the publisher's rate.
        assert shown == {second: python[kind][second] for second in steady}, kind
        values = sorted(shown.values())
        median = values[len(values) // 2]
        assert abs(median - rate) <= max(2, rate * 0.25), (kind, rate, shown)

    # The README screenshot: sparklines, and a drifted order's Checks tab.
    session.wait_caught_up()
    warned = set(session.kernel.eval("[e.seq for e in dbg.buffer.snapshot() if e.warnings]"))
    seq = [r["seq"] for r in w.visible_rows() if r["seq"] in warned][3]
    w.root.locator(f"[data-testid=sd-row][data-seq='{seq}']").click()
    w.testid("sd-detail-tab-checks").click()
    expect(w.testid("sd-warnings")).to_contain_text("properties.price is a string")
    session.screenshots(tmp_path, "widget-checks-light.png", "widget-checks-dark.png")
