"""SegmentDebugger: the anywidget that shows a live Redis event stream in Jupyter and Voila.

Thin by design: it wires a source (:class:`~segment_debugger.sources.base.Source`), an
:class:`~segment_debugger.core.buffer.EventBuffer` and a :class:`~.pump.Pump` to the traits and
messages declared in :mod:`segment_debugger.widget.wire`. Logic lives below it: the front end's
requests in :mod:`.requests`, the derived view (``person:`` terms bound, ``selected``) in
:mod:`.view`, the DataFrame/export/capture methods in :mod:`.python_api` (a mixin), the bundle
in :mod:`.assets`.

Thread safety: the pump thread is the only other thread that touches the widget. Every custom
message and every trait write (ours, and the front end's via ``set_state``) goes through one
re-entrant lock, ``_funnel``, which is also the pump's lock: a front-end filter change (whose
observer asks the pump for a snapshot) and the pump sending a delta take the same lock, so they
cannot wait on each other. The helpers take no lock of their own (``BoundCriteria`` takes this
one).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from segment_debugger import __version__
from segment_debugger.analysis.people import attach as people_attach
from segment_debugger.analysis.rates import attach as rates_attach
from segment_debugger.analysis.suggest import Suggester
from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.query import Criteria
from segment_debugger.sources import open_source
from segment_debugger.sources.url import DEFAULT_CHANNEL, DEFAULT_URL
from segment_debugger.widget import registry
from segment_debugger.widget.assets import (
    BUILD_HINT,
    CSS_PATH,
    ESM_PATH,
    FALLBACK_ESM,
    STATIC,
    asset,
    frontend_built,
)
from segment_debugger.widget.pump import Pump
from segment_debugger.widget.python_api import BufferReads
from segment_debugger.widget.requests import Requests
from segment_debugger.widget.view import BoundCriteria, selected_value

if TYPE_CHECKING:
    from types import TracebackType

    from segment_debugger.sources.base import Source

__all__ = ["BUILD_HINT", "CSS_PATH", "ESM_PATH", "FALLBACK_ESM", "STATIC", "SegmentDebugger",
           "frontend_built"]

log = logging.getLogger(__name__)


class SegmentDebugger(BufferReads, anywidget.AnyWidget):  # type: ignore[misc]
    """A live debugger for Segment events arriving on Redis, as a notebook widget.

    Display it in a notebook cell; use it headless from Python alike: ``dbg.to_pandas()``,
    ``dbg.filtered()``, ``dbg.stats``. Call ``close()`` (or use ``with``) to stop its threads.

    ``source`` is any :class:`~segment_debugger.sources.base.Source` (started here; stopped by
    its owner, not by ``close()``). Without it, ``url``, ``channels`` (one name or several;
    ``events`` by default) and ``patterns`` open a
    :class:`~segment_debugger.sources.pubsub.RedisSource` that the debugger owns, or
    ``streams`` (with ``start`` and ``group``) a
    :class:`~segment_debugger.sources.streams.StreamSource`; ``url=None`` opens none (feed
    ``buffer`` yourself). ``max_messages``/``max_bytes`` size
    a new buffer (ignored when ``buffer`` or ``source`` is given); so does ``tracking_plan``
    (a dict or a JSON/YAML path, see :mod:`segment_debugger.analysis.plans`); a new buffer
    learns the traffic's schemas from the start (drift warnings). ``throttle_ms`` is the delta
    interval (at least 50); ``max_rows_per_second`` the display budget above which rows are
    thinned (the buffer keeps them all). The two-way traits (``paused``, ``query``,
    ``type_filter``, ``invalid_only``, ``warnings_only``, ``selected_seq``) may be given as
    initial values; any other keyword is a TypeError.
    """

    _esm = asset(ESM_PATH, FALLBACK_ESM)
    _css = asset(CSS_PATH, "")

    # Traits tagged two_way=True are the ones the front end writes; only they may be passed
    # to the constructor. The rest are Python -> front end.
    paused = traitlets.Bool(False).tag(sync=True, two_way=True)
    """bool, two-way (default False): the view is frozen; the buffer keeps filling."""
    query = traitlets.Unicode("").tag(sync=True, two_way=True)
    """str, two-way (default ""): the filter box, in the filter language (see README)."""
    type_filter = traitlets.List(traitlets.Unicode(), default_value=[]).tag(
        sync=True, two_way=True
    )
    """list[str], two-way (default []): event types shown; empty shows all."""
    invalid_only = traitlets.Bool(False).tag(sync=True, two_way=True)
    """bool, two-way (default False): show only events with violations."""
    warnings_only = traitlets.Bool(False).tag(sync=True, two_way=True)
    """bool, two-way (default False): show only events with warnings (checks, drift)."""
    selected_seq = traitlets.Int(None, allow_none=True).tag(sync=True, two_way=True)
    """int | None, two-way (default None): the seq of the selected event."""
    selected = traitlets.Dict(default_value=None, allow_none=True, read_only=True).tag(sync=True)
    """dict | None, read-only: the selected event's fields (``wire.selected_dict``) and its
    ``person`` (``wire.PersonSummary``, None when it carries no id), or None."""
    status = traitlets.Dict().tag(sync=True)
    """dict, Python -> front end: the source's {state, reason, url (redacted), since}."""
    stats = traitlets.Dict().tag(sync=True)
    """dict, Python -> front end: buffer stats plus displayed_rate_per_s, skipped and rates
    (``{"t0": epoch second, "by_type": {type: [60 counts]}}`` or None, see :meth:`rates`)."""
    max_rows = traitlets.Int(10_000).tag(sync=True)
    """int, Python -> front end (default 10,000): the front end's store capacity."""
    # The kernel's package version: the front end warns when its bundle is another one.
    _version = traitlets.Unicode(__version__).tag(sync=True)

    def __init__(
        self,
        url: str | None = DEFAULT_URL,
        channels: str | Iterable[str] | None = None,
        patterns: str | Iterable[str] = (),
        *,
        streams: str | Iterable[str] | None = None,
        start: str | datetime | timedelta = "$",
        group: str | None = None,
        max_messages: int = 10_000,
        max_bytes: int = 256 * 2**20,
        throttle_ms: int = 100,
        max_rows_per_second: int = 2000,
        source: Source | None = None,
        buffer: EventBuffer | None = None,
        tracking_plan: Any = None,
        autostart: bool = True,
        **kwargs: Any,
    ) -> None:
        """Build the debugger (parameters: see the class); starts it unless ``autostart=False``."""
        settable = set(self.trait_names(two_way=True))
        unknown = sorted(set(kwargs) - settable)
        if unknown:
            raise TypeError(
                f"SegmentDebugger() got unexpected keyword argument(s) {', '.join(unknown)}; "
                f"besides its parameters it accepts the traits {', '.join(sorted(settable))}"
            )
        self._funnel = threading.RLock()
        self._close_callbacks: list[Callable[[], object]] = []
        self._closed = True  # until fully constructed: close() (and __del__) must cope
        self._owns_source = False
        self._criteria = Criteria.of(
            kwargs.get("query", ""), kwargs.get("type_filter", ()), kwargs.get("invalid_only", 0),
            kwargs.get("warnings_only", 0),
        )
        if source is not None:
            if buffer is not None and buffer is not source.buffer:
                raise ValueError("pass either source or buffer, or a source built on that buffer")
            buffer = source.buffer
        if buffer is None:
            buffer = EventBuffer(
                max_messages=max_messages, max_bytes=max_bytes, tracking_plan=tracking_plan,
                infer_schemas=True,
            )
        elif tracking_plan is not None:
            raise ValueError("pass tracking_plan to the EventBuffer you pass as buffer")
        if source is None and url is not None:
            source = open_source(
                url,
                channels=channels if channels is not None else (
                    () if streams is not None else (DEFAULT_CHANNEL,)
                ),
                patterns=patterns,
                streams=streams,
                start=start,
                group=group,
                buffer=buffer,
            )
            self._owns_source = True
        self._buffer: EventBuffer = buffer
        self._source: Source | None = source
        self._rates = rates_attach(buffer)
        self._suggester = Suggester(buffer)
        # Attached here, not on the first person: term: the detail pane shows every selected
        # event's person, and identity warnings then cover every event from the start.
        self._people = people_attach(buffer)
        self._binding = BoundCriteria(self._people, self._funnel)  # see _view_criteria
        self._pump = Pump(
            buffer,
            self._send_message,
            throttle_ms=throttle_ms,
            max_rows_per_second=max_rows_per_second,
            on_traits=self._set_traits,
            status=self._current_status,
            criteria=self._view_criteria,
            rates=self._rates.series,
            lock=self._funnel,  # one lock: a front-end write and a delta can't wait on each other
        )
        if not frontend_built():
            log.warning("segment_debugger front end not built; the widget shows a notice. "
                        "Build it with: %s", BUILD_HINT)
        super().__init__(
            max_rows=buffer.max_messages,
            status=self._current_status(),
            stats=self._pump.current_stats(),
            **kwargs,
        )
        self._requests = Requests(
            buffer=buffer, pump=self._pump, suggester=self._suggester,
            criteria=lambda: self.criteria, send=self._send_message,
        )
        self.on_msg(self._requests.on_msg)
        self._closed = False
        registry.register(self, lambda old: old.close(reason=registry.REPLACED_REASON))
        if self.selected_seq is not None:
            self._derive_selected(self.selected_seq)
        if autostart:
            self.start()

    @classmethod
    def from_recording(cls, path: str | os.PathLike[str], **kwargs: Any) -> SegmentDebugger:
        """Show a recording (``segment-debugger record``) with no Redis at all.

        The buffer is :func:`~segment_debugger.io.recording.open_recording`'s (seq, receive
        times, channels, stream ids and gaps as recorded); the status reads
        ``recording: N events, <time range>``. ``kwargs`` go to the constructor (the traits,
        ``throttle_ms``...).
        """
        from segment_debugger.io.recording import RecordingSource

        return cls(url=None, source=RecordingSource(path), **kwargs)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the source and the flusher (idempotent; done on construction)."""
        if self._closed:
            raise RuntimeError("this SegmentDebugger is closed; create a new one")
        if self._source is not None:
            self._source.start()
        self._pump.start()

    def close(self, *, reason: str | None = None) -> None:
        """Stop the flusher and the source (joining their threads), then close the widget.

        Idempotent. A source passed in by the caller is left running: its owner stops it.
        ``reason``, when given, is shown in the status line of every view before it closes.
        Callbacks registered with :meth:`on_close` run last.
        """
        if getattr(self, "_closed", True):
            super().close()
            return
        self._closed = True
        registry.unregister(self)
        self._pump.stop()
        if self._source is not None and self._owns_source:
            self._source.stop()
        if reason is not None:
            status = dict(self._current_status(), state="stopped", reason=reason)
            self._set_traits({"status": status})
            log.info("segment_debugger: %s", reason)
        with self._funnel:
            super().close()
        callbacks, self._close_callbacks = self._close_callbacks, []
        for callback in reversed(callbacks):
            try:
                callback()
            except Exception:  # one failing cleanup must not keep the others from running
                log.exception("segment_debugger: an on_close callback failed")

    def on_close(self, callback: Callable[[], object]) -> None:
        """Run ``callback()`` once when this debugger closes, after its own threads stopped.

        Callbacks run in reverse order of registration (like ``contextlib.ExitStack``); one that
        raises is logged and the others still run. Registering on a closed debugger runs the
        callback at once.
        """
        if self._closed and hasattr(self, "_pump"):
            callback()
            return
        self._close_callbacks.append(callback)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran (the debugger cannot be started again)."""
        return bool(getattr(self, "_closed", True))

    def __enter__(self) -> SegmentDebugger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        """One line: the source's url and state, and the buffer's counts."""
        if not hasattr(self, "_pump"):  # construction failed part way
            return f"<{type(self).__name__} (not constructed)>"
        stats = self._buffer.stats
        status = self._current_status()
        return (
            f"SegmentDebugger(url={status.get('url')!r}, state={status.get('state')!r}, "
            f"buffered={stats['buffered']}, received={stats['received']}, "
            f"evicted={stats['evicted']})"
        )

    # -- Python API --------------------------------------------------------------------------

    @property
    def buffer(self) -> EventBuffer:
        """The :class:`EventBuffer` holding every received event (shared with the source)."""
        return self._buffer

    @property
    def source(self) -> Source | None:
        """The source feeding the buffer, or None when fed by hand."""
        return self._source

    @property
    def pump(self) -> Pump:
        """The flusher sending deltas to the front end (its counters help diagnose rates)."""
        return self._pump

    @property
    def criteria(self) -> Criteria:
        """What the view shows now: query, type_filter, invalid_only and warnings_only."""
        return self._criteria

    def pause(self) -> None:
        """Freeze the front end's view (sets ``paused``); the buffer keeps filling."""
        self._set_traits({"paused": True})

    def resume(self) -> None:
        """Return the front end's view to live (clears ``paused``)."""
        self._set_traits({"paused": False})

    def clear(self) -> None:
        """Empty the buffer and send the front end an empty snapshot."""
        self._pump.clear()

    def select(self, seq: int | None) -> None:
        """Select the buffered event with this seq (None clears the selection).

        Raises KeyError when no buffered event has that seq (evicted, cleared or unseen).
        """
        if seq is not None and self._buffer.get(seq) is None:
            raise KeyError(f"no buffered event has seq {seq} (evicted, cleared or not received)")
        self._set_traits({"selected_seq": seq})

    # -- the funnel: every send and trait write --------------------------------------------

    def _send_message(
        self, content: Mapping[str, Any], buffers: list[bytes] | None = None
    ) -> None:
        with self._funnel:
            self.send(dict(content), buffers=buffers)

    def _set_traits(self, values: Mapping[str, Any]) -> None:
        with self._funnel, self.hold_sync():
            for name, value in values.items():
                setattr(self, name, value)

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Apply trait values sent by the front end (under the widget's lock).

        Of the debugger's own traits only the two-way ones are accepted; a write to another
        (``selected``, ``status``...) is logged and ignored.
        """
        read_only = _READ_ONLY.intersection(sync_data)
        if read_only:
            log.warning("segment_debugger: ignored front-end writes to %s", sorted(read_only))
            sync_data = {k: v for k, v in sync_data.items() if k not in read_only}
        with self._funnel:
            super().set_state(sync_data)

    def _current_status(self) -> dict[str, Any]:
        if self._source is None:
            return {"state": "stopped", "reason": "no source: the buffer is fed directly",
                    "url": None, "since": None}
        return dict(self._source.status.as_dict())

    @traitlets.observe("query", "type_filter", "invalid_only", "warnings_only")
    def _on_criteria(self, _change: dict[str, Any]) -> None:
        """Filter in Python before thinning: the front end gets a snapshot of what matches."""
        self._criteria = Criteria.of(
            self.query, self.type_filter, self.invalid_only, self.warnings_only
        )
        if not self._closed:
            self._pump.criteria_changed()

    def _view_criteria(self) -> Criteria:
        """Return the criteria the pump filters with: ``person:`` terms bound to the graph."""
        return self._binding.bind(self._criteria)

    @traitlets.observe("selected_seq")
    def _on_selected_seq(self, change: dict[str, Any]) -> None:
        if not self._closed:
            self._derive_selected(change["new"])

    def _derive_selected(self, seq: int | None) -> None:
        """Set the read-only ``selected`` from ``selected_seq`` (None when not buffered)."""
        value = selected_value(self._buffer, self._people, seq)
        with self._funnel, self.hold_sync():
            self.set_trait("selected", value)


#: The debugger's synced traits that only Python writes.
_READ_ONLY = frozenset(SegmentDebugger.class_own_traits(sync=True)) - frozenset(
    SegmentDebugger.class_trait_names(two_way=True)
)
