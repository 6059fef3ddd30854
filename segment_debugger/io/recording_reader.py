"""Reading a recording back: every part, in order, as far as it is good.

Damaged files load as far as they are good: every line (or Parquet row group) that cannot be
read is skipped and described in a :class:`ReadReport` (which :func:`~.recording.open_recording`
turns into one :class:`~.recording_format.RecordingWarning`); only a recording that cannot be
opened at all raises :class:`~.recording_format.RecordingError`.
"""

from __future__ import annotations

import gzip
import os
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from segment_debugger.io.recording_format import (
    HEADER_KEY,
    HeaderLine,
    Recorded,
    RecordingError,
    RecordingWarning,
    decode_line,
    gaps_path,
    part_path,
)

#: How many bad lines a warning names (the rest are counted).
MAX_NAMED_PROBLEMS = 10


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
        if isinstance(item, HeaderLine):
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
