"""Turn buffered :class:`~segment_debugger.core.event.Event` records into a pandas DataFrame.

One row per event. The base columns come first, in a fixed order and with fixed dtypes (an
empty input gives an empty frame with the same base columns); then ``properties``, ``traits``
and ``context`` flattened to dotted columns (``properties.revenue``, ``context.library.name``),
each group sorted by name so the column order does not depend on which events are buffered.

Flattening rules: nested objects become dotted columns, recursively, down to
:data:`MAX_FLATTEN_DEPTH` levels (deeper objects are kept whole as one value); lists are kept
as Python objects; empty objects produce no column. Keys that collide after joining with dots
(``{"a.b": 1, "a": {"b": 2}}``) keep the later value.

Bounds (hostile or runaway payloads): a frame has at most ``max_columns`` dotted columns
(:data:`MAX_COLUMNS` unless given), the columns most events fill winning (ties: group order,
then name). What does not get a column is kept, per row and group, in one text column
``properties._rest`` / ``traits._rest`` / ``context._rest`` holding JSON: an object nested like
the payload with only the entries that have no column (merge it back onto the dotted columns
to get the whole group). The work per event is bounded too: flattening one event's group stops
after ``max(max_columns, 1000)`` entries (any kind, objects included), and the entries it did
not reach go to ``_rest`` whole (moved there by C code, not key by key). A payload key that
would itself make a ``_rest`` column is kept inside ``_rest``. When anything was folded,
``frame.attrs["folded"]`` maps each ``_rest`` column to the number of rows using it (and
``frame.attrs["max_columns"]`` says the bound), and a warning is logged. Typical traffic never
reaches the bound: no ``_rest`` column, no attrs.
"""

from __future__ import annotations

import heapq
import json
import logging
import operator
from collections.abc import Sequence
from itertools import repeat
from typing import Any, Final

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from segment_debugger.core.event import FROM_RAW, OBJECT_FIELDS, TEXT_FIELDS, TIME_FIELDS, Event

#: Nested objects deeper than this many levels below ``properties``/``traits``/``context``
#: stay whole in one column instead of being flattened further.
MAX_FLATTEN_DEPTH = 16

#: The most dotted columns a frame gets by default (``events_to_frame(max_columns=...)``
#: overrides it per call; assigning this module attribute changes the default).
MAX_COLUMNS = 1000

#: The flattened groups, in column order.
FLATTENED: tuple[str, ...] = OBJECT_FIELDS

#: Last name of the column holding, as JSON, what did not get a column (``properties._rest``).
REST = "_rest"

#: Flattening one event's group visits at least this many entries, whatever ``max_columns``
#: (so a small ``max_columns`` still picks the columns most rows fill).
_MIN_EVENT_BUDGET = 1000

log = logging.getLogger(__name__)

#: Text columns taken straight from the Event's attributes.
_TEXT_COLUMNS: tuple[str, ...] = ("channel", "pattern", "stream_id", "type", *TEXT_FIELDS)

#: The base columns, always present and always in this order.
BASE_COLUMNS: tuple[str, ...] = (
    "seq",
    "received_at",
    *_TEXT_COLUMNS,
    *TIME_FIELDS,
    "size",
    "valid",
    "violations",
    "raw",
)

#: Datetime columns use microsecond resolution: it is what pandas 3 infers for ISO strings,
#: and it spans years 1..9999, so a far-off timestamp is a value rather than an overflow.
DATETIME_UNIT: Final = "us"
DATETIME_DTYPE = f"datetime64[{DATETIME_UNIT}, UTC]"

#: Epoch seconds at or beyond this (about the year 9900) are not turned into datetimes.
_MAX_EPOCH_SECONDS = 2.5e11

_get_seq = operator.attrgetter("seq")
_get_received_at = operator.attrgetter("received_at")
_get_size = operator.attrgetter("size")
_get_raw = operator.attrgetter("raw")
_get_valid = operator.attrgetter("valid")
_get_violations = operator.attrgetter("_violations")  # None or a list: no list made for None
#: An event's group slots: FROM_RAW (an object, parsed again from ``raw``), None, or a value
#: assigned by hand.
_get_slots = operator.attrgetter("_properties", "_traits", "_context")
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
#: Events per Arrow read: bounds the joined payloads held at once.
_ARROW_CHUNK_ROWS = 65_536
#: A chunk Arrow refuses is retried once in this many pieces.
_ARROW_SPLIT = 8
_READ_OPTIONS = pa_json.ReadOptions(block_size=1 << 20)
#: Arrow types whose values are exactly those of Python's parse (floats checked for range).
_EXACT_TYPES = frozenset({pa.string(), pa.int64(), pa.float64(), pa.bool_(), pa.null()})
_STR_OR_NONE = frozenset({str, type(None)})

#: Text columns: pandas 3's default string dtype (missing values are NaN, comparisons with a
#: missing value are False), and plain ``object`` on pandas 2, which is what it infers there.
TEXT_DTYPE: Any = "str" if int(pd.__version__.split(".")[0]) >= 3 else object
_TEXT_PANDAS_DTYPE: Any = None if TEXT_DTYPE is object else pd.api.types.pandas_dtype(TEXT_DTYPE)


def events_to_frame(events: Sequence[Event], max_columns: int | None = None) -> pd.DataFrame:
    """Return a new DataFrame with one row per event (see the module docstring for columns).

    ``max_columns`` bounds the dotted columns (default :data:`MAX_COLUMNS`; 0 keeps each whole
    group as JSON in its ``_rest`` column); what does not fit is kept in ``<group>._rest``.
    Never raises on hostile content: invalid events have missing fields (NaN / NaT) and their
    ``violations``; unparseable timestamps become NaT. ``raw`` holds the payload bytes exactly
    as received. List values inside ``properties``/``traits``/``context`` may be shared with the
    events, not copied: treat them as read-only.
    """
    limit = MAX_COLUMNS if max_columns is None else max_columns
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"max_columns must be an int >= 0, got {max_columns!r}")
    n = len(events)
    columns = _base_columns(events)
    groups = _arrow_groups(events, limit)
    folded: dict[str, int] = {}
    if groups is None:  # the exact Python path: bounds, folding, anything Arrow cannot mirror
        groups, folded = _python_groups(events, limit)
    columns.update(groups)
    frame: pd.DataFrame = pd.DataFrame(columns, index=pd.RangeIndex(n), copy=False)
    if folded:
        frame.attrs["folded"] = folded
        frame.attrs["max_columns"] = limit
        log.warning(
            "DataFrame: entries beyond max_columns=%d kept as JSON in %s; pass a larger "
            "max_columns for more dotted columns",
            limit,
            ", ".join(f"{name} ({rows} rows)" for name, rows in folded.items()),
        )
    return frame


def _base_columns(events: Sequence[Event]) -> dict[str, Any]:
    """Return the base columns (:data:`BASE_COLUMNS`), read from the events' attributes."""
    n = len(events)
    columns: dict[str, Any] = {
        "seq": np.fromiter(map(_get_seq, events), dtype=np.int64, count=n),
        "received_at": _epoch_seconds_to_utc(list(map(_get_received_at, events))),
    }
    for name in _TEXT_COLUMNS:
        columns[name] = _text_column(list(map(operator.attrgetter(name), events)))
    for name in TIME_FIELDS:
        columns[name] = _iso_to_utc(list(map(operator.attrgetter(name), events)))
    columns["size"] = np.fromiter(map(_get_size, events), dtype=np.int64, count=n)
    columns["valid"] = np.fromiter(map(bool, map(_get_valid, events)), dtype=bool, count=n)
    columns["violations"] = _object_array(
        [list(v) if v else [] for v in map(_get_violations, events)]  # copies: not the event's
    )
    columns["raw"] = _object_array(list(map(_get_raw, events)))
    return columns


def _text_column(values: list[Any]) -> Any:
    """Return ``values`` as a text column: strings kept, anything else missing."""
    if set(map(type, values)) <= _STR_OR_NONE:
        try:
            return _text_from_arrow(pa.array(values, type=pa.string()))
        except (pa.ArrowException, ValueError, TypeError):  # lone surrogates, say
            pass
    strings = [v if isinstance(v, str) else None for v in values]
    return pd.array(strings, dtype=TEXT_DTYPE)


def _text_from_arrow(array: pa.Array | pa.ChunkedArray) -> Any:
    """Turn an Arrow string array into the text column pandas would infer for its values."""
    if _TEXT_PANDAS_DTYPE is None:  # pandas 2: object arrays of str, None where missing
        return _object_array(array.to_pylist())
    return _TEXT_PANDAS_DTYPE.__from_arrow__(array)


def _python_groups(events: Sequence[Event], limit: int) -> tuple[dict[str, Any], dict[str, int]]:
    """Flatten every event's groups in Python (one parse per event); fold beyond ``limit``."""
    n = len(events)
    groups = [_Group(name) for name in FLATTENED]
    budget = max(limit, _MIN_EVENT_BUDGET)
    for row, event in enumerate(events):  # one parse per event, dropped once flattened
        for group, obj in zip(groups, event.groups(), strict=True):
            if obj.__class__ is dict:
                if obj:
                    group.add(row, obj, budget)
            elif obj is not None:  # not an object: keep it whole under the group's own name
                group.whole[row] = obj
    _fold_beyond(groups, limit)
    columns: dict[str, Any] = {}
    folded: dict[str, int] = {}
    for group in groups:
        columns.update(group.columns_for(n))
        if group.rests:
            folded[f"{group.name}.{REST}"] = len(group.rests)
    return columns, folded


# -- the Arrow path ------------------------------------------------------------------------------
#
# pyarrow's JSON reader parses the payloads in C++ on every core and builds typed columns; the
# result must be exactly what the Python path gives, so anything Arrow cannot mirror goes back to
# Python: per event (payloads too big for the entry budget, events whose groups were assigned by
# hand, chunks Arrow refuses), per column (values Arrow changes: lists, whole objects at the depth
# cap, strings it reads as timestamps, integers beyond 64 bits, columns mixing types across
# chunks: those take their values from a Python parse of the rows that have them), or per frame
# (folding, a ``_rest`` key, dotted keys colliding with nested ones: the Python path, whole).


def _arrow_groups(events: Sequence[Event], limit: int) -> dict[str, Any] | None:
    """Return the flattened columns built through Arrow, or None to use the Python path."""
    every_slots = list(map(_get_slots, events))
    try:  # see _SLOT_KINDS
        kinds = np.fromiter(
            map(_SLOT_KINDS.get, every_slots, repeat(_PYTHON)), dtype=np.int8, count=len(events)
        )
    except TypeError:  # a group assigned by hand that cannot be hashed (a dict): go slowly
        kinds = np.array([_slot_kind(slots) for slots in every_slots], dtype=np.int8)
    del every_slots
    arrow_rows: list[int] = np.flatnonzero((kinds > 0) & (kinds < _PYTHON)).tolist()
    python_rows: list[int] = np.flatnonzero(kinds == _PYTHON).tolist()
    if len(arrow_rows) < _ARROW_MIN_ROWS:
        return None
    raws = [events[row].raw for row in arrow_rows]
    python_rows.extend(
        row for row, raw in zip(arrow_rows, raws, strict=True) if len(raw) > _ARROW_MAX_BYTES
    )
    if len(python_rows) > len(arrow_rows) // 2:
        return None
    skip = set(python_rows)
    reads: list[_Read] = []
    kept = [(row, raw) for row, raw in zip(arrow_rows, raws, strict=True) if row not in skip]
    del raws
    for start in range(0, len(kept), _ARROW_CHUNK_ROWS):
        _read(kept[start : start + _ARROW_CHUNK_ROWS], reads, python_rows, split=True)
    del kept
    if not reads:
        return None
    try:
        return _ArrowFrame(events, kinds, reads, python_rows, limit).build()
    except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:  # not foreseen
        log.debug("Arrow could not build the frame (%r): Python path", exc)
        return None


class _Read:
    """One table read by Arrow: the rows it holds (frame positions) and their payloads."""

    __slots__ = ("has_null", "rows", "table")

    def __init__(self, rows: list[int], raws: list[bytes], table: pa.Table) -> None:
        self.rows = rows
        self.table = table
        self.has_null = np.fromiter(
            map(bytes.__contains__, raws, repeat(b"null")), dtype=bool, count=len(raws)
        )


def _read(
    chunk: list[tuple[int, bytes]], reads: list[_Read], python_rows: list[int], split: bool
) -> None:
    """Read ``chunk`` with Arrow into ``reads``; what Arrow refuses goes to ``python_rows``.

    A refused chunk is retried once in a few pieces, so one odd event sends only its piece to
    the Python path; a piece refused again goes there whole.
    """
    rows = [row for row, _ in chunk]
    raws = [raw for _, raw in chunk]
    blob = b"\n".join(raws)
    if blob.count(b"\n") != len(raws) - 1 or b"\r" in blob:
        # newlines only appear between tokens in valid JSON: as spaces they mean the same
        blob = b"\n".join(raw.replace(b"\n", b" ").replace(b"\r", b" ") for raw in raws)
    try:
        table = pa_json.read_json(pa.py_buffer(blob), read_options=_READ_OPTIONS)
        if table.num_rows != len(rows):
            raise ValueError(f"{table.num_rows} rows read from {len(rows)} payloads")
    except (pa.ArrowException, ValueError, TypeError, OverflowError, MemoryError) as exc:
        del blob
        if split and len(chunk) >= 2 * _ARROW_MIN_ROWS * _ARROW_SPLIT:
            step = -(-len(chunk) // _ARROW_SPLIT)
            for start in range(0, len(chunk), step):
                _read(chunk[start : start + step], reads, python_rows, split=False)
        else:
            log.debug("Arrow refused %d payloads (%s): Python path", len(rows), exc)
            python_rows.extend(rows)
        return
    del blob
    wanted = [name for name in FLATTENED if name in table.column_names]
    reads.append(_Read(rows, raws, table.select(wanted)))  # the other columns freed now


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
        reads: list[_Read],
        python_rows: list[int],
        limit: int,
    ) -> None:
        self.events = events
        self.kinds = kinds
        self.n = len(events)
        self.index: pa.Array | None = None
        self.reads = reads
        self.python_rows = sorted(python_rows)
        self.limit = limit
        self.leaves: list[dict[str, _Leaf]] = [{} for _ in FLATTENED]
        self.parsed: dict[int, tuple[Any, Any, Any]] = {}

    def build(self) -> dict[str, Any] | None:
        """Return the group columns in frame order, or None when the Python path must do it."""
        for index, read in enumerate(self.reads):
            if not self._collect(index, read):
                return None
        groups = [_Group(name) for name in FLATTENED]
        budget = max(self.limit, _MIN_EVENT_BUDGET)
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

    def _collect(self, index: int, read: _Read) -> bool:
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
        read: _Read,
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
                if parent_valid is None:
                    parent_valid = column.is_valid().to_numpy(zero_copy_only=False)
                nulls = child.is_null().to_numpy(zero_copy_only=False) & parent_valid
                for i in np.flatnonzero(nulls & read.has_null):
                    found, _ = _lookup(self._groups(read.rows[i]), position, keys)
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
            return _text_from_arrow(values)
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
                rows = self.reads[index].rows
                for i in np.flatnonzero(array.is_valid().to_numpy(zero_copy_only=False)):
                    row = rows[i]
                    found, value = _lookup(self._groups(row), position, leaf.path)
                    if found and not (value.__class__ is dict and depth < MAX_FLATTEN_DEPTH):
                        column[row] = value
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


def _lookup(groups: tuple[Any, Any, Any], position: int, path: tuple[str, ...]) -> tuple[bool, Any]:
    """Return ``(found, value)`` for the keys ``path`` inside group ``position``."""
    node = groups[position]
    for key in path:
        if node.__class__ is not dict or key not in node:
            return False, None
        node = node[key]
    return True, node


def _object_array(values: list[Any]) -> np.ndarray:
    """Return a 1-d object array holding ``values`` as elements (lists stay lists)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _epoch_seconds_to_utc(seconds: list[float]) -> pd.DatetimeIndex:
    """Convert local-clock epoch seconds to UTC datetimes, rounded to the microsecond.

    Values that are not finite or lie beyond the year ~9900 (either way) become NaT.
    """
    values = np.asarray(seconds, dtype=np.float64)
    values = np.where(np.isfinite(values) & (np.abs(values) < _MAX_EPOCH_SECONDS), values, np.nan)
    index: pd.DatetimeIndex = pd.to_datetime(np.rint(values * 1e6), unit="us", utc=True)
    result: pd.DatetimeIndex = index.as_unit(DATETIME_UNIT)
    return result


def _iso_to_utc(values: list[Any]) -> pd.DatetimeIndex:
    """Parse ISO 8601 strings to UTC datetimes; anything else becomes NaT, nothing raises."""
    strings = values
    if not set(map(type, values)) <= _STR_OR_NONE:
        strings = [v if isinstance(v, str) else None for v in values]
    parsed: pd.DatetimeIndex = pd.to_datetime(
        pd.Index(strings, dtype=object), utc=True, errors="coerce", format="ISO8601"
    )
    result: pd.DatetimeIndex = parsed.as_unit(DATETIME_UNIT)
    return result


class _Group:
    """One flattened group (``properties``, ...) of a frame being built, stored sparsely.

    ``columns`` maps a dotted name to ``{row: value}`` (only the rows that have it), ``paths``
    the same name to its keys in the payload, ``rests`` a row to its not-flattened entries
    (nested like the payload), ``whole`` a row to its group value when that is not an object.
    """

    __slots__ = ("columns", "name", "paths", "rests", "whole")

    def __init__(self, name: str) -> None:
        self.name = name
        self.columns: dict[str, dict[int, Any]] = {}
        self.paths: dict[str, tuple[str, ...]] = {}
        self.rests: dict[int, dict[str, Any]] = {}
        self.whole: dict[int, Any] = {}

    def add(self, row: int, obj: dict[str, Any], budget: int) -> None:
        """Flatten one event's group: at most ``budget`` entries; the rest to ``rests[row]``."""
        rest: list[dict[str, Any]] = [{}]
        _flatten_into(self.columns, self.paths, row, self.name, (), obj, 1, budget, rest)
        if rest[0]:
            self.rests[row] = rest[0]

    def fold(self, name: str) -> None:
        """Move column ``name`` into each of its rows' rest."""
        *parents, key = self.paths.pop(name)
        for row, value in self.columns.pop(name).items():
            rest = self.rests.get(row)
            if rest is None:
                rest = self.rests[row] = {}
            _nest(rest, parents)[key] = value

    def columns_for(self, n: int) -> dict[str, list[Any]]:
        """Return this group's columns as lists of ``n`` values: sorted, then the rest as JSON."""
        dense: dict[str, list[Any]] = {}
        if self.whole:
            dense[self.name] = _dense(self.whole, n)
        for name in self.columns:
            dense[name] = _dense(self.columns[name], n)
        out = {name: dense[name] for name in sorted(dense)}
        if self.rests:
            out[f"{self.name}.{REST}"] = _dense(
                {row: _to_json(rest) for row, rest in self.rests.items()}, n
            )
        return out


def _fold_beyond(groups: list[_Group], limit: int) -> None:
    """Keep the ``limit`` columns most rows fill (ties: group order, name); fold the others.

    A column named like the rest column itself is always folded: ``_rest`` has one meaning.
    """
    for group in groups:
        clash = f"{group.name}.{REST}"
        if clash in group.columns:
            group.fold(clash)
    if sum(len(group.columns) for group in groups) <= limit:
        return
    candidates = (
        (-len(rows), index, name)
        for index, group in enumerate(groups)
        for name, rows in group.columns.items()
    )
    kept = {(index, name) for _, index, name in heapq.nsmallest(limit, candidates)}
    for index, group in enumerate(groups):
        for name in [name for name in group.columns if (index, name) not in kept]:
            group.fold(name)


def _flatten_into(
    columns: dict[str, dict[int, Any]],
    paths: dict[str, tuple[str, ...]],
    row: int,
    prefix: str,
    path: tuple[str, ...],
    obj: dict[Any, Any],
    depth: int,
    budget: int,
    rest: list[dict[str, Any]],
) -> int:
    """Write ``obj``'s leaves into ``columns[prefix.key][row]``, recursing into objects.

    Visits at most ``budget`` entries (any kind); when it runs out, the entries not visited are
    put whole into the object ``rest[0]`` at ``path``. Returns the budget left.
    """
    for key, value in obj.items():
        if budget <= 0:
            _put_rest(rest, path, _entries_from(obj, key))
            return 0
        budget -= 1
        name = f"{prefix}.{key}"
        if value.__class__ is dict and depth < MAX_FLATTEN_DEPTH:
            if value:
                budget = _flatten_into(
                    columns, paths, row, name, (*path, key), value, depth + 1, budget, rest
                )
            continue
        column = columns.get(name)
        if column is None:
            column = columns[name] = {}
            paths[name] = (*path, key)
        column[row] = value
    return budget


def _entries_from(obj: dict[Any, Any], first: Any) -> dict[Any, Any]:
    """Return a copy of ``obj`` without the entries before key ``first`` (there are few).

    Copying the whole object and deleting the few visited keys costs C time per entry left,
    not the Python time of rebuilding it key by key.
    """
    left = obj.copy()
    for key in obj:
        if key is first:
            break
        del left[key]
    return left


def _put_rest(rest: list[dict[str, Any]], path: tuple[str, ...], left: dict[Any, Any]) -> None:
    """Add the entries ``left`` at ``path`` in ``rest[0]``; as they are when nothing is there."""
    if not path:
        if rest[0]:
            rest[0].update(left)
        else:
            rest[0] = left  # no copy: a million entries cost nothing more here
        return
    parent = _nest(rest[0], path[:-1])
    there = parent.get(path[-1])
    if there.__class__ is dict and there:
        there.update(left)
    else:
        parent[path[-1]] = left


def _nest(rest: dict[str, Any], path: Sequence[str]) -> dict[str, Any]:
    """Return the object at ``path`` inside ``rest``, creating the objects on the way."""
    node = rest
    for key in path:
        child = node.get(key)
        if child.__class__ is not dict:
            child = node[key] = {}
        node = child
    return node


def _dense(values: dict[int, Any], n: int) -> list[Any]:
    column: list[Any] = [None] * n
    for row, value in values.items():
        column[row] = value
    return column


def _to_json(value: dict[str, Any]) -> str:
    """Write a rest object as JSON text; never raises (repr as the last resort)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # too deep for orjson, an integer beyond 64 bits, a non-JSON value
        try:
            return json.dumps(value, ensure_ascii=False, default=repr)
        except (ValueError, TypeError, RecursionError):
            return repr(value)
