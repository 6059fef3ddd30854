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

Here: the public API (:func:`events_to_frame`, and :func:`group_columns` with the dtype
helpers for writers of other tables and frames: :data:`TEXT_DTYPE`, :data:`DATETIME_DTYPE`,
:func:`text_column` (strings kept, anything else missing), :func:`object_array` (values as
elements, lists stay lists), :func:`epoch_seconds_to_utc`, :func:`iso_to_utc`). Other layers
import these from here, never from the ``_frame_*`` modules. The base columns live in
:mod:`~segment_debugger.core._frame_base`, the flattening rules and the Python path in
:mod:`~segment_debugger.core._frame_python`, the Arrow path (the fast one, exactly the same
frame) in :mod:`~segment_debugger.core._frame_arrow` with its reads and their cache in
:mod:`~segment_debugger.core._frame_read` and the columns built from them in
:mod:`~segment_debugger.core._frame_arrow_build`, the dtype rules in
:mod:`~segment_debugger.core._frame_columns`. For big frames the Arrow path runs in a worker
thread while the caller converts the base columns, then the caller reads beside it (see
:class:`~segment_debugger.core._frame_read.Reading`); every thread is joined before the call
returns.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd

from segment_debugger.core._frame_arrow import ArrowStart, start_arrow
from segment_debugger.core._frame_base import TEXT_COLUMNS, base_columns
from segment_debugger.core._frame_columns import (
    DATETIME_DTYPE,
    DATETIME_UNIT,
    TEXT_DTYPE,
    epoch_seconds_to_utc,
    iso_to_utc,
    object_array,
    text_column,
)
from segment_debugger.core._frame_python import FLATTENED, MAX_FLATTEN_DEPTH, REST, python_groups
from segment_debugger.core._frame_read import ReadCache
from segment_debugger.core.event import TIME_FIELDS, Event

__all__ = [
    "BASE_COLUMNS",
    "DATETIME_DTYPE",
    "DATETIME_UNIT",
    "FLATTENED",
    "MAX_COLUMNS",
    "MAX_FLATTEN_DEPTH",
    "REST",
    "TEXT_DTYPE",
    "ReadCache",
    "epoch_seconds_to_utc",
    "events_to_frame",
    "group_columns",
    "iso_to_utc",
    "object_array",
    "paused_gc",
    "text_column",
]

#: The most dotted columns a frame gets by default (``events_to_frame(max_columns=...)``
#: overrides it per call; assigning this module attribute changes the default).
MAX_COLUMNS = 1000

log = logging.getLogger(__name__)

#: Text columns taken straight from the Event's attributes.
_TEXT_COLUMNS: tuple[str, ...] = TEXT_COLUMNS

#: The base columns, always present and always in this order.
BASE_COLUMNS: tuple[str, ...] = (
    "seq",
    "received_at",
    *_TEXT_COLUMNS,
    *TIME_FIELDS,
    "size",
    "valid",
    "violations",
    "warnings",
    "raw",
)

_epoch_seconds_to_utc = epoch_seconds_to_utc  # the name tests/core/test_frame.py knows


def events_to_frame(
    events: Sequence[Event], max_columns: int | None = None, *, cache: ReadCache | None = None
) -> pd.DataFrame:
    """Return a new DataFrame with one row per event (see the module docstring for columns).

    ``max_columns`` bounds the dotted columns (default :data:`MAX_COLUMNS`; 0 keeps each whole
    group as JSON in its ``_rest`` column); what does not fit is kept in ``<group>._rest``.
    Never raises on hostile content: invalid events have missing fields (NaN / NaT) and their
    ``violations``; unparseable timestamps become NaT. ``raw`` holds the payload bytes exactly
    as received. List values inside ``properties``/``traits``/``context`` may be shared with the
    events, and with the other frames of the same ``cache``, not copied: treat them as read-only.

    ``cache`` (a :class:`ReadCache`, one per stream of events such as a buffer) keeps what
    Arrow read for the next call, which then reads only the payloads it has not seen: the
    frame is the same with or without it.
    """
    n = len(events)
    limit = _limit(max_columns)
    with paused_gc():
        started = start_arrow(events, limit, cache)  # Arrow works while the base columns convert
        try:
            columns = base_columns(events, cache)
            if started is not None:
                started.help()  # then reads what the worker has not taken yet
            # in the try too: a Ctrl-C as _finish or result() begins must not skip the join
            groups, folded = _finish(events, limit, started)
        except BaseException:
            if started is not None:
                started.abandon()  # no worker left running
            raise
        columns.update(groups)
        del groups
        frame: pd.DataFrame = pd.DataFrame(columns, index=pd.RangeIndex(n), copy=False)
    if folded:
        frame.attrs["folded"] = folded
        frame.attrs["max_columns"] = _limit(max_columns)
        log.warning(
            "DataFrame: entries beyond max_columns=%d kept as JSON in %s; pass a larger "
            "max_columns for more dotted columns",
            _limit(max_columns),
            ", ".join(f"{name} ({rows} rows)" for name, rows in folded.items()),
        )
    return frame


def group_columns(
    events: Sequence[Event], max_columns: int | None = None, *, cache: ReadCache | None = None
) -> tuple[dict[str, Any], dict[str, int]]:
    """Return the flattened ``properties.*``/``traits.*``/``context.*`` columns and the folds.

    The columns of :func:`events_to_frame` after the base ones, in frame order (numpy arrays,
    pandas arrays or lists of Python values: what ``pd.DataFrame`` takes), and what was folded
    into ``<group>._rest`` (the frame's ``attrs["folded"]``, empty when nothing was). For
    writers that build other tables from the same columns (:mod:`segment_debugger.io.arrow`).
    """
    limit = _limit(max_columns)
    started = start_arrow(events, limit, cache)
    try:  # as in events_to_frame: a Ctrl-C anywhere from here on still joins the worker
        if started is not None:
            started.help()
        return _finish(events, limit, started)
    except BaseException:
        if started is not None:
            started.abandon()
        raise


def _finish(
    events: Sequence[Event], limit: int, started: ArrowStart | None
) -> tuple[dict[str, Any], dict[str, int]]:
    """Return :func:`group_columns`' answer from the Arrow read ``started`` (None: not tried)."""
    parsed: dict[int, tuple[Any, Any, Any]] = {}  # rows the Arrow attempt parsed in Python
    if started is not None:
        groups = started.result()
        if groups is not None:
            return groups, {}
        parsed = started.parsed
    # the exact path: bounds, folding, what Arrow cannot; each event still parsed only once
    return python_groups(events, limit, parsed)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the block (as it was, after).

    Building columns makes millions of short-lived containers (lists per row, the Arrow
    path's tuples); each few hundred thousand set off a full collection, which walks every
    object alive, the buffer's events included: at a million buffered events that was a fifth
    of the time. Nothing made here forms a cycle; reference counting frees it all.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _limit(max_columns: int | None) -> int:
    limit = MAX_COLUMNS if max_columns is None else max_columns
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"max_columns must be an int >= 0, got {max_columns!r}")
    return limit
