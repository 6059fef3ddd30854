"""Record a source to disk as events arrive: no event lost to the buffer's cap, gaps kept.

The source fills a :class:`CaptureBuffer`, an :class:`~segment_debugger.core.buffer.EventBuffer`
that also hands every batch it buffers (and every gap it records) to a :class:`Spool`, in the
source's own thread, before anything can be evicted. :func:`record` takes them off the spool
and writes them with a :class:`RecordingWriter` (format of :mod:`.recording`). The buffer itself
stays small (it only serves gap estimates): what a recording holds does not depend on its cap.

The spool is bounded in bytes: when the disk cannot keep up, the source's thread waits, and the
loss that may cause (Redis cutting a slow pub/sub subscriber) is recorded as a gap like any other.
"""

from __future__ import annotations

import gzip
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, cast

import orjson

from segment_debugger.core.buffer import EventBuffer, Gap
from segment_debugger.core.event import Event
from segment_debugger.io.recording import (
    HEADER_KEY,
    VERSION,
    encode_event,
    gaps_path,
    header_line,
    part_path,
)

if TYPE_CHECKING:
    from segment_debugger.core.query import Query
    from segment_debugger.sources.base import Source, SourceStatus

Format = Literal["ndjson", "ndjson.gz", "parquet"]

#: Bytes of events the spool holds before the source's thread waits for the writer.
SPOOL_LIMIT_BYTES = 64 * 2**20
#: How often :func:`record` flushes the file and rewrites the sidecar (seconds).
FLUSH_INTERVAL_S = 0.5
#: Parquet: rows buffered before a row group is written (else at each flush).
ROW_GROUP_ROWS = 50_000


def format_of(path: str | os.PathLike[str]) -> Format:
    """Return the recording format ``path``'s name asks for (``.parquet``, ``.gz``, else NDJSON)."""
    name = os.fspath(path).lower()
    if name.endswith(".parquet"):
        return "parquet"
    return "ndjson.gz" if name.endswith(".gz") else "ndjson"


# ---- from the source's thread to the writer ---------------------------------------------------


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


# ---- the files -------------------------------------------------------------------------------


class RecordingWriter:
    """Write recorded events to ``path`` (and its numbered parts), plus the gaps sidecar.

    Events are numbered 1, 2, ... in the order written (contiguous across parts, whatever the
    source's seqs: a filtered recording has no holes). With ``rotate_bytes`` a part is closed
    once it holds that many bytes (on disk: compressed for ``.gz``) and the next one opened
    (:func:`~.recording.part_path`). The sidecar ``FILE.gaps.json`` is rewritten (atomically)
    whenever the gaps change and at :meth:`close`; ``"closed": true`` there means the recording
    ended cleanly.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        source: str = "",
        query: str = "",
        rotate_bytes: int | None = None,
        fmt: Format | None = None,
    ) -> None:
        self.path = Path(path)
        self.format: Format = fmt or format_of(path)
        self.rotate_bytes = rotate_bytes
        self.started_at = time.time()
        self.events = 0
        """Events written so far."""
        self.parts: list[Path] = []
        self._header = {"started_at": self.started_at, "source": source, "filter": query}
        self._done_bytes = 0  # bytes of closed parts
        self._raw: IO[bytes] | None = None
        self._out: IO[bytes] | None = None
        self._parquet: Any = None
        self._rows: dict[str, list[Any]] = _empty_rows()
        self._gap_seq: dict[tuple[int, str], int] = {}  # (source after_seq, reason) -> ours
        self._gaps: list[dict[str, Any]] = []
        self._closed = False
        self._open_part()
        self._write_sidecar()

    # -- parts ---------------------------------------------------------------------------

    def _open_part(self) -> None:
        path = part_path(self.path, len(self.parts))
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {**self._header, "part": len(self.parts)}
        self.parts.append(path)
        if self.format == "parquet":
            import pyarrow.parquet as pq

            schema = _SCHEMA().with_metadata({HEADER_KEY: orjson.dumps({"version": VERSION,
                                                                        **header})})
            self._parquet = pq.ParquetWriter(path, schema)
            return
        raw: IO[bytes] = path.open("wb")
        out: IO[bytes] = raw
        if self.format == "ndjson.gz":
            out = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0))
        out.write(header_line(header))
        self._raw, self._out = raw, out

    def _close_part(self) -> None:
        if self._parquet is not None:
            self._write_row_group()
            self._parquet.close()
            self._parquet = None
        if self._out is not None:
            self._out.close()
            if self._raw is not None and self._raw is not self._out:
                self._raw.close()
            self._out = self._raw = None
        self._done_bytes += self.parts[-1].stat().st_size

    def _part_bytes(self) -> int:
        if self._raw is not None:
            return self._raw.tell()
        return self.parts[-1].stat().st_size if self.parts[-1].exists() else 0

    @property
    def bytes_written(self) -> int:
        """Bytes on disk so far, every part (the open part's as far as flushed)."""
        return self._done_bytes + self._part_bytes()

    # -- events and gaps -----------------------------------------------------------------

    def write(self, events: Sequence[Event]) -> None:
        """Append ``events`` to the recording, numbering them on from the last one."""
        if not events:
            return
        if self._parquet is not None:
            rows = self._rows
            for event in events:
                self.events += 1
                rows["seq"].append(self.events)
                rows["received_at"].append(event.received_at)
                rows["channel"].append(event.channel)
                rows["pattern"].append(event.pattern)
                rows["stream_id"].append(event.stream_id)
                rows["payload"].append(event.raw)
            if len(rows["seq"]) >= ROW_GROUP_ROWS:
                self._write_row_group()
        else:
            assert self._out is not None
            first = self.events + 1
            self._out.write(b"".join(
                encode_event(event, first + i) for i, event in enumerate(events)
            ))
            self.events += len(events)
        self._maybe_rotate()

    def _write_row_group(self) -> None:
        if not self._rows["seq"]:
            return
        import pyarrow as pa

        table = pa.Table.from_pydict(self._rows, schema=_SCHEMA())
        self._parquet.write_table(table, row_group_size=len(self._rows["seq"]))
        self._rows = _empty_rows()

    def _maybe_rotate(self) -> None:
        if self.rotate_bytes is not None and self._part_bytes() >= self.rotate_bytes:
            self._close_part()
            self._open_part()
            self._write_sidecar()

    def gap(self, gap: Gap) -> None:
        """Note that ``gap`` (a buffer's) came after the events written so far."""
        self._gap_seq[(gap.after_seq, gap.reason)] = self.events

    def update_gaps(self, gaps: Sequence[Gap], open_gap: dict[str, Any] | None = None) -> None:
        """Rewrite the sidecar if the buffer's gaps (or the one still open) changed."""
        listed = []
        for gap in gaps:
            after = self._gap_seq.get((gap.after_seq, gap.reason))
            if after is None:  # not seen through the spool yet: next time
                continue
            listed.append({**gap.to_dict(), "after_seq": after})
        if open_gap is not None:
            listed.append({**open_gap, "after_seq": self.events})
        if listed != self._gaps:
            self._gaps = listed
            self._write_sidecar()

    @property
    def gaps(self) -> list[dict[str, Any]]:
        """The gaps as the sidecar lists them (``after_seq`` in this recording's numbering)."""
        return list(self._gaps)

    def flush(self) -> None:
        """Push what was written to disk, so a killed process leaves a readable recording.

        NDJSON is flushed (gzip sync-flushed). Parquet writes its buffered rows as a row
        group, but a Parquet file is only readable once closed (its footer).
        """
        if self._parquet is not None:
            self._write_row_group()
        elif self._out is not None:
            self._out.flush()
            if self._raw is not None and self._raw is not self._out:
                self._raw.flush()
        self._maybe_rotate()

    def close(self) -> None:
        """Close the open part and write the final sidecar (idempotent)."""
        if self._closed:
            return
        self._close_part()
        self._closed = True
        self._write_sidecar()

    def _write_sidecar(self) -> None:
        data = {
            "version": VERSION,
            "recording": self.path.name,
            "parts": [p.name for p in self.parts],
            **self._header,
            "ended_at": time.time(),
            "closed": self._closed,
            "events": self.events,
            "gaps": self._gaps,
        }
        target = gaps_path(self.path)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
        os.replace(tmp, target)


def _SCHEMA() -> Any:  # a constant built on first use (pyarrow loads lazily)
    import pyarrow as pa

    return pa.schema([
        ("seq", pa.int64()), ("received_at", pa.float64()), ("channel", pa.string()),
        ("pattern", pa.string()), ("stream_id", pa.string()), ("payload", pa.binary()),
    ])


def _empty_rows() -> dict[str, list[Any]]:
    return {"seq": [], "received_at": [], "channel": [], "pattern": [], "stream_id": [],
            "payload": []}


# ---- the loop ---------------------------------------------------------------------------------


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
