"""The flusher: turn "what is new in the buffer" into a few compact widget messages per second.

One daemon thread wakes every ``throttle_ms`` and sends at most ONE ``delta`` (the rows after
the last seq it sent), never the whole buffer, and nothing when nothing is new. When input
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
from collections.abc import Callable
from typing import Any, Protocol

from segment_debugger.core.event import Event
from segment_debugger.widget.wire import DeltaMsg, SnapshotMsg, event_to_row

log = logging.getLogger(__name__)

#: The shortest delta interval: keeps deltas + trait updates around 20 messages per second.
MIN_THROTTLE_MS = 50

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
        self._last_sent_at = clock()  # when the last delta/snapshot went out: budget start

        self._lock = threading.Lock()  # cursor + message order; held while sending
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
        interval = self.throttle_ms / 1000.0
        next_tick = time.monotonic() + interval
        failures = 0
        while not stop.wait(max(0.0, next_tick - time.monotonic())):
            started = time.monotonic()
            try:
                self.tick()
                failures = 0
            except Exception:
                failures += 1
                # The first failure in a row with its traceback; the rest would flood the log.
                log.log(logging.ERROR if failures == 1 else logging.DEBUG,
                        "pump tick failed (%d in a row); retrying", failures, exc_info=True)
            next_tick = started + interval  # ticks never closer than the interval

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
            last = int(stats["last_seq"])
            if last == cursor:
                return None
            now = self._clock()
            # At least one tick's worth: a delta right after a snapshot must not thin a trickle.
            elapsed = max(now - self._last_sent_at, self.throttle_ms / 1000.0)
            budget = rows_allowed(self.max_rows_per_second, elapsed)
            events, buffered = self.buffer.since_counted(cursor, limit=budget)
            new_last = events[-1].seq if events else last
            rows = [event_to_row(e) for e in events]
            skipped = new_last - cursor - len(rows)
            msg = DeltaMsg(
                type="delta", rows=rows, after_seq=cursor, last_seq=new_last, skipped=skipped,
                buffered=buffered,
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
        last = events[-1].seq if events else int(before["last_seq"])
        msg = SnapshotMsg(
            type="snapshot",
            rows=[event_to_row(e) for e in events],
            last_seq=last,
            request_id=request_id,
        )
        self._send(dict(msg))
        self._cursor = last
        self._last_sent_at = self._clock()
        self._cleared_seen = before.get("cleared", 0)
        with self._counts_lock:
            self.messages += 1
            self.snapshots += 1
        return msg

    # -- traits ------------------------------------------------------------------------------

    def current_stats(self) -> dict[str, Any]:
        """Return the buffer's stats plus ``displayed_rate_per_s`` and ``skipped`` (thinned)."""
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

