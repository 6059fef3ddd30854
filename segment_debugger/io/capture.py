"""Capture the events that arrive while a block runs, for tests of your tracking.

::

    with buf.capture('type:track event:"Order Completed"') as cap:
        checkout()                       # the code under test publishes its events
        cap.wait_for(1, timeout=5)       # returns once one matching event arrived
    cap.assert_valid()                   # raises listing each violation with its messageId
    cap.events                           # DataFrame of the matching events

A capture counts what arrives after it starts (events whose seq is above the buffer's
``last_seq`` at ``__enter__``) and, once the block ends, up to the buffer's ``last_seq`` at
``__exit__``. A collector thread reads the buffer as events arrive and keeps each matching
event itself, so a later eviction from a small buffer does not take it away. Events evicted
before the collector read them (a burst larger than the buffer, faster than the thread) cannot
be checked against the query: they are counted in :attr:`Capture.missed`, reported by
:meth:`Capture.wait_for`'s timeout message, and make :meth:`Capture.assert_valid` fail.
Works headless: it needs only an :class:`~segment_debugger.core.buffer.EventBuffer`.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from segment_debugger.core.query import Criteria, Query

if TYPE_CHECKING:
    import pandas as pd

    from segment_debugger.core.buffer import EventBuffer
    from segment_debugger.core.event import Event

#: How long the collector waits for new events before checking whether it should stop.
_POLL_S = 0.05
#: Events listed at most by a failure message (the count of the rest follows).
_LISTED = 20


class CaptureTimeout(AssertionError):
    """:meth:`Capture.wait_for` ran out of time; the message summarises what did arrive."""


class Capture:
    """The events matching a query that arrive in a ``with`` block (see the module docstring).

    Make one with ``buf.capture(query)`` or ``dbg.capture(query)``. ``query`` is filter-language
    text, a parsed ``Query``, or ``Criteria`` (query AND types AND invalid-only).
    """

    def __init__(self, buffer: EventBuffer, query: str | Query | Criteria = "") -> None:
        self._buffer = buffer
        self._criteria = query if isinstance(query, Criteria) else Criteria.of(query)
        self._lock = threading.Condition()
        self._matched: list[Event] = []
        self._seen = 0  # events of the block read (matching or not)
        self._missed = 0  # events of the block evicted before they were read
        self._by_type: Counter[str] = Counter()
        self._start_seq: int | None = None
        self._end_seq: int | None = None
        self._read_seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the block ---------------------------------------------------------------------------

    def __enter__(self) -> Capture:
        if self._start_seq is not None:
            raise RuntimeError("a Capture can be entered once; make a new one")
        self._start_seq = self._read_seq = self._buffer.last_seq
        self._thread = threading.Thread(
            target=self._collect, name="segment-debugger-capture", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._end_seq = self._buffer.last_seq
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._read(self._end_seq)

    def _collect(self) -> None:
        buffer = self._buffer
        while not self._stop.is_set():
            if buffer.wait_for(self._read_seq + 1, _POLL_S):
                self._read(None)

    def _read(self, upto: int | None) -> None:
        """Read the events after the last one read (up to seq ``upto``), keep the matching."""
        with self._lock:
            events = self._buffer.since(self._read_seq)
            if upto is not None:
                events = [e for e in events if e.seq <= upto]
            if not events:
                if upto is not None and upto > self._read_seq:  # all evicted meanwhile
                    self._missed += upto - self._read_seq
                    self._read_seq = upto
                return
            self._missed += events[0].seq - self._read_seq - 1
            matches = self._criteria.matches
            for event in events:
                self._by_type[event.type or "unknown"] += 1
                if matches(event):
                    self._matched.append(event)
            self._seen += len(events)
            self._read_seq = events[-1].seq
            self._lock.notify_all()

    # -- what arrived ------------------------------------------------------------------------

    @property
    def matched(self) -> list[Event]:
        """The matching events read so far, oldest first (a new list)."""
        self._refresh()
        with self._lock:
            return list(self._matched)

    @property
    def events(self) -> pd.DataFrame:
        """The matching events as a new DataFrame (the columns of ``to_pandas()``)."""
        from segment_debugger.core.frame import events_to_frame

        return events_to_frame(self.matched)

    @property
    def missed(self) -> int:
        """Events of the block evicted from the buffer before the capture could read them."""
        self._refresh()
        return self._missed

    @property
    def received(self) -> int:
        """Events of the block read so far, matching or not (``missed`` not included)."""
        self._refresh()
        return self._seen

    def __len__(self) -> int:
        return len(self.matched)

    def __repr__(self) -> str:
        state = "open" if self._end_seq is None else "closed"
        return (
            f"Capture({self._criteria_text()!r}, {state}: {len(self._matched)} matching of "
            f"{self._seen} received, {self._missed} missed)"
        )

    def _refresh(self) -> None:
        """Read what arrived since the collector last woke (inside the block only)."""
        if self._start_seq is not None and self._end_seq is None:
            self._read(None)

    # -- assertions ---------------------------------------------------------------------------

    def wait_for(self, n: int = 1, timeout: float = 5.0) -> list[Event]:
        """Return the first ``n`` matching events once they arrived; raise on timeout.

        Raises :class:`CaptureTimeout` (an AssertionError) after ``timeout`` seconds, or at once
        when the block has ended, with a summary: what matched, what arrived by type, missed
        events. Call it inside the block (after the block, only what arrived in it counts).
        """
        if self._start_seq is None:
            raise RuntimeError("wait_for() needs the capture's with block to have started")
        deadline = time.monotonic() + timeout
        self._refresh()
        with self._lock:
            while len(self._matched) < n:
                left = deadline - time.monotonic()
                if left <= 0 or self._end_seq is not None:
                    break
                self._lock.wait(min(left, _POLL_S))
            if len(self._matched) >= n:
                return self._matched[:n]
        raise CaptureTimeout(self._timeout_message(n, timeout))

    def assert_valid(self) -> None:
        """Raise AssertionError listing each violation (with seq and messageId) of the matches.

        Also fails when events of the block were missed (evicted before they were read): they
        could not be checked.
        """
        problems: list[str] = []
        invalid = [e for e in self.matched if not e.valid or e.violations_view()]
        for event in invalid[:_LISTED]:
            label = _label(event)
            for violation in event.violations_view() or ("invalid",):
                problems.append(f"  {label}: {violation}")
        if len(invalid) > _LISTED:
            problems.append(f"  ... and {len(invalid) - _LISTED} more invalid events")
        if invalid:
            head = (
                f"{len(invalid)} of {len(self._matched)} events matching "
                f"{self._criteria_text()!r} are invalid:"
            )
            problems.insert(0, head)
        if self._missed:
            problems.append(self._missed_text())
        if problems:
            raise AssertionError("\n".join(problems))

    def _timeout_message(self, n: int, timeout: float) -> str:
        with self._lock:
            matched = list(self._matched)
            by_type = ", ".join(f"{k} {v}" for k, v in self._by_type.most_common()) or "none"
        when = "the block ended" if self._end_seq is not None else f"{timeout:g} s"
        lines = [
            f"waited for {n} events matching {self._criteria_text()!r}; after {when} "
            f"{len(matched)} matched, of {self._seen} received in the block ({by_type})"
        ]
        lines.extend(f"  matched {_label(e)}" for e in matched[:_LISTED])
        if self._missed:
            lines.append(self._missed_text())
        if not self._seen and not self._missed:
            lines.append("  nothing arrived: is the source running and subscribed?")
        return "\n".join(lines)

    def _missed_text(self) -> str:
        return (
            f"{self._missed} events of the block were evicted before the capture could read "
            f"them (buffer max_messages={self._buffer.max_messages}): use a larger buffer"
        )

    def _criteria_text(self) -> str:
        criteria = self._criteria
        parts = [criteria.query.text] if criteria.query.text else []
        if criteria.types:
            parts.append("types " + ",".join(sorted(criteria.types)))
        if criteria.invalid_only:
            parts.append("invalid only")
        if criteria.warnings_only:
            parts.append("with warnings only")
        return " AND ".join(parts) if parts else "(anything)"


def _label(event: Event) -> str:
    """``seq 12 track "Order Completed" messageId abc``: how a failure names one event."""
    parts: list[Any] = [f"seq {event.seq}", event.type or "(no type)"]
    if event.event is not None:
        parts.append(repr(event.event))
    parts.append(f"messageId {event.messageId!r}" if event.messageId else "no messageId")
    return " ".join(map(str, parts))
