"""``sources/_redispy``'s batch helpers against a real redis-server: every reply read, none left."""

from __future__ import annotations

import pytest
import redis
from support.redis_server import RedisServer

from segment_debugger.sources._redispy import send_packed


@pytest.mark.redis
def test_send_packed_runs_every_command_in_order(redis_server: RedisServer) -> None:
    with redis.Redis.from_url(redis_server.url) as client:
        send_packed(client, [("RPUSH", "l", str(i)) for i in range(500)])
        assert client.lrange("l", 0, -1) == [str(i).encode() for i in range(500)]
        assert client.ping() is True  # no reply of the batch left on the pooled connection


@pytest.mark.redis
def test_send_packed_raises_a_refusal_and_drops_the_connection(redis_server: RedisServer) -> None:
    with redis.Redis.from_url(redis_server.url) as client:
        client.set("taken", "a string")
        commands = [("XADD", "taken", "*", "data", b"x")] * 3
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            send_packed(client, commands)
        assert client.get("taken") == b"a string"  # not the second WRONGTYPE reply
        send_packed(client, [])
        assert client.ping() is True
