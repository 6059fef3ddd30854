"""One terminal-safe line per event: what ``segment-debugger tail`` prints.

Each line carries the event's label by exactly the rule of the widget's list
(``label`` in ``js/src/ui/format.ts``); ``spec/label_vectors.json`` holds the cases both
languages are tested against, ``spec/visible_vectors.json`` those of :func:`printable`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from segment_debugger.core.event import Event
    from segment_debugger.widget.wire import Row

NAME_WIDTH = 36
NAME_LIMIT = 80
TYPE_WIDTH = 8
INVALID_MARK = "✗"



def printable(text: str, limit: int | None = None) -> str:
    r"""Return ``text`` with control and other non-printable characters escaped (``\x1b``).

    A hostile payload can then not move the cursor, clear the screen or reorder the line.
    With ``limit``, the result is cut to that many characters, ending in ``…``.
    """
    cut = limit is not None and len(text) > limit
    if limit is not None:
        text = text[:limit]  # escape only what can be shown, even of a megabyte-long name
    if not text.isprintable():
        text = "".join(
            ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
        )
    if limit is not None and (cut or len(text) > limit):
        text = text[: limit - 1] + "…"
    return text


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


def _scalar(value: Any) -> str | None:
    """JavaScript's ``str`` of format.ts: non-empty text, a number or boolean as text, or None."""
    from segment_debugger.core.query import number_text

    if isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number_text(value)
    return None


def _field(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _first(*values: str | None) -> str:
    """Return the first value that is not None (JavaScript's ``??`` chain ending in ``""``)."""
    return next((v for v in values if v is not None), "")


def row_label(row: Row) -> str:
    """Return the label the widget's list shows for ``row`` (``label`` in js/src/ui/format.ts).

    track: the event name; page/screen: the name, else ``properties.name``; identify:
    ``traits.email``, else ``context.traits.email``, else the userId; group: the groupId;
    alias: ``previousId → userId`` (``?`` for a missing side); any other type: the event name,
    else the name, else an invalid event's first violation. Payload fields are read from the
    row's payload text (none when truncated); numbers and booleans read as JavaScript writes
    them; an empty string counts as missing for payload fields only.
    """
    kind = row["type"]
    if kind == "track":
        return _first(row["event"])
    data: Any = None
    if not row["truncated"]:
        try:
            data = orjson.loads(row["raw"])
        except orjson.JSONDecodeError:
            data = None
    if kind in ("page", "screen"):
        return _first(row["name"], _scalar(_field(data, "properties", "name")))
    if kind == "identify":
        return _first(
            _scalar(_field(data, "traits", "email")),
            _scalar(_field(data, "context", "traits", "email")),
            row["userId"],
        )
    if kind == "group":
        return _first(_scalar(_field(data, "groupId")))
    if kind == "alias":
        previous = _first(_scalar(_field(data, "previousId")), "?")
        return f"{previous} → {_first(row['userId'], '?')}"
    if row["event"] is not None or row["name"] is not None or row["valid"]:
        return _first(row["event"], row["name"])
    return _first(*row["violations"][:1])


def event_label(event: Event) -> str:
    """Return what identifies ``event`` at a glance, as the widget's list shows it.

    See :func:`row_label`: the event goes through the
    :class:`~segment_debugger.widget.wire.Row` the front end receives, so both read the same
    fields.
    """
    from segment_debugger.widget.wire import event_to_row

    return row_label(event_to_row(event))


def format_line(event: Event) -> str:
    """Summarise ``event`` in one terminal-safe line.

    Local receive time, type (padded), label (see :func:`event_label`), userId or
    anonymousId, and for invalid events a mark followed by the violations.
    """
    t = event.received_at
    clock = time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"
    kind = printable(_text(event.type) or "?", TYPE_WIDTH)
    label = printable(event_label(event), NAME_LIMIT)
    who = printable(_text(event.userId or event.anonymousId) or "-", 40)
    line = f"{clock}  {kind:<{TYPE_WIDTH}}  {label:<{NAME_WIDTH}}  {who}"
    if not event.valid:
        line += f"  {INVALID_MARK} " + printable("; ".join(event.violations), 200)
    return line.rstrip()
