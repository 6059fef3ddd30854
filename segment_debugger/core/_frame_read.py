"""Payloads into Arrow tables for the Arrow path, and a cache of those tables between calls.

:func:`read_payloads` joins payloads into newline-delimited JSON and reads them with pyarrow's
JSON reader, in chunks; a chunk Arrow refuses is retried in pieces, and what is refused again
goes to the Python path. Only the ``properties``/``traits``/``context`` columns are kept.

:class:`ReadCache` keeps the tables read by one call for the next one (an
:class:`~segment_debugger.core.buffer.EventBuffer` asked for ``to_pandas()`` again while events
arrive): a table is reused only for the very same payloads (the same ``bytes`` objects, in the
same order, all of them), so its content is what a new read would give. Any partition of the
payloads into tables gives the same frame (the Arrow path reconciles types across tables), so
reusing one changes nothing but the time. It also holds the base columns the last call
converted (:mod:`~segment_debugger.core._frame_base`), under the same rule.
"""

from __future__ import annotations

import logging
import operator
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.json as pa_json

from segment_debugger.core._frame_python import FLATTENED

log = logging.getLogger(__name__)

#: Events per Arrow read: bounds the joined payloads held at once.
_ARROW_CHUNK_ROWS = 65_536
#: A chunk Arrow refuses is retried once in this many pieces (when it has enough rows).
_ARROW_SPLIT = 8
_SPLIT_MIN_ROWS = 512
_READ_OPTIONS = pa_json.ReadOptions(block_size=1 << 20, use_threads=False)
#: Pieces read side by side (one per core, at most 4), and the fewest rows worth a piece.
_WORKERS = max(1, min(os.cpu_count() or 1, 4))
_PIECE_MIN_ROWS = 2048

#: With a cache, events per read: a table is reused only whole, so a live buffer that evicts
#: its oldest events reads again at most this many of them (the rest of a table they left).
_CACHED_CHUNK_ROWS = 2048
#: Tables of fewer rows are not kept: their payloads are read again with the next new events
#: (so appending a few events per call does not leave the frame in thousands of tiny tables).
_CACHED_MIN_ROWS = 512
#: The most table bytes a cache keeps (the newest tables win); about 100,000 typical events.
CACHE_MAX_BYTES = 64 << 20
#: Only the newest this many payloads are read in cache-sized tables (older ones would not
#: be kept: a million-event buffer read in 2,048-row tables spent its time between them).
_CACHED_TAIL_ROWS = 131_072


class Read:
    """One table read by Arrow: the rows it holds (frame positions) and their payloads."""

    __slots__ = ("_has_null", "any_null", "python_values", "raws", "rows", "table")

    def __init__(self, rows: list[int], raws: list[bytes], table: pa.Table, any_null: bool) -> None:
        self.rows = rows
        self.raws = raws
        self.table = table
        self.any_null = any_null  # whether "null" appears in any payload
        self._has_null: np.ndarray | None = None
        #: Per (group position, keys) of a column Arrow cannot hold exactly (lists...), the
        #: values a Python parse found: ``(index in this read, value)``; shared by moved reads,
        #: so a cached table's payloads are parsed for them once.
        self.python_values: dict[tuple[int, tuple[str, ...]], list[tuple[int, Any]]] = {}

    def moved_to(self, rows: list[int]) -> Read:
        """Return this read for the same payloads at other frame rows (what it holds is shared)."""
        read = Read(rows, self.raws, self.table, self.any_null)
        read._has_null = self._has_null
        read.python_values = self.python_values
        return read

    @property
    def has_null(self) -> np.ndarray:
        """Per payload, whether "null" appears in it (explicit nulls need a look); computed once."""
        has_null = self._has_null
        if has_null is None:
            if self.any_null:
                has_null = np.fromiter(
                    map(bytes.__contains__, self.raws, repeat(b"null")),
                    dtype=bool,
                    count=len(self.raws),
                )
            else:  # typical traffic: one search of the joined payloads answered for all
                has_null = np.zeros(len(self.raws), dtype=bool)
            self._has_null = has_null
        return has_null


class ReadCache:
    """Tables read by the last call, for the next call's same payloads; thread-safe.

    Holds the payloads it has tables for (no more than the last call was given) and at most
    :data:`CACHE_MAX_BYTES` of tables. Give one cache only to calls on the same stream of
    events (one buffer); any misuse costs time, never a different frame.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_first: dict[int, Read] = {}  # id() of a table's first payload -> the table
        #: The base columns of the last call (:class:`~segment_debugger.core._frame_base.
        #: BaseMemo`), replaced whole by each call.
        self.base_memo: Any = None

    def clear(self) -> None:
        """Forget every table (and the base columns kept)."""
        with self._lock:
            self._by_first = {}
            self.base_memo = None

    def _tables(self) -> dict[int, Read]:
        with self._lock:
            return self._by_first

    def _keep(self, reads: list[Read]) -> None:
        kept: dict[int, Read] = {}
        size = 0
        for read in reversed(reads):  # newest first
            if len(read.raws) < _CACHED_MIN_ROWS:
                continue
            size += read.table.nbytes
            if size > CACHE_MAX_BYTES:
                break
            kept[id(read.raws[0])] = read
        with self._lock:
            self._by_first = kept


def read_payloads(
    rows: list[int], raws: list[bytes], python_rows: list[int], cache: ReadCache | None = None
) -> list[Read]:
    """Return the tables for payloads ``raws`` at frame ``rows``; refused rows: ``python_rows``.

    The pieces to read are read side by side, one single-threaded Arrow read per core (less
    CPU than Arrow's own threads on one read, 6.0 against 6.8 µs per typical event here).
    """
    plan: list[Read | tuple[list[int], list[bytes]]] = []  # in row order: kept tables, pieces
    if cache is None:
        step = _piece_rows(len(rows))
        plan.extend((rows[at:at + step], raws[at:at + step]) for at in range(0, len(rows), step))
        return _run(plan, python_rows)
    tables = cache._tables()
    tail = len(raws) - _CACHED_TAIL_ROWS  # rows before it: read in big chunks, not kept
    pending = 0  # raws[pending:at] has no table yet
    starts = [at for at, raw in enumerate(raws) if id(raw) in tables] if tables else []
    for at in starts:
        if at < pending:
            continue  # inside a table reused already
        cached = tables[id(raws[at])]
        end = at + len(cached.raws)
        if end > len(raws) or not all(map(operator.is_, cached.raws, raws[at:end])):
            continue
        _plan_cached(rows[pending:at], raws[pending:at], plan, tail - pending)
        plan.append(cached.moved_to(rows[at:end]))
        pending = end
    _plan_cached(rows[pending:], raws[pending:], plan, tail - pending)
    reads = _run(plan, python_rows)
    cache._keep(reads)
    return reads


def _piece_rows(n: int) -> int:
    """Rows per piece for ``n`` payloads: one piece per core, but never more than a chunk."""
    if n < 2 * _PIECE_MIN_ROWS:
        return max(n, 1)
    return min(_ARROW_CHUNK_ROWS, max(_PIECE_MIN_ROWS, -(-n // _WORKERS)))


def _plan_cached(
    rows: list[int], raws: list[bytes], plan: list[Read | tuple[list[int], list[bytes]]],
    bulk: int,
) -> None:
    """Plan pieces of :data:`_CACHED_CHUNK_ROWS`, the last one not too small.

    The first ``bulk`` rows are older than the cache could keep: read in big chunks.
    """
    start = 0
    while start < bulk and start < len(rows):
        end = min(start + _piece_rows(min(bulk, len(rows))), bulk, len(rows))
        plan.append((rows[start:end], raws[start:end]))
        start = end
    while start < len(rows):
        end = start + _CACHED_CHUNK_ROWS
        if len(rows) - end < _CACHED_MIN_ROWS:
            end = len(rows)
        plan.append((rows[start:end], raws[start:end]))
        start = end


def _run(plan: list[Read | tuple[list[int], list[bytes]]], python_rows: list[int]) -> list[Read]:
    """Read the plan's pieces (side by side when there are several) and return every table."""
    pieces = [item for item in plan if not isinstance(item, Read)]
    done: dict[int, list[Read]] = {}
    refused: dict[int, list[int]] = {}

    def read(index: int) -> None:
        rows, raws = pieces[index]
        done[index], refused[index] = [], []
        _read(rows, raws, done[index], refused[index], split=True)

    if len(pieces) > 1 and _WORKERS > 1:
        with ThreadPoolExecutor(min(_WORKERS, len(pieces)),
                                thread_name_prefix="segment-debugger-read") as pool:
            for future in [pool.submit(read, index) for index in range(len(pieces))]:
                future.result()  # raises what the piece raised, once all are done
    else:
        for index in range(len(pieces)):
            read(index)
    reads: list[Read] = []
    index = 0
    for item in plan:
        if isinstance(item, Read):
            reads.append(item)
        else:
            reads.extend(done[index])
            python_rows.extend(refused[index])
            index += 1
    return reads


def _read(
    rows: list[int], raws: list[bytes], reads: list[Read], python_rows: list[int], split: bool
) -> None:
    """Read ``raws`` with Arrow into ``reads``; what Arrow refuses goes to ``python_rows``.

    A refused chunk is retried once in a few pieces, so one odd event sends only its piece to
    the Python path; a piece refused again goes there whole.
    """
    if not rows:
        return
    blob = b"\n".join(raws)
    if blob.count(b"\n") != len(raws) - 1 or b"\r" in blob:
        # newlines only appear between tokens in valid JSON: as spaces they mean the same
        blob = b"\n".join(raw.replace(b"\n", b" ").replace(b"\r", b" ") for raw in raws)
    try:
        table = pa_json.read_json(pa.py_buffer(blob), read_options=_READ_OPTIONS)  # one thread
        if table.num_rows != len(rows):
            raise ValueError(f"{table.num_rows} rows read from {len(rows)} payloads")
    except (pa.ArrowException, ValueError, TypeError, OverflowError, MemoryError) as exc:
        del blob
        if split and len(rows) >= _SPLIT_MIN_ROWS:
            step = -(-len(rows) // _ARROW_SPLIT)
            for start in range(0, len(rows), step):
                end = start + step
                _read(rows[start:end], raws[start:end], reads, python_rows, split=False)
        else:
            log.debug("Arrow refused %d payloads (%s): Python path", len(rows), exc)
            python_rows.extend(rows)
        return
    any_null = b"null" in blob
    del blob
    wanted = [name for name in FLATTENED if name in table.column_names]
    reads.append(Read(rows, raws, table.select(wanted), any_null))  # the other columns freed now
