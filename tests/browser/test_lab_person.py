"""'Show this person' in JupyterLab (issue 11): real kernel, Redis and headless Chromium.

A scripted scenario is published (anonymous browsing, identify, alias, a second device,
another user's events); clicking a row shows its person in the detail pane, and "Show this
person" sets the filter to ``person:ID``: the list's rows are then exactly ``dbg.filtered()``'s
and ``dbg.person(ID)``'s, and they follow the person as it grows live.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from harness import wait_until
from lab_session import LabSession
from playwright.sync_api import expect
from support.events import segment_call

pytestmark = [pytest.mark.browser, pytest.mark.redis]


def call(n: int, kind: str, **fields: Any) -> dict[str, Any]:
    return segment_call(n, kind, "person-", **fields)


# (message, whose): alice on a laptop, then her phone; bob on his own device.
SCRIPT: list[tuple[dict[str, Any], str]] = [
    (call(1, "page", anonymousId="laptop 1"), "alice"),  # anonymous browsing
    (call(2, "track", anonymousId="laptop 1"), "alice"),
    (call(3, "page", anonymousId="bob-pc"), "bob"),
    (call(4, "identify", anonymousId="laptop 1", userId="alice",
          traits={"email": "alice@example.com"}), "alice"),
    (call(5, "page", anonymousId="phone"), "alice"),  # a second device, still anonymous
    (call(6, "alias", previousId="phone", userId="alice"), "alice"),
    (call(7, "track", anonymousId="phone", userId="alice"), "alice"),
    (call(8, "identify", anonymousId="bob-pc", userId="bob"), "bob"),
    (call(9, "track", userId="bob"), "bob"),
    (call(10, "track", anonymousId="laptop 1"), "alice"),
]


def publish(session: LabSession, bodies: list[dict[str, Any]]) -> None:
    before = session.received()
    with session.redis.client() as client:
        for body in bodies:
            client.publish(session.channel, json.dumps(body))
    wait_until(lambda: session.received() >= before + len(bodies), 30,
               f"{len(bodies)} events received")


def shown_seqs(session: LabSession) -> list[int]:
    """The list's rows, oldest first (the scenario fits in the viewport)."""
    return sorted(session.widget.visible_seqs())


def test_show_this_person_filters_the_list_to_dbg_filtered(session: LabSession) -> None:
    k, w = session.kernel, session.widget
    publish(session, [body for body, _ in SCRIPT])
    first = k.eval("dbg.buffer.first_seq")
    alice = [first + i for i, (_, whose) in enumerate(SCRIPT) if whose == "alice"]
    wait_until(lambda: len(w.visible_seqs()) == len(SCRIPT), 20, "every row shown")

    # the first event: anonymous browsing on the laptop, before alice identified
    w.root.locator(f"[data-testid=sd-row][data-seq='{first}']").click()
    wait_until(lambda: k.eval("dbg.selected_seq") == first, 10, "the selection in Python")
    expect(w.testid("sd-person-key")).to_have_text("alice")
    expect(w.testid("sd-person-user-ids")).to_have_text("alice")
    expect(w.testid("sd-person-anonymous-ids")).to_have_text("laptop 1, phone")
    expect(w.testid("sd-person-events")).to_have_text(str(len(alice)))

    w.testid("sd-show-person").click()
    expect(w.testid("sd-filter")).to_have_value("person:alice")
    wait_until(lambda: k.eval("dbg.query") == "person:alice", 10, "the query in Python")
    expected = k.eval("dbg.filtered()['seq'].tolist()")
    assert expected == alice == k.eval("dbg.person('alice')['seq'].tolist()")
    wait_until(lambda: shown_seqs(session) == expected, 10,
               lambda: f"the list {shown_seqs(session)} to be dbg.filtered() {expected}")
    expect(w.testid("sd-count")).to_have_text(f"{len(alice)} of {len(SCRIPT)}")

    # the person grows live: a tablet browses anonymously (not alice's yet), then identifies
    base = k.eval("dbg.buffer.last_seq")
    publish(session, [call(11, "page", anonymousId="tablet"), call(12, "track", userId="bob")])
    assert k.eval("dbg.filtered()['seq'].tolist()") == alice  # not alice's (yet)
    publish(session, [call(13, "identify", anonymousId="tablet", userId="alice")])
    grown = k.eval("dbg.person('alice')['seq'].tolist()")
    assert grown == [*alice, base + 1, base + 3]  # the tablet's earlier page joins too
    wait_until(lambda: shown_seqs(session) == grown, 10,
               lambda: f"the list {shown_seqs(session)} to follow the grown person {grown}")
    assert k.eval("dbg.filtered()['seq'].tolist()") == grown


def test_a_quoted_id_and_an_unknown_one(session: LabSession) -> None:
    k, w = session.kernel, session.widget
    publish(session, [body for body, _ in SCRIPT[:3]])  # only anonymous events so far
    first = k.eval("dbg.buffer.first_seq")
    wait_until(lambda: len(w.visible_seqs()) == 3, 20, "every row shown")
    w.root.locator(f"[data-testid=sd-row][data-seq='{first}']").click()
    expect(w.testid("sd-person-key")).to_have_text("laptop 1")  # an anonymous person
    w.testid("sd-show-person").click()
    expect(w.testid("sd-filter")).to_have_value('person:"laptop 1"')
    wait_until(lambda: shown_seqs(session) == [first, first + 1], 10, "the laptop's rows")

    w.testid("sd-filter").fill("person:nobody")
    wait_until(lambda: k.eval("dbg.query") == "person:nobody", 10, "the query in Python")
    expect(w.rows).to_have_count(0)
    assert k.eval("len(dbg.filtered())") == 0
