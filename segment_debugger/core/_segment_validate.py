"""The slow path of the Segment parser: find and word every problem of one payload.

:func:`~segment_debugger.core.segment.parse_event` decides on its own only "valid, nothing to
flag"; any doubt comes here. :func:`_parse` takes anything (coerces the arguments, says why a
payload is not a JSON object), :func:`_validate` checks a parsed object field by field, and the
helpers word each violation: text fields holding non-strings or invisible characters
(:func:`invisible_characters`), dates (:func:`is_iso8601`), duplicate keys
(:func:`~._duplicate_keys._duplicate_keys`), size. Tests check that the two paths agree.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson

from segment_debugger.core._duplicate_keys import _duplicate_keys
from segment_debugger.core.event import EVENT_TYPES, FROM_RAW, TEXT_FIELDS, Event

#: Segment rejects messages larger than 32 KB.
MAX_EVENT_BYTES = 32 * 1024

_loads = orjson.loads
_dumps = orjson.dumps
_JSONDecodeError = orjson.JSONDecodeError
_fromisoformat = datetime.fromisoformat
_KNOWN_TYPES = frozenset(EVENT_TYPES)
_UNPARSED: Any = object()
# Extended-format ISO-8601 (what Segment libraries send), for dates that
# datetime.fromisoformat rejects on some Python versions (e.g. 2 or 9 fraction digits on 3.10).
_ISO_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2})(?::(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?"
    r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?)?",
    re.ASCII,
)

# Characters that hide or reorder text (checked only in strings that fail str.isprintable(),
# which is False for every one of them): C0 and C1 controls and DEL; the soft hyphen, Arabic
# letter mark and Mongolian vowel separator; zero-width space/joiners and LRM/RLM; line and
# paragraph separators; bidi embeddings, overrides and isolates; word joiner and invisible
# operators; deprecated format characters; the byte order mark (zero-width no-break space);
# interlinear annotation marks.
_INVISIBLE_RE = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb]"
)
# A zero-width joiner inside an emoji sequence (e.g. a family emoji) is how that emoji is
# written, not a spoof: one between two pictographs (optionally after a variation selector or
# skin tone) is not flagged.
_EMOJI = "\u2600-\u27bf\U0001f000-\U0001faff"
_EMOJI_ZWJ_RE = re.compile(f"(?<=[{_EMOJI}\ufe0f\U0001f3fb-\U0001f3ff])\u200d(?=[{_EMOJI}])")

#: At most this many duplicate keys are named in violations (the rest are counted).


def _parse(raw: Any, channel: Any, received_at: Any, pattern: Any) -> Event:
    """Parse and validate anything: coerce the arguments, say why a payload is not an object."""
    violations: list[str] = []
    if type(raw) is not bytes:
        raw = _as_bytes(raw, violations)
    if type(channel) is not str:
        channel = _as_text(channel)
    if pattern is not None and type(pattern) is not str:
        pattern = _as_text(pattern)
    try:
        data = _loads(raw)
    except _JSONDecodeError as exc:
        violations.append(_decode_problem(raw, exc))
        data = _UNPARSED
    if type(data) is dict:
        return _validate(raw, channel, received_at, pattern, data, violations)
    if data is not _UNPARSED:
        violations.append(f"JSON is {_kind(data)}, not an object")
    size = len(raw)
    if size > MAX_EVENT_BYTES:
        violations.append(_too_big(size))
    return Event(raw, channel, received_at, pattern, -1, size, valid=False, violations=violations)


def _validate(
    raw: bytes,
    channel: str,
    received_at: float,
    pattern: str | None,
    data: dict[str, Any],
    violations: list[str],
) -> Event:
    """Validate the parsed object ``data`` of ``raw``, flagging every problem in ``violations``."""
    get = data.get
    typ = get("type")
    if typ.__class__ is not str or typ not in _KNOWN_TYPES:
        typ = _bad_type(typ, violations)
    strings = tuple(map(get, TEXT_FIELDS))
    for value in strings:
        if value is not None and (value.__class__ is not str or not value.isprintable()):
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

    try:  # fast path: the payload is exactly what orjson writes back, so no key was lost
        dumped: bytes | None = _dumps(data)
    except TypeError:  # nested deeper than orjson writes (254 levels)
        dumped = None
    if dumped != raw:
        _duplicate_keys(raw, dumped, violations)

    size = len(raw)
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
    if not typ.isprintable():
        _flag_invisible("type", typ, violations)
    return typ


def _texts(values: tuple[Any, ...], violations: list[str]) -> tuple[Any, ...]:
    """Flag each of the ``TEXT_FIELDS`` that holds a non-string or hidden characters.

    Returns them all as text.
    """
    texts = []
    for key, value in zip(TEXT_FIELDS, values, strict=True):
        if value is not None and type(value) is not str:
            value = _not_a_string(key, value, violations)
        elif value is not None and not value.isprintable():
            _flag_invisible(key, value, violations)
        texts.append(value)
    return tuple(texts)


def invisible_characters(text: str) -> list[str]:
    """Return the invisible or reordering characters in ``text`` as ``U+XXXX``, each once.

    Controls (C0, DEL, C1), bidi embeddings/overrides/isolates and marks, zero-width
    characters, the BOM and similar format characters: what lets an id display as another
    ("Trojan Source"). A zero-width joiner inside an emoji sequence is not counted.
    """
    if text.isprintable():  # False for every character above: the common case stops here
        return []
    if "\u200d" in text:
        text = _EMOJI_ZWJ_RE.sub("", text)
    found = dict.fromkeys(_INVISIBLE_RE.findall(text))
    return [f"U+{ord(c):04X}" for c in found]


def _flag_invisible(key: str, text: str, violations: list[str]) -> None:
    """Flag ``text`` (the value of ``key``) when it holds invisible or reordering characters."""
    found = invisible_characters(text)
    if found:
        shown = ", ".join(found[:4]) + (f" and {len(found) - 4} more" if len(found) > 4 else "")
        violations.append(f"{key} contains invisible or reordering characters ({shown})")


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
