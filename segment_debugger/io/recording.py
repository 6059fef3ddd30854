"""Recordings: every received event with where and when it arrived, its payload byte-exact.

A recording is what ``segment-debugger record`` writes and :func:`open_recording` reads back
into an :class:`~segment_debugger.core.buffer.EventBuffer`; :class:`RecordingSource` shows it
in the widget without Redis. Unlike an export (payloads only) it keeps per event what the buffer
knew: ``seq``, ``received_at``, ``channel``, ``pattern``, ``stream_id``, so replay can pace
events as they came and a notebook can show them as they were.

The format (lines, Parquet columns, the names of parts and sidecar) is
:mod:`.recording_format`'s; reading files, damaged ones included, :mod:`.recording_reader`'s;
writing them, :mod:`.recording_writer`'s. Their public names are importable from here too.
"""

from __future__ import annotations

import os
import time
import warnings
from typing import TYPE_CHECKING, Any, cast

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.event import Event
from segment_debugger.io.recording_format import (
    EXPORT_RAW_KEY,
    HEADER_KEY,
    RECORD_KEYS,
    VERSION,
    Recorded,
    RecordingError,
    RecordingWarning,
    decode_line,
    encode_event,
    encode_record,
    gaps_path,
    header_line,
    part_path,
    payload_fits_line,
)
from segment_debugger.io.recording_reader import (
    MAX_NAMED_PROBLEMS,
    ReadReport,
    iter_recording,
    read_sidecar,
    recording_parts,
)

if TYPE_CHECKING:
    from segment_debugger.sources.base import SourceStatus

__all__ = [
    "EXPORT_RAW_KEY",
    "HEADER_KEY",
    "MAX_NAMED_PROBLEMS",
    "RECORD_KEYS",
    "VERSION",
    "ReadReport",
    "Recorded",
    "RecordingError",
    "RecordingSource",
    "RecordingWarning",
    "decode_line",
    "describe_buffer",
    "encode_event",
    "encode_record",
    "gaps_path",
    "header_line",
    "iter_recording",
    "open_recording",
    "part_path",
    "payload_fits_line",
    "read_sidecar",
    "recording_parts",
]


def open_recording(path: str | os.PathLike[str]) -> EventBuffer:
    """Return a new :class:`EventBuffer` holding the recording at ``path``, every part of it.

    Events keep ``seq``, ``received_at``, ``channel``, ``pattern`` and ``stream_id`` as
    recorded (seqs follow on from the first one; after a skipped damaged line they are
    renumbered to stay contiguous, and the warning says so), are parsed and flagged as live
    ones are (duplicate messageIds included), and the gaps of the sidecar
    (``FILE.gaps.json``) are recorded in the buffer where they happened. The buffer is sized
    to hold them all. Reads NDJSON, gzipped NDJSON and Parquet recordings, and plain NDJSON
    exports. Damaged lines are skipped and named in a :class:`RecordingWarning`; raises
    :class:`RecordingError` when nothing is readable.
    """
    report = ReadReport()
    items = list(iter_recording(path, report))
    if not items and report.problems:
        raise RecordingError(
            f"nothing readable in the recording {str(path)!r}: " + "; ".join(report.problems[:5])
        )
    size = sum(len(item.raw) for item in items)
    buffer = EventBuffer(max_messages=max(1, len(items)), max_bytes=max(1, size))
    first_seq = items[0].seq if items else 0
    if first_seq > 1:
        # A later part opened on its own: number on from its first seq. EventBuffer has no
        # public way to start elsewhere than 1; _last_seq is the counter it continues from.
        buffer._last_seq = first_seq - 1
    gaps = sorted(_sidecar_gaps(path), key=lambda gap: gap.get("after_seq", 0))
    renumbered: str | None = None
    batch: list[Event] = []
    for item in items:
        while gaps and gaps[0].get("after_seq", 0) <= buffer.last_seq + len(batch):
            buffer.extend(batch)
            batch = []
            _record_gap(buffer, gaps.pop(0))
        seq = buffer.last_seq + len(batch) + 1
        if renumbered is None and item.seq not in (0, seq):
            renumbered = f"recorded seq {item.seq} became {seq}"
        batch.append(item.to_event())
    buffer.extend(batch)
    for gap in gaps:
        _record_gap(buffer, gap)
    if renumbered is not None and report.problems:
        report.problems.append(f"seqs renumbered to stay contiguous from there on ({renumbered})")
    report.warn(len(items))
    return buffer


def _sidecar_gaps(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    sidecar = read_sidecar(path)
    gaps = [] if sidecar is None else sidecar.get("gaps")
    return [g for g in gaps if isinstance(g, dict)] if isinstance(gaps, list) else []


def _record_gap(buffer: EventBuffer, gap: dict[str, Any]) -> None:
    try:
        exact = gap.get("estimate_basis") == "exact"
        channels = gap.get("channels")
        buffer.record_gap(
            float(gap["started_at"]), float(gap["ended_at"]), str(gap.get("reason", "")),
            lost=int(gap["lost_estimate"]) if exact else None,
            channels=None if channels is None else [str(c) for c in channels],
        )
    except (KeyError, TypeError, ValueError):  # a hand-edited sidecar: keep the events
        warnings.warn(f"recording sidecar: unreadable gap {gap!r}", RecordingWarning,
                      stacklevel=3)


def describe_buffer(buffer: EventBuffer) -> str:
    """Return ``"N events, <first> to <last>"`` (local times) for a loaded recording."""
    events = buffer.snapshot()
    if not events:
        return "0 events"
    first, last = events[0].received_at, events[-1].received_at

    def clock(t: float, fmt: str) -> str:
        return time.strftime(fmt, time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"

    same_day = time.localtime(first)[:3] == time.localtime(last)[:3]
    end = clock(last, "%H:%M:%S" if same_day else "%Y-%m-%d %H:%M:%S")
    return f"{len(events):,} events, {clock(first, '%Y-%m-%d %H:%M:%S')} to {end}"


class RecordingSource:
    """A :class:`~segment_debugger.sources.base.Source` that reads no Redis: a loaded recording.

    Its status is ``recording: N events, <time range>``; ``start``/``stop`` do nothing.
    """

    def __init__(self, path: str | os.PathLike[str], buffer: EventBuffer | None = None) -> None:
        from segment_debugger.sources.base import SourceStatus

        self.path = str(path)
        self._buffer = buffer if buffer is not None else open_recording(path)
        # "recording" is no state of a live source; the front end shows unknown states as
        # they are ("recording: N events, ...").
        self._status = SourceStatus(
            cast(Any, "recording"), describe_buffer(self._buffer), time.time(), self.path
        )

    @property
    def buffer(self) -> EventBuffer:
        """The buffer holding the recording."""
        return self._buffer

    @property
    def status(self) -> SourceStatus:
        """``recording: N events, <time range>``, url = the file."""
        return self._status

    @property
    def url(self) -> str:
        """The recording's path (there is no Redis URL)."""
        return self.path

    def start(self) -> RecordingSource:
        """Do nothing: the recording is loaded; return the source."""
        return self

    def stop(self, timeout: float = 1.0) -> None:
        """Do nothing: there is no thread."""
