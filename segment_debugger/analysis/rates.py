"""Rates per type: events received per second, per Segment type, over the last minute.

:class:`RateCounter` is a buffer observer (see
:meth:`~segment_debugger.core.buffer.EventBuffer.add_observer`). It counts appended events per
(whole second of ``received_at``, type bucket), the bucket being one of the six Segment types
or ``"unknown"``. It counts *arrivals*: an eviction or a ``clear()`` does not change a rate
that was measured. Only the last :data:`RATE_SECONDS` seconds are kept (bounded memory: at
most that many buckets of seven ints, whatever the traffic).

The window ends at the current second of ``clock`` (``time.time``, the clock ``received_at``
is read from; injectable for tests). The current second is still filling.

Two readings of the same counts: :meth:`RateCounter.series` (compact, for the widget's
``stats["rates"]``: ``{"t0": <epoch second of the first value>, "by_type": {type: [ints]}}``,
types without arrivals left out, None when nothing arrived in the window) and
:meth:`RateCounter.to_frame` (``dbg.rates()``: a DataFrame indexed by second, UTC, one column
per type, zeros filled). :func:`attach` gives a buffer's counter, attaching it the first time.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from segment_debugger.core.event import EVENT_TYPES, Event

if TYPE_CHECKING:
    import pandas as pd

    from segment_debugger.core.buffer import EventBuffer

__all__ = ["RATE_SECONDS", "RATE_TYPES", "RateCounter", "attach"]

#: How many seconds of rates are kept and reported.
RATE_SECONDS = 60

#: The type buckets, in column order: the six Segment types, then anything else.
RATE_TYPES: tuple[str, ...] = (*EVENT_TYPES, "unknown")

_INDEX: dict[str | None, int] = {t: i for i, t in enumerate(EVENT_TYPES)}
_UNKNOWN = len(EVENT_TYPES)


class RateCounter:
    """Arrivals per (second, type) over the last ``seconds`` seconds; a buffer observer."""

    def __init__(
        self, *, seconds: int = RATE_SECONDS, clock: Callable[[], float] = time.time
    ) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
            raise ValueError(f"RateCounter seconds must be a positive int, got {seconds!r}")
        self.seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[int, list[int]] = {}  # epoch second -> count per RATE_TYPES index

    # ---- BufferObserver ------------------------------------------------------------------

    def appended(self, events: Sequence[Event], evicted: Sequence[Event]) -> None:
        """Count ``events`` by receive second and type (``evicted`` changes nothing)."""
        if not events:
            return
        low = math.floor(self._clock()) - self.seconds + 1
        with self._lock:
            counts = self._counts
            second = None
            row: list[int] = []
            for event in events:
                at = event.received_at
                if not math.isfinite(at):
                    continue
                s = math.floor(at)
                if s != second:
                    second = s
                    if s < low:  # already outside the window: nothing to keep
                        row = []
                        continue
                    row = counts.get(s) or counts.setdefault(s, [0] * len(RATE_TYPES))
                elif not row:
                    continue
                row[_INDEX.get(event.type, _UNKNOWN)] += 1
            self._prune_locked(low)

    def cleared(self) -> None:
        """Nothing to do: arrivals that were counted stay counted."""

    def _prune_locked(self, low: int) -> None:
        counts = self._counts
        for s in [s for s in counts if s < low]:
            del counts[s]
        # Receive times ahead of the clock (a clock step back): never more than the window.
        if len(counts) > 2 * self.seconds:
            for s in sorted(counts)[: len(counts) - 2 * self.seconds]:
                del counts[s]

    # ---- readings ------------------------------------------------------------------------

    def window(self, now: float | None = None) -> tuple[int, list[list[int]]]:
        """Return ``(t0, rows)``: the window's first epoch second and one row per second.

        Each row holds the counts per :data:`RATE_TYPES` (zeros where nothing arrived).
        """
        end = math.floor(self._clock() if now is None else now)
        t0 = end - self.seconds + 1
        with self._lock:
            self._prune_locked(t0)
            zero = [0] * len(RATE_TYPES)
            rows = [list(self._counts.get(s, zero)) for s in range(t0, end + 1)]
        return t0, rows

    def series(self, now: float | None = None) -> dict[str, Any] | None:
        """Return ``{"t0": epoch second, "by_type": {type: [counts per second]}}`` or None.

        Only types with an arrival in the window are listed; None when there is none at all.
        """
        t0, rows = self.window(now)
        by_type = {
            name: column
            for i, name in enumerate(RATE_TYPES)
            if any(column := [row[i] for row in rows])
        }
        if not by_type:
            return None
        return {"t0": t0, "by_type": by_type}

    def to_frame(self, now: float | None = None) -> pd.DataFrame:
        """Return the window as a DataFrame: index ``second`` (UTC), a column per type (int64)."""
        import pandas as pd  # the widget imports this module: pandas only when asked

        from segment_debugger.core.frame import epoch_seconds_to_utc

        t0, rows = self.window(now)
        index = pd.DatetimeIndex(
            epoch_seconds_to_utc([float(s) for s in range(t0, t0 + len(rows))]), name="second"
        )
        columns = {
            name: pd.array([row[i] for row in rows], dtype="int64")
            for i, name in enumerate(RATE_TYPES)
        }
        frame: pd.DataFrame = pd.DataFrame(columns, index=index)
        return frame


_attached: weakref.WeakKeyDictionary[EventBuffer, RateCounter] = weakref.WeakKeyDictionary()
_attaching = threading.Lock()


def attach(buffer: EventBuffer, *, clock: Callable[[], float] | None = None) -> RateCounter:
    """Return ``buffer``'s :class:`RateCounter`, attaching it the first time.

    The events buffered then are counted too (those received in the window). ``clock`` is
    used only when the counter is created.
    """
    with _attaching:
        counter = _attached.get(buffer)
        if counter is None:
            counter = RateCounter() if clock is None else RateCounter(clock=clock)
            buffer.add_observer(counter, replay=True)
            _attached[buffer] = counter
        return counter
