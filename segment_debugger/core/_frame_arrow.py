"""The Arrow path of frames: the flattened columns read from the payloads by pyarrow.

pyarrow's JSON reader parses the payloads in C++ (pieces side by side) and builds typed columns; the
result must be exactly what the Python path (:mod:`segment_debugger.core._frame_python`) gives,
so anything Arrow cannot mirror goes back to Python: per event (payloads too big for the entry
budget, events whose groups were assigned by hand, chunks Arrow refuses), per column (values
Arrow changes: lists, whole objects at the depth cap, strings it reads as timestamps, integers
beyond 64 bits, columns mixing types across chunks: those take their values from a Python parse
of the rows that have them), or per frame (folding, a ``_rest`` key, dotted keys colliding with
nested ones: the build answers None and the caller takes the Python path, whole).

Here: which events Arrow reads (:func:`start_arrow`) and the worker that reads and builds
(:class:`ArrowStart`); the reads are :mod:`~segment_debugger.core._frame_read`'s, the columns
:class:`~segment_debugger.core._frame_arrow_build.ArrowFrame`'s.
"""

from __future__ import annotations

import contextlib
import logging
import operator
import threading
from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np
import pyarrow as pa

from segment_debugger.core import _frame_read
from segment_debugger.core._frame_arrow_build import ArrowFrame
from segment_debugger.core._frame_read import ReadCache, plan_reads
from segment_debugger.core.event import FROM_RAW, Event

log = logging.getLogger(__name__)

#: An event's group slots: FROM_RAW (an object, parsed again from ``raw``), None, or a value
#: assigned by hand.
_get_slots = operator.attrgetter("_properties", "_traits", "_context")
_get_raw = operator.attrgetter("raw")
#: What to do with an event, by its slots: 0 nothing (no group to flatten: not JSON, not an
#: object, or no group in it); 1..7 Arrow reads ``raw`` (bit ``4 >> i`` set when group ``i`` of
#: :data:`FLATTENED` is an object in it); :data:`_PYTHON` the Python path (groups set by hand).
_SLOT_KINDS = {
    (p, t, c): (p is FROM_RAW) * 4 + (t is FROM_RAW) * 2 + (c is FROM_RAW)
    for p in (FROM_RAW, None)
    for t in (FROM_RAW, None)
    for c in (FROM_RAW, None)
}
_PYTHON = 8

#: Fewer events than this with groups to flatten: the Python path (Arrow's fixed cost wins).
_ARROW_MIN_ROWS = 32
#: Payloads bigger than this go to the Python path: smaller ones cannot reach the per-event
#: entry budget (an entry takes at least 5 bytes), nor bloat Arrow's schema.
_ARROW_MAX_BYTES = 4096
#: Frames of fewer events than this read and build in the caller's thread (starting a thread
#: would cost more than the overlap with the base columns gives).
THREAD_MIN_ROWS = 2048


class ArrowStart:
    """The Arrow path under way (:func:`start_arrow`): read and build, big frames in a thread.

    Arrow parses with the GIL released, so the caller converts the base columns meanwhile and
    then helps read (:meth:`help`), so the two share the work (the gain depends on the cores:
    1.0-1.6x measured on two shared ones). :meth:`result` (or :meth:`abandon`) joins the worker;
    call one of them.
    """

    __slots__ = ("_done", "_error", "_groups", "_reading", "_thread", "parsed")

    def __init__(
        self,
        events: Sequence[Event],
        kinds: np.ndarray,
        rows: list[int],
        raws: list[bytes],
        python_rows: list[int],
        cache: ReadCache | None,
        limit: int,
    ) -> None:
        #: Rows parsed in Python on the way (row -> groups), for the Python path if it must run.
        self.parsed: dict[int, tuple[Any, Any, Any]] = {}
        self._groups: dict[str, Any] | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._done = threading.Event()  # the worker has finished (set by _run)
        self._reading = plan_reads(rows, raws, cache)
        pieces = self._reading.pieces
        if pieces and len(rows) >= THREAD_MIN_ROWS:
            # readers: this worker, the caller once its base columns are done, and more
            # threads when there are more cores (see _frame_read.Reading)
            args = (events, kinds, python_rows, limit, min(_frame_read._WORKERS, pieces) - 2)
            del rows, raws
            thread = threading.Thread(
                target=self._run, args=args, name="segment-debugger-frame", daemon=True
            )
            try:
                thread.start()
            except RuntimeError:  # no thread to be had (a process at its limit): in line
                log.debug("no thread for the frame's Arrow path: read in the caller's thread")
            else:
                self._thread = thread
                return
        self._run(events, kinds, python_rows, limit, 0)

    def _run(
        self,
        events: Sequence[Event],
        kinds: np.ndarray,
        python_rows: list[int],
        limit: int,
        extra_readers: int,
    ) -> None:
        readers: list[threading.Thread] = []
        try:
            reading = self._reading
            for _ in range(extra_readers):
                reader = threading.Thread(target=reading.work, name="segment-debugger-read",
                                          daemon=True)
                try:
                    reader.start()
                except RuntimeError:  # no more threads to be had: the readers there are do it
                    break
                readers.append(reader)
            reading.work()
            reads = reading.reads(python_rows)
            if not reads:
                return
            try:
                self._groups = ArrowFrame(events, kinds, reads, python_rows, limit,
                                           self.parsed).build()
            except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
                log.debug("Arrow could not build the frame (%r): Python path", exc)  # unforeseen
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc
        finally:
            self._reading.cancel()  # a reader that failed to start: the others stop too
            for reader in readers:
                reader.join()
            self._done.set()

    def help(self) -> None:
        """Read the pieces the worker has not taken yet (the caller, its own work done)."""
        if self._thread is not None:
            try:
                self._reading.work()
            except BaseException:  # a Ctrl-C between two pieces: nothing left running
                self.abandon()
                raise

    def result(self) -> dict[str, Any] | None:
        """Wait for the worker; return the flattened columns, or None for the Python path."""
        thread = self._thread
        if thread is not None:
            # A Ctrl-C still waits for the worker (it writes the cache, keeps a core busy);
            # not by join() alone: on 3.11 an interrupted join() marks the thread stopped.
            interrupted: BaseException | None = None
            while True:
                try:
                    self._done.wait()
                    thread.join()
                    break
                except BaseException as exc:  # KeyboardInterrupt in the wait
                    interrupted = interrupted or exc
            self._thread = None
            if interrupted is not None:
                raise interrupted
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self._groups

    def abandon(self) -> None:
        """Stop reading, wait for the worker and drop what it made (what it raised too)."""
        while True:  # again after a Ctrl-C in cancel(), or as result() begins (before its wait)
            with contextlib.suppress(BaseException):
                self._reading.cancel()
                self.result()
            if self._thread is None and self._error is None:
                break
        self._groups = None


def start_arrow(
    events: Sequence[Event], limit: int, cache: ReadCache | None = None
) -> ArrowStart | None:
    """Start the Arrow path for ``events`` (see :class:`ArrowStart`), or return None.

    None: the Python path is the one to take (too few groups to read, too many events that
    need Python). Call :meth:`ArrowStart.result` or :meth:`ArrowStart.abandon` on what this
    returns, exceptions or not: they join the worker.
    """
    n = len(events)
    every_slots = list(map(_get_slots, events))
    try:  # see _SLOT_KINDS
        kinds = np.fromiter(
            map(_SLOT_KINDS.get, every_slots, repeat(_PYTHON)), dtype=np.int8, count=n
        )
    except TypeError:  # a group assigned by hand that cannot be hashed (a dict): go slowly
        kinds = np.array([_slot_kind(slots) for slots in every_slots], dtype=np.int8)
    del every_slots
    arrow = (kinds > 0) & (kinds < _PYTHON)
    groups_to_read = int(np.count_nonzero(arrow))
    if groups_to_read < _ARROW_MIN_ROWS:
        return None
    raws = list(map(_get_raw, events))
    big = arrow & (np.fromiter(map(len, raws), dtype=np.int64, count=n) > _ARROW_MAX_BYTES)
    python = (kinds == _PYTHON) | big
    arrow &= ~big
    python_rows: list[int] = np.flatnonzero(python).tolist()
    if len(python_rows) > groups_to_read // 2:
        return None
    if arrow.all():  # typical: every event
        rows = list(range(n))
    else:
        rows = np.flatnonzero(arrow).tolist()
        raws = [raws[row] for row in rows]
    return ArrowStart(events, kinds, rows, raws, python_rows, cache, limit)


def _slot_kind(slots: tuple[Any, Any, Any]) -> int:
    """Return what :data:`_SLOT_KINDS` says for ``slots``, for slots that cannot be hashed."""
    try:
        return _SLOT_KINDS.get(slots, _PYTHON)
    except TypeError:
        return _PYTHON
