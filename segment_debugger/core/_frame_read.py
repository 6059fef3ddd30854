"""Payloads into Arrow tables for the Arrow path, and a cache of those tables between calls.

:func:`plan_reads` cuts the payloads into pieces (a :class:`Reading`) that the threads
building a frame read side by side: each piece's payloads joined into newline-delimited JSON
and read with pyarrow's JSON reader (one thread per read); a piece Arrow refuses is retried in
smaller ones, and what is refused again goes to the Python path. Only the
``properties``/``traits``/``context`` columns are kept.

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
#: Threads reading pieces side by side (one per core, at most 4), the fewest rows worth a
#: piece, and pieces per reader (finer pieces share the work out more evenly).
_WORKERS = max(1, min(os.cpu_count() or 1, 4))
_PIECE_MIN_ROWS = 2048
_PIECES_PER_READER = 4

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


class Reading:
    """One frame's payloads being read: pieces that any thread may take, then the tables.

    The frame's worker thread reads pieces (:meth:`work`) and the caller's thread joins in once
    its own work is done, so on two cores two threads keep both busy (two readers beside the
    caller were no faster on 2 cores: 10,000 events 49-51 ms against 46-49 ms, median); on
    more cores the worker adds readers up to :data:`_WORKERS`. A thread that raises stops the
    others taking pieces. :meth:`reads` waits for every piece taken and
    returns the tables in row order; :meth:`cancel` stops it (nothing more is taken, the wait
    ends).
    """

    def __init__(self, plan: list[Read | tuple[list[int], list[bytes]]],
                 cache: ReadCache | None) -> None:
        self._plan = plan
        self._cache = cache
        self._pieces = [item for item in plan if not isinstance(item, Read)]
        self._changed = threading.Condition(threading.Lock())
        self._next = 0  # the next piece to take
        self._end = len(self._pieces)  # no piece from here on is taken (lowered on failure)
        self._finished = 0
        self._done: dict[int, tuple[list[Read], list[int]]] = {}
        self._error: BaseException | None = None
        self._cancelled = False

    @property
    def pieces(self) -> int:
        """How many pieces there are to read."""
        return len(self._pieces)

    def work(self) -> None:
        """Read pieces until none is left to take; what fails is kept for :meth:`reads`.

        Any thread may call it, any number at once; it returns at once when nothing is left.
        """
        while True:
            with self._changed:
                index = self._next
                if index >= self._end:
                    return
                self._next = index + 1
            reads: list[Read] = []
            refused: list[int] = []
            error: BaseException | None = None
            try:
                rows, raws = self._pieces[index]
                _read(rows, raws, reads, refused, split=True)
            except BaseException as exc:  # a Ctrl-C in the caller's thread too: raised by reads()
                error = exc
            with self._changed:
                self._finished += 1
                if error is None:
                    self._done[index] = (reads, refused)
                else:
                    self._error = self._error or error
                    self._end = self._next  # nothing more is taken
                self._changed.notify_all()

    def cancel(self) -> None:
        """Stop: no piece is taken from now on, and :meth:`reads` returns at once (nothing)."""
        with self._changed:
            self._cancelled = True
            self._end = self._next
            self._changed.notify_all()

    def reads(self, python_rows: list[int]) -> list[Read]:
        """Wait for every piece taken; return every table, in row order, and keep them.

        Rows Arrow refused go to ``python_rows``; raises what a piece raised; cancelled: [].
        """
        with self._changed:
            self._changed.wait_for(lambda: self._cancelled or (
                self._next >= self._end and self._finished == self._next))
            if self._cancelled:
                return []
            if self._error is not None:
                raise self._error
        reads: list[Read] = []
        index = 0
        for item in self._plan:
            if isinstance(item, Read):
                reads.append(item)
            else:
                done, refused = self._done[index]
                reads.extend(done)
                python_rows.extend(refused)
                index += 1
        if self._cache is not None:
            self._cache._keep(reads)
        return reads


def plan_reads(rows: list[int], raws: list[bytes], cache: ReadCache | None = None) -> Reading:
    """Return the reading of payloads ``raws`` at frame ``rows`` (nothing read yet).

    The cache's tables are reused where they hold the very same payloads; the rest is pieces.
    """
    plan: list[Read | tuple[list[int], list[bytes]]] = []  # in row order: kept tables, pieces
    if cache is None:
        step = _piece_rows(len(rows))
        plan.extend((rows[at:at + step], raws[at:at + step]) for at in range(0, len(rows), step))
        return Reading(plan, None)
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
    return Reading(plan, cache)


def _piece_rows(n: int) -> int:
    """Rows per piece for ``n`` payloads: a few pieces per reader (the first free takes one).

    Never fewer rows than :data:`_PIECE_MIN_ROWS`, nor more than :data:`_ARROW_CHUNK_ROWS`.
    """
    if n < 2 * _PIECE_MIN_ROWS:
        return max(n, 1)
    return min(_ARROW_CHUNK_ROWS, max(_PIECE_MIN_ROWS, -(-n // (_PIECES_PER_READER * _WORKERS))))


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
