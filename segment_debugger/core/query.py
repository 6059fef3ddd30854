"""The filter language (README "Filter language"): parse a query once, match many events.

``parse_query`` is total: every string is a query. A query only ever looks at four things per
event, the same four the TypeScript twin (``js/src/filter.ts``) gets: the raw text
(``event.raw_text()``), the parsed object ``event.data``, ``event.valid``
and ``event.violations``. ``spec/filter_vectors.json`` pins the behaviour of both.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from segment_debugger.core.event import Event

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
_PSEUDO_FIELDS = frozenset({"valid", "violation", "stream_id"})


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
    parsed object), ``"valid"``, ``"violation"`` or ``"stream_id"`` (pseudo-fields).
    ``value`` is lowercased with runs of ``*`` collapsed; ``op`` is ``""`` (equality) or a
    comparison operator.
    """

    kind: str
    value: str
    negate: bool = False
    path: tuple[str, ...] = ()
    op: str = ""


class Query:
    """A parsed query: terms ANDed together; an empty query matches everything."""

    __slots__ = ("_checks", "_needs_data", "_needs_text", "terms", "text")

    def __init__(self, text: str, terms: tuple[Term, ...]) -> None:
        self.text = text
        """The query as typed."""
        self.terms = terms
        """The terms, in order."""
        self._checks = tuple(_compile(term) for term in terms)
        self._needs_text = any(term.kind == "text" for term in terms)
        # event.data parses the raw payload again: once per event, shared by the field terms
        self._needs_data = any(term.kind == "field" for term in terms)

    @property
    def is_empty(self) -> bool:
        """True when the query has no terms (blank, or only ignorable ones like a lone ``-``)."""
        return not self.terms

    def matches(self, event: Event) -> bool:
        """Tell whether ``event`` satisfies every term."""
        lowered = _lowered_raw(event) if self._needs_text else ""
        data = event.data if self._needs_data else None
        for check, negate in self._checks:
            if check(event, lowered, data) is negate:
                break
        else:
            return True
        return False

    def __repr__(self) -> str:
        return f"parse_query({self.text!r})"


def _lowered_raw(event: Event) -> str | bytes:
    """Lowercase the raw payload: as bytes when it is pure ASCII (same result, much faster)."""
    raw = event.raw
    if raw.isascii():
        return raw.lower()
    return raw.decode("utf-8", "replace").lower()


def parse_query(text: str) -> Query:
    """Parse ``text`` in the filter language; never raises (every string is a query)."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    return Query(text, tuple(_terms(text)))


def filter_events(events: Iterable[Event], query: Query | str) -> list[Event]:
    """Return the events ``query`` matches, in their order (a fresh list)."""
    parsed = parse_query(query) if isinstance(query, str) else query
    if parsed.is_empty:
        return list(events)
    matches = parsed.matches
    return [event for event in events if matches(event)]


@dataclass(frozen=True)
class Criteria:
    """What a view shows: ``query`` AND one of ``types`` AND, if ``invalid_only``, invalid only.

    ``types`` empty means any type; events whose type is missing or unknown pass only then.
    The one place this conjunction is written: the widget's ``filtered()``, ``tail --filter``
    and exports use it; the front end applies the same three (``js/src/data/view.ts``).
    """

    query: Query = dataclasses.field(default_factory=lambda: parse_query(""))
    types: frozenset[str] = frozenset()
    invalid_only: bool = False

    @classmethod
    def of(
        cls, query: Query | str = "", types: Iterable[str] = (), invalid_only: bool = False
    ) -> Criteria:
        """Build criteria from filter-language text (or a parsed Query) and the two toggles."""
        parsed = parse_query(query) if isinstance(query, str) else query
        return cls(parsed, frozenset(types), bool(invalid_only))

    @property
    def is_empty(self) -> bool:
        """True when every event passes."""
        return self.query.is_empty and not self.types and not self.invalid_only

    def matches(self, event: Event) -> bool:
        """Tell whether ``event`` passes all three."""
        if self.types and event.type not in self.types:
            return False
        if self.invalid_only and event.valid:
            return False
        return self.query.matches(event)

    def filter(self, events: Iterable[Event]) -> list[Event]:
        """Return the events that pass, in their order (a fresh list)."""
        if self.is_empty:
            return list(events)
        matches = self.matches
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
    value = re.sub(r"\*+", "*", value.lower())
    kind = field if field in _PSEUDO_FIELDS else "field"
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

_Check = Callable[[Event, Any, Any], bool]


def _compile(term: Term) -> tuple[_Check, bool]:
    """Turn a term into ``(check(event, lowered_raw, data) -> bool, negate)``."""
    if term.kind == "text":
        needle = term.value
        needle_bytes = needle.encode("utf-8", "surrogatepass")

        def contains_text(_event: Event, lowered: str | bytes, _data: object) -> bool:
            if type(lowered) is bytes:
                return needle_bytes in lowered
            return needle in lowered

        return contains_text, term.negate
    value_matches = _value_matcher(term.value, term.op)
    if term.kind == "valid":
        return (lambda event, _lowered, _data: value_matches(event.valid)), term.negate
    if term.kind == "stream_id":
        if term.op:
            return (lambda _event, _lowered, _data: False), term.negate
        if term.value == "*":
            return (lambda event, _lowered, _data: event.stream_id is not None), term.negate
        return (
            lambda event, _lowered, _data: event.stream_id is not None
            and value_matches(event.stream_id)
        ), term.negate
    if term.kind == "violation":
        if term.op:
            return (lambda _event, _lowered, _data: False), term.negate
        contains = _contains(term.value)
        return (
            lambda event, _lowered, _data: any(
                contains(v.lower()) for v in event.violations_view()
            )
        ), term.negate
    path = term.path
    if term.value == "*" and not term.op:
        value_matches = _present
    if len(path) == 1:
        key = path[0]

        def check_key(_event: Event, _lowered: object, data: Any) -> bool:
            if type(data) is not dict:
                return False
            found = data.get(key, _MISSING)
            return found is not _MISSING and value_matches(found)

        return check_key, term.negate

    def check_path(_event: Event, _lowered: object, data: Any) -> bool:
        return any(value_matches(found) for found in _lookup(data, path))

    return check_path, term.negate


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
