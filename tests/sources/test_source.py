"""RedisSource against a real redis-server: delivery, loss accounting, hostile input, cleanup."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

import orjson
import pytest
import redis
from support.redis_server import RedisServer, free_port
from support.sources import source_threads
from support.waiting import wait_until

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.event import Event
from segment_debugger.sources.pubsub import RedisSource

pytestmark = pytest.mark.redis

SECRET = "Pw-never-shown-42"



def live(source: RedisSource, timeout: float = 10.0) -> RedisSource:
    source.start()
    wait_until(lambda: source.status.state == "live", timeout, "status live")
    return source


def track(i: int, **extra: object) -> bytes:
    return orjson.dumps(
        {"type": "track", "event": "Order Completed", "userId": f"u{i % 7}",
         "messageId": f"m-{i}", "properties": {"i": i}, **extra}
    )


def publish_all(
    client: redis.Redis, channel: str, payloads: Iterable[bytes], chunk: int = 1000
) -> int:
    """Publish pipelined, in chunks; return how many were sent."""
    sent = 0
    pipe = client.pipeline(transaction=False)
    for payload in payloads:
        pipe.publish(channel, payload)
        sent += 1
        if sent % chunk == 0:
            pipe.execute()
    pipe.execute()
    return sent


# ---- delivery ------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3])
def test_channels_and_patterns_with_resp2_and_resp3(
    redis_server: RedisServer, make_source: Callable[..., RedisSource], protocol: int
) -> None:
    source = live(make_source(
        f"{redis_server.url}?protocol={protocol}",
        channels=("events", "other"),
        patterns="segment.*",
    ))
    with redis_server.client() as pub:
        pub.publish("events", track(1))
        pub.publish("unrelated", track(2))
        pub.publish("segment.web", track(3))
        pub.publish("other", track(4))
    assert source.buffer.wait_for(3, timeout=5)
    got = [(e.channel, e.pattern, e.messageId) for e in source.buffer.snapshot()]
    assert got == [
        ("events", None, "m-1"), ("segment.web", "segment.*", "m-3"), ("other", None, "m-4")
    ]
    assert all(e.valid and e.received_at > 0 for e in source.buffer.snapshot())
    assert source.status.state == "live"


@pytest.mark.slow
def test_50000_messages_at_full_speed_arrive_without_loss(
    redis_server: RedisServer, make_source: Callable[..., RedisSource]
) -> None:
    n = 50_000
    source = live(make_source(redis_server.url, buffer=EventBuffer(max_messages=n)))
    with redis_server.client() as pub:
        publisher = threading.Thread(target=publish_all, args=(pub, "events", map(track, range(n))))
        publisher.start()
        assert source.buffer.wait_for(n, timeout=60)
        publisher.join()
    events = source.buffer.snapshot()
    assert source.buffer.stats["received"] == n
    assert [e.seq for e in events] == list(range(1, n + 1))
    assert [e.data["properties"]["i"] for e in events if e.data] == list(range(n))
    assert source.buffer.gaps == []


def test_eviction_at_the_cap(
    redis_server: RedisServer, make_source: Callable[..., RedisSource]
) -> None:
    source = live(make_source(redis_server.url, buffer=EventBuffer(max_messages=1000)))
    with redis_server.client() as pub:
        publish_all(pub, "events", map(track, range(3000)))
    assert source.buffer.wait_for(3000, timeout=20)
    stats = source.buffer.stats
    assert (stats["received"], stats["buffered"], stats["evicted"]) == (3000, 1000, 2000)
    kept = source.buffer.snapshot()
    assert [e.messageId for e in kept] == [f"m-{i}" for i in range(2000, 3000)]


def test_hostile_input_is_kept_and_flagged(
    redis_server: RedisServer, make_source: Callable[..., RedisSource]
) -> None:
    deep = b"[" * 300 + b"]" * 300
    html = orjson.dumps({
        "type": "track", "event": "<script>alert(1)</script>", "userId": "<b>u</b>",
        "properties": {"html": "<img src=x onerror=alert(1)>"},
    })
    bad = [
        b"\x00\xffgarbage{{",
        b"\xff\xfe\xfa not utf-8",
        b"[1, 2, 3]",
        b"42",
        b"",
        orjson.dumps({"type": "track", "event": "Big", "userId": "u", "pad": "x" * 1_200_000}),
        deep,
        b'{"type": "track"',
    ]
    source = live(make_source(redis_server.url))
    with redis_server.client() as pub:
        for payload in [*bad, html]:
            pub.publish("events", payload)
    assert source.buffer.wait_for(len(bad) + 1, timeout=10)
    events = source.buffer.snapshot()
    assert [e.raw for e in events] == [*bad, html]
    for event in events[: len(bad)]:
        assert event.valid is False and event.violations, event.raw[:40]
    assert events[-1].event == "<script>alert(1)</script>"
    assert events[-1].properties == {"html": "<img src=x onerror=alert(1)>"}
    assert source.status.state == "live"
    with redis_server.client() as pub:  # still reading after all that
        pub.publish("events", track(1))
    assert source.buffer.wait_for(len(bad) + 2, timeout=5)


# ---- loss accounting ------------------------------------------------------------------------


def test_server_restart_records_a_gap_and_the_stream_resumes(
    private_redis: RedisServer, make_source: Callable[..., RedisSource]
) -> None:
    source = live(make_source(private_redis.url))
    with private_redis.client() as pub:
        publish_all(pub, "events", map(track, range(10)))
    assert source.buffer.wait_for(10, timeout=5)

    before = time.time()
    private_redis.stop()
    wait_until(lambda: source.status.state == "reconnecting", 5, "status reconnecting")
    assert "connection" in source.status.reason.lower() or "error" in source.status.reason.lower()
    private_redis.start()
    wait_until(lambda: source.status.state == "live", 15, "status live again")

    gaps = source.buffer.gaps
    assert len(gaps) == 1
    gap = gaps[0]
    assert before - 1 < gap.started_at < gap.ended_at <= time.time()
    assert gap.after_seq == 10
    assert "connection lost" in gap.reason
    assert source.buffer.stats["gaps"] == 1
    with private_redis.client() as pub:
        publish_all(pub, "events", map(track, range(10, 20)))
    assert source.buffer.wait_for(20, timeout=5)
    assert [e.messageId for e in source.buffer.since(10)] == [f"m-{i}" for i in range(10, 20)]


def test_restart_helper_mid_stream_also_ends_in_a_gap(
    private_redis: RedisServer, make_source: Callable[..., RedisSource]
) -> None:
    source = live(make_source(private_redis.url))
    private_redis.restart()
    wait_until(lambda: source.buffer.stats["gaps"] == 1, 15, "a gap")
    wait_until(lambda: source.status.state == "live", 15, "live")
    with private_redis.client() as pub:
        pub.publish("events", track(1))
    assert source.buffer.wait_for(1, timeout=5)


def test_client_kill_is_a_gap_not_a_silent_reconnect(
    redis_server: RedisServer, make_source: Callable[..., RedisSource]
) -> None:
    source = live(make_source(redis_server.url))
    with redis_server.client() as admin:
        assert admin.client_kill_filter(_type="pubsub") == 1
        wait_until(lambda: source.buffer.stats["gaps"] == 1, 10, "a gap")
        wait_until(lambda: source.status.state == "live", 10, "live")
        admin.publish("events", track(1))
    assert source.buffer.wait_for(1, timeout=5)
    assert "closed" in source.buffer.gaps[0].reason.lower()


class SlowBuffer(EventBuffer):
    """A buffer whose writer is slow, so the subscriber falls behind the publisher."""

    def extend(self, events: Iterable[Event]) -> None:
        time.sleep(0.02)  # deliberate: the scenario is a writer slower than the publisher
        super().extend(events)


def test_subscriber_over_output_buffer_limit_is_recorded_as_a_gap(
    private_redis: RedisServer, make_source: Callable[..., RedisSource]
) -> None:
    with private_redis.client() as admin:
        admin.config_set("client-output-buffer-limit", "pubsub 64kb 32kb 1")
        source = live(make_source(private_redis.url, buffer=SlowBuffer(max_messages=100_000)))
        payload = track(0, pad="x" * 16_000)
        sent = publish_all(admin, "events", [payload] * 3000, chunk=500)  # ~48 MB, fast
        wait_until(lambda: source.buffer.stats["gaps"] >= 1, 20, "a gap")
        wait_until(lambda: source.status.state == "live", 20, "live again")
        admin.publish("events", b'{"marker": true}')
        wait_until(
            lambda: any(e.raw == b'{"marker": true}' for e in source.buffer.since(0, limit=5)),
            20,
            "the marker published after the reconnect",
        )
        # Kicked out with most of the burst unread: lost, but not silently.
        received_burst = source.buffer.stats["received"] - 1
        assert received_burst < sent
    gap = source.buffer.gaps[0]
    assert gap.ended_at >= gap.started_at
    assert "client-output-buffer-limit" in gap.reason


# ---- URLs, auth, cleanup -------------------------------------------------------------------


def test_unix_socket_url(
    redis_server: RedisServer, make_source: Callable[..., RedisSource]
) -> None:
    source = live(make_source(f"unix://{redis_server.unix_socket}?db=0"))
    with redis_server.client() as pub:
        pub.publish("events", track(1))
    assert source.buffer.wait_for(1, timeout=5)
    assert source.buffer.snapshot()[0].messageId == "m-1"


def test_username_and_password_never_shown(
    private_redis: RedisServer,
    make_source: Callable[..., RedisSource],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="segment_debugger")
    with private_redis.client() as admin:
        admin.acl_setuser("alice", enabled=True, passwords=[f"+{SECRET}"],
                          keys=["*"], channels=["*"], commands=["+@all"])
        url = f"redis://alice:{SECRET}@127.0.0.1:{private_redis.port}/0"
        source = live(make_source(url))
        assert any("alice" in c.get("user", "") for c in admin.client_list())
        admin.publish("events", track(1))
    assert source.buffer.wait_for(1, timeout=5)
    wrong = make_source(f"redis://alice:not-{SECRET}@127.0.0.1:{private_redis.port}/0")
    wrong.start()
    wait_until(lambda: wrong.status.state == "error", 5, "status error")
    assert "authentication" in wrong.status.reason.lower()
    shown = [repr(source), str(source.status), str(source.status.as_dict()), repr(wrong),
             str(wrong.status.as_dict()), caplog.text]
    assert all(SECRET not in text for text in shown)
    assert f"alice:***@127.0.0.1:{private_redis.port}" in repr(source)
    assert "***" in source.status.url


def test_stop_leaves_no_thread_and_no_connection(
    redis_server: RedisServer, make_source: Callable[..., RedisSource]
) -> None:
    source = live(make_source(redis_server.url, patterns=("a*",)))
    with redis_server.client() as admin:
        admin.client_setname("the-test")
        assert len(admin.client_list()) == 2
        began = time.monotonic()
        source.stop()
        assert time.monotonic() - began < 1.0
        assert not source_threads()
        assert source.status.state == "stopped"
        wait_until(lambda: [c["name"] for c in admin.client_list()] == ["the-test"], 5,
                   "only the test's own connection")
    source.stop()  # idempotent
    source.start()  # and restartable
    wait_until(lambda: source.status.state == "live", 5, "live after restart")
    with source:  # context manager: stops on exit
        pass
    assert not source_threads()


def test_stop_is_prompt_while_the_server_is_unreachable(
    make_source: Callable[..., RedisSource],
) -> None:
    source = make_source(f"redis://127.0.0.1:{free_port()}/0").start()
    wait_until(lambda: "retrying" in source.status.reason, 5, "a failed attempt")
    assert source.status.state == "connecting"
    assert source.buffer.gaps == []  # nothing was ever received, so nothing was lost
    began = time.monotonic()
    source.stop()
    assert time.monotonic() - began < 1.0
    assert source.status.state == "stopped"


def test_redis_py_reconnects_silently_and_the_hook_sees_it(redis_server: RedisServer) -> None:
    """The redis-py behaviour the source guards against, and the hook that catches it."""
    from segment_debugger.sources._link import _WatchedPubSub

    seen: list[float] = []
    client = redis_server.client()  # redis.Redis(host, port): redis-py defaults, retries on
    pubsub = _WatchedPubSub(client.connection_pool, lambda: seen.append(time.time()))
    try:
        pubsub.subscribe("events")
        pubsub.armed = True
        assert pubsub.get_message(timeout=2)["type"] == "subscribe"
        with redis_server.client() as admin:
            assert admin.client_kill_filter(_type="pubsub") == 1
            # get_message reconnects and resubscribes by itself: no exception reaches us.
            first = pubsub.get_message(timeout=2)
            again = first or pubsub.get_message(timeout=2)
            assert again is not None and again["type"] == "subscribe"
        assert len(seen) == 1
    finally:
        pubsub.close()
        client.close()
