"""The base columns of frames, read from the events' attributes, and their reuse between calls.

Every call reads every attribute again (an attribute assigned by hand shows in the next frame);
what a :class:`BaseMemo` saves is the conversion (text to Arrow strings, ISO text and epoch
seconds to datetimes) of the values that are the very same objects as in the last call, at the
same events shifted by what the buffer evicted: a live buffer asked for ``to_pandas()`` again
converts only what arrived since. ``violations``/``warnings`` are copied every time (their
lists are the events' own and may have grown), ``seq``/``size``/``valid``/``raw`` cost too
little to keep.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

from segment_debugger.core._frame_columns import (
    DATETIME_UNIT,
    epoch_seconds_to_utc,
    iso_to_utc,
    object_array,
    text_arrow,
    text_column,
    text_from_arrow,
)
from segment_debugger.core.event import TEXT_FIELDS, TIME_FIELDS, Event

#: Text columns taken straight from the Event's attributes.
TEXT_COLUMNS: tuple[str, ...] = ("channel", "pattern", "stream_id", "type", *TEXT_FIELDS)

#: Streams of more events than this keep no memo. It holds the last call's events and their
#: values until the next call (evicted ones included), like the cache's ~100,000 payloads.
MEMO_MAX_EVENTS = 100_000

_get_seq = operator.attrgetter("seq")
_get_received_at = operator.attrgetter("received_at")
_get_size = operator.attrgetter("size")
_get_raw = operator.attrgetter("raw")
_get_valid = operator.attrgetter("valid")
_get_violations = operator.attrgetter("_violations")  # None or a list: no list made for None
_get_warnings = operator.attrgetter("_warnings")


class BaseMemo:
    """The events of the last call, and per converted column its values and converted array."""

    __slots__ = ("arrays", "events", "values")

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.values: dict[str, list[Any]] = {}
        self.arrays: dict[str, Any] = {}  # pa.Array (text) or datetime64 ndarray; None: not kept


class MemoSlot(Protocol):
    """Where a stream of calls keeps its :class:`BaseMemo` (the buffer's ``ReadCache``)."""

    base_memo: BaseMemo | None


def base_columns(events: Sequence[Event], slot: MemoSlot | None = None) -> dict[str, Any]:
    """Return the base columns of a frame (in frame order) read from the events' attributes."""
    n = len(events)
    events = list(events)
    old = slot.base_memo if slot is not None else None
    shift = _shift(old.events, events) if old is not None else None
    memo = BaseMemo(events) if slot is not None and n <= MEMO_MAX_EVENTS else None

    def reused(name: str, values: list[Any], convert: Callable[[list[Any]], Any]) -> Any:
        array = None
        if old is not None and shift is not None:
            array = _reuse(old, name, values, shift, convert)
        if array is None:
            array = convert(values)
        if memo is not None and array is not None:
            memo.values[name] = values
            memo.arrays[name] = array
        return array

    columns: dict[str, Any] = {
        "seq": np.fromiter(map(_get_seq, events), dtype=np.int64, count=n),
        "received_at": _utc(
            reused("received_at", list(map(_get_received_at, events)), _epoch_values)
        ),
    }
    for name in TEXT_COLUMNS:
        values = list(map(operator.attrgetter(name), events))
        array = reused(name, values, text_arrow)
        columns[name] = text_column(values) if array is None else text_from_arrow(array)
    for name in TIME_FIELDS:
        times = list(map(operator.attrgetter(name), events))
        columns[name] = _utc(reused(name, times, _iso_values))
    columns["size"] = np.fromiter(map(_get_size, events), dtype=np.int64, count=n)
    columns["valid"] = np.fromiter(map(bool, map(_get_valid, events)), dtype=bool, count=n)
    columns["violations"] = object_array(
        [list(v) if v else [] for v in map(_get_violations, events)]  # copies: not the event's
    )
    columns["warnings"] = object_array([list(w) if w else [] for w in map(_get_warnings, events)])
    columns["raw"] = object_array(list(map(_get_raw, events)))
    if slot is not None:
        slot.base_memo = memo
    return columns


def _shift(old: list[Event], new: list[Event]) -> tuple[int, int] | None:
    """Return ``(k, m)`` when ``new[:m]`` are the events ``old[k:k+m]`` (m > 0), else None."""
    if not old or not new:
        return None
    try:
        k = old.index(new[0])  # events compare by identity
    except ValueError:
        return None
    m = min(len(old) - k, len(new))
    if not all(map(operator.is_, old[k : k + m], new[:m])):
        return None
    return k, m


def _reuse(
    old: BaseMemo,
    name: str,
    values: list[Any],
    shift: tuple[int, int],
    convert: Callable[[list[Any]], Any],
) -> Any:
    """Return column ``name`` from the memo's rows plus the new rows converted, or None."""
    k, m = shift
    before = old.values.get(name)
    array = old.arrays.get(name)
    if before is None or array is None:
        return None
    if not all(map(operator.is_, before[k : k + m], values[:m])):
        return None  # an attribute assigned by hand: convert it all again
    if m == len(values):
        kept = array[k : k + m]
        return kept if k or m < len(array) else array
    new = convert(values[m:])
    if new is None:
        return None
    if isinstance(array, pa.Array):
        return pa.concat_arrays([array.slice(k, m), new])
    return np.concatenate([array[k : k + m], new])


def _epoch_values(values: list[Any]) -> np.ndarray:
    return _naive(epoch_seconds_to_utc(values))


def _iso_values(values: list[Any]) -> np.ndarray:
    return _naive(iso_to_utc(values))


def _naive(index: pd.DatetimeIndex) -> np.ndarray:
    """Return a :data:`DATETIME_DTYPE` index's values as naive UTC datetime64 (no copy)."""
    return index.asi8.view(f"datetime64[{DATETIME_UNIT}]")


def _utc(values: np.ndarray) -> pd.DatetimeIndex:
    """Wrap naive UTC datetime64 values as :data:`DATETIME_DTYPE` datetimes."""
    index: pd.DatetimeIndex = pd.DatetimeIndex(
        values.astype(f"datetime64[{DATETIME_UNIT}]", copy=False)
    ).tz_localize("UTC")
    return index
