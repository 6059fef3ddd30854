"""One-line hints for filter terms the grammar reads differently from what was likely meant.

The filter language (:mod:`segment_debugger.core.query`, README "Filter language") is total:
every string is a query, so a slip never raises; it quietly means something else. A bare URL
``http://x`` is the field ``http``; ``userid:u1`` looks for a key nobody sends (``userId``);
``event=Signup`` and ``OR`` are free text; ``f:">5"`` is equality with the text ``>5``.
:func:`hint` finds the first such term and says, in one line, what the grammar reads and what
to write instead. Spans come from the parser itself (:func:`spans`), so hints follow the
grammar exactly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from segment_debugger.core.query import Term, read_number
from segment_debugger.core.query import _term as _read_term  # the grammar's own term reader

__all__ = ["PSEUDO_FIELDS", "Span", "hint", "spans"]

#: Whitespace as the filter language has it (a no-break space is part of a term).
WHITESPACE = frozenset(" \t\n\r\f\v")

#: The pseudo-fields (the event's own record, not payload keys) and what each matches.
PSEUDO_FIELDS: dict[str, str] = {
    "valid": "the event's validity: true or false",
    "violation": "a violation contains the text (* = any violation)",
    "warning": "a warning contains the text (* = any warning)",
    "person": "every event of the person a userId or anonymousId belongs to",
    "stream_id": "the Redis Stream entry id (* = read from a stream)",
}

_FIELD_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$.-]*")
#: Text terms that look like a field term but hold a character a field name cannot have.
_NEAR_FIELD = re.compile(r"([^\s:\"]+):(\S+)")
_WORDS = {
    "or": "OR is searched as text: terms always AND together, there is no OR",
    "||": "|| is searched as text: terms always AND together, there is no OR",
    "and": "AND is searched as text: terms AND together without it",
    "&&": "&& is searched as text: terms AND together without it",
    "not": "NOT is searched as text: exclude a term with a leading - (-type:page)",
}


@dataclass(frozen=True, slots=True)
class Span:
    """Where one term of a query lies: ``text[start:end]``; ``body`` is after its ``-``."""

    start: int
    body: int
    end: int
    term: Term | None  # None: ignored by the parser (a lone "-", an empty "")

    def text(self, query: str) -> str:
        """Return the term as typed."""
        return query[self.start : self.end]


def spans(text: str) -> list[Span]:
    """Split ``text`` into terms exactly as :func:`~segment_debugger.core.query.parse_query`."""
    out: list[Span] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] in WHITESPACE:
            i += 1
            continue
        start = i
        negate = text[i] == "-"
        if negate:
            i += 1
            if i == n or text[i] in WHITESPACE:
                out.append(Span(start, i, i, None))  # a lone "-": ignored
                continue
        term, end = _read_term(text, i, negate)
        out.append(Span(start, i, end, term))
        i = end
    return out


def hint(
    text: str,
    caret: int | None = None,
    *,
    known: Callable[[str], bool] | None = None,
    case_match: Callable[[str], str | None] | None = None,
) -> str | None:
    """Return a one-line hint for the first term read differently from its likely meaning.

    ``known(path)`` tells whether the traffic has that field path; ``case_match(path)`` returns
    the path in the case the traffic uses, when it differs only in case (None otherwise).
    The term the caret ends (still being typed) gets only the hints that cannot be a word
    half typed (a URL, a field's case, a character no field name has).
    """
    caret = len(text) if caret is None else caret
    for span in spans(text):
        typing = span.start <= caret <= span.end and not text[span.end : span.end + 1].strip()
        found = _hint_for(text, span, typing, known, case_match)
        if found:
            return found
    return None


def _hint_for(
    text: str,
    span: Span,
    typing: bool,
    known: Callable[[str], bool] | None,
    case_match: Callable[[str], str | None] | None,
) -> str | None:
    raw = span.text(text)
    body = text[span.body : span.end]
    term = span.term
    if term is None:
        return None
    if "\u00a0" in raw:
        return f"{_show(raw)} is one term: a no-break space does not separate terms"
    if term.kind == "text":
        return _text_hint(body, raw, term, typing, known)
    field = body.partition(":")[0]
    value_part = body.partition(":")[2]
    if term.kind == "field" and term.value.startswith("//") and not value_part.startswith('"'):
        return (f"{_show(raw)} is read as the field {field!r}: to search for the URL, quote it: "
                f'"{body}"')
    if term.kind == "field":
        fixed = None if case_match is None else case_match(field)
        pseudo = _pseudo_in_other_case(field)
        if (known is None or not known(field)) and (fixed or pseudo):
            right = fixed or pseudo
            return (f"field names are case-sensitive: no event has {field!r}; "
                    f"did you mean {right}:{value_part}?")
    if typing:
        return None
    if term.op and term.kind != "field":
        return f"{_show(raw)} never matches: {term.kind}: takes no comparison"
    if term.op and read_number(term.value) is None:
        return f"{_show(raw)} never matches: a comparison needs a number after {term.op}"
    if term.kind == "field" and not term.op and value_part[:2] in ('">', '"<'):
        op = value_part[1:3] if value_part[2:3] == "=" else value_part[1:2]
        return (f"{_show(raw)} compares the text {term.value!r} for equality: to compare "
                f"numbers write {field}:{op}{value_part[1 + len(op):].rstrip(chr(34))}")
    if term.kind == "valid" and not any(_glob_matches(term.value, v) for v in ("true", "false")):
        return f"{_show(raw)} never matches: valid: takes true or false"
    return None


def _text_hint(
    body: str, raw: str, term: Term, typing: bool, known: Callable[[str], bool] | None
) -> str | None:
    quoted = body.startswith('"')
    near = None if quoted else _NEAR_FIELD.fullmatch(body)
    if near and not _FIELD_NAME.fullmatch(near.group(1)) and near.group(1)[:1].isalpha():
        return (f"{_show(raw)} is searched as text: a field name has only ASCII letters, "
                "digits and _ $ . -")
    if typing or quoted:
        return None
    lowered = body.lower()
    if lowered in _WORDS:
        return _WORDS[lowered]
    if body.endswith(":") and _FIELD_NAME.fullmatch(body[:-1]):
        return (f"{_show(raw)} has no value, so it is searched as text: add one "
                f"({body}* = has the field)")
    for sign, written in (("!=", "-{}:{}"), ("==", "{}:{}"), ("=", "{}:{}")):
        field, found, value = body.partition(sign)
        if found and value and _FIELD_NAME.fullmatch(field) and (
            known is None or known(field) or field in PSEUDO_FIELDS
        ):
            return (f"{_show(raw)} is searched as text: a field term is written "
                    f"{written.format(field, value)}")
    if body.startswith("!") and len(body) > 1:
        return f"{_show(raw)} is searched as text: exclude a term with a leading - (-{body[1:]})"
    if term.negate and body.startswith("-"):
        return f"{_show(raw)} is the negated text {body!r}: only the first - negates"
    return None


def _pseudo_in_other_case(field: str) -> str | None:
    lowered = field.lower()
    if lowered in PSEUDO_FIELDS and field != lowered:
        return lowered
    return None


def _glob_matches(pattern: str, text: str) -> bool:
    regex = ".*".join(re.escape(piece) for piece in pattern.split("*"))
    return re.fullmatch(regex, text) is not None


def _show(term: str, limit: int = 60) -> str:
    """Return the term for a hint, cut when long (the front end escapes controls)."""
    return term if len(term) <= limit else term[: limit - 1] + "…"


def known_in(paths: Collection[str]) -> Callable[[str], bool]:
    """``known`` for :func:`hint`: the path is one of ``paths`` or a pseudo-field."""
    return lambda path: path in paths or path in PSEUDO_FIELDS
