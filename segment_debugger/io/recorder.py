"""Record a source to disk as events arrive: no event lost to the buffer's cap, gaps kept.

The source fills a :class:`CaptureBuffer`, an :class:`~segment_debugger.core.buffer.EventBuffer`
that also hands every batch it buffers (and every gap it records) to a :class:`Spool`, in the
source's own thread, before anything can be evicted (:mod:`.spool`). :func:`record` takes them
off the spool and writes them with a :class:`RecordingWriter` (:mod:`.recording_writer`, the
format of :mod:`.recording_format`). The buffer itself stays small (it only serves gap
estimates): what a recording holds does not depend on its cap.

The spool is bounded in bytes: when the disk cannot keep up, the source's thread waits, and the
loss that may cause (Redis cutting a slow pub/sub subscriber) is recorded as a gap like any other.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from segment_debugger.core.buffer import Gap
from segment_debugger.core.event import Event
from segment_debugger.io.recording_writer import (
    ROW_GROUP_ROWS,
    Format,
    RecordingWriter,
    format_of,
)
from segment_debugger.io.spool import SPOOL_LIMIT_BYTES, CaptureBuffer, Spool

if TYPE_CHECKING:
    from segment_debugger.core.query import Query
    from segment_debugger.sources.base import Source, SourceStatus

__all__ = [
    "FLUSH_INTERVAL_S",
    "ROW_GROUP_ROWS",
    "SPOOL_LIMIT_BYTES",
    "CaptureBuffer",
    "Format",
    "Progress",
    "RecordingWriter",
    "Spool",
    "format_of",
    "record",
]

#: How often :func:`record` flushes the file and rewrites the sidecar (seconds).
FLUSH_INTERVAL_S = 0.5


@dataclass
class Progress:
    """Where a recording stands, for a progress line."""

    events: int
    """Events written."""
    rate: float
    """Events written per second, over the last few seconds."""
    bytes: int
    """Bytes on disk, every part."""
    gaps: int
    """Gaps listed in the sidecar."""
    state: str
    """The source's state (``live``, ``reconnecting``...)."""
    elapsed: float
    """Seconds since recording started."""


def record(
    source: Source,
    writer: RecordingWriter,
    *,
    query: Query | None = None,
    stop: threading.Event | None = None,
    duration: float | None = None,
    count: int | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> Progress:
    """Start ``source`` (built on a :class:`CaptureBuffer`) and record it with ``writer``.

    Writes every event matching ``query`` until ``stop`` is set, ``duration`` seconds pass or
    ``count`` events are written; then stops the source, writes what it had spooled and
    closes the writer. ``on_progress`` is called about twice a second. Returns the last
    :class:`Progress`.
    """
    buffer = source.buffer
    if not isinstance(buffer, CaptureBuffer):
        raise TypeError("record() needs a source built on a CaptureBuffer")
    spool = buffer.spool
    stop = stop or threading.Event()
    started = time.monotonic()
    deadline = None if duration is None else started + duration
    rates: deque[tuple[float, int]] = deque([(started, 0)], maxlen=10)

    def full() -> bool:
        return count is not None and writer.events >= count

    def take(items: list[Sequence[Event] | Gap]) -> None:
        for item in items:
            if isinstance(item, Gap):
                writer.gap(item)
                continue
            events = item if query is None else [e for e in item if query.matches(e)]
            if count is not None:
                events = events[: max(0, count - writer.events)]
            writer.write(events)

    def progress() -> Progress:
        now = time.monotonic()
        rates.append((now, writer.events))
        (t0, n0) = rates[0]
        rate = (writer.events - n0) / (now - t0) if now > t0 else 0.0
        return Progress(writer.events, rate, writer.bytes_written, len(writer.gaps),
                        str(source.status.state), now - started)

    source.start()
    try:
        next_flush = time.monotonic() + FLUSH_INTERVAL_S
        while not stop.is_set() and not full():
            wait = max(0.0, next_flush - time.monotonic())
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - time.monotonic()))
            take(spool.take(wait))
            now = time.monotonic()
            if now >= next_flush:
                writer.flush()
                writer.update_gaps(buffer.gaps, _open_gap(source.status))
                if on_progress is not None:
                    on_progress(progress())
                next_flush = now + FLUSH_INTERVAL_S
            if deadline is not None and now >= deadline:
                break
    finally:
        spool.unbound()
        status = source.status
        source.stop()
        if not full():
            take(spool.take(0))
        writer.update_gaps(buffer.gaps, _open_gap(status, final=True))
        writer.close()
    last = progress()
    if on_progress is not None:
        on_progress(last)
    return last


def _open_gap(status: SourceStatus, final: bool = False) -> dict[str, Any] | None:
    """Return the gap the source has not recorded yet (it is reconnecting), or None."""
    if status.state != "reconnecting":
        return None
    now = time.time()
    return {
        "started_at": status.since, "ended_at": now, "duration": max(0.0, now - status.since),
        "reason": f"{'recording ended while ' if final else ''}the source was reconnecting: "
                  f"{status.reason}",
        "lost_estimate": None, "estimate_basis": "", "channels": None, "open": True,
    }
