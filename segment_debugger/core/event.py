"""The :class:`Event` record: one message from Redis and its Segment fields, kept flat.

:func:`~segment_debugger.core.segment.parse_event` builds these; this module holds only the
record and its accessors. Parsed JSON objects are not kept but marked with :data:`FROM_RAW` and
parsed again from ``raw`` on access, so buffered events cost the garbage collector one small
flat record each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

_loads = orjson.loads

#: The six Segment call types, in the order the UI shows them.
EVENT_TYPES: tuple[str, ...] = ("track", "identify", "page", "screen", "group", "alias")

# The one declaration of the fields an Event carries. Everything else (the parser, DataFrame
# columns, dicts, the widget's rows and spec/protocol.json) is derived from these tuples, and
# tests check the Event class against them: a new field is one edit here plus its uses.

#: What the source and the buffer know about a message, whatever it holds.
RECORD_FIELDS: tuple[str, ...] = ("raw", "channel", "received_at", "pattern", "seq", "size")
#: Segment fields that hold text (payload key = attribute name); non-strings are flagged.
TEXT_FIELDS: tuple[str, ...] = (
    "event", "name", "userId", "anonymousId", "messageId", "groupId", "previousId",
)
#: Segment fields that hold an ISO-8601 date (kept as text, parsed to datetimes in frames).
TIME_FIELDS: tuple[str, ...] = ("timestamp", "sentAt", "receivedAt")
#: Segment fields that hold an object (flattened to ``group.key`` columns in frames).
OBJECT_FIELDS: tuple[str, ...] = ("properties", "traits", "context")
#: The verdict: ``violations`` make an event invalid; ``warnings`` (clock and delivery checks,
#: schema drift) do not.
CHECK_FIELDS: tuple[str, ...] = ("valid", "violations", "warnings")
#: Where the source found the message, beyond its channel (None when not applicable).
ORIGIN_FIELDS: tuple[str, ...] = ("stream_id",)

#: Every attribute of an :class:`Event`, in constructor order.
FIELDS: tuple[str, ...] = (
    *RECORD_FIELDS, "data", "type", *TEXT_FIELDS, *TIME_FIELDS, *OBJECT_FIELDS, *CHECK_FIELDS,
    *ORIGIN_FIELDS,
)

#: Marks a parsed object that is read again from ``raw`` on access instead of being kept.
FROM_RAW: Any = object()


class Event:
    """One message received from Redis, kept exactly as received plus its parsed Segment fields.

    Attributes (constructor arguments, in order): ``raw`` (the payload exactly as received),
    ``channel`` (the Redis channel it arrived on), ``received_at`` (local clock, epoch seconds,
    when the source read it), ``pattern`` (the subscription pattern that matched, if any),
    ``seq`` (monotonic, assigned by the buffer; -1 until buffered), ``size`` (``len(raw)``),
    ``data`` (the parsed JSON object, or None when the payload is not a JSON object), the
    Segment fields ``type`` ... ``receivedAt`` (text, or None when absent), ``properties`` /
    ``traits`` / ``context`` (objects, or None when absent or not an object), ``valid`` and
    ``violations`` (short readable strings), ``warnings`` (short readable strings about things
    worth a look that leave the event valid: clock skew, a messageId seen again, schema
    drift), ``stream_id`` (the Redis Stream entry id, for
    events read from a stream; None otherwise). Segment's camelCase names are kept.

    Memory and speed: events made by :func:`~segment_debugger.core.segment.parse_event` do not keep
    the parsed JSON objects. ``data``, ``properties``, ``traits`` and ``context`` are parsed
    again from ``raw`` on each access (a few microseconds), so a buffer of many events holds
    flat records (bytes and strings) that Python's cyclic garbage collector does not have to
    scan over and over. Each access returns a fresh object: read it once into a local when you
    need it repeatedly.
    Assigning one of these attributes stores the given value as it is.
    """

    __slots__ = (
        "_context",
        "_data",
        "_moments",
        "_properties",
        "_traits",
        "_violations",
        "_warnings",
        "anonymousId",
        "channel",
        "event",
        "groupId",
        "messageId",
        "name",
        "pattern",
        "previousId",
        "raw",
        "receivedAt",
        "received_at",
        "sentAt",
        "seq",
        "size",
        "stream_id",
        "timestamp",
        "type",
        "userId",
        "valid",
    )

    raw: bytes
    channel: str
    received_at: float
    pattern: str | None
    seq: int
    size: int
    type: str | None
    event: str | None
    name: str | None
    userId: str | None
    anonymousId: str | None
    messageId: str | None
    groupId: str | None
    previousId: str | None
    timestamp: str | None
    sentAt: str | None
    receivedAt: str | None
    valid: bool
    stream_id: str | None

    def __init__(
        self,
        raw: bytes,
        channel: str,
        received_at: float,
        pattern: str | None = None,
        seq: int = -1,
        size: int = 0,
        data: dict[str, Any] | None = None,
        type: str | None = None,
        event: str | None = None,
        name: str | None = None,
        userId: str | None = None,
        anonymousId: str | None = None,
        messageId: str | None = None,
        groupId: str | None = None,
        previousId: str | None = None,
        timestamp: str | None = None,
        sentAt: str | None = None,
        receivedAt: str | None = None,
        properties: dict[str, Any] | None = None,
        traits: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        valid: bool = True,
        violations: list[str] | None = None,
        warnings: list[str] | None = None,
        stream_id: str | None = None,
    ) -> None:
        self.raw = raw
        self.channel = channel
        self.received_at = received_at
        self.pattern = pattern
        self.seq = seq
        self.size = size
        self._data = data
        self.type = type
        self.event = event
        self.name = name
        self.userId = userId
        self.anonymousId = anonymousId
        self.messageId = messageId
        self.groupId = groupId
        self.previousId = previousId
        self.timestamp = timestamp
        self.sentAt = sentAt
        self.receivedAt = receivedAt
        self._properties = properties
        self._traits = traits
        self._context = context
        self.valid = valid
        self._violations = violations
        self._warnings = warnings
        self.stream_id = stream_id
        self._moments: tuple[Any, ...] | None = None

    def __repr__(self) -> str:
        return (
            f"Event(seq={self.seq}, channel={self.channel!r}, type={self.type!r}, "
            f"size={self.size}, valid={self.valid}, raw={self.raw[:60]!r})"
        )

    @property
    def data(self) -> dict[str, Any] | None:
        """The parsed JSON object, or None when the payload is not a JSON object."""
        data = self._data
        return _loads(self.raw) if data is FROM_RAW else data

    @data.setter
    def data(self, value: dict[str, Any] | None) -> None:
        self._data = value

    @property
    def properties(self) -> dict[str, Any] | None:
        """The ``properties`` object, or None when absent or not an object."""
        value = self._properties
        if value is not FROM_RAW:
            return value
        data = self._data  # (the data property and _group, inlined: read on every check)
        if data is FROM_RAW:
            data = _loads(self.raw)
        value = None if data is None else data.get("properties")
        return value if value.__class__ is dict else None

    @properties.setter
    def properties(self, value: dict[str, Any] | None) -> None:
        self._properties = value

    @property
    def traits(self) -> dict[str, Any] | None:
        """The ``traits`` object, or None when absent or not an object."""
        value = self._traits
        if value is not FROM_RAW:
            return value
        data = self._data  # (the data property and _group, inlined: read on every check)
        if data is FROM_RAW:
            data = _loads(self.raw)
        value = None if data is None else data.get("traits")
        return value if value.__class__ is dict else None

    @traits.setter
    def traits(self, value: dict[str, Any] | None) -> None:
        self._traits = value

    @property
    def context(self) -> dict[str, Any] | None:
        """The ``context`` object, or None when absent or not an object."""
        value = self._context
        if value is not FROM_RAW:
            return value
        data = self._data  # (the data property and _group, inlined: read on every check)
        if data is FROM_RAW:
            data = _loads(self.raw)
        value = None if data is None else data.get("context")
        return value if value.__class__ is dict else None

    @context.setter
    def context(self, value: dict[str, Any] | None) -> None:
        self._context = value

    @property
    def violations(self) -> list[str]:
        """Short readable strings, one per problem found (empty for a valid event).

        The list is the event's own: appending to it changes the event.
        """
        violations = self._violations
        if violations is None:
            violations = self._violations = []
        return violations

    @violations.setter
    def violations(self, value: list[str]) -> None:
        self._violations = value

    @property
    def warnings(self) -> list[str]:
        """Short readable strings about things worth a look; they leave the event valid.

        Clock and delivery checks (:mod:`segment_debugger.core.checks`) and schema drift
        (:mod:`segment_debugger.analysis.schemas`) add them. The list is the event's own.
        """
        warnings = self._warnings
        if warnings is None:
            warnings = self._warnings = []
        return warnings

    @warnings.setter
    def warnings(self, value: list[str]) -> None:
        self._warnings = value

    def groups(self) -> tuple[Any, Any, Any]:
        """Return ``(properties, traits, context)``, parsing ``raw`` at most once."""
        properties, traits, context = self._properties, self._traits, self._context
        if properties is FROM_RAW or traits is FROM_RAW or context is FROM_RAW:
            data = self.data
            if properties is FROM_RAW:
                properties = _group(data, "properties")
            if traits is FROM_RAW:
                traits = _group(data, "traits")
            if context is FROM_RAW:
                context = _group(data, "context")
        return properties, traits, context

    def to_dict(self) -> dict[str, Any]:
        """Return every field (:data:`FIELDS`) as a JSON-able dict.

        ``raw`` as text (UTF-8, bad bytes replaced), ``received_at`` in epoch seconds,
        ``violations`` and ``warnings`` copied. ``data`` / ``properties`` / ``traits`` /
        ``context`` are those the event gives (fresh for a parsed event; shared when they were
        assigned to it).
        """
        out: dict[str, Any] = {name: getattr(self, name) for name in _PLAIN_FIELDS}
        out["received_at"] = float(self.received_at)
        out["raw"] = self.raw_text()
        out["properties"], out["traits"], out["context"] = self.groups()
        out["violations"] = list(self.violations_view())
        out["warnings"] = list(self.warnings_view())
        return out

    def raw_text(self) -> str:
        """Return the payload decoded as UTF-8, undecodable bytes replaced by U+FFFD."""
        return self.raw.decode("utf-8", "replace")

    def violations_view(self) -> Sequence[str]:
        """Return the violations read-only; unlike :attr:`violations`, allocates none if empty."""
        return self._violations or ()

    def warnings_view(self) -> Sequence[str]:
        """Return the warnings read-only; unlike :attr:`warnings`, allocates none if empty."""
        return self._warnings or ()


_PLAIN_FIELDS = tuple(f for f in FIELDS if f not in OBJECT_FIELDS)

_new = object.__new__


def parsed_event(
    raw: bytes,
    channel: str,
    received_at: float,
    pattern: str | None,
    size: int,
    data: Any,
    type: str | None,
    event: str | None,
    name: str | None,
    userId: str | None,
    anonymousId: str | None,
    messageId: str | None,
    groupId: str | None,
    previousId: str | None,
    timestamp: str | None,
    sentAt: str | None,
    receivedAt: str | None,
    properties: Any,
    traits: Any,
    context: Any,
    valid: bool,
    violations: list[str] | None,
    moments: tuple[Any, ...] | None = None,
) -> Event:
    """Build an :class:`Event` as ``Event(...)`` would (``seq`` -1, no warnings, no stream id).

    The parser's constructor: it sets the slots directly instead of going through
    ``type.__call__`` and ``__init__``, which builds an argument tuple and a second frame
    (0.27 instead of 0.35 µs per event). ``moments`` are the parser's datetimes for the
    buffer's clock check, ``(timestamp, its datetime, receivedAt, its datetime or None,
    sentAt, its datetime or None)``: the check reads them instead of parsing the dates again
    (while the texts are still those), and the buffer drops them once it has appended the
    event.
    """
    record = _new(Event)
    record.raw = raw
    record.channel = channel
    record.received_at = received_at
    record.pattern = pattern
    record.seq = -1
    record.size = size
    record._data = data
    record.type = type
    record.event = event
    record.name = name
    record.userId = userId
    record.anonymousId = anonymousId
    record.messageId = messageId
    record.groupId = groupId
    record.previousId = previousId
    record.timestamp = timestamp
    record.sentAt = sentAt
    record.receivedAt = receivedAt
    record._properties = properties
    record._traits = traits
    record._context = context
    record.valid = valid
    record._violations = violations
    record._warnings = None
    record.stream_id = None
    record._moments = moments
    return record


def _group(data: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    value = None if data is None else data.get(key)
    return value if value.__class__ is dict else None
