"""The filter language's grammar: query text to terms (fields, operators, quoting, negation)."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["Term", "person_query"]

_WHITESPACE = frozenset(" \t\n\r\f\v")
_FIELD_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_$")
_FIELD_CHARS = _FIELD_START | frozenset("0123456789.-")
_COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
#: Field names that mean the event's own record, not a payload key.
_PSEUDO_FIELDS = frozenset({"valid", "violation", "warning", "stream_id", "person"})


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
