"""The Arrow path of frames: the flattened columns read from the payloads by pyarrow.

pyarrow's JSON reader parses the payloads in C++ on every core and builds typed columns; the
result must be exactly what the Python path (:mod:`segment_debugger.core._frame_python`) gives,
so anything Arrow cannot mirror goes back to Python: per event (payloads too big for the entry
budget, events whose groups were assigned by hand, chunks Arrow refuses), per column (values
Arrow changes: lists, whole objects at the depth cap, strings it reads as timestamps, integers
beyond 64 bits, columns mixing types across chunks: those take their values from a Python parse
of the rows that have them), or per frame (folding, a ``_rest`` key, dotted keys colliding with
nested ones: :func:`arrow_groups` returns None and the caller takes the Python path, whole).
"""

from __future__ import annotations

import contextlib
import logging
import operator
import threading
from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segment_debugger.core import _frame_read
from segment_debugger.core._frame_columns import text_from_arrow
from segment_debugger.core._frame_python import (
    FLATTENED,
    MAX_FLATTEN_DEPTH,
    MIN_EVENT_BUDGET,
    REST,
    Group,
    lookup,
)
from segment_debugger.core._frame_read import Read, ReadCache, plan_reads
from segment_debugger.core.event import FROM_RAW, Event

log = logging.getLogger(__name__)

#: An event's group slots: FROM_RAW (an object, parsed again from ``raw``), None, or a value
#: assigned by hand.
_get_slots = operator.attrgetter("_properties", "_traits", "_context")
_get_raw = operator.attrgetter("raw")
#: What to do with an event, by its slots: 0 nothing (no group to flatten: not JSON, not an
#: object, or no group in it); 1..7 Arrow reads ``raw`` (bit ``4 >> i`` set when group ``i`` of
#: :data:`FLATTENED` is an object in it); :data:`_PYTHON` the Python path (groups set by hand).
_SLOT_KINDS = {
    (p, t, c): (p is FROM_RAW) * 4 + (t is FROM_RAW) * 2 + (c is FROM_RAW)
    for p in (FROM_RAW, None)
    for t in (FROM_RAW, None)
    for c in (FROM_RAW, None)
}
_PYTHON = 8

#: Fewer events than this with groups to flatten: the Python path (Arrow's fixed cost wins).
_ARROW_MIN_ROWS = 32
#: Payloads bigger than this go to the Python path: smaller ones cannot reach the per-event
#: entry budget (an entry takes at least 5 bytes), nor bloat Arrow's schema.
_ARROW_MAX_BYTES = 4096
#: Frames of fewer events than this read and build in the caller's thread (starting a thread
#: would cost more than the overlap with the base columns gives).
THREAD_MIN_ROWS = 2048
#: Arrow types whose values are exactly those of Python's parse (floats checked for range).
_EXACT_TYPES = frozenset({pa.string(), pa.int64(), pa.float64(), pa.bool_(), pa.null()})


class ArrowStart:
    """The Arrow path under way (:func:`start_arrow`): read and build, big frames in a thread.

    Arrow parses with the GIL released, so the caller converts the base columns meanwhile and
    then helps read (:meth:`help`): on a machine with a free core a frame costs about half the
    sum of the two. :meth:`result` (or :meth:`abandon`) joins the worker; call one of them.
    """

    __slots__ = ("_done", "_error", "_groups", "_reading", "_thread", "parsed")

    def __init__(
        self,
        events: Sequence[Event],
        kinds: np.ndarray,
        rows: list[int],
        raws: list[bytes],
        python_rows: list[int],
        cache: ReadCache | None,
        limit: int,
    ) -> None:
        #: Rows parsed in Python on the way (row -> groups), for the Python path if it must run.
        self.parsed: dict[int, tuple[Any, Any, Any]] = {}
        self._groups: dict[str, Any] | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._done = threading.Event()  # the worker has finished (set by _run)
        self._reading = plan_reads(rows, raws, cache)
        pieces = self._reading.pieces
        if pieces and len(rows) >= THREAD_MIN_ROWS:
            # readers: this worker, the caller once its base columns are done, and more
            # threads when there are more cores (see _frame_read.Reading)
            args = (events, kinds, python_rows, limit, min(_frame_read._WORKERS, pieces) - 2)
            del rows, raws
            thread = threading.Thread(
                target=self._run, args=args, name="segment-debugger-frame", daemon=True
            )
            try:
                thread.start()
            except RuntimeError:  # no thread to be had (a process at its limit): in line
                log.debug("no thread for the frame's Arrow path: read in the caller's thread")
            else:
                self._thread = thread
                return
        self._run(events, kinds, python_rows, limit, 0)

    def _run(
        self,
        events: Sequence[Event],
        kinds: np.ndarray,
        python_rows: list[int],
        limit: int,
        extra_readers: int,
    ) -> None:
        readers: list[threading.Thread] = []
        try:
            reading = self._reading
            for _ in range(extra_readers):
                reader = threading.Thread(target=reading.work, name="segment-debugger-read",
                                          daemon=True)
                reader.start()
                readers.append(reader)
            reading.work()
            reads = reading.reads(python_rows)
            if not reads:
                return
            try:
                self._groups = _ArrowFrame(events, kinds, reads, python_rows, limit,
                                           self.parsed).build()
            except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
                log.debug("Arrow could not build the frame (%r): Python path", exc)  # unforeseen
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc
        finally:
            self._reading.cancel()  # a reader that failed to start: the others stop too
            for reader in readers:
                reader.join()
            self._done.set()

    def help(self) -> None:
        """Read the pieces the worker has not taken yet (the caller, its own work done)."""
        if self._thread is not None:
            try:
                self._reading.work()
            except BaseException:  # a Ctrl-C between two pieces: nothing left running
                self.abandon()
                raise

    def result(self) -> dict[str, Any] | None:
        """Wait for the worker; return the flattened columns, or None for the Python path."""
        thread = self._thread
        if thread is not None:
            # A Ctrl-C still waits for the worker (it writes the cache, keeps a core busy);
            # not by join() alone: on 3.11 an interrupted join() marks the thread stopped.
            interrupted: BaseException | None = None
            while True:
                try:
                    self._done.wait()
                    thread.join()
                    break
                except BaseException as exc:  # KeyboardInterrupt in the wait
                    interrupted = interrupted or exc
            self._thread = None
            if interrupted is not None:
                raise interrupted
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self._groups

    def abandon(self) -> None:
        """Stop reading, wait for the worker and drop what it made (what it raised too)."""
        self._reading.cancel()
        with contextlib.suppress(BaseException):
            self.result()
        self._groups = None


def start_arrow(
    events: Sequence[Event], limit: int, cache: ReadCache | None = None
) -> ArrowStart | None:
    """Start the Arrow path for ``events`` (see :class:`ArrowStart`), or return None.

    None: the Python path is the one to take (too few groups to read, too many events that
    need Python). Call :meth:`ArrowStart.result` or :meth:`ArrowStart.abandon` on what this
    returns, exceptions or not: they join the worker.
    """
    n = len(events)
    every_slots = list(map(_get_slots, events))
    try:  # see _SLOT_KINDS
        kinds = np.fromiter(
            map(_SLOT_KINDS.get, every_slots, repeat(_PYTHON)), dtype=np.int8, count=n
        )
    except TypeError:  # a group assigned by hand that cannot be hashed (a dict): go slowly
        kinds = np.array([_slot_kind(slots) for slots in every_slots], dtype=np.int8)
    del every_slots
    arrow = (kinds > 0) & (kinds < _PYTHON)
    groups_to_read = int(np.count_nonzero(arrow))
    if groups_to_read < _ARROW_MIN_ROWS:
        return None
    raws = list(map(_get_raw, events))
    big = arrow & (np.fromiter(map(len, raws), dtype=np.int64, count=n) > _ARROW_MAX_BYTES)
    python = (kinds == _PYTHON) | big
    arrow &= ~big
    python_rows: list[int] = np.flatnonzero(python).tolist()
    if len(python_rows) > groups_to_read // 2:
        return None
    if arrow.all():  # typical: every event
        rows = list(range(n))
    else:
        rows = np.flatnonzero(arrow).tolist()
        raws = [raws[row] for row in rows]
    return ArrowStart(events, kinds, rows, raws, python_rows, cache, limit)


class _Leaf:
    """One dotted column found by Arrow: its keys in the payload and one array per read."""

    __slots__ = ("arrays", "path", "python")

    def __init__(self, path: tuple[str, ...]) -> None:
        self.path = path
        self.arrays: dict[int, pa.ChunkedArray] = {}
        self.python = False  # values must come from a Python parse (Arrow changes them)


class _ArrowFrame:
    """Builds the flattened columns from Arrow reads plus the few events parsed in Python."""

    def __init__(
        self,
        events: Sequence[Event],
        kinds: np.ndarray,
        reads: list[Read],
        python_rows: list[int],
        limit: int,
        parsed: dict[int, tuple[Any, Any, Any]] | None = None,
    ) -> None:
        self.events = events
        self.kinds = kinds
        self.n = len(events)
        self.index: pa.Array | None = None
        self.reads = reads
        self.python_rows = sorted(python_rows)
        self.limit = limit
        self.leaves: list[dict[str, _Leaf]] = [{} for _ in FLATTENED]
        self.parsed: dict[int, tuple[Any, Any, Any]] = {} if parsed is None else parsed

    def build(self) -> dict[str, Any] | None:
        """Return the group columns in frame order, or None when the Python path must do it."""
        for index, read in enumerate(self.reads):
            if not self._collect(index, read):
                return None
        groups = [Group(name) for name in FLATTENED]
        budget = max(self.limit, MIN_EVENT_BUDGET)
        for row in self.python_rows:
            for group, obj in zip(groups, self._groups(row), strict=True):
                if obj.__class__ is dict:
                    if obj:
                        group.add(row, obj, budget)
                elif obj is not None:
                    return None
        names = 0
        for group, leaves in zip(groups, self.leaves, strict=True):
            if group.rests or f"{group.name}.{REST}" in group.columns or (
                f"{group.name}.{REST}" in leaves
            ):
                return None
            names += len(leaves.keys() | group.columns.keys())
        if names > self.limit:
            return None
        self.index = self._index()
        out: dict[str, Any] = {}
        for group, leaves in zip(groups, self.leaves, strict=True):
            for name in sorted(leaves.keys() | group.columns.keys()):
                leaf = leaves.get(name)
                sparse = group.columns.get(name)
                column = None
                if leaf is not None and sparse is None and not leaf.python:
                    column = self._arrow_column(leaf)
                if column is None:
                    column = self._python_column(FLATTENED.index(group.name), leaf, sparse)
                out[name] = column
        return out

    def _groups(self, row: int) -> tuple[Any, Any, Any]:
        groups = self.parsed.get(row)
        if groups is None:
            groups = self.parsed[row] = self.events[row].groups()
        return groups

    def _collect(self, index: int, read: Read) -> bool:
        """Walk one read's group structs into ``leaves``; False when Arrow cannot mirror it."""
        table = read.table
        for group, leaves in zip(FLATTENED, self.leaves, strict=True):
            if group not in table.column_names:
                continue
            column = table.column(group)
            if not pa.types.is_struct(column.type):
                continue  # never an object here: these events' group is None, as in Python
            position = FLATTENED.index(group)
            if column.null_count < len(column):
                none = (self.kinds[read.rows] & (4 >> position)) == 0
                if (none & column.is_valid().to_numpy(zero_copy_only=False)).any():
                    return False  # an object in the payload, None in the event: set by hand
            if not self._walk(index, read, column, position, group, (), 1, leaves):
                return False
        return True

    def _walk(
        self,
        index: int,
        read: Read,
        column: pa.ChunkedArray,
        position: int,
        prefix: str,
        path: tuple[str, ...],
        depth: int,
        leaves: dict[str, _Leaf],
    ) -> bool:
        """Add the leaves under struct ``column`` (keys ``path``); False on a name clash."""
        parent_valid: Any = None
        for field, child in zip(column.type, column.flatten(), strict=True):
            key = field.name
            name = f"{prefix}.{key}"
            keys = (*path, key)
            if pa.types.is_struct(field.type) and depth < MAX_FLATTEN_DEPTH:
                # a null object here is a missing key or an explicit null: only the second
                # makes a column (of None), as in Python; payloads without "null" cannot have it
                if child.null_count and read.any_null:
                    if parent_valid is None:
                        parent_valid = column.is_valid().to_numpy(zero_copy_only=False)
                    nulls = child.is_null().to_numpy(zero_copy_only=False) & parent_valid
                    for i in np.flatnonzero(nulls & read.has_null):
                        found, _ = lookup(self._groups(read.rows[i]), position, keys)
                        if found:
                            if not self._leaf(leaves, name, keys, index, None):
                                return False
                            break
                if not self._walk(index, read, child, position, name, keys, depth + 1, leaves):
                    return False
                continue
            if not self._leaf(leaves, name, keys, index, child):
                return False
        return True

    def _leaf(
        self,
        leaves: dict[str, _Leaf],
        name: str,
        keys: tuple[str, ...],
        index: int,
        array: pa.ChunkedArray | None,
    ) -> bool:
        leaf = leaves.get(name)
        if leaf is None:
            leaf = leaves[name] = _Leaf(keys)
        elif leaf.path != keys:
            return False  # "a.b" and {"a": {"b": ...}}: Python decides which value wins
        if array is None:
            leaf.python = True  # a column of explicit nulls beside objects
            return True
        if not _exact_type(array.type):
            leaf.python = True
        leaf.arrays[index] = array
        return True

    def _index(self) -> pa.Array | None:
        """Return take() indices from the reads' stacked rows to frame rows (None: identity)."""
        positions = np.concatenate([np.asarray(read.rows, dtype=np.int64) for read in self.reads])
        if len(positions) == self.n and (positions == np.arange(self.n)).all():
            return None
        index = np.full(self.n, -1, dtype=np.int64)
        index[positions] = np.arange(len(positions), dtype=np.int64)
        return pa.array(index, mask=index < 0)

    def _arrow_column(self, leaf: _Leaf) -> Any:
        """Return the column from Arrow alone, or None when its values need Python."""
        types = {array.type for array in leaf.arrays.values()}
        types.discard(pa.null())
        if len(types) > 1:
            if types != {pa.int64(), pa.float64()}:
                return None  # mixed kinds: Python infers the column from the values
            types = {pa.float64()}
        kind = types.pop() if types else pa.null()
        chunks: list[pa.Array] = []
        for index, read in enumerate(self.reads):
            array = leaf.arrays.get(index)
            if array is None:
                chunks.append(pa.nulls(len(read.rows), kind))
            else:
                if array.type != kind:  # int64 among float64 (as pandas mixes them), null
                    array = array.cast(kind, safe=False)
                chunks.extend(array.chunks)
        values = pa.chunked_array(chunks, type=kind)
        if self.index is not None:
            values = values.take(self.index)
        if kind == pa.string():
            return text_from_arrow(values)
        if kind == pa.float64():
            biggest = pc.max(pc.abs(values)).as_py()
            if biggest is not None and biggest >= 2.0**63:
                return None  # maybe an integer beyond 64 bits that Arrow read as a float
            return values.to_numpy(zero_copy_only=False)
        if kind == pa.int64():
            if values.null_count:
                return values.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
            return values.to_numpy(zero_copy_only=False)
        if kind == pa.bool_() and not values.null_count:
            return values.to_numpy(zero_copy_only=False)
        return values.to_pylist()  # booleans with gaps, all null: pandas infers from values

    def _python_column(self, position: int, leaf: _Leaf | None, sparse: dict[int, Any] | None
                       ) -> list[Any]:
        """Return the column as Python values: from the Python rows and a parse of the others."""
        column: list[Any] = [None] * self.n
        if leaf is not None:
            depth = len(leaf.path)
            for index, array in leaf.arrays.items():
                read = self.reads[index]
                rows = read.rows
                key = (position, leaf.path)
                found_values = read.python_values.get(key)  # kept with a cached table
                if found_values is None:
                    found_values = []
                    valid = array.is_valid().to_numpy(zero_copy_only=False)
                    for i in np.flatnonzero(valid).tolist():
                        found, value = lookup(self._groups(rows[i]), position, leaf.path)
                        if found and not (value.__class__ is dict and depth < MAX_FLATTEN_DEPTH):
                            found_values.append((i, value))
                    read.python_values[key] = found_values
                for at, value in found_values:
                    column[rows[at]] = value
        if sparse:
            for row, value in sparse.items():
                column[row] = value
        return column


def _slot_kind(slots: tuple[Any, Any, Any]) -> int:
    """Return what :data:`_SLOT_KINDS` says for ``slots``, for slots that cannot be hashed."""
    try:
        return _SLOT_KINDS.get(slots, _PYTHON)
    except TypeError:
        return _PYTHON


def _exact_type(kind: pa.DataType) -> bool:
    """Whether Arrow holds values of this type exactly as Python's parse gives them."""
    return kind in _EXACT_TYPES


