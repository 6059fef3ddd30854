"""Run the shared filter test vectors (spec/filter_vectors.json), also run by the JS tests."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import REPO_ROOT

from segment_debugger.core.event import Event
from segment_debugger.core.query import filter_events, parse_query, persons_among
from segment_debugger.core.segment import parse_event

VECTORS_PATH = REPO_ROOT / "spec" / "filter_vectors.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))


def build_events() -> list[tuple[str, Event]]:
    """Each vector event parsed from its raw text, with validity as given in the file."""
    built = []
    for spec in VECTORS["events"]:
        event = parse_event(spec["raw"].encode("utf-8"), "events", 0.0)
        event.valid = spec["valid"]
        event.violations = list(spec["violations"])
        event.warnings = list(spec.get("warnings", []))
        event.stream_id = spec.get("stream_id")
        built.append((spec["id"], event))
    return built


EVENTS = build_events()


def test_vector_file_is_well_formed() -> None:
    ids = [spec["id"] for spec in VECTORS["events"]]
    assert len(ids) == len(set(ids))
    assert len(VECTORS["cases"]) >= 45
    for case in VECTORS["cases"]:
        assert set(case) - {"persons"} == {"query", "matches", "note"}
        assert set(case["matches"]) <= set(ids), case
        assert case["matches"] == [i for i in ids if i in case["matches"]], "keep file order"


def test_parsed_object_is_what_json_parse_would_give() -> None:
    # The JS side uses JSON.parse(raw) when it yields an object: orjson must agree here.
    for (event_id, event), spec in zip(EVENTS, VECTORS["events"], strict=True):
        try:
            expected = json.loads(spec["raw"])
        except ValueError:
            expected = None
        if not isinstance(expected, dict):
            expected = None
        assert event.data == expected, event_id


def test_user_and_anonymous_ids_are_what_the_parser_keeps() -> None:
    # The person: pseudo-field reads them; JS gets them as the row's (Python's) text.
    for (event_id, event), spec in zip(EVENTS, VECTORS["events"], strict=True):
        assert (event.userId, event.anonymousId) == (
            spec.get("userId"), spec.get("anonymousId")), event_id


@pytest.mark.parametrize(
    "case", [c for c in VECTORS["cases"] if "persons" in c], ids=lambda case: case["query"]
)
def test_persons_are_what_python_resolves_from_these_events(case: dict[str, Any]) -> None:
    query = parse_query(case["query"])
    resolved = persons_among([e for _, e in EVENTS], query.person_ids)
    assert {i: sorted(ids) for i, ids in resolved.items()} == case["persons"]


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda case: case["query"] or "<empty>")
def test_vector(case: dict[str, Any]) -> None:
    query = parse_query(case["query"])
    if "persons" in case:
        query = query.bind_persons(case["persons"])
    matched = [event_id for event_id, event in EVENTS if query.matches(event)]
    assert matched == case["matches"], case["note"]
    if query.needs_persons:
        return  # filter_events would bind the persons of the events (the case above)
    by_filter = {id(event) for event in filter_events([e for _, e in EVENTS], query)}
    assert [i for i, e in EVENTS if id(e) in by_filter] == case["matches"]
