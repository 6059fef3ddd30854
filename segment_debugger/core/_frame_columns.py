"""The dtype rules of frames: values in, the column pandas would infer for them out.

Text columns get pandas 3's default string dtype (``object`` on pandas 2), datetimes
microsecond UTC, lists and bytes plain ``object`` arrays. Shared by both ways
:mod:`segment_debugger.core.frame` builds columns (from the events' attributes and from Arrow).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa

#: Datetime columns use microsecond resolution: it is what pandas 3 infers for ISO strings,
#: and it spans years 1..9999, so a far-off timestamp is a value rather than an overflow.
DATETIME_UNIT: Final = "us"
DATETIME_DTYPE = f"datetime64[{DATETIME_UNIT}, UTC]"

#: Epoch seconds at or beyond this (about the year 9900) are not turned into datetimes.
_MAX_EPOCH_SECONDS = 2.5e11

_STR_OR_NONE = frozenset({str, type(None)})
_TIME_TYPE = pa.timestamp(DATETIME_UNIT, tz="UTC")

#: The instants pandas' own ISO parser returns (others become NaT there): years 1..9999 on
#: pandas 3; the nanosecond range (1677..2262) on pandas 2. Arrow reads further (pyarrow 25
#: even reads year 0), so an instant it gives outside these bounds sends the column to pandas.
_PANDAS_PARSES: tuple[np.datetime64, np.datetime64] = (
    (np.datetime64("0001-01-01", DATETIME_UNIT), np.datetime64("9999-12-31T23:59:59.999999"))
    if int(pd.__version__.split(".")[0]) >= 3
    else (np.datetime64(pd.Timestamp.min.ceil("us").to_datetime64(), DATETIME_UNIT),
          np.datetime64(pd.Timestamp.max.floor("us").to_datetime64(), DATETIME_UNIT))
)

#: Text columns: pandas 3's default string dtype (missing values are NaN, comparisons with a
#: missing value are False), and plain ``object`` on pandas 2, which is what it infers there.
TEXT_DTYPE: Any = "str" if int(pd.__version__.split(".")[0]) >= 3 else object
_TEXT_PANDAS_DTYPE: Any = None if TEXT_DTYPE is object else pd.api.types.pandas_dtype(TEXT_DTYPE)


def text_column(values: list[Any]) -> Any:
    """Return ``values`` as a text column: strings kept, anything else missing."""
    array = text_arrow(values)
    if array is not None:
        return text_from_arrow(array)
    strings = [_sound(v) if isinstance(v, str) else None for v in values]
    return pd.array(strings, dtype=TEXT_DTYPE)


def text_arrow(values: list[Any]) -> pa.Array | None:
    """Return ``values`` (str or None each) as an Arrow string array; None for anything else."""
    if _all_none(values):  # a column no event fills (pattern, groupId...)
        return pa.nulls(len(values), pa.string())
    array = _inferred(values)  # one pass in C: a look at each value's type costs a second
    if array is not None and array.type == pa.string():
        return array
    if set(map(type, values)) <= _STR_OR_NONE:
        try:
            return pa.array(values, type=pa.string())
        except (pa.ArrowException, ValueError, TypeError):  # lone surrogates (set by hand)
            pass  # pandas' "str" cannot hold them either: U+FFFD for each flaw, as to_arrow()
        return pa.array([_sound(v) for v in values], type=pa.string())
    return None


def _inferred(values: list[Any]) -> Any:
    """Return ``pa.array(values)`` with its type inferred, or None when Arrow refuses them."""
    try:
        return pa.array(values, from_pandas=False)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):  # mixed kinds, surrogates
        return None


def _sound(text: str | None) -> str | None:
    """Return ``text`` with U+FFFD for what UTF-8 cannot encode (lone surrogates)."""
    if text is None:
        return None
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def text_from_arrow(array: pa.Array | pa.ChunkedArray) -> Any:
    """Turn an Arrow string array into the text column pandas would infer for its values."""
    if _TEXT_PANDAS_DTYPE is None:  # pandas 2: object arrays of str, None where missing
        return object_array(array.to_pylist())
    return _TEXT_PANDAS_DTYPE.__from_arrow__(array)


def object_array(values: list[Any]) -> np.ndarray:
    """Return a 1-d object array holding ``values`` as elements (lists stay lists)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def epoch_seconds_to_utc(seconds: list[float]) -> pd.DatetimeIndex:
    """Convert local-clock epoch seconds to UTC datetimes, rounded to the microsecond.

    Values that are not finite or lie beyond the year ~9900 (either way) become NaT.
    """
    values = np.asarray(seconds, dtype=np.float64)
    values = np.where(np.isfinite(values) & (np.abs(values) < _MAX_EPOCH_SECONDS), values, np.nan)
    index: pd.DatetimeIndex = pd.to_datetime(np.rint(values * 1e6), unit="us", utc=True)
    result: pd.DatetimeIndex = index.as_unit(DATETIME_UNIT)
    return result


def iso_to_utc(values: list[Any]) -> pd.DatetimeIndex:
    """Parse ISO 8601 strings to UTC datetimes; anything else becomes NaT, nothing raises.

    Arrow parses a column first (in C, several times faster); it accepts a strict subset of
    what pandas does, and gives the same instants for it (tested), so any value it refuses
    sends the whole column to pandas' parser.
    """
    if _all_none(values):
        return _all_nat(len(values))
    strings = values
    array = _inferred(values)  # str subclasses too: Arrow reads their text as pandas would
    if array is None or array.type != pa.string():
        strings = [v if isinstance(v, str) else None for v in values]
    else:
        try:
            parsed_by_arrow = array.cast(_TIME_TYPE)
        except (pa.ArrowException, ValueError, TypeError, OverflowError):
            pass  # a value Arrow does not read (pandas may): pandas decides for the column
        else:
            naive = parsed_by_arrow.to_numpy(zero_copy_only=False)
            if _within_pandas_bounds(naive):
                from_arrow: pd.DatetimeIndex = pd.DatetimeIndex(naive).tz_localize("UTC")
                return from_arrow
    parsed: pd.DatetimeIndex = pd.to_datetime(
        pd.Index(strings, dtype=object), utc=True, errors="coerce", format="ISO8601"
    )
    result: pd.DatetimeIndex = parsed.as_unit(DATETIME_UNIT)
    return result


def _within_pandas_bounds(naive: np.ndarray) -> bool:
    """Whether every instant Arrow parsed is one pandas' parser would give too."""
    present = naive[~np.isnat(naive)]
    if not len(present):
        return True
    low, high = _PANDAS_PARSES
    return bool(present.min() >= low and present.max() <= high)


def _all_none(values: list[Any]) -> bool:
    """Whether every value is None (one look when the first is not)."""
    return not values or (values[0] is None and values.count(None) == len(values))


def _all_nat(n: int) -> pd.DatetimeIndex:
    """Return ``n`` missing datetimes of :data:`DATETIME_DTYPE`."""
    naive = np.full(n, np.datetime64("NaT", DATETIME_UNIT), dtype=f"datetime64[{DATETIME_UNIT}]")
    missing: pd.DatetimeIndex = pd.DatetimeIndex(naive).tz_localize("UTC")
    return missing
