"""The filter language's ``person:ID`` term: parsing, quoting, binding, matching."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from segment_debugger.core.event import Event
from segment_debugger.core.query import (
    Criteria,
    Term,
    filter_events,
    parse_query,
    person_query,
)
from segment_debugger.core.segment import parse_event


def events(*bodies: dict[str, Any]) -> list[Event]:
    built = []
    for seq, body in enumerate(bodies, start=1):
        event = parse_event(orjson.dumps(body), "events", float(seq))
        event.seq = seq
        built.append(event)
    return built


# Alice browses anonymously on a laptop, identifies, aliases her phone's id; bob uses the
# laptop once (a shared device: the laptop stays alice's); a stranger never identifies.
SCENARIO = events(
    {"type": "page", "anonymousId": "laptop", "name": "Home"},  # 1 alice
    {"type": "identify", "anonymousId": "laptop", "userId": "Alice"},  # 2 alice
    {"type": "page", "anonymousId": "phone", "name": "Home"},  # 3 alice (after the alias)
    {"type": "alias", "previousId": "phone", "userId": "Alice"},  # 4 alice
    {"type": "track", "event": "Clicked", "anonymousId": "laptop", "userId": "bob"},  # 5 bob
    {"type": "page", "anonymousId": "stranger", "name": "Home"},  # 6 stranger
    {"type": "track", "event": "Clicked", "anonymousId": "laptop"},  # 7 alice
)


def seqs(found: list[Event]) -> list[int]:
    return [e.seq for e in found]


def test_person_is_a_pseudo_field_whose_id_keeps_its_case_and_stars() -> None:
    assert parse_query("person:Alice").terms == (Term("person", "Alice"),)
    assert parse_query("person:a**b").terms == (Term("person", "a**b"),)
    assert parse_query('-person:"two words"').terms == (Term("person", "two words", True),)
    assert parse_query("person:").terms == (Term("text", "person:"),)  # nothing after it: text
    assert parse_query("person:Alice type:track").person_ids == ("Alice",)
    assert parse_query("person:a person:b person:a").person_ids == ("a", "b")


def test_filter_events_binds_persons_to_the_events_it_is_given() -> None:
    for id in ("Alice", "laptop", "phone"):
        assert seqs(filter_events(SCENARIO, f"person:{id}")) == [1, 2, 3, 4, 7], id
    assert seqs(filter_events(SCENARIO, "person:bob")) == [5]
    assert seqs(filter_events(SCENARIO, "person:stranger")) == [6]
    assert seqs(filter_events(SCENARIO, "-person:Alice")) == [5, 6]
    assert seqs(filter_events(SCENARIO, "person:Alice type:page")) == [1, 3]
    assert seqs(Criteria.of("person:phone", types=["page"]).filter(SCENARIO)) == [1, 3]


def test_ids_are_matched_exactly_and_unknown_ids_match_nothing() -> None:
    assert filter_events(SCENARIO, "person:alice") == []  # ids are case-sensitive
    assert filter_events(SCENARIO, "person:nobody") == []
    assert filter_events(SCENARIO, 'person:""') == []
    assert filter_events(SCENARIO, "person:lap*") == []  # no wildcards in ids
    assert seqs(filter_events(SCENARIO, "-person:nobody")) == [1, 2, 3, 4, 5, 6, 7]
    assert filter_events(SCENARIO, "person:>Alice") == []  # comparisons never match
    assert filter_events([], "person:Alice") == []


def test_a_bound_query_uses_the_given_id_sets() -> None:
    query = parse_query("person:x").bind_persons({"x": ["phone", "stranger"]})
    assert not query.needs_persons
    assert query.persons == {"x": ["phone", "stranger"]}
    # userId first: event 4 (userId Alice, previousId phone) is not in the set
    assert [e.seq for e in SCENARIO if query.matches(e)] == [3, 6]
    assert seqs(filter_events(SCENARIO, query)) == [3, 6]
    assert parse_query("person:x").bind_persons({}).persons == {"x": []}
    assert [e for e in SCENARIO if parse_query("person:x").bind_persons({}).matches(e)] == []
    assert parse_query("type:track").bind_persons({"x": ["a"]}).persons is None


def test_unbound_a_single_event_is_judged_by_its_own_id() -> None:
    query = parse_query("person:laptop")
    assert query.needs_persons and query.persons is None
    assert [e.seq for e in SCENARIO if query.matches(e)] == [1, 7]  # no userId, laptop
    assert [e.seq for e in SCENARIO if parse_query("person:Alice").matches(e)] == [2, 4]


def test_events_made_by_hand_never_crash_it() -> None:
    odd = Event(raw=b"{}", channel="c", received_at=0.0)
    odd.userId = ["not", "hashable"]  # type: ignore[assignment]
    empty = Event(raw=b"{}", channel="c", received_at=0.0)
    empty.userId, empty.anonymousId = "", ""
    for query in ("person:x", 'person:""', "-person:x"):
        parsed = parse_query(query)
        bound = parsed.bind_persons({"x": ["x", ""], "": [""]})
        for event in (odd, empty):
            assert parsed.matches(event) is query.startswith("-")
            assert bound.matches(event) is query.startswith("-")


def test_person_query_quotes_only_when_needed() -> None:
    assert person_query("user-42") == "person:user-42"
    assert person_query("a:b*c") == "person:a:b*c"
    assert person_query("-x") == "person:-x"
    assert person_query("two words") == 'person:"two words"'
    assert person_query("") == 'person:""'
    assert person_query(">5") == 'person:">5"'
    assert person_query('say "hi"') == r'person:"say \"hi\""'
    assert person_query("back\\slash") == r'person:"back\\slash"'
    assert person_query("tab\there") == 'person:"tab\there"'


@given(st.text(max_size=30))
def test_person_query_reads_back_as_the_same_id(id: str) -> None:
    assert parse_query(person_query(id)).terms == (Term("person", id),)
    negated = parse_query("-" + person_query(id) + " type:track").terms
    assert negated[0] == Term("person", id, True)
