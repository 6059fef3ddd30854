"""The hot path of :class:`~.schemas.Schemas`: learning and forgetting events' shapes.

:class:`SchemaCounts` keeps, per (type, event name), the counts :mod:`.schemas` describes, in
step with the events appended and evicted. Most events cost a few dictionary lookups: an
event whose (type, name, shape: its group's keys and value types) maps to a *settled*
signature — one whose events cannot drift until something they depend on changes, see
:meth:`SchemaCounts._settle` — is counted on that signature alone (a :class:`~._drift._Sig`),
and the per-path counts catch up (:func:`~._drift.flush`) only before they are read. Other
events are judged (:func:`~._drift.judge`) and counted path by path.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from segment_debugger.analysis._drift import (
    _TYPES,
    ESTABLISHED_SHARE,
    Key,
    Signature,
    _Baseline,
    _Path,
    _Schema,
    _Sig,
    flush,
    judge,
)
from segment_debugger.core.event import Event

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
#: type -> (the field naming the event or None, the group learnt): the types with a group
_KINDS = {typ: (_NAME_OF.get(typ), group) for typ, group in _GROUP_OF.items()}
_NONE: frozenset[str] = frozenset()
_EMPTY: tuple[Signature, frozenset[str]] = ((), _NONE)
#: A group's keys and value types (and those of the objects in it: see _nested_shape); () for
#: an event without one.
Shape = tuple[Any, ...]


class SchemaCounts:
    """The counts of :class:`~.schemas.Schemas`, learnt and forgotten (call under its lock).

    Subclasses set the thresholds ``new_after``, ``missing_after`` and ``min_established``.
    """

    new_after: int
    missing_after: int
    min_established: int

    def __init__(self) -> None:
        self._schemas: dict[Key, _Schema] = {}
        # seq -> what the event added, to forget it on eviction: its _Sig, or (key, signature,
        # drifted paths) for an event with drift
        self._seen: dict[int, _Sig | tuple[Key, Signature, frozenset[str]]] = {}
        # interned: events share them; with the set of their paths, for judging
        self._signatures: dict[Signature, tuple[Signature, frozenset[str]]] = {}
        # (group, shape) -> its interned signature
        self._shapes: dict[tuple[str, Shape], tuple[Signature, frozenset[str]]] = {}
        # (type, name, *shape) -> the settled signature record of events of that shape
        self._fast: dict[tuple[Any, ...], _Sig] = {}
        self._baseline: dict[Key, _Baseline] | None = None

    def _forget_all(self) -> None:
        """Forget every event (the baseline, if frozen, stays)."""
        self._schemas.clear()
        self._seen.clear()
        self._signatures.clear()
        self._shapes.clear()
        self._fast.clear()

    def _forget_events(self, evicted: Sequence[Event]) -> None:
        """Forget evicted events: most only take one from their signature's count."""
        seen = self._seen
        for event in evicted:
            sig = seen.pop(event.seq, None)
            if sig.__class__ is _Sig and sig.live > 1:  # type: ignore[union-attr]
                # its paths and types stay counted (by the rest): nothing reaches zero
                sig.live -= 1  # type: ignore[union-attr]
                sig.pending -= 1  # type: ignore[union-attr]
                schema = sig.schema  # type: ignore[union-attr]
                schema.occurrences -= 1
                schema.ops += 1
                if not sig.dirty:  # type: ignore[union-attr]
                    sig.dirty = True  # type: ignore[union-attr]
                    schema.dirty.append(sig)  # type: ignore[arg-type]
            elif sig is not None:
                self._forget(sig)

    def _learn(self, events: Sequence[Event], judge: bool) -> None:
        """Learn ``events`` (judging each first if ``judge``): the hot path, one loop.

        An event whose (type, name, shape) maps to a settled signature is only counted on it
        (see :meth:`_settle`); the others take :meth:`_learn_shaped`.
        """
        seen, fast = self._seen, self._fast
        settle = self._baseline is None  # frozen: every event is judged against the baseline
        for event in events:
            typ = event.type
            seq = event.seq
            if typ is None or seq in seen:
                continue
            kind = _KINDS.get(typ)
            if kind is None:
                name = group_name = group = None
                found: tuple[Any, ...] = (typ, None)
            else:
                name_field, group_name = kind
                name = getattr(event, name_field) if name_field else None
                group = event.traits if group_name == "traits" else event.properties
                # (type, name, *shape): one tuple. (*map(...),), not tuple(map(...)): that one
                # is resized, which leaves the collector's allocation count one higher each
                # few events and sets off a collection every ~2,000 events
                found = (
                    (typ, name, tuple(group), (*map(type, group.values()),)) if group
                    else (typ, name)
                )
            sig = fast.get(found)
            if sig is not None and sig.live and settle:  # (live: still the schema's)
                schema = sig.schema
                if sig.version == schema.version and schema.ops <= sig.until:
                    # Settled: judged before, and nothing that could make it drift has
                    # changed. No warning; counted on the signature, added to its paths when
                    # they are read.
                    schema.occurrences += 1
                    schema.ops += 1
                    sig.live += 1
                    sig.pending += 1
                    at = event.received_at
                    if at > sig.last_seen:
                        sig.last_seen = at
                    if not sig.dirty:
                        sig.dirty = True
                        schema.dirty.append(sig)
                    seen[seq] = sig
                    continue
            self._learn_shaped(event, (typ, name), group_name, group, found[2:], judge)

    def _learn_shaped(
        self, event: Event, key: Key, group_name: str | None, group: dict[str, Any] | None,
        shape: Shape | None, judge: bool,
    ) -> None:
        """Learn one event the fast table missed: counted on its signature if settled.

        Else judged (if ``judge``) and learnt in full.
        """
        signature, present = _EMPTY
        if group:
            assert group_name is not None and shape
            if len(group) >= MAX_PATHS:
                shape = None  # walked (and cut) each time: not looked up by shape
            elif dict in shape[1]:
                shape = _nested_shape(group, shape)
                found = None if shape is None else self._fast.get((*key, *shape))
                if (
                    found is not None and found.live and self._baseline is None
                    and found.version == found.schema.version
                    and found.schema.ops <= found.until
                ):
                    self._count_settled(event, found)
                    return
            signature, present = self._signature(group_name, group, shape)
        schema = self._schemas.get(key)
        if schema is None:
            schema = self._schemas[key] = _Schema()
        sig = schema.sigs.get(id(signature))
        if not (
            sig is not None and sig.version == schema.version and schema.ops <= sig.until
            and self._baseline is None
        ):
            sig = self._learn_one(event, key, schema, signature, present, sig, judge)
            if sig is None or sig.version != schema.version:
                return  # drifted, or not settled
        else:
            self._count_settled(event, sig)
        if shape is not None:  # next time, found by its shape
            fast = self._fast
            if len(fast) >= MAX_SIGNATURES:
                fast.clear()
            fast_key = (*key, *shape)
            fast[fast_key] = sig

    def _count_settled(self, event: Event, sig: _Sig) -> None:
        """Count ``event`` on its settled signature (as :meth:`_learn` does inline)."""
        schema = sig.schema
        schema.occurrences += 1
        schema.ops += 1
        sig.live += 1
        sig.pending += 1
        if event.received_at > sig.last_seen:
            sig.last_seen = event.received_at
        if not sig.dirty:
            sig.dirty = True
            schema.dirty.append(sig)
        self._seen[event.seq] = sig

    def _learn_one(
        self, event: Event, key: Key, schema: _Schema, signature: Signature,
        present: frozenset[str], sig: _Sig | None, judge: bool,
    ) -> _Sig | None:
        """Judge (if ``judge``) and learn one event in full, then settle its signature.

        Return the event's signature record (None: the event drifted).
        """
        seq, at = event.seq, event.received_at
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
            return None
        if sig is None:
            sig = schema.sigs[id(signature)] = _Sig(signature, key, schema)
        sig.live += 1
        self._seen[seq] = sig
        if judge:
            self._settle(schema, sig, present)
        return sig

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
        sig.version = -1  # until shown settled again
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
        self, group_name: str, group: dict[str, Any], shape: Shape | None
    ) -> tuple[Signature, frozenset[str]]:
        """Return the (path, JSON type) pairs of ``group`` and the set of its paths, interned.

        Looked up by the group's ``shape`` (see :func:`_nested_shape`) when it has one,
        without walking it: most events of a name share one shape.
        """
        if shape is not None:
            known = self._shapes.get((group_name, shape))
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
            self._shapes[(group_name, shape)] = interned
        return interned

    def _forget(self, seen: _Sig | tuple[Key, Signature, frozenset[str]]) -> None:
        """Forget one evicted event in full (its signature's last, or one with drift)."""
        drifted: frozenset[str] | None
        if isinstance(seen, _Sig):
            sig = seen
            schema = sig.schema
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


def _nested_shape(group: dict[str, Any], shape: Shape) -> Shape | None:
    """Extend a group's ``shape`` with the keys and value types of the objects in it.

    None when one of them holds an object or too many keys: such a group is walked each time.
    """
    inner = []
    for value in group.values():
        if value.__class__ is dict:
            kinds = (*map(type, value.values()),)  # (not resized: see _learn)
            if dict in kinds or len(value) >= MAX_PATHS:
                return None
            inner.append((tuple(value), kinds))
    return (*shape, tuple(inner))


def _walk(obj: dict[str, Any], prefix: str, depth: int, out: list[tuple[str, str]]) -> None:
    for key, value in obj.items():
        path = f"{prefix}.{key}"
        kind = _TYPES.get(type(value), "string")
        out.append((path, kind))
        if len(out) >= MAX_PATHS:
            return
        if kind == "object" and depth < MAX_DEPTH and value:
            _walk(value, path, depth + 1, out)
