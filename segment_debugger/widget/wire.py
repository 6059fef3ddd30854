"""Messages between the Python widget and its front end (mirrored in ``js/src/protocol.ts``).

Control state that must survive a re-render lives in traitlets on ``SegmentDebugger``:

    paused        bool, two-way. The front end freezes its view on its own (no round trip)
                  and mirrors the flag to Python; ``dbg.pause()`` sets it from Python.
    query         str, two-way. The filter box, in the filter language (README).
    type_filter   list[str], two-way. Quick toggles: the event types shown; empty = all.
                  Events whose type is missing/unknown show only when this is empty.
    invalid_only  bool, two-way. Quick toggle: only events with violations.
    selected      dict | None, two-way. The selected event as a dict (``event_to_dict``),
                  always with a ``seq`` key; the front end highlights the row with that seq.
    status        dict, Python -> front end: {state, reason, url (password redacted), since}.
                  state is one of connecting / live / reconnecting / stopped / error.
    stats         dict, Python -> front end: the buffer's stats (received, buffered, evicted,
                  invalid, gaps, bytes, rate_per_s, by_type, last_seq, last_gap) plus the pump's
                  displayed_rate_per_s and skipped (rows thinned away, total).
    max_rows      int, Python -> front end: the front end's store capacity (= max_messages).
    throttle_ms   int, Python -> front end: the delta interval.

``dbg.filtered()`` applies query AND type_filter AND invalid_only, exactly like the front end.

Everything else is a custom message with a ``type``.

Python -> front end
    ``snapshot``  every buffered row, oldest first. Sent when the front end asks, and after
                  ``clear()``. Replaces the front end's store.
    ``delta``     rows newer than the previous message's ``last_seq``. ``after_seq`` is the
                  ``last_seq`` of the previous snapshot/delta: if the store's last seq differs,
                  the front end lost a message and asks for a snapshot. ``skipped`` counts rows
                  in (after_seq, last_seq] deliberately not sent because input outran the
                  display budget (thinning); they are still in the Python buffer.
    ``raw``       the full payload text of one event, answering ``raw_request``.
    ``error``     a request could not be served; says why.

Front end -> Python
    ``snapshot_request``  on first render, after a reload, or on a seq gap.
    ``raw_request``       the full text of a truncated payload.
    ``clear_request``     the header's clear button: Python clears the buffer, then sends a
                          ``snapshot`` (empty).

Unknown message types get an ``error`` reply, never silence.
"""

from __future__ import annotations

from typing import Literal, TypedDict

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
    type: str | None
    event: str | None
    name: str | None
    userId: str | None
    anonymousId: str | None
    messageId: str | None
    timestamp: str | None
    valid: bool
    violations: list[str]
    size: int  # bytes of the raw payload
    raw: str  # payload decoded as UTF-8 (errors replaced), at most RAW_PREVIEW_CHARS
    truncated: bool  # True when raw was cut to RAW_PREVIEW_CHARS


class SnapshotMsg(TypedDict):
    """Python -> front end: every buffered row; replaces the front end's store."""

    type: Literal["snapshot"]
    rows: list[Row]
    last_seq: int
    request_id: str | None


class DeltaMsg(TypedDict):
    """Python -> front end: rows newer than ``after_seq``; ``skipped`` counts thinned rows."""

    type: Literal["delta"]
    rows: list[Row]
    after_seq: int
    last_seq: int
    skipped: int


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
