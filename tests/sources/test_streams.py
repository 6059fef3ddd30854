"""StreamSource against real redis-servers: no loss across reconnects, replay, groups, trimming."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import orjson
import pytest
import redis
from support.redis_server import RedisServer
from support.waiting import wait_until

from segment_debugger.sources import streams as streams_module
from segment_debugger.sources.streams import StreamSource, parse_start

pytestmark = pytest.mark.redis


def entry(i: int) -> dict[bytes, bytes]:
    return {b"data": orjson.dumps({"type": "track", "event": "E", "userId": "u",
                                   "messageId": f"m{i}", "properties": {"n": i}})}


def n_of(event: object) -> int:
    return int(orjson.loads(event.raw)["properties"]["n"])  # type: ignore[attr-defined]


@pytest.fixture
def make_source() -> Iterator[Callable[..., StreamSource]]:
    made: list[StreamSource] = []

    def make(*args: object, **kwargs: object) -> StreamSource:
        source = StreamSource(*args, **kwargs)  # type: ignore[arg-type]
        made.append(source)
        return source

    yield make
    for source in made:
        source.stop()
    assert not [t for t in threading.enumerate() if t.name == StreamSource.thread_name]


def live(source: StreamSource) -> StreamSource:
    source.start()
    wait_until(lambda: source.status.state == "live", what=f"{source!r} live")
    return source


# ---- start positions ------------------------------------------------------------------------


def test_parse_start_forms() -> None:
    now = 1_700_000_000.0
    assert parse_start("$", now) == "$"
    assert parse_start("0", now) == parse_start("-", now) == "0-0"
    assert parse_start("1699999999000-3", now) == "1699999999000-3"
    assert parse_start("1699999999000", now) == "1699999999000-0"
    moment = datetime.fromtimestamp(now - 60, tz=timezone.utc)
    assert parse_start(moment, now) == f"{int((now - 60) * 1000) - 1}-18446744073709551615"
    assert parse_start(timedelta(minutes=1), now) == parse_start(moment, now)
    for bad in ("yesterday", "12-ab", "", "-5"):
        with pytest.raises(ValueError, match="accepted"):
            parse_start(bad, now)
    with pytest.raises(ValueError, match="future"):
        parse_start(datetime.fromtimestamp(now + 3600, tz=timezone.utc), now)
    with pytest.raises(ValueError, match="future"):
        parse_start(f"{int(now * 1000) + 3_600_000}-0", now)


def test_new_entries_only_by_default_and_the_whole_stream_from_0(
    redis_server: RedisServer, make_source: Callable[..., StreamSource]
) -> None:
    with redis_server.client() as c:
        for i in range(3):
            c.xadd("events", entry(i))
        newest = live(make_source(redis_server.url))
        whole = live(make_source(redis_server.url, start="0"))
        c.xadd("events", entry(3))
    wait_until(lambda: len(newest.buffer) == 1 and len(whole.buffer) == 4)
    assert [n_of(e) for e in newest.buffer] == [3]
    assert [n_of(e) for e in whole.buffer] == [0, 1, 2, 3]
    event = whole.buffer.snapshot()[0]
    assert event.channel == "events" and event.stream_id is not None and event.valid


def test_replay_from_a_time(redis_server: RedisServer,
                           make_source: Callable[..., StreamSource]) -> None:
    base_ms = int(time.time() * 1000) - 600_000
    with redis_server.client() as c:
        for i in range(10):  # one entry per minute, ten minutes ago up to one minute ago
            c.xadd("events", entry(i), id=f"{base_ms + i * 60_000}-0")
    moment = datetime.fromtimestamp((base_ms + 5 * 60_000) / 1000, tz=timezone.utc)
    src = live(make_source(redis_server.url, start=moment))
    wait_until(lambda: len(src.buffer) == 5)
    assert [n_of(e) for e in src.buffer] == [5, 6, 7, 8, 9]
    back = live(make_source(redis_server.url, start=timedelta(seconds=150)))
    wait_until(lambda: len(back.buffer) == 2)
    assert [n_of(e) for e in back.buffer] == [8, 9]


def test_fields_data_event_payload_only_and_none(
    redis_server: RedisServer, make_source: Callable[..., StreamSource]
) -> None:
    body = b'{"type":"track","event":"E","userId":"u"}'
    src = live(make_source(redis_server.url))
    named = live(make_source(redis_server.url, field="segment"))
    with redis_server.client() as c:
        c.xadd("events", {"event": body, "other": b"x"})
        c.xadd("events", {"payload": body})
        c.xadd("events", {"anything": body})
        c.xadd("events", {"a": b"1", "b": b"2"})
        c.xadd("events", {"segment": body, "data": b"not this"})
    wait_until(lambda: len(src.buffer) == 5 and len(named.buffer) == 5)
    events = src.buffer.snapshot()
    assert [e.valid for e in events] == [True, True, True, False, False]
    assert "fields: 'a', 'b'" in events[3].violations[0]
    assert orjson.loads(events[3].raw) == {"a": "1", "b": "2"}
    assert [e.valid for e in named.buffer] == [False, False, False, False, True]


# ---- no loss -------------------------------------------------------------------------------


@pytest.mark.slow  # minutes under load: in the main suite, not the installed-wheel runs
def test_100k_entries_through_client_kills_and_a_restart_arrive_exactly_once(
    make_source: Callable[..., StreamSource],
) -> None:
    total = 100_000
    with RedisServer(None, "--appendonly", "yes") as server:
        src = live(make_source(server.url, start="0", buffer=None))
        src.buffer._max_messages = total  # keep everything for the check
        done = threading.Event()

        def publish() -> None:
            i = 0
            while i < total:
                try:
                    with server.client(socket_timeout=5) as c:
                        while i < total:
                            pipe = c.pipeline(transaction=False)
                            for j in range(i, min(i + 500, total)):
                                pipe.xadd("events", entry(j), id=f"{j + 1}-1")
                            results = pipe.execute(raise_on_error=False)
                            for r in results:  # an id already added (reply lost): fine
                                if isinstance(r, Exception) and "equal or smaller" not in str(r):
                                    raise r
                            i = min(i + 500, total)
                except (redis.ConnectionError, redis.TimeoutError, OSError):
                    time.sleep(0.05)  # paces the retry while the server restarts (the scenario)
            done.set()

        def kill() -> None:
            restarted = False
            while not done.is_set():
                try:
                    with server.client(socket_timeout=2) as c:
                        c.client_kill_filter(_type="normal", skipme=True)
                except (redis.ConnectionError, redis.TimeoutError, OSError, redis.ResponseError):
                    pass
                if not restarted and len(src.buffer) > total // 3:
                    server.restart()
                    restarted = True
                done.wait(0.2)

        threads = [threading.Thread(target=publish), threading.Thread(target=kill)]
        for t in threads:
            t.start()
        try:
            wait_until(lambda: len(src.buffer) >= total, timeout=120, what="all entries")
        finally:
            done.set()
            for t in threads:
                t.join(30)
        events = src.buffer.snapshot()
        numbers = [n_of(e) for e in events]
        assert len(numbers) == total
        assert numbers == list(range(total))  # nothing missing, nothing twice, in id order
        assert [e.stream_id for e in events] == [f"{n + 1}-1" for n in range(total)]
        assert src.buffer.stats["gaps"] == 0


def test_a_read_that_never_completes_halves_the_count(
    make_source: Callable[..., StreamSource],
) -> None:
    """A server that closes a client whose reply passes its output buffer limit kills every
    XREAD COUNT 1000 here (about 300 KB of entries): no read ever completed, so the source
    read nothing, reconnecting forever. It now halves COUNT after a session that completed
    no read, and every entry arrives exactly once, in order."""
    total = 3000
    filler = "x" * 250
    with RedisServer() as server:
        with server.client() as c:
            for start in range(0, total, 500):
                pipe = c.pipeline(transaction=False)
                for i in range(start, start + 500):
                    pipe.xadd("events", {b"data": orjson.dumps({
                        "type": "track", "event": "E", "userId": "u",
                        "properties": {"n": i, "filler": filler}})})
                pipe.execute()
            c.config_set("client-output-buffer-limit", "normal 64kb 64kb 0")
        src = live(make_source(server.url, start="0"))
        wait_until(lambda: len(src.buffer) >= total, timeout=30, what="every entry")
        assert [n_of(e) for e in src.buffer] == list(range(total))
        assert src._count < src.batch == 1000 and src.buffer.stats["gaps"] == 0


def test_a_quiet_stream_never_trips_the_socket_timeout(
    redis_server: RedisServer, make_source: Callable[..., StreamSource],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(streams_module, "SOCKET_TIMEOUT_S", 0.6)
    src = live(make_source(redis_server.url))
    since = src.status.since
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        assert src.status.state == "live" and src.status.since == since
        time.sleep(0.05)  # samples the quiet spell (the scenario): nothing to wait for
    with redis_server.client() as c:
        c.xadd("events", entry(1))
    wait_until(lambda: len(src.buffer) == 1)


# ---- consumer groups -----------------------------------------------------------------------


def test_two_sources_in_one_group_split_the_stream(
    redis_server: RedisServer, make_source: Callable[..., StreamSource]
) -> None:
    a = live(make_source(redis_server.url, group="dbg", consumer="a", batch=10))
    b = live(make_source(redis_server.url, group="dbg", consumer="b", batch=10))
    with redis_server.client() as c:
        for i in range(2000):
            c.xadd("events", entry(i))
    wait_until(lambda: len(a.buffer) + len(b.buffer) == 2000, timeout=20)
    got_a = {n_of(e) for e in a.buffer}
    got_b = {n_of(e) for e in b.buffer}
    assert got_a | got_b == set(range(2000)) and not got_a & got_b
    assert got_a and got_b
    with redis_server.client() as c:
        wait_until(lambda: c.xpending("events", "dbg")["pending"] == 0, what="all acked")


def test_a_restarted_consumer_gets_its_pending_entries(
    redis_server: RedisServer, make_source: Callable[..., StreamSource]
) -> None:
    with redis_server.client() as c:
        c.xgroup_create("events", "dbg", id="0", mkstream=True)
        for i in range(10):
            c.xadd("events", entry(i))
        c.xreadgroup("dbg", "crashed", {"events": ">"}, count=6)  # read, never acked
        src = live(make_source(redis_server.url, group="dbg", consumer="crashed"))
        c.xadd("events", entry(10))
        wait_until(lambda: len(src.buffer) == 11)
        assert sorted(n_of(e) for e in src.buffer) == list(range(11))
        wait_until(lambda: c.xpending("events", "dbg")["pending"] == 0)


# ---- trimming and bad input ----------------------------------------------------------------


def test_trimming_while_stopped_is_a_gap_with_the_count(
    redis_server: RedisServer, make_source: Callable[..., StreamSource]
) -> None:
    src = live(make_source(redis_server.url))
    with redis_server.client() as c:
        for i in range(5):
            c.xadd("events", entry(i))
        wait_until(lambda: len(src.buffer) == 5)
        src.stop()
        for i in range(5, 105):
            c.xadd("events", entry(i), maxlen=20, approximate=False)
        live(src)
        wait_until(lambda: len(src.buffer) == 25)
    gap = src.buffer.gaps[0]
    assert "trimmed" in gap.reason and "80 entries" in gap.reason
    assert (gap.lost_estimate, gap.estimate_basis) == (80, "exact")
    assert [n_of(e) for e in src.buffer] == [*range(5), *range(85, 105)]


def test_trimming_ahead_of_a_slow_reader_is_counted(
    redis_server: RedisServer, make_source: Callable[..., StreamSource]
) -> None:
    src = live(make_source(redis_server.url, batch=10))
    with redis_server.client() as c:
        pipe = c.pipeline(transaction=False)
        for i in range(5000):
            pipe.xadd("events", entry(i), maxlen=100, approximate=False)
        pipe.execute()
        last = c.xinfo_stream("events")["last-generated-id"].decode()
    wait_until(lambda: src.last_ids.get("events") == last, timeout=20, what="caught up")
    assert len(src.buffer) < 5000  # batches of 10 could not keep up with MAXLEN 100
    assert src.buffer.stats["lost_estimate"] == 5000 - len(src.buffer)  # exact, not estimated
    assert all("trimmed" in g.reason for g in src.buffer.gaps)


def test_a_key_that_is_not_a_stream_says_so(
    redis_server: RedisServer, make_source: Callable[..., StreamSource]
) -> None:
    with redis_server.client() as c:
        c.set("events", "a string")
    src = make_source(redis_server.url).start()
    wait_until(lambda: "not a stream" in src.status.reason)
    assert src.status.state == "error" and "holds a string" in src.status.reason
    assert src.running  # keeps retrying: fix the key and it goes live
    with redis_server.client() as c:
        c.delete("events")
    wait_until(lambda: src.status.state == "live")


def test_a_missing_stream_is_waited_for(
    redis_server: RedisServer, make_source: Callable[..., StreamSource]
) -> None:
    src = live(make_source(redis_server.url, streams=["later"]))
    with redis_server.client() as c:
        c.xadd("later", entry(1))
    wait_until(lambda: len(src.buffer) == 1)


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="negative timedelta"):
        StreamSource("redis://h", start=timedelta(days=-1))
    with pytest.raises(ValueError, match="batch"):
        StreamSource("redis://h", batch=0)
    with pytest.raises(ValueError, match="streams must be non-empty"):
        StreamSource("redis://h", streams=[""])
    with pytest.raises(ValueError, match="group"):
        StreamSource("redis://h", group="")


@pytest.mark.parametrize("group", [None, "dbg"], ids=["plain", "group"])
def test_with_the_analysis_on_reads_are_handed_over_a_chunk_at_a_time(
    redis_server: RedisServer, make_source: Callable[..., StreamSource],
    monkeypatch: pytest.MonkeyPatch, group: str | None,
) -> None:
    """Schema inference on: each entry is parsed once (the buffer does not parse the payloads
    again), arrives exactly once, in order, with the verdicts of the ordinary path; an
    unusable entry among them still counts; cursors move and a group ACKs everything."""
    from segment_debugger.core import _buffer_append as buffer_module
    from segment_debugger.core.buffer import SHARED_CHUNK, EventBuffer
    from segment_debugger.core.event import FROM_RAW
    from segment_debugger.core.segment import parse_event

    parsed: list[bytes] = []
    real = buffer_module._loads

    def counting(raw: bytes) -> object:
        parsed.append(raw)
        return real(raw)

    monkeypatch.setattr(buffer_module, "_loads", counting)
    n = 5 * SHARED_CHUNK + 9
    with redis_server.client() as c:
        for i in range(n):
            c.xadd("events", entry(i) if i != 40 else {b"a": b"1", b"b": b"2"})
            if i % 7 == 0:
                c.xadd("other", entry(1000 + i))
    buffer = EventBuffer(infer_schemas=True)
    src = live(make_source(redis_server.url, streams=["events", "other"], start="0",
                           buffer=buffer, group=group, batch=100))
    total = n + len(range(0, n, 7))
    wait_until(lambda: len(src.buffer) == total, timeout=20)
    events = src.buffer.snapshot()
    for name in ("events", "other"):
        ids = [e.stream_id or "" for e in events if e.channel == name]
        assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
        assert len(set(ids)) == len(ids)
    assert sorted(n_of(e) for e in events if e.valid) == sorted(
        [i for i in range(n) if i != 40] + [1000 + i for i in range(0, n, 7)])
    assert [e.valid for e in events].count(False) == 1
    assert parsed == []  # failed before: the buffer parsed every payload again
    assert all(e._data is FROM_RAW for e in events if e.valid)
    plain = [parse_event(e.raw, e.channel, 1.0) for e in events if e.valid]
    assert [(e.valid, e.violations_view()) for e in plain] == [
        (e.valid, e.violations_view()) for e in events if e.valid
    ]
    if group is not None:
        with redis_server.client() as c:
            wait_until(lambda: c.xpending("events", group)["pending"] == 0
                       and c.xpending("other", group)["pending"] == 0, what="all acked")
