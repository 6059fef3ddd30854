"""``dbg.filtered()`` with ``person:`` terms reads the attached identity graph (no rebuild)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support.events import shared_devices

from segment_debugger.analysis import people as people_module
from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.query import Criteria
from segment_debugger.widget.widget import SegmentDebugger


def test_filtered_person_terms_use_the_attached_graph_with_the_same_rows(
    offline_debugger: Callable[..., SegmentDebugger], monkeypatch: pytest.MonkeyPatch
) -> None:
    buf = EventBuffer(max_messages=50)
    dbg = offline_debugger(buffer=buf)
    buf.extend(shared_devices(80))  # evictions too: the graph forgets what the buffer drops
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
