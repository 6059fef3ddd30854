"""Turn buffered :class:`~segment_debugger.core.event.Event` records into a pandas DataFrame.

One row per event. The base columns come first, in a fixed order and with fixed dtypes (an
empty input gives an empty frame with the same base columns); then ``properties``, ``traits``
and ``context`` flattened to dotted columns (``properties.revenue``, ``context.library.name``),
each group sorted by name so the column order does not depend on which events are buffered.

Flattening rules: nested objects become dotted columns, recursively, down to
:data:`MAX_FLATTEN_DEPTH` levels (deeper objects are kept whole as one value); lists are kept
as Python objects; empty objects produce no column. Keys that collide after joining with dots
(``{"a.b": 1, "a": {"b": 2}}``) keep the later value.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

from segment_debugger.core.event import OBJECT_FIELDS, TEXT_FIELDS, TIME_FIELDS, Event

#: Nested objects deeper than this many levels below ``properties``/``traits``/``context``
#: stay whole in one column instead of being flattened further.
MAX_FLATTEN_DEPTH = 16

#: The flattened groups, in column order.
FLATTENED: tuple[str, ...] = OBJECT_FIELDS

#: Text columns taken straight from the Event's attributes.
_TEXT_COLUMNS: tuple[str, ...] = ("channel", "pattern", "type", *TEXT_FIELDS)

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

_get_text_fields = operator.attrgetter(*_TEXT_COLUMNS)

#: Text columns: pandas 3's default string dtype (missing values are NaN, comparisons with a
#: missing value are False), and plain ``object`` on pandas 2, which is what it infers there.
TEXT_DTYPE: Any = "str" if int(pd.__version__.split(".")[0]) >= 3 else object


def events_to_frame(events: Sequence[Event]) -> pd.DataFrame:
    """Return a new DataFrame with one row per event (see the module docstring for columns).

    Never raises on hostile content: invalid events have missing fields (NaN / NaT) and their
    ``violations``; unparseable timestamps become NaT. ``raw`` holds the payload bytes exactly
    as received. List values inside ``properties``/``traits``/``context`` may be shared with the
    events, not copied: treat them as read-only.
    """
    n = len(events)
    columns: dict[str, Any] = {
        "seq": np.fromiter((e.seq for e in events), dtype=np.int64, count=n),
        "received_at": _epoch_seconds_to_utc([e.received_at for e in events]),
    }
    rows = map(_get_text_fields, events)
    text_columns = list(zip(*rows, strict=True)) or [()] * len(_TEXT_COLUMNS)
    for name, values in zip(_TEXT_COLUMNS, text_columns, strict=True):
        strings = [v if isinstance(v, str) else None for v in values]
        columns[name] = pd.array(strings, dtype=TEXT_DTYPE)
    for name in TIME_FIELDS:
        columns[name] = _iso_to_utc([getattr(e, name) for e in events])
    columns["size"] = np.fromiter((e.size for e in events), dtype=np.int64, count=n)
    columns["valid"] = np.fromiter((bool(e.valid) for e in events), dtype=bool, count=n)
    columns["violations"] = _object_array([list(e.violations_view()) for e in events])
    columns["raw"] = _object_array([e.raw for e in events])
    groups = [e.groups() for e in events]  # (properties, traits, context): one parse per event
    for i, group in enumerate(FLATTENED):
        columns.update(_flattened_columns(group, [g[i] for g in groups]))
    frame: pd.DataFrame = pd.DataFrame(columns, index=pd.RangeIndex(n), copy=False)
    return frame


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
    strings = [v if isinstance(v, str) else None for v in values]
    parsed: pd.DatetimeIndex = pd.to_datetime(
        pd.Index(strings, dtype=object), utc=True, errors="coerce", format="ISO8601"
    )
    result: pd.DatetimeIndex = parsed.as_unit(DATETIME_UNIT)
    return result


def _flattened_columns(group: str, objects: list[Any]) -> dict[str, list[Any]]:
    """Flatten one group (e.g. every event's ``properties``) into sorted dotted columns."""
    n = len(objects)
    columns: dict[str, list[Any]] = {}
    for row, obj in enumerate(objects):
        if obj.__class__ is dict:
            _flatten_into(columns, n, row, group, obj, 1)
        elif obj is not None:  # not an object: keep it whole under the group's own name
            _put(columns, n, row, group, obj)
    return {key: columns[key] for key in sorted(columns)}


def _put(columns: dict[str, list[Any]], n: int, row: int, name: str, value: Any) -> None:
    column = columns.get(name)
    if column is None:
        column = columns[name] = [None] * n
    column[row] = value


def _flatten_into(
    columns: dict[str, list[Any]], n: int, row: int, prefix: str, obj: dict[Any, Any], depth: int
) -> None:
    """Write ``obj``'s leaves into ``columns[prefix.key][row]``, recursing into objects."""
    for key, value in obj.items():
        name = f"{prefix}.{key}"
        if value.__class__ is dict and depth < MAX_FLATTEN_DEPTH:
            if value:
                _flatten_into(columns, n, row, name, value, depth + 1)
            continue
        column = columns.get(name)
        if column is None:
            column = columns[name] = [None] * n
        column[row] = value
