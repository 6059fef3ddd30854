"""The wire format between the Python widget and its front end: rows, messages, traits.

Declared once here; ``spec/protocol.json`` is generated from these declarations
(``python -m segment_debugger.widget.wire``) and both pytest and Vitest check their side
against it, as ``spec/filter_vectors.json`` does for the filter.

Control state that must survive a re-render lives in traitlets on ``SegmentDebugger``:

    paused        bool, two-way. The front end freezes its view on its own (no round trip)
                  and mirrors the flag to Python; ``dbg.pause()`` sets it from Python.
    query         str, two-way. The filter box, in the filter language (README).
    type_filter   list[str], two-way. Quick toggles: the event types shown; empty = all.
                  Events whose type is missing/unknown show only when this is empty.
    invalid_only  bool, two-way. Quick toggle: only events with violations.
    warnings_only bool, two-way. Quick toggle: only events with warnings.
    selected_seq  int | None, two-way. The selected event's seq; the front end highlights
                  that row and writes this trait (click, arrow keys, Esc), nothing else.
    selected      dict | None, Python -> front end, derived from ``selected_seq``: the event's
                  fields (:func:`selected_dict`), ``raw`` cut, ``data`` left out, plus
                  ``person`` (:class:`PersonSummary`: the detail pane's person and its
                  "Show this person" button; None when the event carries no id). One shape.
    status        dict, Python -> front end: {state, reason, url (password redacted), since}.
                  state is one of connecting / live / reconnecting / stopped / error.
    stats         dict, Python -> front end: the buffer's stats (received, buffered, evicted,
                  invalid, warnings, gaps, lost_estimate, bytes, rate_per_s, by_type, last_seq,
                  last_gap) plus the pump's displayed_rate_per_s and skipped (rows thinned
                  away, total) and ``rates`` ({t0, by_type: {type: [60 per-second counts]}}).
    max_rows      int, Python -> front end: the front end's store capacity (= max_messages).

``dbg.filtered()`` applies query AND type_filter AND invalid_only AND warnings_only, exactly
like the front end.

Everything else is a custom message with a ``type``.

Python -> front end
    ``snapshot``  the buffered rows that match the view's criteria (query, type toggles,
                  invalid-only, warnings-only), oldest first, at most ``max_rows``. Sent when
                  the front end asks, after ``clear()``, and when the criteria change.
                  Replaces the front end's store. ``buffered``: events in the buffer;
                  ``matched``: how many of them match (None when there are no criteria: all
                  match). ``persons``: for
                  each ``person:ID`` term of the query, every id of that person (the front
                  end's filter matches rows whose userId, else anonymousId, is one of them);
                  None without such terms. When a person grows or shrinks while live (an
                  anonymousId gets identified, an eviction), a new snapshot is sent.
    ``delta``     rows newer than the previous message's ``last_seq``. ``after_seq`` is the
                  ``last_seq`` of the previous snapshot/delta: if the store's last seq differs,
                  the front end lost a message and asks for a snapshot. ``skipped`` counts rows
                  in (after_seq, last_seq] deliberately not sent because input outran the
                  display budget (thinning); they are still in the Python buffer.
                  ``buffered`` is how many events the buffer held when the rows were read;
                  with criteria, rows are only the matching events (filtered in Python
                  before thinning: ``skipped`` counts thinned matches only) and ``matched``
                  counts the buffered events that match.
                  Seqs count every event received, so ``last_seq`` is also the received total.
    ``raw``       the full payload text of one event, answering ``raw_request``.
    ``export``    the filtered view as NDJSON (``io.export``'s lines), answering
                  ``export_request``; the bytes are the message's one binary buffer.
    ``suggestions`` the filter box's suggestions and one-line hint (``analysis.suggest``),
                  answering ``suggest_request``: each item's ``insert`` replaces
                  ``text[start:end]`` (the term at the caret).
    ``error``     a request could not be served; says why.

Front end -> Python
    ``snapshot_request``  on first render, after a reload, or on a seq gap.
    ``raw_request``       the full text of a truncated payload.
    ``clear_request``     the header's clear button: Python clears the buffer, then sends a
                          ``snapshot`` (empty).
    ``export_request``    the toolbar's Export button: Python answers with ``export``.
    ``suggest_request``   the filter box's text and caret as the user types; the front end
                          sends at most two a second and drops replies to older text.

Unknown message types get an ``error`` reply, never silence.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypedDict, Union, get_args, get_origin, get_type_hints

from segment_debugger.core.event import EVENT_TYPES, OBJECT_FIELDS, Event

#: Payload text longer than this (in characters) is truncated in rows; ``raw_request`` gets all.
#: Equal to Segment's 32 KB message limit, so every spec-sized payload reaches the front end
#: whole and the JS filter sees exactly what Python sees; only oversized (invalid) ones are cut.
RAW_PREVIEW_CHARS = 32_768


class Row(TypedDict):
    """One event as the front end sees it."""

    seq: int
    t: float  # received_at, milliseconds since the epoch
    channel: str
    pattern: str | None
    stream_id: str | None  # the Redis Stream entry id (StreamSource), else None
    type: str | None
    event: str | None
    name: str | None
    userId: str | None
    anonymousId: str | None
    messageId: str | None
    timestamp: str | None
    valid: bool
    violations: list[str]
    warnings: list[str]  # checks that leave the event valid (clock, duplicates, drift)
    size: int  # bytes of the raw payload
    raw: str  # payload decoded as UTF-8 (errors replaced), at most RAW_PREVIEW_CHARS
    truncated: bool  # True when raw was cut to RAW_PREVIEW_CHARS


class SnapshotMsg(TypedDict):
    """Python -> front end: every buffered row; replaces the front end's store."""

    type: Literal["snapshot"]
    rows: list[Row]
    last_seq: int
    request_id: str | None
    buffered: int  # events in the Python buffer when the snapshot was taken
    matched: int | None  # buffered events matching the view's criteria; None: no criteria
    persons: dict[str, list[str]] | None  # person:ID term -> the ids of that person; None: none


class PersonSummary(TypedDict):
    """The selected event's person (``selected["person"]``): who the detail pane shows."""

    person: str  # its key: the userId, or the anonymousId of an anonymous person
    user_ids: list[str]
    anonymous_ids: list[str]  # in the order first buffered (alias previousIds included)
    events: int  # the person's buffered events when the event was selected


class DeltaMsg(TypedDict):
    """Python -> front end: rows newer than ``after_seq``; ``skipped`` counts thinned rows."""

    type: Literal["delta"]
    rows: list[Row]
    after_seq: int
    last_seq: int
    skipped: int
    buffered: int  # events in the Python buffer when the rows were read (same lock)
    matched: int | None  # buffered events matching the view's criteria; None: no criteria


class RawMsg(TypedDict):
    """Python -> front end: the full payload text of one event."""

    type: Literal["raw"]
    seq: int
    raw: str | None  # None when the event was evicted meanwhile
    request_id: str | None


class ErrorMsg(TypedDict):
    """Python -> front end: a request could not be served, and why."""

    type: Literal["error"]
    message: str
    request_id: str | None


class SnapshotRequest(TypedDict):
    """Front end -> Python: send a snapshot."""

    type: Literal["snapshot_request"]
    request_id: str


class RawRequest(TypedDict):
    """Front end -> Python: send the full payload of event ``seq``."""

    type: Literal["raw_request"]
    seq: int
    request_id: str


class ClearRequest(TypedDict):
    """Front end -> Python: clear the buffer (the header's clear button)."""

    type: Literal["clear_request"]
    request_id: str


class ExportRequest(TypedDict):
    """Front end -> Python: the filtered view as an NDJSON file (the toolbar's Export button)."""

    type: Literal["export_request"]
    request_id: str


class ExportMsg(TypedDict):
    """Python -> front end: an export; the file's bytes travel as the message's one buffer."""

    type: Literal["export"]
    request_id: str | None
    filename: str  # segment-events-<UTC time>.ndjson
    count: int  # events in the file
    size: int  # bytes in the buffer


class SuggestRequest(TypedDict):
    """Front end -> Python: suggestions for the filter box's ``text`` at ``caret``."""

    type: Literal["suggest_request"]
    text: str
    caret: int  # characters before the caret
    request_id: str


class SuggestionItem(TypedDict):
    """One entry of the filter box's dropdown."""

    label: str  # what the entry shows (event data: shown as text only)
    insert: str  # replaces text[start:end] of the request
    detail: str  # beside it: JSON types and count, a count, or what a pseudo-field does


class SuggestionsMsg(TypedDict):
    """Python -> front end: the answer to ``suggest_request``."""

    type: Literal["suggestions"]
    items: list[SuggestionItem]
    start: int  # the term the items replace: text[start:end]
    end: int
    hint: str | None  # one line: a term the grammar reads differently from what was meant
    request_id: str | None


#: The largest export sent to the browser; beyond it the reply is an error naming dbg.export.
MAX_BROWSER_EXPORT_BYTES = 256 * 2**20

#: Every message type, by its ``type`` field.
MESSAGES: dict[str, type] = {
    "snapshot": SnapshotMsg,
    "delta": DeltaMsg,
    "raw": RawMsg,
    "export": ExportMsg,
    "suggestions": SuggestionsMsg,
    "error": ErrorMsg,
    "snapshot_request": SnapshotRequest,
    "raw_request": RawRequest,
    "clear_request": ClearRequest,
    "export_request": ExportRequest,
    "suggest_request": SuggestRequest,
}

#: UTF-8 needs at most this many bytes per character.
_MAX_UTF8_BYTES = 4


def preview_text(raw: bytes, limit: int = RAW_PREVIEW_CHARS) -> tuple[str, bool]:
    """Decode ``raw`` as UTF-8 (bad bytes replaced), cut to ``limit`` characters.

    Returns ``(text, truncated)``. A payload far longer than ``limit`` is decoded only as far as
    needed, so a 1 MB event costs no more than a small one.
    """
    if len(raw) > _MAX_UTF8_BYTES * limit:
        # 4*limit bytes always decode to at least `limit` characters before any partial tail.
        return raw[: _MAX_UTF8_BYTES * limit].decode("utf-8", "replace")[:limit], True
    text = raw.decode("utf-8", "replace")
    if len(text) > limit:
        return text[:limit], True
    return text, False


def event_to_row(event: Event) -> Row:
    """Build the front end's :class:`Row` for one buffered event."""
    raw, truncated = preview_text(event.raw)
    return Row(
        seq=event.seq,
        t=event.received_at * 1000.0,
        channel=event.channel,
        pattern=event.pattern,
        stream_id=event.stream_id,
        type=event.type,
        event=event.event,
        name=event.name,
        userId=event.userId,
        anonymousId=event.anonymousId,
        messageId=event.messageId,
        timestamp=event.timestamp,
        valid=event.valid,
        violations=list(event.violations_view()),
        warnings=list(event.warnings_view()),
        size=event.size,
        raw=raw,
        truncated=truncated,
    )


def selected_dict(event: Event) -> dict[str, Any]:
    """Return the ``selected`` trait for ``event``: every field but ``data``, ``raw`` cut.

    ``raw`` is cut to :data:`RAW_PREVIEW_CHARS` characters (``truncated`` says so); when it
    is cut, ``properties``/``traits``/``context`` are left out too (None), so a 1 MB event never
    crosses the wire twice. ``event.data`` or the ``raw_request`` message give the whole.
    """
    out = event.to_dict()
    del out["data"]
    out["raw"], truncated = preview_text(event.raw)
    out["truncated"] = truncated
    if truncated:
        for name in OBJECT_FIELDS:
            out[name] = None
    return out


# -- spec/protocol.json --------------------------------------------------------------------------

#: The synced traits of SegmentDebugger: name -> (type, direction). Checked against the widget
#: class by the tests, and against the front end's model interface by Vitest.
TRAITS: dict[str, tuple[str, str]] = {
    "paused": ("bool", "two-way"),
    "query": ("str", "two-way"),
    "type_filter": ("list[str]", "two-way"),
    "invalid_only": ("bool", "two-way"),
    "warnings_only": ("bool", "two-way"),
    "selected_seq": ("int | null", "two-way"),
    "selected": ("dict | null", "to-frontend"),
    "status": ("dict", "to-frontend"),
    "stats": ("dict", "to-frontend"),
    "max_rows": ("int", "to-frontend"),
    "_version": ("str", "to-frontend"),
}

SPEC_PATH = Path(__file__).resolve().parents[2] / "spec" / "protocol.json"


def _type_name(annotation: Any) -> str:
    """Render a TypedDict field's annotation the way spec/protocol.json spells types."""
    if annotation is type(None):
        return "null"
    origin = get_origin(annotation)
    if origin is Literal:
        return " | ".join(repr(arg) for arg in get_args(annotation))
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(arg) for arg in get_args(annotation))
    if origin is list:
        return f"list[{_type_name(get_args(annotation)[0])}]"
    if origin is dict:
        return "dict[{}]".format(", ".join(_type_name(arg) for arg in get_args(annotation)))
    if isinstance(annotation, typing._TypedDictMeta):  # type: ignore[attr-defined]
        return annotation.__name__
    return str(annotation.__name__)


def _fields(typed_dict: type) -> dict[str, str]:
    return {name: _type_name(hint) for name, hint in get_type_hints(typed_dict).items()}


def _example_rows() -> list[Row]:
    from segment_debugger.core.segment import parse_event

    payloads = [
        b'{"type":"track","event":"Order Completed","userId":"u1","messageId":"m1",'
        b'"timestamp":"2024-05-01T12:00:00Z","properties":{"revenue":10}}',
        b'{"type":"identify","anonymousId":"a1","traits":{"email":"a@b.example"}}',
        b'{"type":"page","userId":"<img src=x onerror=alert(1)>","name":"Home"}',
        b"\xff not json",
    ]
    rows = []
    for seq, payload in enumerate(payloads, start=1):
        event = parse_event(payload, "events", 1714564800.0 + seq)
        event.seq = seq
        rows.append(event_to_row(event))
    return rows


def protocol_spec() -> dict[str, Any]:
    """Return the contents of ``spec/protocol.json``, derived from the declarations above."""
    return {
        "generated_by": "python -m segment_debugger.widget.wire",
        "raw_preview_chars": RAW_PREVIEW_CHARS,
        "event_types": list(EVENT_TYPES),
        "row": _fields(Row),
        "messages": {name: _fields(message) for name, message in MESSAGES.items()},
        "traits": {name: {"type": kind, "sync": sync} for name, (kind, sync) in TRAITS.items()},
        "example_rows": _example_rows(),
    }


def render_spec() -> str:
    """Return spec/protocol.json's text (sorted nowhere: declaration order is meaningful)."""
    return json.dumps(protocol_spec(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    SPEC_PATH.write_text(render_spec(), encoding="utf-8")
    sys.stdout.write(f"wrote {SPEC_PATH}\n")
