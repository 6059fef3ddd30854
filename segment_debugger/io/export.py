r"""Write buffered events to a file whose extension names the format; never a half-written file.

Formats (the extension decides, case-insensitive):

- ``.ndjson`` / ``.jsonl``: one line per event, each line one JSON document followed by
  ``"\n"``. The line is the payload itself, byte for byte, when the payload is non-empty UTF-8
  JSON (RFC 8259, as orjson reads it) holding no ``\n`` or ``\r`` byte and is not an object
  whose only key is ``"$raw_base64"``; any other payload (not UTF-8, not JSON, empty, with line
  breaks, or that object) is written as ``{"$raw_base64":"<base64 of the payload>"}`` (RFC 4648
  standard alphabet, padded). Reading back: a line that is an object with ``"$raw_base64"`` as
  its only key is that base64 decoded; any other line is the payload (:func:`decode_line`,
  :func:`read_ndjson`). Lines are split on ``"\n"`` only (a payload may hold U+2028).
- ``.ndjson.gz`` / ``.jsonl.gz``: the same, gzip-compressed.
- ``.parquet``: the columns of :func:`~segment_debugger.io.arrow.events_to_arrow` (those of
  ``to_pandas()``, typed; ``raw`` binary; ``violations``, ``warnings`` lists of strings), written
  in row groups of :data:`ROW_GROUP_ROWS` so the payloads are copied a slice at a time.
- ``.csv``: the same columns with a header row; ``raw`` holds the payload's NDJSON line (above),
  ``violations``, ``warnings`` and list values JSON arrays, times ISO 8601.

Every writer writes to a temporary file beside the target and renames it over the target when
done, so the path holds either the old file or the whole new one; on any error the temporary
file is removed.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import operator
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from segment_debugger.core.event import FROM_RAW, Event
from segment_debugger.io.arrow import columns_without_raw, raw_array

#: The key of the wrapper object holding a payload that cannot be a line as it is.
WRAPPER_KEY = "$raw_base64"
_WRAPPER_KEY_BYTES = WRAPPER_KEY.encode()
_WRAP_START = b'{"' + _WRAPPER_KEY_BYTES + b'":"'
_WRAP_END = b'"}'

#: Extensions (lower case) and the format each names.
FORMATS: dict[str, str] = {
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".ndjson.gz": "ndjson.gz",
    ".jsonl.gz": "ndjson.gz",
    ".parquet": "parquet",
    ".csv": "csv",
}

#: Events per Parquet row group (and per slice of payloads copied at once by every writer).
ROW_GROUP_ROWS = 131_072
#: Events per NDJSON slice joined and written at once.
_NDJSON_SLICE = 4096
#: gzip level of ``.ndjson.gz``: zlib's default balance of speed and size.
GZIP_LEVEL = 6

_get_data = operator.attrgetter("_data")
_get_raw = operator.attrgetter("raw")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: New files get ``0o666`` less the process umask read at import (mkstemp alone gives 0o600).
_FILE_MODE = 0o666 & ~_umask()


def format_of(path: str | os.PathLike[str]) -> str:
    """Return the format named by ``path``'s extension, or raise ValueError saying which exist."""
    name = Path(path).name.lower()
    for extension in sorted(FORMATS, key=len, reverse=True):
        if name.endswith(extension) and len(name) > len(extension):
            return FORMATS[extension]
    raise ValueError(
        f"cannot tell the export format of {os.fspath(path)!r} from its extension: "
        f"end the name with one of {', '.join(FORMATS)}"
    )


def export_events(
    events: Sequence[Event], path: str | os.PathLike[str], *, max_columns: int | None = None
) -> int:
    """Write ``events`` to ``path`` in the format its extension names; return how many.

    ``max_columns`` bounds the flattened columns of Parquet and CSV as in ``to_pandas()``.
    Raises ValueError (unknown extension), IsADirectoryError, FileNotFoundError (no such
    directory) or PermissionError (not writable), each saying what to do, before writing
    anything; any error while writing leaves the target as it was and no temporary file.
    """
    target = Path(path)
    kind = format_of(target)
    _check_target(target)
    writer = _WRITERS[kind]
    with _atomic(target) as tmp:
        writer(events, tmp, max_columns)
    return len(events)


# -- NDJSON ------------------------------------------------------------------------------------


def encode_payload(raw: bytes) -> bytes:
    r"""Return the NDJSON line (without its ``\n``) for one payload (see the module docstring)."""
    if raw and b"\n" not in raw and b"\r" not in raw:
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            if not _is_wrapper(value):
                return raw
    return _wrap(raw)


def decode_line(line: bytes) -> bytes:
    r"""Return the payload an NDJSON line holds (a trailing ``\n`` is ignored)."""
    if line.endswith(b"\n"):
        line = line[:-1]
    if _WRAPPER_KEY_BYTES in line:
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            return line
        if _is_wrapper(value):
            return base64.b64decode(value[WRAPPER_KEY], validate=True)
    return line


def read_ndjson(path: str | os.PathLike[str]) -> Iterator[bytes]:
    """Yield the payloads of an NDJSON export (``.gz`` read as gzip), in order."""
    if os.fspath(path).endswith(".gz"):
        with gzip.open(path, "rb") as zipped:
            for line in zipped:
                yield decode_line(line)
        return
    with open(path, "rb") as file:
        for line in file:
            yield decode_line(line)


def _is_wrapper(value: Any) -> bool:
    return (
        value.__class__ is dict
        and len(value) == 1
        and value.get(WRAPPER_KEY).__class__ is str
    )


def _wrap(raw: bytes) -> bytes:
    return _WRAP_START + base64.b64encode(raw) + _WRAP_END


def ndjson_lines(events: Iterable[Event]) -> Iterator[bytes]:
    r"""Yield each event's NDJSON line (without ``\n``): the fast path trusts the parser.

    An event the parser built from a JSON object (its ``data`` read again from ``raw``) was
    read by orjson, so its payload is UTF-8 JSON: only line breaks and the wrapper key remain
    to check, with ``in`` on bytes. Other events go through :func:`encode_payload`.
    """
    for event in events:
        raw = event.raw
        if (
            _get_data(event) is FROM_RAW
            and b"\n" not in raw
            and b"\r" not in raw
            and _WRAPPER_KEY_BYTES not in raw
        ):
            yield raw
        else:
            yield encode_payload(raw)


def _write_ndjson_to(events: Sequence[Event], write: Callable[[bytes], object]) -> None:
    # Slices of a few MB: joined in one C call, and small enough for malloc to reuse the memory
    # (fresh pages for every slice would cost page faults).
    for start in range(0, len(events), _NDJSON_SLICE):
        lines = list(ndjson_lines(events[start : start + _NDJSON_SLICE]))
        lines.append(b"")
        write(b"\n".join(lines))


def _write_ndjson(events: Sequence[Event], tmp: Path, _max_columns: int | None) -> None:
    with open(tmp, "wb", buffering=0) as file:  # slices are written whole: no buffer to copy to
        _write_ndjson_to(events, file.write)


def _write_ndjson_gz(events: Sequence[Event], tmp: Path, _max_columns: int | None) -> None:
    with open(tmp, "wb") as raw_file, gzip.GzipFile(
        filename="", mode="wb", compresslevel=GZIP_LEVEL, fileobj=raw_file, mtime=0
    ) as file:
        _write_ndjson_to(events, file.write)


# -- Parquet and CSV -----------------------------------------------------------------------------


def _write_parquet(events: Sequence[Event], tmp: Path, max_columns: int | None) -> None:
    import pyarrow.parquet as pq

    table = columns_without_raw(events, max_columns)
    position = table.schema.get_field_index("warnings") + 1
    schema = table.schema.insert(position, pa.field("raw", pa.large_binary()))
    with pq.ParquetWriter(tmp, schema) as writer:
        if not events:
            writer.write_table(schema.empty_table())
        for start in range(0, len(events), ROW_GROUP_ROWS):
            part = table.slice(start, ROW_GROUP_ROWS)
            raws = raw_array(events[start : start + ROW_GROUP_ROWS])
            writer.write_table(
                part.add_column(position, "raw", raws).replace_schema_metadata(schema.metadata),
                row_group_size=ROW_GROUP_ROWS,
            )


def _write_csv(events: Sequence[Event], tmp: Path, max_columns: int | None) -> None:
    import pyarrow.csv as pcsv

    table = columns_without_raw(events, max_columns)
    for index, field in enumerate(table.schema):
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            values = table.column(index).to_pylist()
            texts = pa.array(
                [None if v is None else orjson.dumps(v).decode() for v in values],
                type=pa.string(),
            )
            table = table.set_column(index, field.name, texts)
    position = table.schema.get_field_index("warnings") + 1
    schema = table.schema.insert(position, pa.field("raw", pa.string()))
    with pcsv.CSVWriter(tmp, schema) as writer:
        for start in range(0, max(len(events), 1), ROW_GROUP_ROWS):
            chunk = events[start : start + ROW_GROUP_ROWS]
            lines = pa.array(
                [line.decode() for line in ndjson_lines(chunk)], type=pa.string()
            )
            part = table.slice(start, ROW_GROUP_ROWS).add_column(position, "raw", lines)
            writer.write_table(part.replace_schema_metadata(schema.metadata))


_WRITERS: dict[str, Callable[[Sequence[Event], Path, int | None], None]] = {
    "ndjson": _write_ndjson,
    "ndjson.gz": _write_ndjson_gz,
    "parquet": _write_parquet,
    "csv": _write_csv,
}


# -- the file itself ------------------------------------------------------------------------------


def _check_target(target: Path) -> None:
    """Raise, saying what to do, when ``target`` cannot be written as a file."""
    if target.is_dir():
        raise IsADirectoryError(
            f"export path {os.fspath(target)!r} is a directory: give a file name inside it, "
            f"e.g. {os.fspath(target / ('events' + _extension_of(target)))!r}"
        )
    parent = target.parent
    if not parent.is_dir():
        raise FileNotFoundError(
            f"cannot export to {os.fspath(target)!r}: directory {os.fspath(parent)!r} does not "
            "exist; create it first or choose another path"
        )


def _extension_of(target: Path) -> str:
    name = target.name.lower()
    return next((e for e in sorted(FORMATS, key=len, reverse=True) if name.endswith(e)), ".ndjson")


@contextlib.contextmanager
def _atomic(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` if the block ends."""
    try:
        fd, name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".partial", dir=target.parent
        )
    except PermissionError as exc:
        raise PermissionError(
            exc.errno,
            f"cannot write in {os.fspath(target.parent)!r} ({exc.strerror}): export to a "
            "directory you can write to, or fix its permissions",
        ) from exc
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
