"""How the filter matches events: each term compiled into a plan that reads as little as it can."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from segment_debugger.core._query_numbers import _as_number, _float, number_text, read_number
from segment_debugger.core._query_parse import _COMPARATORS, Term
from segment_debugger.core.event import FROM_RAW, TEXT_FIELDS, TIME_FIELDS, Event

__all__ = ["SUMMARY_FIELDS"]

_MISSING: Any = object()
#: Payload keys whose value the parser keeps on the Event as text (the attribute of that name).
SUMMARY_FIELDS: tuple[str, ...] = ("type", *TEXT_FIELDS, *TIME_FIELDS)
_SUMMARY_FIELDS = frozenset(SUMMARY_FIELDS)


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
    if term.kind in ("violation", "warning"):
        if term.op:
            return _Plan(_RECORD, negate, lambda _event: False)
        contains = _contains(term.value)
        view = Event.violations_view if term.kind == "violation" else Event.warnings_view
        return _Plan(
            _RECORD,
            negate,
            lambda event: any(contains(text.lower()) for text in view(event)),
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

