"""EmbeddedRedis (redis-server and the fakeredis fallback), the demo publisher, demo(), demo CLI."""

from __future__ import annotations

import argparse
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis
from support.waiting import wait_until

from segment_debugger.cli import demo as demo_command
from segment_debugger.core.buffer import EventBuffer
from segment_debugger.playground.server import ENV_EMBEDDED, EmbeddedRedis, Publisher, demo
from segment_debugger.sources.pubsub import RedisSource


def nothing_listens(port: int) -> bool:
    """A server (SO_REUSEADDR, like redis-server and Voila) could bind the port again."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def process_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def our_threads() -> list[str]:
    return [
        t.name
        for t in threading.enumerate()
        if t.name.startswith(("segment-debugger", "sd-demo", "sd-fakeredis"))
    ]


@pytest.fixture(autouse=True)
def no_threads_left() -> Iterator[None]:
    yield
    assert our_threads() == [], "threads still running after the test"


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


@pytest.mark.redis
def test_demo_returns_a_live_debugger_and_close_stops_publisher_and_server() -> None:
    dbg = demo(rate=400, invalid_fraction=0.1, seed=1)
    try:
        server, publisher = dbg.embedded, dbg.publisher
        assert server is not None and server.kind == "redis-server" and publisher is not None
        pid, port = server.pid, server.port
        assert dbg.buffer.wait_for(200, timeout=15), f"buffer did not fill: {dbg.status}"
        assert dbg.status["state"] == "live" or dbg.buffer.stats["received"] >= 200
        frame = dbg.to_pandas()
        assert len(frame) >= 200
        assert (~frame["valid"]).sum() > 0  # invalid_fraction reached the stream
        assert publisher.running
    finally:
        dbg.close()
    assert not publisher.running
    assert not server.running
    assert pid is not None and process_gone(pid)
    assert port is not None and nothing_listens(port)
    dbg.close()  # idempotent


@pytest.mark.redis
def test_demo_with_a_url_uses_that_redis_and_leaves_it_running(redis_server: Any) -> None:
    dbg = demo(url=redis_server.url, rate=200, channel="demo-events")
    try:
        assert dbg.embedded is None
        assert dbg.buffer.wait_for(20, timeout=15)
        assert {e.channel for e in dbg.buffer.snapshot()} == {"demo-events"}
    finally:
        dbg.close()
    with redis_server.client() as c:
        assert c.ping()


def test_demo_command_refuses_a_busy_port(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args = _demo_args(port=port)
        assert args.func(args) == 2
    assert f"port {port} is in use" in capsys.readouterr().out


def test_demo_command_refuses_an_unreachable_url(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    args = _demo_args(port=_free_port(), url=f"redis://127.0.0.1:{dead}/0")
    assert args.func(args) == 2
    assert "no Redis answers" in capsys.readouterr().out


def test_dashboard_notebook_is_found() -> None:
    path = demo_command.find_dashboard()
    assert path.name == "dashboard.ipynb" and path.is_file()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _demo_args(**overrides: Any) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    demo_command.add_parser(parser.add_subparsers())
    argv = ["demo", "--no-browser"]
    for key, value in overrides.items():
        argv += [f"--{key}", str(value)]
    return parser.parse_args(argv)
