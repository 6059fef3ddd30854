"""Warnings: the Event field, its column, row, filter term and count; clock and delivery checks."""

from __future__ import annotations

import gc

import orjson
import pytest

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.checks import Checks, epoch_seconds, seconds_text
from segment_debugger.core.event import FIELDS, Event
from segment_debugger.core.query import parse_query
from segment_debugger.core.segment import parse_event
from segment_debugger.widget.wire import event_to_row

NOW = 1_714_564_800.0  # 2024-05-01T12:00:00Z
ISO_NOW = "2024-05-01T12:00:00.000Z"


def event(received_at: float = NOW, **fields: object) -> Event:
    payload = {"type": "track", "event": "E", "userId": "u", **fields}
    return parse_event(orjson.dumps(payload), "events", received_at)


DEFAULT = Checks()


def warnings_of(*events: Event, checks: Checks | None = DEFAULT) -> list[list[str]]:
    buf = EventBuffer(checks=checks)
    buf.extend(list(events))
    return [list(e.warnings_view()) for e in events]


# ---- the field ------------------------------------------------------------------------------


def test_warnings_is_declared_and_costs_nothing_when_empty() -> None:
    assert "warnings" in FIELDS and FIELDS.index("warnings") == FIELDS.index("violations") + 1
    parsed = event()
    assert parsed.warnings_view() == ()
    assert not [r for r in gc.get_referents(parsed) if isinstance(r, dict | list)]
    assert parsed.to_dict()["warnings"] == []
    parsed.warnings.append("w")
    assert parsed.warnings == ["w"] and parsed.valid


def test_warnings_reach_the_frame_the_row_the_filter_and_the_stats() -> None:
    buf = EventBuffer()
    first = event(messageId="m1")
    again = event(messageId="m1")
    buf.extend([first, again])
    assert again.valid and again.warnings == ["duplicate messageId 'm1'"]
    frame = buf.to_pandas()
    assert frame["warnings"].tolist() == [[], ["duplicate messageId 'm1'"]]
    assert frame["valid"].tolist() == [True, True]
    assert event_to_row(again)["warnings"] == ["duplicate messageId 'm1'"]
    assert event_to_row(first)["warnings"] == []
    assert [e.seq for e in buf.filter("warning:duplicate")] == [2]
    assert [e.seq for e in buf.filter("-warning:*")] == [1]
    assert parse_query("warning:>1").matches(again) is False
    stats = buf.stats
    assert (stats["warnings"], stats["invalid"]) == (1, 0)


# ---- clock checks ---------------------------------------------------------------------------


def test_timestamp_ahead_of_received_at() -> None:
    ahead = event(timestamp="2024-05-01T12:01:30Z", receivedAt=ISO_NOW)
    just = event(timestamp="2024-05-01T12:00:59Z", receivedAt=ISO_NOW)
    assert warnings_of(ahead, just) == [
        ["timestamp is 90 s ahead of receivedAt (clock skew?)"], []
    ]
    assert ahead.valid


def test_without_received_at_the_local_receive_time_is_the_reference() -> None:
    ahead = event(received_at=NOW, timestamp="2024-05-01T12:10:00+00:00")
    (found,) = warnings_of(ahead)
    assert found == ["timestamp is 10 min ahead of the local receive time (clock skew?)"]


def test_sent_at_before_timestamp() -> None:
    bad = event(timestamp="2024-05-01T12:00:05Z", sentAt="2024-05-01T12:00:00Z")
    good = event(timestamp="2024-05-01T12:00:00Z", sentAt="2024-05-01T12:00:05Z")
    assert warnings_of(bad, good) == [["sentAt is 5 s before timestamp"], []]


def test_old_events_are_a_replay_or_a_stuck_queue() -> None:
    old = event(timestamp="2024-04-28T12:00:00Z", receivedAt=ISO_NOW)
    recent = event(timestamp="2024-04-30T13:00:00Z", receivedAt=ISO_NOW)
    assert warnings_of(old, recent) == [
        ["timestamp is 3.0 d older than receivedAt (a replay or a stuck device queue?)"], []
    ]


def test_thresholds_are_settable_and_checks_can_be_off() -> None:
    def make() -> Event:
        return event(timestamp="2024-05-01T12:00:30Z", receivedAt=ISO_NOW, messageId="m")

    assert warnings_of(make(), make(), checks=Checks(future_s=10)) == [
        ["timestamp is 30 s ahead of receivedAt (clock skew?)"],
        ["duplicate messageId 'm'", "timestamp is 30 s ahead of receivedAt (clock skew?)"],
    ]
    assert warnings_of(make(), make(), checks=None) == [[], []]
    assert warnings_of(make(), checks=Checks(future_s=None, max_age_s=None)) == [[]]
    with pytest.raises(ValueError, match="future_s"):
        Checks(future_s=-1)
    with pytest.raises(TypeError, match="Checks"):
        EventBuffer(checks={"future_s": 1})  # type: ignore[arg-type]


def test_naive_and_unreadable_dates() -> None:
    assert epoch_seconds("2024-05-01T12:00:00") == NOW  # no zone: UTC
    assert epoch_seconds("2024-05-01T14:00:00+02:00") == NOW
    assert epoch_seconds("yesterday") is None
    bad = event(timestamp="yesterday", receivedAt=ISO_NOW)
    assert not bad.valid  # the parser's violation; the checks leave it alone
    assert warnings_of(bad) == [[]]
    assert warnings_of(event()) == [[]]  # no timestamp: nothing to check


def test_seconds_text() -> None:
    assert [seconds_text(s) for s in (75, 720, 5 * 3600, 3.2 * 86400)] == [
        "75 s", "12 min", "5.0 h", "3.2 d"
    ]


def test_a_failing_check_never_loses_an_event(caplog: pytest.LogCaptureFixture) -> None:
    buf = EventBuffer()
    broken = event(timestamp=ISO_NOW)
    broken.timestamp = 12  # type: ignore[assignment]  # hand-made nonsense
    buf.extend([broken, event()])
    assert len(buf) == 2


def _reference_clock_warnings(e: Event, checks: Checks) -> list[str]:
    """The clock checks worded from epoch seconds, one date at a time (the definition)."""
    found: list[str] = []
    at = None if e.timestamp is None else epoch_seconds(e.timestamp)
    if at is None:
        return found
    reference = None if e.receivedAt is None else epoch_seconds(e.receivedAt)
    label = "receivedAt"
    if reference is None:
        reference, label = e.received_at, "the local receive time"
    ahead = at - reference
    if checks.future_s is not None and ahead > checks.future_s:
        found.append(f"timestamp is {seconds_text(ahead)} ahead of {label} (clock skew?)")
    elif checks.max_age_s is not None and -ahead > checks.max_age_s:
        found.append(f"timestamp is {seconds_text(-ahead)} older than {label} "
                     "(a replay or a stuck device queue?)")
    sent = None if e.sentAt is None else epoch_seconds(e.sentAt)
    if checks.sent_before_s is not None and sent is not None and at - sent > checks.sent_before_s:
        found.append(f"sentAt is {seconds_text(at - sent)} before timestamp")
    return found


def test_clock_checks_agree_with_epoch_seconds_on_every_date_shape() -> None:
    """The check compares datetimes directly when it can: same warnings as from epoch seconds
    for zones, offsets, naive dates (UTC), mixed ones, missing and unreadable dates, and
    differences on either side of each threshold."""
    stamps = [
        None, "2024-05-01T12:00:00Z", "2024-05-01T12:00:59.999Z", "2024-05-01T12:01:00.001Z",
        "2024-05-01T14:01:30+02:00", "2024-05-01T12:01:30", "2024-04-30T11:59:59Z",
        "2024-04-30T12:00:01.000Z", "2024-04-28T12:00:00", "not a date", "2024-05-01T11:59:55Z",
    ]
    checkss = [Checks(), Checks(future_s=10, sent_before_s=2.5, max_age_s=3600),
               Checks(future_s=None), Checks(max_age_s=None, sent_before_s=None)]
    compared = 0
    for checks in checkss:
        for timestamp in stamps:
            for received in stamps:
                for sent in stamps[:6]:
                    fields = {k: v for k, v in (("timestamp", timestamp), ("receivedAt", received),
                                                ("sentAt", sent)) if v is not None}
                    e = event(**fields)
                    (found,) = warnings_of(e, checks=checks)
                    assert found == _reference_clock_warnings(e, checks), fields
                    compared += 1
    assert compared == 4 * 11 * 11 * 6


def test_a_flagged_event_is_worded_from_the_dates_the_parser_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A device with a wrong clock flags every event it sends: wording one must not parse its
    dates again (it did: ~1 µs per flagged event, every event of such traffic)."""
    from segment_debugger.core import checks as checks_module

    calls: list[object] = []

    def counting(text: str) -> float | None:
        calls.append(text)
        return epoch_seconds(text)

    monkeypatch.setattr(checks_module, "epoch_seconds", counting)
    skewed = [event(timestamp="2024-05-01T12:02:00.000Z", sentAt="2024-05-01T12:00:00.500Z",
                    receivedAt=ISO_NOW, messageId=f"m{i}") for i in range(3)]
    assert all(e._moments is not None for e in skewed)  # the parser's datetimes are there
    assert warnings_of(*skewed) == [[
        "timestamp is 2 min ahead of receivedAt (clock skew?)",
        "sentAt is 120 s before timestamp",
    ]] * 3
    assert calls == []  # failed before: three dates parsed again per event
    no_received = event(timestamp="2024-05-01T12:10:00Z")
    assert warnings_of(no_received) == [
        ["timestamp is 10 min ahead of the local receive time (clock skew?)"]
    ]
    assert calls  # without receivedAt, the slow path still words it from epoch seconds
