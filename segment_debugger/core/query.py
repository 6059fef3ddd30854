"""The filter language (README "Filter language"): parse a query once, match many events.

``parse_query`` is total: every string is a query. A query's answer is defined on five things
per event, the same five the TypeScript twin (``js/src/data/filter.ts``) gets: the raw text
(``event.raw_text()``), the parsed object ``event.data``, ``event.valid``,
``event.violations`` and ``event.warnings``; and, for ``person:`` terms, ``event.userId`` and
``event.anonymousId`` with the id sets of the persons named (see :meth:`Query.bind_persons`).
``spec/filter_vectors.json`` pins the behaviour of both.

Speed (``benchmarks/filter.py``): parsing the payload again costs more than everything else a
query does, so :class:`Query` compiles its terms into a plan that parses only when it must.
Cheap terms run first and the first failing term ends the match: pseudo-fields, then field
terms on the Segment summary fields the parser already read (``type``, ``event``, ``userId``,
... :data:`SUMMARY_FIELDS`), then a look in the raw bytes for the keys of the other field terms,
then free text, and only then the parsed payload, once, for the terms still undecided.
A summary field stands in for the payload value only where it gives the same answer: on an
event made by :func:`~segment_debugger.core.segment.parse_event` (its ``data`` read from
``raw``), when the field holds text that cannot be the text form of a number, boolean, array
or object (those are summarised as text too, and flagged); a missing or null field is told
apart by whether ``null`` occurs in the payload at all. Anything else falls back to the parsed
payload. One consequence: for such events the summary fields are trusted as the parser left
them, so assigning ``event.type`` after parsing is seen by ``type:`` terms (assign
``event.data`` to change what every field term sees).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from segment_debugger.core._query_match import _TEXT, SUMMARY_FIELDS, _compile, _DataCheck
from segment_debugger.core._query_numbers import number_text, read_number
from segment_debugger.core._query_parse import Term, _terms, person_query
from segment_debugger.core._query_parse import _term as _term  # analysis/hints.py reads terms
from segment_debugger.core.event import FROM_RAW, Event

__all__ = [
    "SUMMARY_FIELDS",
    "Criteria",
    "Query",
    "Term",
    "filter_events",
    "number_text",
    "parse_query",
    "person_query",
    "persons_among",
    "read_number",
]

_loads = orjson.loads
_ASCII_LETTER = re.compile("[A-Za-z]")


class Query:
    """A parsed query: terms ANDed together; an empty query matches everything."""

    __slots__ = ("_data_checks", "_persons", "_quick", "_texts", "person_ids", "terms", "text")

    def __init__(
        self,
        text: str,
        terms: tuple[Term, ...],
        persons: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.text = text
        """The query as typed."""
        self.terms = terms
        """The terms, in order."""
        self.person_ids: tuple[str, ...] = tuple(
            dict.fromkeys(term.value for term in terms if term.kind == "person")
        )
        """The ids named by ``person:`` terms, each once, in order."""
        self._persons: dict[str, frozenset[str]] | None = None
        if persons is not None and self.person_ids:
            self._persons = {i: frozenset(persons.get(i, ())) for i in self.person_ids}
        plans = sorted(
            (_compile(term, self._persons) for term in terms), key=lambda plan: plan.rank
        )
        # (quick(event) -> bool, or None when only the parsed payload can tell; negate;
        #  check(data) for that case)
        self._quick = tuple(
            (plan.quick, plan.negate, plan.check) for plan in plans if plan.quick is not None
        )
        # (needle, needle as UTF-8, needle has no ASCII letter, negate)
        self._texts = tuple(
            (plan.needle, plan.needle.encode("utf-8", "surrogatepass"),
             not _ASCII_LETTER.search(plan.needle), plan.negate)
            for plan in plans if plan.rank == _TEXT
        )
        # (check(data), negate): field terms with no quick test, always read the payload
        self._data_checks = tuple(
            (plan.check, plan.negate)
            for plan in plans if plan.quick is None and plan.rank != _TEXT
        )

    @property
    def is_empty(self) -> bool:
        """True when the query has no terms (blank, or only ignorable ones like a lone ``-``)."""
        return not self.terms

    @property
    def needs_persons(self) -> bool:
        """True when the query has ``person:`` terms not bound to id sets yet."""
        return bool(self.person_ids) and self._persons is None

    @property
    def persons(self) -> dict[str, list[str]] | None:
        """The id set each ``person:`` term is bound to (sorted lists); None when unbound."""
        if self._persons is None:
            return None
        return {i: sorted(ids) for i, ids in self._persons.items()}

    def bind_persons(self, persons: Mapping[str, Iterable[str]]) -> Query:
        """Return this query with each ``person:ID`` term bound to ``persons[ID]``.

        ``persons[ID]`` is every id of the person ``ID`` belongs to (its userId and its
        anonymousIds, see :mod:`segment_debugger.analysis.people`); an ID missing from
        ``persons`` is a person nobody has: the term matches no event. A bound term matches
        an event whose ``userId``, or ``anonymousId`` when it has none, is in that set.
        Unbound (a query just parsed), :meth:`matches` takes the person of ``ID`` to be
        ``ID`` alone; :func:`filter_events` and :meth:`Criteria.filter` first bind it to the
        persons of the events they are given.
        """
        return Query(self.text, self.terms, persons)

    def matches(self, event: Event) -> bool:
        """Tell whether ``event`` satisfies every term."""
        pending: list[tuple[_DataCheck, bool]] | None = None
        for quick, negate, check in self._quick:
            verdict = quick(event)
            if verdict is None:
                if pending is None:
                    pending = [(check, negate)]
                else:
                    pending.append((check, negate))
            elif verdict is negate:
                return False
        if self._texts:
            raw = event.raw
            lowered: Any = None
            if raw.isascii():  # lowercase as bytes: same result, much faster
                for _needle, needle_bytes, caseless, negate in self._texts:
                    if caseless:  # bytes.lower() changes ASCII letters only
                        found = needle_bytes in raw
                    else:
                        if lowered is None:
                            lowered = raw.lower()
                        found = needle_bytes in lowered
                    if found is negate:
                        return False
            else:
                lowered = raw.decode("utf-8", "replace").lower()
                for needle, _needle_bytes, _caseless, negate in self._texts:
                    if (needle in lowered) is negate:
                        return False
        if pending is None and not self._data_checks:
            return True
        data = event._data  # what event.data gives, without the property call
        if data is FROM_RAW:
            data = _loads(event.raw)
        for check, negate in self._data_checks:
            if check(data) is negate:
                return False
        if pending is not None:
            for check, negate in pending:
                if check(data) is negate:
                    return False
        return True

    def __repr__(self) -> str:
        return f"parse_query({self.text!r})"


def parse_query(text: str) -> Query:
    """Parse ``text`` in the filter language; never raises (every string is a query)."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    return Query(text, tuple(_terms(text)))


def filter_events(events: Iterable[Event], query: Query | str) -> list[Event]:
    """Return the events ``query`` matches, in their order (a fresh list).

    ``person:`` terms not bound yet are bound to the persons of ``events`` (who is who among
    them, by the rules of :mod:`segment_debugger.analysis.people`).
    """
    parsed = parse_query(query) if isinstance(query, str) else query
    if parsed.is_empty:
        return list(events)
    if parsed.needs_persons:
        events = list(events)
        parsed = parsed.bind_persons(persons_among(events, parsed.person_ids))
    matches = parsed.matches
    return [event for event in events if matches(event)]


def persons_among(events: Sequence[Event], ids: Iterable[str]) -> dict[str, frozenset[str]]:
    """Return, for each id, every id of its person among ``events`` (empty when unknown)."""
    from segment_debugger.analysis.people import persons_among as stitch

    return stitch(events, ids)



@dataclass(frozen=True)
class Criteria:
    """What a view shows: ``query``, one of ``types``, the invalid-only and warnings-only toggles.

    ``invalid_only``: only events with violations; ``warnings_only``: only events with warnings.

    ``types`` empty means any type; events whose type is missing or unknown pass only then.
    The one place this conjunction is written: the widget's ``filtered()``, ``tail --filter``
    and exports use it; the front end applies the same (``js/src/data/view.ts``).
    """

    query: Query = dataclasses.field(default_factory=lambda: parse_query(""))
    types: frozenset[str] = frozenset()
    invalid_only: bool = False
    warnings_only: bool = False

    @classmethod
    def of(
        cls, query: Query | str = "", types: Iterable[str] = (), invalid_only: bool = False,
        warnings_only: bool = False,
    ) -> Criteria:
        """Build criteria from filter-language text (or a parsed Query) and the toggles."""
        parsed = parse_query(query) if isinstance(query, str) else query
        return cls(parsed, frozenset(types), bool(invalid_only), bool(warnings_only))

    @property
    def is_empty(self) -> bool:
        """True when every event passes."""
        return (self.query.is_empty and not self.types and not self.invalid_only
                and not self.warnings_only)

    def matches(self, event: Event) -> bool:
        """Tell whether ``event`` passes them all."""
        if self.types and event.type not in self.types:
            return False
        if self.invalid_only and event.valid:
            return False
        if self.warnings_only and not event.warnings_view():
            return False
        return self.query.matches(event)

    def bind_persons(self, persons: Mapping[str, Iterable[str]]) -> Criteria:
        """Return these criteria with ``person:`` terms bound (see :meth:`Query.bind_persons`)."""
        return dataclasses.replace(self, query=self.query.bind_persons(persons))

    def filter(self, events: Iterable[Event]) -> list[Event]:
        """Return the events that pass, in their order (a fresh list).

        ``person:`` terms not bound yet are bound to the persons of ``events`` first.
        """
        if self.is_empty:
            return list(events)
        criteria = self
        if self.query.needs_persons:
            events = list(events)
            criteria = self.bind_persons(persons_among(events, self.query.person_ids))
        matches = criteria.matches
        return [event for event in events if matches(event)]
