"""Loss you can count: a numbered publisher, Redis cutting the slow subscriber, the estimate."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

import orjson
import pytest
import redis
from support.redis_server import RedisServer
from support.waiting import wait_until

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.event import Event
from segment_debugger.sources import base
from segment_debugger.sources.pubsub import RedisSource

pytestmark = pytest.mark.redis

#: The first reconnect attempt whose backoff is capped (BACKOFF_BASE_S * 2**n >= BACKOFF_CAP_S).
CAPPED_ATTEMPT = next(n for n in range(32) if base.BACKOFF_BASE_S * 2**n >= base.BACKOFF_CAP_S)


class SlowBuffer(EventBuffer):
    """A buffer whose writer is slow, so the subscriber falls behind the publisher."""

    def __init__(self, delay: float, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.delay = delay

    def extend(self, events: Iterable[Event]) -> None:
        time.sleep(self.delay)  # deliberate: the scenario is a writer slower than the publisher
        super().extend(events)


def numbered(i: int) -> bytes:
    now = datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return orjson.dumps({"type": "track", "event": "Numbered", "userId": "u", "messageId": f"n{i}",
                         "timestamp": now, "properties": {"n": i, "pad": "x" * 400}})


def paced_publisher(url: str, rate: float, stop: threading.Event) -> threading.Thread:
    """Publish numbered events at a steady ``rate`` in small pipelined slices until stopped."""

    def run() -> None:
        with redis.Redis.from_url(url) as client:
            pipe = client.pipeline(transaction=False)
            i, t0 = 0, time.monotonic()
            while not stop.is_set():
                due = int((time.monotonic() - t0) * rate)
                while i < due:
                    pipe.publish("events", numbered(i))
                    i += 1
                pipe.execute()
                time.sleep(0.002)  # paces the publisher: small slices, a steady rate

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def publisher_stop() -> Iterator[threading.Event]:
    stop = threading.Event()
    yield stop
    stop.set()


def test_a_cut_subscriber_gets_a_loss_estimate_within_a_factor_of_two(
    private_redis: RedisServer, publisher_stop: threading.Event
) -> None:
    with private_redis.client() as admin:
        admin.config_set("client-output-buffer-limit", "pubsub 512kb 256kb 1")
    buffer = SlowBuffer(0.0, max_messages=1_000_000, max_bytes=2**31)
    with RedisSource(private_redis.url, buffer=buffer) as src:
        wait_until(lambda: src.status.state == "live")
        paced_publisher(private_redis.url, 10_000, publisher_stop)
        wait_until(lambda: len(buffer) > 3000, what="a steady stream before the cut")
        buffer.delay = 0.3  # now fall behind: ~1.5 MB queue up, over the 512 KB hard limit
        wait_until(lambda: buffer.stats["gaps"] >= 1, timeout=20, what="the cut")
        buffer.delay = 0.0
        wait_until(lambda: buffer.gaps[0].lost_estimate is not None, timeout=20,
                   what="an event after the gap, and the estimate")
        publisher_stop.set()
    gap = buffer.gaps[0]
    events = {e.seq: e for e in buffer.snapshot()}
    before = orjson.loads(events[gap.after_seq].raw)["properties"]["n"]
    after = orjson.loads(events[gap.after_seq + 1].raw)["properties"]["n"]
    truth = after - before - 1
    assert truth > 100, f"the test made no real hole ({truth} lost)"
    assert gap.estimate_basis == "publisher timestamps"
    assert truth / 2 <= gap.lost_estimate <= truth * 2, (gap.lost_estimate, truth)
    assert gap.duration >= 0.8 * truth / 10_000  # the hole's span, not the moment noticed
    assert buffer.stats["lost_estimate"] == gap.lost_estimate


def test_a_message_over_the_hard_limit_is_named_in_the_gap_reason(
    private_redis: RedisServer,
) -> None:
    with private_redis.client() as admin:
        admin.config_set("client-output-buffer-limit", "pubsub 1mb 512kb 60")
        with RedisSource(private_redis.url) as src:
            wait_until(lambda: src.status.state == "live")
            admin.publish("events", b'{"type":"track","blob":"' + b"x" * 2_000_000 + b'"}')
            admin.publish("events", b'{"type":"track","event":"after"}')
            wait_until(lambda: src.buffer.stats["gaps"] >= 1 and src.status.state == "live",
                       timeout=20)
    assert "larger than" in src.buffer.gaps[0].reason


def test_live_again_within_two_seconds_of_the_server_returning(
    private_redis: RedisServer,
) -> None:
    with RedisSource(private_redis.url) as src:
        wait_until(lambda: src.status.state == "live")
        private_redis.stop()
        wait_until(lambda: src.status.state != "live")
        # A long outage: the source has grown its backoff to the cap and is waiting it out
        # (the attempt counter only moves on when a backoff starts).
        wait_until(lambda: src._attempt > CAPPED_ATTEMPT, timeout=20,
                   what="the backoff grown to its cap")
        private_redis.start()
        back = time.monotonic()
        wait_until(lambda: src.status.state == "live", timeout=10)
        took = time.monotonic() - back
    assert took < 2.0, f"live {took:.2f} s after the server came back"


def test_the_backoff_never_waits_more_than_a_second() -> None:
    src = RedisSource()
    delays = [src._next_backoff() for _ in range(40)]
    assert max(delays) <= 1.0
    assert base.BACKOFF_CAP_S <= 1.0


def test_the_helpers_make_a_steady_stream(private_redis: RedisServer,
                                          publisher_stop: threading.Event) -> None:
    got: list[int] = []
    with private_redis.client() as sub_client:
        sub = sub_client.pubsub()
        sub.subscribe("events")
        paced_publisher(private_redis.url, 2000, publisher_stop)
        deadline = time.monotonic() + 10
        while len(got) < 500 and time.monotonic() < deadline:
            message = sub.get_message(timeout=1)
            if message and message["type"] == "message":
                got.append(orjson.loads(message["data"])["properties"]["n"])
        sub.close()
    assert got[:500] == list(range(500))

