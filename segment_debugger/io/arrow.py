"""Buffered events as a ``pyarrow.Table``: the columns of ``to_pandas()``, built without pandas.

The table has exactly the columns of :func:`~segment_debugger.core.frame.events_to_frame`, in
the same order, with the Arrow types that read back (``Table.to_pandas()``) as that frame's
dtypes: ``seq``/``size`` int64, ``received_at`` and the Segment times ``timestamp[us, UTC]``,
text columns ``string``, ``valid`` bool, ``violations`` and ``warnings`` ``list<string>``, ``raw``
``large_binary`` (the payload exactly as received), then the flattened ``properties.*`` /
``traits.*`` / ``context.*`` columns typed from their values (missing values are nulls;
pandas reads an integer column with nulls back as float64, as the frame has it).

One exception, recorded in the schema metadata: a flattened column whose values Arrow cannot
hold in one type (numbers mixed with text, lists holding objects or mixing kinds, objects kept
whole at the depth cap) is written as JSON text, one JSON document per row (null where the
event has no value);
``schema.metadata[b"segment_debugger.json_columns"]`` lists those columns as a JSON array.
``frame.attrs["folded"]`` of the frame, when anything was folded, is
``schema.metadata[b"segment_debugger.folded"]``.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from segment_debugger.core.event import TIME_FIELDS, Event
from segment_debugger.core.frame import (
    BASE_COLUMNS,
    DATETIME_UNIT,
    epoch_seconds_to_utc,
    group_columns,
    iso_to_utc,
    paused_gc,
)

#: Schema metadata key: the flattened columns written as JSON text (a JSON array of names).
JSON_COLUMNS_KEY = b"segment_debugger.json_columns"
#: Schema metadata key: ``frame.attrs["folded"]`` as JSON, when anything was folded.
FOLDED_KEY = b"segment_debugger.folded"

TIME_TYPE = pa.timestamp(DATETIME_UNIT, tz="UTC")
RAW_TYPE = pa.large_binary()

_TEXT_COLUMNS = tuple(
    name
    for name in BASE_COLUMNS
    if name not in {"seq", "received_at", *TIME_FIELDS, "size", "valid", "violations", "warnings",
                    "raw"}
)
_get_seq = operator.attrgetter("seq")
_get_size = operator.attrgetter("size")
_get_valid = operator.attrgetter("valid")
_get_raw = operator.attrgetter("raw")
_get_violations = operator.attrgetter("_violations")
_get_warnings = operator.attrgetter("_warnings")


def events_to_arrow(events: Sequence[Event], max_columns: int | None = None) -> pa.Table:
    """Return a new ``pyarrow.Table``, one row per event (see the module docstring)."""
    table = columns_without_raw(events, max_columns)
    return table.add_column(
        BASE_COLUMNS.index("raw"), "raw", raw_array(events)
    ).replace_schema_metadata(table.schema.metadata)


def raw_array(events: Sequence[Event]) -> pa.Array:
    """Return the payloads of ``events`` as a ``large_binary`` array (bytes as received)."""
    raws = list(map(_get_raw, events))
    offsets = np.zeros(len(raws) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, raws), dtype=np.int64, count=len(raws)), out=offsets[1:])
    data = pa.py_buffer(b"".join(raws))  # one copy in C; pa.array(raws) goes value by value
    del raws
    return pa.Array.from_buffers(RAW_TYPE, len(offsets) - 1, [None, pa.py_buffer(offsets), data])


def columns_without_raw(events: Sequence[Event], max_columns: int | None = None) -> pa.Table:
    """Return every column of :func:`events_to_arrow` but ``raw`` (writers add it by slices).

    The cyclic garbage collector is paused meanwhile (see :func:`paused_gc`).
    """
    with paused_gc():
        return _columns_without_raw(events, max_columns)


def _columns_without_raw(events: Sequence[Event], max_columns: int | None) -> pa.Table:
    groups, folded = group_columns(events, max_columns)  # raises for a bad max_columns first
    n = len(events)
    arrays: dict[str, Any] = {
        "seq": pa.array(np.fromiter(map(_get_seq, events), dtype=np.int64, count=n)),
        "received_at": pa.array(
            epoch_seconds_to_utc([e.received_at for e in events]), type=TIME_TYPE
        ),
    }
    for name in _TEXT_COLUMNS:
        arrays[name] = _text_array(list(map(operator.attrgetter(name), events)))
    for name in TIME_FIELDS:
        arrays[name] = pa.array(
            iso_to_utc([getattr(e, name) for e in events]), type=TIME_TYPE
        )
    arrays["size"] = pa.array(np.fromiter(map(_get_size, events), dtype=np.int64, count=n))
    arrays["valid"] = pa.array(
        np.fromiter(map(bool, map(_get_valid, events)), dtype=bool, count=n)
    )
    arrays["violations"] = _string_lists(list(map(_get_violations, events)))
    arrays["warnings"] = _string_lists(list(map(_get_warnings, events)))
    json_columns: list[str] = []
    for name, column in groups.items():
        arrays[name] = _group_array(name, column, json_columns)
    metadata: dict[bytes, bytes] = {}
    if json_columns:
        metadata[JSON_COLUMNS_KEY] = orjson.dumps(json_columns)
    if folded:
        metadata[FOLDED_KEY] = orjson.dumps(folded)
    return pa.table(arrays, metadata=metadata or None)


def _string_lists(lists: list[Any]) -> pa.Array:
    """Return ``list<string>`` from each event's messages (None or a list: empty for None).

    Built from offsets and the flat messages: one Python list per event (a million of them)
    would cost their allocation and, worse, the full garbage collections they set off.
    """
    lengths = np.fromiter(map(_length, lists), dtype=np.int64, count=len(lists))
    offsets = np.zeros(len(lists) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:], dtype=np.int32)
    values = pa.array(list(chain.from_iterable(filter(None, lists))), type=pa.string())
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def _length(messages: Any) -> int:
    return len(messages) if messages else 0


def _text_array(values: list[Any]) -> pa.Array:
    """Strings kept, anything else null; a string Arrow cannot encode has U+FFFD for its flaw."""
    try:
        return pa.array(values, type=pa.string())
    except (pa.ArrowException, TypeError, ValueError):
        return pa.array(
            [
                v.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
                if isinstance(v, str)
                else None
                for v in values
            ],
            type=pa.string(),
        )


def _group_array(name: str, column: Any, json_columns: list[str]) -> pa.Array:
    """Return a flattened column as Arrow: typed from its values, else JSON text."""
    if isinstance(column, np.ndarray) and column.dtype != object:
        return pa.array(column, from_pandas=True)  # NaN (JSON has none) = missing: null
    try:
        array = pa.array(column, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        array = None
    if array is not None and not _has_struct(array.type):
        return array
    json_columns.append(name)
    values = column.tolist() if hasattr(column, "tolist") else list(column)
    return pa.array([None if v is None else _json(v) for v in values], type=pa.string())


def _has_struct(kind: pa.DataType) -> bool:
    """Whether ``kind`` is or holds a struct (objects would come back with keys added)."""
    if pa.types.is_struct(kind) or pa.types.is_map(kind) or pa.types.is_union(kind):
        return True
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _has_struct(kind.value_type)
    return False


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # deeper than orjson writes, an integer beyond 64 bits
        import json

        return json.dumps(value, ensure_ascii=False, default=repr)


def events_to_polars(events: Sequence[Event], max_columns: int | None = None) -> Any:
    """Return :func:`events_to_arrow`'s table as a polars DataFrame (the ``[polars]`` extra)."""
    try:
        import polars as pl
    except ImportError as exc:
        raise ImportError(
            "to_polars() needs polars: pip install 'segment-debugger[polars]' (or polars)"
        ) from exc
    return pl.from_arrow(events_to_arrow(events, max_columns))
