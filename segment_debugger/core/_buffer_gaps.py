"""Gaps in an EventBuffer's stream: recording each one and estimating what it lost."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from segment_debugger.core.event import Event
from segment_debugger.core.loss import RATE_SAMPLE, estimate_hole

__all__ = ["MAX_GAPS_KEPT", "Gap"]


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


#: How many recent gaps :attr:`EventBuffer.gaps` keeps (all are counted in ``stats``).
MAX_GAPS_KEPT = 1000


class _GapBook:
    """The gap bookkeeping of :class:`~segment_debugger.core.buffer.EventBuffer` (a mixin).

    Its state lives on the buffer, under the buffer's lock: made by :meth:`_init_gaps`.
    """

    _lock: threading.Lock
    _events: deque[Event]
    _last_seq: int

    def _init_gaps(self) -> None:
        self._gaps: deque[Gap] = deque(maxlen=MAX_GAPS_KEPT)
        self._gap_count = 0
        self._lost_estimate = 0
        # Recorded gaps awaiting the first event after them (on their channels, if scoped).
        self._pending: list[_PendingGap] = []

    @property
    def gaps(self) -> list[Gap]:
        """The most recent gaps (up to :data:`MAX_GAPS_KEPT`), oldest first."""
        with self._lock:
            return list(self._gaps)

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
