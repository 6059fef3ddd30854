"""parse_event's inlined hot path against the complete validation it stands in for.

The hot path only decides "valid, nothing to flag"; everything else goes to ``_validate``, which
words every problem. These tests check, on Segment-shaped payloads with every kind of defect,
that the hot path never accepts what the complete validation flags, and never changes a field.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segment_debugger.core.event import Event
from segment_debugger.core.segment import EVENT_TYPES, _parse, _validate, parse_event
from segment_debugger.playground.fake import FakeEventStream

COMPARED = (
    "raw", "channel", "received_at", "pattern", "seq", "size", "type", "event", "name", "userId",
    "anonymousId", "messageId", "groupId", "previousId", "timestamp", "sentAt", "receivedAt",
    "valid", "violations", "stream_id",
)


def fields(event: Event) -> dict[str, Any]:
    out = {name: getattr(event, name) for name in COMPARED}
    out["groups"] = event.groups()
    out["data"] = event.data
    return out


def complete(raw: bytes) -> Event:
    """The complete validation alone (no hot path)."""
    data = orjson.loads(raw)
    return _validate(raw, "events", 1.5, None, data, [])


def same_as_complete(raw: bytes) -> Event:
    event = parse_event(raw, "events", 1.5)
    assert fields(event) == fields(complete(raw)), raw[:300]
    return event


texts = st.one_of(
    st.sampled_from(["u-1", "Order Completed", "Café", "注文", "👨\u200d👩\u200d👧", "a b", ""]),
    st.text(max_size=12),
    st.sampled_from(["admin\u202e-1", "x\x00", "x\x7f", "\u200bid", "nb\xa0sp", "tab\t"]),
)
values = st.one_of(
    texts, st.none(), st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(), st.lists(st.booleans(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.booleans(), max_size=2),
)
dates = st.one_of(
    st.sampled_from([
        "2024-05-01T12:34:56.789Z", "2024-05-01T12:34:56Z", "2024-05-01t12:34:56+02:00",
        "2024-05-01 12:34:56", "2024-05-01", "2024-05-01T12", "2024-05-01T12:34:56.123456789Z",
        "2024-05-01T12:34:56,5Z", "20240501T123456Z", "20240501", "2024-05-01X12:34:56",
        "2024-13-01T00:00:00Z", "2024-02-30", "2024", "2024-05", "yesterday", "", "1714567890",
    ]),
    st.text(max_size=25), st.integers(-(2**63), 2**63), st.none(),
    st.lists(st.text(max_size=3), max_size=1),
)
objects = st.one_of(
    st.dictionaries(st.text(max_size=6), st.text(max_size=6) | st.booleans(), max_size=4),
    st.lists(st.booleans(), max_size=2), st.text(max_size=4), st.booleans(), st.none(),
)
KEYS: dict[str, Any] = {
    "type": st.sampled_from(EVENT_TYPES) | st.sampled_from(["foo", "Track", "track\u200b"])
    | values,
    **{key: st.sampled_from(["u-1", "E", "g"]) | values for key in (
        "event", "name", "userId", "anonymousId", "messageId", "groupId", "previousId")},
    **{key: dates for key in ("timestamp", "sentAt", "receivedAt", "originalTimestamp")},
    **{key: objects for key in ("properties", "traits", "context")},
}


@st.composite
def segment_payloads(draw: Any) -> bytes:
    keys = draw(st.lists(st.sampled_from(list(KEYS)), unique=True, max_size=len(KEYS)))
    obj = {key: draw(KEYS[key]) for key in keys}
    if draw(st.booleans()):  # the usual shape: a known type and the ids it needs
        obj.setdefault("type", draw(st.sampled_from(EVENT_TYPES)))
        obj.setdefault("userId", "u")
    style = draw(st.sampled_from(["orjson", "compact", "spaced", "indent", "ascii"]))
    if style == "orjson":
        text = orjson.dumps(obj).decode()
    else:
        text = json.dumps(
            obj,
            ensure_ascii=style == "ascii",
            indent=2 if style == "indent" else None,
            separators=(",", ":") if style == "compact" else None,
        )
    if draw(st.integers(0, 5)) == 0 and text.startswith("{") and len(text) > 2:
        key = draw(st.sampled_from(list(KEYS)))  # a duplicate key, first in the object
        text = "{" + json.dumps(key) + ":" + json.dumps(draw(values)) + "," + text[1:]
    return text.encode("utf-8", "surrogatepass")


@settings(max_examples=500, deadline=None)
@given(segment_payloads())
def test_hot_path_agrees_with_the_complete_validation(raw: bytes) -> None:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:  # lone surrogates from st.text: not for the hot path
        return
    same_as_complete(raw)


def test_fake_stream_and_its_json_dumps_twin_agree() -> None:
    stream = FakeEventStream(seed=3)
    for _ in range(300):
        raw = stream.payload()
        assert same_as_complete(raw).valid
        assert same_as_complete(json.dumps(orjson.loads(raw)).encode()).valid
        assert same_as_complete(json.dumps(orjson.loads(raw), indent=1).encode()).valid


def test_hot_path_defers_each_kind_of_problem() -> None:
    ok: dict[str, Any] = {"type": "track", "event": "E", "userId": "u",
                          "timestamp": "2024-05-01T12:34:56.789Z"}
    cases = [
        {**ok, "type": ["track"]},  # unhashable type
        {**ok, "type": {"a": 1}},
        {**ok, "userId": 0},  # falsy non-string
        {**ok, "userId": False},
        {**ok, "event": []},
        {**ok, "messageId": {}},
        {**ok, "timestamp": 0},
        {**ok, "timestamp": "20240501T123456Z"},  # basic format: fromisoformat takes it
        {**ok, "timestamp": "2024-05-01X12:34:56"},  # odd separator: fromisoformat takes it
        {**ok, "sentAt": "2024"},
        {**ok, "originalTimestamp": "2024-05-01T25:00:00Z"},
        {**ok, "properties": []},
        {**ok, "context": "c"},
        {"type": "alias", "userId": "u", "previousId": ""},
        {"type": "group", "userId": "u", "groupId": ""},
        {"type": "track", "event": "E", "anonymousId": ""},
        {**ok, "name": "nb\xa0sp"},  # not printable, yet not flagged
    ]
    for obj in cases:
        raw = orjson.dumps(obj)
        event = same_as_complete(raw)
        if obj.get("name") != "nb\xa0sp":
            assert not event.valid, obj


def test_duplicates_and_size_on_an_otherwise_valid_event() -> None:
    raw = b'{"type":"track","event":"E","userId":"u","context":{"ip":"1","ip":"2"}}'
    assert same_as_complete(raw).violations == [
        "duplicate key 'context.ip' (parsers disagree: the last value wins here)"]
    quoted = b'{"type":"track","event":"E\\u0022","userId":"u"}'  # inconclusive, no duplicate
    event = same_as_complete(quoted)
    assert event.valid and event.violations == []
    big = orjson.dumps({"type": "track", "event": "E", "userId": "u", "p": "x" * 40_000})
    assert same_as_complete(big).violations == [
        f"payload is {len(big):,} bytes, over Segment's 32 KB limit"]
    both = big[:-1] + b',"p":1}'
    assert same_as_complete(both).violations == [
        "duplicate key 'p' (parsers disagree: the last value wins here)",
        f"payload is {len(both):,} bytes, over Segment's 32 KB limit",
    ]


def test_not_an_object_and_coerced_arguments_take_the_general_path() -> None:
    for raw in (b"", b"[1]", b"nope", b"\xff"):
        assert parse_event(raw, "c", 0.0).violations == _parse(raw, "c", 0.0, None).violations
    event = parse_event(bytearray(b'{"type":"identify","userId":"u"}'), b"ch", 0.0, b"p*")  # type: ignore[arg-type]
    assert (event.valid, event.raw, event.channel, event.pattern) == (
        True, b'{"type":"identify","userId":"u"}', "ch", "p*")


@pytest.mark.parametrize("raw_text, flagged", [
    (b"plain-ascii id", False),
    (b"del\x7fhere", True),  # DEL is ASCII and written raw by JSON encoders: not printable
    (b"esc\\u0001aped", True),  # a control character can only arrive escaped
    (b"tab\\there", True),
    (b"zero\xe2\x80\x8bwidth", True),  # U+200B written raw: no backslash, not ASCII
    (b"caf\xc3\xa9", False),
    (b"nul\\u0000", True),
    (b"admin\\u202e-1", True),  # an escaped bidi override
    (b"admin\xe2\x80\xae-1", True),  # the same written raw: not ASCII
    (b"del\\u007f", True),
    (b"a\\/b", False),  # an escaped solidus is a plain "/"
    (b"\\ud83d\\ude00", False),  # an escaped surrogate pair: one printable emoji
])
def test_the_ascii_shortcut_never_passes_a_hidden_character(
    raw_text: bytes, flagged: bool
) -> None:
    """In a payload without a backslash or DEL byte, an ASCII string is taken as printable."""
    for key in (b"userId", b"event", b"messageId", b"anonymousId", b"name"):
        raw = b'{"type":"track","event":"E","userId":"u","' + key + b'":"' + raw_text + b'"}'
        event = same_as_complete(raw)
        found = [v for v in event.violations if "invisible" in v]
        assert bool(found) is flagged, (key, raw_text)
