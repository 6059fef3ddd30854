"""From the source's thread to the recorder: every buffered batch and gap, in order, bounded.

A :class:`CaptureBuffer` is an :class:`~segment_debugger.core.buffer.EventBuffer` that also hands
every batch it buffers (and every gap it records) to a :class:`Spool`, in the source's own
thread, before anything can be evicted; :func:`~.recorder.record` takes them off the spool.
The spool is bounded in bytes: when the disk cannot keep up, the source's thread waits.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from segment_debugger.core.buffer import EventBuffer, Gap
from segment_debugger.core.event import Event

#: Bytes of events the spool holds before the source's thread waits for the writer.
SPOOL_LIMIT_BYTES = 64 * 2**20


class Spool:
    """A thread-safe hand-off of event batches and gaps, in order, bounded in bytes.

    ``put`` waits while more than ``limit`` bytes are queued, until :meth:`unbound` (called
    when the recording stops, so the source's thread is never left waiting).
    """

    def __init__(self, limit: int = SPOOL_LIMIT_BYTES) -> None:
        self._items: deque[Sequence[Event] | Gap] = deque()
        self._bytes = 0
        self._limit = limit
        self._bounded = True
        self._cond = threading.Condition()

    def put(self, item: Sequence[Event] | Gap) -> None:
        """Queue a batch of events or a gap (waits while the spool is full)."""
        size = 0 if isinstance(item, Gap) else sum(event.size for event in item)
        with self._cond:
            self._cond.wait_for(lambda: not self._bounded or self._bytes < self._limit)
            self._items.append(item)
            self._bytes += size
            self._cond.notify_all()

    def take(self, timeout: float) -> list[Sequence[Event] | Gap]:
        """Return everything queued, oldest first, waiting up to ``timeout`` s for something."""
        with self._cond:
            self._cond.wait_for(lambda: bool(self._items), timeout)
            items = list(self._items)
            self._items.clear()
            self._bytes = 0
            self._cond.notify_all()
        return items

    def unbound(self) -> None:
        """Never make ``put`` wait again."""
        with self._cond:
            self._bounded = False
            self._cond.notify_all()


class CaptureBuffer(EventBuffer):
    """An EventBuffer that also puts every batch it buffers and every gap it records on a spool.

    The batch is spooled right after it is buffered, in the writer's (the source's) thread, so
    eviction from this buffer never costs the recording an event.
    """

    def __init__(self, spool: Spool, max_messages: int = 10_000, max_bytes: int = 64 * 2**20):
        super().__init__(max_messages=max_messages, max_bytes=max_bytes)
        self.spool = spool

    def append(self, event: Event) -> Event:
        """Buffer ``event`` (see EventBuffer.append), then spool it."""
        super().append(event)
        self.spool.put((event,))
        return event

    def extend(self, events: Iterable[Event]) -> None:
        """Buffer a batch (see EventBuffer.extend), then spool it."""
        batch = events if isinstance(events, (list, tuple)) else list(events)
        if batch:
            super().extend(batch)
            self.spool.put(batch)

    def record_gap(self, *args: Any, **kwargs: Any) -> Gap:
        """Record a gap (see EventBuffer.record_gap), then spool it after the events before it."""
        gap = super().record_gap(*args, **kwargs)
        self.spool.put(gap)
        return gap
