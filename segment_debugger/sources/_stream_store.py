"""Storing what a StreamSource read: parse each entry, buffer it, move the cursors, ACK.

The read loop (``streams.py``) takes each reply's entries out of it
(:func:`~._stream_replies.batches`) and hands them here; what it owns (the buffer, the
cursors, the field and group) comes in as arguments.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import redis

from segment_debugger.core.buffer import SHARED_CHUNK, EventBuffer
from segment_debugger.core.event import Event
from segment_debugger.core.segment import parse_event
from segment_debugger.sources import _stream_replies as rep


def store(
    client: redis.Redis, read: list[rep.Batch], *, buffer: EventBuffer,
    cursors: dict[str, rep.Cursor], key_names: dict[bytes, str], field: str | None,
    group: str | None,
) -> int:
    """Parse and buffer a read, move the cursors, ACK in a group; return how many.

    With the analysis on, the read is parsed and buffered a chunk at a time, each event
    handing the analysis the object parsed here (see
    :meth:`~.core.buffer.EventBuffer.extend_handed`); else a stream's batch in one call.
    """
    now = time.time()
    if buffer.shares_payloads:
        buffer.extend_handed(parsed(read, now, key_names, field, SHARED_CHUNK))
    else:
        for events in parsed(read, now, key_names, field, 0):
            buffer.extend(events)
    stored = 0
    for batch in read:
        count = len(batch.ids)
        stored += count
        cursor = cursors[name_of(batch.key, key_names)]
        cursor.last_id = batch.last
        cursor.held = True
        if cursor.ordinal is not None:
            cursor.ordinal += count
    if group is not None and read:
        pipe = client.pipeline(transaction=False)
        for batch in read:
            pipe.xack(batch.key, group, *batch.ids)
        pipe.execute()
    return stored


def name_of(key: bytes, key_names: dict[bytes, str]) -> str:
    """Return the stream name of a reply's ``key`` (remembered in ``key_names``)."""
    name = key_names.get(key)
    if name is None:
        name = key_names[key] = key.decode("utf-8", "replace")
    return name


def parsed(
    read: list[rep.Batch], now: float, key_names: dict[bytes, str], field: str | None,
    chunk: int,
) -> Iterator[list[Event]]:
    """Parse ``read`` into lists of events: a stream's batch each, or ``chunk`` at most.

    With ``chunk`` the events keep their parsed objects (handed to the analysis) and each
    chunk is parsed only when asked for, so only one chunk's objects are alive at a time.
    """
    parse = parse_event
    for batch in read:
        name = name_of(batch.key, key_names)
        ids, values = batch.ids, batch.values
        if not chunk:
            events = (
                [parse(value, name, now) for value in values] if batch.plain
                else _odd(ids, values, name, now, field, False)
            )
            _number(events, ids)
            yield events
            continue
        for start in range(0, len(values), chunk):
            part, part_ids = values[start:start + chunk], ids[start:start + chunk]
            events = (
                [parse(value, name, now, None, keep=True) for value in part] if batch.plain
                else _odd(part_ids, part, name, now, field, True)
            )
            _number(events, part_ids)
            yield events


def _number(events: list[Event], ids: list[str]) -> None:
    """Give each event its entry id."""
    for event, entry_id in zip(events, ids, strict=True):
        event.stream_id = entry_id


def _odd(
    ids: list[str], values: list[Any], name: str, now: float, field: str | None, keep: bool
) -> list[Event]:
    """Parse entries some of which have another shape than one payload field."""
    events: list[Event] = []
    for entry_id, value in zip(ids, values, strict=True):
        payload = value if value.__class__ is bytes else rep.payload(value, field)
        if payload is None:
            events.append(rep.unusable(name, entry_id.encode(), value, field, now))
        else:
            events.append(parse_event(payload, name, now, None, keep=keep))
    return events
