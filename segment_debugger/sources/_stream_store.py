"""Storing what a StreamSource read: parse each entry, buffer it, move the cursors, ACK.

The read loop (``streams.py``) hands each reply here; what it owns (the buffer, the cursors,
the field and group) comes in as arguments.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import redis

from segment_debugger.core.buffer import SHARED_CHUNK, EventBuffer
from segment_debugger.core.event import Event
from segment_debugger.core.segment import parse_event
from segment_debugger.sources import _stream_replies as rep


def store(
    client: redis.Redis, read: list[rep.Group], *, buffer: EventBuffer,
    cursors: dict[str, rep.Cursor], key_names: dict[bytes, str], field: str | None,
    group: str | None,
) -> int:
    """Parse and buffer a read, move the cursors, ACK in a group; return how many.

    The usual entry (one field, the payload as bytes, no ``field`` named) is taken inline;
    any other shape goes through :func:`~._stream_replies.payload`. With the analysis on,
    the read is parsed and buffered a chunk at a time, each event handing the analysis the
    object parsed here (see :meth:`~.core.buffer.EventBuffer.extend_handed`); else in one
    call.
    """
    now = time.time()
    taken: list[tuple[bytes, str, bytes, int]] = []  # (stream, name, last id, count)
    acks: dict[bytes, list[bytes]] = {}
    if buffer.shares_payloads:
        buffer.extend_handed(parsed(read, now, taken, acks, SHARED_CHUNK, key_names, field, group))
    else:
        for events in parsed(read, now, taken, acks, 0, key_names, field, group):
            buffer.extend(events)
    stored = 0
    for _key, name, last, count in taken:
        stored += count
        cursor = cursors[name]
        cursor.last_id = last
        cursor.held = True
        if cursor.ordinal is not None:
            cursor.ordinal += count
    if acks and group is not None:
        pipe = client.pipeline(transaction=False)
        for key, ids in acks.items():
            pipe.xack(key, group, *ids)
        pipe.execute()
    return stored


def parsed(
    read: list[rep.Group], now: float, taken: list[tuple[bytes, str, bytes, int]],
    acks: dict[bytes, list[bytes]], chunk: int, key_names: dict[bytes, str],
    field: str | None, group: str | None,
) -> Iterator[list[Event]]:
    """Parse ``read`` into lists of ``chunk`` events (0: one list).

    Notes per stream the last id and count in ``taken`` and, in a group, the ids to ACK
    in ``acks``.
    """
    events: list[Event] = []
    append = events.append
    before = 0  # events yielded before ``events``
    keep = chunk > 0  # handed over: the events keep their parsed objects
    inline = field is None
    parse, payload_of = parse_event, rep.payload
    for key, items in read:
        name = key_names.get(key)
        if name is None:
            name = key_names[key] = key.decode("utf-8", "replace")
        first = before + len(events)
        last = None
        for entry_id, fields in items:
            if fields is None:  # a pending entry that was deleted meanwhile
                continue
            last = entry_id
            payload: bytes | None
            if inline and fields.__class__ is list and len(fields) == 2 and (
                fields[1].__class__ is bytes
            ):
                payload = fields[1]
            else:
                payload = payload_of(fields, field)
            if payload is None:
                append(rep.unusable(name, entry_id, fields, field, now))
            else:
                event = parse(payload, name, now, keep=keep)
                event.stream_id = entry_id.decode("ascii", "replace")
                append(event)
            if len(events) == chunk:
                yield events
                before += chunk
                events = []
                append = events.append
        if last is not None:
            taken.append((key, name, last, before + len(events) - first))
            if group is not None:
                acks[key] = [e for e, f in items if f is not None]
    if events:
        yield events
