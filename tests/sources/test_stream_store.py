"""``sources/_stream_store``: a read buffered, cursors moved, deleted ones skipped."""

from __future__ import annotations

import json
from typing import Any

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.sources import _stream_replies as rep
from segment_debugger.sources._stream_store import parsed, store


def _entry(i: int) -> list[Any]:
    return [f"1-{i}".encode(), [b"data", json.dumps({"type": "track", "event": f"e{i}"}).encode()]]


def test_store_buffers_every_entry_and_moves_each_cursor() -> None:
    buffer = EventBuffer()
    cursors = {"a": rep.Cursor(b"0-0", 0), "b": rep.Cursor(b"0-0", None)}
    read = [(b"a", [_entry(1), [b"1-2", None], _entry(3)]), (b"b", [_entry(4)])]
    key_names: dict[bytes, str] = {}
    stored = store(None, read, buffer=buffer, cursors=cursors,  # type: ignore[arg-type]
                   key_names=key_names, field=None, group=None)
    assert stored == 3
    events = buffer.snapshot()
    assert [(e.channel, e.stream_id) for e in events] == [("a", "1-1"), ("a", "1-3"), ("b", "1-4")]
    assert cursors["a"] == rep.Cursor(b"1-3", 2, held=True)
    assert cursors["b"] == rep.Cursor(b"1-4", None, held=True)
    assert key_names == {b"a": "a", b"b": "b"}


def test_parsed_chunks_and_notes_acks_in_a_group() -> None:
    taken: list[tuple[bytes, str, bytes, int]] = []
    acks: dict[bytes, list[bytes]] = {}
    read = [(b"s", [_entry(i) for i in range(5)] + [[b"9-9", None]])]
    chunks = list(parsed(read, 0.0, taken, acks, 2, {}, None, "g"))
    assert [len(c) for c in chunks] == [2, 2, 1]
    assert taken == [(b"s", "s", b"1-4", 5)]
    assert acks == {b"s": [f"1-{i}".encode() for i in range(5)]}
