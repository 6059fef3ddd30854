"""The parser hands its datetimes to the buffer's clock check, and remembers the last dates.

``parse_event`` parses ``timestamp``, ``sentAt`` and ``receivedAt`` to check them; the clock
check needs the same datetimes. The parser hands them over on the event (``_moments``), the
check uses them only while the event's texts are still those, and the buffer drops them once
the event is appended. ``sentAt``/``receivedAt`` equal to the last ones that passed are not
parsed again.
"""

from __future__ import annotations

import sys
import threading
from datetime import datetime
from typing import Any

import orjson
import pytest

from segment_debugger.core import checks as checks_module
from segment_debugger.core import segment as segment_module
from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.checks import Checks
from segment_debugger.core.segment import parse_event

NOW = 1_714_567_000.0  # 2024-05-01T12:36:40Z


def payload(**fields: Any) -> bytes:
    base = {"type": "track", "event": "E", "userId": "u", "messageId": "m",
            "timestamp": "2024-05-01T12:34:56Z", "sentAt": "2024-05-01T12:34:57Z",
            "receivedAt": "2024-05-01T12:35:00Z"}
    return orjson.dumps({**base, **fields})


def counting_fromisoformat(monkeypatch: pytest.MonkeyPatch, module: Any) -> list[str]:
    seen: list[str] = []
    parse = module._fromisoformat  # the module's own: on 3.10 it also takes "Z"

    def counting(text: str) -> datetime:
        seen.append(text)
        return parse(text)  # type: ignore[no-any-return]

    monkeypatch.setattr(module, "_fromisoformat", counting)
    return seen


def test_the_clock_check_reads_the_parsers_datetimes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Failed before: the check parsed timestamp, receivedAt and sentAt again."""
    parsed = counting_fromisoformat(monkeypatch, checks_module)
    buffer = EventBuffer()
    event = parse_event(payload(), "events", NOW)
    buffer.append(event)
    assert parsed == []
    assert event.warnings_view() == ()  # 4 s apart, sent after it happened: nothing to say


def test_the_datetimes_still_word_the_same_warnings() -> None:
    skewed = payload(timestamp="2024-05-01T13:34:56Z", sentAt="2024-05-01T12:00:00Z")
    with_moments = parse_event(skewed, "events", NOW)
    without = parse_event(skewed, "events", NOW)
    without._moments = None
    EventBuffer().extend([with_moments])
    EventBuffer().extend([without])
    assert with_moments.warnings == without.warnings
    assert with_moments.warnings == [
        "timestamp is 60 min ahead of receivedAt (clock skew?)",
        "sentAt is 95 min before timestamp",
    ]


def test_texts_changed_after_parsing_are_checked_as_they_are() -> None:
    event = parse_event(payload(), "events", NOW)
    event.timestamp = "2024-05-01T14:00:00Z"  # not the text the parser read
    EventBuffer().append(event)
    assert event.warnings == [
        "timestamp is 85 min ahead of receivedAt (clock skew?)",
        "sentAt is 85 min before timestamp",
    ]


@pytest.mark.parametrize("checks", [Checks(), None])
def test_buffered_events_do_not_keep_the_datetimes(checks: Checks | None) -> None:
    buffer = EventBuffer(checks=checks)
    events = [parse_event(payload(messageId=f"m{i}"), "events", NOW) for i in range(3)]
    assert all(e._moments is not None for e in events)
    buffer.extend(events[:2])
    buffer.append(events[2])
    assert [e._moments for e in buffer.snapshot()] == [None, None, None]


def test_a_repeated_sent_or_received_date_is_not_parsed_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(segment_module, "_passed", [(None, None), (None, None)])
    parsed = counting_fromisoformat(monkeypatch, segment_module)
    parse_event(payload(timestamp="2024-05-01T12:34:50Z"), "events", NOW)
    parse_event(payload(timestamp="2024-05-01T12:34:51Z"), "events", NOW)
    assert parsed.count("2024-05-01T12:35:00Z") == 1
    assert parsed.count("2024-05-01T12:34:57Z") == 1
    assert parsed.count("2024-05-01T12:34:51Z") == 1


@pytest.mark.parametrize("bad", ["20240501T123457Z", "2024-05-01X12:34:57", "soon", 17, None])
def test_a_bad_date_after_a_good_one_is_still_flagged(bad: Any) -> None:
    assert parse_event(payload(), "events", NOW).valid
    for key in ("sentAt", "receivedAt"):
        event = parse_event(payload(**{key: bad}), "events", NOW)
        if bad is None:
            assert event.valid
        else:
            assert not event.valid
            assert event.violations[0].startswith(f"{key} is not an ISO-8601 date")
        assert parse_event(payload(), "events", NOW).valid  # the good one still passes


def test_the_last_dates_shared_by_threads_never_hand_another_texts_datetime() -> None:
    """Two source threads parse at once, each with dates of its own (different instants and
    offsets), switching threads as often as the interpreter allows: each event's datetimes
    are those of its own texts. What makes it so is that the remembered pair is one tuple,
    read and written whole; this test cannot tell that from two adjacent stores (the GIL is
    not handed over between them), so it guards the result, not the construction."""
    stamps = {
        "a": [f"2024-05-01T12:00:0{k}Z" for k in range(3)],
        "b": [f"2024-05-01T14:00:0{k}+02:00" for k in range(2)],
    }
    wrong: list[tuple[str, str, str]] = []
    interval = sys.getswitchinterval()

    def parse_many(name: str) -> None:
        texts = stamps[name]
        for i in range(2_000):
            sent, received = texts[i % len(texts)], texts[(i // 2) % len(texts)]
            event = parse_event(payload(sentAt=sent, receivedAt=received), "events", NOW)
            moments = event._moments
            assert moments is not None
            for text, moment in ((sent, moments[5]), (received, moments[3])):
                if moment.isoformat() != segment_module._fromisoformat(text).isoformat():
                    wrong.append((name, text, moment.isoformat()))

    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=parse_many, args=(n,)) for n in stamps]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        sys.setswitchinterval(interval)
    assert not any(thread.is_alive() for thread in threads)
    assert wrong == []
