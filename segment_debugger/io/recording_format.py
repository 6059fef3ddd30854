"""The recording format: one line (or Parquet row) per event, and the names of its files.

A recording is what ``segment-debugger record`` writes (:mod:`.recording_writer`) and
:func:`~.recording.open_recording` reads back (:mod:`.recording_reader`) into an
:class:`~segment_debugger.core.buffer.EventBuffer`. Unlike an export (payloads only) it
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

:func:`decode_line` also reads the lines of a plain NDJSON export (one payload per line, or
``{"$raw_base64": "…"}`` for payloads that cannot be a line): such events have no receive
time or channel (the file's modification time and ``""`` stand in).

Later parts of a rotated recording are numbered before the suffix (:func:`part_path`); the
gaps and the list of parts are in a sidecar beside the first (:func:`gaps_path`).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from segment_debugger.core.event import Event
from segment_debugger.core.segment import parse_event

#: The recording format's version, in every header.
VERSION = 1
#: The key of a header line (and of the Parquet file metadata holding the header).
HEADER_KEY = "$recording"
#: The key a plain export uses for payloads that cannot be a line of their own.
EXPORT_RAW_KEY = "$raw_base64"
#: The fields each recorded event keeps besides its payload, in line order.
RECORD_KEYS: tuple[str, ...] = ("seq", "received_at", "channel", "pattern", "stream_id")
#: The columns of a Parquet recording: the same fields, then the payload.
PARQUET_COLUMNS: tuple[str, ...] = (*RECORD_KEYS, "payload")

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


def parquet_schema() -> Any:
    """Return the Arrow schema of a Parquet recording (:data:`PARQUET_COLUMNS`)."""
    import pyarrow as pa  # loaded on first use, like every pyarrow import here

    return pa.schema([
        ("seq", pa.int64()), ("received_at", pa.float64()), ("channel", pa.string()),
        ("pattern", pa.string()), ("stream_id", pa.string()), ("payload", pa.binary()),
    ])


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


class HeaderLine:
    """What :func:`decode_line` returns for a part's header line."""


_HEADER = HeaderLine()


def decode_line(line: bytes, *, default_time: float = 0.0) -> Recorded | HeaderLine:
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


# ---- the files of a recording ---------------------------------------------------------------


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

