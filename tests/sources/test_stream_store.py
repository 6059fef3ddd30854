"""``sources/_stream_store`` and the reply's entries taken out of it: buffered, cursors moved,
deleted ones skipped, other shapes kept."""

from __future__ import annotations

import gc
import json
from typing import Any

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.sources import _stream_replies as rep
from segment_debugger.sources._stream_store import parsed, store


def _entry(i: int) -> list[Any]:
    payload = json.dumps({"type": "track", "event": f"e{i}", "userId": "u"}).encode()
    return [f"1-{i}".encode(), [b"data", payload]]


def test_store_buffers_every_entry_and_moves_each_cursor() -> None:
    buffer = EventBuffer()
    cursors = {"a": rep.Cursor(b"0-0", 0), "b": rep.Cursor(b"0-0", None)}
    reply = [[b"a", [_entry(1), [b"1-2", None], _entry(3)]], [b"b", [_entry(4)]]]
    key_names: dict[bytes, str] = {}
    stored = store(None, rep.batches(reply, None), buffer=buffer,  # type: ignore[arg-type]
                   cursors=cursors, key_names=key_names, field=None, group=None)
    assert stored == 3
    events = buffer.snapshot()
    assert [(e.channel, e.stream_id) for e in events] == [("a", "1-1"), ("a", "1-3"), ("b", "1-4")]
    assert cursors["a"] == rep.Cursor(b"1-3", 2, held=True)
    assert cursors["b"] == rep.Cursor(b"1-4", None, held=True)
    assert key_names == {b"a": "a", b"b": "b"}


def test_batches_take_payloads_and_keep_other_shapes_for_the_slow_path() -> None:
    payload = _entry(1)[1][1]
    reply = {b"s": [
        [b"1-1", [b"data", payload]],
        [b"1-2", None],  # a pending entry deleted meanwhile
        [b"1-3", [b"other", b"x", b"data", payload]],
        [b"1-4", [b"data", "text"]],  # not bytes (decode_responses): the slow path
    ], b"t": [[b"2-1", [b"data", payload]]], b"u": [[b"3-1", None]]}
    got = rep.batches(reply, None)
    assert [b.key for b in got] == [b"s", b"t"]  # u had only a deleted entry
    s, t = got
    assert s.ids == ["1-1", "1-3", "1-4"] and s.last == b"1-4" and not s.plain
    assert s.values == [payload, [b"other", b"x", b"data", payload], [b"data", "text"]]
    assert t == rep.Batch(b"t", b"2-1", ["2-1"], [payload], True)
    named = rep.batches({b"s": [[b"1-1", [b"data", payload]], [b"1-2", [b"body", b"y"]]]}, "body")
    assert named[0].values == [[b"data", payload], b"y"] and not named[0].plain


def test_odd_entries_are_parsed_or_kept_invalid_with_their_ids() -> None:
    payload = _entry(1)[1][1]
    reply = {b"s": [
        [b"1-1", [b"data", payload]],
        [b"1-3", [b"other", b"x", b"data", payload]],
        [b"1-5", [b"a", b"1", b"b", b"2"]],
    ]}
    for chunk in (0, 2):
        events = [e for part in parsed(rep.batches(reply, None), 0.0, {}, None, chunk)
                  for e in part]
        assert [e.stream_id for e in events] == ["1-1", "1-3", "1-5"]
        assert [e.valid for e in events] == [True, True, False]
        assert "no 'data', 'event' or 'payload' field" in events[2].violations[0]


def test_parsed_chunks_keep_objects_only_when_handed() -> None:
    reply = [[b"s", [_entry(i) for i in range(5)] + [[b"9-9", None]]]]
    chunks = list(parsed(rep.batches(reply, None), 0.0, {}, None, 2))
    assert [len(c) for c in chunks] == [2, 2, 1]
    assert [e.stream_id for c in chunks for e in c] == [f"1-{i}" for i in range(5)]
    whole = list(parsed(rep.batches(reply, None), 0.0, {}, None, 0))
    assert [len(c) for c in whole] == [5]


def test_batches_hold_no_list_of_the_reply() -> None:
    """Only payloads and ids are kept, so the reply's lists can be freed before parsing."""
    reply = {b"s": [_entry(i) for i in range(50)]}
    read = rep.batches(reply, None)
    lists = [o for o in gc.get_referents(*read) if isinstance(o, list)]
    assert len(lists) == 2  # ids and values
    assert {type(o) for o in gc.get_referents(*lists)} == {bytes, str}
