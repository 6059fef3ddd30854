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

import dataclasses
import itertools
import logging
import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from segment_debugger.core.checks import Checks
from segment_debugger.core.event import EVENT_TYPES, FROM_RAW, Event
from segment_debugger.core.loss import RATE_SAMPLE, estimate_hole
from segment_debugger.core.segment import duplicate_violation

if TYPE_CHECKING:
    import os

    import pandas as pd
    import polars as pl
    import pyarrow as pa

    from segment_debugger.analysis.plans import PlanSource
    from segment_debugger.analysis.schemas import Schemas
    from segment_debugger.core._frame_read import ReadCache
    from segment_debugger.core.query import Criteria, Query
    from segment_debugger.io.capture import Capture

#: How many recent gaps :attr:`EventBuffer.gaps` keeps (all are counted in ``stats``).
MAX_GAPS_KEPT = 1000

#: ``stats["rate_per_s"]`` averages over this many seconds (in one-second buckets).
RATE_WINDOW_S = 5

#: With payloads shared by the analysis (a tracking plan, schema inference), the most events
#: whose parsed payloads are alive at once (see ``EventBuffer._append_locked``).
SHARED_CHUNK = 32

#: ``stats["by_type"]`` key per event type: the six Segment types; anything else is "unknown".
log = logging.getLogger(__name__)

_loads = orjson.loads
_TYPE_KEYS: dict[str | None, str] = {t: t for t in EVENT_TYPES}


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch of time when messages may have been lost (a reconnect, a server kick-out)."""

    started_at: float
    """Epoch seconds when the connection was lost (or the loss was first noticed)."""
    ended_at: float
    """Epoch seconds when receiving resumed."""
    duration: float
    """``ended_at - started_at`` in seconds (never negative)."""
    reason: str
    """A short readable cause, e.g. ``"connection lost: Connection reset by peer"``."""
    after_seq: int
    """The last seq buffered before the gap (0 when nothing had been received yet)."""
    lost_estimate: int | None = None
    """Events lost in the gap: estimated for pub/sub once events arrive on both sides of it
    (see :mod:`segment_debugger.core.loss`), exact when the source could count them; None
    while unknown. When estimated, ``started_at``/``ended_at`` are the estimated hole."""
    estimate_basis: str = ""
    """What ``lost_estimate`` rests on: ``"publisher timestamps"``, ``"receive times"``,
    ``"exact"``, or ``""`` while unknown."""
    channels: tuple[str, ...] | None = None
    """The channels (or patterns, or streams) the gap concerns, when the source knows the
    others kept flowing (one shard of a cluster down); None means every channel. The estimate
    then rests on those channels' events only, on both sides of the gap."""

    def to_dict(self) -> dict[str, Any]:
        """Return the gap as a plain dict (JSON-friendly)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class _PendingGap:
    """A gap awaiting its estimate: for a scoped gap, its channels' events before it."""

    gap: Gap
    before: list[Event] | None
    """None for a gap of every channel (the events before it are taken when it ends)."""

    @property
    def scope(self) -> frozenset[str]:
        return frozenset(self.gap.channels or ())

    def overlaps(self, other: _PendingGap) -> bool:
        if self.gap.channels is None or other.gap.channels is None:
            return True
        return not self.scope.isdisjoint(other.scope)


def _in_scope(event: Event, scope: frozenset[str]) -> bool:
    return event.channel in scope or (event.pattern is not None and event.pattern in scope)


class BufferObserver(Protocol):
    """Derived state kept in step with a buffer (see :meth:`EventBuffer.add_observer`)."""

    def appended(self, events: Sequence[Event], evicted: Sequence[Event]) -> None:
        """``events`` were appended (seqs set), then ``evicted`` left, oldest first."""

    def cleared(self) -> None:
        """Every buffered event was removed by :meth:`EventBuffer.clear`."""


class EventBuffer:
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
        inspections = [
            check
            for check in (
                None if checks is None else checks.clock_check(),
                None if self._plan is None else self._plan.check,
            )
            if check is not None
        ]
        self._inspect: Callable[[Event], None] | None = (
            inspections[0] if len(inspections) == 1 else _all_of(inspections)
            if inspections else None
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
        self._gaps: deque[Gap] = deque(maxlen=MAX_GAPS_KEPT)
        self._gap_count = 0
        self._observers: tuple[BufferObserver, ...] = ()
        self._lost_estimate = 0
        # Recorded gaps awaiting the first event after them (on their channels, if scoped).
        self._pending: list[_PendingGap] = []
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

    def _append_chunk_locked(self, batch: Sequence[Event], handed: bool = False) -> None:
        buffered, message_ids, by_type = self._events, self._message_ids, self._by_type
        max_messages, max_bytes = self.max_messages, self.max_bytes
        seq, size, count, invalid, evicted = self._last_seq, self._bytes, len(buffered), 0, 0
        gone: list[Event] | None = [] if self._observers else None
        inspect, warn_duplicates = self._inspect, self._warn_duplicates
        # With a tracking plan or schema inference on, the payload is parsed once per event (or
        # handed over by the parser) and shared by the plan check and the observers until the
        # batch is told (then let go).
        shared: list[Event] | None = (
            [] if handed or self._plan is not None or self._schemas is not None else None
        )
        try:
            for event in batch:
                seq += 1
                event.seq = seq
                if shared is not None:
                    data = event._data
                    if data is FROM_RAW:
                        try:
                            event._data = _loads(event.raw)
                        except Exception:  # left to re-parse (and fail) as before
                            pass
                        else:
                            shared.append(event)
                    elif handed and data.__class__ is dict:
                        shared.append(event)
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
                        inspect(event)
                    except Exception:  # a check must never lose an event
                        log.exception("segment_debugger: checking event seq %d failed", seq)
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
            if shared:
                for event in shared:
                    event._data = FROM_RAW
            # counted after the observers, which may add warnings (schema drift)
            self._warned += sum(1 for event in batch if event._warnings)

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

    def record_gap(
        self,
        started_at: float,
        ended_at: float,
        reason: str,
        *,
        lost: int | None = None,
        channels: Iterable[str] | None = None,
        estimate: bool = True,
    ) -> Gap:
        """Record a stretch of message loss (epoch seconds) and return it.

        ``lost`` is the exact number of events lost when the source can tell. Without it the
        loss is estimated from the events on both sides once the next one arrives (the gap in
        :attr:`gaps` is then replaced by one with ``lost_estimate`` and the estimated span),
        unless ``estimate`` is False (the source knows those events say nothing about this
        loss: ``lost_estimate`` then stays None, unknown).

        ``channels`` scopes the gap to some channels (or patterns, or streams) while the
        others kept flowing: the estimate then uses only events of those channels, the ones
        buffered before the gap and the first one after it, however late that one comes.
        """
        scope = None if channels is None else tuple(dict.fromkeys(channels))
        with self._lock:
            gap = Gap(
                started_at=started_at,
                ended_at=ended_at,
                duration=max(0.0, ended_at - started_at),
                reason=reason,
                after_seq=self._last_seq,
                lost_estimate=lost,
                estimate_basis="exact" if lost is not None else "",
                channels=scope,
            )
            self._gaps.append(gap)
            self._gap_count += 1
            if lost is not None:
                self._lost_estimate += lost
            elif estimate:
                before = None if scope is None else self._sample_locked(frozenset(scope))
                pending = _PendingGap(gap, before)
                # An earlier gap still waiting on the same channels would be estimated from
                # the same events as this one: only the newest is (the loss counted once).
                self._pending = [p for p in self._pending if not p.overlaps(pending)]
                self._pending.append(pending)
        return gap

    def _sample_locked(self, scope: frozenset[str] | None) -> list[Event]:
        """Return the last RATE_SAMPLE events buffered (of ``scope`` only), oldest first."""
        events = self._events
        if scope is None:
            start = max(0, len(events) - RATE_SAMPLE)
            return list(itertools.islice(events, start, None))
        sample: list[Event] = []
        for event in reversed(events):
            if _in_scope(event, scope):
                sample.append(event)
                if len(sample) == RATE_SAMPLE:
                    break
        sample.reverse()
        return sample

    def _take_pending_locked(
        self, batch: Sequence[Event]
    ) -> list[tuple[Gap, list[Event], Event]]:
        """Take the pending gaps this batch ends: each with the events before it and after."""
        resolved = []
        still: list[_PendingGap] = []
        for pending in self._pending:
            if pending.before is None:  # every channel: the batch's first event ends it
                resolved.append((pending.gap, self._sample_locked(None), batch[0]))
                continue
            scope = pending.scope
            after = next((event for event in batch if _in_scope(event, scope)), None)
            if after is None:
                still.append(pending)
            else:
                resolved.append((pending.gap, pending.before, after))
        self._pending = still
        return resolved

    def _estimate_gap(self, gap: Gap, before: list[Event], after: Event) -> None:
        """Estimate ``gap`` from the events around it (outside the lock), then store it."""
        hole = estimate_hole(before, after)
        if hole is None:
            return
        started = min(hole.started_at, gap.started_at)
        ended = max(hole.ended_at, started)
        estimated = dataclasses.replace(
            gap,
            started_at=started,
            ended_at=ended,
            duration=ended - started,
            lost_estimate=hole.lost,
            estimate_basis=hole.basis,
        )
        with self._lock:
            for i, kept in enumerate(self._gaps):
                if kept is gap:
                    self._gaps[i] = estimated
                    break
            self._lost_estimate += hole.lost

    # ---- reading -------------------------------------------------------------------------

    @property
    def gaps(self) -> list[Gap]:
        """The most recent gaps (up to :data:`MAX_GAPS_KEPT`), oldest first."""
        with self._lock:
            return list(self._gaps)

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

    # ---- analysis (segment_debugger.analysis; imported when used) ----------------------------

    def schema_inference(self) -> Schemas:
        """Return the :class:`~segment_debugger.analysis.schemas.Schemas` learning this buffer.

        Attached on first call: it learns the events already buffered (without judging them),
        then judges and learns every appended event, adding drift warnings.
        """
        with self._lock:
            if self._schemas is None:
                from segment_debugger.analysis.schemas import Schemas

                schemas = Schemas()
                schemas.learn(tuple(self._events))
                self._schemas = schemas
                self._observers = (*self._observers, schemas)
            return self._schemas

    def schemas(self, *, freeze: bool = False) -> pd.DataFrame:
        """Return the schemas inferred from the buffered traffic: one row per (type, event, path).

        Columns ``type``, ``event``, ``path``, ``types`` (JSON types seen, most frequent first),
        ``count``, ``share`` (of that event's buffered occurrences), ``first_seen``,
        ``last_seen``. ``freeze=True`` first pins the current schema as the baseline drift is
        judged against. See :mod:`segment_debugger.analysis.schemas`.
        """
        schemas = self.schema_inference()
        if freeze:
            schemas.freeze()
        return schemas.to_frame()

    def plan_from_traffic(self, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """Return a starter tracking plan (JSON Schema per event) from the inferred schemas.

        With ``path``, also write it there (JSON, or YAML for ``.yaml``/``.yml``).
        """
        from segment_debugger.analysis.plans import plan_from_traffic, write_plan

        plan = plan_from_traffic(self.schema_inference())
        if path is not None:
            write_plan(plan, path)
        return plan

    # ---- queries and pandas ----------------------------------------------------------------

    def filter(self, query: str | Query) -> list[Event]:
        """Return the buffered events matching ``query`` (filter-language text or a Query)."""
        from segment_debugger.core.query import filter_events, parse_query

        parsed = parse_query(query) if isinstance(query, str) else query
        return filter_events(self.snapshot(), parsed)

    def query(self, query: str | Query, *, max_columns: int | None = None) -> pd.DataFrame:
        """Return the buffered events matching ``query`` as a new DataFrame (see to_pandas)."""
        from segment_debugger.core.frame import events_to_frame

        return events_to_frame(self.filter(query), max_columns=max_columns)

    def to_pandas(self, *, max_columns: int | None = None) -> pd.DataFrame:
        """Return the buffered events as a new DataFrame, one row per event, oldest first.

        The snapshot is taken under the lock, then converted outside it, so appends continue
        meanwhile; the DataFrame is a fresh object that later appends never change. Columns are
        described in :mod:`segment_debugger.core.frame`; ``max_columns`` bounds the flattened
        ``properties.*``/``traits.*``/``context.*`` columns (default ``frame.MAX_COLUMNS``).
        What pyarrow read is kept for the next call (``frame.ReadCache``), which then reads only
        the events appended since; :meth:`clear` drops it.
        """
        from segment_debugger.core.frame import ReadCache, events_to_frame

        with self._lock:
            events = list(self._events)
            cache = self._frame_cache
            if cache is None:
                cache = self._frame_cache = ReadCache()
        return events_to_frame(events, max_columns=max_columns, cache=cache)

    # ---- Arrow, polars, files, captures (the io package; imported when called) -------------

    def to_arrow(self, *, max_columns: int | None = None) -> pa.Table:
        """Return the buffered events as a new ``pyarrow.Table``: ``to_pandas()``'s columns.

        Built from a snapshot without going through pandas; types and the JSON-text fallback
        are described in :mod:`segment_debugger.io.arrow`.
        """
        from segment_debugger.io.arrow import events_to_arrow

        return events_to_arrow(self.snapshot(), max_columns=max_columns)

    def to_polars(self, *, max_columns: int | None = None) -> pl.DataFrame:
        """Return the buffered events as a new polars DataFrame (needs the ``[polars]`` extra)."""
        from segment_debugger.io.arrow import events_to_polars

        frame: pl.DataFrame = events_to_polars(self.snapshot(), max_columns=max_columns)
        return frame

    def export(self, path: str | os.PathLike[str], query: str | Query = "") -> int:
        """Write the buffered events matching ``query`` to ``path``; return how many.

        The extension names the format (``.ndjson``, ``.jsonl``, ``.ndjson.gz``, ``.parquet``,
        ``.csv``); the file appears whole or not at all. See :mod:`segment_debugger.io.export`.
        """
        from segment_debugger.io.export import export_events

        return export_events(self.filter(query), path)

    def capture(self, query: str | Query | Criteria = "") -> Capture:
        """Return a :class:`~segment_debugger.io.capture.Capture` (``with buf.capture(q) as c``)."""
        from segment_debugger.io.capture import Capture

        return Capture(self, query)

    # ---- people (segment_debugger.analysis.people; attached on first use) -----------------

    def person(self, id: str, *, max_columns: int | None = None) -> pd.DataFrame:
        """Return every buffered event of the person ``id`` belongs to, oldest first.

        ``id`` is a userId or an anonymousId; identities are stitched as described in
        :mod:`segment_debugger.analysis.people` (whose graph this attaches on first use).
        """
        from segment_debugger.analysis.people import attach

        return attach(self).person(id, max_columns=max_columns)

    def people(self) -> pd.DataFrame:
        """Return one row per person: ids, events, first and last seen, latest traits."""
        from segment_debugger.analysis.people import attach

        return attach(self).people()


def _all_of(checks: Sequence[Callable[[Event], None]]) -> Callable[[Event], None]:
    def check(event: Event) -> None:
        for one in checks:
            one(event)

    return check


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"EventBuffer {name} must be a positive int, got {value!r}")
    return value
