"""Duplicate keys in a JSON object: found at any depth, named with their paths.

orjson, like most parsers, keeps the last of two equal keys; others keep the first or reject
the payload, so one payload means different things to different readers. The parser flags it
(:func:`_duplicate_keys`); the cheap test it runs first is also used on the parser's hot path.
"""

from __future__ import annotations

import json
from typing import Any

_MAX_DUPLICATES_NAMED = 3
_DUPLICATE_QUOTE = b"\\u0022"  # a quote written as an escape: the quote count cannot be trusted
_BACKSLASH = ord("\\")  # an int: ``in`` bytes is one memchr


def _duplicate_keys(raw: bytes, dumped: bytes | None, violations: list[str]) -> None:
    r"""Flag every key that occurs twice in one JSON object of ``raw`` (at any depth).

    Called only when ``dumped`` (``orjson.dumps`` of the parsed object, None when it could not
    be written) differs from ``raw``: pretty-printed, escaped, numbers written differently, or
    a lost key. Cheap exact test first: a lost key takes at least its own two quote characters
    with it, and nothing else orjson normalises adds or removes a ``"`` unless the payload
    writes a quote as ``\u0022``; so equal quote counts mean no duplicates. Else the payload
    is parsed again with the standard library, noting duplicates (rare: only payloads with a
    duplicate, a ``\u0022`` or more than 254 levels of nesting get there).
    """
    if (
        dumped is not None
        and dumped.count(b'"') == raw.count(b'"')
        and (_BACKSLASH not in raw or _DUPLICATE_QUOTE not in raw)
    ):
        return
    try:
        found = _find_duplicates(raw)
    except RecursionError:
        violations.append("nested too deep to check for duplicate keys")
        return
    for path in found[:_MAX_DUPLICATES_NAMED]:
        violations.append(
            f"duplicate key {_short_path(path)} (parsers disagree: the last value wins here)"
        )
    if len(found) > _MAX_DUPLICATES_NAMED:
        violations.append(f"{len(found) - _MAX_DUPLICATES_NAMED:,} more duplicate keys")


class _Duplicates(dict[str, Any]):
    """A JSON object that held duplicate keys (``keys_twice`` names them, in order, once each)."""

    __slots__ = ("keys_twice",)
    keys_twice: list[str]


def _note_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for :func:`json.loads`: a dict, marked when a key repeats."""
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    marked = _Duplicates(obj)
    seen: set[str] = set()
    twice: dict[str, None] = {}
    for key, _value in pairs:
        if key in seen:
            twice[key] = None
        seen.add(key)
    marked.keys_twice = list(twice)
    return marked


def _find_duplicates(raw: bytes) -> list[tuple[str, ...]]:
    """Return the path of every duplicate key in ``raw`` (JSON), outer objects first."""
    root = json.loads(raw, object_pairs_hook=_note_duplicates)
    found: list[tuple[str, ...]] = []
    stack: list[tuple[tuple[str, ...], Any]] = [((), root)]
    while stack:  # iterative, depth first; only containers are pushed
        path, value = stack.pop()
        if type(value) is _Duplicates:
            found.extend((*path, key) for key in value.keys_twice)
        items = enumerate(value) if type(value) is list else value.items()
        stack.extend(
            reversed([((*path, str(k)), v) for k, v in items if isinstance(v, list | dict)])
        )
    return found


def _short_path(path: tuple[str, ...]) -> str:
    """Quote a dotted path for a violation message: long paths keep their two ends."""
    text = ".".join(path)
    if len(text) > 60:
        text = text[:20] + "…" + text[-39:]
    return repr(text)
