"""The debugger's read-only Python API: its buffer as DataFrames, files and captures.

:class:`BufferReads` is a mixin of :class:`~segment_debugger.widget.widget.SegmentDebugger`:
each method delegates to the buffer or the analysis attached to it, and none touches a trait,
a message or a thread, so none takes the widget's lock. The view's filter is read through
``criteria`` (the widget's).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from segment_debugger.analysis.people import People
    from segment_debugger.analysis.rates import RateCounter
    from segment_debugger.core.buffer import EventBuffer
    from segment_debugger.core.query import Criteria, Query
    from segment_debugger.io.capture import Capture

__all__ = ["BufferReads"]


class BufferReads:
    """DataFrames, export and capture over the debugger's buffer (a mixin; see module doc)."""

    # Set by the widget's constructor.
    _buffer: EventBuffer
    _people: People
    _rates: RateCounter

    if TYPE_CHECKING:

        @property
        def criteria(self) -> Criteria: ...  # noqa: D102  (the widget's)

    def to_pandas(self) -> pd.DataFrame:
        """Return every buffered event as a new DataFrame (a snapshot; see EventBuffer)."""
        return self._buffer.to_pandas()

    def filtered(self) -> pd.DataFrame:
        """Return, as a new DataFrame, exactly the events the front end shows (:attr:`criteria`)."""
        from segment_debugger.core.frame import events_to_frame
        from segment_debugger.widget.view import shown_events

        return events_to_frame(shown_events(self._buffer, self.criteria))

    def export(self, path: str | os.PathLike[str], *, filtered: bool = True) -> int:
        """Write exactly :meth:`filtered`'s events (every buffered one if not ``filtered``).

        The extension names the format; returns how many events were written. See
        :meth:`EventBuffer.export` and :mod:`segment_debugger.io.export`.
        """
        from segment_debugger.io.export import export_events
        from segment_debugger.widget.view import shown_events

        if not filtered:
            return export_events(self._buffer.snapshot(), path)
        return export_events(shown_events(self._buffer, self.criteria), path)

    def capture(self, query: str | Query | Criteria = "") -> Capture:
        """Capture the events matching ``query`` that arrive in a ``with`` block (for tests).

        ``query`` alone decides (not the view's filter); see :meth:`EventBuffer.capture`.
        """
        return self._buffer.capture(query)

    def person(self, id: str) -> pd.DataFrame:
        """Return every buffered event of the person ``id`` belongs to (see EventBuffer)."""
        return self._buffer.person(id)

    def people(self) -> pd.DataFrame:
        """Return one row per person in the buffer (see :meth:`EventBuffer.people`)."""
        return self._buffer.people()

    def rates(self) -> pd.DataFrame:
        """Return events received per second and type, the last 60 s (the header's sparklines).

        Indexed by second (UTC), one column per Segment type plus ``unknown``, zeros filled;
        arrivals are counted (evictions and ``clear()`` do not change them). See
        :mod:`segment_debugger.analysis.rates`.
        """
        return self._rates.to_frame()

    def schemas(self, *, freeze: bool = False) -> pd.DataFrame:
        """Return the schemas inferred from traffic (see :meth:`EventBuffer.schemas`)."""
        return self._buffer.schemas(freeze=freeze)

    def plan_from_traffic(self, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """Return a starter tracking plan from traffic (see EventBuffer.plan_from_traffic)."""
        return self._buffer.plan_from_traffic(path)
