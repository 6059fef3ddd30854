"""EventBuffer: the bounded, thread-safe ring of received events that every reader shares.

One writer (the source) appends, many readers (the widget's flusher, pandas users, ``tail``)
read. Everything that touches the ring happens under one lock; readers get snapshots (new
lists) taken under that lock and do their slow work (filtering, pandas) outside it.

Sequence numbers are assigned here: monotonic from 1, never reused, not reset by
:meth:`EventBuffer.clear`. Eviction only ever removes the oldest events and ``clear`` removes
all of them, so the seqs in the buffer are always contiguous; that is what makes
:meth:`EventBuffer.since` and :meth:`EventBuffer.get` cheap.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from segment_debugger.core._buffer_append import _Appender
from segment_debugger.core._buffer_gaps import MAX_GAPS_KEPT, Gap, _GapBook
from segment_debugger.core._buffer_views import _BufferViews
from segment_debugger.core.checks import Checks
from segment_debugger.core.event import Event

if TYPE_CHECKING:
    from segment_debugger.analysis.plans import PlanSource
    from segment_debugger.analysis.schemas import Schemas
    from segment_debugger.core._frame_read import ReadCache

__all__ = [
    "MAX_GAPS_KEPT",
    "RATE_WINDOW_S",
    "SHARED_CHUNK",
    "BufferObserver",
    "EventBuffer",
    "Gap",
]

#: ``stats["rate_per_s"]`` averages over this many seconds (in one-second buckets).
RATE_WINDOW_S = 5

#: With payloads shared by the analysis (a tracking plan, schema inference), the most events
#: whose parsed payloads are alive at once (see ``EventBuffer._append_locked`` and
#: ``_buffer_append.py``).
SHARED_CHUNK = 32

log = logging.getLogger(__name__)


class BufferObserver(Protocol):
    """Derived state kept in step with a buffer (see :meth:`EventBuffer.add_observer`)."""

    def appended(self, events: Sequence[Event], evicted: Sequence[Event]) -> None:
        """``events`` were appended (seqs set), then ``evicted`` left, oldest first."""

    def cleared(self) -> None:
        """Every buffered event was removed by :meth:`EventBuffer.clear`."""


class EventBuffer(_Appender, _GapBook, _BufferViews):
    """A bounded ring of :class:`Event` records, capped by count and by bytes, thread-safe.

    Oldest events are evicted first while the buffer holds more than ``max_messages`` events
    or more than ``max_bytes`` bytes (the sum of ``event.size``). A single event larger than
    ``max_bytes`` is still kept, alone: nothing received is dropped without being buffered.

    ``clock`` is the monotonic clock used for ``stats["rate_per_s"]`` (injectable for tests).

    ``checks`` sets the clock and delivery checks run on every appended event (warnings, see
    :class:`~segment_debugger.core.checks.Checks`; None turns them off). ``tracking_plan``
    (a dict, or the path of a JSON or YAML file, see :mod:`segment_debugger.analysis.plans`)
    adds a violation to each event that breaks it, which makes that event invalid.
    ``infer_schemas`` learns the schema of the traffic from the start, so drift becomes
    warnings as events arrive (see :meth:`schemas`; otherwise it starts on first use).
    """

    def __init__(
        self,
        max_messages: int = 10_000,
        max_bytes: int = 256 * 2**20,
        *,
        clock: Callable[[], float] = time.monotonic,
        checks: Checks | None = Checks(),  # noqa: B008 (frozen: shared safely)
        tracking_plan: PlanSource | None = None,
        infer_schemas: bool = False,
    ) -> None:
        self._max_messages = _positive_int("max_messages", max_messages)
        self._max_bytes = _positive_int("max_bytes", max_bytes)
        if checks is not None and not isinstance(checks, Checks):
            raise TypeError(f"EventBuffer checks must be a Checks or None, got {checks!r}")
        self._checks = checks
        self._warn_duplicates = checks is not None and checks.duplicate_message_id
        self._plan = None
        if tracking_plan is not None:
            from segment_debugger.analysis.plans import TrackingPlan

            self._plan = TrackingPlan.load(tracking_plan)
        # every check of a chunk of events in one call (each logs and skips an event it fails on)
        self._inspect_all: Callable[[Sequence[Event]], None] | None = _all_of(
            None if checks is None else checks.clock_checks(),
            None if self._plan is None else self._plan.check_all,
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._grew = threading.Condition(self._lock)
        self._events: deque[Event] = deque()
        self._message_ids: dict[str, int] = {}
        self._bytes = 0
        self._last_seq = 0
        self._received = 0
        self._evicted = 0
        self._cleared = 0
        self._invalid = 0
        self._warned = 0
        self._by_type: defaultdict[str, int] = defaultdict(int)
        self._init_gaps()
        self._observers: tuple[BufferObserver, ...] = ()
        self._started = clock()
        # (whole second of the monotonic clock, events received in it), oldest first
        self._rate_buckets: deque[list[int]] = deque()
        self._frame_cache: ReadCache | None = None  # to_pandas()'s Arrow tables, for the next
        self._schemas: Schemas | None = None
        if infer_schemas:
            self.schema_inference()

    @property
    def max_messages(self) -> int:
        """The most events kept (the oldest are evicted beyond it)."""
        return self._max_messages

    @property
    def max_bytes(self) -> int:
        """The most bytes kept, summing ``event.size`` (one larger event is still kept alone)."""
        return self._max_bytes

    def __repr__(self) -> str:
        with self._lock:
            return (
                f"EventBuffer({len(self._events)} events, {self._bytes} bytes, "
                f"last_seq={self._last_seq}, max_messages={self.max_messages}, "
                f"max_bytes={self.max_bytes})"
            )

    @property
    def checks(self) -> Checks | None:
        """The clock and delivery checks applied to appended events (None: off)."""
        return self._checks

    @property
    def tracking_plan(self) -> Any:
        """The :class:`~segment_debugger.analysis.plans.TrackingPlan` enforced, or None."""
        return self._plan

    # ---- writing -------------------------------------------------------------------------

    def append(self, event: Event) -> Event:
        """Buffer ``event``: assign its seq, run the checks, evict if over a cap.

        Returns the same event, now with ``seq`` set.
        """
        with self._lock:
            resolved = self._take_pending_locked((event,)) if self._pending else ()
            self._append_locked((event,))
        for pending in resolved:
            self._estimate_gap(*pending)
        return event

    def extend(self, events: Iterable[Event]) -> None:
        """Buffer a batch of events, in order, under one lock acquisition (like ``append``)."""
        batch = events if isinstance(events, (list, tuple)) else list(events)
        if batch:
            with self._lock:
                resolved = self._take_pending_locked(batch) if self._pending else ()
                self._append_locked(batch)
            for pending in resolved:
                self._estimate_gap(*pending)

    @property
    def shares_payloads(self) -> bool:
        """Whether the analysis (a tracking plan, schema inference) reads appended payloads."""
        return self._plan is not None or self._schemas is not None

    def extend_handed(self, chunks: Iterable[Sequence[Event]]) -> None:
        """Buffer chunks of events whose ``data`` came from ``parse_event(keep=True)``.

        Each chunk (at most :data:`SHARED_CHUNK` events, parsed by the caller as it is asked
        for, outside the lock) is appended like :meth:`extend`; the analysis reads the objects
        the parser made instead of parsing each payload again, and the events let them go once
        it has. Waiting readers are woken once, after the last chunk.
        """
        try:
            for chunk in chunks:
                if not chunk:
                    continue
                with self._lock:
                    resolved = self._take_pending_locked(chunk) if self._pending else ()
                    self._count_rate(len(chunk))
                    self._append_chunk_locked(chunk, handed=True)
                for pending in resolved:
                    self._estimate_gap(*pending)
        finally:
            with self._lock:
                self._grew.notify_all()

    def _append_locked(self, batch: Sequence[Event]) -> None:
        """Append each event in turn, evicting as needed (the hot path: one loop over locals).

        With a tracking plan or schema inference on, each payload is parsed once and shared
        by the plan check and the observers; a batch is then appended (and told to the
        observers) in chunks of :data:`SHARED_CHUNK` events, so only a chunk's parsed objects
        are alive at once: a whole read's (thousands of dicts) would be scanned again and
        again by the cyclic garbage collector, which cost more than the analysis itself.
        """
        self._count_rate(len(batch))
        try:
            if (self._plan is None and self._schemas is None) or len(batch) <= SHARED_CHUNK:
                self._append_chunk_locked(batch)
                return
            for start in range(0, len(batch), SHARED_CHUNK):
                self._append_chunk_locked(batch[start:start + SHARED_CHUNK])
        finally:  # once per batch: each wake-up of a waiting reader costs the GIL
            self._grew.notify_all()

    def add_observer(self, observer: BufferObserver, *, replay: bool = False) -> None:
        """Have ``observer`` told of every batch appended, every eviction and every clear.

        Observers keep derived state (people, schemas, checks) in step with what is buffered.
        They are called under the buffer's lock, from the writer's thread: they must be quick,
        and may add to an event's warnings while it is being appended (violations belong to
        the checks that run before an event is counted: the parser and the tracking plan).
        One that raises is logged and skipped; it never stops the buffer.

        With ``replay``, ``observer`` is first told of the events already buffered
        (``appended(buffered, ())``) in the same lock acquisition: state attached to a
        buffer that already holds events starts in step with it.
        """
        with self._lock:
            if replay and self._events:
                observer.appended(tuple(self._events), ())
            self._observers = (*self._observers, observer)

    def _notify(self, call: Callable[[BufferObserver], object]) -> None:
        for observer in self._observers:
            try:
                call(observer)
            except Exception:  # derived state must never take the buffer down
                log.exception("segment_debugger: buffer observer %r failed", observer)

    def _count_rate(self, n: int) -> None:
        second = math.floor(self._clock())
        buckets = self._rate_buckets
        if buckets and buckets[-1][0] == second:
            buckets[-1][1] += n
        else:
            buckets.append([second, n])
            while buckets and buckets[0][0] <= second - RATE_WINDOW_S:
                buckets.popleft()

    def clear(self) -> None:
        """Remove every buffered event. Seqs continue from where they were; totals remain."""
        with self._lock:
            self._cleared += len(self._events)
            self._events.clear()
            self._notify(lambda o: o.cleared())
            self._message_ids.clear()
            self._bytes = 0
            self._frame_cache = None

    # ---- reading -------------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        """The seq of the newest event ever appended (0 when nothing was ever appended)."""
        return self._last_seq

    @property
    def first_seq(self) -> int | None:
        """The seq of the oldest buffered event, or None when the buffer is empty."""
        with self._lock:
            return self._events[0].seq if self._events else None

    def since(self, seq: int, limit: int | None = None) -> list[Event]:
        """Return buffered events with a seq greater than ``seq``, oldest first.

        With ``limit``, only the newest ``limit`` of them (still oldest first). Costs time in
        proportion to the result, not to the buffer: the newest events are read from the end.
        """
        return self.since_counted(seq, limit)[0]

    def since_counted(self, seq: int, limit: int | None = None) -> tuple[list[Event], int]:
        """Return :meth:`since`'s events and how many events were buffered, read together."""
        with self._lock:
            events = self._events
            buffered = len(events)
            if not events:
                return [], 0
            wanted = self._last_seq - max(seq, events[0].seq - 1)
            if limit is not None:
                wanted = min(wanted, limit)
            if wanted <= 0:
                return [], buffered
            newest_first = list(itertools.islice(reversed(events), wanted))
        newest_first.reverse()
        return newest_first, buffered

    def get(self, seq: int) -> Event | None:
        """Return the buffered event with this seq, or None (evicted, cleared or not yet seen)."""
        with self._lock:
            if not self._events:
                return None
            index = seq - self._events[0].seq
            if 0 <= index < len(self._events):
                return self._events[index]
            return None

    def snapshot(self) -> list[Event]:
        """Return a new list of the buffered events, oldest first (taken under the lock)."""
        with self._lock:
            return list(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.snapshot())

    def wait_for(self, seq: int, timeout: float) -> bool:
        """Block until an event with seq ``seq`` has been appended or ``timeout`` s pass.

        Returns True when ``last_seq >= seq``, False on timeout.
        """
        with self._grew:
            return self._grew.wait_for(lambda: self._last_seq >= seq, timeout)

    @property
    def stats(self) -> dict[str, Any]:
        """A new dict of counters (totals since creation unless noted).

        ``received``, ``invalid`` (received and flagged invalid), ``warnings`` (received with
        at least one warning, see :attr:`Event.warnings`), ``evicted`` (pushed out by a
        cap), ``cleared`` (removed by :meth:`clear`), ``buffered`` and ``bytes`` (now),
        ``gaps`` (count), ``lost_estimate`` (events lost in gaps, summed: estimated for
        pub/sub, see :class:`Gap`) and ``last_gap`` (dict or None), ``rate_per_s`` (received
        per second over the last ~5 s), ``by_type`` (received per Segment type; anything else is
        ``"unknown"``), ``first_seq``, ``last_seq``, ``max_messages``, ``max_bytes``.
        """
        with self._lock:
            return {
                "received": self._received,
                "buffered": len(self._events),
                "evicted": self._evicted,
                "cleared": self._cleared,
                "invalid": self._invalid,
                "warnings": self._warned,
                "gaps": self._gap_count,
                "lost_estimate": self._lost_estimate,
                "last_gap": self._gaps[-1].to_dict() if self._gaps else None,
                "bytes": self._bytes,
                "rate_per_s": self._rate_locked(),
                "by_type": dict(self._by_type),
                "first_seq": self._events[0].seq if self._events else None,
                "last_seq": self._last_seq,
                "max_messages": self.max_messages,
                "max_bytes": self.max_bytes,
            }

    def _rate_locked(self) -> float:
        """Events per second over the window ending now (shorter right after creation)."""
        now = self._clock()
        window_start = math.floor(now) - (RATE_WINDOW_S - 1)
        count = sum(n for second, n in self._rate_buckets if second >= window_start)
        span = now - max(window_start, self._started)
        return count / max(span, 1.0)


def _all_of(
    *checks: Callable[[Sequence[Event]], None] | None,
) -> Callable[[Sequence[Event]], None] | None:
    """One call running each chunk check given (None: none given)."""
    present = [check for check in checks if check is not None]
    if len(present) <= 1:
        return present[0] if present else None
    first, second = present

    def check_all(events: Sequence[Event]) -> None:
        first(events)
        second(events)

    return check_all


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"EventBuffer {name} must be a positive int, got {value!r}")
    return value
