"""The flattening rules of frames, and the Python path that applies them to any event.

Nested objects become dotted columns down to :data:`MAX_FLATTEN_DEPTH` levels; lists and
deeper objects stay whole; what does not fit in ``max_columns`` is folded into ``<group>._rest``
as JSON (see :mod:`segment_debugger.core.frame` for the rules as users see them). This path
parses each event in Python and handles everything, bounds included; the Arrow path
(:mod:`segment_debugger.core._frame_arrow`) must give exactly its frame, and comes back here
for what it cannot mirror.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Sequence
from typing import Any

import orjson

from segment_debugger.core.event import OBJECT_FIELDS, Event

#: Nested objects deeper than this many levels below ``properties``/``traits``/``context``
#: stay whole in one column instead of being flattened further.
MAX_FLATTEN_DEPTH = 16

#: The flattened groups, in column order.
FLATTENED: tuple[str, ...] = OBJECT_FIELDS

#: Last name of the column holding, as JSON, what did not get a column (``properties._rest``).
REST = "_rest"

#: Flattening one event's group visits at least this many entries, whatever ``max_columns``
#: (so a small ``max_columns`` still picks the columns most rows fill).
MIN_EVENT_BUDGET = 1000


def python_groups(
    events: Sequence[Event], limit: int, parsed: dict[int, tuple[Any, Any, Any]] | None = None
) -> tuple[dict[str, Any], dict[str, int]]:
    """Flatten every event's groups in Python (one parse per event); fold beyond ``limit``.

    ``parsed`` maps rows to groups already parsed (by an Arrow attempt that gave up): those
    are taken from it, not parsed again, and dropped from it once flattened.
    """
    n = len(events)
    groups = [Group(name) for name in FLATTENED]
    budget = max(limit, MIN_EVENT_BUDGET)
    taken = parsed.pop if parsed else None
    for row, event in enumerate(events):  # one parse per event, dropped once flattened
        found = taken(row, None) if taken is not None else None
        for group, obj in zip(groups, event.groups() if found is None else found, strict=True):
            if obj.__class__ is dict:
                if obj:
                    group.add(row, obj, budget)
            elif obj is not None:  # not an object: keep it whole under the group's own name
                group.whole[row] = obj
        found = None  # not kept alive past its row (a huge parse would be, through folding)
    _fold_beyond(groups, limit)
    columns: dict[str, Any] = {}
    folded: dict[str, int] = {}
    for group in groups:
        columns.update(group.columns_for(n))
        if group.rests:
            folded[f"{group.name}.{REST}"] = len(group.rests)
    return columns, folded



def lookup(groups: tuple[Any, Any, Any], position: int, path: tuple[str, ...]) -> tuple[bool, Any]:
    """Return ``(found, value)`` for the keys ``path`` inside group ``position``."""
    node = groups[position]
    for key in path:
        if node.__class__ is not dict or key not in node:
            return False, None
        node = node[key]
    return True, node



class Group:
    """One flattened group (``properties``, ...) of a frame being built, stored sparsely.

    ``columns`` maps a dotted name to ``{row: value}`` (only the rows that have it), ``paths``
    the same name to its keys in the payload, ``rests`` a row to its not-flattened entries
    (nested like the payload), ``whole`` a row to its group value when that is not an object.
    """

    __slots__ = ("columns", "name", "paths", "rests", "whole")

    def __init__(self, name: str) -> None:
        self.name = name
        self.columns: dict[str, dict[int, Any]] = {}
        self.paths: dict[str, tuple[str, ...]] = {}
        self.rests: dict[int, dict[str, Any]] = {}
        self.whole: dict[int, Any] = {}

    def add(self, row: int, obj: dict[str, Any], budget: int) -> None:
        """Flatten one event's group: at most ``budget`` entries; the rest to ``rests[row]``."""
        rest: list[dict[str, Any]] = [{}]
        _flatten_into(self.columns, self.paths, row, self.name, (), obj, 1, budget, rest)
        if rest[0]:
            self.rests[row] = rest[0]

    def fold(self, name: str) -> None:
        """Move column ``name`` into each of its rows' rest."""
        *parents, key = self.paths.pop(name)
        for row, value in self.columns.pop(name).items():
            rest = self.rests.get(row)
            if rest is None:
                rest = self.rests[row] = {}
            _nest(rest, parents)[key] = value

    def columns_for(self, n: int) -> dict[str, list[Any]]:
        """Return this group's columns as lists of ``n`` values: sorted, then the rest as JSON."""
        dense: dict[str, list[Any]] = {}
        if self.whole:
            dense[self.name] = _dense(self.whole, n)
        for name in self.columns:
            dense[name] = _dense(self.columns[name], n)
        out = {name: dense[name] for name in sorted(dense)}
        if self.rests:
            out[f"{self.name}.{REST}"] = _dense(
                {row: _to_json(rest) for row, rest in self.rests.items()}, n
            )
        return out


def _fold_beyond(groups: list[Group], limit: int) -> None:
    """Keep the ``limit`` columns most rows fill (ties: group order, name); fold the others.

    A column named like the rest column itself is always folded: ``_rest`` has one meaning.
    """
    for group in groups:
        clash = f"{group.name}.{REST}"
        if clash in group.columns:
            group.fold(clash)
    if sum(len(group.columns) for group in groups) <= limit:
        return
    candidates = (
        (-len(rows), index, name)
        for index, group in enumerate(groups)
        for name, rows in group.columns.items()
    )
    kept = {(index, name) for _, index, name in heapq.nsmallest(limit, candidates)}
    for index, group in enumerate(groups):
        for name in [name for name in group.columns if (index, name) not in kept]:
            group.fold(name)


def _flatten_into(
    columns: dict[str, dict[int, Any]],
    paths: dict[str, tuple[str, ...]],
    row: int,
    prefix: str,
    path: tuple[str, ...],
    obj: dict[Any, Any],
    depth: int,
    budget: int,
    rest: list[dict[str, Any]],
) -> int:
    """Write ``obj``'s leaves into ``columns[prefix.key][row]``, recursing into objects.

    Visits at most ``budget`` entries (any kind); when it runs out, the entries not visited are
    put whole into the object ``rest[0]`` at ``path``. Returns the budget left.
    """
    for key, value in obj.items():
        if budget <= 0:
            _put_rest(rest, path, _entries_from(obj, key))
            return 0
        budget -= 1
        name = f"{prefix}.{key}"
        if value.__class__ is dict and depth < MAX_FLATTEN_DEPTH:
            if value:
                budget = _flatten_into(
                    columns, paths, row, name, (*path, key), value, depth + 1, budget, rest
                )
            continue
        column = columns.get(name)
        if column is None:
            column = columns[name] = {}
            paths[name] = (*path, key)
        column[row] = value
    return budget


def _entries_from(obj: dict[Any, Any], first: Any) -> dict[Any, Any]:
    """Return a copy of ``obj`` without the entries before key ``first`` (there are few).

    Copying the whole object and deleting the few visited keys costs C time per entry left,
    not the Python time of rebuilding it key by key.
    """
    left = obj.copy()
    for key in obj:
        if key is first:
            break
        del left[key]
    return left


def _put_rest(rest: list[dict[str, Any]], path: tuple[str, ...], left: dict[Any, Any]) -> None:
    """Add the entries ``left`` at ``path`` in ``rest[0]``; as they are when nothing is there."""
    if not path:
        if rest[0]:
            rest[0].update(left)
        else:
            rest[0] = left  # no copy: a million entries cost nothing more here
        return
    parent = _nest(rest[0], path[:-1])
    there = parent.get(path[-1])
    if there.__class__ is dict and there:
        there.update(left)
    else:
        parent[path[-1]] = left


def _nest(rest: dict[str, Any], path: Sequence[str]) -> dict[str, Any]:
    """Return the object at ``path`` inside ``rest``, creating the objects on the way."""
    node = rest
    for key in path:
        child = node.get(key)
        if child.__class__ is not dict:
            child = node[key] = {}
        node = child
    return node


def _dense(values: dict[int, Any], n: int) -> list[Any]:
    column: list[Any] = [None] * n
    for row, value in values.items():
        column[row] = value
    return column


def _to_json(value: dict[str, Any]) -> str:
    """Write a rest object as JSON text; never raises (repr as the last resort)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # too deep for orjson, an integer beyond 64 bits, a non-JSON value
        try:
            return json.dumps(value, ensure_ascii=False, default=repr)
        except (ValueError, TypeError, RecursionError):
            return repr(value)
