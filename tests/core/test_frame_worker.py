"""The frame's Arrow work in a worker thread: the same frame, and no thread left behind."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest
from core.test_frame import (  # tests/ is on the path: the frame tests' helpers
    UNBOUNDED,
    assert_same_frame,
    fake_events,
    hostile_events,
    reference_frame,
)

from segment_debugger.core import _frame_arrow, _frame_base, _frame_read
from segment_debugger.core import frame as f
from segment_debugger.core.frame import events_to_frame

WORKER = "segment-debugger-frame"


def workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == WORKER]


def test_a_frame_built_in_the_worker_is_the_frame_built_in_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = [*fake_events(300, seed=7), *hostile_events(extra_fake=100)]
    monkeypatch.setattr(_frame_arrow, "THREAD_MIN_ROWS", 1 << 62)
    in_line = events_to_frame(events, max_columns=UNBOUNDED)
    started: list[str] = []
    original = _frame_arrow.ArrowStart._run

    def spy(self: Any, *args: Any) -> None:
        started.append(threading.current_thread().name)
        original(self, *args)

    monkeypatch.setattr(_frame_arrow.ArrowStart, "_run", spy)
    monkeypatch.setattr(_frame_arrow, "THREAD_MIN_ROWS", 1)
    in_worker = events_to_frame(events, max_columns=UNBOUNDED)
    assert started == [WORKER]
    assert_same_frame(in_worker, in_line)
    assert_same_frame(in_worker, reference_frame(events))
    assert not workers()


def test_when_the_base_columns_fail_the_worker_is_joined_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_frame_arrow, "THREAD_MIN_ROWS", 1)
    release = threading.Event()
    original = _frame_read._read

    def slow_read(*args: Any, **kwargs: Any) -> Any:
        release.wait(10)
        return original(*args, **kwargs)

    def failing_base(*args: Any, **kwargs: Any) -> Any:
        assert workers(), "the worker runs while the base columns convert"
        release.set()
        raise RuntimeError("base columns failed")

    monkeypatch.setattr(_frame_read, "_read", slow_read)
    monkeypatch.setattr(f, "base_columns", failing_base)
    with pytest.raises(RuntimeError, match="base columns failed"):
        events_to_frame(fake_events(100))
    assert not workers()


def test_what_the_worker_raises_reaches_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_frame_arrow, "THREAD_MIN_ROWS", 1)

    def failing_read(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError("no room for the tables")

    monkeypatch.setattr(_frame_read, "_read", failing_read)
    with pytest.raises(MemoryError, match="no room"):
        events_to_frame(fake_events(100))
    assert not workers()
    assert _frame_base.base_columns is f.base_columns  # the frame module's own, untouched


def test_a_live_buffer_parses_its_kept_payloads_once_for_list_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Lists (properties.products) need a Python parse; a table the cache keeps keeps them."""
    from segment_debugger.core.buffer import EventBuffer
    from segment_debugger.core.event import Event

    monkeypatch.setattr(_frame_read, "_CACHED_CHUNK_ROWS", 64)
    monkeypatch.setattr(_frame_read, "_CACHED_MIN_ROWS", 16)
    parsed: list[int] = []
    original = Event.groups

    def counting(self: Event) -> Any:
        parsed.append(self.seq)
        return original(self)

    monkeypatch.setattr(Event, "groups", counting)
    buf = EventBuffer(max_messages=500)
    feed = iter(fake_events(1000, seed=13))
    buf.extend(next(feed) for _ in range(400))
    first = buf.to_pandas()
    assert "properties.products" in first.columns and parsed
    parsed.clear()
    assert_same_frame(buf.to_pandas(), first)
    assert parsed == []  # failed before: every row with a list parsed again
    buf.extend(next(feed) for _ in range(150))  # 50 evicted
    got = buf.to_pandas()
    assert 0 < len(parsed) <= 150 + 64 + 64
    assert_same_frame(got, reference_frame(buf.snapshot()))


def test_an_interrupt_while_waiting_for_the_worker_leaves_no_worker_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C in the caller's wait for the worker: the call still ends only after the worker.

    The worker writes the buffer's read cache and keeps a core busy (seconds for a big
    frame): it must not outlive the interrupted call.
    """
    import signal
    import sys

    from support.waiting import wait_until

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    monkeypatch.setattr(_frame_arrow, "THREAD_MIN_ROWS", 1)
    entered, release, caught = threading.Event(), threading.Event(), threading.Event()
    original = _frame_read._read

    def slow_read(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(10)
        return original(*args, **kwargs)

    def interrupt() -> None:
        entered.wait(10)
        wait_until(in_result, what="the caller waiting in ArrowStart.result()")
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
        caught.wait(2)  # an interrupted call that did not wait for the worker returns now
        release.set()

    def in_result() -> bool:
        frame = sys._current_frames().get(threading.main_thread().ident or 0)
        while frame is not None:
            if frame.f_code is _frame_arrow.ArrowStart.result.__code__:
                return True
            frame = frame.f_back
        return False

    def base_then_wait(*args: Any, **kwargs: Any) -> Any:
        columns = _frame_base.base_columns(*args, **kwargs)
        helper.start()  # the SIGINT lands while the caller waits in result()
        return columns

    helper = threading.Thread(target=interrupt)
    monkeypatch.setattr(_frame_read, "_read", slow_read)
    monkeypatch.setattr(f, "base_columns", base_then_wait)
    alive_at_interrupt: list[threading.Thread] = []
    try:
        with pytest.raises(KeyboardInterrupt):
            events_to_frame(fake_events(100))
        alive_at_interrupt = workers()
    finally:
        caught.set()
        release.set()
        helper.join(10)
        for worker in workers():
            worker.join(10)
    assert alive_at_interrupt == []  # failed before: the worker still reading


@pytest.mark.parametrize("second_half", [
    {"price": "9.99", "only_here": {"nested": {"k": 1}}},  # int, then text; a key only in 2
    {"price": 9.5, "obj": None, "list": [1, "a"]},  # int, then float; a null, a list
    {"price": {"amount": 3}, "obj": 7},  # a number, then an object; an object, then a number
])
def test_the_frame_is_the_same_for_any_partition_of_the_reads(
    monkeypatch: pytest.MonkeyPatch, second_half: dict[str, Any]
) -> None:
    """A column whose type differs between the pieces read side by side (or only in one)."""
    from segment_debugger.core.segment import parse_event

    n = 4 * _frame_read._PIECE_MIN_ROWS
    events = []
    for i in range(n):
        properties = {"price": i, "obj": {"x": i}} if i < n // 2 else {"n": i, **second_half}
        event = parse_event(orjson.dumps({"type": "track", "event": "E", "userId": "u",
                                          "messageId": f"m{i}", "properties": properties}),
                            "c", 1.0)
        event.seq = i
        events.append(event)
    reads: list[int] = []
    original = _frame_read._read

    def counting(rows: list[int], *args: Any, split: bool) -> None:
        if split:  # a piece (a piece Arrow refuses is read again in smaller ones)
            reads.append(len(rows))
        original(rows, *args, split=split)

    monkeypatch.setattr(_frame_read, "_read", counting)
    frames = []
    for pieces in (1, 3, 4):
        monkeypatch.setattr(_frame_read, "_piece_rows", lambda rows, k=pieces: -(-rows // k))
        reads.clear()
        frames.append(events_to_frame(events, max_columns=UNBOUNDED))
        assert len(reads) == pieces
    want = reference_frame(events)
    for frame in frames:
        assert_same_frame(frame, want)


def test_the_caller_reads_pieces_beside_the_worker_once_its_base_columns_are_done(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two readers on two cores: the worker from the start, the caller after its own work."""
    events = fake_events(6 * _frame_read._PIECE_MIN_ROWS, seed=3)
    monkeypatch.setattr(_frame_read, "_WORKERS", 2)
    caller_read = threading.Event()
    readers: list[str] = []
    original = _frame_read._read

    def read(rows: list[int], *args: Any, split: bool) -> None:
        name = threading.current_thread().name
        if split:
            readers.append(name)
            if name == WORKER:  # the worker's first piece waits for one the caller reads
                assert caller_read.wait(20), "the caller never read a piece"
        original(rows, *args, split=split)
        if split and threading.current_thread() is threading.main_thread():
            caller_read.set()

    monkeypatch.setattr(_frame_read, "_read", read)
    got = events_to_frame(events, max_columns=UNBOUNDED)
    assert WORKER in readers and threading.main_thread().name in readers  # failed before
    assert len(readers) == -(-len(events) // _frame_read._piece_rows(len(events)))
    assert not workers()
    monkeypatch.setattr(_frame_read, "_read", original)
    monkeypatch.setattr(_frame_arrow, "THREAD_MIN_ROWS", 1 << 62)
    assert_same_frame(got, events_to_frame(events, max_columns=UNBOUNDED))


def test_with_more_cores_more_readers_and_every_one_joined(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = fake_events(8 * _frame_read._PIECE_MIN_ROWS, seed=5)
    monkeypatch.setattr(_frame_read, "_WORKERS", 4)
    names: set[str] = set()
    original = _frame_read._read

    def read(rows: list[int], *args: Any, split: bool) -> None:
        names.add(threading.current_thread().name)
        original(rows, *args, split=split)

    monkeypatch.setattr(_frame_read, "_read", read)
    got = events_to_frame(events, max_columns=UNBOUNDED)
    assert "segment-debugger-read" in names
    assert not [t for t in threading.enumerate() if t.name.startswith("segment-debugger-")]
    assert_same_frame(got, reference_frame(events))


def test_a_piece_the_caller_fails_to_read_raises_and_leaves_no_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = fake_events(6 * _frame_read._PIECE_MIN_ROWS, seed=9)
    original = _frame_read._read

    def read(rows: list[int], *args: Any, split: bool) -> None:
        if threading.current_thread() is threading.main_thread():
            raise MemoryError("no room in the caller's piece")
        original(rows, *args, split=split)

    monkeypatch.setattr(_frame_read, "_read", read)
    with pytest.raises(MemoryError, match="caller's piece"):
        events_to_frame(events)
    assert not workers()


def test_an_interrupt_while_the_caller_reads_a_piece_leaves_no_worker_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C while the caller helps read: KeyboardInterrupt, and the worker is joined."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    events = fake_events(6 * _frame_read._PIECE_MIN_ROWS, seed=11)
    original = _frame_read._read
    in_caller_piece = threading.Event()

    def read(rows: list[int], *args: Any, split: bool) -> None:
        if threading.current_thread() is threading.main_thread():
            in_caller_piece.set()
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
        original(rows, *args, split=split)

    monkeypatch.setattr(_frame_read, "_read", read)
    with pytest.raises(KeyboardInterrupt):
        events_to_frame(events)
    assert in_caller_piece.is_set()
    assert not workers()


def test_without_a_thread_to_start_the_frame_is_built_in_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A process at its thread limit: the Arrow path runs in the caller (raised before)."""
    events = fake_events(3 * _frame_read._PIECE_MIN_ROWS, seed=2)
    want = events_to_frame(events, max_columns=UNBOUNDED)

    def no_thread(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(_frame_arrow.threading.Thread, "start", no_thread)
    assert_same_frame(events_to_frame(events, max_columns=UNBOUNDED), want)


def test_when_only_some_readers_can_be_started_the_rest_read_it_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """More cores, but the process at its thread limit after the worker: no error, same frame."""
    events = fake_events(8 * _frame_read._PIECE_MIN_ROWS, seed=4)
    want = events_to_frame(events, max_columns=UNBOUNDED)
    monkeypatch.setattr(_frame_read, "_WORKERS", 4)
    original = threading.Thread.start

    def start(self: threading.Thread) -> None:
        if self.name == "segment-debugger-read":
            raise RuntimeError("can't start new thread")
        original(self)

    monkeypatch.setattr(_frame_arrow.threading.Thread, "start", start)
    assert_same_frame(events_to_frame(events, max_columns=UNBOUNDED), want)
    assert not workers()


def _interrupt_first_call(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> None:
    """The caller's first call of ``owner.name`` raises KeyboardInterrupt as it begins.

    What a Ctrl-C does when it lands at the call (Python checks for signals as a function
    starts), before the call's own handling of interrupts.
    """
    original = getattr(owner, name)
    calls: list[int] = []

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is threading.main_thread() and not calls:
            calls.append(1)
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, interrupted)


def _hold_the_worker_until_the_caller_waits(
    monkeypatch: pytest.MonkeyPatch, run: Any
) -> list[threading.Thread]:
    """Run ``run()`` (it must raise) with the worker held before its tables are collected.

    The worker goes on once the caller waits for it in ArrowStart.result(), or once ``run``
    has raised; returns the workers still alive when it raised.
    """
    import sys

    from support.waiting import wait_until

    waiting_code = _frame_arrow.ArrowStart.result.__code__
    released, raised = threading.Event(), threading.Event()
    original = _frame_read.Reading.reads

    def held(self: Any, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == WORKER:
            assert released.wait(20), "never released"
        return original(self, *args, **kwargs)

    def caller_waits() -> bool:
        frame = sys._current_frames().get(threading.main_thread().ident or 0)
        while frame is not None:
            if frame.f_code is waiting_code:
                return True
            frame = frame.f_back
        return False

    def release() -> None:
        wait_until(lambda: raised.is_set() or caller_waits(), timeout=20,
                   what="the caller waiting for the worker, or the call over")
        released.set()

    monkeypatch.setattr(_frame_read.Reading, "reads", held)
    releaser = threading.Thread(target=release)
    releaser.start()
    alive: list[threading.Thread] = []
    try:
        with pytest.raises((KeyboardInterrupt, RuntimeError)):
            run()
        alive = workers()
    finally:
        raised.set()
        released.set()
        releaser.join(20)
        for worker in workers():
            worker.join(20)
    return alive


@pytest.mark.parametrize("interrupted", ["help", "result"])
@pytest.mark.parametrize("call", ["events_to_frame", "group_columns"])
def test_an_interrupt_as_the_caller_helps_or_waits_leaves_no_worker_running(
    monkeypatch: pytest.MonkeyPatch, call: str, interrupted: str
) -> None:
    """Ctrl-C as help() or result() begins, in to_pandas() and the io/arrow path alike."""
    events = fake_events(3 * _frame_read._PIECE_MIN_ROWS, seed=6)
    _interrupt_first_call(monkeypatch, _frame_arrow.ArrowStart, interrupted)
    build = getattr(f, call)
    alive = _hold_the_worker_until_the_caller_waits(monkeypatch, lambda: build(events))
    assert alive == []  # failed before (but events_to_frame/help): the worker still running


@pytest.mark.parametrize("interrupted", ["cancel", "result"])
def test_an_interrupt_while_abandoning_leaves_no_worker_running(
    monkeypatch: pytest.MonkeyPatch, interrupted: str
) -> None:
    """The base columns fail, then Ctrl-C lands in abandon(): it still joins the worker."""
    events = fake_events(3 * _frame_read._PIECE_MIN_ROWS, seed=8)
    owner = _frame_read.Reading if interrupted == "cancel" else _frame_arrow.ArrowStart
    _interrupt_first_call(monkeypatch, owner, interrupted)

    def failing_base(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("base columns failed")

    monkeypatch.setattr(f, "base_columns", failing_base)
    alive = _hold_the_worker_until_the_caller_waits(monkeypatch, lambda: events_to_frame(events))
    assert alive == []  # failed before: abandon() returned with the worker running
