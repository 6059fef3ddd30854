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
from typing import Any, Final

import numpy as np
import orjson
import pandas as pd

from segment_debugger.core.event import OBJECT_FIELDS, TEXT_FIELDS, TIME_FIELDS, Event

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

_get_text_fields = operator.attrgetter(*_TEXT_COLUMNS)

#: Text columns: pandas 3's default string dtype (missing values are NaN, comparisons with a
#: missing value are False), and plain ``object`` on pandas 2, which is what it infers there.
TEXT_DTYPE: Any = "str" if int(pd.__version__.split(".")[0]) >= 3 else object


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
    folded: dict[str, int] = {}
    for group in groups:
        columns.update(group.columns_for(n))
        if group.rests:
            folded[f"{group.name}.{REST}"] = len(group.rests)
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
