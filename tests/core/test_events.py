"""Unit tests for segment_debugger.core.segment: parsing, Segment-spec violations, hostile input."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segment_debugger.core.event import FIELDS, Event
from segment_debugger.core.segment import (
    EVENT_TYPES,
    MAX_EVENT_BYTES,
    duplicate_violation,
    is_iso8601,
    parse_event,
)
from segment_debugger.playground.fake import FakeEventStream

NOW = "2024-05-01T12:34:56.789Z"


def parse(payload: Any) -> Event:
    if not isinstance(payload, bytes):  # stdlib json: handles deep nesting and big integers
        payload = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    raw = payload
    return parse_event(raw, "events", 1714567890.5)


def valid_events() -> list[dict[str, Any]]:
    """One realistic, spec-conforming message of each of the six types."""
    common = {
        "messageId": "ajs-next-1714567890-0f3e",
        "timestamp": NOW,
        "sentAt": "2024-05-01T12:34:56.800Z",
        "receivedAt": "2024-05-01T12:34:57.012+00:00",
        "originalTimestamp": "2024-05-01T12:34:56.789123Z",
        "context": {"library": {"name": "analytics.js", "version": "4.1.0"}, "ip": "8.8.8.8"},
    }
    return [
        {
            **common,
            "type": "track",
            "event": "Order Completed",
            "userId": "user-42",
            "properties": {"revenue": 10.0, "currency": "USD", "products": [{"sku": "A"}]},
        },
        {**common, "type": "identify", "userId": "user-42", "traits": {"email": "a@b.c"}},
        {**common, "type": "page", "anonymousId": "anon-1", "name": "Pricing", "properties": {}},
        {**common, "type": "screen", "userId": "user-9", "name": "Home"},
        {**common, "type": "group", "userId": "u-4", "groupId": "g-1", "traits": {"plan": "pro"}},
        {**common, "type": "alias", "userId": "user-42", "previousId": "anon-1"},
    ]


@pytest.mark.parametrize("payload", valid_events(), ids=lambda p: p["type"])
def test_valid_events_of_every_type_have_no_violations(payload: dict[str, Any]) -> None:
    event = parse(payload)
    assert event.violations == []
    assert event.valid is True
    assert event.data == payload
    assert event.type == payload["type"]
    assert event.userId == payload.get("userId")
    assert event.anonymousId == payload.get("anonymousId")
    assert event.messageId == payload["messageId"]
    assert event.timestamp == NOW
    assert event.sentAt == payload["sentAt"]
    assert event.receivedAt == payload["receivedAt"]
    assert event.context == payload["context"]
    assert event.properties == payload.get("properties")
    assert event.traits == payload.get("traits")
    assert event.event == payload.get("event")
    assert event.name == payload.get("name")
    assert event.groupId == payload.get("groupId")
    assert event.previousId == payload.get("previousId")


def test_valid_events_cover_all_six_types() -> None:
    assert sorted(p["type"] for p in valid_events()) == sorted(EVENT_TYPES)


def test_envelope_fields_are_kept() -> None:
    raw = b'{"type":"identify","userId":"u"}'
    event = parse_event(raw, "segment.events", 12.5, pattern="segment.*")
    assert event.raw is raw
    assert (event.channel, event.pattern) == ("segment.events", "segment.*")
    assert event.received_at == 12.5
    assert event.size == len(raw)
    assert event.seq == -1


def test_fake_stream_valid_events_have_no_violations() -> None:
    stream = FakeEventStream(seed=7)
    for _ in range(300):
        event = parse_event(stream.payload(), "events", 0.0)
        assert event.violations == [], event.raw_text()


def violations_of(payload: Any) -> list[str]:
    event = parse(payload)
    assert event.valid is (not event.violations)
    return event.violations


OK = {"type": "track", "event": "E", "userId": "u"}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"", ["empty payload"]),
        (b"\xff\xfe{}", ["not valid UTF-8 (byte 0xff at offset 0)"]),
        (b'{"type":"track","event":"caf\xe9"}', ["not valid UTF-8 (byte 0xe9 at offset 28)"]),
        (b"[1, 2]", ["JSON is an array, not an object"]),
        (b"42", ["JSON is a number, not an object"]),
        (b'"hello"', ["JSON is a string, not an object"]),
        (b"true", ["JSON is a boolean, not an object"]),
        (b"null", ["JSON is null, not an object"]),
        ({"event": "E", "userId": "u"}, ["missing type"]),
        ({**OK, "type": "foo"}, ["unknown type 'foo'"]),
        ({**OK, "type": 3}, ["type is a number, not a string"]),
        ({"type": "track", "userId": "u"}, ["track without event"]),
        ({"type": "track", "event": "", "userId": "u"}, ["track without event"]),
        ({"type": "track", "event": "E"}, ["neither userId nor anonymousId"]),
        ({**OK, "userId": None}, ["neither userId nor anonymousId"]),
        ({"type": "identify", "anonymousId": "a"}, []),
        ({"type": "alias", "userId": "u"}, ["alias without previousId"]),
        ({"type": "alias", "previousId": "p", "anonymousId": "a"}, ["alias without userId"]),
        ({"type": "group", "userId": "u"}, ["group without groupId"]),
        ({**OK, "userId": 42}, ["userId is a number, not a string"]),
        ({**OK, "messageId": ["x"]}, ["messageId is an array, not a string"]),
        ({**OK, "timestamp": "yesterday"}, ["timestamp is not an ISO-8601 date: 'yesterday'"]),
        ({**OK, "sentAt": 1714567890}, ["sentAt is not an ISO-8601 date: 1714567890"]),
        (
            {**OK, "receivedAt": "2024-13-01T00:00:00Z"},
            ["receivedAt is not an ISO-8601 date: '2024-13-01T00:00:00Z'"],
        ),
        (
            {**OK, "originalTimestamp": "01/05/2024"},
            ["originalTimestamp is not an ISO-8601 date: '01/05/2024'"],
        ),
        ({**OK, "properties": [1]}, ["properties is an array, not an object"]),
        ({**OK, "traits": "vip"}, ["traits is a string, not an object"]),
        ({**OK, "context": 5}, ["context is a number, not an object"]),
    ],
)
def test_violation(payload: Any, expected: list[str]) -> None:
    assert violations_of(payload) == expected


def test_not_json_says_where() -> None:
    (violation,) = violations_of(b'{"type": "track",}')
    assert violation.startswith("not JSON: ")
    assert violation == "not JSON: trailing comma is not allowed at char 16"


def test_several_violations_are_all_reported() -> None:
    payload = {"type": "track", "userId": 42, "timestamp": "soon", "properties": "x"}
    assert violations_of(payload) == [
        "userId is a number, not a string",
        "track without event",
        "timestamp is not an ISO-8601 date: 'soon'",
        "properties is a string, not an object",
    ]


def test_non_string_ids_are_kept_as_text() -> None:
    event = parse({**OK, "userId": 42, "anonymousId": True, "groupId": {"a": 1}})
    assert (event.userId, event.anonymousId, event.groupId) == ("42", "true", '{"a":1}')


def test_integers_beyond_64_bits_do_not_break_parsing() -> None:
    event = parse({**OK, "userId": 10**30, "properties": {"n": -(10**30)}})
    assert float(event.userId or "") == 1e30
    assert event.violations == ["userId is a number, not a string"]


def test_non_string_type_is_kept_as_text() -> None:
    event = parse({**OK, "type": 3})
    assert event.type == "3"


def test_payload_over_32kb_is_flagged_with_its_size() -> None:
    padding = "x" * (MAX_EVENT_BYTES - len(orjson.dumps({**OK, "p": ""})))
    at_limit = orjson.dumps({**OK, "p": padding})
    assert len(at_limit) == MAX_EVENT_BYTES
    assert violations_of(at_limit) == []
    over = orjson.dumps({**OK, "p": padding + "x" * 7_000})
    assert violations_of(over) == [f"payload is {len(over):,} bytes, over Segment's 32 KB limit"]


def test_big_non_json_payload_gets_both_violations() -> None:
    assert violations_of(b"x" * 40_000) == [
        "not JSON: unexpected character, expected a JSON value at char 0",
        "payload is 40,000 bytes, over Segment's 32 KB limit",
    ]


def test_non_utf8_keeps_raw_and_shows_replacement_text() -> None:
    raw = b'{"type":"track","event":"caf\xe9"}'
    event = parse(raw)
    assert event.raw == raw
    assert event.data is None
    assert event.raw_text() == '{"type":"track","event":"caf\ufffd"}'


@pytest.mark.parametrize(
    "raw",
    [b"\x00\x01\x02garbage\xff", b"\xc3\x28", b"   ", b"{", b"}}}{{{", b"\xef\xbb\xbf{}", b"nan"],
)
def test_garbage_is_flagged_not_raised(raw: bytes) -> None:
    event = parse(raw)
    assert event.valid is False
    assert event.data is None
    assert len(event.violations) == 1
    assert event.raw == raw


def test_large_valid_payload_parses() -> None:
    payload = {**OK, "properties": {"blob": "y" * 1_200_000}}
    event = parse(payload)
    assert event.properties == payload["properties"]
    assert event.violations == [f"payload is {event.size:,} bytes, over Segment's 32 KB limit"]


def test_deep_nesting_parses() -> None:
    deep: Any = "bottom"
    for _ in range(300):
        deep = {"d": deep}
    event = parse({**OK, "properties": deep})
    assert event.violations == []
    depth, node = 0, event.properties
    while isinstance(node, dict):
        node, depth = node["d"], depth + 1
    assert (depth, node) == (300, "bottom")


def test_html_in_fields_is_not_a_violation() -> None:
    html = '<img src=x onerror=alert(1)><script>alert("x")</script>'
    event = parse({**OK, "event": html, "properties": {"title": html}})
    assert event.violations == []
    assert event.event == html


def test_non_bytes_payloads_are_coerced() -> None:
    assert parse_event(bytearray(b'{"type":"identify","userId":"u"}'), "c", 0.0).valid
    assert parse_event(memoryview(b'{"type":"identify","userId":"u"}'), "c", 0.0).valid
    text_event = parse_event('{"type":"identify","userId":"ü"}', "c", 0.0)  # type: ignore[arg-type]
    assert text_event.raw == '{"type":"identify","userId":"ü"}'.encode()
    assert text_event.valid
    odd = parse_event(None, b"chan", 0.0)  # type: ignore[arg-type]
    assert odd.valid is False
    assert odd.channel == "chan"
    assert "payload is a NoneType, not bytes" in odd.violations


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("2024-05-01T12:34:56.789Z", True),
        ("2024-05-01T12:34:56Z", True),
        ("2024-05-01T12:34:56.78Z", True),
        ("2024-05-01T12:34:56.123456789Z", True),
        ("2024-05-01T12:34:56+05:30", True),
        ("2024-05-01T12:34:56-0800", True),
        ("2024-05-01 12:34:56", True),
        ("2024-05-01", True),
        ("2024-02-30", False),
        ("2024-05-01T25:00:00Z", False),
        ("2024-05-01x12:34:56", False),
        ("20240501T123456Z", False),
        ("yesterday", False),
        ("", False),
        ("1714567890", False),
    ],
)
def test_is_iso8601(text: str, ok: bool) -> None:
    assert is_iso8601(text) is ok


def test_duplicate_violation_names_the_message_id() -> None:
    assert duplicate_violation("m-1") == "duplicate messageId 'm-1'"
    assert len(duplicate_violation("x" * 500)) < 80


def test_event_to_dict_is_json_able_and_complete() -> None:
    event = parse_event(b'{"type":"track","event":"E","userId":7}', "events", 3.25, "ev*")
    event.seq = 5
    out = event.to_dict()
    assert json.loads(json.dumps(out)) == out
    assert out["seq"] == 5
    assert out["received_at"] == 3.25
    assert out["raw"] == '{"type":"track","event":"E","userId":7}'
    assert out["userId"] == "7"
    assert out["violations"] == ["userId is a number, not a string"]
    assert out["valid"] is False
    assert out["pattern"] == "ev*"
    assert out["data"] == {"type": "track", "event": "E", "userId": 7}
    out["violations"].append("x")
    assert event.violations == ["userId is a number, not a string"]
    fields = set(FIELDS) - {"raw"}
    assert fields <= set(out)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
segment_keys = st.sampled_from(
    [
        "type",
        "event",
        "name",
        "userId",
        "anonymousId",
        "messageId",
        "groupId",
        "previousId",
        "timestamp",
        "sentAt",
        "receivedAt",
        "originalTimestamp",
        "properties",
        "traits",
        "context",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_parse_event_never_raises_on_bytes(raw: bytes) -> None:
    event = parse_event(raw, "events", 0.0)
    assert event.raw == raw
    assert event.valid is (not event.violations)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_parse_event_never_raises_on_json_values(value: Any) -> None:
    event = parse(value)
    assert event.valid is (not event.violations)
    assert (event.data is not None) is isinstance(value, dict)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(segment_keys, json_values, max_size=10))
def test_parse_event_never_raises_on_segment_shaped_objects(value: dict[str, Any]) -> None:
    event = parse(value)
    assert event.data == value
    assert event.valid is (not event.violations)
    for key in ("userId", "anonymousId", "messageId", "event", "name", "groupId", "previousId"):
        assert getattr(event, key) is None or isinstance(getattr(event, key), str)


def test_each_bad_timestamp_is_reported_once_among_good_ones() -> None:
    payload = {
        **OK,
        "timestamp": NOW,
        "sentAt": "2024-05-01x12:34:56",
        "receivedAt": NOW,
        "originalTimestamp": "20240501T123456Z",
    }
    assert violations_of(payload) == [
        "sentAt is not an ISO-8601 date: '2024-05-01x12:34:56'",
        "originalTimestamp is not an ISO-8601 date: '20240501T123456Z'",
    ]
    event = parse(payload)
    assert (event.timestamp, event.sentAt, event.receivedAt) == (NOW, payload["sentAt"], NOW)


# -- representation: a parsed event keeps a flat record, parsed objects come from raw ----------


def test_parsed_event_keeps_no_containers_but_gives_the_parsed_objects() -> None:
    import gc

    payload = {
        "type": "track",
        "event": "E",
        "userId": "u",
        "properties": {"products": [{"sku": "a"}], "n": 1},
        "traits": ["not", "an", "object"],
        "context": {"library": {"name": "x"}},
    }
    valid = parse_event(orjson.dumps({**payload, "traits": {"plan": "pro"}}), "events", 1.0)
    assert valid.valid and valid.traits == {"plan": "pro"}
    # nothing the cyclic GC must scan hangs off a valid buffered event: no dict, no list
    assert not [r for r in gc.get_referents(valid) if isinstance(r, dict | list)]
    event = parse_event(orjson.dumps(payload), "events", 1.0)
    assert event.data == payload
    assert event.properties == payload["properties"]
    assert event.traits is None  # not an object: flagged, left empty
    assert event.context == payload["context"]
    assert event.groups() == (payload["properties"], None, payload["context"])
    assert event.violations == ["traits is an array, not an object"]


def test_assigned_objects_are_kept_as_given() -> None:
    event = parse_event(b'{"type":"track","event":"E","userId":"u","properties":{"a":1}}', "c", 0)
    mine = {"b": 2}
    event.properties = mine
    assert event.properties is mine
    assert event.groups() == (mine, None, None)
    event.data = None
    assert event.data is None


def test_violations_list_is_the_events_own() -> None:
    event = parse_event(b'{"type":"track","event":"E","userId":"u"}', "c", 0)
    assert event.violations_view() == ()
    event.violations.append("made up")
    assert event.violations == ["made up"]
    assert list(event.violations_view()) == ["made up"]
    assert Event(b"", "c", 0.0).violations == []


def test_event_class_matches_the_field_declaration() -> None:
    """FIELDS is the one declaration: the constructor, the attributes and to_dict follow it."""
    import inspect

    params = list(inspect.signature(Event.__init__).parameters)[1:]
    assert params == list(FIELDS)
    event = Event(b"{}", "c", 1.0)
    for name in FIELDS:
        getattr(event, name)  # every declared field is an attribute
    assert set(event.to_dict()) == set(FIELDS)


# -- duplicate keys (issue 8) -------------------------------------------------------------------


def duplicates_of(raw: bytes) -> list[str]:
    return [v for v in parse_event(raw, "events", 0.0).violations if "duplicate key" in v]


def test_top_level_duplicate_key_is_flagged_and_the_event_kept() -> None:
    raw = b'{"type":"track","event":"E","userId":"u","type":"identify"}'
    event = parse_event(raw, "events", 0.0)
    assert event.violations == [
        "duplicate key 'type' (parsers disagree: the last value wins here)"
    ]
    assert not event.valid
    assert event.raw == raw  # kept exactly as received
    assert event.type == "identify"  # what orjson (and this parser) keeps: the last value


@pytest.mark.parametrize(
    ("raw", "paths"),
    [
        (b'{"type":"track","event":"E","userId":"u","properties":{"plan":"a","plan":"b"}}',
         ["properties.plan"]),
        (b'{"type":"track","event":"E","userId":"u","context":{"a":{"b":{"c":1,"c":2}}}}',
         ["context.a.b.c"]),
        (b'{"type":"track","event":"E","userId":"u","properties":{"l":[1,{"k":1,"k":2}]}}',
         ["properties.l.1.k"]),
        # pretty-printed, and the two copies hold different kinds of value
        (b'{\n  "type": "track",\n  "event": "E",\n  "userId": "u",\n  "userId": ["v"]\n}',
         ["userId"]),
        # a quote written as \u0022 makes the cheap check inconclusive: the exact one decides
        (b'{"type":"track","event":"E","userId":"u\\u0022","userId":"v"}', ["userId"]),
        # the same key written with an escape is the same key
        (b'{"type":"track","event":"E","userId":"u","\\u0075serId":"v"}', ["userId"]),
        (b'{"type":"track","event":"E","userId":"u","a":1,"b":2,"a":3,"b":4}', ["a", "b"]),
    ],
)
def test_nested_and_escaped_duplicate_keys_are_flagged_with_their_path(
    raw: bytes, paths: list[str]
) -> None:
    assert duplicates_of(raw) == [
        f"duplicate key {path!r} (parsers disagree: the last value wins here)" for path in paths
    ]


def test_many_duplicates_name_three_and_count_the_rest() -> None:
    pairs = ",".join(f'"k{i}":1,"k{i}":2' for i in range(10))
    event = parse_event(('{"type":"identify","userId":"u",' + pairs + "}").encode(), "e", 0.0)
    assert event.violations[:3] == [
        f"duplicate key 'k{i}' (parsers disagree: the last value wins here)" for i in range(3)
    ]
    assert event.violations[3:] == ["7 more duplicate keys"]


def test_hostile_duplicate_paths_are_shortened() -> None:
    key = "k" * 5000
    inner = '{"' + key + '":{"x":1,"x":2}}'
    event = parse_event(('{"type":"identify","userId":"u","traits":' + inner + "}").encode(), "e",
                        0.0)
    (violation,) = event.violations
    assert len(violation) < 130
    assert violation.startswith("duplicate key 'traits.kkk")
    assert "k…k" in violation
    assert violation.endswith("kk.x' (parsers disagree: the last value wins here)")


def test_duplicates_are_found_beyond_what_orjson_writes_back() -> None:
    deep = '{"n":' * 300 + '{"a":1,"a":2}' + "}" * 300  # orjson writes 254 levels at most
    raw = ('{"type":"track","event":"E","userId":"u","properties":' + deep + "}").encode()
    (violation,) = duplicates_of(raw)  # the 300-level path is shortened: check both ends
    assert violation.startswith("duplicate key 'properties.n.n.")
    assert violation.endswith(".n.a' (parsers disagree: the last value wins here)")
    clean = ('{"type":"track","event":"E","userId":"u","properties":' + '{"n":' * 300 + "1"
             + "}" * 301).encode()
    assert parse_event(clean, "e", 0.0).violations == []


json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(
    allow_nan=False, allow_infinity=False
) | st.text()
json_objects = st.recursive(
    st.dictionaries(st.text(max_size=8), json_scalars, max_size=5),
    lambda children: st.dictionaries(
        st.text(max_size=8), children | st.lists(children, max_size=3), max_size=5
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    json_objects,
    st.sampled_from([None, 0, 2, "\t"]),
    st.booleans(),
    st.sampled_from([(",", ":"), (", ", ": "), (" , ", " : ")]),
)
def test_no_duplicate_is_reported_where_there_is_none(
    obj: dict[str, Any], indent: Any, ensure_ascii: bool, separators: tuple[str, str]
) -> None:
    payload = {"type": "track", "event": "E", "userId": "u", "properties": obj}
    raw = json.dumps(payload, indent=indent, ensure_ascii=ensure_ascii,
                     separators=separators).encode()
    assert duplicates_of(raw) == []
    assert orjson.loads(raw) == parse_event(raw, "e", 0.0).data


@settings(max_examples=200, deadline=None)
@given(json_objects, st.data())
def test_an_injected_duplicate_is_always_reported(obj: dict[str, Any], data: Any) -> None:
    key = data.draw(st.text(max_size=8))
    first, second = data.draw(json_scalars), data.draw(json_scalars)
    body = json.dumps(obj, ensure_ascii=data.draw(st.booleans()))[1:-1]
    pairs = [json.dumps(key) + ":" + json.dumps(first), body, json.dumps(key) + ":"
             + json.dumps(second)]
    raw = ('{"type":"identify","userId":"u","traits":{' + ",".join(p for p in pairs if p)
           + "}}").encode()
    assert duplicates_of(raw)[0] == (
        f"duplicate key {_path_text('traits.' + key)} (parsers disagree: the last value wins here)"
    )


def _path_text(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:20] + "…" + text[-39:])


# -- invisible and reordering characters (issue 8) ----------------------------------------------

INVISIBLE = {
    "NUL": "\x00",
    "ESC": "\x1b",
    "newline": "\n",
    "DEL": "\x7f",
    "C1 NEL": "\x85",
    "C1 CSI": "\x9b",
    "LRE": "\u202a",
    "RLO": "\u202e",
    "LRI": "\u2066",
    "PDI": "\u2069",
    "ZWSP": "\u200b",
    "ZWNJ": "\u200c",
    "ZWJ": "\u200d",
    "RLM": "\u200f",
    "word joiner": "\u2060",
    "BOM": "\ufeff",
    "soft hyphen": "\xad",
}


@pytest.mark.parametrize("name", list(INVISIBLE))
@pytest.mark.parametrize("field", ["userId", "anonymousId", "event", "messageId", "previousId"])
def test_invisible_or_reordering_characters_in_ids_are_flagged(name: str, field: str) -> None:
    char = INVISIBLE[name]
    payload = {"type": "alias", "event": "E", "userId": "u", "previousId": "p",
               field: f"admin{char}-1"}
    event = parse(payload)
    assert f"{field} contains invisible or reordering characters (U+{ord(char):04X})" in (
        event.violations
    ), name
    assert not event.valid
    assert getattr(event, field) == f"admin{char}-1"  # kept as it is, flagged


def test_trojan_source_user_id_names_each_character_once() -> None:
    spoof = "user\u202e\u2066nimda\u2069\u202c-1\u202e"
    assert violations_of({**OK, "userId": spoof}) == [
        "userId contains invisible or reordering characters (U+202E, U+2066, U+2069, U+202C)"
    ]


def test_invisible_characters_in_type_are_flagged_too() -> None:
    assert violations_of({**OK, "type": "track\u200b"}) == [
        "unknown type 'track\\u200b'",
        "type contains invisible or reordering characters (U+200B)",
    ]


@pytest.mark.parametrize(
    "text",
    ["Café Ordered", "注文完了", "Zahlung über 10 €", "🛒 added", "👨\u200d👩\u200d👧 family",
     "👍🏽\u200d", "a b", "tab-free"],
)
def test_visible_text_is_not_flagged(text: str) -> None:
    found = [v for v in violations_of({**OK, "event": text, "userId": text}) if "invisible" in v]
    if text == "👍🏽\u200d":  # a joiner with nothing after it joins nothing: flagged
        assert found
    else:
        assert found == []


def test_every_flagged_character_fails_isprintable() -> None:
    """The hot path checks str.isprintable() first: it must be False for each of them."""
    from segment_debugger.core._segment_validate import _INVISIBLE_RE

    flagged = [chr(c) for c in range(0x110000) if _INVISIBLE_RE.match(chr(c))]
    assert len(flagged) > 80
    assert not any(c.isprintable() for c in flagged)
