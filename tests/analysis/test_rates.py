"""Rates per type (issue 11): arrivals per second and type over the last 60 s."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from support.events import make_event

from segment_debugger.analysis.rates import RATE_SECONDS, RATE_TYPES, RateCounter, attach
from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.event import Event

T0 = 1_700_000_000  # a whole epoch second


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def ev(kind: str | None = "track", at: float = 0.0, **fields: Any) -> Event:
    if kind is not None:
        fields["type"] = kind
    return make_event(received_at=T0 + at, **fields)


def test_counts_per_second_and_type_with_zeros_filled() -> None:
    clock = FakeClock(T0 + 59.5)
    counter = RateCounter(clock=clock)
    counter.appended(
        [ev("track", 0.1), ev("track", 0.9), ev("identify", 0.5), ev("track", 59.2),
         ev("bogus", 30.0), ev(None, 30.4)],
        (),
    )
    t0, rows = counter.window()
    assert t0 == T0 and len(rows) == RATE_SECONDS
    assert rows[0] == [2, 1, 0, 0, 0, 0, 0]
    assert rows[30] == [0, 0, 0, 0, 0, 0, 2]
    assert rows[59][0] == 1
    assert sum(map(sum, rows)) == 6
    series = counter.series()
    assert series is not None
    assert series["t0"] == T0
    assert set(series["by_type"]) == {"track", "identify", "unknown"}
    assert all(len(v) == RATE_SECONDS for v in series["by_type"].values())
    assert series["by_type"]["track"][0] == 2 and series["by_type"]["track"][59] == 1
    assert all(type(v) is int for v in series["by_type"]["track"])


def test_the_window_slides_and_memory_stays_bounded() -> None:
    clock = FakeClock(T0)
    counter = RateCounter(clock=clock)
    for second in range(1000):
        clock.now = T0 + second + 0.5
        counter.appended([ev("page", second + 0.2), ev("page", second + 0.7)], ())
        assert len(counter._counts) <= RATE_SECONDS
    t0, rows = counter.window()
    assert t0 == T0 + 999 - 59
    assert [row[2] for row in rows] == [2] * RATE_SECONDS
    clock.now = T0 + 999 + 30.0  # 30 quiet seconds later
    series = counter.series()
    assert series is not None
    assert series["by_type"]["page"] == [2] * 30 + [0] * 30
    clock.now = T0 + 999 + 60.0
    assert counter.series() is None
    assert not counter._counts


def test_events_already_outside_the_window_are_not_kept() -> None:
    counter = RateCounter(clock=FakeClock(T0 + 100))
    counter.appended([ev("track", 0), ev("track", 40.5), ev("track", 41), ev("track", 100)], ())
    assert sorted(counter._counts) == [T0 + 41, T0 + 100]
    # Receive times far ahead of the clock (a clock step) never grow memory past the bound.
    counter.appended([ev("track", 1000 + i) for i in range(500)], ())
    assert len(counter._counts) <= 2 * RATE_SECONDS
    counter.appended([ev("track", float("nan"))], ())


def test_evictions_and_clear_do_not_change_a_rate() -> None:
    clock = FakeClock(T0 + 10.5)
    buf = EventBuffer(max_messages=3, checks=None)
    counter = attach(buf, clock=clock)
    buf.extend([ev("track", i / 10) for i in range(10)])
    assert len(buf) == 3
    series = counter.series()
    assert series is not None and series["by_type"]["track"][-11] == 10
    buf.clear()
    assert counter.series() == series
    assert attach(buf) is counter


def test_attach_counts_what_is_buffered_then() -> None:
    buf = EventBuffer(checks=None)
    buf.extend([ev("alias", 1.2), ev("group", 1.3), ev("screen", 2.0)])
    counter = attach(buf, clock=FakeClock(T0 + 2.1))
    _, rows = counter.window()
    assert rows[-2][RATE_TYPES.index("alias")] == 1
    assert rows[-2][RATE_TYPES.index("group")] == 1
    assert rows[-1][RATE_TYPES.index("screen")] == 1
    buf.append(ev("screen", 2.4))
    assert counter.window()[1][-1][RATE_TYPES.index("screen")] == 2


def test_frame_is_indexed_by_utc_second_with_a_column_per_type() -> None:
    counter = RateCounter(clock=FakeClock(T0 + 59.9))
    counter.appended([ev("track", 0.5), ev("track", 59.0), ev("screen", 59.5)], ())
    frame = counter.to_frame()
    assert list(frame.columns) == list(RATE_TYPES)
    assert len(frame) == RATE_SECONDS
    assert frame.index.name == "second"
    assert str(frame.index.tz) == "UTC"
    assert frame.index[0] == pd.Timestamp(T0, unit="s", tz="UTC")
    assert frame.index[-1] == pd.Timestamp(T0 + 59, unit="s", tz="UTC")
    assert (frame.dtypes == "int64").all()
    assert frame["track"].iloc[0] == 1 and frame["track"].iloc[-1] == 1
    assert frame["screen"].iloc[-1] == 1
    assert int(frame.to_numpy().sum()) == 3
    empty = RateCounter(clock=FakeClock(T0)).to_frame()
    assert len(empty) == RATE_SECONDS and int(empty.to_numpy().sum()) == 0


def test_bad_seconds_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="positive int"):
        RateCounter(seconds=0)
