"""RedisSource._store: a read's messages parsed with their channel and pattern names.

The usual read (one channel, no pattern) looks the channel's name up once; any other mix
names each message on its own. Both must give each event its own channel and pattern.
"""

from __future__ import annotations

from segment_debugger.sources.pubsub import RedisSource

OK = b'{"type":"identify","userId":"u"}'


def stored(batch: list[tuple[bytes, bytes, bytes | None]]) -> list[tuple[str, str | None]]:
    source = RedisSource(channels=("a", "b"), patterns="p*")
    source._store(batch)
    events = source.buffer.snapshot()
    assert all(e.valid for e in events)
    assert len({e.received_at for e in events}) <= 1  # one timestamp per read
    return [(e.channel, e.pattern) for e in events]


def test_one_channel_no_pattern() -> None:
    assert stored([(b"a", OK, None)] * 3) == [("a", None)] * 3


def test_channels_and_patterns_mixed_in_one_read() -> None:
    assert stored([(b"a", OK, None), (b"b", OK, None), (b"a", OK, None)]) == [
        ("a", None), ("b", None), ("a", None)]
    assert stored([(b"a", OK, None), (b"p1", OK, b"p*")]) == [("a", None), ("p1", "p*")]
    assert stored([(b"p1", OK, b"p*")] * 2) == [("p1", "p*")] * 2
    assert stored([(b"caf\xc3\xa9", OK, None), (b"\xff", OK, None)]) == [
        ("café", None), ("\ufffd", None)]


def test_an_empty_read_stores_nothing() -> None:
    assert stored([]) == []


def test_with_the_analysis_on_reads_are_named_the_same() -> None:
    """The analysis path (events keep their parsed objects, a chunk at a time) too."""
    from segment_debugger.core.buffer import SHARED_CHUNK, EventBuffer

    source = RedisSource(channels=("a", "b"), patterns="p*",
                         buffer=EventBuffer(infer_schemas=True))
    one = [(b"a", OK, None)] * (SHARED_CHUNK + 3)
    mixed = [(b"a", OK, None), (b"p1", OK, b"p*"), (b"b", OK, None)]
    source._store(one)
    source._store(mixed)
    assert [(e.channel, e.pattern) for e in source.buffer.snapshot()] == (
        [("a", None)] * (SHARED_CHUNK + 3) + [("a", None), ("p1", "p*"), ("b", None)])
