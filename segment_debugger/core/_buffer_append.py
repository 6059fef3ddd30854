"""Appending to an EventBuffer: seqs, the duplicate-messageId check, counters, eviction.

A chunk of events is appended one of two ways, with the same result:

- in bulk (the common case: no messageId seen again): the per-event Python work is the seq
  and, with a tracking plan or schema inference on, sharing the parsed payload; the clock
  check and the plan check run over the whole chunk in one call; messageIds, counters, sizes,
  types and eviction are done a chunk at a time by C loops (``map``, ``set``, ``sum``,
  ``deque.extend``);
- one event at a time (a messageId already buffered or repeated within the chunk, whose
  warning depends on what was evicted before that event arrived): the loop words each
  warning in order.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Sequence
from itertools import repeat, starmap
from operator import attrgetter, not_
from typing import TYPE_CHECKING, Any

import orjson

from segment_debugger.core.event import EVENT_TYPES, FROM_RAW, Event
from segment_debugger.core.segment import duplicate_violation

if TYPE_CHECKING:
    from segment_debugger.core.buffer import BufferObserver

log = logging.getLogger("segment_debugger.core.buffer")

_loads = orjson.loads
#: ``stats["by_type"]`` key per event type: the six Segment types; anything else is "unknown".
_TYPE_KEYS: dict[str | None, str] = {t: t for t in EVENT_TYPES}
_MESSAGE_ID = attrgetter("messageId")
_TYPE = attrgetter("type")
_SIZE = attrgetter("size")
_VALID = attrgetter("valid")
_WARNINGS = attrgetter("_warnings")
_UNTOLD: Sequence[Event] = ()


class _Appender:
    """The append path of :class:`~segment_debugger.core.buffer.EventBuffer` (a mixin).

    Its state lives on the buffer, under the buffer's lock (made in ``EventBuffer.__init__``).
    """

    _events: deque[Event]
    _message_ids: dict[str, int]
    _by_type: defaultdict[str, int]
    _observers: tuple[BufferObserver, ...]
    _inspect_all: Callable[[Sequence[Event]], None] | None
    _warn_duplicates: bool
    _plan: Any
    _schemas: Any
    _last_seq: int
    _bytes: int
    _received: int
    _invalid: int
    _evicted: int
    _warned: int
    _max_messages: int
    _max_bytes: int

    def _notify(self, call: Callable[[BufferObserver], object]) -> None:
        raise NotImplementedError  # EventBuffer's

    def _append_chunk_locked(self, batch: Sequence[Event], handed: bool = False) -> None:
        """Append ``batch`` (seqs, checks, counters), evict what is over a cap, tell observers."""
        shared = handed or self._plan is not None or self._schemas is not None
        if not self._append_bulk_locked(batch, shared, handed):
            self._append_each_locked(batch, shared=shared, handed=handed)

    def _append_bulk_locked(
        self, batch: Sequence[Event], shared: bool = False, handed: bool = False
    ) -> bool:
        """Append ``batch`` a chunk at a time; False (nothing changed) when it must go one by one.

        It must go one by one when a messageId in it is already buffered or occurs twice in it
        (the warning depends on what was evicted before each copy arrived) or when an event
        does not read like one (left to the loop, which fails as it always has). With
        ``shared`` (a tracking plan or schema inference on), each payload is parsed once (or
        was handed over by the parser: ``handed``), read by the checks and the observers, then
        let go.
        """
        message_ids = self._message_ids
        try:
            ids = list(map(_MESSAGE_ID, batch))
            fresh = set(ids)
            fresh.discard(None)
            if len(fresh) != len(ids) - ids.count(None) or not message_ids.keys().isdisjoint(
                fresh
            ):
                return False
            types = Counter(map(_TYPE, batch))  # raises, like the loop, on an unhashable type
        except Exception:  # not events: the loop fails on them as it always has
            return False
        inspect = self._inspect_all
        seq = start = self._last_seq
        kept: Sequence[Event] = ()
        try:
            if inspect is None and not shared:
                for event in batch:
                    seq += 1
                    event.seq = seq
                    event._moments = None  # the parser's datetimes: not kept once buffered
            else:
                for event in batch:
                    seq += 1
                    event.seq = seq
                if shared:
                    kept = _shared_payloads(batch, handed)
                if inspect is not None:
                    try:
                        inspect(batch)  # every check of every event, in one call
                    except Exception:  # a check must never lose an event
                        log.exception("segment_debugger: checking seqs %d-%d failed",
                                      start + 1, seq)
                    for event in batch:
                        event._moments = None
        finally:  # keep the counters true even if an event refused its seq midway
            done = batch
            if seq - start != len(batch):
                done = batch[: seq - start]
                fresh = {i for i in ids[: seq - start] if i is not None}
                types = Counter(map(_TYPE, done))
            message_ids.update(dict.fromkeys(fresh, 1))
            by_type = self._by_type
            for typ, count in types.items():
                by_type[_TYPE_KEYS.get(typ, "unknown")] += count
            buffered = self._events
            buffered.extend(done)
            self._received += len(done)
            self._last_seq = seq
            self._invalid += sum(map(not_, map(_VALID, done)))
            gone = self._evict_locked(self._bytes + sum(map(_SIZE, done)), len(buffered))
            if self._observers:
                self._notify(lambda o: o.appended(done, gone))
            for event in kept:  # let the shared payloads go: parsed again on access
                event._data = FROM_RAW
            # counted after the observers, which may add warnings
            self._warned += sum(map(bool, map(_WARNINGS, done)))
        return True

    def _evict_locked(self, size: int, count: int) -> Sequence[Event]:
        """Evict the oldest events while over a cap (one is always kept); return them."""
        max_messages, max_bytes = self._max_messages, self._max_bytes
        if count <= max_messages and size <= max_bytes:
            self._bytes = size
            return _UNTOLD
        buffered, message_ids = self._events, self._message_ids
        popleft = buffered.popleft
        gone = list(starmap(popleft, repeat((), max(count - max_messages, 0))))  # a C loop
        count -= len(gone)
        size -= sum(map(_SIZE, gone))
        while count > 1 and size > max_bytes:
            old = popleft()
            gone.append(old)
            count -= 1
            size -= old.size
        self._bytes = size
        self._evicted += len(gone)
        ids = list(map(_MESSAGE_ID, gone))
        if None in ids:
            ids = [i for i in ids if i is not None]
        copies = list(map(message_ids.pop, ids, repeat(0)))
        if copies.count(1) != len(copies):  # an id buffered twice: put back what is left
            before: dict[str, int] = {}
            for key, count_before in zip(ids, copies, strict=True):
                if count_before:
                    before[key] = count_before
            for key in ids:
                before[key] -= 1
            message_ids.update((key, left) for key, left in before.items() if left > 0)
        return gone if self._observers else _UNTOLD

    def _append_each_locked(self, batch: Sequence[Event], *, shared: bool, handed: bool) -> None:
        """Append each event in turn, evicting as needed (warnings worded in order)."""
        buffered, message_ids, by_type = self._events, self._message_ids, self._by_type
        max_messages, max_bytes = self._max_messages, self._max_bytes
        seq, size, count, invalid, evicted = self._last_seq, self._bytes, len(buffered), 0, 0
        gone: list[Event] | None = [] if self._observers else None
        inspect, warn_duplicates = self._inspect_all, self._warn_duplicates
        # With a tracking plan or schema inference on, the payload is parsed once per event (or
        # handed over by the parser) and shared by the plan check and the observers until the
        # batch is told (then let go).
        kept: list[Event] | None = [] if shared else None
        try:
            for event in batch:
                seq += 1
                event.seq = seq
                if kept is not None:
                    data = event._data
                    if data is FROM_RAW:
                        try:
                            event._data = _loads(event.raw)
                        except Exception:  # left to re-parse (and fail) as before
                            pass
                        else:
                            kept.append(event)
                    elif handed and data.__class__ is dict:
                        kept.append(event)
                message_id = event.messageId
                if message_id is not None:
                    copies = message_ids.get(message_id)
                    if copies is None:
                        message_ids[message_id] = 1
                    else:
                        message_ids[message_id] = copies + 1
                        if warn_duplicates:  # a retry: normal delivery, the event stays valid
                            duplicate = duplicate_violation(message_id)
                            event.warnings = [*event.warnings_view(), duplicate]
                if inspect is not None:
                    try:
                        inspect((event,))
                    except Exception:  # a check must never lose an event
                        log.exception("segment_debugger: checking event seq %d failed", seq)
                event._moments = None  # the parser's datetimes: not kept once buffered
                if not event.valid:
                    invalid += 1
                by_type[_TYPE_KEYS.get(event.type, "unknown")] += 1
                buffered.append(event)
                count += 1
                size += event.size
                while count > 1 and (count > max_messages or size > max_bytes):
                    old = buffered.popleft()
                    if gone is not None:
                        gone.append(old)
                    count -= 1
                    size -= old.size
                    evicted += 1
                    old_id = old.messageId
                    if old_id is not None:
                        copies = message_ids[old_id] - 1
                        if copies:
                            message_ids[old_id] = copies
                        else:
                            del message_ids[old_id]
        finally:  # keep the counters true even if a malformed event raised midway
            self._received += seq - self._last_seq
            self._last_seq, self._bytes = seq, size
            self._invalid += invalid
            self._evicted += evicted
            if gone is not None:
                self._notify(lambda o: o.appended(batch, gone))
            if kept:
                for event in kept:
                    event._data = FROM_RAW
            # counted after the observers, which may add warnings (schema drift)
            self._warned += sum(map(bool, map(_WARNINGS, batch)))



def _shared_payloads(batch: Sequence[Event], handed: bool) -> list[Event]:
    """Give each event of ``batch`` its parsed payload; return those to let go of it after.

    ``handed``: a dict there is the parser's object (any other event is parsed here).
    """
    kept: list[Event] = []
    append = kept.append
    for event in batch:
        data = event._data
        if data is FROM_RAW:
            try:
                event._data = _loads(event.raw)
            except Exception:  # left to re-parse (and fail) as before
                continue
            append(event)
        elif handed and data.__class__ is dict:
            append(event)
    return kept
