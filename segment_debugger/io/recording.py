"""Recordings: every received event with where and when it arrived, its payload byte-exact.

A recording is what ``segment-debugger record`` writes and :func:`open_recording` reads back
into an :class:`~segment_debugger.core.buffer.EventBuffer`. Unlike an export (payloads only) it
keeps per event what the buffer knew: ``seq``, ``received_at``, ``channel``, ``pattern``,
``stream_id``, so replay can pace events as they came and a notebook can show them as they were.

NDJSON (optionally gzipped), one object per line::

    {"$recording":{"version":1,"part":0,"started_at":1714560000.1,"source":"…","filter":""}}
    {"seq":1,"received_at":1714560000.25,"channel":"events","pattern":null,"stream_id":null,"payload":{"type":"track",…}}
    {"seq":2,"received_at":1714560000.26,"channel":"events","pattern":null,"stream_id":null,"payload_base64":"//4="}

The first line of each file (part) is a header. ``payload`` comes last and holds the raw
bytes exactly as received, so they are sliced back out of the line unchanged (key order,
spacing, escapes, duplicate keys kept); a payload that is not UTF-8 JSON without line breaks
is written as ``payload_base64`` instead. Parquet recordings hold the same fields as columns
(``payload`` binary), one row group per flush, the header in the file's metadata.

:func:`open_recording` also reads a plain NDJSON export (one payload per line, or
``{"$raw_base64": "…"}`` for payloads that cannot be a line): such events have no receive
time or channel (the file's modification time and ``""`` stand in).

Damaged files load as far as they are good: every line (or Parquet row group) that cannot be
read is skipped and named in one :class:`RecordingWarning`; only a recording with nothing
readable raises :class:`RecordingError`.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import os
import re
import time
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import orjson

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.event import Event
from segment_debugger.core.segment import parse_event

if TYPE_CHECKING:
    from segment_debugger.sources.base import SourceStatus

#: The recording format's version, in every header.
VERSION = 1
#: The key of a header line (and of the Parquet file metadata holding the header).
HEADER_KEY = "$recording"
#: The key a plain export uses for payloads that cannot be a line of their own.
EXPORT_RAW_KEY = "$raw_base64"
#: The fields each recorded event keeps besides its payload, in line order.
RECORD_KEYS: tuple[str, ...] = ("seq", "received_at", "channel", "pattern", "stream_id")
#: How many bad lines a warning names (the rest are counted).
MAX_NAMED_PROBLEMS = 10

_PAYLOAD_KEY = b',"payload":'
_RECORD_KEYS = frozenset(RECORD_KEYS)
_PART_SUFFIX = re.compile(r"^(?P<stem>.*?)(?P<suffix>(?:\.ndjson|\.jsonl|\.json|\.parquet)?"
                          r"(?:\.gz)?)$")


class RecordingError(ValueError):
    """A recording with nothing readable in it (missing, empty of events and damaged, ...)."""


class RecordingWarning(UserWarning):
    """Some lines (or row groups) of a recording were damaged and skipped; the rest loaded."""


class Recorded(NamedTuple):
    """One recorded event: what the buffer knew about it, and its payload byte-exact."""

    seq: int
    received_at: float
    channel: str
    pattern: str | None
    stream_id: str | None
    raw: bytes

    def to_event(self) -> Event:
        """Return the parsed :class:`Event` (``seq`` is set by the buffer it goes into)."""
        event = parse_event(self.raw, self.channel, self.received_at, self.pattern)
        event.stream_id = self.stream_id
        return event


# ---- writing one line -----------------------------------------------------------------------


def payload_fits_line(raw: bytes) -> bool:
    """Return True when ``raw`` can be embedded as it is: UTF-8 JSON without line breaks."""
    if b"\n" in raw or b"\r" in raw:
        return False
    try:
        orjson.loads(raw)  # strict RFC 8259 JSON, UTF-8 checked
    except orjson.JSONDecodeError:
        return False
    return True


def encode_record(
    seq: int,
    received_at: float,
    channel: str,
    pattern: str | None,
    stream_id: str | None,
    raw: bytes,
) -> bytes:
    """Return one recording line (ending in a newline), the payload last and byte-exact."""
    head = orjson.dumps({
        "seq": seq, "received_at": received_at, "channel": channel, "pattern": pattern,
        "stream_id": stream_id,
    })[:-1]
    if payload_fits_line(raw):
        return head + _PAYLOAD_KEY + raw + b"}\n"
    return head + b',"payload_base64":"' + base64.b64encode(raw) + b'"}\n'


def encode_event(event: Event, seq: int | None = None) -> bytes:
    """Return ``event``'s recording line (``seq`` overrides the event's own)."""
    return encode_record(
        event.seq if seq is None else seq, event.received_at, event.channel, event.pattern,
        event.stream_id, event.raw,
    )


def header_line(header: dict[str, Any]) -> bytes:
    """Return the header line of one part: ``{"$recording": {...}}``."""
    return orjson.dumps({HEADER_KEY: {"version": VERSION, **header}}) + b"\n"


# ---- reading one line -----------------------------------------------------------------------


class _Header:
    """Marks a header line while reading."""


_HEADER = _Header()


def decode_line(line: bytes, *, default_time: float = 0.0) -> Recorded | _Header:
    """Decode one line of a recording or of a plain export; raise ValueError if it is bad.

    Recording lines give their fields; the payload is sliced out of the line byte-exact. Any
    other JSON line is an export line: the line is the payload (or the ``$raw_base64`` it
    wraps), received at ``default_time`` on channel ``""``, seq 0.
    """
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if type(obj) is dict:
        if HEADER_KEY in obj and len(obj) == 1:
            return _HEADER
        keys = obj.keys()
        if keys >= _RECORD_KEYS and len(keys) == len(RECORD_KEYS) + 1:
            return _decode_record(line, obj)
        if len(keys) == 1 and type(obj.get(EXPORT_RAW_KEY)) is str:
            return Recorded(0, default_time, "", None, None, _b64(obj[EXPORT_RAW_KEY]))
    return Recorded(0, default_time, "", None, None, line[:-1] if line[-1:] == b"\n" else line)


def _decode_record(line: bytes, obj: dict[str, Any]) -> Recorded:
    seq, received_at = obj["seq"], obj["received_at"]
    channel, pattern, stream_id = obj["channel"], obj["pattern"], obj["stream_id"]
    if type(seq) is not int or type(received_at) not in (int, float):
        raise ValueError("seq must be an integer and received_at a number")
    if type(channel) is not str or not all(v is None or type(v) is str
                                           for v in (pattern, stream_id)):
        raise ValueError("channel must be text, pattern and stream_id text or null")
    if "payload_base64" in obj:
        raw = _b64(obj["payload_base64"])
    elif "payload" in obj:
        # The first ',"payload":' is the key: before it come only numbers, null and JSON
        # strings, in which a quote is always escaped.
        start = line.find(_PAYLOAD_KEY)
        raw = line[start + len(_PAYLOAD_KEY):line.rstrip().rfind(b"}")]
        if start < 0 or not _same_json(raw, obj["payload"]):
            raw = orjson.dumps(obj["payload"])  # written by another tool: not byte-exact
    else:
        raise ValueError("no payload or payload_base64")
    return Recorded(seq, float(received_at), channel, pattern, stream_id, raw)


def _same_json(raw: bytes, value: object) -> bool:
    try:
        return bool(orjson.loads(raw) == value)
    except orjson.JSONDecodeError:
        return False


def _b64(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError("base64 payload must be text")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"bad base64 payload ({exc})") from None


# ---- files and parts ------------------------------------------------------------------------


def part_path(path: str | os.PathLike[str], part: int) -> Path:
    """Return the path of part ``part`` of the recording at ``path`` (part 0 is ``path``).

    Later parts put their number before the format suffix, so tools still know the format:
    ``rec.ndjson.gz`` -> ``rec.1.ndjson.gz``, ``rec.parquet`` -> ``rec.2.parquet``,
    ``rec`` -> ``rec.3``.
    """
    first = Path(path)
    if part == 0:
        return first
    match = _PART_SUFFIX.match(first.name)
    assert match is not None  # the pattern matches any name
    return first.with_name(f"{match['stem']}.{part}{match['suffix']}")


def gaps_path(path: str | os.PathLike[str]) -> Path:
    """Return the sidecar holding the recording's gaps: ``FILE.gaps.json`` beside ``FILE``."""
    first = Path(path)
    return first.with_name(first.name + ".gaps.json")


def read_sidecar(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Return the recording's sidecar (parts, gaps, whether it closed cleanly), or None."""
    try:
        data = orjson.loads(gaps_path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def recording_parts(path: str | os.PathLike[str]) -> list[Path]:
    """Return the files of the recording at ``path``, first part first.

    The parts its sidecar lists, else ``path`` and each numbered part after it that exists
    (see :func:`part_path`).
    """
    first = Path(path)
    sidecar = read_sidecar(first)
    names = None if sidecar is None else sidecar.get("parts")
    if isinstance(names, list) and names and all(isinstance(n, str) for n in names):
        return [first.with_name(n) for n in names if first.with_name(n).exists()] or [first]
    parts = [first]
    while part_path(first, len(parts)).exists():
        parts.append(part_path(first, len(parts)))
    return parts


@dataclass
class ReadReport:
    """What reading a recording met: the damaged places, and the header of each part."""

    problems: list[str] = field(default_factory=list)
    """``"file:line N: why"`` (or ``row group N``) for each part that could not be read."""
    headers: list[dict[str, Any]] = field(default_factory=list)
    """The header of each part read, in order."""

    def warn(self, events: int) -> None:
        """Warn (:class:`RecordingWarning`) about the problems, if any."""
        if not self.problems:
            return
        named = "; ".join(self.problems[:MAX_NAMED_PROBLEMS])
        more = len(self.problems) - MAX_NAMED_PROBLEMS
        extra = f"; and {more} more" if more > 0 else ""
        warnings.warn(
            f"recording partly damaged: loaded {events} events, skipped {len(self.problems)} "
            f"bad place(s): {named}{extra}",
            RecordingWarning,
            stacklevel=3,
        )


def iter_recording(
    path: str | os.PathLike[str], report: ReadReport | None = None
) -> Iterator[Recorded]:
    """Yield every readable event of the recording at ``path`` (all its parts), in order.

    Damaged lines and row groups are skipped and described in ``report.problems``. Raise
    :class:`RecordingError` when ``path`` cannot be opened at all.
    """
    report = report if report is not None else ReadReport()
    first = Path(path)
    if not first.is_file():
        raise RecordingError(f"no recording at {str(first)!r}")
    for part in recording_parts(first):
        try:
            with part.open("rb") as probe:
                magic = probe.read(4)
        except OSError as exc:
            report.problems.append(f"{part.name}: cannot open ({exc})")
            continue
        if magic == b"PAR1":
            yield from _iter_parquet(part, report)
        else:
            yield from _iter_ndjson(part, report, gzipped=magic[:2] == b"\x1f\x8b")


def _iter_ndjson(part: Path, report: ReadReport, *, gzipped: bool) -> Iterator[Recorded]:
    mtime = part.stat().st_mtime
    number = 0
    for number, line in enumerate(_lines(part, report, gzipped=gzipped), start=1):
        if not line.strip():
            continue
        complete = line.endswith(b"\n")
        try:
            item = decode_line(line, default_time=mtime)
        except ValueError as exc:
            why = "truncated (no end of line)" if not complete else str(exc)
            report.problems.append(f"{part.name}: line {number}: {why}")
            continue
        if isinstance(item, _Header):
            report.headers.append(orjson.loads(line)[HEADER_KEY])
            continue
        if not complete and item.seq == 0:  # an export line cut short reads as some payload
            report.problems.append(f"{part.name}: line {number}: truncated (no end of line)")
            continue
        yield item


def _lines(part: Path, report: ReadReport, *, gzipped: bool) -> Iterator[bytes]:
    """Yield the lines of ``part``; a truncated or corrupt gzip ends them with a problem."""
    count = 0
    with gzip.open(part, "rb") if gzipped else part.open("rb") as stream:
        try:
            for count, line in enumerate(stream, start=1):  # noqa: B007 - count is reported
                yield line
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
            report.problems.append(
                f"{part.name}: compressed data damaged after line {count} ({exc}); the rest "
                "of this file is lost"
            )


def _iter_parquet(part: Path, report: ReadReport) -> Iterator[Recorded]:
    import pyarrow.parquet as pq

    try:
        reader = pq.ParquetFile(part)
    except Exception as exc:  # pyarrow raises several types for a damaged footer
        report.problems.append(
            f"{part.name}: unreadable Parquet ({exc}); a recording killed before it was "
            "closed has no footer: record to NDJSON to survive a crash"
        )
        return
    meta = reader.schema_arrow.metadata or {}
    header = meta.get(HEADER_KEY.encode())
    if header is not None:
        report.headers.append(orjson.loads(header))
    row = 0
    for group in range(reader.num_row_groups):
        rows = reader.metadata.row_group(group).num_rows
        try:
            columns = reader.read_row_group(group).to_pydict()
            items = [
                Recorded(int(s), float(t), str(c), p, i, bytes(r))
                for s, t, c, p, i, r in zip(
                    columns["seq"], columns["received_at"], columns["channel"],
                    columns["pattern"], columns["stream_id"], columns["payload"], strict=True,
                )
            ]
        except Exception as exc:  # a damaged page: any pyarrow error, or a missing column
            report.problems.append(
                f"{part.name}: row group {group} (rows {row + 1}-{row + rows}): {exc}"
            )
            row += rows
            continue
        row += rows
        yield from items


# ---- loading into a buffer ------------------------------------------------------------------


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
