"""StreamSource: Redis Streams into an EventBuffer, with no loss across reconnects.

Streams keep what was published, so unlike pub/sub nothing is lost while the source is away:
it remembers the last entry id it buffered per stream and resumes after it (``XREAD``), or,
in a consumer group, reads its own pending entries first and acknowledges a batch only once it
is buffered (``XREADGROUP`` + ``XACK``). The one real loss is trimming (``MAXLEN``/``MINID``)
past the last entry read; on Redis >= 7 the source counts the entries trimmed unread and
records them as a gap with that exact number.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.event import Event
from segment_debugger.core.segment import parse_event
from segment_debugger.sources import _redispy
from segment_debugger.sources.base import CONNECT_TIMEOUT_S, ThreadedSource
from segment_debugger.sources.url import RedisURLError

logger = logging.getLogger(__name__)

#: How long one blocking read waits (ms); bounds how late ``stop()`` is noticed. Far below
#: the socket timeout, so a quiet stream never trips redis-py's read timeout.
BLOCK_MS = 250
#: The socket timeout for every command (the blocking read included: see BLOCK_MS).
SOCKET_TIMEOUT_S = 10.0
#: Field names tried, in order, when ``field`` is not given.
DEFAULT_FIELDS = ("data", "event", "payload")
_DEFAULT_KEYS = tuple(name.encode() for name in DEFAULT_FIELDS)

_START_WHOLE = frozenset({"0", "-", "0-0"})

#: Stream name -> the id to read after, as redis-py's xread/xreadgroup take them.
_StreamIds = dict[bytes | str | memoryview, int | bytes | str | memoryview]


@dataclass
class _Cursor:
    """Where the source stands in one stream."""

    last_id: bytes
    """The last entry id buffered (reads resume after it)."""
    ordinal: int | None = None
    """How many entries the stream had ever been given up to ``last_id`` (Redis >= 7), or
    None when unknown; lets the source count entries trimmed before it read them."""


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


def _names(value: str | Iterable[str]) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else tuple(value)
    if not items:
        raise ValueError("StreamSource needs at least one stream name")
    for item in items:
        if not isinstance(item, str) or not item:
            raise ValueError(f"StreamSource streams must be non-empty strings, got {item!r}")
    return tuple(dict.fromkeys(items))


class StreamSource(ThreadedSource):
    """Read Redis Streams into ``buffer`` from one daemon thread, losing nothing on reconnect.

    ``streams``: one name or several. ``start``: where reading begins (see
    :func:`parse_start`): ``"$"`` new entries only (default), ``"0"`` the whole stream, an
    entry id (exclusive), a ``datetime``, or a ``timedelta`` back from now. Each entry holds a
    Segment message in one field: ``field`` names it; by default the source takes ``data``,
    else ``event``, else ``payload``, else the entry's only field; an entry with none of these
    is kept as an invalid event whose violation names its fields.

    With ``group`` the source reads as ``consumer`` (default: host name and pid) of that
    consumer group (created at ``start`` with MKSTREAM if missing), acknowledges each batch once
    it is buffered, and reads its own pending entries first, so a restarted debugger loses
    nothing; two sources in one group split the stream.

    Events keep their entry id in ``stream_id`` and their stream name in ``channel``.
    """

    thread_name = "segment-debugger-stream"
    resumes_without_loss = True

    def __init__(
        self,
        url: str,
        streams: str | Iterable[str] = ("events",),
        *,
        start: str | datetime | timedelta = "$",
        group: str | None = None,
        consumer: str | None = None,
        field: str | None = None,
        batch: int = 1000,
        buffer: EventBuffer | None = None,
        cluster: bool | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_S,
    ) -> None:
        super().__init__(url, buffer, connect_timeout=connect_timeout)
        self.streams = _names(streams)
        self.start_at = parse_start(start)
        if group is not None and (not isinstance(group, str) or not group):
            raise ValueError(f"StreamSource group must be a non-empty string, got {group!r}")
        self.group = group
        self.consumer = consumer or f"segment-debugger-{socket.gethostname()}-{os.getpid()}"
        if field is not None and (not isinstance(field, str) or not field):
            raise ValueError(f"StreamSource field must be a non-empty string, got {field!r}")
        self.field = field
        if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 100_000:
            raise ValueError(f"StreamSource batch must be an int in [1, 100000], got {batch!r}")
        self.batch = batch
        if cluster:
            raise ValueError(
                "StreamSource(cluster=True) is not supported yet: connect to the node that "
                "owns the stream's key"
            )
        self._interrupter = _redispy.Interrupter()
        try:
            self._pool = _redispy.guarded_pool(
                url,
                self._interrupter,
                socket_connect_timeout=self.connect_timeout,
                socket_timeout=SOCKET_TIMEOUT_S,
                health_check_interval=0,
                retry=Retry(NoBackoff(), 0),
            )
            self._pool.connection_class(**self._pool.connection_kwargs)
        except (ValueError, TypeError) as exc:
            raise RedisURLError(
                f"Redis URL {self._url.redacted!r} was rejected by redis-py: "
                f"{self._url.scrub(str(exc))}"
            ) from None
        self._cursors: dict[str, _Cursor] = {}
        self._keys = {name: name.encode() for name in self.streams}
        self._client: redis.Redis | None = None
        self._pending_done: set[str] = set()

    def start(self) -> StreamSource:
        """Start the reader thread (no-op when it is already running); return ``self``."""
        if not self.running:
            self._interrupter.reset()
        super().start()
        return self

    def __enter__(self) -> StreamSource:
        return self.start()

    def __repr__(self) -> str:
        group = f", group={self.group!r}" if self.group else ""
        return (
            f"StreamSource({self.url!r}, streams={self.streams!r}, start={self.start_at!r}"
            f"{group}, state={self._status.state!r})"
        )

    @property
    def last_ids(self) -> dict[str, str]:
        """The last entry id buffered per stream (reads resume after it)."""
        return {name: c.last_id.decode() for name, c in self._cursors.items()}

    # ---- the session ---------------------------------------------------------------------

    def _interrupt(self) -> None:
        self._interrupter.interrupt()

    def _close_session(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _finish(self) -> None:
        self._pool.disconnect()

    def _session(self, stop: threading.Event) -> None:
        self._client = client = redis.Redis(connection_pool=self._pool)
        # Take XREAD/XREADGROUP replies as hiredis parsed them (nested lists): redis-py's
        # callbacks would build a dict per entry, which costs more than parsing the event.
        client.set_response_callback("XREAD", _raw_reply)
        client.set_response_callback("XREADGROUP", _raw_reply)
        if self.group is not None:
            self._ensure_group(client)
        resumed = bool(self._cursors)
        self._position(client)
        self._pending_done = set()
        where = ", ".join(
            f"{name} after {c.last_id.decode()}" for name, c in self._cursors.items()
        )
        how = f"group {self.group} as {self.consumer}: " if self.group else ""
        self._went_live(f"stream {how}{where}" + (" (resumed)" if resumed else ""))
        while not stop.is_set():
            if self.group is None:
                entries = self._read_counted(client)
                if not entries:  # caught up: wait for more (then read it, counted, above)
                    client.xread(self._read_ids(), count=1, block=BLOCK_MS)
            else:
                entries = _entries(client.xreadgroup(
                    self.group, self.consumer, self._group_ids(), count=self.batch,
                    block=BLOCK_MS,
                ))
                if not entries:
                    self._pending_done.update(self.streams)
            if entries:
                self._store(client, entries)
            self._mark_ok()

    def _read_ids(self) -> _StreamIds:
        return {self._keys[name]: c.last_id for name, c in self._cursors.items()}

    def _group_ids(self) -> _StreamIds:
        """Pending entries ("0"/after the last) until none are left, then new ones (">")."""
        return {
            self._keys[name]: (b">" if name in self._pending_done else self._cursors[name].last_id)
            for name in self.streams
        }

    def _ensure_group(self, client: redis.Redis) -> None:
        assert self.group is not None
        for name in self.streams:
            try:
                client.xgroup_create(name, self.group, id=self.start_at, mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def _position(self, client: redis.Redis) -> None:
        """Set each stream's cursor: kept from before, else from ``start``; check the key."""
        for name in self.streams:
            info = self._info(client, name)
            cursor = self._cursors.get(name)
            if cursor is not None:
                if self.group is not None:
                    cursor.last_id = b"0-0"  # our own pending entries first, then new ones
                continue
            if self.group is not None:
                self._cursors[name] = _Cursor(b"0-0", None)
                continue
            # A stream that does not exist yet has had no entries (an unknown count on
            # Redis < 7 is harmless: without entries-added no count is ever made).
            added = _int(info.get("entries-added")) if info else 0
            length = _int(info.get("length")) if info else 0
            if self.start_at == "$":
                last = _text(info.get("last-generated-id")) if info else None
                self._cursors[name] = _Cursor((last or "0-0").encode(), added)
            elif self.start_at == "0-0":
                base = None if added is None else added - (length or 0)
                self._cursors[name] = _Cursor(b"0-0", base)
            else:
                self._cursors[name] = _Cursor(self.start_at.encode(), None)

    def _info(self, client: redis.Redis, name: str) -> dict[str, Any] | None:
        """XINFO STREAM as a dict with text keys, or None when the stream does not exist."""
        try:
            raw = client.xinfo_stream(name)
        except redis.ResponseError as exc:
            text = str(exc)
            if "no such key" in text.lower():
                return None
            if "WRONGTYPE" in text:
                kind = _text(client.type(name)) or "other"
                raise redis.ResponseError(
                    f"key {name!r} holds a {kind}, not a stream: name a stream (XADD) or use "
                    "RedisSource for pub/sub channels"
                ) from None
            raise
        return {(_text(k) or ""): v for k, v in dict(raw).items()}

    # ---- trimming ----------------------------------------------------------------------------

    def _read_counted(self, client: redis.Redis) -> list[tuple[bytes, bytes, Any]]:
        """Read the next entries and, in the same MULTI, each stream's XINFO.

        Entries leave a stream from its head, so it has lost ``entries-added - length`` in all
        (Redis >= 7); those past our last read (its ``ordinal``) were trimmed unread. Taken in
        one transaction with the read, the count is exact: the entries returned follow them.
        """
        pipe = client.pipeline(transaction=True)
        for name in self._cursors:
            pipe.xinfo_stream(name)
        pipe.xread(self._read_ids(), count=self.batch)
        *infos, reply = pipe.execute(raise_on_error=False)
        if isinstance(reply, Exception):
            raise reply
        for (name, cursor), info in zip(self._cursors.items(), infos, strict=True):
            if isinstance(info, Exception):
                if "no such key" in str(info).lower():
                    continue
                self._info(client, name)  # raises the readable error (WRONGTYPE...)
                raise info
            self._account_trimming(name, cursor, {(_text(k) or ""): v for k, v in info.items()})
        return _entries(reply)

    def _account_trimming(self, name: str, cursor: _Cursor, info: dict[str, Any]) -> None:
        added, length = _int(info.get("entries-added")), _int(info.get("length"))
        if added is not None and length is not None:
            deleted = added - length
            if cursor.ordinal is not None and deleted > cursor.ordinal:
                self._record_trim(name, cursor, deleted - cursor.ordinal)
                cursor.ordinal = deleted
            return
        # Redis < 7: no count, but a first entry past our last read still shows the loss.
        first = _entry_id(info.get("first-entry"))
        if first is not None and cursor.last_id != b"0-0" and (
            _id_key(first) > _id_key(cursor.last_id) and _before(first) != cursor.last_id
        ):
            self._record_trim(name, cursor, None)
            cursor.last_id = _before(first)

    def _record_trim(self, name: str, cursor: _Cursor, lost: int | None) -> None:
        count = f"{lost:,} entries" if lost is not None else "entries (how many: unknown)"
        now = time.time()
        gap = self._buffer.record_gap(
            now,
            now,
            f"stream {name!r} was trimmed (MAXLEN/MINID) past the last entry read "
            f"({cursor.last_id.decode()}): {count} lost unread",
            lost=lost,
        )
        logger.warning("StreamSource(%s): %s", self.url, gap.reason)

    # ---- storing ---------------------------------------------------------------------------

    def _store(self, client: redis.Redis, entries: list[tuple[bytes, bytes, Any]]) -> None:
        now = time.time()
        names: dict[bytes, str] = {}
        events: list[Event] = []
        append = events.append
        payload_of = self._payload
        for key, entry_id, fields in entries:
            name = names.get(key)
            if name is None:
                name = names[key] = key.decode("utf-8", "replace")
            payload = payload_of(fields)
            if payload is None:
                event = self._unusable(name, entry_id, fields, now)
            else:
                event = parse_event(payload, name, now)
                event.stream_id = entry_id.decode("ascii", "replace")
            append(event)
        self._buffer.extend(events)
        last: dict[bytes, bytes] = {}
        counts: dict[bytes, int] = {}
        for key, entry_id, _fields in entries:
            last[key] = entry_id
            counts[key] = counts.get(key, 0) + 1
        for key, entry_id in last.items():
            cursor = self._cursors[names[key]]
            cursor.last_id = entry_id
            if cursor.ordinal is not None:
                cursor.ordinal += counts[key]
        if self.group is not None:
            pipe = client.pipeline(transaction=False)
            for key in last:
                pipe.xack(key, self.group, *[e for k, e, _ in entries if k == key])
            pipe.execute()

    def _payload(self, fields: Any) -> bytes | None:
        """Return the Segment payload among an entry's fields (a flat [f, v, ...] list)."""
        if fields.__class__ is list and len(fields) == 2:  # the usual entry: one field
            if self.field is None:
                return _bytes(fields[1])
            return _bytes(fields[1]) if _bytes(fields[0]) == self.field.encode() else None
        values = _fields(fields)
        if self.field is not None:
            return values.get(self.field.encode())
        for name in _DEFAULT_KEYS:
            value = values.get(name)
            if value is not None:
                return value
        if len(values) == 1:
            return next(iter(values.values()))
        return None

    def _unusable(self, stream: str, entry_id: bytes, fields: Any, now: float) -> Event:
        """Keep an entry with no usable payload field as an invalid event naming its fields."""
        values = _fields(fields)
        names = [k.decode("utf-8", "replace") for k in values]
        shown = {k.decode("utf-8", "replace"): v.decode("utf-8", "replace")
                 for k, v in values.items()}
        wanted = repr(self.field) if self.field else "'data', 'event' or 'payload'"
        violation = (
            f"stream entry has no {wanted} field (fields: {', '.join(map(repr, names)) or 'none'})"
        )
        raw = orjson.dumps(shown)
        return Event(raw, stream, now, None, -1, len(raw), valid=False, violations=[violation],
                     stream_id=entry_id.decode("ascii", "replace"))


# ---- reply shapes (RESP2 lists and RESP3 maps) -----------------------------------------------


def _entries(reply: Any) -> list[tuple[bytes, bytes, Any]]:
    """Flatten an XREAD/XREADGROUP reply to (stream, entry id, fields), in order."""
    if not reply:
        return []
    pairs: Iterable[tuple[Any, Any]] = reply.items() if isinstance(reply, dict) else reply
    out: list[tuple[bytes, bytes, Any]] = []
    for stream, items in pairs:
        if isinstance(items, list) and len(items) == 1 and isinstance(items[0], list) and (
            items[0] and isinstance(items[0][0], (list, tuple))
        ):
            items = items[0]  # RESP3 nests the entries one level deeper in some versions
        for entry_id, fields in items:
            if fields is None:  # a pending entry that was deleted meanwhile
                continue
            out.append((stream, entry_id, fields))
    return out


def _raw_reply(response: Any, **_options: Any) -> Any:
    return response


def _fields(fields: Any) -> dict[bytes, bytes]:
    """Return an entry's fields as a dict (from hiredis's flat [f, v, ...] list, or a dict)."""
    if isinstance(fields, dict):
        return {_bytes(k): _bytes(v) for k, v in fields.items()}
    items: Sequence[Any] = fields or ()
    if len(items) == 2:
        return {_bytes(items[0]): _bytes(items[1])}
    return {_bytes(items[i]): _bytes(items[i + 1]) for i in range(0, len(items) - 1, 2)}


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _entry_id(entry: Any) -> bytes | None:
    if not entry:
        return None
    first = entry[0] if isinstance(entry, (list, tuple)) else None
    return first if isinstance(first, bytes) else None


def _id_key(entry_id: bytes) -> tuple[int, int]:
    ms, _, seq = entry_id.partition(b"-")
    return int(ms or 0), int(seq or 0)


def _before(entry_id: bytes) -> bytes:
    """Return the id just before ``entry_id`` (so XREAD after it returns ``entry_id``)."""
    ms, seq = _id_key(entry_id)
    if seq > 0:
        return f"{ms}-{seq - 1}".encode()
    return f"{max(ms - 1, 0)}-18446744073709551615".encode()
