"""Schemas inferred from traffic, and drift (a :class:`~.core.buffer.BufferObserver`).

Per (type, event name) — the ``event`` of a track call, the ``name`` of a page or screen call,
None for the others — :class:`Schemas` counts, over the buffered events, the property paths
seen (``properties.*`` for track/page/screen, ``traits.*`` for identify/group, nested objects
with dots; arrays are a value, not descended into), the JSON types seen for each (``string``,
``number``, ``boolean``, ``object``, ``array``, ``null``), how many events hold each path, and
when it was first and last seen. Learning starts from what is buffered when it is attached,
and evicted or cleared events are forgotten: the counts always equal a recount of the buffer.

Drift, added to ``event.warnings`` as an event is appended (the event stays valid):

- **type**: a path whose JSON type differs from its established type: the type of at least
  95 % of its earlier occurrences that were not themselves drift (at least
  :attr:`Schemas.min_established` of them), or the frozen baseline's. So once ``price`` is
  established as a number, every string ``price`` is flagged, not only the first; once the
  numbers have all left the buffer, the new type is learned. ``null`` is never drift.
- **new property**: a path never seen on an event name already seen at least ``new_after``
  times (default 20).
- **missing property**: a path present in at least 95 % of the last ``missing_after`` or more
  occurrences (default 100) that this event lacks.

Nested paths are reported at the shallowest level (a new object is one new property, not one
per key inside it). :meth:`Schemas.freeze` pins the current schema as the baseline: drift is
then judged against it instead of the moving counts.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from segment_debugger.analysis._drift import (
    ESTABLISHED_SHARE,  # noqa: F401 (still importable from here)
    MAX_WARNINGS,  # noqa: F401
    Key,
    _Baseline,
    established_type,
    json_type,
)
from segment_debugger.analysis._learning import (  # noqa: F401 (still importable from here)
    MAX_DEPTH,
    MAX_PATHS,
    MAX_SIGNATURES,
    SchemaCounts,
)
from segment_debugger.core.event import Event

if TYPE_CHECKING:
    import pandas as pd

    from segment_debugger.core.buffer import EventBuffer

__all__ = ["Schemas", "attach", "json_type"]


class Schemas(SchemaCounts):
    """Schemas learned from a buffer's events, and drift warnings (see the module docstring)."""

    def __init__(
        self, *, new_after: int = 20, missing_after: int = 100, min_established: int = 5
    ) -> None:
        super().__init__()
        self.new_after = new_after
        self.missing_after = missing_after
        self.min_established = min_established
        self._lock = threading.Lock()

    # ---- BufferObserver ----------------------------------------------------------------------

    def appended(self, events: Sequence[Event], evicted: Sequence[Event]) -> None:
        """Judge and learn each appended event, then forget the evicted ones."""
        with self._lock:
            self._learn(events, True)
            self._forget_events(evicted)

    def learn(self, events: Sequence[Event]) -> None:
        """Learn already-buffered events without judging them (attaching to a full buffer)."""
        with self._lock:
            self._learn(events, False)

    def cleared(self) -> None:
        """Forget everything learned (the baseline, if frozen, stays)."""
        with self._lock:
            self._forget_all()

    # ---- reading -----------------------------------------------------------------------------

    def freeze(self) -> None:
        """Pin the current schema as the baseline drift is judged against (until unfrozen)."""
        with self._lock:
            self._flush_all()
            self._baseline = {
                key: _Baseline(
                    occurrences=schema.occurrences,
                    types={
                        p: established_type(s, self.min_established)
                        for p, s in schema.paths.items()
                    },
                    shares={p: s.count / schema.occurrences for p, s in schema.paths.items()},
                )
                for key, schema in self._schemas.items()
            }

    def unfreeze(self) -> None:
        """Judge drift against the moving counts again."""
        with self._lock:
            self._baseline = None

    @property
    def frozen(self) -> bool:
        """Whether a baseline is pinned."""
        return self._baseline is not None

    def occurrences(self, typ: str, name: str | None) -> int:
        """Buffered events of this (type, name)."""
        with self._lock:
            schema = self._schemas.get((typ, name))
            return 0 if schema is None else schema.occurrences

    def paths_by_event(self) -> dict[Key, dict[str, tuple[dict[str, int], int]]]:
        """(type, name) -> path without its group prefix -> (count per type, events)."""
        with self._lock:
            self._flush_all()
            out: dict[Key, dict[str, tuple[dict[str, int], int]]] = {}
            for key, schema in self._schemas.items():
                out[key] = {
                    path.partition(".")[2]: (dict(stats.types), stats.count)
                    for path, stats in schema.paths.items()
                }
            return out

    def rows(self) -> list[dict[str, Any]]:
        """One dict per (type, event, path): see :meth:`to_frame`."""
        with self._lock:
            self._flush_all()
            rows = []
            for (typ, name), schema in self._schemas.items():
                for path, stats in schema.paths.items():
                    rows.append({
                        "type": typ,
                        "event": name,
                        "path": path,
                        "types": sorted(stats.types, key=lambda k: (-stats.types[k], k)),
                        "count": stats.count,
                        "share": stats.count / schema.occurrences,
                        "first_seen": stats.first_seen,
                        "last_seen": stats.last_seen,
                    })
        rows.sort(key=lambda r: (r["type"], r["event"] or "", r["path"]))
        return rows

    def to_frame(self) -> pd.DataFrame:
        """Return a new DataFrame, one row per (type, event, path).

        Columns: ``type``, ``event``, ``path``, ``types`` (most frequent first), ``count``,
        ``share`` (of that event's buffered occurrences), ``first_seen`` (since learning
        started) and ``last_seen`` (UTC).
        """
        import pandas as pd

        frame: pd.DataFrame = pd.DataFrame(
            self.rows(),
            columns=["type", "event", "path", "types", "count", "share", "first_seen",
                     "last_seen"],
        )
        for column in ("first_seen", "last_seen"):
            frame[column] = pd.to_datetime(
                frame[column].astype("float64"), unit="s", utc=True
            )
        return frame


def attach(buffer: EventBuffer) -> Schemas:
    """Return the buffer's :class:`Schemas`, attaching one (learning what is buffered) if none."""
    return buffer.schema_inference()
