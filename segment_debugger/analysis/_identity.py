"""The identity graph behind :mod:`segment_debugger.analysis.people`: counts kept on ingest.

See that module for the rules. Here: :class:`IdentityGraph` (the buffer observer, its hot
path) and :class:`Persons` (who is who, derived from the graph when asked).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from segment_debugger.core.event import Event

__all__ = ["IdentityGraph", "Persons", "conflict_text"]


def conflict_text(role: str, linked_id: str, owner: str, user: str) -> str:
    """Say that ``linked_id`` (of ``owner``) was seen with ``user`` and kept apart from it."""
    if linked_id == owner:
        return f"{role} {linked_id!r} is a userId of its own: not merged with userId {user!r}"
    return (f"{role} {linked_id!r} belongs to userId {owner!r}: not merged with userId "
            f"{user!r} (shared device?)")


class IdentityGraph:
    """The identity graph of the buffered events, as counts (a buffer observer).

    ``users``: userId -> buffered events with that userId. ``anonymous``: anonymousId ->
    buffered events with it. ``links``: id -> runs ``[userId, events]``, oldest first, of the
    buffered events linking that id (as ``anonymousId``, or as an alias's ``previousId``) to a
    different userId. Mutated only by :meth:`appended` and :meth:`cleared`, under the buffer's
    lock and this graph's own ``lock`` (taken in that order); read under ``lock``.
    """

    def __init__(self, *, warn: bool = True) -> None:
        self.warn = warn
        """Add a warning to each appended event that would join two userIds."""
        self.lock = threading.Lock()
        self.users: dict[str, int] = {}
        self.anonymous: dict[str, int] = {}
        self.links: dict[str, list[list[Any]]] = {}
        self.version = 0
        """Changes with every batch and clear (what cached answers are keyed by)."""
        self.count = 0
        """Events the graph holds (what the buffer holds, when in step)."""
        self.last_seq = 0
        """The newest event's seq (0 before any)."""

    def appended(self, events: Sequence[Event], evicted: Sequence[Event]) -> None:
        """Count the ids and links of ``events``, then forget ``evicted``'s.

        Evicted events older than the batch are forgotten first, so a batch's warnings see
        what stays buffered; those of the batch itself (a batch beyond the cap) last.
        """
        if not events:
            return
        with self.lock:
            if evicted and evicted[-1].seq >= events[0].seq:  # a batch beyond the cap
                first = events[0].seq
                older = next(i for i, event in enumerate(evicted) if event.seq >= first)
                self._forget(evicted[:older])
                self._count(events)
                self._forget(evicted[older:])
            else:
                if evicted:
                    self._forget(evicted)
                self._count(events)
            self.count += len(events) - len(evicted)
            self.last_seq = events[-1].seq
            self.version += 1

    def cleared(self) -> None:
        """Forget everything (the buffer was cleared)."""
        with self.lock:
            self.users.clear()
            self.anonymous.clear()
            self.links.clear()
            self.count = 0
            self.version += 1

    def _count(self, events: Sequence[Event]) -> None:
        """Count ``events``: the hot path, a few dict operations each, a call per conflict."""
        users, anonymous, links = self.users, self.anonymous, self.links
        users_get, anonymous_get, links_get = users.get, anonymous.get, links.get
        for event in events:
            anon = event.anonymousId
            user = event.userId
            if anon:
                anonymous[anon] = anonymous_get(anon, 0) + 1
                if not user:
                    continue
                users[user] = users_get(user, 0) + 1
                if anon != user:
                    runs = links_get(anon)
                    if runs is None:
                        links[anon] = [[user, 1]]
                        if anon in users:
                            self._conflict(event, "anonymousId", anon, user)
                    else:
                        last = runs[-1]
                        if last[0] == user:
                            last[1] += 1
                        else:
                            runs.append([user, 1])
                        if runs[0][0] != user or anon in users:
                            self._conflict(event, "anonymousId", anon, user)
            elif user:
                users[user] = users_get(user, 0) + 1
            else:
                continue
            if event.previousId and event.type == "alias":
                self._link_alias(event, event.previousId, user)

    def _link_alias(self, event: Event, previous: str, user: str) -> None:
        if previous == user:
            return
        runs = self.links.get(previous)
        if runs is None:
            runs = self.links[previous] = []
        if runs and runs[-1][0] == user:
            runs[-1][1] += 1
        else:
            runs.append([user, 1])
        if runs[0][0] != user or previous in self.users:
            self._conflict(event, "previousId", previous, user)

    def _conflict(self, event: Event, role: str, linked_id: str, user: str) -> None:
        """Warn ``event`` that ``linked_id`` (just linked to ``user``) is someone else's."""
        if self.warn:
            owner = linked_id if linked_id in self.users else self.links[linked_id][0][0]
            text = "identity: " + conflict_text(role, linked_id, owner, user)
            event.warnings = [*event.warnings_view(), text]

    def _forget(self, events: Sequence[Event]) -> None:
        """Undo :meth:`_count` for the oldest buffered events, oldest first."""
        users, anonymous, links = self.users, self.anonymous, self.links
        for event in events:
            anon = event.anonymousId
            user = event.userId
            if anon:
                n = anonymous[anon] - 1
                if n:
                    anonymous[anon] = n
                else:
                    del anonymous[anon]
            if not user:
                continue
            n = users[user] - 1
            if n:
                users[user] = n
            else:
                del users[user]
            if anon and anon != user:
                # The evicted event is the oldest buffered one: its link is the first run's.
                runs = links[anon]
                head = runs[0]
                if head[1] > 1:
                    head[1] -= 1
                elif len(runs) > 1:
                    del runs[0]
                else:
                    del links[anon]
            previous = event.previousId
            if previous and previous != user and event.type == "alias":
                self._unlink(previous)

    def _unlink(self, linked_id: str) -> None:
        runs = self.links[linked_id]
        head = runs[0]
        if head[1] > 1:
            head[1] -= 1
        elif len(runs) > 1:
            del runs[0]
        else:
            del self.links[linked_id]

    def person_of(self, id: str) -> tuple[str | None, frozenset[str]]:
        """Return the key of ``id``'s person and every id of that person (call under ``lock``).

        The same answer as :meth:`persons` gives for one id (its ``owner``, and the ids owned
        alike), without building it for everyone: ``(None, frozenset())`` for an id no
        buffered event carries. Costs one pass over the linked ids.
        """
        users, links = self.users, self.links
        if id in users:
            key = id
        elif id in links:
            key = links[id][0][0]
        elif id in self.anonymous:
            return id, frozenset((id,))
        else:
            return None, frozenset()
        ids = {key}
        for linked_id, runs in links.items():
            if runs[0][0] == key and linked_id not in users:
                ids.add(linked_id)
        return key, frozenset(ids)

    def persons(self) -> Persons:
        """Return who is who now (call under ``lock``)."""
        users, links = self.users, self.links
        owner = {user: user for user in users}
        conflicts: dict[str, list[str]] = {}
        for linked_id, runs in links.items():
            is_user = linked_id in users
            first = linked_id if is_user else runs[0][0]
            if not is_user:
                owner[linked_id] = first
            others: dict[str, int] = {}
            for user, n in runs:
                if user != first:
                    others[user] = others.get(user, 0) + n
            for user, n in others.items():
                role = "previousId" if linked_id not in self.anonymous else "anonymousId"
                text = (f"{conflict_text(role, linked_id, first, user)} "
                        f"({n} event{'s' if n != 1 else ''})")
                conflicts.setdefault(first, []).append(text)
                conflicts.setdefault(user, []).append(text)
        for anon in self.anonymous:
            owner.setdefault(anon, anon)
        return Persons(owner, frozenset(users), conflicts)


@dataclass(frozen=True)
class Persons:
    """Who is who at one point: every buffered id's person, named by its key."""

    owner: dict[str, str]
    """id -> person key: the person's userId, or the lone anonymousId of an anonymous person."""
    users: frozenset[str]
    """The ids that are userIds of buffered events."""
    conflicts: dict[str, list[str]]
    """person key -> the attempts to join it with another userId, readable."""

    def key_of(self, event: Event) -> str | None:
        """Return the key of ``event``'s person (None: it has no userId nor anonymousId)."""
        user = event.userId
        if user:
            return user
        anon = event.anonymousId
        return self.owner.get(anon) if anon else None

    def ids_of(self, event: Event) -> tuple[str, ...]:
        """Return the known ids ``event`` carries (userId, anonymousId, alias previousId)."""
        ids = (event.userId, event.anonymousId,
               event.previousId if event.type == "alias" else None)
        return tuple(i for i in ids if i and i in self.owner)
