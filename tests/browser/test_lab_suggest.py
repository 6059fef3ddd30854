"""The filter box's suggestions and hint in JupyterLab: real kernel, Redis, headless Chromium.

Events with known properties are published; typing ``properties.`` offers the paths the
traffic has (most frequent first, what Python's Suggester says), Tab accepts one, ``event:``
offers event names with counts, and a field in the wrong case gets the one-line hint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from harness import wait_until
from lab_session import LabSession
from playwright.sync_api import Locator, expect

pytestmark = [pytest.mark.browser, pytest.mark.redis]



def publish_orders(session: LabSession, n: int = 30) -> None:
    """``n`` track events with known properties: currency and revenue always, coupon in 1/5."""
    payloads: list[dict[str, Any]] = []
    for i in range(n):
        properties: dict[str, Any] = {"currency": "USD" if i % 3 else "EUR", "revenue": i}
        if i % 5 == 0:
            properties["coupon"] = "SPRING"
        payloads.append({"type": "track", "event": "Order Completed" if i % 2 else "Signed Up",
                         "userId": f"u{i % 4}", "messageId": f"sg-{i}", "properties": properties})
    before = session.received()
    with session.redis.client() as client:
        for payload in payloads:
            client.publish(session.channel, json.dumps(payload))
    wait_until(lambda: session.received() >= before + n, 30, f"{n} events received")


def labels(session: LabSession) -> Locator:
    return session.widget.root.locator("[data-testid=sd-suggest-list] .sd-suggest-label")


def python_labels(session: LabSession, text: str) -> list[str]:
    """What the kernel's Suggester offers for ``text`` (the caret at the end)."""
    return list(session.kernel.eval(f"[i.label for i in dbg._suggester.suggest({text!r}).items]"))


def type_in_filter(session: LabSession, text: str) -> Locator:
    """Type ``text`` into the emptied filter box, key by key; wait until Python has it too.

    (Waiting for Python's ``query`` keeps the box's debounced save from landing after the
    next test's reset.)
    """
    box = session.widget.testid("sd-filter")
    box.click()
    box.fill("")
    box.press_sequentially(text, delay=20)
    wait_until(lambda: session.kernel.eval("dbg.query") == text, 10, f"query {text!r} in Python")
    return box


def test_properties_offers_the_seen_paths_and_tab_accepts_one(session: LabSession) -> None:
    publish_orders(session)
    box = type_in_filter(session, "properties.")
    expect(labels(session)).to_have_text(
        ["properties.currency", "properties.revenue", "properties.coupon"])
    assert labels(session).all_inner_texts() == python_labels(session, "properties.")
    details = session.widget.root.locator("[data-testid=sd-suggest-list] .sd-suggest-detail")
    expect(details).to_have_text(["string · 30", "number · 30", "string · 6"])
    active = box.get_attribute("aria-activedescendant")
    assert active and session.widget.root.locator(f"#{active}").get_attribute(
        "aria-selected") == "true"

    box.press("ArrowDown")
    box.press("Tab")
    expect(box).to_have_value("properties.revenue:")
    expect(box).to_be_focused()  # Tab accepted; it did not move the focus
    wait_until(lambda: session.kernel.eval("dbg.query") == "properties.revenue:", 10,
               "the accepted text to reach Python")
    # what may follow: values of the accepted path
    expect(labels(session).first).to_be_visible()
    box.press("Escape")
    expect(session.widget.root.locator("[data-testid=sd-suggest-list]")).to_have_count(0)


def test_event_offers_event_names_with_counts(session: LabSession) -> None:
    publish_orders(session)
    box = type_in_filter(session, "event:")
    expect(labels(session)).to_have_text(["Order Completed", "Signed Up"])
    details = session.widget.root.locator("[data-testid=sd-suggest-list] .sd-suggest-detail")
    expect(details).to_have_text(["15", "15"])
    box.press("Enter")
    expect(box).to_have_value('event:"Order Completed"')
    wait_until(lambda: session.kernel.eval("len(dbg.filtered())") == 15, 10,
               "the accepted filter applied in Python")
    expect(session.widget.testid("sd-count")).to_have_text("15 of 30")


def test_a_field_in_the_wrong_case_shows_the_hint(session: LabSession) -> None:
    publish_orders(session)
    type_in_filter(session, "userid:u1")
    hint = session.widget.testid("sd-filter-hint")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("did you mean userId:u1?")
    type_in_filter(session, "userId:u1")
    expect(hint).to_be_hidden()


def test_screenshot_of_the_suggestions(session: LabSession, tmp_path: Path) -> None:
    """README screenshot; copied into docs/screenshots when SD_UPDATE_SCREENSHOTS=1."""
    publish_orders(session)

    def open_suggestions() -> None:
        type_in_filter(session, "type:track userid:u1 properties.")
        expect(session.widget.testid("sd-filter-hint")).to_be_visible()
        expect(labels(session)).to_have_count(3)

    session.screenshots(tmp_path, "suggest-light.png", "suggest-dark.png", open_suggestions)
