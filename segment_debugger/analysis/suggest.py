"""Suggestions for the filter box, from the traffic itself (issue 11).

:class:`Suggester` answers "what could come next at the caret": field paths seen in the
traffic (``properties.`` lists the paths the inferred schemas hold, most frequent first, with
their JSON types), top-level fields, the pseudo-fields (``valid:``, ``violation:``,
``warning:``, ``person:``, ``stream_id:``) and, after ``field:``, the most frequent values seen
(``event:`` lists event names with counts). With them comes a one-line hint
(:mod:`.hints`) for a term the grammar reads differently from what was likely meant.

Where the figures come from: ``properties.*`` and ``traits.*`` paths from the buffer's
inferred schemas (:mod:`.schemas`: every buffered event, exact counts); top-level fields and
other nested paths (``context.*``) from the newest :data:`SHAPE_SCAN` buffered events; values
from the newest :data:`MAX_SCAN`. Bounded work per request: at most :data:`MAX_SCAN` events
read, :data:`MAX_VALUES` distinct values counted per field, :data:`MAX_PATHS` paths kept, each
distinct shape of event walked once; the summary is cached per
buffer version (newest and oldest seq) and, while events keep arriving, rebuilt at most once
per :data:`REFRESH_S`, so a flood costs one summary a second whatever the typing.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from segment_debugger.analysis.hints import PSEUDO_FIELDS, hint, spans
from segment_debugger.core.event import TEXT_FIELDS, Event
from segment_debugger.core.query import number_text, person_query

if TYPE_CHECKING:
    from segment_debugger.core.buffer import EventBuffer

__all__ = ["Suggester", "Suggestion", "Suggestions"]

#: Newest buffered events whose values are counted.
MAX_SCAN = 5_000
#: Newest buffered events whose fields and nested paths are read (their shape varies less).
SHAPE_SCAN = 1_000
#: Distinct values counted per field (later new values are not counted).
MAX_VALUES = 1_000
#: Paths kept per summary (the most frequent).
MAX_PATHS = 2_000
#: Paths read per event, and how deep (hostile payloads).
MAX_PATHS_PER_EVENT = 200
MAX_DEPTH = 6
#: Suggestions per answer.
MAX_ITEMS = 30
#: Characters of a value shown and inserted (a longer one is inserted as a prefix with ``*``).
MAX_VALUE_CHARS = 120
#: A summary is rebuilt at most this often while the buffer changes (seconds).
REFRESH_S = 1.0

_GROUPS = ("properties", "traits")
_KINDS = {str: "string", int: "number", float: "number", bool: "boolean", dict: "object",
          list: "array", type(None): "null"}
_FIELD_CHARS = re.compile(r"[A-Za-z_$][A-Za-z0-9_$.-]*")
_FIELD_PREFIX = re.compile(r"([A-Za-z_$][A-Za-z0-9_$.-]*)?")
#: Characters a value cannot carry into the filter box as they are: controls, line breaks,
#: invisible and reordering characters. Replaced by ``*`` (the wildcard still matches them).
_UNTYPABLE = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]+")
_NEEDS_QUOTES = re.compile(r'[\s"\\]|^[<>]|^$')


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One entry of the dropdown: what it shows, what it inserts, and a note beside it."""

    label: str
    insert: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        """Return the wire form (``{label, insert, detail}``)."""
        return {"label": self.label, "insert": self.insert, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Suggestions:
    """An answer: ``items`` replace ``text[start:end]`` (the term at the caret); ``hint``."""

    items: tuple[Suggestion, ...]
    start: int
    end: int
    hint: str | None


@dataclass(slots=True)
class _PathStats:
    count: int = 0
    types: Counter[str] = field(default_factory=Counter)

    def detail(self) -> str:
        kinds = " | ".join(kind for kind, _ in self.types.most_common(3))
        return f"{kinds} · {self.count:,}" if kinds else f"{self.count:,}"

    def is_object(self) -> bool:
        return bool(self.types) and self.types.most_common(1)[0][0] == "object"


@dataclass(slots=True)
class _Summary:
    version: tuple[int, int | None]
    built_at: float
    events: list[Event]
    top: dict[str, _PathStats]  # top-level key -> stats
    nested: dict[str, _PathStats]  # dotted path (two segments or more) -> stats
    values: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # field -> counted
    lowered: dict[str, str] = field(default_factory=dict)  # path.lower() -> path

    def known(self, path: str) -> bool:
        return path in self.top or path in self.nested or path in PSEUDO_FIELDS

    def case_match(self, path: str) -> str | None:
        found = self.lowered.get(path.lower())
        return found if found is not None and found != path else None


class Suggester:
    """Suggestions and hints for the filter box over one buffer (thread-safe, cached)."""

    def __init__(
        self,
        buffer: EventBuffer,
        *,
        scan: int = MAX_SCAN,
        refresh_s: float = REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._buffer = buffer
        self._scan = scan
        self._refresh_s = refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._summary: _Summary | None = None
        self.builds = 0
        """Summaries built so far (the cache's misses)."""

    def suggest(self, text: str, caret: int | None = None) -> Suggestions:
        """Suggestions for the term at ``caret`` (default: the end) of ``text``, and a hint."""
        text = text if isinstance(text, str) else ""
        caret = len(text) if not isinstance(caret, int) or isinstance(caret, bool) else caret
        caret = max(0, min(len(text), caret))
        with self._lock:
            summary = self._current()
            start, end, items = self._items(summary, text, caret)
            found = hint(text, caret, known=summary.known, case_match=summary.case_match)
        return Suggestions(tuple(items[:MAX_ITEMS]), start, end, found)

    # ---- the summary -------------------------------------------------------------------------

    def _current(self) -> _Summary:
        buffer = self._buffer
        version = (buffer.last_seq, buffer.first_seq)
        now = self._clock()
        summary = self._summary
        if summary is not None and (
            summary.version == version
            or (summary.version[1] is not None and version[1] is not None
                and now - summary.built_at < self._refresh_s)
        ):
            return summary
        events = buffer.since(version[0] - self._scan, self._scan) if version[1] else []
        top: dict[str, _PathStats] = {}
        nested: dict[str, _PathStats] = {}
        _count_shapes(events[-SHAPE_SCAN:], top, nested)
        for group, paths in _schema_paths(buffer).items():
            top.setdefault(group, _PathStats(0, Counter({"object": 1})))
            for path, stats in paths.items():
                nested[path] = stats
        if len(nested) > MAX_PATHS:
            kept = sorted(nested.items(), key=lambda kv: -kv[1].count)[:MAX_PATHS]
            nested = dict(kept)
        lowered = {path.lower(): path for path in (*top, *nested)}
        self._summary = _Summary(version, now, events, top, nested, lowered=lowered)
        self.builds += 1
        return self._summary

    # ---- suggestions -------------------------------------------------------------------------

    def _items(self, summary: _Summary, text: str, caret: int) -> tuple[int, int, list[Suggestion]]:
        span = next((s for s in reversed(spans(text)) if s.body <= caret <= s.end), None)
        if span is None:  # between terms: a new one starts at the caret
            return caret, caret, self._fields(summary, "")
        typed = text[span.body : caret]
        start, end = span.body, span.end
        name, colon, value = typed.partition(":")
        if colon and _FIELD_CHARS.fullmatch(name):
            current = text[span.body : span.end]
            items = [s for s in self._values(summary, name, value) if s.insert != current]
            return start, end, items
        if _FIELD_PREFIX.fullmatch(typed):
            return start, end, self._fields(summary, typed)
        return start, end, []

    def _fields(self, summary: _Summary, typed: str) -> list[Suggestion]:
        lowered = typed.lower()
        if "." not in typed:
            ranked = sorted(summary.top.items(), key=lambda kv: (-kv[1].count, kv[0]))
            items = [
                Suggestion(path, _field_insert(path, stats), stats.detail())
                for path, stats in ranked if path.lower().startswith(lowered)
            ]
            items += [
                Suggestion(f"{name}:", f"{name}:", about)
                for name, about in PSEUDO_FIELDS.items() if name.startswith(lowered)
            ]
            return items
        head = typed.partition(".")[0]
        ranked = sorted(
            ((path, stats) for path, stats in summary.nested.items()
             if path.lower().startswith(lowered)
             and path.partition(".")[0].lower() == head.lower()),
            key=lambda kv: (-kv[1].count, kv[0]),
        )
        return [Suggestion(path, _field_insert(path, stats), stats.detail())
                for path, stats in ranked]

    def _values(self, summary: _Summary, name: str, typed: str) -> list[Suggestion]:
        if typed[:1] in ("<", ">"):
            return []  # a comparison: no value to offer
        partial = _unquote(typed).lower()
        counted = summary.values.get(name)
        if counted is None:
            counted = summary.values[name] = _count_values(summary.events, name)
        prefix = [(v, n) for v, n in counted if v.lower().startswith(partial)]
        inside = [(v, n) for v, n in counted if partial and partial in v.lower()[1:]
                  and not v.lower().startswith(partial)]
        out = []
        for value, n in (*prefix, *inside)[:MAX_ITEMS]:
            if name == "person":  # an id is matched exactly: no wildcard may stand in
                if "\n" not in value and "\r" not in value:  # a text box cannot hold these
                    label = value[:MAX_VALUE_CHARS] + ("…" if len(value) > MAX_VALUE_CHARS else "")
                    out.append(Suggestion(label, person_query(value), f"{n:,}"))
                continue
            shown = _UNTYPABLE.sub("*", value)
            cut = len(shown) > MAX_VALUE_CHARS
            if cut:
                shown = shown[:MAX_VALUE_CHARS] + "*"
            label = value[:MAX_VALUE_CHARS] + ("…" if cut else "")
            out.append(Suggestion(label, f"{name}:{_quote(shown)}", f"{n:,}"))
        return out


def _field_insert(path: str, stats: _PathStats) -> str:
    """Continue an object path with ``.`` (its keys follow); give anything else a ``:``."""
    return f"{path}." if stats.is_object() else f"{path}:"


_Shape = tuple[tuple[str, str], ...]


def _count_shapes(events: Iterable[Event], top: dict[str, _PathStats],
                  nested: dict[str, _PathStats]) -> None:
    """Count top-level keys and nested paths (not under properties/traits) of ``events``.

    Events share a few shapes: each event's (path, JSON type) pairs are one key, counted;
    the paths of each distinct shape are then added once, weighted by its count.
    """
    shapes: Counter[_Shape] = Counter()
    for event in events:
        data = event.data
        if type(data) is dict:
            pairs: list[tuple[str, str]] = []
            _walk(data, "", 1, pairs)
            shapes[tuple(pairs)] += 1
    for shape, n in shapes.items():
        for path, kind in shape:
            out = nested if "." in path else top
            stats = out.get(path)
            if stats is None:
                if len(out) >= MAX_PATHS:
                    continue
                stats = out[path] = _PathStats()
            stats.count += n
            stats.types[kind] += n


def _walk(obj: dict[str, Any], prefix: str, depth: int, out: list[tuple[str, str]]) -> None:
    """Append (path, JSON type) of ``obj``'s keys, depth first (bounded per event)."""
    for key, value in obj.items():
        if len(out) >= MAX_PATHS_PER_EVENT:
            return
        path = f"{prefix}{key}"
        kind = _KINDS.get(type(value), "string")
        out.append((path, kind))
        if kind == "object" and depth < MAX_DEPTH and not (depth == 1 and key in _GROUPS):
            _walk(value, path + ".", depth + 1, out)


def _schema_paths(buffer: EventBuffer) -> dict[str, dict[str, _PathStats]]:
    """``properties.*`` and ``traits.*`` paths over every buffered event, from the schemas."""
    out: dict[str, dict[str, _PathStats]] = {}
    for (typ, _name), paths in buffer.schema_inference().paths_by_event().items():
        group = "traits" if typ in ("identify", "group") else "properties"
        merged = out.setdefault(group, {})
        for sub, (types, count) in paths.items():
            path = f"{group}.{sub}"
            stats = merged.get(path)
            if stats is None:
                stats = merged[path] = _PathStats()
            stats.count += count
            stats.types.update(types)
    return out


def _count_values(events: Iterable[Event], name: str) -> list[tuple[str, int]]:
    """Count the values of field ``name`` over ``events``, most frequent first (bounded)."""
    counts: Counter[str] = Counter()

    def add(value: str) -> None:
        if value in counts or len(counts) < MAX_VALUES:
            counts[value] += 1

    if name == "valid":
        for event in events:
            add("true" if event.valid else "false")
    elif name in ("violation", "warning"):
        for event in events:
            messages = event.violations_view() if name == "violation" else event.warnings_view()
            for message in messages:
                add(message)
    elif name == "stream_id":
        n = sum(1 for event in events if event.stream_id is not None)
        return [("*", n)] if n else []
    elif name == "person":
        for event in events:
            who = event.userId if isinstance(event.userId, str) else event.anonymousId
            if isinstance(who, str):
                add(who)
    elif name == "type" or name in TEXT_FIELDS:
        for event in events:
            value = getattr(event, name)
            if isinstance(value, str) and value[:1] not in ("[", "{"):  # not an array's text
                add(value)
    else:
        path = tuple(name.split("."))
        for event in events:
            for value in _lookup(event.data, path):
                text = _scalar_text(value)
                if text is not None:
                    add(text)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _lookup(data: Any, path: tuple[str, ...]) -> list[Any]:
    """Values at ``path`` (arrays: an index picks, any other key looks in each element)."""
    current = [data]
    for key in path:
        found = []
        for item in current:
            if type(item) is dict:
                if key in item:
                    found.append(item[key])
            elif type(item) is list:
                if key.isascii() and key.isdigit():
                    if int(key) < len(item):
                        found.append(item[int(key)])
                else:
                    found.extend(x[key] for x in item[:100] if type(x) is dict and key in x)
        current = found
        if not current:
            return []
    out: list[Any] = []
    for value in current:
        out.extend(value[:100] if type(value) is list else (value,))
    return out


def _scalar_text(value: Any) -> str | None:
    """Write a JSON scalar as the filter compares it (numbers as JavaScript writes them)."""
    kind = type(value)
    if kind is str:
        return str(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is int or kind is float:
        return number_text(value)
    return None


def _quote(value: str) -> str:
    """Write a value as the filter box holds it: quoted if it has spaces, quotes, ``<``/``>``."""
    if not _NEEDS_QUOTES.search(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _unquote(typed: str) -> str:
    """Return the value typed so far, without its opening quote and escapes."""
    if not typed.startswith('"'):
        return typed
    return re.sub(r"\\(.)", r"\1", typed[1:]).removesuffix('"')
