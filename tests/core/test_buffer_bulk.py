"""EventBuffer's bulk append (a chunk at a time) against the one-event-at-a-time loop.

The bulk path stands in for the loop whenever no messageId in a chunk is already buffered or
repeated; these tests check, over random streams with retries, missing ids, invalid events,
byte and count caps and an observer, that both leave the buffer, the events and the observer
in the same state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segment_debugger.analysis.plans import TrackingPlan
from segment_debugger.core import _buffer_append
from segment_debugger.core.buffer import SHARED_CHUNK, EventBuffer
from segment_debugger.core.checks import Checks
from segment_debugger.core.event import FROM_RAW, Event
from segment_debugger.core.segment import parse_event

STATS = ("received", "buffered", "evicted", "invalid", "warnings", "bytes", "by_type",
         "first_seq", "last_seq")


class Recorder:
    """An observer that keeps what it was told, as seqs."""

    def __init__(self) -> None:
        self.told: list[tuple[list[int], list[int]]] = []

    def appended(self, events: Sequence[Event], evicted: Sequence[Event]) -> None:
        self.told.append(([e.seq for e in events], [e.seq for e in evicted]))

    def cleared(self) -> None:
        self.told.append(([], []))


def payload(
    i: int, message_id: str | None, typ: str, pad: int, valid: bool,
    dates: tuple[str | None, str | None] = (None, None),
) -> bytes:
    """``dates``: sentAt and receivedAt (for the clock checks), or None each."""
    fields = [f'"type":"{typ}"', '"userId":"u"', '"event":"E"',
              '"timestamp":"2024-05-01T12:00:00Z"', f'"properties":{{"p":"{"x" * pad}"}}']
    if message_id is not None:
        fields.append(f'"messageId":"{message_id}"')
    sent, received = dates
    if not valid:
        sent = "yesterday"
    for key, text in (("sentAt", sent), ("receivedAt", received)):
        if text is not None:
            fields.append(f'"{key}":"{text}"')
    return ("{" + ",".join(fields) + "}").encode()


events_spec = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(0, 40).map(lambda n: f"m{n}")),  # retries: repeats
        st.sampled_from(["track", "identify", "page", "nope"]),
        st.integers(0, 300),
        st.booleans(),
    ),
    max_size=120,
)


#: A tracking plan some of the generated events break (a long ``p``).
PLAN = {"events": {"E": {"properties": {
    "type": "object", "properties": {"p": {"type": "string", "maxLength": 150}},
}}}}


def fill(
    spec: list[Any], chunks: list[int], bulk: bool, caps: dict[str, int], monkeypatch: Any,
    mode: str = "plain",
) -> tuple[EventBuffer, list[Event], Recorder]:
    """Append the events in ``chunks``: ``plain`` (default buffer), ``shared`` (a plan and
    schema inference on) or ``handed`` (the same, the parser's objects handed over)."""
    with monkeypatch.context() as patch:
        if not bulk:
            patch.setattr(_buffer_append._Appender, "_append_bulk_locked", lambda self, *a: False)
        if mode == "plain":
            buffer = EventBuffer(**caps)
        else:
            buffer = EventBuffer(**caps, tracking_plan=PLAN, infer_schemas=True)
        recorder = Recorder()
        buffer.add_observer(recorder)
        events = [
            parse_event(payload(i, *one), "events", 1.7e9, keep=mode == "handed")
            for i, one in enumerate(spec)
        ]
        pieces, start = [], 0
        for size in chunks:
            pieces.append(events[start:start + size])
            start += size
        pieces.append(events[start:])
        for piece in pieces:
            if mode == "handed":
                buffer.extend_handed([piece[i:i + SHARED_CHUNK]
                                      for i in range(0, len(piece), SHARED_CHUNK)])
            else:
                buffer.extend(piece)
    return buffer, events, recorder


@settings(max_examples=150, deadline=None)
@given(
    spec=events_spec,
    chunks=st.lists(st.integers(1, 40), max_size=8),
    caps=st.fixed_dictionaries({
        "max_messages": st.integers(1, 60), "max_bytes": st.integers(200, 20_000),
    }),
)
def test_bulk_append_leaves_what_the_loop_leaves(
    spec: list[Any], chunks: list[int], caps: dict[str, int]
) -> None:
    assert_same_as_the_loop(spec, chunks, caps, "plain")


@settings(max_examples=60, deadline=None)
@given(
    spec=events_spec,
    chunks=st.lists(st.integers(1, 40), max_size=8),
    caps=st.fixed_dictionaries({
        "max_messages": st.integers(1, 60), "max_bytes": st.integers(200, 20_000),
    }),
    mode=st.sampled_from(["shared", "handed"]),
)
def test_with_the_analysis_on_bulk_append_leaves_what_the_loop_leaves(
    spec: list[Any], chunks: list[int], caps: dict[str, int], mode: str
) -> None:
    """A tracking plan and schema inference on, payloads parsed here or handed over: the
    same violations, warnings, schemas and observers' calls; no parsed payload kept."""
    bulk, loop, bulk_events, loop_events = assert_same_as_the_loop(spec, chunks, caps, mode)
    assert all(e._data is FROM_RAW for e in bulk_events + loop_events)
    assert bulk.schemas().equals(loop.schemas())


#: sentAt/receivedAt around the timestamp (12:00): in time, ahead, behind, skewed, offset
DATES = st.sampled_from([
    None, "2024-05-01T12:00:01Z", "2024-05-01T11:00:00Z", "2024-05-03T12:00:00Z",
    "2023-01-01T00:00:00Z", "2024-05-01T14:00:00+02:00", "2024-05-01T12:00:00",
])


@settings(max_examples=60, deadline=None)
@given(
    spec=st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(0, 40).map(lambda n: f"m{n}")),
            st.sampled_from(["track", "identify", "nope"]),
            st.integers(0, 300),
            st.booleans(),
            st.tuples(DATES, DATES),
        ),
        max_size=120,
    ),
    chunks=st.lists(st.integers(1, 40), max_size=8),
    caps=st.fixed_dictionaries({
        "max_messages": st.integers(1, 60), "max_bytes": st.integers(200, 20_000),
    }),
    mode=st.sampled_from(["plain", "shared", "handed"]),
)
def test_with_every_clock_check_on_bulk_append_leaves_what_the_loop_leaves(
    spec: list[Any], chunks: list[int], caps: dict[str, int], mode: str
) -> None:
    """sentAt and receivedAt in and out of bounds (the clock checks read the parser's
    datetimes, the last dates it remembers included): the same warnings either way."""
    with_checks: dict[str, Any] = {
        **caps, "checks": Checks(future_s=60, sent_before_s=10, max_age_s=3600),
    }
    assert_same_as_the_loop(spec, chunks, with_checks, mode)


def test_a_check_that_raises_on_one_event_leaves_the_others_of_the_chunk_checked(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """A plan check failing on one event of a chunk is logged; the rest of the chunk is still
    checked (plan and clock), counted and buffered, in bulk as in the loop."""
    real = TrackingPlan.check

    def check(self: TrackingPlan, event: Event) -> None:
        if event.messageId == "m1":
            raise RuntimeError("a broken check")
        real(self, event)

    monkeypatch.setattr(TrackingPlan, "check", check)
    too_long = "x" * 200  # breaks PLAN's maxLength
    for bulk in (True, False):
        with monkeypatch.context() as patch:
            if not bulk:
                patch.setattr(_buffer_append._Appender, "_append_bulk_locked",
                              lambda self, *a: False)
            buffer = EventBuffer(tracking_plan=PLAN, checks=Checks(future_s=60))
            events = [
                parse_event(orjson.dumps({
                    "type": "track", "event": "E", "userId": "u", "messageId": f"m{i}",
                    "properties": {"p": too_long}, "timestamp": "2024-05-03T12:00:00Z",
                    "receivedAt": "2024-05-01T12:00:00Z",
                }), "events", 1.7e9)
                for i in range(3)
            ]
            caplog.clear()
            buffer.extend(events)
        assert [e.seq for e in buffer.snapshot()] == [1, 2, 3]
        assert [e.valid for e in events] == [False, True, False], bulk
        assert all(e.warnings for e in events), bulk  # the clock check ran on each
        assert buffer.stats["invalid"] == 2 and buffer.stats["warnings"] == 3
        assert "checking event seq 2 failed" in caplog.text


def assert_same_as_the_loop(
    spec: list[Any], chunks: list[int], caps: dict[str, int], mode: str
) -> tuple[EventBuffer, EventBuffer, list[Event], list[Event]]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        bulk, bulk_events, bulk_told = fill(spec, chunks, True, caps, monkeypatch, mode)
        loop, loop_events, loop_told = fill(spec, chunks, False, caps, monkeypatch, mode)
    bulk_stats, loop_stats = bulk.stats, loop.stats
    assert {k: bulk_stats[k] for k in STATS} == {k: loop_stats[k] for k in STATS}
    assert [e.seq for e in bulk.snapshot()] == [e.seq for e in loop.snapshot()]
    assert bulk._message_ids == loop._message_ids
    assert [(e.seq, e.warnings_view(), e.valid, e.violations_view()) for e in bulk_events] == [
        (e.seq, e.warnings_view(), e.valid, e.violations_view()) for e in loop_events
    ]
    assert bulk_told.told == loop_told.told
    return bulk, loop, bulk_events, loop_events


def test_a_chunk_without_repeated_ids_goes_in_bulk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The common case takes the bulk path; a retry in the chunk sends it to the loop."""
    taken: list[bool] = []
    real = _buffer_append._Appender._append_bulk_locked

    def spy(self: Any, batch: Sequence[Event], *args: bool) -> bool:
        taken.append(real(self, batch, *args))
        return taken[-1]

    monkeypatch.setattr(_buffer_append._Appender, "_append_bulk_locked", spy)
    buffer = EventBuffer(max_messages=3)
    fresh = [parse_event(payload(i, f"m{i}", "track", 1, True), "e", 1.0) for i in range(5)]
    buffer.extend(fresh)
    again = parse_event(payload(9, "m4", "track", 1, True), "e", 1.0)
    buffer.extend([again])
    assert taken == [True, False]
    assert again.warnings[0] == "duplicate messageId 'm4'"
    assert [e.seq for e in buffer.snapshot()] == [4, 5, 6]
    assert buffer._message_ids == {"m3": 1, "m4": 2}
