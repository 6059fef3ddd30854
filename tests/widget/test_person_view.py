"""``person:ID`` in the widget: the pump's rows, the id sets sent, a person growing live,
and the selected event's person (the test plays the front end's part, driving the pump)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from support.events import make_event
from support.frontend import front_end

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.event import Event
from segment_debugger.widget.widget import SegmentDebugger


def ev(kind: str, **fields: Any) -> Event:
    if kind == "track":
        fields.setdefault("event", "Clicked")
    if kind == "page":
        fields.setdefault("name", "Home")
    return make_event(type=kind, received_at=1_700_000_000.0, **fields)


def rows(msg: Any) -> list[int]:
    return [row["seq"] for row in msg["rows"]]


def test_the_pump_sends_the_persons_rows_and_id_sets_and_follows_growth(
    offline_debugger: Callable[..., SegmentDebugger],
) -> None:
    buf = EventBuffer()
    dbg = offline_debugger(buffer=buf)
    fe = front_end(dbg)
    buf.extend([
        ev("page", anonymousId="laptop"),  # 1 alice, anonymous
        ev("identify", anonymousId="laptop", userId="alice"),  # 2
        ev("page", anonymousId="phone"),  # 3 alice's phone, not identified yet
        ev("track", userId="bob"),  # 4
    ])
    dbg.pump.snapshot("r1")  # the front end asks for its first snapshot
    fe.set_traits(query="person:laptop")
    snap = fe.custom("snapshot")[-1]
    assert rows(snap) == [1, 2]
    assert snap["persons"] == {"laptop": ["alice", "laptop"]}
    assert list(dbg.filtered()["seq"]) == [1, 2] == list(dbg.person("laptop")["seq"])

    buf.append(ev("track", userId="alice"))  # 5: the person as it was
    delta = dbg.pump.tick()
    assert delta is not None and delta["type"] == "delta" and rows(delta) == [5]

    buf.extend([ev("track", userId="bob"),  # 6
                ev("alias", previousId="phone", userId="alice")])  # 7: the phone joins alice
    grown = dbg.pump.tick()
    assert grown is not None and grown["type"] == "snapshot"  # a new id: every row again
    assert rows(grown) == [1, 2, 3, 5, 7]
    assert grown["persons"] == {"laptop": ["alice", "laptop", "phone"]}
    assert list(dbg.filtered()["seq"]) == [1, 2, 3, 5, 7] == list(dbg.person("laptop")["seq"])

    buf.append(ev("page", anonymousId="phone"))  # 8: the phone's next page is alice's
    after = dbg.pump.tick()
    assert after is not None and after["type"] == "delta" and rows(after) == [8]
    assert dbg.pump.tick() is None  # nothing new: no snapshot either

    fe.set_traits(query="person:nobody")
    none = fe.custom("snapshot")[-1]
    assert rows(none) == [] and none["persons"] == {"nobody": []}
    assert dbg.filtered().empty
    fe.set_traits(query="type:track")
    assert fe.custom("snapshot")[-1]["persons"] is None


def test_the_selected_event_carries_its_person(
    offline_debugger: Callable[..., SegmentDebugger],
) -> None:
    buf = EventBuffer()
    dbg = offline_debugger(buffer=buf)
    buf.extend([
        ev("page", anonymousId="laptop"),
        ev("identify", anonymousId="laptop", userId="alice"),
        ev("alias", previousId="phone", userId="alice"),
        ev("track", userId="bob"),
        make_event(type="track", event="x", received_at=1.0),  # nobody's
    ])
    dbg.select(1)
    assert dbg.selected is not None
    assert dbg.selected["person"] == {
        "person": "alice", "user_ids": ["alice"], "anonymous_ids": ["laptop", "phone"],
        "events": 3,
    }
    dbg.select(4)
    assert dbg.selected["person"] == {
        "person": "bob", "user_ids": ["bob"], "anonymous_ids": [], "events": 1}
    dbg.select(5)
    assert dbg.selected["person"] is None


def test_identity_warnings_cover_events_from_before_the_first_person_query(
    offline_debugger: Callable[..., SegmentDebugger],
) -> None:
    # The widget attaches the identity graph when it is built, not on the first person:.
    dbg = offline_debugger()
    dbg.buffer.extend([ev("track", userId="alice", anonymousId="laptop"),
                       ev("track", userId="bob", anonymousId="laptop")])
    [shared] = [e for e in dbg.buffer.snapshot() if e.userId == "bob"]
    assert any(w.startswith("identity:") for w in shared.warnings_view())
