"""Segment spec: turn raw bytes from Redis into an Event, summarise and validate it.

The record itself, :class:`~segment_debugger.core.event.Event`, lives in :mod:`.event`.

CONTRACT (shared by every module; do not rename fields without updating all users):

``parse_event(raw, channel, received_at, pattern=None) -> Event`` never raises. It decodes,
parses (orjson) and validates; bad input becomes an Event with ``valid=False`` and readable
``violations``. ``seq`` stays -1 until :class:`~.buffer.EventBuffer` assigns it;
the buffer also adds the "duplicate messageId" violation (text from :func:`duplicate_violation`),
since only it knows what is buffered.

The happy path is inlined in :func:`parse_event` and only decides "valid, nothing to flag":
``orjson.loads``, 15 dict lookups, ``isascii``/``isprintable`` per text, ``fromisoformat`` per
date (the datetimes handed to the buffer's clock check), one ``orjson.dumps`` compared with
``raw`` (the duplicate-key check), no regex, no copies, and the record built by
:func:`~segment_debugger.core.event.parsed_event`. Any doubt sends the event to
:func:`_validate` (:mod:`._segment_validate`), which finds and words every problem (tests check
the two agree). ``python benchmarks/parse.py`` measures it against ``orjson.loads`` alone:
about 2.5x on compact payloads, 3.0x on ``json.dumps``-style ones, where the floor is
``loads`` + ``dumps`` + the record (1.4x). The parsed objects are not kept but parsed again
from ``raw`` when asked for (see :class:`~segment_debugger.core.event.Event`), so buffered
events cost the garbage collector one small flat record each.

Beyond the Segment spec, two things are flagged because they make one payload mean different
things to different readers: duplicate keys in a JSON object (orjson, like most parsers, keeps
the last value; others keep the first or reject the payload), see :func:`_duplicate_keys`; and
invisible or reordering characters (C0/C1 controls, bidi overrides and isolates, zero-width
characters) in ``type`` and the :data:`~segment_debugger.core.event.TEXT_FIELDS`, which can make
one id display as another ("Trojan Source"), see :func:`invisible_characters`.
Validation follows https://segment.com/docs/connections/spec/common/.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import orjson

from segment_debugger.core._duplicate_keys import _BACKSLASH, _DUPLICATE_QUOTE, _duplicate_keys
from segment_debugger.core._segment_validate import (
    MAX_EVENT_BYTES,
    _fallback_event,
    _parse,
    _too_big,
    _validate,
    duplicate_violation,
    invisible_characters,
    is_iso8601,
)
from segment_debugger.core.event import EVENT_TYPES, FROM_RAW, Event, parsed_event

__all__ = [
    "EVENT_TYPES",
    "MAX_EVENT_BYTES",
    "duplicate_violation",
    "invisible_characters",
    "is_iso8601",
    "parse_event",
]

_loads = orjson.loads
_dumps = orjson.dumps
_JSONDecodeError = orjson.JSONDecodeError
if sys.version_info >= (3, 11):
    _fromisoformat = datetime.fromisoformat
else:  # 3.10's fromisoformat does not take "Z" (UTC), which every Segment library writes

    def _fromisoformat(text: str) -> datetime:
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        return datetime.fromisoformat(text)

_KNOWN_TYPES = frozenset(EVENT_TYPES)
_DEL = 0x7F  # an int: ``in`` bytes is one memchr
# What the quick checks raise on a value of the wrong kind (isprintable on a non-string, a list
# looked up in a set, fromisoformat on a non-string or a bad date, a date shorter than a year).
_DOUBT = (AttributeError, TypeError, ValueError, IndexError)
# The last sentAt and receivedAt that passed the date check, each with its datetime (any
# thread's: a pair read and written whole, so a reader sees one that passed).
_passed: list[tuple[Any, Any]] = [(None, None), (None, None)]


def parse_event(
    raw: bytes, channel: str, received_at: float, pattern: str | None = None, *,
    keep: bool = False,
) -> Event:
    """Parse and validate one message; never raises.

    Problems become ``violations`` (short readable strings) and ``valid=False``; the payload is
    kept exactly as received. ``data`` is the parsed JSON object, or None when the payload is not
    valid UTF-8 JSON holding an object.

    With ``keep``, an event the quick checks pass holds on to the object parsed here (else it
    is parsed again on access), for :meth:`~.buffer.EventBuffer.extend_handed`, which lets it
    go once the analysis has read it.
    """
    # The hot path, inlined (one call per event, no list): it only answers "is this a valid
    # event?", each test strict enough that a yes is what _validate would find too. Anything
    # else goes to _parse/_validate, which find and word every problem.
    try:
        if raw.__class__ is not bytes or channel.__class__ is not str or not (
            pattern is None or pattern.__class__ is str
        ):
            return _parse(raw, channel, received_at, pattern)
        try:
            data = _loads(raw)
        except _JSONDecodeError:
            return _parse(raw, channel, received_at, pattern)
        if data.__class__ is not dict:
            return _parse(raw, channel, received_at, pattern)
        get = data.get  # one lookup each (an unpacked map(get, keys) is slower)
        typ = get("type")
        event = get("event")
        name = get("name")
        user_id = get("userId")
        anonymous_id = get("anonymousId")
        message_id = get("messageId")
        group_id = get("groupId")
        previous_id = get("previousId")
        timestamp = get("timestamp")
        sent_at = get("sentAt")
        received = get("receivedAt")
        original = get("originalTimestamp")
        properties = get("properties")
        traits = get("traits")
        context = get("context")
        plain = _BACKSLASH not in raw and _DEL not in raw  # two memchr
        try:
            quick = (
                typ in _KNOWN_TYPES  # strings only: anything else is not in it (or raises)
                # text: a string without hidden characters (isprintable is False for each of
                # them; anything but a string has neither isascii nor isprintable and raises).
                # In a payload without a backslash or DEL byte, an ASCII string is printable:
                # orjson refuses raw control characters in strings, so only an escape or a DEL
                # could put one there (isascii reads a flag; isprintable reads each character)
                and (event is None or (plain and event.isascii()) or event.isprintable())
                and (name is None or (plain and name.isascii()) or name.isprintable())
                and (user_id is None or (plain and user_id.isascii()) or user_id.isprintable())
                and (anonymous_id is None
                     or (plain and anonymous_id.isascii()) or anonymous_id.isprintable())
                and (message_id is None
                     or (plain and message_id.isascii()) or message_id.isprintable())
                and (group_id is None or (plain and group_id.isascii()) or group_id.isprintable())
                and (previous_id is None
                     or (plain and previous_id.isascii()) or previous_id.isprintable())
                and (properties is None or properties.__class__ is dict)
                and (traits is None or traits.__class__ is dict)
                and (context is None or context.__class__ is dict)
                # the ids each call type needs
                and bool(
                    (previous_id and user_id)
                    if typ == "alias"
                    else (user_id or anonymous_id)
                    and (event if typ == "track" else typ != "group" or group_id)
                )
            )
            # dates: extended ISO-8601 strings. fromisoformat also takes the basic format and
            # any date/time separator: the 5th character must be the date's "-" and the 11th,
            # if any, a "T"/"t"/" " (what is_iso8601 asks). The datetimes are handed to the
            # buffer's clock check (moments), which would parse the same texts again.
            if quick and timestamp is not None:
                at = _fromisoformat(timestamp)
                quick = timestamp[4] == "-" and (len(timestamp) < 11 or timestamp[10] in "Tt ")
            # sentAt and receivedAt are stamped once per batch (by the library, by Segment):
            # the value the last event had passed is not parsed again
            sent_moment = received_moment = None
            if quick and sent_at is not None:
                last = _passed[0]
                if sent_at == last[0]:
                    sent_moment = last[1]
                else:
                    sent_moment = _fromisoformat(sent_at)
                    quick = sent_at[4] == "-" and (len(sent_at) < 11 or sent_at[10] in "Tt ")
                    if quick:
                        _passed[0] = (sent_at, sent_moment)
            if quick and received is not None:
                last = _passed[1]
                if received == last[0]:
                    received_moment = last[1]
                else:
                    received_moment = _fromisoformat(received)
                    quick = received[4] == "-" and (len(received) < 11 or received[10] in "Tt ")
                    if quick:
                        _passed[1] = (received, received_moment)
            if quick and original is not None:
                _fromisoformat(original)
                quick = original[4] == "-" and (len(original) < 11 or original[10] in "Tt ")
        except _DOUBT:
            quick = False
        if not quick:
            return _validate(raw, channel, received_at, pattern, data, [])

        violations: list[str] | None = None
        try:  # the payload is exactly what orjson writes back: no key was lost
            dumped: bytes | None = _dumps(data)
        except TypeError:  # nested deeper than orjson writes (254 levels)
            dumped = None
        if dumped != raw and (
            dumped is None
            or dumped.count(b'"') != raw.count(b'"')
            or (_BACKSLASH in raw and _DUPLICATE_QUOTE in raw)  # memchr first: rarely any
        ):
            found: list[str] = []
            _duplicate_keys(raw, None, found)  # None: the cheap test above was inconclusive
            violations = found or None
        size = len(raw)
        if size > MAX_EVENT_BYTES:
            violations = [*(violations or ()), _too_big(size)]
        return parsed_event(
            raw,
            channel,
            received_at,
            pattern,
            size,
            data if keep else FROM_RAW,  # else parsed again on access: see Event
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
            violations,
            None if timestamp is None else (
                timestamp, at, received, received_moment, sent_at, sent_moment
            ),
        )
    except Exception as exc:  # a bug here must not kill the source thread
        return _fallback_event(raw, channel, received_at, pattern, exc)
