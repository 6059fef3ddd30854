"""``sources/_stream_read.CountedRead`` and the read loop that sends reads ahead, on a real
redis-server: replies as parsed (RESP2 and RESP3), errors, a reply never left for another."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest
import redis
from support.redis_server import RedisServer
from support.waiting import wait_until

from segment_debugger.sources import _stream_replies as rep
from segment_debugger.sources._stream_read import CountedRead
from segment_debugger.sources.streams import StreamSource

pytestmark = pytest.mark.redis


def _fill(server: RedisServer, key: str, n: int) -> None:
    with server.client() as c:
        for i in range(n):
            c.xadd(key, {b"data": orjson.dumps({"type": "track", "event": "E", "userId": "u",
                                                 "properties": {"n": i}})})


@pytest.mark.parametrize("protocol", [2, 3])
def test_a_counted_read_returns_each_xinfo_then_the_entries(
    redis_server: RedisServer, protocol: int
) -> None:
    _fill(redis_server, "cr", 5)
    pool = redis.ConnectionPool.from_url(f"{redis_server.url}?protocol={protocol}")
    read = CountedRead(pool)
    try:
        read.send(["cr"], {b"cr": b"0-0"}, 3)
        assert read.in_flight
        *infos, reply = read.take()
        assert not read.in_flight
        info = rep.info_dict(infos[0])
        assert rep.as_int(info["length"]) == 5
        (batch,) = rep.batches(reply, None)
        assert batch.key == b"cr" and len(batch.ids) == 3 and batch.plain
        read.send(["cr"], {b"cr": batch.last}, 10)
        assert len(rep.batches(read.take()[-1], None)[0].ids) == 2
    finally:
        read.close()
        pool.disconnect()


def test_errors_drop_the_connection_and_the_next_read_works(redis_server: RedisServer) -> None:
    with redis_server.client() as c:
        c.set("not-a-stream", "x")
    _fill(redis_server, "ok", 1)
    pool = redis.ConnectionPool.from_url(redis_server.url)
    read = CountedRead(pool)
    try:
        read.send(["not-a-stream"], {b"not-a-stream": b"0-0"}, 1)  # fails when run: in EXEC
        *infos, reply = read.take()
        assert isinstance(infos[0], redis.ResponseError) and "WRONGTYPE" in str(infos[0])
        assert isinstance(reply, redis.ResponseError)
        read.send(["ok"], {b"ok": b"0-0"}, "many")  # type: ignore[arg-type]  # fails when run
        assert isinstance(read.take()[-1], redis.ResponseError)
        read._send([("MULTI",), ("XINFO",), ("EXEC",)])  # refused while queued: EXEC aborts
        with pytest.raises(redis.ResponseError):
            read.take()
        assert not read.in_flight
        read.send(["ok"], {b"ok": b"0-0"}, 1)
        assert len(rep.batches(read.take()[-1], None)[0].ids) == 1
    finally:
        read.close()
        pool.disconnect()


def test_closing_with_a_reply_unread_drops_the_connection(redis_server: RedisServer) -> None:
    """A read sent ahead and never taken must not be read by the pool's next user."""
    _fill(redis_server, "ahead", 3)
    pool = redis.ConnectionPool.from_url(redis_server.url)
    read = CountedRead(pool)
    try:
        read.send(["ahead"], {b"ahead": b"0-0"}, 3)
        read.close()
        client = redis.Redis(connection_pool=pool)
        assert client.ping() is True
        assert client.get("nothing") is None
    finally:
        pool.disconnect()


def test_a_read_is_buffered_even_when_sending_the_next_fails(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next read goes out before a reply is parsed; its failure must not drop the reply."""
    _fill(redis_server, "fails", 30)
    sends: list[dict[Any, Any]] = []
    real_send = CountedRead.send

    def send(self: CountedRead, *args: Any) -> None:
        sends.append(dict(args[1]))
        if len(sends) == 2:
            self.close()
            raise redis.ConnectionError("lost while sending the next read")
        real_send(self, *args)

    monkeypatch.setattr(CountedRead, "send", send)
    src = StreamSource(redis_server.url, "fails", start="0", batch=10)
    try:
        src.start()
        wait_until(lambda: len(src.buffer) == 30, what="all 30 entries, once")
        ns = [orjson.loads(e.raw)["properties"]["n"] for e in src.buffer.snapshot()]
        assert ns == list(range(30))  # the first 10 buffered before the error, none twice
        tenth = src.buffer.snapshot()[9].stream_id
        assert sends[2] == {b"fails": tenth.encode()}  # the next session began after them
    finally:
        src.stop()
    assert not [t for t in threading.enumerate() if t.name == StreamSource.thread_name]


def test_resp2_urls_read_and_count_trimming(redis_server: RedisServer) -> None:
    """XINFO's RESP2 reply is a flat list: taken raw, it still gives the trim count."""
    _fill(redis_server, "r2", 20)
    src = StreamSource(f"{redis_server.url}?protocol=2", "r2", start="0", batch=5)
    try:
        src.start()
        wait_until(lambda: len(src.buffer) == 20, what="20 entries over RESP2")
        src.stop()
        with redis_server.client() as c:
            _fill(redis_server, "r2", 10)
            c.xtrim("r2", maxlen=3, approximate=False)
        src.start()
        wait_until(lambda: len(src.buffer) == 23, what="the 3 entries left")
        (gap,) = src.buffer.gaps
        assert gap.lost_estimate == 7 and "trimmed" in gap.reason
    finally:
        src.stop()


def test_a_url_asking_for_decoded_responses_still_reads(redis_server: RedisServer) -> None:
    """``?decode_responses=true`` made every reply text: the reader failed on each entry id."""
    _fill(redis_server, "decoded", 3)
    src = StreamSource(f"{redis_server.url}?decode_responses=true", "decoded", start="0")
    try:
        src.start()
        wait_until(lambda: len(src.buffer) == 3, what="3 entries")
        assert src.status.state == "live"
        assert all(e.valid and e.stream_id for e in src.buffer.snapshot())
    finally:
        src.stop()


def test_start_stop_cycles_and_killed_reads_leave_no_connection_and_lose_nothing(
    redis_server: RedisServer,
) -> None:
    """CLIENT LIST before and after many sessions: stopped while a read sent ahead or a
    BLOCK wait is outstanding, reconnecting after its connection was killed; every entry
    buffered once, in order."""
    with redis_server.client() as admin:
        admin.client_setname("the-test")

        def others() -> list[dict[str, Any]]:
            return [c for c in admin.client_list() if c.get("name") != "the-test"]

        assert others() == []
        src = StreamSource(redis_server.url, "cycles", start="0", batch=7)
        added = 0
        try:
            for cycle in range(12):
                _fill(redis_server, "cycles", 40)  # read in several reads, sent ahead
                added += 40
                src.start()
                if cycle % 3 == 0:  # stopped while reading (a read in flight, likely)
                    wait_until(lambda n=added: len(src.buffer) > n - 40, what="reading")
                else:  # caught up: stopped in (or between) BLOCK waits
                    wait_until(lambda n=added: len(src.buffer) == n, what="caught up")
                if cycle % 4 == 1:  # its connection killed: the next session resumes
                    for client in others():
                        admin.client_kill_filter(_id=client["id"])
                    wait_until(lambda: src.status.state == "live" and len(others()) >= 1,
                               what="live again")
                src.stop()
                wait_until(lambda: others() == [], 5, what="no connection left after stop()")
            src.start()
            wait_until(lambda: len(src.buffer) == added, what="every entry")
        finally:
            src.stop()
        ns = [orjson.loads(e.raw)["properties"]["n"] for e in src.buffer.snapshot()]
        assert ns == [n for _ in range(13) for n in range(40)][:added]
        assert not src.buffer.gaps
        wait_until(lambda: others() == [], 5, what="no connection left")
