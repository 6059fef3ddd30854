"""EventBuffer: caps, seqs, duplicates, gaps, since(), stats, rate, threads, pandas, queries."""

from __future__ import annotations

import threading
import time
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.events import typical_event
from support.waiting import count_wakes

from segment_debugger.core.buffer import MAX_GAPS_KEPT, EventBuffer, Gap
from segment_debugger.core.checks import Checks
from segment_debugger.core.event import Event
from segment_debugger.core.frame import BASE_COLUMNS
from segment_debugger.core.segment import duplicate_violation, parse_event


def sized(size: int, message_id: str | None = None, type_: str | None = "track") -> Event:
    """An event counting as ``size`` bytes (the buffer trusts ``event.size``)."""
    return Event(
        raw=b"x" * size,
        channel="events",
        received_at=1.0,
        size=size,
        type=type_,
        messageId=message_id,
    )


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def check_invariants(buf: EventBuffer) -> None:
    events = buf.snapshot()
    stats = buf.stats
    assert len(events) == len(buf) == stats["buffered"]
    assert len(events) <= buf.max_messages
    total = sum(e.size for e in events)
    assert stats["bytes"] == total
    assert total <= buf.max_bytes or len(events) == 1
    seqs = [e.seq for e in events]
    if seqs:
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "seqs must be contiguous"
        assert seqs[-1] == buf.last_seq == stats["last_seq"]
        assert buf.first_seq == seqs[0] == stats["first_seq"]
    else:
        assert buf.first_seq is None and stats["first_seq"] is None


# ---- construction --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"max_messages": 0}, "max_messages"),
        ({"max_messages": -5}, "max_messages"),
        ({"max_messages": 2.5}, "max_messages"),
        ({"max_messages": True}, "max_messages"),
        ({"max_bytes": 0}, "max_bytes"),
        ({"max_bytes": "1MB"}, "max_bytes"),
    ],
)
def test_caps_must_be_positive_ints(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ValueError, match=f"{name} must be a positive int"):
        EventBuffer(**kwargs)  # type: ignore[arg-type]


def test_defaults() -> None:
    buf = EventBuffer()
    assert (buf.max_messages, buf.max_bytes) == (10_000, 256 * 2**20)
    assert buf.last_seq == 0 and buf.first_seq is None and len(buf) == 0
    assert buf.since(0) == [] and buf.snapshot() == [] and list(buf) == []


# ---- seqs and eviction ---------------------------------------------------------------------


def test_append_assigns_seqs_from_one_and_returns_the_event() -> None:
    buf = EventBuffer()
    events = [sized(10) for _ in range(3)]
    returned = [buf.append(e) for e in events]
    assert returned == events
    assert [e.seq for e in events] == [1, 2, 3]
    assert buf.last_seq == 3 and buf.first_seq == 1


def test_eviction_by_count_drops_oldest_first() -> None:
    buf = EventBuffer(max_messages=3)
    for _ in range(5):
        buf.append(sized(10))
    assert [e.seq for e in buf] == [3, 4, 5]
    stats = buf.stats
    assert (stats["received"], stats["buffered"], stats["evicted"], stats["bytes"]) == (5, 3, 2, 30)


def test_eviction_by_bytes() -> None:
    buf = EventBuffer(max_bytes=100)
    for size in (40, 40, 30):  # 110 bytes: the first must go
        buf.append(sized(size))
    assert [e.seq for e in buf] == [2, 3]
    assert buf.stats["bytes"] == 70
    buf.append(sized(30))  # exactly 100 is allowed
    assert [e.seq for e in buf] == [2, 3, 4]
    assert buf.stats["evicted"] == 1


def test_event_larger_than_max_bytes_is_kept_alone_then_evicted() -> None:
    buf = EventBuffer(max_bytes=100)
    buf.append(sized(50))
    big = buf.append(sized(500))
    assert buf.snapshot() == [big]
    assert buf.stats["bytes"] == 500
    buf.append(sized(10))
    assert [e.seq for e in buf] == [3]
    assert buf.stats["evicted"] == 2


def test_seqs_keep_growing_across_clear() -> None:
    buf = EventBuffer()
    buf.extend([sized(10), sized(10)])
    buf.clear()
    assert len(buf) == 0 and buf.first_seq is None and buf.last_seq == 2
    assert buf.stats["bytes"] == 0 and buf.stats["cleared"] == 2
    assert buf.append(sized(10)).seq == 3
    assert buf.first_seq == 3
    assert buf.stats["received"] == 3  # totals survive clear


def test_extend_accepts_any_iterable_and_matches_append() -> None:
    one_by_one, batched = EventBuffer(max_messages=4), EventBuffer(max_messages=4)
    for i in range(7):
        one_by_one.append(sized(10 + i, message_id=f"m{i % 3}"))
    batched.extend(sized(10 + i, message_id=f"m{i % 3}") for i in range(7))
    batched.extend([])
    a, b = one_by_one.snapshot(), batched.snapshot()
    assert [(e.seq, e.size, e.valid, e.violations) for e in a] == [
        (e.seq, e.size, e.valid, e.violations) for e in b
    ]
    stats_a, stats_b = one_by_one.stats, batched.stats
    for key in ("received", "buffered", "evicted", "invalid", "bytes", "by_type"):
        assert stats_a[key] == stats_b[key], key


# ---- duplicates ----------------------------------------------------------------------------


def test_duplicate_message_id_is_a_warning_on_the_later_copy() -> None:
    buf = EventBuffer()
    first = buf.append(sized(10, message_id="abc"))
    second = buf.append(sized(10, message_id="abc"))
    other = buf.append(sized(10, message_id="xyz"))
    assert first.valid and first.violations == [] and first.warnings == []
    assert second.valid, "a retry is normal delivery: the event stays valid"
    assert second.violations == []
    assert second.warnings == [duplicate_violation("abc")]
    assert other.valid and other.warnings == []
    assert buf.stats["invalid"] == 0
    assert buf.stats["warnings"] == 1


def test_duplicate_warning_leaves_existing_violations_alone() -> None:
    buf = EventBuffer()
    buf.append(sized(10, message_id="abc"))
    bad = sized(10, message_id="abc")
    bad.valid, bad.violations = False, ["track without event"]
    buf.append(bad)
    assert bad.violations == ["track without event"]
    assert bad.warnings == [duplicate_violation("abc")]
    assert buf.stats["invalid"] == 1 and buf.stats["warnings"] == 1


def test_duplicate_check_can_be_turned_off() -> None:
    buf = EventBuffer(checks=Checks(duplicate_message_id=False))
    buf.append(sized(10, message_id="abc"))
    assert buf.append(sized(10, message_id="abc")).warnings == []
    assert EventBuffer(checks=None).checks is None


def test_duplicate_not_flagged_after_all_copies_are_evicted() -> None:
    buf = EventBuffer(max_messages=2)
    buf.append(sized(10, message_id="abc"))
    buf.append(sized(10, message_id="abc"))  # duplicate, both buffered
    buf.append(sized(10, message_id="other"))  # evicts the first copy; the second remains
    third = buf.append(sized(10, message_id="abc"))  # its arrival evicts the second copy...
    assert third.warnings, "...but that copy was still buffered when it arrived"
    buf.append(sized(10, message_id="filler"))
    buf.append(sized(10, message_id="filler2"))  # every "abc" is gone now
    fresh = buf.append(sized(10, message_id="abc"))
    assert fresh.valid and fresh.warnings == []


def test_duplicate_not_flagged_after_clear() -> None:
    buf = EventBuffer()
    buf.append(sized(10, message_id="abc"))
    buf.clear()
    assert buf.append(sized(10, message_id="abc")).warnings == []


def test_events_without_message_id_are_never_duplicates() -> None:
    buf = EventBuffer()
    events = [buf.append(sized(10)) for _ in range(3)]
    assert all(e.valid and not e.warnings for e in events)


# ---- gaps ----------------------------------------------------------------------------------


def test_record_gap() -> None:
    buf = EventBuffer()
    assert buf.gaps == [] and buf.stats["gaps"] == 0 and buf.stats["last_gap"] is None
    buf.extend([sized(10), sized(10)])
    gap = buf.record_gap(100.0, 102.5, "connection lost")
    assert gap == Gap(100.0, 102.5, 2.5, "connection lost", after_seq=2)
    buf.append(sized(10))
    buf.record_gap(200.0, 199.0, "clock went backwards")
    gaps = buf.gaps
    assert [g.after_seq for g in gaps] == [2, 3]
    assert gaps[1].duration == 0.0
    assert buf.stats["gaps"] == 2
    assert buf.stats["last_gap"] == {
        "started_at": 200.0,
        "ended_at": 199.0,
        "duration": 0.0,
        "reason": "clock went backwards",
        "after_seq": 3,
        "lost_estimate": None,
        "estimate_basis": "",
        "channels": None,
    }
    with pytest.raises(AttributeError):
        gap.reason = "changed"  # type: ignore[misc]


def test_only_recent_gaps_are_kept_but_all_are_counted() -> None:
    buf = EventBuffer()
    for i in range(MAX_GAPS_KEPT + 5):
        buf.record_gap(float(i), float(i) + 1, f"gap {i}")
    gaps = buf.gaps
    assert len(gaps) == MAX_GAPS_KEPT
    assert gaps[0].reason == "gap 5" and gaps[-1].reason == f"gap {MAX_GAPS_KEPT + 4}"
    assert buf.stats["gaps"] == MAX_GAPS_KEPT + 5


# ---- since / get ---------------------------------------------------------------------------


def test_since_without_and_with_limit() -> None:
    buf = EventBuffer()
    buf.extend(sized(10) for _ in range(10))
    assert [e.seq for e in buf.since(0)] == list(range(1, 11))
    assert [e.seq for e in buf.since(7)] == [8, 9, 10]
    assert buf.since(10) == [] and buf.since(99) == []
    assert [e.seq for e in buf.since(0, limit=3)] == [8, 9, 10]
    assert [e.seq for e in buf.since(8, limit=5)] == [9, 10]
    assert buf.since(0, limit=0) == []
    assert [e.seq for e in buf.since(-100)] == list(range(1, 11))


def test_since_after_eviction_and_clear() -> None:
    buf = EventBuffer(max_messages=4)
    buf.extend(sized(10) for _ in range(10))  # 7..10 remain
    assert [e.seq for e in buf.since(2)] == [7, 8, 9, 10]
    assert [e.seq for e in buf.since(8)] == [9, 10]
    assert [e.seq for e in buf.since(2, limit=2)] == [9, 10]
    buf.clear()
    assert buf.since(0) == []
    buf.append(sized(10))
    assert [e.seq for e in buf.since(0)] == [11]
    assert [e.seq for e in buf.since(10)] == [11]


def test_since_cost_follows_the_result_not_the_buffer() -> None:
    small, large = EventBuffer(max_messages=100), EventBuffer(max_messages=50_000)
    small.extend(sized(1) for _ in range(100))
    large.extend([sized(1)] * 50_000)  # the same object 50k times: cheap to build

    def cost(buf: EventBuffer) -> float:
        started = time.process_time()
        for _ in range(2000):
            buf.since(buf.last_seq - 10)
        return time.process_time() - started

    cost(small)
    # O(buffer) would be ~500x slower on the large buffer; allow generous noise
    assert cost(large) < 10 * cost(small) + 0.05


def test_get() -> None:
    buf = EventBuffer(max_messages=3)
    events = [buf.append(sized(10)) for _ in range(5)]
    assert buf.get(3) is events[2] and buf.get(5) is events[4]
    assert buf.get(2) is None and buf.get(6) is None and buf.get(0) is None
    buf.clear()
    assert buf.get(5) is None


def test_iteration_is_over_a_snapshot() -> None:
    buf = EventBuffer()
    buf.extend(sized(10) for _ in range(3))
    seen = []
    for event in buf:
        seen.append(event.seq)
        buf.append(sized(10))  # must not break the loop
    assert seen == [1, 2, 3]
    snapshot = buf.snapshot()
    snapshot.clear()
    assert len(buf) == 6


# ---- stats ---------------------------------------------------------------------------------


def test_stats_counts() -> None:
    buf = EventBuffer(max_messages=3)
    buf.append(sized(10, type_="track"))
    buf.append(sized(20, type_="identify"))
    buf.append(sized(30, type_="track"))
    buf.append(sized(40, type_=None))
    buf.append(sized(50, type_="bogus"))
    invalid = sized(60, type_="page")
    invalid.valid, invalid.violations = False, ["neither userId nor anonymousId"]
    buf.append(invalid)
    stats = buf.stats
    assert stats["received"] == 6
    assert stats["buffered"] == 3
    assert stats["evicted"] == 3
    assert stats["invalid"] == 1
    assert stats["bytes"] == 150
    assert stats["by_type"] == {"track": 2, "identify": 1, "unknown": 2, "page": 1}
    assert (stats["last_seq"], stats["max_messages"], stats["max_bytes"]) == (6, 3, 256 * 2**20)
    stats["by_type"]["track"] = 99
    stats["received"] = -1
    assert buf.stats["by_type"]["track"] == 2 and buf.stats["received"] == 6


def test_rate_with_a_fake_clock() -> None:
    clock = FakeClock(1000.0)
    buf = EventBuffer(clock=clock)
    assert buf.stats["rate_per_s"] == 0.0
    for second in range(10):  # 100 events per second for 10 s
        clock.now = 1000.0 + second
        buf.extend(sized(1) for _ in range(50))
        clock.now += 0.5
        buf.extend(sized(1) for _ in range(50))
    clock.now = 1009.999
    assert buf.stats["rate_per_s"] == pytest.approx(100, rel=0.01)
    clock.now = 1012.0  # two silent seconds: window 1008..1012 holds 1008 and 1009
    assert buf.stats["rate_per_s"] == pytest.approx(200 / 4.0)  # 4 s from 1008.0 to now
    clock.now = 1020.0
    assert buf.stats["rate_per_s"] == 0.0


def test_rate_right_after_start_is_not_inflated() -> None:
    clock = FakeClock(500.25)
    buf = EventBuffer(clock=clock)
    buf.extend(sized(1) for _ in range(30))
    clock.now = 500.5
    assert buf.stats["rate_per_s"] == pytest.approx(30.0)  # span floored at 1 s
    clock.now = 502.25
    assert buf.stats["rate_per_s"] == pytest.approx(15.0)  # 30 events over 2 s since creation


# ---- threads -------------------------------------------------------------------------------


def test_concurrent_writers_and_a_reader_add_up() -> None:
    writers, per_writer, batch = 4, 2_000, 20
    buf = EventBuffer(max_messages=1_000)
    done = threading.Event()
    errors: list[BaseException] = []
    reader_checks = 0

    def write(w: int) -> None:
        try:
            for i in range(0, per_writer, batch):
                if (i // batch) % 2:
                    buf.extend(sized(1, message_id=f"{w}-{i + j}") for j in range(batch))
                else:
                    for j in range(batch):
                        buf.append(sized(1, message_id=f"{w}-{i + j}"))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    def read() -> None:
        nonlocal reader_checks
        cursor = 0
        try:
            while not done.is_set():
                new = buf.since(cursor)
                seqs = [e.seq for e in new]
                assert seqs == sorted(seqs) and all(s > cursor for s in seqs)
                if new:
                    cursor = new[-1].seq
                stats = buf.stats
                assert stats["buffered"] <= 1_000
                assert stats["received"] == stats["buffered"] + stats["evicted"]
                reader_checks += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    reader = threading.Thread(target=read)
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    done.set()
    reader.join(timeout=30)
    assert not any(t.is_alive() for t in [*threads, reader])
    assert errors == []
    total = writers * per_writer
    stats = buf.stats
    assert stats["received"] == total == buf.last_seq
    assert stats["buffered"] + stats["evicted"] == total
    assert stats["invalid"] == 0  # every messageId was unique
    assert reader_checks > 0
    check_invariants(buf)


def test_wait_for() -> None:
    buf = EventBuffer()
    assert buf.wait_for(0, timeout=0)
    assert not buf.wait_for(1, timeout=0.01)

    writer = threading.Timer(0.01, lambda: buf.extend([sized(1), sized(1)]))
    writer.start()
    try:
        assert buf.wait_for(2, timeout=5)
    finally:
        writer.cancel()
        writer.join()
    assert buf.last_seq == 2


# ---- invariants under random operations ----------------------------------------------------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(0, 120), st.sampled_from(["a", "b", "c", None])),
        st.tuples(st.just("extend"), st.lists(st.integers(0, 120), max_size=8), st.none()),
        st.tuples(st.just("clear"), st.none(), st.none()),
        st.tuples(st.just("gap"), st.none(), st.none()),
    ),
    max_size=60,
)


class Model:
    """The buffer's documented behaviour, written as plainly as possible."""

    def __init__(self, max_messages: int, max_bytes: int) -> None:
        self.max_messages, self.max_bytes = max_messages, max_bytes
        self.rows: list[tuple[int, str | None, int, bool]] = []  # seq, messageId, size, warned
        self.last_seq = 0

    def append(self, message_id: str | None, size: int) -> None:
        self.last_seq += 1
        duplicate = message_id is not None and any(m == message_id for _, m, _, _ in self.rows)
        self.rows.append((self.last_seq, message_id, size, duplicate))
        while len(self.rows) > 1 and (
            len(self.rows) > self.max_messages or sum(r[2] for r in self.rows) > self.max_bytes
        ):
            self.rows.pop(0)


@settings(max_examples=100, deadline=None)
@given(
    max_messages=st.integers(1, 10),
    max_bytes=st.integers(1, 300),
    ops=operations,
)
def test_random_operations_keep_invariants(
    max_messages: int, max_bytes: int, ops: list[tuple[str, object, object]]
) -> None:
    buf = EventBuffer(max_messages=max_messages, max_bytes=max_bytes)
    model = Model(max_messages, max_bytes)
    for op, arg, message_id in ops:
        if op == "append":
            assert isinstance(arg, int) and (message_id is None or isinstance(message_id, str))
            assert buf.append(sized(arg, message_id=message_id)).seq == model.last_seq + 1
            model.append(message_id, arg)
        elif op == "extend":
            assert isinstance(arg, list)
            buf.extend(sized(size, message_id="b") for size in arg)
            for size in arg:
                model.append("b", size)
        elif op == "clear":
            buf.clear()
            model.rows.clear()
        else:
            assert buf.record_gap(1.0, 2.0, "test").after_seq == model.last_seq
        check_invariants(buf)
        assert [(e.seq, e.messageId, e.size, bool(e.warnings_view())) for e in buf] == model.rows
        assert all(e.valid for e in buf), "a duplicate messageId is a warning, not a violation"
        assert buf.last_seq == model.last_seq
        stats = buf.stats
        assert stats["received"] == model.last_seq
        assert stats["received"] == stats["buffered"] + stats["evicted"] + stats["cleared"]


# ---- pandas and queries --------------------------------------------------------------------


def test_to_pandas_is_a_fresh_typed_frame() -> None:
    buf = EventBuffer()
    buf.extend(typical_event(i) for i in range(5))
    frame = buf.to_pandas()
    assert tuple(frame.columns[: len(BASE_COLUMNS)]) == BASE_COLUMNS
    assert frame["seq"].tolist() == [1, 2, 3, 4, 5]
    assert isinstance(frame["timestamp"].dtype, pd.DatetimeTZDtype)
    assert "properties.revenue" in frame.columns and "context.library.name" in frame.columns
    buf.append(typical_event(5))
    assert len(frame) == 5, "later appends must not change a frame already returned"
    assert buf.to_pandas() is not buf.to_pandas()
    assert len(EventBuffer().to_pandas()) == 0


def test_hostile_events_in_the_frame() -> None:
    buf = EventBuffer()
    raws = [
        b"\xff\xfe\x00garbage",
        b"[1, 2, 3]",
        b"42",
        b"",
        b'{"type": "track", "userId": "u"}',
        b'{"type": "page", "userId": "<img src=x onerror=alert(1)>", "name": "<b>Home</b>"}',
    ]
    buf.extend(parse_event(raw, "events", 1_700_000_000.0 + i) for i, raw in enumerate(raws))
    frame = buf.to_pandas()
    assert len(frame) == len(raws)
    assert frame["raw"].tolist() == raws
    assert frame["valid"].tolist() == [False, False, False, False, False, True]
    assert all(len(v) > 0 for v in frame["violations"][:5])
    assert frame["name"][5] == "<b>Home</b>"
    assert frame["type"].isna().tolist() == [True, True, True, True, False, False]
    assert buf.stats["invalid"] == 5
    assert buf.stats["by_type"] == {"unknown": 4, "track": 1, "page": 1}


def test_query_returns_the_matching_rows() -> None:
    buf = EventBuffer()
    buf.extend(typical_event(i) for i in range(12))  # every third is "Product Viewed"
    buf.append(parse_event(b"not json", "events", 1_700_000_100.0))
    viewed = buf.query('event:"Product Viewed"')
    assert viewed["seq"].tolist() == [1, 4, 7, 10]
    assert set(viewed["event"]) == {"Product Viewed"}
    assert buf.query("valid:false")["seq"].tolist() == [13]
    assert buf.query("-type:track")["seq"].tolist() == [13]
    assert buf.query("properties.revenue:>12")["seq"].tolist() == [10, 11, 12]
    assert buf.query("nothing-matches-this").columns.tolist() == list(BASE_COLUMNS)
    assert len(buf.query("")) == 13
    assert [e.seq for e in buf.filter("type:track userId:user-3")] == [4]


def test_received_always_equals_last_seq() -> None:
    """The front end shows last_seq as the received total: the two must never diverge."""
    buf = EventBuffer(max_messages=5)
    for n in (1, 3, 10):
        buf.extend([sized(1) for _ in range(n)])
        stats = buf.stats
        assert stats["received"] == stats["last_seq"] == buf.last_seq
    buf.clear()
    buf.append(sized(1))
    assert buf.stats["received"] == buf.stats["last_seq"] == 15
    events, buffered = buf.since_counted(12)
    assert [e.seq for e in events] == [15] and buffered == 1


def test_observers_see_appends_evictions_and_clears() -> None:
    class Tally:
        def __init__(self) -> None:
            self.held: list[int] = []

        def appended(self, events: Any, evicted: Any) -> None:
            self.held.extend(e.seq for e in events)
            for e in evicted:
                self.held.remove(e.seq)

        def cleared(self) -> None:
            self.held.clear()

    class Broken:
        def appended(self, events: Any, evicted: Any) -> None:
            raise RuntimeError("observer bug")

        def cleared(self) -> None:
            raise RuntimeError("observer bug")

    buf = EventBuffer(max_messages=5)
    tally = Tally()
    buf.add_observer(Broken())
    buf.add_observer(tally)
    for n in (3, 4, 7, 1):
        buf.extend([sized(1) for _ in range(n)])
        assert tally.held == [e.seq for e in buf]  # in step, whatever the other observer did
    buf.clear()
    assert tally.held == [] and len(buf) == 0
    buf.append(sized(1))
    assert tally.held == [buf.last_seq]


def test_analysis_parses_a_large_batch_a_chunk_at_a_time() -> None:
    """With a plan and schemas on, a batch larger than SHARED_CHUNK is appended (and told to
    observers) a chunk at a time, so only a chunk's parsed payloads are alive together; the
    warnings, violations, counts and what observers hold are those of one-by-one appends."""
    from segment_debugger.core.buffer import SHARED_CHUNK
    from segment_debugger.playground.fake import FakeEventStream

    plan = {"events": {"Order Completed": {"properties": {
        "type": "object", "properties": {"revenue": {"type": "string"}}}}}}
    stream = FakeEventStream(seed=3)
    payloads = [stream.payload() for _ in range(5 * SHARED_CHUNK + 7)]

    class Sizes:
        def __init__(self) -> None:
            self.calls: list[int] = []
            self.parsed_alive: list[int] = []
            self.held: list[int] = []

        def appended(self, events: Any, evicted: Any) -> None:
            self.calls.append(len(events))
            self.held.extend(e.seq for e in events)
            for e in evicted:
                self.held.remove(e.seq)

        def cleared(self) -> None:
            self.held.clear()

    def run(batched: bool) -> tuple[EventBuffer, Sizes, list[Event]]:
        buf = EventBuffer(max_messages=50, tracking_plan=plan, infer_schemas=True)
        sizes = Sizes()
        buf.add_observer(sizes)
        events = [parse_event(p, "events", 1.7e9) for p in payloads]
        if batched:
            buf.extend(events)
        else:
            for e in events:
                buf.append(e)
        return buf, sizes, events

    whole, sizes, batched = run(True)
    one_by_one, _, single = run(False)
    assert max(sizes.calls) <= SHARED_CHUNK and sum(sizes.calls) == len(payloads)
    assert sizes.held == [e.seq for e in whole]
    assert [(e.valid, e.violations_view(), e.warnings_view()) for e in batched] == [
        (e.valid, e.violations_view(), e.warnings_view()) for e in single
    ]
    assert any(e.violations_view() for e in batched)  # the plan was applied
    assert whole.stats["invalid"] == one_by_one.stats["invalid"] > 0
    assert whole.stats["warnings"] == one_by_one.stats["warnings"]
    assert all(e._data is not None and not isinstance(e._data, dict) for e in batched)


def test_waiting_readers_are_woken_once_per_batch() -> None:
    """A batch appended in chunks (analysis on) wakes waiting readers once, not per chunk."""
    from segment_debugger.core.buffer import SHARED_CHUNK

    buf = EventBuffer(infer_schemas=True)
    wakes = count_wakes(buf)
    buf.extend([parse_event(b'{"type":"track","event":"E","userId":"u"}', "c", 1.0)
                for _ in range(10 * SHARED_CHUNK)])
    assert wakes == [10 * SHARED_CHUNK]
