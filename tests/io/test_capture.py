"""Capture: the matching events that arrive inside a with block, for tests of tracking."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from support.redis_server import RedisServer
from support.waiting import wait_until

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.segment import parse_event
from segment_debugger.io.capture import Capture, CaptureTimeout
from segment_debugger.widget.widget import SegmentDebugger

ORDER = 'type:track event:"Order Completed"'


@pytest.fixture(autouse=True)
def no_threads_left() -> Iterator[None]:
    yield
    left = [t.name for t in threading.enumerate() if t.name.startswith("segment-debugger")]
    assert left == [], f"threads still running after the test: {left}"


def track(i: int, name: str = "Order Completed", **extra: Any) -> bytes:
    body = {"type": "track", "event": name, "userId": f"u{i}", "messageId": f"m{i}"}
    body.update(extra)
    return orjson.dumps(body)


def put(buf: EventBuffer, *payloads: bytes) -> None:
    buf.extend([parse_event(raw, "events", time.time()) for raw in payloads])


def test_only_matching_events_that_arrive_inside_the_block() -> None:
    buf = EventBuffer()
    put(buf, track(0), track(1))
    with buf.capture(ORDER) as cap:
        put(buf, track(2), track(3, "Product Viewed"), track(4))
        assert [e.messageId for e in cap.wait_for(2, timeout=5)] == ["m2", "m4"]
    put(buf, track(5))
    assert cap.events["messageId"].tolist() == ["m2", "m4"]
    assert cap.received == 3 and cap.missed == 0 and len(cap) == 2
    assert list(cap.events.columns) == list(buf.to_pandas().columns)
    cap.assert_valid()


def test_wait_for_returns_as_soon_as_events_arrive_from_another_thread() -> None:
    buf = EventBuffer()
    with buf.capture(ORDER) as cap:
        timer = threading.Timer(0.2, put, (buf, track(1), track(2)))
        timer.start()
        started = time.monotonic()
        cap.wait_for(2, timeout=10)
        assert time.monotonic() - started < 5
        timer.join()


def test_wait_for_timeout_summarises_what_arrived() -> None:
    buf = EventBuffer()
    with buf.capture(ORDER) as cap:
        put(buf, track(1), track(2, "Product Viewed"), b'{"type":"identify","userId":"u"}')
        with pytest.raises(CaptureTimeout) as caught:
            cap.wait_for(3, timeout=0.3)
    message = str(caught.value)
    assert isinstance(caught.value, AssertionError)
    assert "waited for 3 events matching 'type:track event:\"Order Completed\"'" in message
    assert "after 0.3 s 1 matched, of 3 received in the block (track 2, identify 1)" in message
    assert "matched seq 1 track 'Order Completed' messageId 'm1'" in message


def test_wait_for_after_the_block_fails_at_once_and_nothing_arrived_says_so() -> None:
    buf = EventBuffer()
    with buf.capture(ORDER) as cap:
        pass
    started = time.monotonic()
    with pytest.raises(CaptureTimeout, match=r"the block ended(.|\n)*is the source running"):
        cap.wait_for(1, timeout=30)
    assert time.monotonic() - started < 1


def test_assert_valid_lists_each_violation_with_its_message_id() -> None:
    buf = EventBuffer()
    with buf.capture("type:track") as cap:
        put(buf, track(1), track(2, timestamp="yesterday"), track(1), track(3, properties=[1]))
    with pytest.raises(AssertionError) as caught:
        cap.assert_valid()
    message = str(caught.value)
    # a messageId seen again is a warning (a retry), not a violation: seq 3 is valid
    assert message.startswith("2 of 4 events matching 'type:track' are invalid:")
    lines = message.splitlines()[1:]
    assert any("seq 2 track 'Order Completed' messageId 'm2': " in line and "timestamp" in line
               for line in lines)
    assert not any("seq 3" in line for line in lines)
    assert any("seq 4" in line and "messageId 'm3'" in line and "properties" in line
               for line in lines)


def test_kept_events_survive_eviction_from_a_small_buffer() -> None:
    buf = EventBuffer(max_messages=5)
    with buf.capture(ORDER) as cap:
        put(buf, track(1), track(2))
        cap.wait_for(2, timeout=5)
        for i in range(3, 50):  # push the two out of the buffer, reading as they come
            put(buf, track(i, "Other"))
            assert cap.received == i
    assert buf.get(1) is None
    assert cap.events["messageId"].tolist() == ["m1", "m2"]
    assert cap.missed == 0
    cap.assert_valid()


def test_events_evicted_before_they_were_read_are_counted_and_fail_assert_valid() -> None:
    buf = EventBuffer(max_messages=5)
    with buf.capture(ORDER) as cap:
        put(buf, *[track(i) for i in range(100)])  # one batch: 95 evicted at once
    assert cap.missed >= 95
    assert cap.received + cap.missed == 100
    with pytest.raises(AssertionError, match=r"events of the block were evicted before the "
                                             r"capture could read them \(buffer max_messages=5\)"):
        cap.assert_valid()
    with pytest.raises(CaptureTimeout, match="evicted before"):
        cap.wait_for(100, timeout=0.1)


def test_a_capture_is_entered_once_and_accepts_criteria() -> None:
    from segment_debugger.core.query import Criteria

    buf = EventBuffer()
    cap = Capture(buf, Criteria.of("", types=["identify"]))
    with cap:
        put(buf, track(1), b'{"type":"identify","userId":"u","messageId":"i1"}')
    assert cap.events["messageId"].tolist() == ["i1"]
    assert "types identify" in repr(cap)
    with pytest.raises(RuntimeError, match="entered once"), cap:
        pass


# -- a real redis-server, through the widget and a bare source -------------------------------


def publish(server: RedisServer, payloads: list[bytes]) -> None:
    with server.client() as client:
        for raw in payloads:
            client.publish("events", raw)


@pytest.mark.redis
def test_dbg_capture_with_a_real_redis_server(redis_server: RedisServer) -> None:
    with SegmentDebugger(redis_server.url, channels=["events"]) as dbg:
        source = dbg.source
        assert source is not None
        wait_until(lambda: source.status.state == "live")
        publish(redis_server, [track(0)])
        wait_until(lambda: dbg.buffer.last_seq == 1)
        with dbg.capture(ORDER) as cap:
            publish(redis_server, [track(1), track(2, "Product Viewed"), track(3, userId=5)])
            cap.wait_for(2, timeout=10)
        publish(redis_server, [track(4)])
        wait_until(lambda: dbg.buffer.last_seq == 5)
    assert cap.events["messageId"].tolist() == ["m1", "m3"]
    with pytest.raises(AssertionError, match="seq 4 track 'Order Completed' messageId 'm3': "):
        cap.assert_valid()


@pytest.mark.redis
def test_buffer_capture_of_a_bare_source(redis_server: RedisServer) -> None:
    from segment_debugger.sources.pubsub import RedisSource

    with RedisSource(redis_server.url, channels=["events"]) as src:
        wait_until(lambda: src.status.state == "live")
        with src.buffer.capture("type:track") as cap:
            publish(redis_server, [track(i) for i in range(20)])
            assert len(cap.wait_for(20, timeout=10)) == 20
        cap.assert_valid()
