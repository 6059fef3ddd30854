"""``dbg.filtered()`` with ``person:`` terms reads the attached identity graph (no rebuild)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import comm
import pytest
from comm import DummyComm
from support.events import make_event

from segment_debugger.analysis import people as people_module
from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.event import Event
from segment_debugger.core.query import Criteria
from segment_debugger.widget.widget import SegmentDebugger


@pytest.fixture
def make_debugger(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., SegmentDebugger]]:
    monkeypatch.setattr(comm, "create_comm", DummyComm)
    made: list[SegmentDebugger] = []

    def make(**kwargs: Any) -> SegmentDebugger:
        dbg = SegmentDebugger(url=None, autostart=False, **kwargs)
        made.append(dbg)
        return dbg

    yield make
    for dbg in made:
        dbg.close()


def ev(kind: str, i: int, **fields: Any) -> Event:
    if kind == "track":
        fields.setdefault("event", "Clicked")
    return make_event(type=kind, received_at=1_700_000_000.0 + i, **fields)


def test_filtered_person_terms_use_the_attached_graph_with_the_same_rows(
    make_debugger: Callable[..., SegmentDebugger], monkeypatch: pytest.MonkeyPatch
) -> None:
    buf = EventBuffer(max_messages=50)
    dbg = make_debugger(buffer=buf)
    events = []
    for i in range(80):  # evictions too: the graph forgets what the buffer drops
        who = i % 7
        if i % 5 == 0:
            events.append(ev("identify", i, anonymousId=f"dev{who}", userId=f"user{who % 3}"))
        elif i % 11 == 0:
            events.append(ev("alias", i, previousId=f"dev{who}", userId=f"user{who % 4}"))
        else:
            events.append(ev("track", i, anonymousId=f"dev{who}"))
    buf.extend(events)
    stitched: list[int] = []
    real = people_module.persons_among
    monkeypatch.setattr(people_module, "persons_among",
                        lambda events, ids: stitched.append(1) or real(events, ids))
    for query in ["person:dev1", "person:user0 type:track", "-person:user2",
                  "person:dev3 OR person:nobody", "person:user1 person:dev4", ""]:
        dbg.query = query
        got = list(dbg.filtered()["seq"])
        assert stitched == [], query  # read from the graph, not stitched again
        monkeypatch.setattr(people_module, "persons_among", real)
        want = [e.seq for e in Criteria.of(query).filter(buf.snapshot())]  # stitched alone
        monkeypatch.setattr(people_module, "persons_among",
                            lambda events, ids: stitched.append(1) or real(events, ids))
        assert got == want, query
    dbg.query = "person:dev1"
    assert len(dbg.filtered()) > 0
