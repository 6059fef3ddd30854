"""People (issue 11): identity stitching against a reference union-find, frames, bounds."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.events import make_event

from segment_debugger.analysis.people import PEOPLE_COLUMNS, IdentityGraph, attach
from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.event import Event
from segment_debugger.core.query import filter_events, parse_query, person_query

T0 = 1_700_000_000.0


def ev(kind: str = "track", at: float = 0.0, **fields: Any) -> Event:
    fields = {k: v for k, v in fields.items() if v is not None}
    if kind == "track":
        fields.setdefault("event", "Clicked")
    return make_event(type=kind, received_at=T0 + at, **fields)


def person_seqs(buf: EventBuffer, id: str) -> list[int]:
    return list(buf.person(id)["seq"])


def identity_warnings(event: Event) -> list[str]:
    return [w for w in event.warnings_view() if w.startswith("identity:")]


# ---- the rules, one scenario each -----------------------------------------------------------


def test_anonymous_browsing_then_identify_is_one_person() -> None:
    buf = EventBuffer()
    buf.extend([
        ev(anonymousId="a1", at=1),
        ev("page", anonymousId="a1", at=2),
        ev("identify", anonymousId="a1", userId="u1", traits={"email": "x@y.z"}, at=3),
        ev(userId="u1", at=4),
        ev(anonymousId="a2", at=5),  # someone else
    ])
    assert person_seqs(buf, "a1") == [1, 2, 3, 4]
    assert person_seqs(buf, "u1") == [1, 2, 3, 4]
    assert person_seqs(buf, "a2") == [5]
    people = buf.people()
    assert list(people.columns[: len(PEOPLE_COLUMNS)]) == list(PEOPLE_COLUMNS)
    assert list(people["person"]) == ["u1", "a2"]
    assert people["user_ids"].tolist() == [["u1"], []]
    assert people["anonymous_ids"].tolist() == [["a1"], ["a2"]]
    assert people["events"].tolist() == [4, 1]
    assert people["first_seen"].tolist() == list(pd.to_datetime([T0 + 1, T0 + 5], unit="s",
                                                                 utc=True))
    assert people["last_seen"].iloc[0] == pd.to_datetime(T0 + 4, unit="s", utc=True)
    assert people["traits.email"].tolist()[0] == "x@y.z"
    assert pd.isna(people["traits.email"].tolist()[1])
    assert people["conflicts"].tolist() == [[], []]


def test_alias_joins_previous_id_to_user_id() -> None:
    buf = EventBuffer()
    buf.extend([
        ev(anonymousId="a1", userId="old-user"),  # 'old-user' becomes a userId here
        ev(anonymousId="a9"),
        ev("alias", previousId="a9", userId="u1"),
        ev(userId="u1"),
    ])
    assert person_seqs(buf, "a9") == [2, 3, 4]
    frame = buf.person("u1")
    assert frame.attrs["user_ids"] == ["u1"] and frame.attrs["anonymous_ids"] == ["a9"]


def test_two_user_ids_are_never_merged_shared_device_stays_with_first() -> None:
    buf = EventBuffer()
    attach(buf)
    buf.extend([
        ev("identify", anonymousId="device", userId="alice", at=1),
        ev(anonymousId="device", at=2),
        ev("identify", anonymousId="device", userId="bob", at=3),  # bob borrows the laptop
        ev(userId="bob", at=4),
    ])
    events = buf.snapshot()
    assert [identity_warnings(e) for e in events[:2]] == [[], []]
    [warning] = identity_warnings(events[2])
    assert "'alice'" in warning and "'bob'" in warning and "'device'" in warning
    assert person_seqs(buf, "device") == [1, 2]  # the device stays alice's
    assert person_seqs(buf, "bob") == [3, 4]  # bob's events are bob's, by userId
    people = buf.people().set_index("person")
    assert people.loc["alice", "anonymous_ids"] == ["device"]
    assert people.loc["bob", "anonymous_ids"] == []
    for who in ("alice", "bob"):
        [conflict] = people.loc[who, "conflicts"]
        assert "'device'" in conflict and "'bob'" in conflict and "(1 event)" in conflict
    assert buf.person("bob").attrs["conflicts"] == people.loc["bob", "conflicts"]


def test_an_alias_between_two_user_ids_is_refused_and_warned() -> None:
    buf = EventBuffer()
    attach(buf)
    buf.extend([ev(userId="u1"), ev(userId="u2"), ev("alias", previousId="u1", userId="u2")])
    [warning] = identity_warnings(buf.snapshot()[2])
    assert "previousId 'u1' is a userId of its own" in warning
    assert person_seqs(buf, "u1") == [1]
    assert person_seqs(buf, "u2") == [2, 3]


def test_the_first_person_is_the_oldest_buffered_one() -> None:
    buf = EventBuffer(max_messages=2)
    buf.append(ev(anonymousId="d", userId="alice"))
    buf.append(ev(anonymousId="d", userId="bob"))  # conflict: d is alice's
    assert person_seqs(buf, "d") == [1]
    buf.append(ev(userId="carol"))  # alice's only link leaves the buffer
    assert person_seqs(buf, "d") == [2]  # d now belongs to bob, the first one buffered
    assert buf.people()["conflicts"].tolist() == [[], []]


def test_a_warning_sees_what_stays_buffered() -> None:
    buf = EventBuffer(max_messages=1)
    attach(buf)
    buf.append(ev(anonymousId="d", userId="alice"))
    buf.append(ev(anonymousId="d", userId="bob"))  # alice's event is evicted by this append
    assert identity_warnings(buf.snapshot()[0]) == []
    assert person_seqs(buf, "d") == [2]


def test_latest_traits_merge_identify_calls_newer_winning() -> None:
    buf = EventBuffer()
    buf.extend([
        ev("identify", userId="u", traits={"plan": "free", "email": "a@b.c"}),
        ev("identify", userId="u", traits={"plan": "pro", "address": {"city": "Oslo"}}),
        ev(userId="u"),
    ])
    row = buf.people().iloc[0]
    assert (row["traits.plan"], row["traits.email"], row["traits.address.city"]) == (
        "pro", "a@b.c", "Oslo")


def test_unknown_id_gives_an_empty_frame_and_events_without_ids_belong_to_nobody() -> None:
    buf = EventBuffer()
    buf.extend([ev(), ev(userId="u")])
    frame = buf.person("nobody")
    assert frame.empty and frame.attrs["person"] is None
    assert list(frame.columns) == list(buf.person("u").columns[: len(frame.columns)])
    assert buf.people()["person"].tolist() == ["u"]


def test_clear_forgets_everyone() -> None:
    buf = EventBuffer()
    buf.extend([ev(anonymousId="a", userId="u")])
    people = attach(buf)
    buf.clear()
    assert buf.people().empty and list(buf.people().columns) == list(PEOPLE_COLUMNS)
    assert (people.graph.users, people.graph.anonymous, people.graph.links) == ({}, {}, {})
    buf.extend([ev(anonymousId="a", userId="v")])
    assert buf.people()["person"].tolist() == ["v"]


def test_attached_late_it_replays_the_buffer_and_warns_from_then_on() -> None:
    buf = EventBuffer()
    buf.extend([ev(anonymousId="d", userId="alice"), ev(anonymousId="d", userId="bob")])
    people = attach(buf)
    assert attach(buf) is people
    assert person_seqs(buf, "d") == [1]
    buf.append(ev(anonymousId="d", userId="carol"))
    assert "'carol'" in identity_warnings(buf.snapshot()[-1])[0]


def test_memory_follows_the_buffer_cap() -> None:
    buf = EventBuffer(max_messages=50)
    graph = attach(buf).graph
    for i in range(5000):
        buf.append(ev(anonymousId=f"a{i}", userId=f"u{i % 700}"))
        if i % 997 == 0:
            buf.append(ev("alias", previousId=f"p{i}", userId=f"u{i}"))
    assert len(graph.users) <= 50 and len(graph.anonymous) <= 50 and len(graph.links) <= 50
    assert graph.count == len(buf) == 50
    assert len(buf.people()) == 50


def test_a_batch_larger_than_the_buffer() -> None:
    buf = EventBuffer(max_messages=3)
    attach(buf)
    buf.extend([ev(anonymousId="d", userId=f"u{i}") for i in range(10)])
    assert person_seqs(buf, "d") == [8]
    assert buf.people()["person"].tolist() == ["u7", "u8", "u9"]


def test_queries_fall_back_to_the_snapshot_when_the_graph_is_behind() -> None:
    buf = EventBuffer()
    buf.extend([ev(anonymousId="a", userId="u"), ev(anonymousId="a")])
    people = attach(buf)
    people.graph.count += 1  # as if a batch were being appended while we read
    assert person_seqs(buf, "a") == [1, 2]
    assert buf.people()["events"].tolist() == [2]
    assert identity_warnings(buf.snapshot()[0]) == []


def test_observer_failure_never_stops_the_buffer(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(IdentityGraph):
        def appended(self, events: Any, evicted: Any) -> None:
            raise RuntimeError("boom")

    buf = EventBuffer()
    buf.add_observer(Broken())
    buf.append(ev(userId="u"))
    assert len(buf) == 1 and "boom" in caplog.text


def test_a_buffer_whose_people_were_asked_for_is_garbage_collected() -> None:
    # attach()'s registry is weak on the buffer; People once held it strongly (never freed).
    import gc
    import weakref

    buf = EventBuffer()
    buf.append(ev(userId="u"))
    assert person_seqs(buf, "u") == [1]
    ref = weakref.ref(buf)
    del buf
    gc.collect()
    assert ref() is None


def test_person_terms_follow_a_person_that_grows() -> None:
    buf = EventBuffer()
    buf.extend([ev("page", anonymousId="phone"), ev(userId="u", anonymousId="laptop")])
    people = attach(buf)
    query = parse_query("person:u")
    version, persons = people.resolve(query.person_ids)
    assert persons == {"u": frozenset({"u", "laptop"})}
    assert [e.seq for e in filter_events(buf.snapshot(), query.bind_persons(persons))] == [2]
    buf.append(ev("identify", userId="u", anonymousId="phone"))  # the phone is identified
    later, persons = people.resolve(query.person_ids)
    assert later != version and persons == {"u": frozenset({"u", "laptop", "phone"})}
    assert [e.seq for e in filter_events(buf.snapshot(), query.bind_persons(persons))] == [1, 2, 3]
    assert [e.seq for e in buf.filter("person:phone")] == [1, 2, 3]
    assert people.resolve(["nobody"])[1] == {"nobody": frozenset()}


# ---- the reference model ----------------------------------------------------------------------


def reference(events: list[Event]) -> tuple[dict[str, frozenset[str]], Counter[tuple[str, ...]],
                                            dict[int, bool]]:
    """Union-find over ``events`` in order, refusing any union of two different userIds.

    Returns each id's component, the refused links counted by (id, its userId, other userId),
    and for each event whether one of its links was refused.
    """
    users = {e.userId for e in events if e.userId}
    parent: dict[str, str] = {}
    user_of: dict[str, str | None] = {}

    def find(x: str) -> str:
        if x not in parent:
            parent[x], user_of[x] = x, (x if x in users else None)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    refused: Counter[tuple[str, ...]] = Counter()
    conflicted: dict[int, bool] = {}
    for e in events:
        for i in (e.userId, e.anonymousId):
            if i:
                find(i)
        links = []
        if e.userId and e.anonymousId and e.anonymousId != e.userId:
            links.append(e.anonymousId)
        if e.type == "alias" and e.userId and e.previousId and e.previousId != e.userId:
            links.append(e.previousId)
        conflicted[e.seq] = False
        for x in links:
            rx, ru = find(x), find(e.userId)  # type: ignore[arg-type]
            if rx == ru:
                continue
            if user_of[rx] is not None and user_of[ru] is not None:
                refused[(x, user_of[rx], e.userId)] += 1  # type: ignore[index]
                conflicted[e.seq] = True
                continue
            parent[rx] = ru
            user_of[ru] = user_of[ru] or user_of[rx]
    members: dict[str, set[str]] = {}
    for x in parent:
        members.setdefault(find(x), set()).add(x)
    return {x: frozenset(members[find(x)]) for x in parent}, refused, conflicted


def check_against_reference(buf: EventBuffer) -> None:
    events = buf.snapshot()
    components, refused, _ = reference(events)
    people = buf.people()
    if people.empty:
        assert not [x for x in components if any(x in (e.userId, e.anonymousId)
                                                 for e in events)]
        return
    # every person row is exactly one reference component ...
    seen: set[str] = set()
    for _, row in people.iterrows():
        ids = frozenset(row["user_ids"]) | frozenset(row["anonymous_ids"])
        assert len(row["user_ids"]) <= 1
        assert components[row["person"]] == ids
        seen |= ids
    # ... covering every id that an event belongs by (previousIds alone may only be aliases)
    owned = {e.userId or e.anonymousId for e in events} - {None}
    assert owned <= seen
    # each event belongs to the component of its userId, else of its anonymousId
    for key in people["person"]:
        expected = [e.seq for e in events
                    if (e.userId or e.anonymousId)
                    and components[e.userId or e.anonymousId] == components[key]]  # type: ignore[index]
        assert person_seqs(buf, key) == expected
        assert int(people.set_index("person").loc[key, "events"]) == len(expected)
    # conflicts: the refused links, each reported on both persons
    reported = Counter()
    for row_conflicts in people["conflicts"]:
        for text in row_conflicts:
            reported[text] += 1
    for (x, owner, other), n in refused.items():
        assert any(f"{x!r}" in t and f"{owner!r}" in t and f"{other!r}" in t
                   and f"({n} event" in t for t in reported), (x, owner, other, n, reported)
    assert sum(reported.values()) == 2 * len(refused)


# Few ids, some used in every role ("x", "u1" as an anonymousId): conflicts are common.
USERS = st.one_of(st.none(), st.sampled_from(["u1", "u2", "u3", "x"]))
ANONS = st.one_of(st.none(), st.sampled_from(["a1", "a2", "x", "u1"]))
PREVIOUS = st.one_of(st.none(), st.sampled_from(["a1", "a3", "x", "u2"]))
EVENTS = st.builds(
    lambda kind, user, anon, prev: ev(kind, userId=user, anonymousId=anon, previousId=prev),
    st.sampled_from(["track", "identify", "alias"]),
    USERS,
    ANONS,
    PREVIOUS,
)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("extend"), st.lists(EVENTS, min_size=1, max_size=4)),
        st.tuples(st.just("append"), EVENTS),
        st.tuples(st.just("clear"), st.none()),
        st.tuples(st.just("attach"), st.none()),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(cap=st.integers(1, 7), attach_first=st.booleans(), ops=OPS)
def test_identity_graph_equals_the_reference_model(
    cap: int, attach_first: bool, ops: list[Any]
) -> None:
    buf = EventBuffer(max_messages=cap)
    attached = attach_first
    if attached:
        attach(buf)
    for op, arg in ops:
        if op in ("extend", "append"):
            batch = arg if op == "extend" else [arg]
            buf.extend(batch) if op == "extend" else buf.append(arg)
            if attached:
                # An event's warning: the reference's verdict on it over what was known when
                # it came: the older events that stay buffered, then the batch up to it
                # (evictions within a batch come after it).
                kept = [e for e in buf.snapshot() if e.seq < batch[0].seq]
                verdicts = [reference(kept + batch[: i + 1])[2][e.seq]
                            for i, e in enumerate(batch)]
                assert [bool(identity_warnings(e)) for e in batch] == verdicts
        elif op == "clear":
            buf.clear()
        else:
            attach(buf)
            attached = True
        if attached:
            graph = attach(buf).graph
            assert graph.count == len(buf)
            check_against_reference(buf)
    check_against_reference(buf)
    graph = attach(buf).graph
    events = buf.snapshot()
    assert set(graph.users) == {e.userId for e in events if e.userId}
    assert set(graph.anonymous) == {e.anonymousId for e in events if e.anonymousId}
    check_person_terms(buf)


def check_person_terms(buf: EventBuffer) -> None:
    """``person:ID`` gives ``person(ID)``'s events: unbound, and bound to the attached graph."""
    events = buf.snapshot()
    people = attach(buf)
    ids = {i for e in events for i in (e.userId, e.anonymousId, e.previousId) if i}
    for id in sorted(ids | {"nobody"}):
        expected = person_seqs(buf, id)
        query = parse_query(person_query(id))
        assert [e.seq for e in buf.filter(query)] == expected, id
        _, persons = people.resolve([id])
        bound = query.bind_persons(persons)
        assert [e.seq for e in filter_events(events, bound)] == expected, id
    for event in events:
        summary = people.summary(event)
        if not (event.userId or event.anonymousId):
            assert summary is None
            continue
        assert summary is not None
        frame = buf.person(summary["person"])
        assert summary["events"] == len(frame) and event.seq in set(frame["seq"])
        assert summary["user_ids"] == frame.attrs["user_ids"]
        assert summary["anonymous_ids"] == frame.attrs["anonymous_ids"]
