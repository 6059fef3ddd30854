"""People: identity stitching over the buffered events (who is who, kept in step on ingest).

Rules. The ``userId`` and ``anonymousId`` of one event belong to one person; an ``alias`` joins
its ``previousId`` to its ``userId``. Two different userIds are never merged (Segment's default
identity resolution, one userId per profile): an id already linked to one userId and seen with
a second one (a shared device) stays with the first person, and the event that tried to join
them gets a warning naming both userIds. "First" means the oldest buffered event linking that
id. An id is a userId when some buffered event has it as ``userId``; such an id is never
owned by another person. An event belongs to the person of its ``userId``, else of its
``anonymousId``.

Shape. Under these rules every person is a star: one userId and the other ids linked to it (or
one lone anonymousId). So :class:`IdentityGraph` keeps, per id, only counts: how many buffered
events carry each userId and each anonymousId, and for each linked id the userIds of the
buffered events linking it, oldest first, run-length encoded (``[[userId, events], ...]``; its
owner is the first run's userId). Eviction only ever removes the oldest event, which holds the
first run's oldest link: forgetting is a decrement, and an id no buffered event carries is
dropped. Memory follows the buffer's cap; ingest costs a few dict operations per event.
Persons, conflicts and frames are computed when asked (:class:`People`), cached until the
next change.

Warnings are decided as each event is appended, with what is known then: the events that
stay buffered and the batch up to that event (an id that only later turns out to be a
userId is reported in ``conflicts``, not warned about after the fact). ``conflicts`` (in
:meth:`People.people` and ``person(id).attrs``) always describes the buffer as it is now.

Entry points: ``buf.person(id)`` / ``buf.people()`` (and the widget's ``dbg.person`` /
``dbg.people``) call :func:`attach`, which registers the graph as the buffer's observer the
first time, built from what is buffered then (those events get their warnings then), and
returns the same :class:`People` after. Queries read the buffer and the graph at one point
(retrying while a batch lands, else stitching the snapshot on its own).

The filter language's ``person:ID`` (:mod:`segment_debugger.core.query`) needs, per ID, the
ids of its person: :meth:`People.resolve` answers from the attached graph (what the widget
sends its front end), :func:`persons_among` from a list of events alone (what
``filter_events`` uses on a snapshot). An event is the person's when its ``userId``, or its
``anonymousId`` when it has none, is one of them: exactly :meth:`People.person`'s events.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from segment_debugger.analysis._identity import IdentityGraph, Persons, conflict_text
from segment_debugger.core.event import Event
from segment_debugger.core.frame import (
    epoch_seconds_to_utc,
    events_to_frame,
    object_array,
    text_column,
)

if TYPE_CHECKING:
    from segment_debugger.core.buffer import EventBuffer

__all__ = [
    "PEOPLE_COLUMNS", "IdentityGraph", "People", "Persons", "attach", "conflict_text",
    "persons_among",
]

#: The columns of :meth:`People.people` before the flattened ``traits.*`` ones.
PEOPLE_COLUMNS: tuple[str, ...] = (
    "person", "user_ids", "anonymous_ids", "events", "first_seen", "last_seen", "conflicts",
)

#: How many times a query retries reading the buffer and the graph at the same point.
_READ_ATTEMPTS = 3


class People:
    """Person queries over one buffer (see the module docstring); use :func:`attach`."""

    def __init__(self, buffer: EventBuffer) -> None:
        # Weakly: attach()'s registry is keyed weakly by the buffer, and a value holding its
        # key would keep every buffer (and each debugger's events) alive for good.
        self._buffer_ref = weakref.ref(buffer)
        self.graph = IdentityGraph()
        """The graph, kept in step with ``buffer`` by the buffer (an observer)."""
        self._cached: tuple[int, pd.DataFrame] | None = None
        buffer.add_observer(self.graph, replay=True)

    @property
    def _buffer(self) -> EventBuffer:
        buffer = self._buffer_ref()
        if buffer is None:
            raise RuntimeError("the buffer of these People was garbage-collected")
        return buffer

    def _read(self) -> tuple[list[Event], Persons, int]:
        """Read the buffer and the graph at the same point: (events, persons, version)."""
        graph = self.graph
        for _ in range(_READ_ATTEMPTS):
            events = self._buffer.snapshot()
            with graph.lock:
                last = events[-1].seq if events else graph.last_seq
                if graph.count == len(events) and graph.last_seq == last:
                    return events, graph.persons(), graph.version
        # Still appending fast: stitch this snapshot on its own (the same rules, warnings aside).
        private = IdentityGraph(warn=False)
        private.appended(events, ())
        return events, private.persons(), -1

    def person(self, id: str, *, max_columns: int | None = None) -> pd.DataFrame:
        """Return every buffered event of the person ``id`` belongs to, oldest first.

        ``id`` is a userId, an anonymousId or an alias's previousId. The frame is
        :func:`~segment_debugger.core.frame.events_to_frame`'s (a fresh object), empty for an
        id no buffered event carries; ``frame.attrs`` holds ``person``, ``user_ids``,
        ``anonymous_ids`` and ``conflicts``.
        """
        events, persons, _ = self._read()
        key = persons.owner.get(id)
        mine = [] if key is None else [e for e in events if persons.key_of(e) == key]
        frame = events_to_frame(mine, max_columns=max_columns)
        ids = _ids_by_person(mine, persons).get(key, {}) if key is not None else {}
        frame.attrs.update(
            person=key,
            user_ids=[key] if key in persons.users else [],
            anonymous_ids=[i for i in ids if i not in persons.users],
            conflicts=list(persons.conflicts.get(key, ())) if key is not None else [],
        )
        return frame

    def resolve(self, ids: Iterable[str]) -> tuple[int, dict[str, frozenset[str]]]:
        """Return the graph's version and, per id, every id of its person (empty: unknown).

        The sets ``person:ID`` terms are bound to (see
        :meth:`~segment_debugger.core.query.Query.bind_persons`); one read of the graph.
        """
        graph = self.graph
        with graph.lock:
            return graph.version, {i: graph.person_of(i)[1] for i in ids}

    def snapshot_persons(
        self, ids: Iterable[str]
    ) -> tuple[list[Event], dict[str, frozenset[str]]]:
        """Return the buffer's snapshot and, per id, every id of its person among those events.

        Read from the attached graph at the same point as the snapshot (no stitching: what
        :func:`persons_among` would answer for that snapshot, without rebuilding a graph);
        while appends keep the two apart, the snapshot is stitched on its own.
        """
        ids = tuple(ids)
        graph = self.graph
        for _ in range(_READ_ATTEMPTS):
            events = self._buffer.snapshot()
            with graph.lock:
                last = events[-1].seq if events else graph.last_seq
                if graph.count == len(events) and graph.last_seq == last:
                    return events, {i: graph.person_of(i)[1] for i in ids}
        return events, persons_among(events, ids)

    def summary(self, event: Event) -> dict[str, Any] | None:
        """Describe the person ``event`` belongs to, for the detail pane; None: nobody's.

        ``{"person": key, "user_ids": [...], "anonymous_ids": [...], "events": n}``: the key
        and ids as in :meth:`people` (anonymous ids in the order first buffered), ``events``
        the person's buffered events now. None for an event with neither userId nor
        anonymousId, or no longer buffered.
        """
        found = event.userId or event.anonymousId
        if type(found) is not str or not found:
            return None
        graph = self.graph
        with graph.lock:
            key, ids = graph.person_of(found)
            users = {i for i in ids if i in graph.users}
        if key is None:
            return None
        mine = 0
        order: dict[str, None] = {}
        for other in self._buffer.snapshot():
            if (other.userId or other.anonymousId) in ids:
                mine += 1
                for i in (other.anonymousId,
                          other.previousId if other.type == "alias" else None):
                    if i in ids and i not in users:
                        order[i] = None
        return {"person": key, "user_ids": sorted(users), "anonymous_ids": list(order),
                "events": mine}

    def people(self) -> pd.DataFrame:
        """Return one row per person, in the order of their oldest buffered event.

        Columns: ``person`` (its key: the userId, or the anonymousId of an anonymous person),
        ``user_ids`` and ``anonymous_ids`` (lists, in the order first buffered; alias
        previousIds count as anonymous ids), ``events``, ``first_seen`` and ``last_seen``
        (receive times, UTC), ``conflicts`` (readable attempts to join the person with
        another userId), then the person's latest traits flattened to ``traits.*`` columns
        (the traits of its identify calls merged, newer values winning). A fresh object.
        """
        events, persons, version = self._read()
        cached = self._cached
        if cached is None or cached[0] != version or version < 0:
            cached = (version, _people_frame(events, persons))
            if version >= 0:
                self._cached = cached
        fresh: pd.DataFrame = cached[1].copy()
        return fresh


def _ids_by_person(events: Sequence[Event], persons: Persons) -> dict[str, dict[str, None]]:
    """Map each person key to its ids in the order first buffered (dicts as ordered sets)."""
    out: dict[str, dict[str, None]] = {}
    owner = persons.owner
    for event in events:
        for i in persons.ids_of(event):
            out.setdefault(owner[i], {})[i] = None
    return out


def _people_frame(events: Sequence[Event], persons: Persons) -> pd.DataFrame:
    rows: dict[str, list[Any]] = {}  # key -> [events, first_seen, last_seen, traits]
    for event in events:
        key = persons.key_of(event)
        if key is None:
            continue
        row = rows.get(key)
        if row is None:
            row = rows[key] = [0, event.received_at, event.received_at, {}]
        row[0] += 1
        row[2] = event.received_at
        if event.type == "identify":
            given = event.traits
            if given:
                row[3].update(given)
    ids = _ids_by_person(events, persons)
    users = persons.users
    keys = list(rows)
    columns: dict[str, Any] = {
        "person": text_column(keys),
        "user_ids": object_array([[k] if k in users else [] for k in keys]),
        "anonymous_ids": object_array(
            [[i for i in ids.get(k, ()) if i not in users] for k in keys]
        ),
        "events": pd.array([rows[k][0] for k in keys], dtype="int64"),
        "first_seen": epoch_seconds_to_utc([rows[k][1] for k in keys]),
        "last_seen": epoch_seconds_to_utc([rows[k][2] for k in keys]),
        "conflicts": object_array([list(persons.conflicts.get(k, ())) for k in keys]),
    }
    frame: pd.DataFrame = pd.DataFrame(columns, index=pd.RangeIndex(len(keys)))
    traits = [rows[k][3] for k in keys]
    if any(traits):
        flat = pd.json_normalize(traits, sep=".") if keys else pd.DataFrame()
        flat = flat.reindex(sorted(flat.columns), axis=1).add_prefix("traits.")
        flat.index = frame.index
        joined: pd.DataFrame = pd.concat([frame, flat], axis=1)
        return joined
    return frame


def persons_among(events: Sequence[Event], ids: Iterable[str]) -> dict[str, frozenset[str]]:
    """Return, for each id, every id of its person among ``events`` (empty when unknown).

    Who is who is stitched from ``events`` alone, oldest first, by the module's rules (no
    warnings added): on a buffer's snapshot, the same answer as its attached graph.
    """
    graph = IdentityGraph(warn=False)
    graph.appended(events, ())
    with graph.lock:
        return {i: graph.person_of(i)[1] for i in ids}


_attached: weakref.WeakKeyDictionary[EventBuffer, People] = weakref.WeakKeyDictionary()
_attaching = threading.Lock()


def attach(buffer: EventBuffer) -> People:
    """Return ``buffer``'s :class:`People`, attaching its identity graph the first time.

    The graph is built from the events buffered then and kept in step from then on; events
    appended later get their identity warnings as they are appended.
    """
    with _attaching:
        people = _attached.get(buffer)
        if people is None:
            people = _attached[buffer] = People(buffer)
        return people
