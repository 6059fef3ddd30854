"""Writing a recording: its parts (NDJSON, gzipped NDJSON or Parquet) and the gaps sidecar.

The format is :mod:`.recording_format`'s; :func:`~.recorder.record` feeds a
:class:`RecordingWriter` from a live source.
"""

from __future__ import annotations

import gzip
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Literal, cast

import orjson

from segment_debugger.core.buffer import Gap
from segment_debugger.core.event import Event
from segment_debugger.io.recording_format import (
    HEADER_KEY,
    PARQUET_COLUMNS,
    VERSION,
    encode_event,
    gaps_path,
    header_line,
    parquet_schema,
    part_path,
)

Format = Literal["ndjson", "ndjson.gz", "parquet"]

#: Parquet: rows buffered before a row group is written (else at each flush).
ROW_GROUP_ROWS = 50_000


def format_of(path: str | os.PathLike[str]) -> Format:
    """Return the recording format ``path``'s name asks for (``.parquet``, ``.gz``, else NDJSON)."""
    name = os.fspath(path).lower()
    if name.endswith(".parquet"):
        return "parquet"
    return "ndjson.gz" if name.endswith(".gz") else "ndjson"


class RecordingWriter:
    """Write recorded events to ``path`` (and its numbered parts), plus the gaps sidecar.

    Events are numbered 1, 2, ... in the order written (contiguous across parts, whatever the
    source's seqs: a filtered recording has no holes). With ``rotate_bytes`` a part is closed
    once it holds that many bytes (on disk: compressed for ``.gz``) and the next one opened
    (:func:`~.recording_format.part_path`). The sidecar ``FILE.gaps.json`` is rewritten (atomically)
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

            schema = parquet_schema().with_metadata({HEADER_KEY: orjson.dumps({"version": VERSION,
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

        table = pa.Table.from_pydict(self._rows, schema=parquet_schema())
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


def _empty_rows() -> dict[str, list[Any]]:
    return {name: [] for name in PARQUET_COLUMNS}
