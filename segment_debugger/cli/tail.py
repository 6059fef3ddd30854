"""``segment-debugger tail``: one terminal-safe line per event, for use without a notebook.

It reads pub/sub channels and patterns, sharded channels (``--shard-channel``), or streams
(``--stream NAME --from ID|TIME``, optionally in a consumer group), on one server or a cluster:
the URL goes to the source as it is given.

Each line carries the event's label by exactly the rule of the widget's list
(``label`` in ``js/src/ui/format.ts``); ``spec/label_vectors.json`` holds the cases both
languages are tested against.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TextIO

import orjson

from segment_debugger.cli.common import CommandError, stop_on_signals
from segment_debugger.sources.url import DEFAULT_CHANNEL, DEFAULT_URL, redact

if TYPE_CHECKING:
    from segment_debugger.core.buffer import EventBuffer
    from segment_debugger.core.event import Event
    from segment_debugger.sources.base import ThreadedSource
    from segment_debugger.widget.wire import Row

NAME_WIDTH = 36
NAME_LIMIT = 80
TYPE_WIDTH = 8
INVALID_MARK = "✗"


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``tail`` on the ``segment-debugger`` command line."""
    tl = subparsers.add_parser(
        "tail", help="print a live one-line summary per event",
        description="Print one line per Segment event arriving on Redis: pub/sub channels and "
        "patterns, sharded channels, or streams. The URL goes to the source unchanged: for "
        "channels and shard channels it may name a Redis Cluster (any node, or a seed list "
        "redis://h1:7000,h2:7001).",
    )
    tl.add_argument(
        "url", nargs="?",
        help="Redis URL or a cluster's seed list (default: REDIS_URL or localhost)",
    )
    tl.add_argument(
        "--channel", action="append", help=f"channel, repeatable (default: {DEFAULT_CHANNEL})"
    )
    tl.add_argument("--pattern", action="append", help="channel pattern, repeatable")
    tl.add_argument(
        "--shard-channel", action="append", metavar="NAME",
        help="sharded channel (SSUBSCRIBE, Redis >= 7), repeatable",
    )
    tl.add_argument(
        "--stream", action="append", metavar="NAME",
        help="read this stream instead of pub/sub (XREAD), repeatable",
    )
    tl.add_argument(
        "--from", dest="start", type=parse_from, metavar="ID|TIME",
        help="with --stream: where to start. " + FROM_ACCEPTED,
    )
    tl.add_argument(
        "--group", metavar="G",
        help="with --stream: read as a member of consumer group G (created if missing), "
        "acknowledging what was read",
    )
    tl.add_argument(
        "--consumer", metavar="C",
        help="with --group: this consumer's name (default: host name and process id)",
    )
    tl.add_argument("--filter", default="", metavar="QUERY", help="only events matching QUERY")
    tl.add_argument("--max", type=int, metavar="N", help="stop after printing N events")
    tl.set_defaults(func=run)


# ---- where a stream starts -----------------------------------------------------------------

FROM_ACCEPTED = (
    "Accepted: $ (new entries only, the default), 0 or - (the whole stream), an entry id "
    "(1714564800000-0, or just its milliseconds; reading starts after it), an ISO time "
    "(2024-05-01T12:00:00Z; UTC when no offset is given), or a duration back from now "
    "(90s, 5m, 2h, 1d, 1h30m)."
)

_ENTRY_ID = re.compile(r"\d+(?:-\d+)?")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_from(text: str) -> str | datetime | timedelta:
    """Turn a ``--from`` value into a StreamSource ``start``; raise ArgumentTypeError if bad.

    ``$``, ``0``, ``-`` and entry ids stay text; ``5m``/``90s``/``2h``/``1d``/``1h30m`` become
    a timedelta back from now; an ISO time (``2024-05-01T12:00:00Z``; naive means UTC) a
    datetime. The result is checked by
    :func:`~segment_debugger.sources.streams.parse_start` (a moment in the future is refused).
    """
    value = text.strip()
    start: str | datetime | timedelta
    if value in ("$", "0", "-") or _ENTRY_ID.fullmatch(value):
        start = value
    elif _DURATION.fullmatch(value):
        start = timedelta(seconds=sum(
            float(amount) * _UNITS[unit] for amount, unit in _DURATION_PART.findall(value)
        ))
    else:
        iso = value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else value
        try:
            moment = datetime.fromisoformat(iso)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a stream position. {FROM_ACCEPTED}"
            ) from None
        start = moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
    from segment_debugger.sources.streams import parse_start

    try:
        parse_start(start)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}. {FROM_ACCEPTED}") from None
    return start


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
    if gap.estimate_basis == "exact" and gap.lost_estimate is not None:
        return printable(
            f"-- gap: {gap.lost_estimate} messages lost ({gap.reason}), after seq {gap.after_seq}"
        )
    return printable(
        f"-- gap: up to {gap.duration:.1f} s of messages may be lost ({gap.reason}), "
        f"after seq {gap.after_seq}"
    )


def open_tail_source(args: argparse.Namespace, url: str, buffer: EventBuffer) -> ThreadedSource:
    """Return the (unstarted) source ``tail``'s flags describe, reading into ``buffer``.

    ``--stream`` gives a StreamSource; else channels, patterns and shard channels a RedisSource
    (``events`` when none is given). The URL is passed on unchanged: the sources check it and
    handle clusters. Raise :class:`CommandError` for flags that do not go together, or
    ValueError (``RedisURLError``) from the source.
    """
    channels = list(args.channel or [])
    patterns = list(args.pattern or [])
    shards = list(args.shard_channel or [])
    if args.stream:
        if channels or patterns or shards:
            raise CommandError(
                "give --stream, or --channel/--pattern/--shard-channel: one tail reads one kind"
            )
        if args.consumer is not None and args.group is None:
            raise CommandError("--consumer names a member of a consumer group: add --group G")
        from segment_debugger.sources.streams import StreamSource

        return StreamSource(
            url, args.stream, start="$" if args.start is None else args.start,
            group=args.group, consumer=args.consumer, buffer=buffer,
        )
    for flag, value in (("--from", args.start), ("--group", args.group),
                        ("--consumer", args.consumer)):
        if value is not None:
            raise CommandError(f"{flag} applies to streams: add --stream NAME")
    if not (channels or patterns or shards):
        channels = [DEFAULT_CHANNEL]
    from segment_debugger.sources.pubsub import RedisSource

    extra: dict[str, Any] = {"shard_channels": tuple(shards)} if shards else {}
    return RedisSource(
        url, channels=tuple(channels), patterns=tuple(patterns), buffer=buffer, **extra
    )


def describe(args: argparse.Namespace) -> str:
    """Return what ``tail`` reads, for its first line."""
    if args.stream:
        start = "$" if args.start is None else args.start
        where = f"from {start.isoformat() if isinstance(start, datetime) else start}"
        if isinstance(start, timedelta):
            where = f"from {start} ago"
        group = f", group {args.group}" if args.group else ""
        return ", ".join(f"stream {name}" for name in args.stream) + f" {where}{group}"
    parts = [
        *(args.channel or []),
        *(f"pattern {p}" for p in args.pattern or []),
        *(f"shard channel {c}" for c in args.shard_channel or []),
    ]
    return ", ".join(parts or [DEFAULT_CHANNEL])


def tail(
    source: ThreadedSource,
    query: str,
    max_events: int | None,
    stop: threading.Event,
    out: TextIO,
    positions: dict[str, str] | None = None,
) -> int:
    """Start ``source`` and print one line per event it buffers until ``stop`` is set.

    Returns how many events were printed. Status changes, gaps and events evicted before they
    could be printed (a terminal slower than the stream) get lines of their own. For stream
    events, ``positions`` (if given) receives the entry id of the last event printed per stream.
    """
    from segment_debugger.core.query import parse_query

    matcher = parse_query(query)
    buffer = source.buffer
    shown = 0
    seen = 0
    gaps = 0
    status = ""
    with source as src:
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
                    if positions is not None and event.stream_id is not None:
                        positions[event.channel] = event.stream_id
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
    from segment_debugger.core.buffer import EventBuffer

    url = args.url or os.environ.get("REDIS_URL") or DEFAULT_URL
    try:
        source = open_tail_source(args, url, EventBuffer(max_messages=50_000))
    except ValueError as exc:  # RedisURLError included: the source checked the URL
        raise CommandError(str(exc)) from None
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")
    print(f"tailing {redact(url)} ({describe(args)}); Ctrl-C to stop", file=sys.stderr, flush=True)
    stop = threading.Event()
    positions: dict[str, str] = {}
    with stop_on_signals(stop):
        try:
            shown = tail(source, args.filter, args.max, stop, sys.stdout, positions)
        except BrokenPipeError:  # e.g. piped into `head`: stop quietly
            return 0
    print(f"{shown} events shown", file=sys.stderr, flush=True)
    for name, entry_id in positions.items():
        print(f"last entry shown of stream {name}: {entry_id} (continue with --from {entry_id})",
              file=sys.stderr, flush=True)
    return 0
