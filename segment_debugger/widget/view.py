"""What the view shows, derived from the traits: ``person:`` terms bound, the selected event.

:class:`BoundCriteria` binds the view's ``person:`` terms to the identity graph for the pump
(cached while the graph stays the same); :func:`shown_events` is the view's events now, for
``dbg.filtered()``, ``dbg.export()`` and the Export button; :func:`selected_value` is the
read-only ``selected`` trait's value for a ``selected_seq``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from segment_debugger.widget.wire import selected_dict

if TYPE_CHECKING:
    import threading

    from segment_debugger.analysis.people import People
    from segment_debugger.core.buffer import EventBuffer
    from segment_debugger.core.event import Event
    from segment_debugger.core.query import Criteria

__all__ = ["BoundCriteria", "selected_value", "shown_events"]


class BoundCriteria:
    """The criteria the pump filters with: the view's ``person:`` terms bound to the graph.

    ``lock`` must be the widget's one re-entrant lock (``_funnel``, also the pump's): the pump
    calls :meth:`bind` holding it, so taking another lock here would add a second lock order.
    """

    def __init__(self, people: People, lock: threading.RLock) -> None:
        self._people = people
        self._lock = lock
        self._bound: tuple[Criteria, int, Criteria] | None = None  # (criteria, version, view)

    def bind(self, criteria: Criteria) -> Criteria:
        """Return ``criteria`` with its ``person:`` terms bound (itself when it has none).

        Bound again when the graph changed since; the same object while the id sets stay the
        same, a new one when a person grew or shrank, so the pump sends a fresh snapshot
        (the rows and the id sets the front end filters with, ``SnapshotMsg.persons``).
        """
        if not criteria.query.person_ids:
            return criteria
        with self._lock:
            bound = self._bound
            if bound is not None and bound[0] is criteria \
                    and bound[1] == self._people.graph.version:
                return bound[2]
            version, persons = self._people.resolve(criteria.query.person_ids)
            if bound is not None and bound[0] is criteria \
                    and bound[2].query.persons == {i: sorted(s) for i, s in persons.items()}:
                view = bound[2]
            else:
                view = criteria.bind_persons(persons)
            self._bound = (criteria, version, view)
            return view


def shown_events(buffer: EventBuffer, criteria: Criteria) -> list[Event]:
    """Return the buffered events ``criteria`` shows now (a snapshot, filtered).

    Unbound ``person:`` terms are bound from the identity graph attached to ``buffer`` at the
    snapshot's point (:meth:`People.snapshot_persons`), not by stitching the snapshot again.
    """
    if not criteria.query.needs_persons:
        return criteria.filter(buffer.snapshot())
    from segment_debugger.analysis.people import attach

    events, persons = attach(buffer).snapshot_persons(criteria.query.person_ids)
    return criteria.bind_persons(persons).filter(events)


def selected_value(buffer: EventBuffer, people: People, seq: int | None) -> dict[str, Any] | None:
    """Return the ``selected`` trait for ``seq``: the event's fields and person, or None.

    None when ``seq`` is None or no buffered event has it (evicted, cleared or unseen).
    """
    event = None if seq is None else buffer.get(seq)
    value = None if event is None else selected_dict(event)
    if value is not None and event is not None:
        value["person"] = people.summary(event)
    return value
