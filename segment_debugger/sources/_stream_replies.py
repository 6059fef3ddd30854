"""Stream ids and replies: start positions, reply shapes (RESP2 lists, RESP3 maps), payloads.

XREAD/XREADGROUP replies are taken as hiredis parsed them (nested lists, no dict per entry):
redis-py's callbacks would cost more than parsing the events.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

import orjson

from segment_debugger.core.event import Event

#: Field names tried, in order, when ``field`` is not given.
DEFAULT_FIELDS = ("data", "event", "payload")
_DEFAULT_KEYS = tuple(name.encode() for name in DEFAULT_FIELDS)

_START_WHOLE = frozenset({"0", "-", "0-0"})


@dataclass
class Cursor:
    """Where the source stands in one stream."""

    last_id: bytes
    """The last entry id buffered (reads resume after it)."""
    ordinal: int | None = None
    """How many entries the stream had ever been given up to ``last_id`` (Redis >= 7), or
    None when unknown; lets the source count entries trimmed before it read them."""
    held: bool = False
    """``last_id`` is an id the server had (an entry read, or its last id at ``"$"``), not
    just a start position: a server whose stream ends before it has lost entries."""


def parse_start(start: str | datetime | timedelta, now: float | None = None) -> str:
    """Turn ``start`` into the stream id reads begin after (exclusive, as XREAD).

    ``"$"`` (new entries only) stays ``"$"``; ``"0"``/``"-"`` is the whole stream; an entry id
    (``"1732780000000-0"`` or just milliseconds) is taken as it is; a ``datetime`` (naive means
    UTC) or a ``timedelta`` back from now start at that moment. Raises ValueError, saying what
    is accepted, for anything else or a moment in the future.
    """
    now = time.time() if now is None else now
    if isinstance(start, timedelta):
        if start < timedelta(0):
            raise ValueError(f"start={start!r} is a negative timedelta: give how far back to go")
        start = datetime.fromtimestamp(now, tz=timezone.utc) - start
    if isinstance(start, datetime):
        moment = start if start.tzinfo is not None else start.replace(tzinfo=timezone.utc)
        ms = int(moment.timestamp() * 1000)
        if ms > now * 1000 + 1000:
            raise ValueError(
                f"start={start.isoformat()} is in the future; use '$' for new entries only"
            )
        return "0-0" if ms <= 0 else f"{ms - 1}-18446744073709551615"
    if not isinstance(start, str):
        raise ValueError(
            f"start must be '$', '0', an entry id, a datetime or a timedelta, got {start!r}"
        )
    text = start.strip()
    if text == "$":
        return "$"
    if text in _START_WHOLE:
        return "0-0"
    ms_text, dash, seq_text = text.partition("-")
    if not ms_text.isdigit() or (dash and not seq_text.isdigit()):
        raise ValueError(
            f"start={start!r} is not a stream entry id like '1732780000000-0'; accepted: '$' "
            "(new entries), '0' (the whole stream), an entry id, a datetime or a timedelta"
        )
    if int(ms_text) > now * 1000 + 60_000:
        raise ValueError(f"start={start!r} lies in the future; use '$' for new entries only")
    return text if dash else f"{ms_text}-0"


#: One stream's part of an XREAD/XREADGROUP reply: (stream, [[entry id, fields], ...]).
Group = tuple[bytes, list[Any]]


def groups(reply: Any) -> list[Group]:
    """Return an XREAD/XREADGROUP reply as (stream, entries) pairs, entries as parsed.

    An entry's fields are None for a pending entry deleted meanwhile (skip it).
    """
    if not reply:
        return []
    pairs: Iterable[tuple[Any, Any]] = reply.items() if isinstance(reply, dict) else reply
    out: list[Group] = []
    for stream, items in pairs:
        if isinstance(items, list) and len(items) == 1 and isinstance(items[0], list) and (
            items[0] and isinstance(items[0][0], (list, tuple))
        ):
            items = items[0]  # RESP3 nests the entries one level deeper in some versions
        if items:
            out.append((stream, items))
    return out


class Batch(NamedTuple):
    """One stream's entries of a read, taken out of the reply (see :func:`batches`)."""

    key: bytes
    """The stream's key as the reply names it."""
    last: bytes
    """The last entry id (the stream's cursor moves there once the batch is buffered)."""
    ids: list[str]
    """Every entry id, in order, as text (an event's ``stream_id``; what XACK is given)."""
    values: list[Any]
    """Per entry, its payload (bytes) or, for an entry of any other shape, its fields."""
    plain: bool
    """Every value is a payload: no entry of another shape."""


def batches(reply: Any, field: str | None) -> list[Batch]:
    """Take an XREAD/XREADGROUP reply's entries out of it, one :class:`Batch` per stream.

    One pass per entry, no call: the usual entry (one field, or the one ``field`` names,
    holding bytes) gives its payload; any other gives its fields, for :func:`payload`. A
    pending entry deleted meanwhile (fields None) is skipped. Taken out, the reply can be
    freed before its entries are parsed: its two lists per entry are then not still alive
    when parsing triggers the garbage collector, which would move them to the oldest
    generation and make full collections (which scan every buffered event) more frequent.
    """
    want = None if field is None else field.encode()
    out: list[Batch] = []
    for key, items in groups(reply):
        ids: list[str] = []
        values: list[Any] = []
        add_id, add = ids.append, values.append
        plain = True
        last = None
        for entry_id, fields in items:
            if fields is None:  # a pending entry that was deleted meanwhile
                continue
            last = entry_id
            add_id(entry_id.decode("ascii", "replace"))
            if fields.__class__ is list and len(fields) == 2 and (
                fields[1].__class__ is bytes and (want is None or fields[0] == want)
            ):
                add(fields[1])
            else:
                add(fields)
                plain = False
        if last is not None:
            out.append(Batch(key, last, ids, values, plain))
    return out


def raw_reply(response: Any, **_options: Any) -> Any:
    """Keep the reply as parsed (a response callback)."""
    return response


def field_map(fields: Any) -> dict[bytes, bytes]:
    """Return an entry's fields as a dict (from hiredis's flat [f, v, ...] list, or a dict)."""
    if isinstance(fields, dict):
        return {as_bytes(k): as_bytes(v) for k, v in fields.items()}
    items: Sequence[Any] = fields or ()
    if len(items) == 2:
        return {as_bytes(items[0]): as_bytes(items[1])}
    return {as_bytes(items[i]): as_bytes(items[i + 1]) for i in range(0, len(items) - 1, 2)}


def as_bytes(value: Any) -> bytes:
    """Return ``value`` as bytes (str() of anything that is not bytes already)."""
    if isinstance(value, bytes):
        return value
    return str(value).encode()


def as_text(value: Any) -> str | None:
    """Return ``value`` as text, None staying None."""
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def as_int(value: Any) -> int | None:
    """Return ``value`` as an int, or None when absent or not a number."""
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def info_dict(raw: Any) -> dict[str, Any]:
    """Return an XINFO STREAM reply (a map, or RESP2's flat [key, value, ...]) as a dict."""
    if isinstance(raw, list):
        raw = zip(raw[::2], raw[1::2], strict=False)
    return {(as_text(k) or ""): v for k, v in dict(raw).items()}


def first_id(entry: Any) -> bytes | None:
    """Return the id of an XINFO ``first-entry`` (None when the stream is empty)."""
    if not entry:
        return None
    first = entry[0] if isinstance(entry, (list, tuple)) else None
    return first if isinstance(first, bytes) else None


def id_key(entry_id: bytes) -> tuple[int, int]:
    """Return an entry id as a sortable ``(ms, seq)`` pair."""
    ms, _, seq = entry_id.partition(b"-")
    return int(ms or 0), int(seq or 0)


def before(entry_id: bytes) -> bytes:
    """Return the id just before ``entry_id`` (so XREAD after it returns ``entry_id``)."""
    ms, seq = id_key(entry_id)
    if seq > 0:
        return f"{ms}-{seq - 1}".encode()
    return f"{max(ms - 1, 0)}-18446744073709551615".encode()


def payload(fields: Any, field: str | None) -> bytes | None:
    """Return the Segment payload among an entry's fields (a flat [f, v, ...] list).

    ``field`` names it; None takes ``data``, else ``event``, else ``payload``, else the only
    field.
    """
    if fields.__class__ is list and len(fields) == 2:  # the usual entry: one field
        if field is None:
            return as_bytes(fields[1])
        return as_bytes(fields[1]) if as_bytes(fields[0]) == field.encode() else None
    values = field_map(fields)
    if field is not None:
        return values.get(field.encode())
    for name in _DEFAULT_KEYS:
        value = values.get(name)
        if value is not None:
            return value
    if len(values) == 1:
        return next(iter(values.values()))
    return None


def unusable(stream: str, entry_id: bytes, fields: Any, field: str | None, now: float) -> Event:
    """Return an entry with no usable payload field as an invalid event naming its fields."""
    values = field_map(fields)
    names = [k.decode("utf-8", "replace") for k in values]
    shown = {k.decode("utf-8", "replace"): v.decode("utf-8", "replace")
             for k, v in values.items()}
    wanted = repr(field) if field else "'data', 'event' or 'payload'"
    violation = (
        f"stream entry has no {wanted} field (fields: {', '.join(map(repr, names)) or 'none'})"
    )
    raw = orjson.dumps(shown)
    return Event(raw, stream, now, None, -1, len(raw), valid=False, violations=[violation],
                 stream_id=entry_id.decode("ascii", "replace"))
