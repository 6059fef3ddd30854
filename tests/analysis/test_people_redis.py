"""People against a real redis-server: a scripted scenario through SegmentDebugger."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest
from support.events import segment_call
from support.redis_server import RedisServer
from support.waiting import wait_until

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.sources.pubsub import RedisSource
from segment_debugger.widget.widget import SegmentDebugger

pytestmark = pytest.mark.redis

CHANNEL = "people-scenario"


def call(n: int, kind: str, **fields: Any) -> dict[str, Any]:
    return segment_call(n, kind, "m", **fields)


# (message, whose): alice on a laptop, then a phone; bob on his own device, then alice's laptop.
SCRIPT: list[tuple[dict[str, Any], str]] = [
    (call(1, "page", anonymousId="laptop"), "alice"),  # anonymous browsing
    (call(2, "track", anonymousId="laptop"), "alice"),
    (call(3, "page", anonymousId="bob-pc"), "bob"),
    (call(4, "identify", anonymousId="laptop", userId="alice",
          traits={"email": "alice@example.com", "plan": "free"}), "alice"),
    (call(5, "track", anonymousId="laptop", userId="alice"), "alice"),
    (call(6, "page", anonymousId="phone"), "alice"),  # a second device, still anonymous
    (call(7, "alias", previousId="phone", userId="alice"), "alice"),
    (call(8, "track", anonymousId="phone", userId="alice"), "alice"),
    (call(9, "identify", anonymousId="bob-pc", userId="bob"), "bob"),
    (call(10, "track", anonymousId="laptop", userId="bob"), "bob"),  # bob on alice's laptop
    (call(11, "identify", userId="alice", traits={"plan": "pro"}), "alice"),
    (call(12, "track", anonymousId="laptop"), "alice"),  # the laptop stays alice's
]


def publish(server: RedisServer) -> None:
    with server.client() as client, client.pipeline(transaction=False) as pipe:
        for body, _ in SCRIPT:
            pipe.publish(CHANNEL, orjson.dumps(body))
        pipe.execute()


def expected(who: str) -> list[str]:
    return [body["messageId"] for body, whose in SCRIPT if whose == who]


def test_scripted_scenario_person_returns_exactly_that_persons_events(
    redis_server: RedisServer,
) -> None:
    before = set(threading.enumerate())
    with SegmentDebugger(redis_server.url, channels=(CHANNEL,)) as dbg:
        source = dbg.source
        assert source is not None
        wait_until(lambda: source.status.state == "live", what="source live")
        assert dbg.people().empty  # attaches the identity graph before anything arrives
        publish(redis_server)
        wait_until(lambda: len(dbg.buffer) == len(SCRIPT), what="every event buffered")

        for id in ("alice", "laptop", "phone"):
            assert list(dbg.person(id)["messageId"]) == expected("alice"), id
        for id in ("bob", "bob-pc"):
            assert list(dbg.person(id)["messageId"]) == expected("bob"), id

        frame = dbg.person("phone")
        assert frame["seq"].is_monotonic_increasing
        assert frame.attrs["anonymous_ids"] == ["laptop", "phone"]

        people = dbg.people().set_index("person")
        assert list(people.index) == ["alice", "bob"]
        assert people.loc["alice", "user_ids"] == ["alice"]
        assert people.loc["alice", "events"] == len(expected("alice"))
        assert people.loc["bob", "anonymous_ids"] == ["bob-pc"]
        assert people.loc["alice", "traits.plan"] == "pro"
        assert people.loc["alice", "traits.email"] == "alice@example.com"
        assert len(people.loc["bob", "conflicts"]) == 1

        [shared] = [e for e in dbg.buffer.snapshot() if e.messageId == "m10"]
        [warning] = [w for w in shared.warnings_view() if w.startswith("identity:")]
        assert "'laptop'" in warning and "'alice'" in warning and "'bob'" in warning
    wait_until(lambda: set(threading.enumerate()) <= before, timeout=5, what="threads gone")


def test_person_on_a_plain_buffer_fed_by_redis_source(redis_server: RedisServer) -> None:
    buffer = EventBuffer(max_messages=5)  # the oldest seven events are evicted
    source = RedisSource(redis_server.url, channels=(CHANNEL,), buffer=buffer)
    source.start()
    try:
        wait_until(lambda: source.status.state == "live", what="source live")
        publish(redis_server)
        wait_until(lambda: buffer.last_seq == len(SCRIPT), what="every event received")
    finally:
        source.stop()
    # Attached late, built from the five buffered events (m08..m12): alice's links of the
    # laptop were evicted, so its oldest buffered link is now bob's (m10), and m12 is his.
    assert list(buffer.person("alice")["messageId"]) == ["m08", "m11"]
    assert list(buffer.person("phone")["messageId"]) == ["m08", "m11"]
    assert list(buffer.person("laptop")["messageId"]) == ["m09", "m10", "m12"]
    assert buffer.people()["conflicts"].tolist() == [[], []]
