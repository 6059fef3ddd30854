"""EmbeddedRedis (redis-server and the fakeredis fallback) and the demo publisher."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil
import pytest
import redis
from support.leftovers import nothing_listens, process_gone
from support.waiting import wait_until

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.playground.publisher import Publisher
from segment_debugger.playground.server import ENV_EMBEDDED, EmbeddedRedis, ping
from segment_debugger.sources.pubsub import RedisSource


def roundtrip(url: str, n: int = 20) -> list[bytes]:
    """Subscribe, publish n messages, return what the subscriber received."""
    with redis.Redis.from_url(url) as client, client.pubsub() as ps:
        ps.subscribe("events")
        assert ps.get_message(timeout=5)["type"] == "subscribe"
        for i in range(n):
            client.publish("events", b"m%d" % i)
        got: list[bytes] = []
        deadline = time.monotonic() + 10
        while len(got) < n and time.monotonic() < deadline:
            msg = ps.get_message(timeout=1)
            if msg is not None and msg["type"] == "message":
                got.append(msg["data"])
        return got


@pytest.mark.redis
def test_redis_server_starts_carries_pubsub_and_stops_without_leftovers() -> None:
    server = EmbeddedRedis("redis-server")
    with server:
        assert server.kind == "redis-server"
        pid, port, url = server.pid, server.port, server.url
        assert pid is not None and port is not None
        assert url == f"redis://127.0.0.1:{port}/0"
        proc = psutil.Process(pid)
        assert "redis" in proc.name() or "valkey" in proc.name()
        assert os.getpgid(pid) == pid, "redis-server must lead its own process group"
        server.start()  # idempotent: same process, same port
        assert (server.pid, server.port) == (pid, port)
        assert roundtrip(url) == [b"m%d" % i for i in range(20)]
        data_dir = server._dir
        assert data_dir is not None and Path(data_dir).is_dir()
    assert not server.running
    assert process_gone(pid)
    assert nothing_listens(port)
    assert not Path(data_dir).exists()
    server.stop()  # idempotent
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.url


def test_fakeredis_fallback_when_no_server_binary_carries_pubsub_to_a_redis_source(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # hides redis-server and valkey-server
    monkeypatch.delenv(ENV_EMBEDDED, raising=False)
    with EmbeddedRedis() as server:
        assert server.kind == "fakeredis"
        assert server.pid is None
        port = server.port
        assert port is not None
        buffer = EventBuffer()
        with RedisSource(server.url, channels="events", buffer=buffer) as source:
            wait_until(lambda: source.status.state == "live", what="the source to subscribe")
            with Publisher(server.url, rate=500, seed=7) as publisher:
                wait_until(lambda: len(buffer) >= 100, what="100 events through fakeredis")
            assert publisher.published >= 100
        events = buffer.snapshot()
        assert all(e.channel == "events" for e in events)
        assert sum(e.valid for e in events) >= 90  # the fake stream, parsed
    assert not server.running
    assert nothing_listens(port)


def test_env_var_forces_fakeredis_and_rejects_unknown_kinds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_EMBEDDED, "fakeredis")
    assert EmbeddedRedis().kind == "fakeredis"
    monkeypatch.setenv(ENV_EMBEDDED, "memcached")
    with pytest.raises(ValueError, match="unknown embedded Redis kind 'memcached'"):
        EmbeddedRedis()


def test_ping_says_false_instead_of_raising() -> None:
    assert ping("redis://127.0.0.1:1/0", timeout=0.2) is False
    assert ping("not a url", timeout=0.2) is False
