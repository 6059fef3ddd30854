"""``segment-debugger tail``: one terminal-safe line per event, for use without a notebook.

Each line carries the event's label by exactly the rule of the widget's list
(``label`` in ``js/src/ui/format.ts``); ``spec/label_vectors.json`` holds the cases both
languages are tested against.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, TextIO

import orjson

from segment_debugger.cli.common import CommandError, stop_on_signals
from segment_debugger.sources.url import DEFAULT_CHANNEL, DEFAULT_URL, redact

if TYPE_CHECKING:
    from segment_debugger.core.event import Event
    from segment_debugger.widget.wire import Row

NAME_WIDTH = 36
NAME_LIMIT = 80
TYPE_WIDTH = 8
INVALID_MARK = "✗"


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``tail`` on the ``segment-debugger`` command line."""
    tl = subparsers.add_parser(
        "tail", help="print a live one-line summary per event",
        description="Print one line per Segment event arriving on Redis.",
    )
    tl.add_argument("url", nargs="?", help="Redis URL (default: REDIS_URL or localhost)")
    tl.add_argument(
        "--channel", action="append", help=f"channel, repeatable (default: {DEFAULT_CHANNEL})"
    )
    tl.add_argument("--pattern", action="append", help="channel pattern, repeatable")
    tl.add_argument("--filter", default="", metavar="QUERY", help="only events matching QUERY")
    tl.add_argument("--max", type=int, metavar="N", help="stop after printing N events")
    tl.set_defaults(func=run)


# ---- the one-line summary -------------------------------------------------------------------


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


# ---- the loop -------------------------------------------------------------------------------


def _status_text(status: Any) -> str:
    """``state: reason`` of a :class:`SourceStatus`, terminal-safe."""
    state = getattr(status, "state", status)
    reason = getattr(status, "reason", "")
    return printable(f"{state}: {reason}" if reason else str(state))


def _gap_text(gap: Any) -> str:
    return printable(
        f"-- gap: up to {gap.duration:.1f} s of messages may be lost ({gap.reason}), "
        f"after seq {gap.after_seq}"
    )


def tail(
    url: str,
    channels: list[str],
    patterns: list[str],
    query: str,
    max_events: int | None,
    stop: threading.Event,
    out: TextIO,
) -> int:
    """Print one line per event arriving on ``channels``/``patterns`` until ``stop`` is set.

    Returns how many events were printed. Status changes, gaps and events evicted before they
    could be printed (a terminal slower than the stream) get lines of their own.
    """
    from segment_debugger.core.buffer import EventBuffer
    from segment_debugger.core.query import parse_query
    from segment_debugger.sources.pubsub import RedisSource

    matcher = parse_query(query)
    buffer = EventBuffer(max_messages=50_000)
    shown = 0
    seen = 0
    gaps = 0
    status = ""
    with RedisSource(url, channels=tuple(channels), patterns=tuple(patterns), buffer=buffer) as src:
        while not stop.is_set() and (max_events is None or shown < max_events):
            buffer.wait_for(seen + 1, timeout=0.2)
            now_status = _status_text(src.status)
            if now_status != status:
                status = now_status
                print(f"-- status: {status}", file=out, flush=True)
            if buffer.stats["gaps"] != gaps:
                new = buffer.stats["gaps"] - gaps
                gaps += new
                for gap in buffer.gaps[-new:]:
                    print(_gap_text(gap), file=out)
            events = buffer.since(seen)
            if events and events[0].seq > seen + 1:
                missed = events[0].seq - seen - 1
                print(f"-- {missed} events not shown: terminal too slow", file=out)
            lines = []
            for event in events:
                if matcher.matches(event):
                    lines.append(format_line(event))
                    shown += 1
                    if max_events is not None and shown >= max_events:
                        break
            if events:
                seen = events[-1].seq
            if lines:
                out.write("\n".join(lines) + "\n")
            out.flush()
    return shown


def run(args: argparse.Namespace) -> int:
    """Run ``segment-debugger tail``: a live one-line-per-event summary."""
    from segment_debugger.sources.url import RedisURLError

    url = args.url or os.environ.get("REDIS_URL") or DEFAULT_URL
    channels = list(args.channel or [])
    patterns = list(args.pattern or [])
    if not channels and not patterns:
        channels = [DEFAULT_CHANNEL]
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")
    where = ", ".join([*channels, *(f"pattern {p}" for p in patterns)])
    print(f"tailing {redact(url)} ({where}); Ctrl-C to stop", file=sys.stderr, flush=True)
    stop = threading.Event()
    with stop_on_signals(stop):
        try:
            shown = tail(url, channels, patterns, args.filter, args.max, stop, sys.stdout)
        except RedisURLError as exc:
            raise CommandError(str(exc)) from None
        except BrokenPipeError:  # e.g. piped into `head`: stop quietly
            return 0
    print(f"{shown} events shown", file=sys.stderr, flush=True)
    return 0
