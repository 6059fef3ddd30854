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
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from segment_debugger.core.event import FROM_RAW, TEXT_FIELDS, TIME_FIELDS, Event

_WHITESPACE = frozenset(" \t\n\r\f\v")
_FIELD_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_$")
_FIELD_CHARS = _FIELD_START | frozenset("0123456789.-")
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_MISSING: Any = object()
#: Field names that mean the event's own record, not a payload key.
_PSEUDO_FIELDS = frozenset({"valid", "violation", "warning", "stream_id", "person"})
#: Payload keys whose value the parser keeps on the Event as text (the attribute of that name).
SUMMARY_FIELDS: tuple[str, ...] = ("type", *TEXT_FIELDS, *TIME_FIELDS)
_SUMMARY_FIELDS = frozenset(SUMMARY_FIELDS)
_loads = orjson.loads
_ASCII_LETTER = re.compile("[A-Za-z]")


def read_number(text: str) -> float | None:
    """Return ``text`` as a number when it reads as one (``10``, ``-1.5``, ``.5``, ``1e3``).

    Syntax: optional sign, ASCII digits with an optional fraction (or a fraction alone), optional
    exponent; nothing else, no surrounding spaces. Anything else returns None.
    """
    if _NUMBER_RE.fullmatch(text) is None:
        return None
    return float(text)


def number_text(value: int | float) -> str:
    """Write a JSON number the way JavaScript's ``String(n)`` does (``10.0`` -> ``"10"``).

    Shortest round-trip digits; exponent form (``1e+21``, ``1e-7``) outside [1e-6, 1e21).
    """
    if type(value) is int and -(2**53) <= value <= 2**53:
        return str(value)
    x = float(value)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    if x < 0:
        return "-" + number_text(-x)
    mantissa, _, exp_text = repr(x).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    exponent = int(exp_text or 0) - len(fraction)  # value = int(digits) * 10**exponent
    stripped = digits.rstrip("0")
    exponent += len(digits) - len(stripped)
    digits = stripped
    k = len(digits)
    n = k + exponent  # value = 0.digits * 10**n
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    e = n - 1
    sign = "+" if e >= 0 else "-"
    head = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{head}e{sign}{abs(e)}"


def _glob(pattern: str) -> Callable[[str], bool]:
    """Build an anchored matcher for a lowercased pattern where ``*`` is any run of characters."""
    if "*" not in pattern:
        return pattern.__eq__
    pieces = pattern.split("*")
    first, middle, last = pieces[0], pieces[1:-1], pieces[-1]
    least = len(first) + len(last)

    def match(text: str) -> bool:
        if len(text) < least or not text.startswith(first) or not text.endswith(last):
            return False
        pos, end = len(first), len(text) - len(last)
        for piece in middle:
            found = text.find(piece, pos, end)
            if found < 0:
                return False
            pos = found + len(piece)
        return True

    return match


def _contains(pattern: str) -> Callable[[str], bool]:
    """Build an unanchored matcher: the lowercased pattern (``*`` wildcards) occurs in the text."""
    pieces = [piece for piece in pattern.split("*") if piece]

    def match(text: str) -> bool:
        pos = 0
        for piece in pieces:
            found = text.find(piece, pos)
            if found < 0:
                return False
            pos = found + len(piece)
        return True

    return match


@dataclass(frozen=True, slots=True)
class Term:
    """One parsed term.

    ``kind`` is ``"text"`` (substring of the raw payload), ``"field"`` (dotted path in the
    parsed object), ``"valid"``, ``"violation"``, ``"warning"``, ``"stream_id"`` or
    ``"person"`` (pseudo-fields).
    ``value`` is lowercased with runs of ``*`` collapsed, except for ``person`` (the id as
    typed: ids are matched exactly); ``op`` is ``""`` (equality) or a comparison operator.
    """

    kind: str
    value: str
    negate: bool = False
    path: tuple[str, ...] = ()
    op: str = ""


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


def person_query(id: str) -> str:
    """Return the term ``person:ID`` for ``id``, quoted when it must be (the UI's button).

    Quoted when empty, when it holds whitespace, a quote or a backslash, or when it starts
    with ``<`` or ``>`` (read as a comparison otherwise); the TypeScript twin is
    ``personQuery`` in ``js/src/data/filter.ts``.
    """
    if id and id[0] not in "<>" and not any(c in _WHITESPACE or c in '"\\' for c in id):
        return f"person:{id}"
    escaped = id.replace("\\", "\\\\").replace('"', '\\"')
    return f'person:"{escaped}"'


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


# -- parsing -----------------------------------------------------------------------------------


def _terms(s: str) -> Iterable[Term]:
    n = len(s)
    i = 0
    while i < n:
        if s[i] in _WHITESPACE:
            i += 1
            continue
        negate = s[i] == "-"
        if negate:
            i += 1
            if i == n or s[i] in _WHITESPACE:
                continue  # a lone "-" negates nothing: ignored
        term, i = _term(s, i, negate)
        if term is not None:
            yield term


def _term(s: str, i: int, negate: bool) -> tuple[Term | None, int]:
    """Read one term starting at ``s[i]`` (not whitespace); return it and where it ends."""
    n = len(s)
    if s[i] in _FIELD_START:
        j = i + 1
        while j < n and s[j] in _FIELD_CHARS:
            j += 1
        if j < n and s[j] == ":":
            term, end = _field_term(s, s[i:j], j + 1, negate)
            if term is not None:
                return term, end
    if s[i] == '"':
        text, end = _quoted(s, i)
    else:
        end = _bare_end(s, i)
        text = s[i:end]
    if not text:
        return None, end  # empty text matches everything: ignored
    return Term("text", text.lower(), negate), end


def _field_term(s: str, field: str, k: int, negate: bool) -> tuple[Term | None, int]:
    """Read the value of ``field:`` starting at ``s[k]``; None when there is no value."""
    n = len(s)
    op = s[k : k + 2] if s[k : k + 2] in (">=", "<=") else s[k : k + 1]
    if op not in _COMPARATORS:
        op = ""
    after_op = k + len(op)
    if op and after_op < n and s[after_op] == '"':
        value, end = _quoted(s, after_op)
    elif k < n and s[k] == '"':
        op = ""
        value, end = _quoted(s, k)
    else:
        end = _bare_end(s, k)
        value = s[k:end]
        if not value:
            return None, end  # "field:" with nothing after it is text
        if op and len(value) > len(op):
            value = value[len(op) :]
        else:
            op = ""  # an operator with nothing after it is the value itself
    kind = field if field in _PSEUDO_FIELDS else "field"
    if kind != "person":  # a person's id is matched exactly, as typed
        value = re.sub(r"\*+", "*", value.lower())
    path = tuple(field.split(".")) if kind == "field" else ()
    return Term(kind, value, negate, path, op), end


def _quoted(s: str, i: int) -> tuple[str, int]:
    """Read a quoted run starting at the quote ``s[i]``; unclosed runs to the end."""
    out: list[str] = []
    j = i + 1
    n = len(s)
    while j < n:
        c = s[j]
        if c == "\\":
            if j + 1 < n:
                out.append(s[j + 1])
                j += 2
            else:
                out.append(c)  # a trailing backslash is kept as it is
                j += 1
        elif c == '"':
            return "".join(out), j + 1
        else:
            out.append(c)
            j += 1
    return "".join(out), n


def _bare_end(s: str, i: int) -> int:
    n = len(s)
    while i < n and s[i] not in _WHITESPACE:
        i += 1
    return i


# -- evaluation ----------------------------------------------------------------------------------

_Quick = Callable[[Event], "bool | None"]
_DataCheck = Callable[[Any], bool]

# Plan ranks: cheapest first. Terms run in this order and the first failing one ends the match.
_RECORD, _SUMMARY, _KEYS, _TEXT, _DATA = range(5)


def _never(_data: Any) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class _Plan:
    """How one term is evaluated.

    ``quick(event)`` answers from the record alone (``None``: only the parsed payload can
    tell, then ``check(data)`` does); a term without ``quick`` is free text (``needle``) or
    always needs the payload (``check``).
    """

    rank: int
    negate: bool
    quick: _Quick | None = None
    check: _DataCheck = _never
    needle: str = ""


def _compile(term: Term, persons: dict[str, frozenset[str]] | None = None) -> _Plan:
    """Turn a term into a plan (see :class:`_Plan`); ``persons`` binds ``person:`` terms."""
    negate = term.negate
    if term.kind == "text":
        return _Plan(_TEXT, negate, needle=term.value)
    if term.kind == "person":
        if term.op:
            return _Plan(_RECORD, negate, lambda _event: False)
        ids = frozenset((term.value,)) if persons is None else persons[term.value]
        return _Plan(_RECORD, negate, lambda event: _identity(event) in ids)
    value_matches = _value_matcher(term.value, term.op)
    if term.kind == "valid":
        if_valid, if_invalid = value_matches(True), value_matches(False)
        return _Plan(_RECORD, negate, lambda event: if_valid if event.valid else if_invalid)
    if term.kind == "stream_id":
        if term.op:
            return _Plan(_RECORD, negate, lambda _event: False)
        if term.value == "*":
            return _Plan(_RECORD, negate, lambda event: event.stream_id is not None)
        return _Plan(
            _RECORD,
            negate,
            lambda event: event.stream_id is not None and value_matches(event.stream_id),
        )
    if term.kind == "violation":
        if term.op:
            return _Plan(_RECORD, negate, lambda _event: False)
        contains = _contains(term.value)
        return _Plan(
            _RECORD,
            negate,
            lambda event: any(contains(v.lower()) for v in event.violations_view()),
        )
    if term.kind == "warning":
        if term.op:
            return _Plan(_RECORD, negate, lambda _event: False)
        contains = _contains(term.value)
        return _Plan(
            _RECORD,
            negate,
            lambda event: any(contains(w.lower()) for w in event.warnings_view()),
        )
    path = term.path
    if term.value == "*" and not term.op:
        value_matches = _present
    if len(path) == 1:
        check = _key_check(path[0], value_matches)
        if path[0] in _SUMMARY_FIELDS:
            text_matches = _present if value_matches is _present else _text_matcher(term)
            return _Plan(_SUMMARY, negate, _summary_quick(path[0], text_matches, value_matches),
                         check)
    else:
        check = _path_check(path, value_matches)
    keys = [key for key in path if _PLAIN_KEY.fullmatch(key) and not key.isdigit()]
    if keys:  # always, for parsed text (a path starts with a name); a hand-made Term may not
        return _Plan(_KEYS, negate, _key_quick(keys[-1]), check)
    return _Plan(_DATA, negate, check=check)


def _identity(event: Event) -> str | None:
    """Return the id an event is filed under: its userId, else its anonymousId (people.py)."""
    found = event.userId or event.anonymousId
    return found if type(found) is str and found else None


def _key_check(key: str, value_matches: Callable[[Any], bool]) -> _DataCheck:
    def check_key(data: Any) -> bool:
        if type(data) is not dict:
            return False
        found = data.get(key, _MISSING)
        return found is not _MISSING and value_matches(found)

    return check_key


def _path_check(path: tuple[str, ...], value_matches: Callable[[Any], bool]) -> _DataCheck:
    def check_path(data: Any) -> bool:
        current = data
        for key in path:  # the common case, objects all the way: no lists built
            if type(current) is not dict:
                break
            current = current.get(key, _MISSING)
            if current is _MISSING:
                return False
        else:
            return value_matches(current)
        return any(value_matches(found) for found in _lookup(data, path))

    return check_path


def _summary_quick(
    name: str, text_matches: Callable[[str], bool], value_matches: Callable[[Any], bool]
) -> _Quick:
    """Answer a term on a summary field from the Event's attribute, where that is exact.

    For an event whose ``data`` is read from ``raw``, the parser set the attribute to the
    payload's value when that is a string, to None when it is missing or null, and to a text
    form (JSON, or ``repr`` when too deep for JSON) otherwise. Such a text form starts with a
    digit or ``-`` and holds only number characters, or is ``true``/``false``, or starts with
    ``[``/``{``: for text like that the payload must be read; any other text is the string
    itself. None is null only if ``null`` occurs in the payload.
    """
    get = operator.attrgetter(name)
    null_matches = value_matches(None)

    def quick(event: Event) -> bool | None:
        if event._data is not FROM_RAW:
            return None  # built by hand: its fields need not be the payload's
        text = get(event)
        if text.__class__ is not str:
            if text is None and not (null_matches and b"null" in event.raw):
                return False  # missing, or null and null does not match
            return None  # maybe null; or not text at all (assigned by hand)
        first = text[:1]
        if first in _MAYBE_NOT_TEXT and (
            _NUMBER_LIKE.fullmatch(text) is not None
            if first in _NUMBER_START
            else first == "[" or first == "{" or text == "true" or text == "false"
        ):
            return None
        return text_matches(text)

    return quick


def _text_matcher(term: Term) -> Callable[[str], bool]:
    """``_value_matcher(term.value, term.op)`` for a JSON string, with fewer calls."""
    if term.op:
        compare, bound = _COMPARATORS[term.op], read_number(term.value)
        if bound is None:
            return lambda _text: False

        def compare_text(text: str) -> bool:
            x = read_number(text)
            return x is not None and compare(x, bound)

        return compare_text
    glob = _glob(term.value)
    return lambda text: glob(text.lower())


_NUMBER_START = frozenset("-0123456789")
_MAYBE_NOT_TEXT = _NUMBER_START | frozenset("[{tf")
#: Every number a JSON parser writes back matches this (and more: it only needs to be loose).
_NUMBER_LIKE = re.compile(r"[-0-9][-+.eE0-9]*")


#: Keys JSON writes as they are, between quotes (what the field grammar allows, dots aside).
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$-]*")


def _key_quick(key: str) -> _Quick:
    """Rule a field term out when its key occurs nowhere in the payload; else None.

    ``key`` is a :data:`_PLAIN_KEY`, so in JSON it is written ``"key"`` unless spelt with
    escapes, which need a backslash: with neither in ``raw`` the key is absent (a path through
    it finds nothing) and the term cannot match. Array indexes are not keys: not looked for.
    """
    quoted = b'"' + key.encode("ascii") + b'"'

    def quick(event: Event) -> bool | None:
        if event._data is not FROM_RAW:
            return None
        raw = event.raw
        if quoted in raw or b"\\" in raw:
            return None
        return False

    return quick


def _present(_found: Any) -> bool:
    return True


def _lookup(data: Any, path: tuple[str, ...]) -> list[Any]:
    """Every value at ``path`` in ``data`` (several when the path crosses an array)."""
    current = data
    for depth, key in enumerate(path):
        if type(current) is dict:
            current = current.get(key, _MISSING)
            if current is _MISSING:
                return []
        elif type(current) is list:
            return _lookup_list(current, path[depth:])
        else:
            return []
    return [current]


def _lookup_list(items: list[Any], path: tuple[str, ...]) -> list[Any]:
    """Step into an array: a numeric segment picks that element, any other looks in each one."""
    key, rest = path[0], path[1:]
    if key.isascii() and key.isdigit():
        index = int(key)
        return _lookup(items[index], rest) if index < len(items) else []
    found: list[Any] = []
    for item in items:
        if type(item) is dict and key in item:
            found.extend(_lookup(item[key], rest))
    return found


def _value_matcher(value: str, op: str) -> Callable[[Any], bool]:
    """Build ``matches(json_value)`` for a lowercased value and an operator."""
    number = read_number(value)
    if op:
        compare = _COMPARATORS[op]
        if number is None:
            return lambda _found: False
        bound = number

        def compare_found(found: Any) -> bool:
            if type(found) is list:
                return any(compare_found(item) for item in found if type(item) is not list)
            x = _as_number(found)
            return x is not None and compare(x, bound)

        return compare_found

    text_matches = _glob(value)

    def scalar(found: Any) -> bool:
        kind = type(found)
        if kind is str:
            return text_matches(found.lower())
        if kind is bool:
            return text_matches("true" if found else "false")
        if found is None:
            return text_matches("null")
        if kind is int or kind is float:
            if number is not None:
                return _float(found) == number
            return text_matches(number_text(found))
        return value == "*"  # an object (or an array inside an array) matches only *

    def equal(found: Any) -> bool:
        if type(found) is list:
            return any(scalar(item) for item in found)
        return scalar(found)

    return equal


def _as_number(found: Any) -> float | None:
    """Read a JSON number, or a string holding one (:func:`read_number`); None otherwise."""
    kind = type(found)
    if kind is int or kind is float:
        return _float(found)
    if kind is str:
        return read_number(found)
    return None


def _float(number: int | float) -> float:
    """``float(number)``, with integers too large for a double as +/- infinity (as in JS)."""
    try:
        return float(number)
    except OverflowError:
        return math.inf if number > 0 else -math.inf
