"""Unit tests for segment_debugger.core.query: grammar, semantics, totality, speed."""

from __future__ import annotations

import functools
import json
import time
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from segment_debugger.core.event import Event
from segment_debugger.core.query import (
    Query,
    Term,
    filter_events,
    number_text,
    parse_query,
    read_number,
)
from segment_debugger.core.segment import parse_event


def event_of(payload: Any, raw: bytes | None = None) -> Event:
    if raw is None:
        raw = json.dumps(payload, ensure_ascii=False).encode()
    return parse_event(raw, "events", 0.0)


def terms(text: str) -> tuple[Term, ...]:
    return parse_query(text).terms


# -- grammar ------------------------------------------------------------------------------------


def test_empty_and_ignorable_queries() -> None:
    for text in ["", "   ", "\t\n", "-", " - - ", '""', '-""']:
        assert parse_query(text).is_empty, text
    assert not parse_query("x").is_empty


def test_bare_words_are_text_terms() -> None:
    assert terms("Order  completed") == (Term("text", "order"), Term("text", "completed"))


def test_field_term() -> None:
    assert terms("properties.currency:USD") == (
        Term("field", "usd", path=("properties", "currency")),
    )


def test_negation() -> None:
    assert terms("-type:page -x") == (
        Term("field", "page", negate=True, path=("type",)),
        Term("text", "x", negate=True),
    )
    assert terms("--x") == (Term("text", "-x", negate=True),)


def test_quoted_text_and_escapes() -> None:
    assert terms(r'"a \"b\" \\ c"') == (Term("text", 'a "b" \\ c'),)
    assert terms('"unclosed phrase') == (Term("text", "unclosed phrase"),)
    assert terms('"trailing \\') == (Term("text", "trailing \\"),)


def test_closing_quote_ends_the_term() -> None:
    assert terms('"ab"cd') == (Term("text", "ab"), Term("text", "cd"))


def test_quoted_value() -> None:
    assert terms('event:"Order \\"Big\\" Completed"') == (
        Term("field", 'order "big" completed', path=("event",)),
    )


def test_comparisons() -> None:
    assert terms("a:>1 b:>=2 c:<3 d:<=4") == (
        Term("field", "1", path=("a",), op=">"),
        Term("field", "2", path=("b",), op=">="),
        Term("field", "3", path=("c",), op="<"),
        Term("field", "4", path=("d",), op="<="),
    )
    assert terms('a:>"5"') == (Term("field", "5", path=("a",), op=">"),)
    assert terms('a:">5"') == (Term("field", ">5", path=("a",)),)
    assert terms("a:> a:>=") == (Term("field", ">", path=("a",)), Term("field", ">=", path=("a",)))


def test_field_needs_a_value_else_it_is_text() -> None:
    assert terms("type:") == (Term("text", "type:"),)
    assert terms('type:""') == (Term("field", "", path=("type",)),)


def test_not_fields() -> None:
    assert terms("12:30 :x prénom:x") == (
        Term("text", "12:30"),
        Term("text", ":x"),
        Term("text", "prénom:x"),
    )
    assert terms("http://x") == (Term("field", "//x", path=("http",)),)
    assert terms('"http://x"') == (Term("text", "http://x"),)


def test_pseudo_fields() -> None:
    assert terms("valid:False violation:*JSON*") == (
        Term("valid", "false"),
        Term("violation", "*json*"),
    )
    assert terms("valid.x:1") == (Term("field", "1", path=("valid", "x")),)


def test_star_runs_collapse() -> None:
    assert terms("a:**b***") == (Term("field", "*b*", path=("a",)),)


def test_only_ascii_whitespace_separates() -> None:
    assert terms("a\u00a0b") == (Term("text", "a\u00a0b"),)
    assert len(terms("a\tb\nc\rd\fe\vf")) == 6


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("10", 10.0),
        ("-1.5", -1.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("+3", 3.0),
        ("1e3", 1000.0),
        ("1E-2", 0.01),
        ("abc", None),
        ("", None),
        ("1_000", None),
        ("inf", None),
        ("nan", None),
        (" 1", None),
        ("0x10", None),
        ("\u0661", None),
        ("1e", None),
        (".", None),
    ],
)
def test_read_number(text: str, number: float | None) -> None:
    assert read_number(text) == number


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (10.0, "10"),
        (10, "10"),
        (-3.25, "-3.25"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1e-6, "0.000001"),
        (1.5e-10, "1.5e-10"),
        (0.1, "0.1"),
        (-0.0, "0"),
        (2**60, "1152921504606847000"),
        (123456789.125, "123456789.125"),
        (5e-324, "5e-324"),
    ],
)
def test_number_text_is_javascript_string(value: float, text: str) -> None:
    assert number_text(value) == text


# -- semantics ----------------------------------------------------------------------------------

TRACK = event_of(
    {
        "type": "track",
        "event": "Order Completed",
        "userId": "user-42",
        "properties": {"revenue": 10.5, "tags": ["a", "B"], "items": [{"sku": "X"}, {"sku": "Y"}]},
    }
)
GARBAGE = event_of(None, raw=b"type:track \xff order")


@pytest.mark.parametrize(
    ("query", "track", "garbage"),
    [
        ("order", True, True),
        ("ORDER", True, True),
        ("-order", False, False),
        ("type:track", True, False),
        ("-type:track", False, True),
        ("event:order*", True, False),
        ("userId:*", True, False),
        ("properties.revenue:10.50", True, False),
        ("properties.revenue:>10", True, False),
        ("properties.revenue:<10", False, False),
        ("properties.tags:b", True, False),
        ("properties.items.sku:y", True, False),
        ("properties.items.2.sku:*", False, False),
        ("valid:true", True, False),
        ("valid:false", False, True),
        ("violation:utf-8", False, True),
        ("\ufffd", False, True),
    ],
)
def test_semantics(query: str, track: bool, garbage: bool) -> None:
    q = parse_query(query)
    assert (q.matches(TRACK), q.matches(GARBAGE)) == (track, garbage)


def test_filter_events_keeps_order_and_accepts_strings() -> None:
    events = [event_of({"type": t, "userId": "u"}) for t in ["page", "track", "page", "alias"]]
    assert filter_events(events, "type:page") == [events[0], events[2]]
    assert filter_events(events, parse_query("")) == events
    assert filter_events(iter(events), "-type:page") == [events[1], events[3]]


def test_query_depends_on_raw_data_valid_violations() -> None:
    event = event_of({"type": "track", "event": "E", "userId": "u"})
    event.data = {"type": "page", "userId": "v", "properties": {"n": 1}}  # assigned: used as is
    assert parse_query("type:page userId:v properties.n:1").matches(event)
    assert not parse_query("type:track").matches(event)
    assert parse_query("track").matches(event)  # free text reads raw
    event.violations = ["made up problem"]
    event.valid = False
    assert parse_query("valid:false violation:made").matches(event)


def test_summary_fields_of_a_parsed_event_stand_for_the_payload() -> None:
    # Documented in query.py: for an event whose data is read from raw, a term on a summary
    # field reads the attribute the parser set (when it is plain text), not the payload again.
    event = event_of({"type": "track", "event": "E", "userId": "u", "properties": {"n": 1}})
    event.userId = "someone-else"
    event.type = "page"
    assert parse_query("type:page userId:someone-else properties.n:1").matches(event)
    event.userId = 42  # type: ignore[assignment]  # not text: the payload decides
    assert parse_query("userId:u").matches(event)


def _hand_built(event: Event) -> Event:
    """The same event with its parsed object assigned: every term then reads ``data``."""
    twin = parse_event(event.raw, event.channel, event.received_at)
    twin.data = event.data
    twin.valid, twin.violations, twin.stream_id = event.valid, event.violations, event.stream_id
    return twin


def _loads_counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    import segment_debugger.core.query as query_module

    calls = [0]
    real = query_module._loads

    def counted(raw: bytes) -> Any:
        calls[0] += 1
        return real(raw)

    monkeypatch.setattr(query_module, "_loads", counted)
    return calls


def test_payload_is_parsed_only_for_terms_the_record_cannot_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from segment_debugger.playground.fake import FakeEventStream

    stream = FakeEventStream(seed=5, invalid_fraction=0.1)
    events = [parse_event(stream.payload(), "events", 0.0) for _ in range(2000)]
    completed = sum(e.event == "Order Completed" for e in events)
    # a key spelt with escapes needs a backslash: payloads with one are parsed to be sure
    with_revenue = sum(
        e.data is not None and (b'"revenue"' in e.raw or b"\\" in e.raw) for e in events
    )
    with_backslash = sum(e.data is not None and b"\\" in e.raw for e in events)
    objects = sum(e.data is not None for e in events)
    assert 0 < completed < with_revenue < objects
    calls = _loads_counted(monkeypatch)
    expected_loads = {
        "type:track": 0,
        "-type:page userId:user-1*": 0,
        "valid:false violation:*": 0,
        "checkout": 0,
        "anonymousId:*": 0,  # no payload holds null: missing is told from null without parsing
        'event:"Order Completed" properties.revenue:>10': completed,
        "properties.revenue:>10": with_revenue,
        "properties.no_such_key:1": with_backslash,
        "context.library.name:analytics.js": objects,
    }
    for text, loads in expected_loads.items():
        calls[0] = 0
        query = parse_query(text)
        fast = filter_events(events, query)
        assert calls[0] == loads, text
        assert fast == [e for e in events if query.matches(_hand_built(e))], text


_SUMMARY_VALUES = (
    st.sampled_from(
        ["track", "TRACK", "page", "7", "007", "-1", "1e3", "12.50", "true", "false", "null",
         "[m]", "{x}", "", "t", "f", "user-42", "2024-05-01T12:00:00Z", "é", "K"]
    )
    | st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.lists(st.sampled_from(["track", "7", 7, None, True]), max_size=2)
    | st.fixed_dictionaries({"id": st.sampled_from(["g", 1])})
)
_SUMMARY_KEYS = ("type", "event", "userId", "anonymousId", "name", "timestamp")
_QUERY_VALUES = ("track", "7", "7.0", "007", "-1", "1000", "12.5", "true", "false", "null", "*",
                 "t*", "n*", "[m]", "user-*", "2024*", "k")


@functools.cache
def _fast_path_queries() -> list[Query]:
    return [
        parse_query(f"{sign}{field}:{op}{quote(value)}")
        for field in (*_SUMMARY_KEYS, "properties.revenue", "properties.missing")
        for value in _QUERY_VALUES
        for op in ("", ">", ">=", "<")
        for sign in ("", "-")
    ]


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(st.sampled_from(_SUMMARY_KEYS), _SUMMARY_VALUES, max_size=4),
    st.booleans(),
    st.booleans(),
)
def test_fast_paths_agree_with_the_parsed_payload(
    payload: dict[str, Any], ascii_only: bool, escaped_keys: bool
) -> None:
    payload = {**payload, "properties": {"revenue": payload.get("userId")}}
    raw = json.dumps(payload, ensure_ascii=ascii_only)
    if escaped_keys:  # the same keys, written with escapes
        raw = raw.replace('"type"', '"\\u0074ype"').replace('"revenue"', '"re\\u0076enue"')
    event = event_of(None, raw=raw.encode())
    assert event.data == payload
    reference = _hand_built(event)
    for query in _fast_path_queries():
        assert query.matches(event) == query.matches(reference), (query.text, raw)


def test_hand_made_terms_that_are_no_plain_keys_read_the_payload() -> None:
    event = event_of({"a b": {"é": 1}, "type": "track"})
    query = Query("hand-made", (Term("field", "1", path=("a b", "é")),))
    assert query.matches(event)
    assert not Query("hand-made", (Term("field", "2", path=("a b", "é")),)).matches(event)


def test_non_text_query_input_does_not_raise() -> None:
    assert parse_query(None).is_empty  # type: ignore[arg-type]
    assert isinstance(parse_query(42), Query)  # type: ignore[arg-type]


# -- properties ---------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_query_never_raises_and_matches_without_raising(text: str) -> None:
    query = parse_query(text)
    for event in (TRACK, GARBAGE):
        assert isinstance(query.matches(event), bool)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from('ab:-" \\*><=.1'), max_size=20))
def test_parse_query_never_raises_on_grammar_characters(text: str) -> None:
    query = parse_query(text)
    assert isinstance(query.matches(TRACK), bool)


field_names = st.from_regex(r"[A-Za-z_$][A-Za-z0-9_$-]{0,8}", fullmatch=True).filter(
    lambda name: name not in ("valid", "violation")
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return number_text(value)
    return str(value)


@settings(max_examples=150, deadline=None)
@given(st.lists(field_names, min_size=1, max_size=3), scalars, st.booleans())
def test_field_matches_its_own_value(path: list[str], value: Any, in_array: bool) -> None:
    payload: Any = [value] if in_array else value
    for key in reversed(path):
        payload = {key: payload}
    payload.setdefault("type", "track")
    event = event_of(payload)
    assume(event.data is not None)
    field = ".".join(path)
    positive = parse_query(f"{field}:{quote(value_text(value))}")
    negative = parse_query(f"-{field}:{quote(value_text(value))}")
    assert positive.matches(event)
    assert not negative.matches(event)
    assert parse_query(f"{field}:*").matches(event)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=30))
def test_text_matches_itself_in_the_payload(word: str) -> None:
    event = event_of({"type": "track", "note": word})
    needle = json.dumps(word, ensure_ascii=False)[1:-1]  # as it appears in the raw JSON
    assume(needle.strip())
    assert parse_query(quote(needle)).matches(event)
    assert not parse_query("-" + quote(needle)).matches(event)


# -- speed --------------------------------------------------------------------------------------


def test_simple_queries_over_10k_events_are_fast() -> None:
    from segment_debugger.playground.fake import FakeEventStream

    stream = FakeEventStream(seed=3, invalid_fraction=0.05)
    payloads = [stream.payload() for _ in range(500)]
    events = [parse_event(payloads[i % 500], "events", 0.0) for i in range(10_000)]
    for text in ["type:track", "checkout", "-type:page valid:true", "properties.revenue:>100"]:
        query = parse_query(text)
        best = min(_timed(lambda q=query: filter_events(events, q)) for _ in range(3))
        assert best < 0.25, f"{text!r} took {best * 1000:.0f} ms over 10k events"


def _timed(fn: Any) -> float:
    start = time.process_time()  # CPU time: steady when other work shares the cores
    fn()
    return time.process_time() - start


@pytest.mark.parametrize("types", [(), ("track",), ("identify", "alias")])
@pytest.mark.parametrize("invalid_only", [False, True])
@pytest.mark.parametrize("text", ["", "user", "-type:track", "properties.revenue>5"])
def test_criteria_is_query_and_types_and_invalid_only(
    text: str, types: tuple[str, ...], invalid_only: bool
) -> None:
    from segment_debugger.core.query import Criteria
    from segment_debugger.playground.fake import FakeEventStream

    stream = FakeEventStream(seed=7, invalid_fraction=0.2)
    events = [parse_event(stream.payload(), "events", 1.0) for _ in range(300)]
    criteria = Criteria.of(text, types, invalid_only)
    query = parse_query(text)
    expected = [
        e for e in events
        if (not types or e.type in types) and (not invalid_only or not e.valid) and query.matches(e)
    ]
    assert criteria.filter(events) == expected
    assert [e for e in events if criteria.matches(e)] == expected
    assert criteria.is_empty == (not text and not types and not invalid_only)


# -- hostile payloads (issue 8) -----------------------------------------------------------------


def _huge_raw(keys: int) -> bytes:
    properties = ",".join(f'"key{i:06d}":{i}' for i in range(keys))
    return ('{"type":"track","event":"Huge","userId":"u1","properties":{' + properties
            + "}}").encode()


def test_queries_over_a_huge_or_deep_event_stay_bounded() -> None:
    huge = parse_event(_huge_raw(50_000), "events", 0.0)
    deep_raw = ('{"type":"track","event":"Deep","userId":"u1","properties":' + '{"n":' * 300
                + '{"leaf":1}' + "}" * 301).encode()
    deep = parse_event(deep_raw, "events", 0.0)
    cases = [
        ("properties.key049999:49999", huge, True),
        ("properties.key049999:>5", huge, True),
        ("properties.missing.path:*", huge, False),
        ("key049999", huge, True),
        ("-userId:u1", huge, False),
        ("properties" + ".n" * 300 + ".leaf:1", deep, True),
        ("properties" + ".n" * 20 + ":*", deep, True),
        ("leaf", deep, True),
    ]
    for text, event, expected in cases:
        query = parse_query(text)
        cpu = _timed(lambda q=query, e=event: q.matches(e))  # one parse of the payload each
        assert query.matches(event) is expected, text
        assert cpu < 1.0, f"{text[:40]!r} took {cpu:.2f} s"


def test_buffer_query_of_a_huge_event_is_a_bounded_frame() -> None:
    from segment_debugger.core.buffer import EventBuffer
    from segment_debugger.core.frame import MAX_COLUMNS

    buffer = EventBuffer(max_bytes=2**30)
    buffer.append(parse_event(_huge_raw(50_000), "events", 0.0))
    cpu = time.process_time()
    frame = buffer.query("userId:u1")
    cpu = time.process_time() - cpu
    assert len(frame) == 1
    assert frame.shape[1] <= 30 + MAX_COLUMNS  # unbounded: 50,020 columns
    assert frame.attrs["folded"] == {"properties._rest": 1}
    assert cpu < 5.0
