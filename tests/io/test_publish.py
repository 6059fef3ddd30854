"""Writing to Redis (io/publish.py): targets, one pipelined batch, the client for a URL.

On a cluster (seed lists, SPUBLISH/XADD routed to the slot's owner) the same code is exercised
through ``segment-debugger publish`` in ``tests/cli/test_sharded.py``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import redis
from support.collector import ChannelCollector
from support.redis_server import RedisServer
from support.waiting import wait_until

from segment_debugger.io.publish import Target, connect, publish_batch, target
from segment_debugger.sources.url import RedisURLError

Collect = Callable[[str], ChannelCollector]

# ---- Target: the one place that says channel, shard channel or stream ------------------------


def test_target_commands() -> None:
    assert target("c").command(b"x") == ("PUBLISH", "c", b"x")
    assert target("c", sharded=True).command(b"x") == ("SPUBLISH", "c", b"x")
    assert target("s", stream=True).command(b"x") == ("XADD", "s", "*", "data", b"x")
    assert target("s", stream=True, maxlen=9).command(b"x") == (
        "XADD", "s", "MAXLEN", "~", 9, "*", "data", b"x"
    )
    assert str(target("s", stream=True, maxlen=9)) == "stream 's' (MAXLEN ~ 9)"
    assert str(target("c", sharded=True)) == "shard channel 'c'"
    t = Target("s", "stream")
    assert target(t) is t


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "c", "maxlen": 5}, "needs kind='stream'"),
        ({"name": "s", "stream": True, "maxlen": 0}, "positive int"),
        ({"name": "s", "stream": True, "sharded": True}, "not both"),
        ({"name": ""}, "non-empty"),
        ({"name": Target("s"), "stream": True}, "either a Target"),
    ],
)
def test_bad_targets(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        target(**kwargs)


# ---- publish_batch and connect on a real server ------------------------------------------------


@pytest.mark.redis
def test_a_batch_reaches_a_channel_in_order(redis_server: RedisServer, collect: Collect) -> None:
    witness = collect("batch")
    payloads = [b'{"n":%d}' % i for i in range(300)]
    with connect(redis_server.url) as client:
        assert isinstance(client, redis.Redis)
        publish_batch(client, "batch", [])  # nothing to send: no round trip, no error
        publish_batch(client, "batch", payloads)
    wait_until(lambda: len(witness.payloads) >= len(payloads), what="the batch")
    assert witness.payloads == payloads


@pytest.mark.redis
def test_a_batch_to_a_stream_is_trimmed_to_about_maxlen(redis_server: RedisServer) -> None:
    to = target("trimmed", stream=True, maxlen=50)
    with connect(redis_server.url) as client:
        for start in range(0, 1000, 250):
            publish_batch(client, to, [b"%d" % i for i in range(start, start + 250)])
        length = client.xlen("trimmed")
        last = client.xrevrange("trimmed", count=1)[0][1]
    assert 50 <= length < 1000  # MAXLEN ~ trims whole nodes: about 50, never all 1000
    assert last == {b"data": b"999"}


@pytest.mark.redis
def test_a_refused_batch_raises_and_leaves_no_stale_replies(redis_server: RedisServer) -> None:
    with connect(redis_server.url) as client:
        client.set("taken", "a string")
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            publish_batch(client, Target("taken", "stream"), [b"1", b"2", b"3"])
        # The two unread error replies must not answer the next commands on the pool.
        assert client.get("taken") == b"a string"
        assert client.ping() is True


def test_connect_rejects_a_bad_url_before_any_socket() -> None:
    with pytest.raises(RedisURLError):
        connect("http://localhost:6379")


def test_writing_to_redis_loads_neither_pandas_nor_the_playground() -> None:
    # ``segment-debugger publish`` and ``replay`` import this module first: it must stay cheap
    # (pandas + pyarrow doubled the command's start-up) and must not reach up to the playground.
    code = (
        "import sys, segment_debugger.io.publish\n"
        "print(sorted(m for m in ('pandas', 'pyarrow', 'segment_debugger.playground')"
        " if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
