"""The "warnings" toggle (issue 11): ``warnings_only`` shows only events with warnings.

Like ``invalid_only``: a two-way trait, one of the view's criteria, so ``dbg.filtered()``, the
pump's rows (filtered before thinning) and exports agree with the front end's list.
"""

from __future__ import annotations

from collections.abc import Callable

from support.events import make_event
from support.frontend import front_end

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.event import Event
from segment_debugger.core.query import Criteria
from segment_debugger.widget.widget import SegmentDebugger

DRIFT = "Order Completed: properties.price is a string, established as number"


def ev(kind: str, warnings: list[str] | None = None, valid: bool = True) -> Event:
    name = {"track": {"event": "Order Completed"}, "page": {"name": "Home"}}.get(kind, {})
    event = make_event(type=kind, userId="u1", valid=valid,
                       violations=None if valid else ["missing anonymousId"], **name)
    if warnings:
        event.warnings = list(warnings)
    return event


def events() -> list[Event]:
    return [
        ev("track"),
        ev("track", [DRIFT]),
        ev("page", valid=False),
        ev("page", ["sentAt is 5 s before timestamp"], valid=False),
        ev("identify", ["timestamp is 2 min ahead of receivedAt"]),
    ]


def test_criteria_warnings_only_keeps_events_with_warnings() -> None:
    evs = events()
    assert Criteria.of().is_empty
    only = Criteria.of(warnings_only=True)
    assert not only.is_empty
    assert [e.warnings_view() != () for e in only.filter(evs)] == [True, True, True]
    assert only.filter(evs) == [evs[1], evs[3], evs[4]]
    assert Criteria.of("", (), True, True).filter(evs) == [evs[3]]
    assert Criteria.of("type:track", warnings_only=True).filter(evs) == [evs[1]]
    assert Criteria.of(types=["page"], warnings_only=True).filter(evs) == [evs[3]]


def test_the_trait_sets_the_criteria_and_the_pumps_rows(
    offline_debugger: Callable[..., SegmentDebugger],
) -> None:
    buf = EventBuffer()
    dbg = offline_debugger(buffer=buf)
    assert dbg.warnings_only is False
    buf.extend(events())
    fe = front_end(dbg)
    dbg.pump.snapshot("r1")  # the front end asks for its first snapshot
    fe.set_traits(warnings_only=True)  # the toolbar toggle
    assert dbg.criteria.warnings_only is True
    assert list(dbg.filtered()["seq"]) == [2, 4, 5]
    snap = fe.custom("snapshot")[-1]
    assert [row["seq"] for row in snap["rows"]] == [2, 4, 5]
    assert all(row["warnings"] for row in snap["rows"])
    assert snap["matched"] == 3
    fe.set_traits(invalid_only=True)
    assert list(dbg.filtered()["seq"]) == [4]
    fe.set_traits(warnings_only=False, invalid_only=False)
    assert dbg.criteria.is_empty
    assert list(dbg.filtered()["seq"]) == [1, 2, 3, 4, 5]


def test_warnings_only_may_be_given_at_construction(
    offline_debugger: Callable[..., SegmentDebugger],
) -> None:
    buf = EventBuffer()
    buf.extend(events())
    dbg = offline_debugger(buffer=buf, warnings_only=True)
    assert dbg.warnings_only is True and dbg.criteria.warnings_only is True
    assert list(dbg.filtered()["seq"]) == [2, 4, 5]
