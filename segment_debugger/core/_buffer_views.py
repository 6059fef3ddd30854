"""EventBuffer's hand-offs to other layers: DataFrames, Arrow, files, captures, schemas, people."""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, Any, cast

from segment_debugger.core.event import Event

if TYPE_CHECKING:
    import os

    import pandas as pd
    import polars as pl
    import pyarrow as pa

    from segment_debugger.analysis.schemas import Schemas
    from segment_debugger.core._frame_read import ReadCache
    from segment_debugger.core.buffer import BufferObserver, EventBuffer
    from segment_debugger.core.query import Criteria, Query
    from segment_debugger.io.capture import Capture


class _BufferViews:
    """The methods of :class:`~segment_debugger.core.buffer.EventBuffer` that hand its events on.

    Each imports the module it hands to when called (``analysis``, ``io``, ``core.frame``).
    """

    _lock: threading.Lock
    _events: deque[Event]
    _observers: tuple[BufferObserver, ...]
    _schemas: Schemas | None
    _frame_cache: ReadCache | None

    if TYPE_CHECKING:

        def snapshot(self) -> list[Event]: ...

    # ---- analysis (segment_debugger.analysis; imported when used) ----------------------------

    def schema_inference(self) -> Schemas:
        """Return the :class:`~segment_debugger.analysis.schemas.Schemas` learning this buffer.

        Attached on first call: it learns the events already buffered (without judging them),
        then judges and learns every appended event, adding drift warnings.
        """
        with self._lock:
            if self._schemas is None:
                from segment_debugger.analysis.schemas import Schemas

                schemas = Schemas()
                schemas.learn(tuple(self._events))
                self._schemas = schemas
                self._observers = (*self._observers, schemas)
            return self._schemas

    def schemas(self, *, freeze: bool = False) -> pd.DataFrame:
        """Return the schemas inferred from the buffered traffic: one row per (type, event, path).

        Columns ``type``, ``event``, ``path``, ``types`` (JSON types seen, most frequent first),
        ``count``, ``share`` (of that event's buffered occurrences), ``first_seen``,
        ``last_seen``. ``freeze=True`` first pins the current schema as the baseline drift is
        judged against. See :mod:`segment_debugger.analysis.schemas`.
        """
        schemas = self.schema_inference()
        if freeze:
            schemas.freeze()
        return schemas.to_frame()

    def plan_from_traffic(self, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """Return a starter tracking plan (JSON Schema per event) from the inferred schemas.

        With ``path``, also write it there (JSON, or YAML for ``.yaml``/``.yml``).
        """
        from segment_debugger.analysis.plans import plan_from_traffic, write_plan

        plan = plan_from_traffic(self.schema_inference())
        if path is not None:
            write_plan(plan, path)
        return plan

    # ---- queries and pandas ----------------------------------------------------------------

    def filter(self, query: str | Query) -> list[Event]:
        """Return the buffered events matching ``query`` (filter-language text or a Query)."""
        from segment_debugger.core.query import filter_events, parse_query

        parsed = parse_query(query) if isinstance(query, str) else query
        return filter_events(self.snapshot(), parsed)

    def query(self, query: str | Query, *, max_columns: int | None = None) -> pd.DataFrame:
        """Return the buffered events matching ``query`` as a new DataFrame (see to_pandas)."""
        from segment_debugger.core.frame import events_to_frame

        return events_to_frame(self.filter(query), max_columns=max_columns)

    def to_pandas(self, *, max_columns: int | None = None) -> pd.DataFrame:
        """Return the buffered events as a new DataFrame, one row per event, oldest first.

        The snapshot is taken under the lock, then converted outside it, so appends continue
        meanwhile; the DataFrame is a fresh object that later appends never change. Columns are
        described in :mod:`segment_debugger.core.frame`; ``max_columns`` bounds the flattened
        ``properties.*``/``traits.*``/``context.*`` columns (default ``frame.MAX_COLUMNS``).
        What pyarrow read is kept for the next call (``frame.ReadCache``), which then reads only
        the events appended since; :meth:`clear` drops it.
        """
        from segment_debugger.core.frame import ReadCache, events_to_frame

        with self._lock:
            events = list(self._events)
            cache = self._frame_cache
            if cache is None:
                cache = self._frame_cache = ReadCache()
        return events_to_frame(events, max_columns=max_columns, cache=cache)

    # ---- Arrow, polars, files, captures (the io package; imported when called) -------------

    def to_arrow(self, *, max_columns: int | None = None) -> pa.Table:
        """Return the buffered events as a new ``pyarrow.Table``: ``to_pandas()``'s columns.

        Built from a snapshot without going through pandas; types and the JSON-text fallback
        are described in :mod:`segment_debugger.io.arrow`.
        """
        from segment_debugger.io.arrow import events_to_arrow

        return events_to_arrow(self.snapshot(), max_columns=max_columns)

    def to_polars(self, *, max_columns: int | None = None) -> pl.DataFrame:
        """Return the buffered events as a new polars DataFrame (needs the ``[polars]`` extra)."""
        from segment_debugger.io.arrow import events_to_polars

        frame: pl.DataFrame = events_to_polars(self.snapshot(), max_columns=max_columns)
        return frame

    def export(self, path: str | os.PathLike[str], query: str | Query = "") -> int:
        """Write the buffered events matching ``query`` to ``path``; return how many.

        The extension names the format (``.ndjson``, ``.jsonl``, ``.ndjson.gz``, ``.parquet``,
        ``.csv``); the file appears whole or not at all. See :mod:`segment_debugger.io.export`.
        """
        from segment_debugger.io.export import export_events

        return export_events(self.filter(query), path)

    def capture(self, query: str | Query | Criteria = "") -> Capture:
        """Return a :class:`~segment_debugger.io.capture.Capture` (``with buf.capture(q) as c``)."""
        from segment_debugger.io.capture import Capture

        return Capture(cast("EventBuffer", self), query)

    # ---- people (segment_debugger.analysis.people; attached on first use) -----------------

    def person(self, id: str, *, max_columns: int | None = None) -> pd.DataFrame:
        """Return every buffered event of the person ``id`` belongs to, oldest first.

        ``id`` is a userId or an anonymousId; identities are stitched as described in
        :mod:`segment_debugger.analysis.people` (whose graph this attaches on first use).
        """
        from segment_debugger.analysis.people import attach

        return attach(cast("EventBuffer", self)).person(id, max_columns=max_columns)

    def people(self) -> pd.DataFrame:
        """Return one row per person: ids, events, first and last seen, latest traits."""
        from segment_debugger.analysis.people import attach

        return attach(cast("EventBuffer", self)).people()

