"""demo() and start_demo(): a live debugger that owns its publisher and embedded Redis."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from support.leftovers import nothing_listens, process_gone

import segment_debugger
from segment_debugger.playground.demo import Demo, demo, start_demo
from segment_debugger.widget.widget import SegmentDebugger


@pytest.mark.redis
def test_start_demo_is_live_and_closing_the_debugger_stops_publisher_and_server() -> None:
    started = start_demo(rate=400, invalid_fraction=0.1, seed=1)
    dbg, server, publisher = started.debugger, started.server, started.publisher
    try:
        assert isinstance(dbg, SegmentDebugger)
        assert type(dbg).__name__ == "SegmentDebugger"  # no demo subclass built at run time
        assert server is not None and server.kind == "redis-server"
        assert started.url == server.url
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
    started.stop()  # idempotent too


@pytest.mark.redis
def test_demo_returns_the_debugger_and_sets_nothing_on_it() -> None:
    dbg = segment_debugger.demo(rate=200)
    try:
        assert isinstance(dbg, SegmentDebugger) and type(dbg).__name__ == "SegmentDebugger"
        assert not hasattr(dbg, "publisher") and not hasattr(dbg, "embedded")
        assert dbg.buffer.wait_for(20, timeout=15)
    finally:
        dbg.close()
    assert dbg.source is not None and dbg.source.status.state == "stopped"


@pytest.mark.redis
def test_demo_stop_closes_the_debugger_first() -> None:
    started = start_demo(rate=200)
    assert started.server is not None
    pid = started.server.pid
    started.stop()
    assert dbg_closed(started)
    assert not started.publisher.running and not started.server.running
    assert pid is not None and process_gone(pid)


def dbg_closed(started: Demo) -> bool:
    source = started.debugger.source
    return source is not None and source.status.state == "stopped"


@pytest.mark.redis
def test_demo_with_a_url_uses_that_redis_and_leaves_it_running(redis_server: Any) -> None:
    started = start_demo(url=redis_server.url, rate=200, channel="demo-events")
    dbg = started.debugger
    try:
        assert started.server is None
        assert dbg.buffer.wait_for(20, timeout=15)
        assert {e.channel for e in dbg.buffer.snapshot()} == {"demo-events"}
    finally:
        dbg.close()
    assert not started.publisher.running
    with redis_server.client() as c:
        assert c.ping()


def test_a_debugger_that_cannot_be_built_stops_the_server_it_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEGMENT_DEBUGGER_EMBEDDED", "fakeredis")
    with pytest.raises(TypeError, match="unexpected keyword"):
        demo(no_such_option=1)
    # the conftest's fixture checks that the fakeredis thread is gone


@pytest.mark.redis
def test_demo_stream_fills_the_debugger_from_a_stream(redis_server: Any) -> None:
    from segment_debugger.sources.streams import StreamSource

    started = start_demo(url=redis_server.url, rate=400, channel="demo-stream", stream=True,
                         maxlen=1000, seed=3)
    dbg = started.debugger
    try:
        assert isinstance(dbg.source, StreamSource) and dbg.source.streams == ("demo-stream",)
        assert started.publisher.target.kind == "stream"
        assert dbg.buffer.wait_for(100, timeout=15), f"buffer did not fill: {dbg.status}"
        events = dbg.buffer.snapshot()
        assert {e.channel for e in events} == {"demo-stream"}
        assert all(e.stream_id for e in events)  # read with XREAD: every event has its entry id
        with redis_server.client() as c:
            assert c.type("demo-stream") == b"stream"
            first = c.xrange("demo-stream", count=1)[0]
        assert list(first[1]) == [b"data"]
    finally:
        dbg.close()
    assert not started.publisher.running


@pytest.mark.redis
def test_demo_stream_on_the_embedded_server_is_trimmed_to_about_maxlen() -> None:
    started = start_demo(rate=2000, stream=True, maxlen=200)
    try:
        assert started.debugger.buffer.wait_for(500, timeout=15), started.debugger.status
        with redis.Redis.from_url(started.url) as c:
            info = c.xinfo_stream("events")
        assert info["entries-added"] >= 500
        assert 200 <= info["length"] < 300  # MAXLEN ~ 200 trims whole nodes of 100 entries
    finally:
        started.stop()
