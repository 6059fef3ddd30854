"""Loss estimates for pub/sub gaps: from publisher timestamps, else receive times."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.event import Event
from segment_debugger.core.loss import estimate_hole, publisher_time
from segment_debugger.core.segment import parse_event


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat(timespec="milliseconds")


def numbered(i: int, published: float, received: float, stamp: bool = True) -> Event:
    body: dict[str, object] = {"type": "track", "event": "E", "userId": "u", "messageId": f"m{i}"}
    if stamp:
        body["timestamp"] = iso(published).replace("+00:00", "Z")
    return parse_event(orjson.dumps(body), "events", received)


@pytest.mark.parametrize("text", ["2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123456789Z",
                                  "2024-05-01T12:00:00.1+00:00", "2024-05-01 12:00:00"])
def test_publisher_time_reads_segment_timestamps(text: str) -> None:
    event = parse_event(orjson.dumps({"type": "track", "timestamp": text}), "c", 0.0)
    moment = publisher_time(event)
    assert moment is not None
    assert abs(moment - datetime(2024, 5, 1, 12, tzinfo=timezone.utc).timestamp()) < 1


@given(rate=st.floats(500, 50_000), hole_s=st.floats(0.01, 5), latency=st.floats(0, 2))
def test_the_estimate_is_close_for_a_steady_stream(rate: float, hole_s: float,
                                                   latency: float) -> None:
    t0 = 1_700_000_000.0
    before = [numbered(i, t0 + i / rate, t0 + i / rate + latency) for i in range(300)]
    first_after = 300 + round(hole_s * rate)
    after = numbered(first_after, t0 + first_after / rate, t0 + first_after / rate + latency)
    hole = estimate_hole(before, after)
    assert hole is not None and hole.basis == "publisher timestamps"
    truth = first_after - 300
    assert truth / 2 - 2 <= hole.lost <= truth * 2 + 2
    assert abs(hole.started_at - before[-1].received_at) < 0.01
    assert abs(hole.ended_at - after.received_at) < 0.01


def test_without_timestamps_receive_times_stand_in() -> None:
    before = [numbered(i, 0, 100.0 + i / 1000, stamp=False) for i in range(100)]
    after = numbered(0, 0, 100.0 + 1.099, stamp=False)  # 1 s of silence at 1,000/s
    hole = estimate_hole(before, after)
    assert hole is not None and hole.basis == "receive times"
    assert 900 <= hole.lost <= 1100


def test_too_little_to_measure_gives_no_estimate() -> None:
    assert estimate_hole([numbered(0, 1.0, 1.0)], numbered(5, 2.0, 2.0)) is None


def test_the_buffer_fills_in_the_estimate_when_the_next_event_arrives() -> None:
    buf = EventBuffer()
    t0 = 1_700_000_000.0
    buf.extend([numbered(i, t0 + i / 1000, t0 + i / 1000 + 0.002) for i in range(200)])
    recorded = buf.record_gap(t0 + 0.25, t0 + 0.251, "cut")
    assert buf.stats["lost_estimate"] == 0 and recorded.lost_estimate is None
    buf.extend([numbered(i, t0 + i / 1000, t0 + i / 1000 + 0.002) for i in range(5200, 5210)])
    gap = buf.gaps[0]
    assert gap.estimate_basis == "publisher timestamps"
    assert gap.lost_estimate is not None and 2500 <= gap.lost_estimate <= 10_000  # truth 5,000
    assert gap.duration > 4.5  # the hole, not the 1 ms the source noticed
    assert buf.stats["lost_estimate"] == gap.lost_estimate
    assert buf.stats["last_gap"]["lost_estimate"] == gap.lost_estimate


def test_an_exact_count_is_kept_as_it_is() -> None:
    buf = EventBuffer()
    buf.record_gap(1.0, 2.0, "stream trimmed", lost=42)
    buf.append(numbered(1, 3.0, 3.0))
    assert (buf.gaps[0].lost_estimate, buf.gaps[0].estimate_basis) == (42, "exact")
    assert buf.stats["lost_estimate"] == 42


def on(channel: str, i: int, t: float) -> Event:
    event = numbered(i, t, t + 0.002)
    event.channel = channel
    return event


def test_a_gap_scoped_to_some_channels_is_estimated_from_theirs_only() -> None:
    buf = EventBuffer()
    t0 = 1_700_000_000.0
    # "live" flows at 1,000/s throughout; "dead" at 100/s until its shard is lost for 2 s.
    buf.extend([on("live", i, t0 + i / 1000) for i in range(1000)])
    buf.extend([on("dead", i, t0 + i / 100) for i in range(100)])
    gap = buf.record_gap(t0 + 1.0, t0 + 3.0, "shard lost", channels=["dead"])
    assert gap.channels == ("dead",)
    buf.extend([on("live", i, t0 + i / 1000) for i in range(1000, 3500)])  # others flow on
    assert buf.gaps[0].lost_estimate is None  # still waiting for the dead shard's channel
    buf.extend([on("live", 3500, t0 + 3.5), on("dead", 300, t0 + 3.0)])
    estimated = buf.gaps[0]
    assert estimated.channels == ("dead",)
    assert estimated.lost_estimate is not None and 100 <= estimated.lost_estimate <= 400  # 199
    assert buf.stats["last_gap"]["channels"] == ("dead",)


def test_a_scoped_gap_of_a_channel_that_never_had_events_estimates_nothing() -> None:
    buf = EventBuffer()
    buf.extend([on("live", i, 1.0 + i / 1000) for i in range(1000)])
    buf.record_gap(2.0, 4.0, "shard lost", channels=["idle"])
    buf.extend([on("live", i, 1.0 + i / 1000) for i in range(1000, 4000)])
    buf.append(on("idle", 0, 4.5))
    assert buf.gaps[0].lost_estimate is None and buf.stats["lost_estimate"] == 0


def test_a_gap_marked_not_to_estimate_stays_unknown() -> None:
    buf = EventBuffer()
    buf.extend([on("s", i, 1.0 + i / 1000) for i in range(100)])
    buf.record_gap(2.0, 2.0, "stream lost entries", channels=["s"], estimate=False)
    buf.extend([on("s", i, 1.0 + i / 1000) for i in range(5000, 5010)])
    assert buf.gaps[0].lost_estimate is None and buf.stats["lost_estimate"] == 0


def test_gaps_waiting_on_the_same_channels_are_estimated_once() -> None:
    buf = EventBuffer()
    buf.extend([on("a", i, 1.0 + i / 1000) for i in range(200)])
    buf.record_gap(1.2, 1.3, "first", channels=["a"])
    buf.record_gap(1.3, 1.4, "second", channels=["a", "b"])
    buf.append(on("a", 1200, 2.2))
    first, second = buf.gaps
    assert first.lost_estimate is None and second.lost_estimate is not None
    assert buf.stats["lost_estimate"] == second.lost_estimate


def test_canned_timestamps_that_do_not_follow_publishing_fall_back_to_receive_times() -> None:
    """A load test cycling pre-made payloads: their timestamps say nothing about the rate."""
    t0 = 1_700_000_000.0
    canned = [t0 + (i * 7919 % 300) / 1000 for i in range(300)]  # shuffled, 0.3 s apart at most
    before = [numbered(i, canned[i], 500.0 + i / 10_000) for i in range(300)]  # 10,000/s
    after = numbered(0, canned[17], 500.0 + 299 / 10_000 + 2.0)  # a 2 s hole: ~20,000 lost
    hole = estimate_hole(before, after)
    assert hole is not None and hole.basis == "receive times"
    assert 10_000 <= hole.lost <= 40_000


def test_device_timestamps_hours_behind_but_in_step_are_still_used() -> None:
    t0 = 1_700_000_000.0
    before = [numbered(i, t0 + i / 1000, t0 + 7200 + i / 1000) for i in range(300)]
    after = numbered(1300, t0 + 1.3, t0 + 7200 + 1.3)
    hole = estimate_hole(before, after)
    assert hole is not None and hole.basis == "publisher timestamps"
    assert 900 <= hole.lost <= 1100
