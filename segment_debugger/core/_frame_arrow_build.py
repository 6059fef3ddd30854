"""Build a frame's flattened columns from Arrow's reads (the Arrow path's second half).

:class:`ArrowFrame` walks each read's ``properties``/``traits``/``context`` structs into
dotted columns, reconciles a column's types across reads, and takes from a Python parse the
values Arrow cannot hold exactly (see :mod:`~segment_debugger.core._frame_arrow`); it answers
None when the Python path must build the whole frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segment_debugger.core._frame_columns import text_from_arrow
from segment_debugger.core._frame_python import (
    FLATTENED,
    MAX_FLATTEN_DEPTH,
    MIN_EVENT_BUDGET,
    REST,
    Group,
    lookup,
)
from segment_debugger.core._frame_read import Read
from segment_debugger.core.event import Event

#: Arrow types whose values are exactly those of Python's parse (floats checked for range).
_EXACT_TYPES = frozenset({pa.string(), pa.int64(), pa.float64(), pa.bool_(), pa.null()})


class _Leaf:
    """One dotted column found by Arrow: its keys in the payload and one array per read."""

    __slots__ = ("arrays", "path", "python")

    def __init__(self, path: tuple[str, ...]) -> None:
        self.path = path
        self.arrays: dict[int, pa.ChunkedArray] = {}
        self.python = False  # values must come from a Python parse (Arrow changes them)


class ArrowFrame:
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


def _exact_type(kind: pa.DataType) -> bool:
    """Whether Arrow holds values of this type exactly as Python's parse gives them."""
    return kind in _EXACT_TYPES


