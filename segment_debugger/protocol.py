"""Messages between the Python widget and its front end (mirrored in ``js/src/protocol.ts``).

Control state that must survive a re-render lives in traitlets (``paused``, ``query``,
``status``, ``stats``, ``selected``). Everything else is a custom message with a ``type``.

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

Unknown message types get an ``error`` reply, never silence.
"""

from __future__ import annotations

from typing import Literal, TypedDict

#: Payload text longer than this (in characters) is truncated in rows; ``raw_request`` gets all.
RAW_PREVIEW_CHARS = 16_384


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
    type: Literal["snapshot"]
    rows: list[Row]
    last_seq: int
    request_id: str | None


class DeltaMsg(TypedDict):
    type: Literal["delta"]
    rows: list[Row]
    after_seq: int
    last_seq: int
    skipped: int


class RawMsg(TypedDict):
    type: Literal["raw"]
    seq: int
    raw: str | None  # None when the event was evicted meanwhile
    request_id: str | None


class ErrorMsg(TypedDict):
    type: Literal["error"]
    message: str
    request_id: str | None


class SnapshotRequest(TypedDict):
    type: Literal["snapshot_request"]
    request_id: str


class RawRequest(TypedDict):
    type: Literal["raw_request"]
    seq: int
    request_id: str
