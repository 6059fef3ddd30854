"""Segment spec: turn raw bytes from Redis into an :class:`Event`, summarise and validate it.

CONTRACT (shared by every module; do not rename fields without updating all users):

``parse_event(raw, channel, received_at, pattern=None) -> Event`` never raises. It decodes,
parses (orjson) and validates; bad input becomes an Event with ``valid=False`` and readable
``violations``. ``seq`` stays -1 until :class:`~segment_debugger.buffer.EventBuffer` assigns it;
the buffer also adds the "duplicate messageId" violation, since only it knows what is buffered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The six Segment call types.
EVENT_TYPES: tuple[str, ...] = ("track", "identify", "page", "screen", "group", "alias")


@dataclass(slots=True, eq=False)
class Event:
    """One message received from Redis, kept exactly as received plus its parsed Segment fields."""

    raw: bytes
    """The payload exactly as received."""
    channel: str
    """The Redis channel (or stream key) it arrived on."""
    received_at: float
    """Local clock, seconds since the epoch, when the source read it."""
    pattern: str | None = None
    """The subscription pattern that matched, for pattern subscriptions."""
    seq: int = -1
    """Monotonic sequence number, assigned by the buffer (-1 until buffered)."""
    size: int = 0
    """``len(raw)`` in bytes."""
    data: dict[str, Any] | None = None
    """The parsed JSON object, or None when the payload is not a JSON object."""
    type: str | None = None
    event: str | None = None
    name: str | None = None
    userId: str | None = None  # noqa: N815 - Segment's field names
    anonymousId: str | None = None  # noqa: N815
    messageId: str | None = None  # noqa: N815
    groupId: str | None = None  # noqa: N815
    previousId: str | None = None  # noqa: N815
    timestamp: str | None = None
    sentAt: str | None = None  # noqa: N815
    receivedAt: str | None = None  # noqa: N815
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    valid: bool = True
    violations: list[str] = field(default_factory=list)
