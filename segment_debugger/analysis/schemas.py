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

import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from segment_debugger.analysis._drift import (
    _TYPES,
    ESTABLISHED_SHARE,
    MAX_WARNINGS,  # noqa: F401
    Key,
    Signature,
    _Baseline,
    _Path,
    _Schema,
    _Sig,
    established_type,
    flush,
    json_type,
    judge,
)
from segment_debugger.core.event import Event

if TYPE_CHECKING:
    import pandas as pd

    from segment_debugger.core.buffer import EventBuffer

__all__ = ["Schemas", "attach", "json_type"]

#: Paths deeper than this are not followed (the object at this depth is one value).
MAX_DEPTH = 8
#: At most this many paths are learned per event (hostile payloads).
MAX_PATHS = 500
#: At most this many distinct signatures (path and type lists) are interned (then forgotten).
MAX_SIGNATURES = 10_000

_GROUP_OF = {
    "track": "properties",
    "page": "properties",
    "screen": "properties",
    "identify": "traits",
    "group": "traits",
}
_NAME_OF = {"track": "event", "page": "name", "screen": "name"}
_NONE: frozenset[str] = frozenset()


class Schemas:
    """Schemas learned from a buffer's events, and drift warnings (see the module docstring)."""

    def __init__(
        self, *, new_after: int = 20, missing_after: int = 100, min_established: int = 5
    ) -> None:
        self.new_after = new_after
        self.missing_after = missing_after
        self.min_established = min_established
        self._lock = threading.Lock()
        self._schemas: dict[Key, _Schema] = {}
        # seq -> what the event added, to forget it on eviction: its _Sig, or (key, signature,
        # drifted paths) for an event with drift
        self._seen: dict[int, _Sig | tuple[Key, Signature, frozenset[str]]] = {}
        # interned: events share them; with the set of their paths, for judging
        self._signatures: dict[Signature, tuple[Signature, frozenset[str]]] = {}
        # (group, keys, value types) of a flat group -> its interned signature
        self._shapes: dict[tuple[str, tuple[str, ...], tuple[type, ...]],
                           tuple[Signature, frozenset[str]]] = {}
        self._baseline: dict[Key, _Baseline] | None = None

    # ---- BufferObserver ----------------------------------------------------------------------

    def appended(self, events: Sequence[Event], evicted: Sequence[Event]) -> None:
        """Judge and learn each appended event, then forget the evicted ones."""
        with self._lock:
            for event in events:
                self._learn(event, judge=True)
            for event in evicted:
                self._forget(event.seq)

    def learn(self, events: Sequence[Event]) -> None:
        """Learn already-buffered events without judging them (attaching to a full buffer)."""
        with self._lock:
            for event in events:
                self._learn(event, judge=False)

    def cleared(self) -> None:
        """Forget everything learned (the baseline, if frozen, stays)."""
        with self._lock:
            self._schemas.clear()
            self._seen.clear()
            self._signatures.clear()
            self._shapes.clear()

    # ---- learning ----------------------------------------------------------------------------

    def _learn(self, event: Event, *, judge: bool) -> None:
        typ = event.type
        seq = event.seq
        if typ is None or seq in self._seen:
            return
        name_field = _NAME_OF.get(typ)
        key: Key = (typ, getattr(event, name_field) if name_field else None)
        group_name = _GROUP_OF.get(typ)
        signature: Signature = ()
        present: frozenset[str] = _NONE
        if group_name is not None:
            group = event.traits if group_name == "traits" else event.properties
            if group:
                signature, present = self._signature(group_name, group)
        schema = self._schemas.get(key)
        if schema is None:
            schema = self._schemas[key] = _Schema()
        at = event.received_at
        sig = schema.sigs.get(id(signature))
        if (
            sig is not None and sig.version == schema.version and schema.ops <= sig.until
            and self._baseline is None
        ):
            # Settled: judged before, and nothing that could make it drift has changed. No
            # warning; counted on the signature, added to its paths when they are read.
            schema.occurrences += 1
            schema.ops += 1
            sig.live += 1
            sig.pending += 1
            if at > sig.last_seen:
                sig.last_seen = at
            if not sig.dirty:
                sig.dirty = True
                schema.dirty.append(sig)
            self._seen[seq] = sig
            return
        if schema.dirty:
            flush(schema)
        drifted = (
            self._judge(event, key, schema, signature, present)
            if judge and schema.occurrences
            else None
        )
        schema.occurrences += 1
        schema.ops += 1
        paths = schema.paths
        for path, kind in signature:
            stats = paths.get(path)
            if stats is None:
                stats = paths[path] = _Path(first_seen=at)
                schema.version += 1
            stats.count += 1
            types = stats.types
            n = types.get(kind)
            if n is None:
                types[kind] = 1
                schema.version += 1
            else:
                types[kind] = n + 1
            if not drifted or path not in drifted:
                clean = stats.clean
                n = clean.get(kind)
                if n is None:
                    clean[kind] = 1
                    schema.version += 1
                else:
                    clean[kind] = n + 1
            if at > stats.last_seen:
                stats.last_seen = at
        if drifted:
            self._seen[seq] = (key, signature, drifted)
            return
        if sig is None:
            sig = schema.sigs[id(signature)] = _Sig(signature, key, schema)
        sig.live += 1
        self._seen[seq] = sig
        if judge:
            self._settle(schema, sig, present)

    def _settle(self, schema: _Schema, sig: _Sig, present: frozenset[str]) -> None:
        """Mark ``sig`` settled: its events cannot drift while the version and the margin last.

        Each path of the signature has seen one type only outside drift, this signature's (or
        the value is null, already counted), so no type drifts and no path is new: that
        depends on which paths and types are counted, not on the counts, and anything that
        changes it (a path added or removed, a type appearing in or leaving a path's counts)
        bumps the version. A path the schema holds and the signature lacks could be reported
        missing once it is in 95 % of the occurrences: each event learnt or forgotten moves
        its share by less than one event's worth, so the signature stays settled for as many
        of them as keep every such path clear of that (or the occurrences below
        ``missing_after``), counted in ``schema.ops``.
        """
        paths = schema.paths
        if self._baseline is not None:
            return
        signature = sig.signature
        for path, kind in signature:
            stats = paths.get(path)
            if stats is None:
                return
            clean = stats.clean
            if kind not in clean or (kind != "null" and len(clean) != 1):
                return  # (a type in ``clean`` is in ``types`` too: counted there first)
        room = sys.maxsize
        if len(paths) > len(signature):
            occurrences = schema.occurrences
            below = self.missing_after - 1 - occurrences  # ops before the check can apply
            worst = sys.maxsize
            for path, stats in paths.items():
                if path not in present:
                    parent = path.rpartition(".")[0]
                    if parent in present or parent in ("properties", "traits"):
                        # ops until its share could reach 95 %: each moves the margin
                        # (95 % of the occurrences - its count) by at most 0.95
                        margin = ESTABLISHED_SHARE * occurrences - stats.count
                        worst = min(worst, int((margin - 0.5) // ESTABLISHED_SHARE))
            room = max(below, worst)
            if room < 0:
                return
        sig.version = schema.version
        sig.until = schema.ops + room

    def _signature(
        self, group_name: str, group: dict[str, Any]
    ) -> tuple[Signature, frozenset[str]]:
        """Return the (path, JSON type) pairs of ``group`` and the set of its paths, interned.

        A group whose objects hold no objects is looked up by its keys and value types (and
        those of the objects in it), without walking it: most events of a name share one
        shape.
        """
        shape: tuple[Any, ...] | None = None
        if len(group) < MAX_PATHS:
            kinds = tuple(map(type, group.values()))
            if dict not in kinds:
                shape = (group_name, tuple(group), kinds)
            else:
                inner = []
                for value in group.values():
                    if value.__class__ is dict:
                        value_kinds = tuple(map(type, value.values()))
                        if dict in value_kinds or len(value) >= MAX_PATHS:
                            break
                        inner.append((tuple(value), value_kinds))
                else:
                    shape = (group_name, tuple(group), kinds, tuple(inner))
            if shape is not None:
                known = self._shapes.get(shape)
                if known is not None:
                    return known
        pairs: list[tuple[str, str]] = []
        _walk(group, group_name, 1, pairs)
        signature = tuple(pairs)
        interned = self._signatures.get(signature)
        if interned is None:
            if len(self._signatures) >= MAX_SIGNATURES:  # hostile traffic: stay bounded
                self._signatures.clear()
                self._shapes.clear()
            interned = (signature, frozenset(path for path, _ in signature))
            self._signatures[signature] = interned
        if shape is not None:
            self._shapes[shape] = interned
        return interned

    def _forget(self, seq: int) -> None:
        seen = self._seen.pop(seq, None)
        if seen is None:
            return
        drifted: frozenset[str] | None
        if seen.__class__ is _Sig:
            sig: _Sig = seen  # type: ignore[assignment]
            schema = sig.schema
            if sig.live > 1:  # its paths and types stay counted: nothing can reach zero
                sig.live -= 1
                sig.pending -= 1
                schema.occurrences -= 1
                schema.ops += 1
                if not sig.dirty:
                    sig.dirty = True
                    schema.dirty.append(sig)
                return
            key, signature, drifted = sig.key, sig.signature, None
            if schema.dirty:
                flush(schema)
            sig.live = 0
            del schema.sigs[id(signature)]
        else:
            key, signature, drifted = seen  # type: ignore[misc]
            schema = self._schemas[key]
            if schema.dirty:
                flush(schema)
        schema.occurrences -= 1
        schema.ops += 1
        paths = schema.paths
        for path, kind in signature:
            stats = paths[path]
            stats.count -= 1
            types = stats.types
            left = types[kind] - 1  # inlined: this loop runs per path per event
            if left:
                types[kind] = left
            else:
                del types[kind]
                schema.version += 1
            if not drifted or path not in drifted:
                clean = stats.clean
                left = clean[kind] - 1
                if left:
                    clean[kind] = left
                else:
                    del clean[kind]
                    schema.version += 1
            if not stats.count:
                del paths[path]
                schema.version += 1
        if not schema.occurrences:
            del self._schemas[key]

    def _flush_all(self) -> None:
        """Bring every schema's per-path counts up to date (call under ``_lock``)."""
        for schema in self._schemas.values():
            if schema.dirty:
                flush(schema)

    def _judge(
        self, event: Event, key: Key, schema: _Schema, signature: Signature,
        present: frozenset[str],
    ) -> frozenset[str] | None:
        """Add drift warnings to ``event``; return the paths whose type drifted (None: none)."""
        return judge(
            event, key, schema, None if self._baseline is None else self._baseline.get(key),
            signature, present, self.new_after, self.missing_after, self.min_established,
        )

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


def _walk(obj: dict[str, Any], prefix: str, depth: int, out: list[tuple[str, str]]) -> None:
    for key, value in obj.items():
        path = f"{prefix}.{key}"
        kind = _TYPES.get(type(value), "string")
        out.append((path, kind))
        if len(out) >= MAX_PATHS:
            return
        if kind == "object" and depth < MAX_DEPTH and value:
            _walk(value, path, depth + 1, out)
