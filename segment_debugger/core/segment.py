"""Segment spec: turn raw bytes from Redis into an Event, summarise and validate it.

The record itself, :class:`~segment_debugger.core.event.Event`, lives in :mod:`.event`.

CONTRACT (shared by every module; do not rename fields without updating all users):

``parse_event(raw, channel, received_at, pattern=None) -> Event`` never raises. It decodes,
parses (orjson) and validates; bad input becomes an Event with ``valid=False`` and readable
``violations``. ``seq`` stays -1 until :class:`~.buffer.EventBuffer` assigns it;
the buffer also adds the "duplicate messageId" violation (text from :func:`duplicate_violation`),
since only it knows what is buffered.

The happy path costs little more than ``orjson.loads``: a handful of dict lookups, no regex, no
copies; the parsed objects are not kept but parsed again from ``raw`` when asked for (see
:class:`~segment_debugger.core.event.Event`), so buffered events cost the garbage collector one
small flat record each.
Validation follows https://segment.com/docs/connections/spec/common/.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson

from segment_debugger.core.event import EVENT_TYPES, FROM_RAW, TEXT_FIELDS, Event

#: Segment rejects messages larger than 32 KB.
MAX_EVENT_BYTES = 32 * 1024

_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError
_fromisoformat = datetime.fromisoformat
_KNOWN_TYPES = frozenset(EVENT_TYPES)
_UNPARSED: Any = object()
_DATE_SEPARATORS = frozenset(("T", "t", " ", ""))

# Extended-format ISO-8601 (what Segment libraries send), for dates that
# datetime.fromisoformat rejects on some Python versions (e.g. 2 or 9 fraction digits on 3.10).
_ISO_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2})(?::(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?"
    r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?)?",
    re.ASCII,
)


def parse_event(raw: bytes, channel: str, received_at: float, pattern: str | None = None) -> Event:
    """Parse and validate one message; never raises.

    Problems become ``violations`` (short readable strings) and ``valid=False``; the payload is
    kept exactly as received. ``data`` is the parsed JSON object, or None when the payload is not
    valid UTF-8 JSON holding an object.
    """
    try:
        return _parse(raw, channel, received_at, pattern)
    except Exception as exc:  # a bug here must not kill the source thread
        return _fallback_event(raw, channel, received_at, pattern, exc)


def _parse(raw: Any, channel: Any, received_at: Any, pattern: Any) -> Event:
    violations: list[str] = []
    if type(raw) is not bytes:
        raw = _as_bytes(raw, violations)
    if type(channel) is not str:
        channel = _as_text(channel)
    if pattern is not None and type(pattern) is not str:
        pattern = _as_text(pattern)
    size = len(raw)
    try:
        data = _loads(raw)
    except _JSONDecodeError as exc:
        violations.append(_decode_problem(raw, exc))
        data = _UNPARSED
    if type(data) is not dict:
        if data is not _UNPARSED:
            violations.append(f"JSON is {_kind(data)}, not an object")
        if size > MAX_EVENT_BYTES:
            violations.append(_too_big(size))
        return Event(
            raw, channel, received_at, pattern, -1, size, valid=False, violations=violations
        )

    # Inlined for speed: the happy path is these lookups and a few type checks.
    get = data.get
    typ = get("type")
    if typ.__class__ is not str or typ not in _KNOWN_TYPES:
        typ = _bad_type(typ, violations)
    strings = tuple(map(get, TEXT_FIELDS))
    for value in strings:
        if value is not None and value.__class__ is not str:
            strings = _texts(strings, violations)
            break
    event, name, user_id, anonymous_id, message_id, group_id, previous_id = strings

    if typ == "alias":
        if not previous_id:
            violations.append("alias without previousId")
        if not user_id:
            violations.append("alias without userId")
    else:
        if not user_id and not anonymous_id:
            violations.append("neither userId nor anonymousId")
        if typ == "track":
            if not event:
                violations.append("track without event")
        elif typ == "group" and not group_id:
            violations.append("group without groupId")

    timestamp = get("timestamp")
    sent_at = get("sentAt")
    received = get("receivedAt")
    original = get("originalTimestamp")
    try:  # fast path: every present timestamp is a string fromisoformat takes, extended format
        if timestamp is not None:
            _fromisoformat(timestamp)
            if timestamp[10:11] not in _DATE_SEPARATORS or timestamp[4:5] != "-":
                raise ValueError
        if sent_at is not None:
            _fromisoformat(sent_at)
            if sent_at[10:11] not in _DATE_SEPARATORS or sent_at[4:5] != "-":
                raise ValueError
        if received is not None:
            _fromisoformat(received)
            if received[10:11] not in _DATE_SEPARATORS or received[4:5] != "-":
                raise ValueError
        if original is not None:
            _fromisoformat(original)
            if original[10:11] not in _DATE_SEPARATORS or original[4:5] != "-":
                raise ValueError
    except (ValueError, TypeError):
        if timestamp is not None:
            timestamp = _date("timestamp", timestamp, violations)
        if sent_at is not None:
            sent_at = _date("sentAt", sent_at, violations)
        if received is not None:
            received = _date("receivedAt", received, violations)
        if original is not None:
            _date("originalTimestamp", original, violations)

    properties = get("properties")
    if properties is not None and properties.__class__ is not dict:
        properties = _not_an_object("properties", properties, violations)
    traits = get("traits")
    if traits is not None and traits.__class__ is not dict:
        traits = _not_an_object("traits", traits, violations)
    context = get("context")
    if context is not None and context.__class__ is not dict:
        context = _not_an_object("context", context, violations)

    if size > MAX_EVENT_BYTES:
        violations.append(_too_big(size))
    return Event(
        raw,
        channel,
        received_at,
        pattern,
        -1,
        size,
        FROM_RAW,  # parsed again on access: see Event
        typ,
        event,
        name,
        user_id,
        anonymous_id,
        message_id,
        group_id,
        previous_id,
        timestamp,
        sent_at,
        received,
        None if properties is None else FROM_RAW,
        None if traits is None else FROM_RAW,
        None if context is None else FROM_RAW,
        not violations,
        violations or None,
    )


def _too_big(size: int) -> str:
    return f"payload is {size:,} bytes, over Segment's 32 KB limit"


def _bad_type(typ: Any, violations: list[str]) -> str | None:
    """Flag a missing, non-string or unknown ``type``; return it as text (None when missing)."""
    if typ is None:
        violations.append("missing type")
        return None
    if type(typ) is not str:
        return _not_a_string("type", typ, violations)
    violations.append(f"unknown type {_short(typ)}")
    return typ


def _texts(values: tuple[Any, ...], violations: list[str]) -> tuple[Any, ...]:
    """Flag each of the ``TEXT_FIELDS`` that holds a non-string; return them all as text."""
    return tuple(
        value if value is None or type(value) is str else _not_a_string(key, value, violations)
        for key, value in zip(TEXT_FIELDS, values, strict=True)
    )


def _date(key: str, value: Any, violations: list[str]) -> str:
    """Flag a timestamp field that is not an ISO-8601 string; return it as text."""
    if type(value) is str:
        if not is_iso8601(value):
            violations.append(f"{key} is not an ISO-8601 date: {_short(value)}")
        return value
    violations.append(f"{key} is not an ISO-8601 date: {_short(value)}")
    return _to_text(value)


def _not_an_object(key: str, value: Any, violations: list[str]) -> Any:
    """Flag a field that should hold an object; return None (the field is left empty)."""
    violations.append(f"{key} is {_kind(value)}, not an object")
    return None


def _not_a_string(key: str, value: Any, violations: list[str]) -> str:
    """Flag a Segment field that should be a string; return its value as text."""
    violations.append(f"{key} is {_kind(value)}, not a string")
    return _to_text(value)


def is_iso8601(text: str) -> bool:
    """Tell whether ``text`` is an extended-format ISO-8601 date or date-time (``Z`` allowed).

    Fast path: ``datetime.fromisoformat`` (Python >= 3.11 takes ``Z``); the regex fallback covers
    what it rejects on older versions, so the answer does not depend on the Python version.
    """
    try:
        _fromisoformat(text)
    except ValueError:
        pass
    else:
        # fromisoformat also takes the basic format and any date/time separator: rule those out.
        return text[4:5] == "-" and (len(text) <= 10 or text[10] in "Tt ")
    match = _ISO_RE.fullmatch(text)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    try:
        datetime(year, month, day)
    except ValueError:
        return False
    return hour < 24 and minute < 60 and second < 61


def _decode_problem(raw: bytes, exc: Exception) -> str:
    """Describe why ``raw`` did not parse: bad UTF-8, empty, or the JSON error, shortened."""
    if not raw:
        return "empty payload"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"not valid UTF-8 (byte 0x{raw[bad.start]:02x} at offset {bad.start})"
    message = str(exc).split(": line ", 1)[0]
    if message.startswith("Input is a zero-length"):
        return "empty payload"
    position = getattr(exc, "pos", None)
    where = f" at char {position}" if isinstance(position, int) else ""
    return f"not JSON: {_truncate(message, 60)}{where}"


def _kind(value: Any) -> str:
    """JSON-flavoured name of a value's kind, with its article: 'an array', 'a number'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        return repr(value)


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short(value: Any) -> str:
    """Quote a value for a violation message, cut to a readable length."""
    if isinstance(value, str):
        return repr(_truncate(value, 40))
    return _truncate(_to_text(value), 40)


def _as_bytes(raw: Any, violations: list[str]) -> bytes:
    """Coerce a non-bytes payload (bytearray, memoryview, str...) to bytes."""
    if isinstance(raw, bytes | bytearray | memoryview):
        return bytes(raw)
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogatepass")
    violations.append(f"payload is a {type(raw).__name__}, not bytes")
    return repr(raw).encode("utf-8", "replace")


def _as_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _fallback_event(
    raw: Any, channel: Any, received_at: Any, pattern: Any, exc: Exception
) -> Event:
    """Build the Event for input that made the parser itself fail: kept, flagged."""
    try:
        payload = raw if isinstance(raw, bytes) else _as_bytes(raw, [])
    except Exception:  # last resort: keep something
        payload = b""
    channel_text = channel if isinstance(channel, str) else repr(channel)
    stamp = received_at if isinstance(received_at, int | float) else 0.0
    pattern_text = pattern if pattern is None or isinstance(pattern, str) else repr(pattern)
    return Event(
        payload,
        channel_text,
        float(stamp),
        pattern_text,
        size=len(payload),
        valid=False,
        violations=[f"could not be parsed ({type(exc).__name__}: {_truncate(str(exc), 60)})"],
    )


def duplicate_violation(message_id: str) -> str:
    """Return the violation the buffer adds when an event's ``messageId`` is already buffered."""
    return f"duplicate messageId {_short(message_id)}"
