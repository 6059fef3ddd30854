"""RedisSource pieces that need no server: construction, status, backoff, the batched drain."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import hiredis
import pytest
from redis._parsers.hiredis import NOT_ENOUGH_DATA, _HiredisParser

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.sources import _link as link_module
from segment_debugger.sources import pubsub as source_module
from segment_debugger.sources._link import _Link
from segment_debugger.sources.pubsub import RedisSource, SourceStatus
from segment_debugger.sources.url import RedisURLError

SECRET = "unit-secret-pw"


def test_defaults_and_single_strings() -> None:
    src = RedisSource()
    assert src.channels == ("events",) and src.patterns == ()
    assert isinstance(src.buffer, EventBuffer)
    one = RedisSource(channels="a", patterns="b*")
    assert (one.channels, one.patterns) == (("a",), ("b*",))
    assert RedisSource(channels=["a", "a", "b"]).channels == ("a", "b")


def test_status_before_start_and_as_dict() -> None:
    src = RedisSource(f"redis://u:{SECRET}@h:1/0")
    status = src.status
    assert isinstance(status, SourceStatus)
    assert status.state == "stopped"
    as_dict = status.as_dict()
    assert set(as_dict) == {"state", "reason", "since", "url"}
    assert as_dict["url"] == "redis://u:***@h:1/0"
    with pytest.raises(AttributeError):
        status.state = "live"  # type: ignore[misc]
    src.stop()  # stop before start is a no-op
    assert src.status.state == "stopped"


def test_repr_is_redacted() -> None:
    text = repr(RedisSource(f"rediss://u:{SECRET}@h:6380/0", patterns="x.*"))
    assert SECRET not in text
    assert "rediss://u:***@h:6380/0" in text and "x.*" in text


@pytest.mark.parametrize(
    ("kwargs", "error", "complaint"),
    [
        ({"url": "http://h"}, RedisURLError, "scheme"),
        ({"url": f"redis://u:{SECRET}@h:1/0?socket_timeout=soon"}, RedisURLError, "redis-py"),
        ({"channels": (), "patterns": ()}, ValueError, "at least one channel"),
        ({"channels": ("",)}, ValueError, "non-empty strings"),
        ({"channels": (1,)}, ValueError, "non-empty strings"),
    ],
)
def test_bad_arguments_fail_at_construction(
    kwargs: dict[str, Any], error: type[Exception], complaint: str
) -> None:
    with pytest.raises(error, match=complaint) as info:
        RedisSource(**kwargs)
    assert SECRET not in str(info.value)


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    src = RedisSource()
    delays = [src._next_backoff() for _ in range(20)]
    for attempt, delay in enumerate(delays):
        ceiling = min(source_module.BACKOFF_CAP_S, source_module.BACKOFF_BASE_S * 2**attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert max(delays) <= source_module.BACKOFF_CAP_S
    assert len({round(d, 6) for d in delays[-5:]}) > 1  # jittered, not a fixed value


def resp(*items: bytes, push: bool) -> bytes:
    head = b">" if push else b"*"
    out = head + b"%d\r\n" % len(items)
    for item in items:
        out += b"$%d\r\n%s\r\n" % (len(item), item)
    return out


class FakePubSub:
    """Just enough of a PubSub for ``_drain``: a connection whose hiredis parser holds data."""

    def __init__(self, wire: bytes) -> None:
        parser = _HiredisParser.__new__(_HiredisParser)
        parser._reader = hiredis.Reader(notEnoughData=NOT_ENOUGH_DATA)
        parser._reader.feed(wire)
        self.connection = SimpleNamespace(_parser=parser)
        self.health_check_response_counter = 1
        self.shard_channels: dict[bytes, Any] = {}

    def is_health_check_response(self, reply: Any) -> bool:
        return reply in ([b"pong", b"redis-py-health-check"], b"redis-py-health-check")


def fake_link(src: RedisSource, wire: bytes, **wanted: tuple[str, ...]) -> Any:
    """A link of ``src`` holding ``wanted`` subscriptions, reading from ``wire``."""
    link = _Link(src._pool, "server", src._on_silent_reconnect)
    link.pubsub = FakePubSub(wire)  # type: ignore[assignment]
    for key, names in wanted.items():
        setattr(link, key, list(names))
    return link


@pytest.mark.parametrize("push", [False, True], ids=["RESP2", "RESP3"])
def test_drain_takes_messages_pmessages_confirmations_and_pongs(push: bool) -> None:
    wire = b"".join([
        resp(b"subscribe", b"events", b"1", push=push).replace(b"$1\r\n1\r\n", b":1\r\n"),
        resp(b"psubscribe", b"seg.*", b"2", push=push).replace(b"$1\r\n2\r\n", b":2\r\n"),
        resp(b"message", b"events", b'{"a": 1}', push=push),
        resp(b"pong", b"redis-py-health-check", push=False),
        resp(b"pmessage", b"seg.*", b"seg.web", b"\xff", push=push),
        b"*3\r\n$7\r\nmessage\r\n$6\r\nev",  # a reply cut in half: left for the next read
    ])
    src = RedisSource(channels="events", patterns="seg.*")
    link = fake_link(src, wire, channels=("events",), patterns=("seg.*",))
    batch: list[Any] = []
    assert link._drain(batch) is False
    assert batch == [(b"events", b'{"a": 1}', None), (b"seg.web", b"\xff", b"seg.*")]
    assert link.confirmed
    assert link.pubsub.health_check_response_counter == 0
    src._settle(link, [])
    assert src.status.state == "live"
    src._store(batch)
    events = src.buffer.snapshot()
    assert [(e.seq, e.channel, e.pattern, e.raw) for e in events] == [
        (1, "events", None, b'{"a": 1}'),
        (2, "seg.web", "seg.*", b"\xff"),
    ]
    assert events[0].received_at == events[1].received_at  # one timestamp per batch
    assert events[1].valid is False


def test_drain_stops_at_max_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(link_module, "MAX_BATCH", 3)
    wire = b"".join(resp(b"message", b"events", b"%d" % i, push=True) for i in range(5))
    link = fake_link(RedisSource(), wire)
    batch: list[Any] = []
    assert link._drain(batch) is True  # stopped at the cap: more may be waiting
    assert [data for _, data, _ in batch] == [b"0", b"1", b"2"]
    batch.clear()
    assert link._drain(batch) is False
    assert [data for _, data, _ in batch] == [b"3", b"4"]


def test_error_reply_in_the_drain_is_raised_not_swallowed() -> None:
    link = fake_link(RedisSource(), b"")
    reader = hiredis.Reader(notEnoughData=NOT_ENOUGH_DATA, replyError=RuntimeError)
    link.pubsub.connection._parser._reader = reader
    reader.feed(b"-NOPERM no permission\r\n")
    with pytest.raises(RuntimeError, match="NOPERM"):
        link._drain([])


def test_silent_reconnect_opens_a_gap_closed_when_resubscribed() -> None:
    src = RedisSource(channels=("a", "b"))
    link = fake_link(src, b"", channels=("a", "b"))
    link._counted(b"subscribe", b"b", 2)  # first subscription: live, no gap
    src._settle(link, [])
    assert src.status.state == "live" and src.buffer.gaps == []
    src._last_ok = 1000.0
    link._reconnected()  # what redis-py's on_connect reports
    assert src.status.state == "reconnecting" and not link.confirmed
    link._counted(b"subscribe", b"a", 1)  # one of two confirmations: not live yet
    src._settle(link, [])
    assert src.status.state == "reconnecting" and src.buffer.gaps == []
    link._counted(b"subscribe", b"b", 2)
    src._settle(link, [])
    assert src.status.state == "live"
    (gap,) = src.buffer.gaps
    assert gap.started_at == 1000.0 and gap.ended_at > gap.started_at
    assert "client-output-buffer-limit" in gap.reason


def test_store_hands_parsed_payloads_to_the_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the analysis on, _store parses a chunk at a time and the buffer does not parse the
    payloads again; the verdicts are those of the ordinary path and nothing is kept after."""
    from segment_debugger.core import _buffer_append as buffer_module
    from segment_debugger.core.buffer import SHARED_CHUNK
    from segment_debugger.core.event import FROM_RAW
    from segment_debugger.core.segment import parse_event
    from segment_debugger.playground.fake import FakeEventStream

    stream = FakeEventStream(seed=5, clock=lambda: 1.7e9)
    raws = [stream.payload() for _ in range(5 * SHARED_CHUNK + 3)]
    src = RedisSource(channels="events", buffer=EventBuffer(infer_schemas=True))
    chunks: list[int] = []

    class Watch:
        def appended(self, events: Any, evicted: Any) -> None:
            chunks.append(len(events))

        def cleared(self) -> None:
            pass

    src.buffer.add_observer(Watch())
    parsed: list[bytes] = []
    real = buffer_module._loads

    def counting(raw: bytes) -> Any:
        parsed.append(raw)
        return real(raw)

    monkeypatch.setattr(buffer_module, "_loads", counting)
    src._store([(b"events", raw, None) for raw in raws])
    assert parsed == []  # failed before: every payload was parsed again
    assert max(chunks) <= SHARED_CHUNK and sum(chunks) == len(raws)
    plain = EventBuffer(infer_schemas=True)
    plain.extend([parse_event(raw, "events", 1.0) for raw in raws])
    assert [(e.raw, e.valid, e.warnings_view()) for e in src.buffer] == [
        (e.raw, e.valid, e.warnings_view()) for e in plain
    ]
    assert all(e._data is FROM_RAW for e in src.buffer)
