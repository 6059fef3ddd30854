"""The parser's objects handed to the analysis (parse_event(keep=True), EventBuffer.extend_handed).

With the analysis on, what a source parsed is read by the plan check and the observers instead
of a second ``orjson.loads``, a chunk at a time, and let go afterwards; everything observable is
what the ordinary path gives.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from support.waiting import count_wakes

from segment_debugger.analysis.people import attach as attach_people
from segment_debugger.core import _buffer_append as buffer_module
from segment_debugger.core.buffer import SHARED_CHUNK, EventBuffer
from segment_debugger.core.checks import Checks
from segment_debugger.core.event import FROM_RAW, Event
from segment_debugger.core.segment import parse_event
from segment_debugger.playground.fake import FakeEventStream

PLAN = {"events": {"Order Completed": {"properties": {
    "type": "object", "properties": {"revenue": {"type": "string"}}}}}}


def payloads(n: int) -> list[bytes]:
    stream = FakeEventStream(seed=11, invalid_fraction=0.05, clock=lambda: 1.7e9)
    out = [stream.payload() for _ in range(n)]
    out[5] = out[4]  # a retry: a duplicate messageId
    out[9] = b'{"type":"track","event":"E","userId":"u","a":1,"a":2}'  # duplicate keys
    out[10] = b"[1, 2]"  # not an object
    out[11] = b'{"type":"track","event":"E","userId":"u","properties":{"price":"9"}}'
    return out


def test_parse_event_keeps_the_parsed_object_only_when_asked() -> None:
    raw = b'{"type":"track","event":"E","userId":"u","properties":{"n":1}}'
    kept = parse_event(raw, "c", 1.0, keep=True)
    assert isinstance(kept._data, dict) and kept._data == orjson.loads(raw)
    assert kept.properties == {"n": 1}
    assert parse_event(raw, "c", 1.0)._data is FROM_RAW
    slow = parse_event(b'{"type":"track","userId":"u"}', "c", 1.0, keep=True)  # no event name
    assert slow._data is FROM_RAW and not slow.valid
    assert parse_event(b"[1]", "c", 1.0, keep=True).data is None


def chunked(raws: list[bytes]) -> Iterator[list[Event]]:
    for start in range(0, len(raws), SHARED_CHUNK):
        yield [parse_event(p, "events", 1.7e9, keep=True) for p in raws[start:start + SHARED_CHUNK]]


def verdicts(buf: EventBuffer) -> list[Any]:
    return [(e.seq, e.valid, e.violations_view(), e.warnings_view()) for e in buf]


@pytest.mark.parametrize("analysis", [True, False], ids=["analysis", "no-analysis"])
def test_extend_handed_matches_extend_without_parsing_again(
    analysis: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same verdicts, stats, schemas and people as extend(); the buffer parses only the events
    the parser did not hand over; chunks reach observers whole; nothing is kept afterwards."""
    raws = payloads(7 * SHARED_CHUNK + 5)

    def make() -> EventBuffer:
        buf = EventBuffer(
            max_messages=100, checks=Checks(), tracking_plan=PLAN if analysis else None,
            infer_schemas=analysis,
        )
        attach_people(buf)
        return buf

    plain = make()
    plain.extend([parse_event(p, "events", 1.7e9) for p in raws])

    handed = make()
    seen: list[list[Any]] = []

    class Watch:
        def appended(self, events: Any, evicted: Any) -> None:
            seen.append([e._data for e in events])

        def cleared(self) -> None:
            pass

    handed.add_observer(Watch())
    calls: list[bytes] = []
    real = buffer_module._loads

    def counting(raw: bytes) -> Any:
        calls.append(raw)
        return real(raw)

    monkeypatch.setattr(buffer_module, "_loads", counting)
    handed.extend_handed(chunked(raws))

    assert verdicts(handed) == verdicts(plain)
    assert {k: v for k, v in handed.stats.items() if k != "rate_per_s"} == {
        k: v for k, v in plain.stats.items() if k != "rate_per_s"
    }
    assert handed.stats["warnings"] > 0 and handed.stats["invalid"] > 0
    if analysis:
        assert handed.schemas().equals(plain.schemas())
    assert handed.people().equals(plain.people())
    # observers read the parser's objects; the buffer parsed only what came from the slow path
    assert all(len(chunk) <= SHARED_CHUNK for chunk in seen)
    assert sum(isinstance(d, dict) for chunk in seen for d in chunk) > 6 * SHARED_CHUNK
    slow = [p for p in raws if parse_event(p, "events", 1.0, keep=True)._data is FROM_RAW]
    assert calls == slow
    # let go: buffered events hold bytes and strings only
    assert all(e._data is FROM_RAW or e._data is None for e in handed)


def test_extend_handed_wakes_readers_once_and_resolves_gaps() -> None:
    buf = EventBuffer(infer_schemas=True)
    wakes = count_wakes(buf)
    buf.record_gap(1.0, 2.0, "test")
    assert buf._pending  # awaits the first event after it
    raws = [b'{"type":"track","event":"E","userId":"u"}'] * (3 * SHARED_CHUNK)
    buf.extend_handed(chunked(raws))
    assert wakes == [3 * SHARED_CHUNK]
    assert len(buf) == 3 * SHARED_CHUNK
    assert not buf._pending  # the first event ended the gap


def test_extend_handed_lets_go_when_an_observer_fails() -> None:
    buf = EventBuffer(infer_schemas=True)

    class Broken:
        def appended(self, events: Any, evicted: Any) -> None:
            raise RuntimeError("observer bug")

        def cleared(self) -> None:
            pass

    buf.add_observer(Broken())
    raws = [b'{"type":"track","event":"E","userId":"u"}'] * (2 * SHARED_CHUNK)
    buf.extend_handed(chunked(raws))
    assert len(buf) == 2 * SHARED_CHUNK
    assert all(e._data is FROM_RAW for e in buf)
