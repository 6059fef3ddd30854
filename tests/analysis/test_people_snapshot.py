"""``People.snapshot_persons``: the attached graph's answer for a snapshot is the stitched one."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.events import make_event

from segment_debugger.analysis import people as people_module
from segment_debugger.analysis.people import attach, persons_among
from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.event import Event
from segment_debugger.core.query import Criteria


def ev(kind: str, **fields: Any) -> Event:
    fields = {k: v for k, v in fields.items() if v is not None}
    if kind == "track":
        fields.setdefault("event", "Clicked")
    return make_event(type=kind, received_at=1_700_000_000.0, **fields)


IDS = ["u1", "u2", "a1", "a2", "x"]
EVENTS = st.builds(
    lambda kind, user, anon, prev: ev(kind, userId=user, anonymousId=anon, previousId=prev),
    st.sampled_from(["track", "identify", "alias"]),
    st.one_of(st.none(), st.sampled_from(["u1", "u2", "x"])),
    st.one_of(st.none(), st.sampled_from(["a1", "a2", "x", "u1"])),
    st.one_of(st.none(), st.sampled_from(["a1", "x", "u2"])),
)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("extend"), st.lists(EVENTS, min_size=1, max_size=4)),
        st.tuples(st.just("clear"), st.none()),
    ),
    max_size=20,
)


def check(buf: EventBuffer) -> None:
    ids = [*IDS, "nobody"]
    events, persons = attach(buf).snapshot_persons(ids)
    assert [e.seq for e in events] == [e.seq for e in buf.snapshot()]
    assert persons == persons_among(events, ids)
    for id in ids:
        criteria = Criteria.of(f"person:{id}")
        assert criteria.bind_persons(persons).filter(events) == criteria.filter(events), id


@settings(max_examples=150, deadline=None)
@given(cap=st.integers(1, 7), attach_first=st.booleans(), ops=OPS)
def test_the_attached_graph_answers_as_the_snapshot_stitched_alone(
    cap: int, attach_first: bool, ops: list[Any]
) -> None:
    buf = EventBuffer(max_messages=cap)
    if attach_first:
        attach(buf)
    for op, arg in ops:
        if op == "extend":
            buf.extend(arg)
        else:
            buf.clear()
        check(buf)


def test_a_graph_in_step_is_read_not_rebuilt(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = EventBuffer()
    buf.extend([ev("page", anonymousId="laptop"), ev("identify", anonymousId="laptop",
                                                     userId="alice"), ev("track", userId="bob")])
    people = attach(buf)
    stitched: list[int] = []
    real = people_module.persons_among
    monkeypatch.setattr(people_module, "persons_among",
                        lambda events, ids: stitched.append(1) or real(events, ids))
    events, persons = people.snapshot_persons(["laptop", "bob"])
    assert persons == {"laptop": frozenset({"laptop", "alice"}), "bob": frozenset({"bob"})}
    assert stitched == []
    people.graph.count += 1  # as if a batch were being appended while we read
    events, persons = people.snapshot_persons(["laptop"])
    assert persons == {"laptop": frozenset({"laptop", "alice"})} and len(stitched) == 1
    assert [e.seq for e in events] == [1, 2, 3]
