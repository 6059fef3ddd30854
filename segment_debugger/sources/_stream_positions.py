"""Where a StreamSource stands in each stream: positioning, and the losses Redis can show.

:class:`StreamPositions` is a part of :class:`~.streams.StreamSource` (a mixin): it creates
the consumer group, sets each stream's cursor at the start of a session (kept from before,
else from ``start``), says so when a server's stream ends before what was read (entries lost
by a failover or a restart), and counts entries trimmed unread (``MAXLEN``/``MINID``), each
recorded as a gap. The read loop, reading and storing stay in ``streams.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import redis

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.sources import _stream_replies as rep

__all__ = ["StreamPositions"]

logger = logging.getLogger("segment_debugger.sources.streams")


class StreamPositions:
    """Positioning and loss accounting of a StreamSource (see the module docstring)."""

    # Set by StreamSource.__init__ (and the base source):
    url: str
    start_at: str
    group: str | None
    _buffer: EventBuffer
    _cursors: dict[str, rep.Cursor]
    _pending_done: set[str]

    def _ensure_group(self, client: redis.Redis, names: Sequence[str]) -> None:
        assert self.group is not None
        for name in names:
            try:
                client.xgroup_create(name, self.group, id=self.start_at, mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def _position(self, client: redis.Redis, names: Sequence[str], where: str) -> None:
        """Set each stream's cursor: kept from before, else from ``start``; check the key."""
        for name in names:
            info = self._info(client, name)
            cursor = self._cursors.get(name)
            if self.group is not None:  # our own pending entries first, then new ones
                self._pending_done.discard(name)
                self._cursors[name] = rep.Cursor(b"0-0", None)
                continue
            if cursor is not None:
                self._check_kept(name, cursor, info, where)
                continue
            # A stream that does not exist yet has had no entries (an unknown count on
            # Redis < 7 is harmless: without entries-added no count is ever made).
            added = rep.as_int(info.get("entries-added")) if info else 0
            length = rep.as_int(info.get("length")) if info else 0
            if self.start_at == "$":
                last = rep.as_text(info.get("last-generated-id")) if info else None
                self._cursors[name] = rep.Cursor((last or "0-0").encode(), added, held=True)
            elif self.start_at == "0-0":
                base = None if added is None else added - (length or 0)
                self._cursors[name] = rep.Cursor(b"0-0", base)
            else:
                self._cursors[name] = rep.Cursor(self.start_at.encode(), None)

    def _check_kept(
        self, name: str, cursor: rep.Cursor, info: dict[str, Any] | None, where: str
    ) -> None:
        """Say so when the server's stream ends before what we read: it lost entries."""
        last = rep.as_bytes(info.get("last-generated-id") or b"0-0") if info else b"0-0"
        if not cursor.held or rep.id_key(last) >= rep.id_key(cursor.last_id):
            return
        added = rep.as_int(info.get("entries-added")) if info else 0
        gone = (cursor.ordinal - added) if cursor.ordinal is not None and added is not None else 0
        read, ours = last.decode(), cursor.last_id.decode()
        self._record_gap(
            f"stream {name!r}" + (f" on {where}" if where else "") + f" ends at {read} but "
            f"{ours} had been read: the server lost entries (a failover to a replica they had "
            "not reached yet, replication being asynchronous; a restart without persistence; "
            "or the stream was deleted). "
            + (f"{gone:,} entries read before are gone from the stream (kept in the buffer); "
               if gone > 0 else "")
            + f"any added after {ours} and lost with them were never read (how many cannot "
            f"be known); reading on after {read}",
            name, None, estimate=False,
        )
        cursor.last_id, cursor.ordinal = last, added

    def _info(self, client: redis.Redis, name: str) -> dict[str, Any] | None:
        """XINFO STREAM as a dict with text keys, or None when the stream does not exist."""
        try:
            raw = client.xinfo_stream(name)
        except redis.ResponseError as exc:
            text = str(exc)
            if "no such key" in text.lower():
                return None
            if "WRONGTYPE" in text:
                kind = rep.as_text(client.type(name)) or "other"
                raise redis.ResponseError(
                    f"key {name!r} holds a {kind}, not a stream: name a stream (XADD) or use "
                    "RedisSource for pub/sub channels"
                ) from None
            raise
        return rep.info_dict(raw)

    def _account_trimming(self, name: str, cursor: rep.Cursor, info: dict[str, Any]) -> None:
        added, length = rep.as_int(info.get("entries-added")), rep.as_int(info.get("length"))
        if added is not None and length is not None:
            deleted = added - length
            if cursor.ordinal is not None and deleted > cursor.ordinal:
                self._record_trim(name, cursor, deleted - cursor.ordinal)
                cursor.ordinal = deleted
            return
        # Redis < 7: no count, but a first entry past our last read still shows the loss.
        first = rep.first_id(info.get("first-entry"))
        if first is not None and cursor.last_id != b"0-0" and (
            rep.id_key(first) > rep.id_key(cursor.last_id) and rep.before(first) != cursor.last_id
        ):
            self._record_trim(name, cursor, None)
            cursor.last_id = rep.before(first)

    def _record_trim(self, name: str, cursor: rep.Cursor, lost: int | None) -> None:
        count = f"{lost:,} entries" if lost is not None else "entries (how many: unknown)"
        self._record_gap(
            f"stream {name!r} was trimmed (MAXLEN/MINID) past the last entry read "
            f"({cursor.last_id.decode()}): {count} lost unread",
            name, lost,
        )

    def _record_gap(self, reason: str, name: str, lost: int | None, estimate: bool = True) -> None:
        now = time.time()
        gap = self._buffer.record_gap(
            now, now, reason, lost=lost, channels=(name,), estimate=estimate
        )
        logger.warning("StreamSource(%s): %s", self.url, gap.reason)
