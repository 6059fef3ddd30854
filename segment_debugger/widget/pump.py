"""The flusher: turn "what is new in the buffer" into a few compact widget messages per second.

One daemon thread sends at most ONE ``delta`` per ``throttle_ms`` (the rows after the last seq
it sent), never the whole buffer, and nothing when nothing is new; the first event after a
quiet spell goes out at once instead of waiting for a tick. When input
outruns ``max_rows_per_second`` it sends only the newest rows and counts the rest as ``skipped``
(thinning); the buffer keeps everything. The budget is time-based: a delta may carry
``max_rows_per_second`` x (seconds since the previous delta or snapshot, at least one tick),
capped at one second's worth, so late or jittery ticks never thin an input rate below the
budget. Every ``stats_interval_ms`` it hands the widget's ``stats`` and ``status`` traits to a
callback, only when they changed.

Every message leaves through the single ``send`` callable, under the pump's lock, so snapshots
and deltas go out in the order their seqs were taken: no row lost or repeated between a
snapshot and the next delta. Deltas start after the first snapshot (the front end asks for one
when it renders; messages sent before that would be lost anyway).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from segment_debugger.core.event import Event
from segment_debugger.core.query import Criteria
from segment_debugger.widget.wire import DeltaMsg, SnapshotMsg, event_to_row

log = logging.getLogger(__name__)

#: The shortest delta interval: keeps deltas + trait updates around 20 messages per second.
MIN_THROTTLE_MS = 50
#: The longest an idle pump waits for news at a time (how fast it notices ``stop()``).
_IDLE_WAIT_S = 0.1

class BufferLike(Protocol):
    """What the pump needs from :class:`~segment_debugger.core.buffer.EventBuffer`."""

    @property
    def last_seq(self) -> int: ...  # noqa: D102

    @property
    def stats(self) -> dict[str, Any]: ...  # noqa: D102

    def since(self, seq: int, limit: int | None = None) -> list[Event]: ...  # noqa: D102

    def since_counted(  # noqa: D102
        self, seq: int, limit: int | None = None
    ) -> tuple[list[Event], int]: ...

    def snapshot(self) -> list[Event]: ...  # noqa: D102

    def wait_for(self, seq: int, timeout: float) -> bool: ...  # noqa: D102

    def clear(self) -> None: ...  # noqa: D102


#: The most display budget one delta can carry, in seconds of ``max_rows_per_second``.
MAX_BUDGET_SECONDS = 1.0


def rows_per_tick(max_rows_per_second: int, throttle_ms: int) -> int:
    """Return the display budget of one on-time tick (at least one row)."""
    return rows_allowed(max_rows_per_second, throttle_ms / 1000.0)


def rows_allowed(max_rows_per_second: int, elapsed_s: float) -> int:
    """Return how many rows a delta may carry ``elapsed_s`` seconds after the previous one.

    ``max_rows_per_second`` x ``elapsed_s``, rounded up, capped at ``MAX_BUDGET_SECONDS`` worth,
    and at least one row.
    """
    seconds = min(max(elapsed_s, 0.0), MAX_BUDGET_SECONDS)
    # round() first: 0.1 s x 2000 is 200.00000000000003 in floating point, not 201.
    return max(1, math.ceil(round(max_rows_per_second * seconds, 6)))


class Pump:
    """Throttled deltas, snapshots on request, and periodic stats/status for one widget.

    ``send`` receives every message (delta and snapshot dicts); ``on_traits`` receives a dict
    of the traits that changed (``stats`` and/or ``status``); ``status`` returns the source's
    current status dict. ``start()``/``stop()`` are idempotent; ``stop()`` joins the thread.
    ``tick()`` runs one step synchronously (what the thread does), for tests and callers that
    drive the pump themselves. ``clock`` (seconds, monotonic) times the display budget.
    ``rates`` returns the per-type series sent as ``stats["rates"]`` (see
    :meth:`~segment_debugger.analysis.rates.RateCounter.series`), with the stats' schedule.
    ``lock`` (re-entrant) is held while a message is built and sent; pass the lock that
    ``send`` itself takes, if it takes one (the widget passes its funnel).
    """

    def __init__(
        self,
        buffer: BufferLike,
        send: Callable[[dict[str, Any]], None],
        *,
        throttle_ms: int = 100,
        max_rows_per_second: int = 2000,
        stats_interval_ms: int = 500,
        on_traits: Callable[[dict[str, Any]], None] | None = None,
        status: Callable[[], dict[str, Any]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        criteria: Callable[[], Criteria] | None = None,
        rates: Callable[[], dict[str, Any] | None] | None = None,
        lock: threading.RLock | None = None,
    ) -> None:
        if throttle_ms < MIN_THROTTLE_MS:
            raise ValueError(
                f"throttle_ms={throttle_ms} is too small: use at least {MIN_THROTTLE_MS} ms so "
                "the widget stays under ~20 messages per second"
            )
        if max_rows_per_second < 1:
            raise ValueError(f"max_rows_per_second must be at least 1, not {max_rows_per_second}")
        self.buffer = buffer
        self.throttle_ms = throttle_ms
        self.max_rows_per_second = max_rows_per_second
        self.stats_interval_ms = stats_interval_ms
        self._send = send
        self._on_traits = on_traits
        self._status = status
        self._clock = clock
        self._criteria = criteria
        self._rates = rates
        # Seqs of buffered events that match the criteria (oldest first), while there are any.
        self._matched: deque[int] = deque()
        self._matched_for: Criteria | None = None
        self._last_sent_at = clock()  # when the last delta/snapshot went out: budget start

        # Cursor + message order; held while sending. A caller whose ``send`` takes a lock of
        # its own passes that lock here, so the two can never be taken in opposite orders.
        self._lock = lock if lock is not None else threading.RLock()
        self._cursor: int | None = None  # last seq the front end has; None: no snapshot yet
        self._cleared_seen = 0  # buffer.stats["cleared"] when the last snapshot was taken
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

        self._counts_lock = threading.Lock()
        self.messages = 0
        """Messages handed to ``send`` (deltas + snapshots)."""
        self.deltas = 0
        """Delta messages sent."""
        self.snapshots = 0
        """Snapshot messages sent."""
        self.rows_sent = 0
        """Rows sent in deltas."""
        self.skipped = 0
        """Rows thinned away from deltas (still in the buffer)."""
        self.trait_updates = 0
        """Calls to ``on_traits``."""

        self._last_traits: dict[str, Any] = {}
        self._rate_t0 = time.monotonic()
        self._rate_rows0 = 0
        self._displayed_rate = 0.0
        self._next_traits = 0.0

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while the flusher thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the flusher thread (no-op when already running)."""
        if self.running:
            return
        self._stop = threading.Event()  # a fresh one: a straggler keeps its own, already set
        self._thread = threading.Thread(
            target=self._run, args=(self._stop,), name="segment-debugger-pump", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the flusher thread and wait for it (no-op when not running)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("pump thread did not stop within %.1f s", timeout)

    def _run(self, stop: threading.Event) -> None:
        """Send a delta as soon as something is new, but at most one per ``throttle_ms``.

        After a quiet spell the first event goes out at once (no waiting for a tick); under
        load deltas come every ``throttle_ms``. Stats and status traits refresh on their own
        schedule. The waits are short, so ``stop()`` is noticed within ``_IDLE_WAIT_S``.
        """
        interval = self.throttle_ms / 1000.0
        failures = 0
        last_tick = -math.inf
        while not stop.is_set():
            now = time.monotonic()
            quiet_for = now - last_tick
            if quiet_for < interval:  # throttled: the next delta may go at last_tick + interval
                stop.wait(min(interval - quiet_for, max(self._next_traits - now, 0.0)))
            elif not self._has_news():
                # Idle: wait for the next event (or the next trait refresh), then send at once.
                timeout = min(_IDLE_WAIT_S, max(self._next_traits - now, 0.0))
                if timeout > 0:
                    self.buffer.wait_for(self.buffer.last_seq + 1, timeout)
                    if not self._has_news() and time.monotonic() < self._next_traits:
                        continue
            if stop.is_set():
                break
            if not self._has_news() and time.monotonic() < self._next_traits:
                continue
            started = time.monotonic()
            try:
                if self.tick() is not None:
                    last_tick = started
                failures = 0
            except Exception:
                failures += 1
                # The first failure in a row with its traceback; the rest would flood the log.
                log.log(logging.ERROR if failures == 1 else logging.DEBUG,
                        "pump tick failed (%d in a row); retrying", failures, exc_info=True)
                last_tick = started
                stop.wait(interval)

    def _has_news(self) -> bool:
        """Return True when a delta would carry something (after the front end's snapshot)."""
        cursor = self._cursor
        return cursor is not None and self.buffer.last_seq != cursor

    # -- messages ----------------------------------------------------------------------------

    def tick(self) -> DeltaMsg | SnapshotMsg | None:
        """Send what is new since the last message (if anything) and refresh traits when due.

        Returns the message sent, or None. After ``buffer.clear()`` (seen in its ``cleared``
        counter) the front end gets a snapshot instead of a delta.
        """
        msg = self._flush()
        now = time.monotonic()
        if now >= self._next_traits:
            self._next_traits = now + self.stats_interval_ms / 1000.0
            self.refresh_traits()
        return msg

    def _flush(self) -> DeltaMsg | SnapshotMsg | None:
        with self._lock:
            cursor = self._cursor
            if cursor is None:
                return None
            stats = self.buffer.stats
            if stats.get("cleared", 0) != self._cleared_seen:  # someone called buffer.clear()
                return self._send_snapshot(None)
            criteria = self._current_criteria()
            if criteria is not self._matched_for:  # changed without criteria_changed()
                return self._send_snapshot(None)
            last = int(stats["last_seq"])
            if last == cursor:
                return None
            now = self._clock()
            # At least one tick's worth: a delta right after a snapshot must not thin a trickle.
            elapsed = max(now - self._last_sent_at, self.throttle_ms / 1000.0)
            budget = rows_allowed(self.max_rows_per_second, elapsed)
            matched: int | None = None
            if criteria is None:
                events, buffered = self.buffer.since_counted(cursor, limit=budget)
                new_last = events[-1].seq if events else last
                shown = events
                skipped = new_last - cursor - len(shown)
            else:
                # Filter before thinning: only matching events count against the budget.
                events, buffered = self.buffer.since_counted(cursor)
                new_last = events[-1].seq if events else last
                matching = criteria.filter(events)
                shown = matching[-budget:]
                skipped = len(matching) - len(shown)
                matched = self._count_matched(matching, new_last - buffered + 1)
            rows = [event_to_row(e) for e in shown]
            msg = DeltaMsg(
                type="delta", rows=rows, after_seq=cursor, last_seq=new_last, skipped=skipped,
                buffered=buffered, matched=matched,
            )
            self._send(dict(msg))
            self._cursor = new_last
            self._last_sent_at = now
            with self._counts_lock:
                self.messages += 1
                self.deltas += 1
                self.rows_sent += len(rows)
                self.skipped += skipped
            return msg

    def _current_criteria(self) -> Criteria | None:
        """Return the view's criteria, or None when every event is shown."""
        criteria = self._criteria() if self._criteria is not None else None
        return None if criteria is None or criteria.is_empty else criteria

    def _count_matched(self, matching: list[Event], first_seq: int) -> int:
        """Add ``matching`` to the matched seqs, forget evicted ones, return how many remain."""
        seqs = self._matched
        seqs.extend(e.seq for e in matching)
        while seqs and seqs[0] < first_seq:
            seqs.popleft()
        return len(seqs)

    def criteria_changed(self) -> SnapshotMsg | None:
        """Send a snapshot of what the new criteria match (once the front end has had one)."""
        with self._lock:
            if self._cursor is None:
                return None
            return self._send_snapshot(None)

    def snapshot(self, request_id: str | None = None) -> SnapshotMsg:
        """Send every buffered row (oldest first) and restart deltas after it; return the message.

        Atomic with respect to the flusher thread: the next delta starts exactly after the
        snapshot's ``last_seq``.
        """
        with self._lock:
            return self._send_snapshot(request_id)

    def clear(self, request_id: str | None = None) -> SnapshotMsg:
        """Clear the buffer and send the (empty) snapshot, atomically; return the message."""
        with self._lock:
            self.buffer.clear()
            return self._send_snapshot(request_id)

    def _send_snapshot(self, request_id: str | None) -> SnapshotMsg:
        before = self.buffer.stats  # seqs up to its last_seq are in the snapshot or gone
        events = self.buffer.snapshot()
        buffered = len(events)
        last = events[-1].seq if events else int(before["last_seq"])
        criteria = self._current_criteria()
        matched: int | None = None
        if criteria is not None:
            events = criteria.filter(events)
            matched = len(events)
            self._matched = deque(e.seq for e in events)
            events = events[-self._capacity(before):]
        else:
            self._matched = deque()
        self._matched_for = criteria
        msg = SnapshotMsg(
            type="snapshot",
            rows=[event_to_row(e) for e in events],
            last_seq=last,
            request_id=request_id,
            buffered=buffered,
            matched=matched,
            persons=criteria.query.persons if criteria is not None else None,
        )
        self._send(dict(msg))
        self._cursor = last
        self._last_sent_at = self._clock()
        self._cleared_seen = before.get("cleared", 0)
        with self._counts_lock:
            self.messages += 1
            self.snapshots += 1
        return msg

    @staticmethod
    def _capacity(stats: dict[str, Any]) -> int:
        """Return the front end's store capacity: the buffer's (``max_rows`` = ``max_messages``)."""
        return max(1, int(stats.get("max_messages") or 10_000))

    # -- traits ------------------------------------------------------------------------------

    def current_stats(self) -> dict[str, Any]:
        """Return the buffer's stats plus ``displayed_rate_per_s`` and ``skipped`` (thinned).

        With a ``rates`` callable, also ``rates``: events per second per type, the last 60 s.
        """
        now = time.monotonic()
        with self._counts_lock:
            rows, skipped = self.rows_sent, self.skipped
        elapsed = now - self._rate_t0
        if elapsed >= self.stats_interval_ms / 1000.0:
            self._displayed_rate = round((rows - self._rate_rows0) / elapsed, 1)
            self._rate_t0, self._rate_rows0 = now, rows
        stats = dict(self.buffer.stats)
        stats["displayed_rate_per_s"] = self._displayed_rate
        stats["skipped"] = skipped
        if self._rates is not None:
            stats["rates"] = self._rates()
        return stats

    def refresh_traits(self) -> dict[str, Any]:
        """Hand the changed ``stats``/``status`` values to ``on_traits``; return what changed."""
        values: dict[str, Any] = {"stats": self.current_stats()}
        if self._status is not None:
            values["status"] = self._status()
        changed = {k: v for k, v in values.items() if self._last_traits.get(k) != v}
        if changed and self._on_traits is not None:
            self._on_traits(changed)
            self._last_traits.update(changed)
            with self._counts_lock:
                self.trait_updates += 1
        return changed

